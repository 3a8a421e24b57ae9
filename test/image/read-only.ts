// Runs a command in an image's root file system mounted read-only, with a fresh tmpfs on /tmp, as the image's
// non-root user: what Kubernetes does with `readOnlyRootFilesystem: true` and an emptyDir on /tmp (manifests/),
// which `buildah run` cannot (it has no --read-only). A private mount namespace (unshare) holds the mounts, so
// the host and the working container stay as they were; the root file system is the working container's, as
// `buildah mount` shows it. Needs root (mount, chroot).
import { spawn, spawnSync } from "node:child_process";

/** undefined when this process can make the read-only root, else why not. */
export function readOnlyRootUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root, so no private mount namespace for a read-only root";
  const probe = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs none /mnt"], {
    stdio: "ignore",
  });
  return probe.status === 0 ? undefined : "unshare --mount cannot mount here (no CAP_SYS_ADMIN?)";
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

export interface ReadOnlySpec {
  /** The mounted root file system (`buildah mount CONTAINER`). */
  rootfs: string;
  /** The process's whole environment, e.g. the image's Env plus HOME. */
  env: readonly string[];
  /** Host directories bind-mounted read-only at /tmp/<name> (the only place a mount point can be made). */
  binds?: Readonly<Record<string, string>>;
  /** Default 65532:65532. */
  user?: string;
}

/** The shell script that makes the mounts and then becomes the command (exec), so a signal reaches it directly. */
function script(spec: ReadOnlySpec): string {
  const root = quote(spec.rootfs);
  const lines = [
    "set -e",
    `mount --bind ${root} ${root}`,
    `mount -o remount,bind,ro ${root}`,
    `mount -t tmpfs -o mode=1777,size=64m tmpfs ${root}/tmp`,
    `mount -t proc proc ${root}/proc`,
    `mount --rbind /dev ${root}/dev`,
  ];
  for (const [name, host] of Object.entries(spec.binds ?? {})) {
    const at = `${root}/tmp/${quote(name)}`;
    lines.push(`mkdir ${at}`, `mount --bind ${quote(host)} ${at}`, `mount -o remount,bind,ro ${at}`);
  }
  const env = spec.env.map(quote).join(" ");
  // chroot(1) starts in /; env -C then moves to /tmp, the image's WORKDIR.
  lines.push(`exec chroot --userspec=${spec.user ?? "65532:65532"} ${root} /usr/bin/env -i -C /tmp ${env} "$@"`);
  return lines.join("\n");
}

export function startReadOnly(spec: ReadOnlySpec, argv: readonly string[]) {
  return spawn(
    "unshare",
    ["--mount", "--propagation", "private", "sh", "-c", script(spec), "read-only-root", ...argv],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
}

export interface ReadOnlyResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runReadOnly(spec: ReadOnlySpec, argv: readonly string[]): Promise<ReadOnlyResult> {
  return new Promise((resolve, reject) => {
    const child = startReadOnly(spec, argv);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
