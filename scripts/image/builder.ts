// Finds an image builder (buildah, podman or docker) and runs it, for `npm run image`, scripts/image/measure.ts and
// the image test. `npm run image` leaves the images where the builder keeps them by default; the test and the
// measurements name a store of their own (`StorageOptions`, scripts/image/cache.ts), which they share.
import { spawn, spawnSync } from "node:child_process";

export const BUILDER_KINDS = ["buildah", "podman", "docker"] as const;
export type BuilderKind = (typeof BUILDER_KINDS)[number];

/** Where buildah or podman keeps images and containers; unset, the builder's own default (/var/lib/containers). */
export interface StorageOptions {
  /** Images and layers (`--root`). */
  root: string;
  /** Locks and mount state (`--runroot`). */
  runroot: string;
  /** `vfs` works everywhere, overlay only where the kernel lets this process mount it. */
  driver: string;
}

export interface Builder {
  kind: BuilderKind;
  storage?: StorageOptions;
}

export type Log = (line: string) => void;

export const logToStderr: Log = (line) => process.stderr.write(`${line}\n`);

/** The options every buildah or podman command takes before its subcommand; docker has none of these. */
export function globalArgs(builder: Builder): string[] {
  if (builder.kind === "docker" || builder.storage === undefined) return [];
  const { root, runroot, driver } = builder.storage;
  return ["--root", root, "--runroot", runroot, "--storage-driver", driver];
}

/**
 * buildah's default isolation (OCI, through runc or crun) needs namespaces that some sandboxes and CI runners do
 * not give; chroot isolation runs a build step anywhere buildah runs as root. BUILDAH_ISOLATION overrides it.
 */
export function buildahIsolation(): string {
  return process.env.BUILDAH_ISOLATION ?? "chroot";
}

function answers(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 15_000 });
  return result.status === 0;
}

/**
 * True when `kind` can build here: installed, and for docker an engine that answers (a docker client alone, as on
 * machines without a daemon, cannot build).
 */
export function builderWorks(kind: BuilderKind): boolean {
  if (!answers(kind, ["--version"])) return false;
  return kind !== "docker" || answers("docker", ["info"]);
}

/** The first builder that works, in the order buildah, podman, docker; undefined when none does. */
export function findBuilder(): BuilderKind | undefined {
  return BUILDER_KINDS.find((kind) => builderWorks(kind));
}

export function isBuilderKind(value: string): value is BuilderKind {
  return (BUILDER_KINDS as readonly string[]).includes(value);
}

export interface RunOptions {
  /** Called with each chunk the command writes to stderr and stdout (progress); unset, the output is only kept. */
  echo?: (chunk: string) => void;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Runs a command to its end and resolves with its stdout. A failure rejects with the command line, its exit code
 * and the end of what it printed, which is where builders say what went wrong.
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      cwd: options.cwd,
      env: options.env ?? process.env,
    });
    let stdout = "";
    let output = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
      output = (output + chunk).slice(-8_000);
      options.echo?.(chunk);
    });
    child.stderr.on("data", (chunk: string) => {
      output = (output + chunk).slice(-8_000);
      options.echo?.(chunk);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      const hint = error.code === "ENOENT" ? ` (${command} is not installed or not on PATH)` : "";
      reject(new Error(`${command} could not start: ${error.message}${hint}`));
    });
    child.on("close", (code, signal) => {
      if (code === 0) {
        resolve(stdout);
        return;
      }
      const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
      const tail = output.trim().split("\n").slice(-25).join("\n");
      reject(new Error(`${[command, ...args].join(" ")} ${how}:\n${tail}`));
    });
  });
}

/** Runs buildah or podman with the builder's storage options in front. */
export function runBuilder(builder: Builder, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return run(builder.kind, [...globalArgs(builder), ...args], options);
}

/** True when the builder holds an image by this name (no pull is tried). */
export function hasImage(builder: Builder, name: string): boolean {
  const args: Record<BuilderKind, string[]> = {
    buildah: ["inspect", "--type", "image", name],
    podman: ["image", "exists", name],
    docker: ["image", "inspect", name],
  };
  return answers(builder.kind, [...globalArgs(builder), ...args[builder.kind]]);
}

/** True when `command` is on PATH. */
export function onPath(command: string): boolean {
  return answers("sh", ["-c", `command -v ${command}`]);
}

/**
 * Installs the Debian packages that are missing (each named by the command it provides) with apt-get, when this
 * process is root on a machine with apt-get; returns what is still missing afterwards, so that the caller can say
 * why it cannot go on.
 */
export async function installDebianPackages(wanted: Readonly<Record<string, string>>, log: Log): Promise<string[]> {
  const missing = () => Object.keys(wanted).filter((command) => !onPath(command));
  const before = missing();
  if (before.length === 0) return [];
  if (process.getuid?.() !== 0 || !onPath("apt-get")) return before;
  const packages = before.map((command) => wanted[command] ?? command);
  log(`installing ${packages.join(", ")} with apt-get (missing: ${before.join(", ")})`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    await run("apt-get", ["update", "-qq"], { env });
    await run("apt-get", ["install", "-y", "-qq", ...packages], { env });
  } catch (error) {
    log(`apt-get failed: ${(error as Error).message}`);
  }
  return missing();
}
