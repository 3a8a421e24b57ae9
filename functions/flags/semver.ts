// Semantic versions (semver.org 2.0.0): parsing and precedence, for the semver_* flag conditions.

export interface Semver {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Numeric identifiers as numbers, the others as strings; empty for a release. */
  readonly prerelease: readonly (string | number)[];
  /** Kept for display only: build metadata never affects precedence. */
  readonly build: readonly string[];
}

// semver.org's grammar (numbers without leading zeros, dot-separated identifiers), plus an optional leading "v".
const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const NUMERIC = /^\d+$/;

/**
 * `1.4.0`, `v2.0.0-rc.1+build.5`; undefined when `text` is not a semantic version, or when a numeric part is beyond
 * 2^53 - 1 (it could not be compared exactly).
 */
export function parseSemver(text: string): Semver | undefined {
  if (typeof text !== "string" || text.length > 256) return undefined;
  const match = SEMVER.exec(text);
  if (match === null) return undefined;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const patch = Number(match[3]);
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor) || !Number.isSafeInteger(patch)) return undefined;
  const prerelease: (string | number)[] = [];
  if (match[4] !== undefined) {
    for (const identifier of match[4].split(".")) {
      if (NUMERIC.test(identifier)) {
        const value = Number(identifier);
        if (!Number.isSafeInteger(value)) return undefined;
        prerelease.push(value);
      } else {
        prerelease.push(identifier);
      }
    }
  }
  const build = match[5] === undefined ? [] : match[5].split(".");
  return { major, minor, patch, prerelease, build };
}

const sign = (a: number, b: number): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0);

/** Precedence: -1 when `a` ranks below `b`, 1 above, 0 equal (build metadata ignored). */
export function compareSemver(a: Semver, b: Semver): -1 | 0 | 1 {
  const core = sign(a.major, b.major) || sign(a.minor, b.minor) || sign(a.patch, b.patch);
  if (core !== 0) return core;
  const left = a.prerelease;
  const right = b.prerelease;
  // A release ranks above any of its prereleases.
  if (left.length === 0 || right.length === 0) return sign(right.length, left.length);
  const shared = Math.min(left.length, right.length);
  for (let i = 0; i < shared; i++) {
    const x = left[i]!;
    const y = right[i]!;
    if (x === y) continue;
    const xNumeric = typeof x === "number";
    const yNumeric = typeof y === "number";
    // Numeric identifiers rank below alphanumeric ones; alphanumeric ones compare in ASCII order.
    if (xNumeric && yNumeric) return sign(x, y);
    if (xNumeric) return -1;
    if (yNumeric) return 1;
    return x < y ? -1 : 1;
  }
  // All shared identifiers equal: the longer list ranks higher.
  return sign(left.length, right.length);
}
