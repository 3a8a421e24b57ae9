// MurmurHash3 x86 32-bit over UTF-8 and the rollout / variant buckets built on it (the cross-runtime bucketing norm).
/*
 * Pure and allocation-free: the UTF-8 bytes are produced on the fly from the UTF-16 code units and fed straight into
 * the 4-byte blocks, so no TextEncoder buffer is needed (this runs on every split evaluation, in any runtime).
 * The buckets match Unleash's normalisation (`hash % n`; Unleash adds 1 and compares with `<=`), so a user lands in the
 * same bucket here as in any Unleash SDK that hashes UTF-8 (see docs/FLAGS.md, "Hashing and buckets").
 */

/** Names the hash and the bucket formulas; bump it if bucketing ever changes (every user would move). */
export const HASH_VERSION = "murmur3_x86_32/v1";

/** Unleash's seed for variant buckets: variant choice is independent of the rollout bucket (seed 0). */
export const VARIANT_SEED = 86028157;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

// The running state after `absorb`, kept in module variables so the hot path hands it on without allocating.
let stateH = 0;
let stateK = 0;
let stateFilled = 0;
let stateLength = 0;

/*
 * Feeds the UTF-8 bytes of `text` into a hash whose state is (h, k, filled, length) and leaves the new state in the
 * state variables. Hashing strings one after another equals hashing their concatenation as long as no surrogate pair
 * straddles a boundary (a lone surrogate at a boundary encodes as U+FFFD either way; the callers here put ":" at
 * every boundary, so no pair is ever split), and it saves the concatenation V8 would flatten on the first charCodeAt.
 */
function absorb(text: string, h: number, k: number, filled: number, length: number): void {
  // k: the block being filled, little-endian; filled: bits already in k (0, 8, 16 or 24); length: bytes hashed.
  const n = text.length;
  let i = 0;
  while (i < n) {
    let code = text.charCodeAt(i++);
    // Fast path: four ASCII characters on a block boundary make one block directly.
    if (filled === 0 && code < 0x80 && i + 2 < n) {
      const c1 = text.charCodeAt(i);
      const c2 = text.charCodeAt(i + 1);
      const c3 = text.charCodeAt(i + 2);
      if ((c1 | c2 | c3) < 0x80) {
        i += 3;
        length += 4;
        let block = code | (c1 << 8) | (c2 << 16) | (c3 << 24);
        block = Math.imul(block, C1);
        block = (block << 15) | (block >>> 17);
        h ^= Math.imul(block, C2);
        h = (h << 13) | (h >>> 19);
        h = (Math.imul(h, 5) + 0xe6546b64) | 0;
        continue;
      }
    }
    // The code point's UTF-8 bytes packed little-endian into `bytes`, `count` of them.
    let bytes: number;
    let count: number;
    if (code < 0x80) {
      bytes = code;
      count = 1;
    } else if (code < 0x800) {
      bytes = 0xc0 | (code >>> 6) | ((0x80 | (code & 0x3f)) << 8);
      count = 2;
    } else if (code < 0xd800 || code > 0xdfff) {
      bytes = 0xe0 | (code >>> 12) | ((0x80 | ((code >>> 6) & 0x3f)) << 8) | ((0x80 | (code & 0x3f)) << 16);
      count = 3;
    } else {
      const next = i < n ? text.charCodeAt(i) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        code = ((code - 0xd800) << 10) + (next - 0xdc00) + 0x10000;
        bytes =
          0xf0 |
          (code >>> 18) |
          ((0x80 | ((code >>> 12) & 0x3f)) << 8) |
          ((0x80 | ((code >>> 6) & 0x3f)) << 16) |
          ((0x80 | (code & 0x3f)) << 24);
        count = 4;
      } else {
        bytes = 0xef | (0xbf << 8) | (0xbd << 16); // a lone surrogate: U+FFFD, as TextEncoder does
        count = 3;
      }
    }
    length += count;
    k |= bytes << filled; // bits past 32 fall off here and are carried over below
    filled += count << 3;
    if (filled >= 32) {
      let block = Math.imul(k, C1);
      block = (block << 15) | (block >>> 17);
      h ^= Math.imul(block, C2);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
      filled -= 32;
      k = filled === 0 ? 0 : bytes >>> ((count << 3) - filled);
    }
  }
  stateH = h;
  stateK = k;
  stateFilled = filled;
  stateLength = length;
}

// The tail block and the final mix, from the state variables.
function finish(): number {
  let h = stateH;
  let k = stateK;
  if (stateFilled > 0) {
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  h ^= stateLength;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86 32-bit of the UTF-8 bytes of `text` (lone surrogates as U+FFFD); unsigned. */
export function murmur3x86_32(text: string, seed = 0): number {
  absorb(text, seed | 0, 0, 0, 0);
  return finish();
}

function saltedHash(salt: string, targetingKey: string, seed: number): number {
  absorb(salt, seed, 0, 0, 0);
  absorb(":", stateH, stateK, stateFilled, stateLength);
  absorb(targetingKey, stateH, stateK, stateFilled, stateLength);
  return finish();
}

/** 0..99: the targeting key's rollout bucket; a flag at `percentage` p serves the keys with bucket < p. */
export function rolloutBucket(salt: string, targetingKey: string): number {
  return saltedHash(salt, targetingKey, 0) % 100;
}

/** 0..totalWeight-1: the targeting key's variant bucket (seed 86028157, independent of the rollout bucket). */
export function variantBucket(salt: string, targetingKey: string, totalWeight: number): number {
  return saltedHash(salt, targetingKey, VARIANT_SEED) % totalWeight;
}

// "salt:" hashed once per flag: the evaluator then hashes only the targeting key (most of the bytes are the salt's).
function saltedHasher(salt: string, seed: number): (targetingKey: string) => number {
  absorb(salt, seed, 0, 0, 0);
  absorb(":", stateH, stateK, stateFilled, stateLength);
  const h = stateH;
  const k = stateK;
  const filled = stateFilled;
  const length = stateLength;
  return (targetingKey) => {
    absorb(targetingKey, h, k, filled, length);
    return finish();
  };
}

/** `rolloutBucket` bound to one salt, which is hashed once here: for evaluating one flag many times. */
export function rolloutBucketer(salt: string): (targetingKey: string) => number {
  const hash = saltedHasher(salt, 0);
  return (targetingKey) => hash(targetingKey) % 100;
}

/** `variantBucket` bound to one salt and total weight, the salt hashed once here. */
export function variantBucketer(salt: string, totalWeight: number): (targetingKey: string) => number {
  const hash = saltedHasher(salt, VARIANT_SEED);
  return (targetingKey) => hash(targetingKey) % totalWeight;
}
