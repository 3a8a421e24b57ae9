// Entity tags any answer can use: a cheap hash of a body to derive one from, and If-None-Match matching (RFC 9110
// section 13.1.2).
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

const opaque = (tag: string): string => tag.trim().replace(/^W\//, "");

/** If-None-Match holds `etag` (weak comparison, as RFC 9110 asks for If-None-Match) or is `*`. */
export function ifNoneMatchHits(header: string | null, etag: string): boolean {
  if (header === null) return false;
  if (header.trim() === "*") return true;
  const wanted = opaque(etag);
  return header.split(",").some((tag) => opaque(tag) === wanted);
}
