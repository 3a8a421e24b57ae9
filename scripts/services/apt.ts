// Finds a Debian-packaged binary the tests run (prometheus, redis-server), installing it with apt-get when allowed.
/*
 * `ensureBinary`: the binary on PATH or at its Debian location. When it is missing, root installs the package with
 * apt-get (an `apt-get update` only when apt knows no candidate, or when the lists turn out stale); anyone else
 * gets the one-line hint saying what to run.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export interface EnsureOptions {
  /** Directories to search, PATH-style; default `process.env.PATH`. */
  searchPath?: string;
  /** Checked after `searchPath`; default where Debian's package puts the binary (e.g. /usr/bin/prometheus). */
  fallback?: string;
  /** Whether apt-get may be run; default: running as root. */
  isRoot?: boolean;
}

export interface DebianBinary {
  /** The executable's file name, e.g. `redis-server`. */
  binary: string;
  /** The Debian package that installs it. */
  packageName: string;
  /** The one line a user who cannot install gets (also appended to apt-get failures). */
  hint: string;
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** An executable `name` in one of `path`'s directories, else `fallback` if executable, else undefined. */
export function findBinary(name: string, path: string, fallback: string): string | undefined {
  const candidates = [
    ...path
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, name)),
    fallback,
  ];
  return candidates.find(isExecutable);
}

export const progress = (line: string): void => {
  process.stderr.write(`[test setup] ${line}\n`);
};

/** apt-get with its output on stderr (stdout belongs to the test reporter); throws one line when it fails. */
function aptGet(args: string[], hint: string): void {
  progress(`apt-get ${args.join(" ")}`);
  const result = spawnSync("apt-get", ["-o", "DPkg::Lock::Timeout=300", ...args], {
    stdio: ["ignore", 2, 2],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (result.error) throw new Error(`apt-get ${args[0]} could not run (${result.error.message}): ${hint}`);
  if (result.status !== 0) throw new Error(`apt-get ${args[0]} exited with ${result.status}: ${hint}`);
}

/** Whether apt's package lists know a candidate for the package, so that `apt-get update` can be skipped. */
function aptHasCandidate(packageName: string): boolean {
  const policy = spawnSync("apt-cache", ["policy", packageName], { encoding: "utf8" });
  const candidate = /Candidate:\s*(\S+)/.exec(policy.stdout ?? "")?.[1];
  return candidate !== undefined && candidate !== "(none)";
}

/** The binary, installed with apt-get when missing and running as root; otherwise a one-line error (`hint`). */
export function ensureBinary(wanted: DebianBinary, options: EnsureOptions = {}): string {
  const { binary, packageName, hint } = wanted;
  const find = () => findBinary(binary, options.searchPath ?? process.env.PATH ?? "", options.fallback ?? "");
  const found = find();
  if (found) return found;
  if (!(options.isRoot ?? process.getuid?.() === 0)) throw new Error(hint);
  progress(`${binary} is missing: installing Debian's ${packageName} package (once per machine)`);
  const install = ["install", "-y", "--no-install-recommends", packageName];
  if (!aptHasCandidate(packageName)) {
    aptGet(["update"], hint);
    aptGet(install, hint);
  } else {
    try {
      aptGet(install, hint);
    } catch {
      // Package lists that are present but stale point at .debs the mirror no longer has: refresh once.
      aptGet(["update"], hint);
      aptGet(install, hint);
    }
  }
  const installed = find();
  if (!installed)
    throw new Error(`apt-get installed ${packageName} but no ${binary} is on PATH or in /usr/bin: ${hint}`);
  progress(`${binary} installed at ${installed}`);
  return installed;
}
