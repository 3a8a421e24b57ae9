// A Node base image made on this machine, for where no registry can be reached to pull the Containerfile's default
// (docker.io/library/node:24-bookworm-slim, with this machine's Node instead): Debian's minimal root filesystem from the machine's Debian mirror
// (debootstrap), with the Node binary and npm of the Node running this script, laid out as the official image lays
// them out (/usr/local/bin/node, /usr/local/lib/node_modules/npm). The image test builds on it, and so can
// `npm run image -- --local-base`. Its tag names the Node version and the Debian release, so it is made once per
// storage and reused until Node changes.
import { chmod, cp, mkdir, readFile, realpath, rm, stat, symlink } from "node:fs/promises";
import path from "node:path";
import { type Builder, hasImage, type Log, runBuilder, run as runCommand } from "./builder.ts";

/** The Debian release of the official node:24-bookworm-slim, which this base stands in for. */
export const DEBIAN_RELEASE = "bookworm";
const FALLBACK_MIRROR = "http://deb.debian.org/debian";

/** e.g. localhost/greenlight-base-node20:v20.20.2-bookworm */
export function localBaseTag(nodeVersion: string = process.version, release: string = DEBIAN_RELEASE): string {
  const major = nodeVersion.replace(/^v/, "").split(".")[0];
  return `localhost/greenlight-base-node${major}:${nodeVersion}-${release}`;
}

/**
 * The Debian mirror this machine's apt uses for `release` (deb822 sources first, then sources.list), so that
 * debootstrap fetches from where apt-get already can; else deb.debian.org.
 */
export async function debianMirror(release: string = DEBIAN_RELEASE): Promise<string> {
  const deb822 = await readFile("/etc/apt/sources.list.d/debian.sources", "utf8").catch(() => "");
  for (const stanza of deb822.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, "im").exec(stanza)?.[1]?.trim().split(/\s+/);
    const uri = field("URIs")?.[0];
    if (uri && field("Suites")?.includes(release)) return uri;
  }
  const list = await readFile("/etc/apt/sources.list", "utf8").catch(() => "");
  for (const line of list.split("\n")) {
    const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
    if (match?.[1] && match[2] === release) return match[1];
  }
  return FALLBACK_MIRROR;
}

/** The npm that ships with this Node (…/lib/node_modules/npm beside …/bin/node), as the official image has it. */
async function npmOf(nodeBinary: string): Promise<string> {
  const candidate = path.resolve(path.dirname(await realpath(nodeBinary)), "../lib/node_modules/npm");
  const found = await stat(path.join(candidate, "bin/npm-cli.js")).catch(() => undefined);
  if (!found) {
    throw new Error(
      `no npm beside ${nodeBinary} (looked for ${candidate}): the local base needs the npm that ships with Node, ` +
        "or pass --base with an image that has Node 20 and npm",
    );
  }
  return candidate;
}

/** Debian's docs, manuals, translations and apt's downloads: nothing in the image reads them. */
const TRIMMED = [
  "var/cache/apt",
  "var/lib/apt/lists",
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
  "var/log",
];

export interface LocalBaseOptions {
  /** buildah only: the base is made by mounting a scratch container, which podman and docker do not offer as root. */
  builder: Builder;
  log: Log;
  /** Where debootstrap's output goes; unset, it is kept and shown only on failure. */
  echo?: (chunk: string) => void;
}

/**
 * The tag of the local base, made first when the builder does not hold it yet (about a minute, most of it
 * debootstrap). Needs root, buildah and debootstrap.
 */
export async function ensureLocalBase({ builder, log, echo }: LocalBaseOptions): Promise<string> {
  const tag = localBaseTag();
  if (hasImage(builder, tag)) {
    log(`local base ${tag}: already made`);
    return tag;
  }
  if (builder.kind !== "buildah") {
    throw new Error(`the local base is made with buildah, not ${builder.kind}: install buildah or pass --base IMAGE`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error("the local base is made with debootstrap, which needs root: run as root or pass --base IMAGE");
  }
  const mirror = await debianMirror();
  const npm = await npmOf(process.execPath);
  const started = Date.now();
  const container = (await runBuilder(builder, ["from", "--name", `greenlight-base-${process.pid}`, "scratch"])).trim();
  try {
    const root = (await runBuilder(builder, ["mount", container])).trim();
    log(`local base ${tag}: debootstrap --variant=minbase ${DEBIAN_RELEASE} from ${mirror} (about a minute)`);
    await runCommand("debootstrap", ["--variant=minbase", DEBIAN_RELEASE, root, mirror], { ...(echo && { echo }) });
    for (const trimmed of TRIMMED) {
      await rm(path.join(root, trimmed), { recursive: true, force: true });
      await mkdir(path.join(root, trimmed), { recursive: true });
    }
    log(`local base ${tag}: adding ${process.execPath} (Node ${process.version}) and ${npm}`);
    const bin = path.join(root, "usr/local/bin");
    await mkdir(bin, { recursive: true });
    await cp(process.execPath, path.join(bin, "node"));
    await chmod(path.join(bin, "node"), 0o755);
    await cp(npm, path.join(root, "usr/local/lib/node_modules/npm"), { recursive: true, verbatimSymlinks: true });
    await symlink("../lib/node_modules/npm/bin/npm-cli.js", path.join(bin, "npm"));
    await symlink("../lib/node_modules/npm/bin/npx-cli.js", path.join(bin, "npx"));
    await runBuilder(builder, [
      "config",
      "--env",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "--env",
      `NODE_VERSION=${process.versions.node}`,
      "--cmd",
      "node",
      "--label",
      `org.opencontainers.image.description=Debian ${DEBIAN_RELEASE} minbase with Node ${process.version}, made locally by greenlight's scripts/image/local-base.ts`,
      container,
    ]);
    // The Node binary must run on Debian's libraries (it needs libstdc++, which minbase has through apt).
    const version = await runBuilder(builder, ["run", "--isolation", "chroot", container, "--", "node", "--version"]);
    if (version.trim() !== process.version) {
      throw new Error(`node in the local base answered ${version.trim()}, not ${process.version}`);
    }
    await runBuilder(builder, ["commit", "--rm", container, tag]);
  } catch (error) {
    await runBuilder(builder, ["rm", container]).catch(() => undefined);
    throw error;
  }
  log(`local base ${tag}: made in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return tag;
}
