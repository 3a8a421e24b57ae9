// Entity tags: the bulk evaluation's ETag derived from its body, If-None-Match matching and If-Match parsing.
import { murmur3x86_32 } from "../hash.ts";

/**
 * `"<version>-<hash of the body>"`: it changes whenever the body would (a write, or a time window opening at the
 * same version) and holds still otherwise, so an unchanged poll gets a 304.
 */
export function bodyEtag(version: number, body: string): string {
  return `"${version}-${murmur3x86_32(body).toString(16).padStart(8, "0")}"`;
}

const opaque = (tag: string): string => tag.trim().replace(/^W\//, "");

/** If-None-Match holds `etag` (weak comparison, as RFC 9110 asks for If-None-Match) or is `*`. */
export function ifNoneMatchHits(header: string | null, etag: string): boolean {
  if (header === null) return false;
  if (header.trim() === "*") return true;
  const wanted = opaque(etag);
  return header.split(",").some((tag) => opaque(tag) === wanted);
}

/** A revision to write against: a number (0: the flag must not exist yet), or `any` for `If-Match: *`. */
export type IfMatch = { ok: true; revision?: number | "any" } | { ok: false; message: string };

/** Parses `If-Match: "<revision>"` (quoted, bare or weak); absent header: no precondition. */
export function parseIfMatch(header: string | null): IfMatch {
  if (header === null) return { ok: true };
  const value = header.trim();
  if (value === "*") return { ok: true, revision: "any" };
  const match = /^(?:W\/)?(?:"(\d{1,15})"|(\d{1,15}))$/.exec(value);
  const digits = match?.[1] ?? match?.[2];
  if (digits !== undefined) return { ok: true, revision: Number(digits) };
  return {
    ok: false,
    message: `header If-Match is invalid; accepted: a flag revision such as "7" (quoted or bare), "0" to create only, or *`,
  };
}
