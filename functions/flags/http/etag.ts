// Entity tags: the bulk evaluation's ETag derived from its body, If-None-Match matching and If-Match parsing.
/**
 * A 53-bit hash of the text's UTF-16 code units (two multiplicative 32-bit lanes mixed at the end). Not the
 * bucketing hash: nothing outside this server compares it, so it skips UTF-8 encoding, which made hashing a 4 KB
 * bulk answer cost as much as evaluating its fifty flags.
 */
export function textHash(text: string): number {
  let a = 0xdeadbeef;
  let b = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 2654435761);
    b = Math.imul(b ^ code, 1597334677);
  }
  a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  return 4294967296 * (2097151 & b) + (a >>> 0);
}

/**
 * `"<version>-<hash of the body>"`: it changes whenever the body would (a write, or a time window opening at the
 * same version) and holds still otherwise, so an unchanged poll gets a 304.
 */
export function bodyEtag(version: number, body: string): string {
  return `"${version}-${textHash(body).toString(16)}"`;
}

/**
 * A 53-bit hash of a list of 53-bit hashes (each split into its two 32-bit halves), mixed as textHash mixes code
 * units: the bulk answer's hash from its parts' cached hashes, without walking the whole body again.
 */
export function hashOfHashes(hashes: readonly number[]): number {
  let a = 0xdeadbeef ^ hashes.length;
  let b = 0x41c6ce57;
  for (let i = 0; i < hashes.length; i++) {
    const hash = hashes[i] as number;
    const low = hash >>> 0;
    const high = (hash - low) / 4294967296;
    a = Math.imul(a ^ low, 2654435761);
    b = Math.imul(b ^ low, 1597334677);
    a = Math.imul(a ^ high, 2654435761);
    b = Math.imul(b ^ high, 1597334677);
  }
  a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  return 4294967296 * (2097151 & b) + (a >>> 0);
}

/**
 * `"<version>-<hash>"` of a body made of `parts` (the bulk answer: its flags' results, each serialized and hashed
 * once). Equal bodies are made of equal parts, so they get equal tags, as bodyEtag gives them; a different part
 * gives a different hash.
 */
export function partsEtag(version: number, partHashes: readonly number[]): string {
  return `"${version}-${hashOfHashes(partHashes).toString(16)}"`;
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
