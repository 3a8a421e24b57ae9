// MurmurHash3 and the buckets against published vectors, two independent implementations and the shared fixture file.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  HASH_VERSION,
  murmur3x86_32,
  rolloutBucket,
  rolloutBucketer,
  VARIANT_SEED,
  variantBucket,
  variantBucketer,
} from "../../functions/flags/hash.ts";

interface HashFixture {
  input: string;
  seed: number;
  hash: number;
}
interface RolloutFixture {
  salt: string;
  targetingKey: string;
  rolloutBucket: number;
}
interface VariantFixture {
  salt: string;
  targetingKey: string;
  totalWeight: number;
  variantBucket: number;
}
interface Fixtures {
  hashVersion: string;
  hashes: HashFixture[];
  rolloutBuckets: RolloutFixture[];
  variantBuckets: VariantFixture[];
}

const fixtures = JSON.parse(
  readFileSync(new URL("../fixtures/flags/hash-fixtures.json", import.meta.url), "utf8"),
) as Fixtures;

// murmurhash3js (what unleash-client hashes with) reads one byte per UTF-16 code unit, so it is handed a binary string
// holding the UTF-8 bytes; resolved through unleash-client because it is that package's dependency, not ours.
const require = createRequire(import.meta.url);
const unleashRequire = createRequire(require.resolve("unleash-client"));
const murmurhash3js = unleashRequire("murmurhash3js") as { x86: { hash32(key: string, seed?: number): number } };
const unleashUtil = require("unleash-client/lib/strategy/util.js") as {
  normalizedStrategyValue(id: string, groupId: string): number;
  normalizedVariantValue(id: string, groupId: string, normalizer: number): number;
};
const viaMurmurhash3js = (text: string, seed: number): number =>
  murmurhash3js.x86.hash32(Buffer.from(text, "utf8").toString("latin1"), seed);

// A second implementation written from the algorithm's description, over the bytes Node's encoder produces.
function referenceHash(text: string, seed: number): number {
  const bytes = Buffer.from(text, "utf8");
  const mix = (k: number): number => {
    let x = Math.imul(k, 0xcc9e2d51);
    x = (x << 15) | (x >>> 17);
    return Math.imul(x, 0x1b873593);
  };
  let h = seed >>> 0;
  const blocks = bytes.length - (bytes.length % 4);
  for (let offset = 0; offset < blocks; offset += 4) {
    h ^= mix(bytes.readUInt32LE(offset));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let tail = 0;
  for (let index = bytes.length - 1; index >= blocks; index--) tail = (tail << 8) | bytes[index]!;
  if (bytes.length > blocks) h ^= mix(tail);
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// Any UTF-16 code unit, lone surrogates included, plus the characters whose encodings are 1 to 4 bytes long.
const codeUnits = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
    fc.constantFrom("a", "é", "中", "😀", "\ud83d", "\ude00"),
  ),
  maxLength: 40,
});
const seeds = fc.integer({ min: 0, max: 0xffffffff });

describe("murmur3x86_32", () => {
  it.each([
    ["", 0, 0],
    ["", 1, 0x514e28b7],
    ["", 0xffffffff, 0x81f16f39],
    ["\0\0\0\0", 0, 0x2362f9de],
    ["aaaa", 0x9747b28c, 0x5a97808a],
    ["Hello, world!", 1234, 0xfaf6cdb3],
    ["Hello, world!", 0x9747b28c, 0x24884cba],
    ["The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723],
    ["The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd],
  ])("matches the published vector for %j with seed %i", (input, seed, expected) => {
    expect(murmur3x86_32(input, seed)).toBe(expected);
  });

  it("defaults the seed to 0", () => {
    expect(murmur3x86_32("The quick brown fox jumps over the lazy dog")).toBe(0x2e4ff723);
  });

  it("agrees with both references on every fixture", () => {
    for (const { input, seed, hash } of fixtures.hashes) {
      expect(referenceHash(input, seed), JSON.stringify(input)).toBe(hash);
      expect(viaMurmurhash3js(input, seed), JSON.stringify(input)).toBe(hash);
      expect(murmur3x86_32(input, seed), JSON.stringify(input)).toBe(hash);
    }
  });

  it("has fixtures for every tail length and for 2-, 3- and 4-byte characters", () => {
    const lengths = fixtures.hashes.map(({ input }) => Buffer.byteLength(input, "utf8"));
    expect(new Set(lengths.map((length) => length % 4))).toEqual(new Set([0, 1, 2, 3]));
    for (const length of [0, 1, 2, 3, 4, 5]) expect(lengths).toContain(length);
    const inputs = fixtures.hashes.map(({ input }) => input);
    for (const character of ["é", "中", "😀"]) expect(inputs.some((input) => input.includes(character))).toBe(true);
    expect(fixtures.hashes.length).toBeGreaterThanOrEqual(30);
    expect(fixtures.hashVersion).toBe(HASH_VERSION);
  });

  it("hashes the UTF-8 bytes, not the UTF-16 code units", () => {
    expect(murmur3x86_32("é")).toBe(referenceHash("é", 0));
    expect(murmur3x86_32("é")).not.toBe(murmurhash3js.x86.hash32("é", 0));
    expect(murmur3x86_32("中文", 3)).toBe(murmurhash3js.x86.hash32("\xe4\xb8\xad\xe6\x96\x87", 3));
  });

  it("encodes a lone surrogate as U+FFFD, like TextEncoder", () => {
    const encoder = new TextEncoder();
    for (const text of ["\ud800", "a\udc00b", "ab\ud83d", "\ude00\ud83d", "x\ud83d\ud83d\ude00"]) {
      const replaced = text.replace(
        /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
        "\ufffd",
      );
      expect(Buffer.from(encoder.encode(text)).equals(Buffer.from(replaced, "utf8"))).toBe(true);
      expect(murmur3x86_32(text), JSON.stringify(text)).toBe(murmur3x86_32(replaced));
    }
    expect(murmur3x86_32("\ud83d\ude00")).not.toBe(murmur3x86_32("\ufffd\ufffd"));
  });

  it("agrees with the byte-level reference on arbitrary strings and seeds", () => {
    fc.assert(
      fc.property(codeUnits, seeds, (text, seed) => {
        expect(murmur3x86_32(text, seed)).toBe(referenceHash(text, seed));
      }),
      { numRuns: 2000 },
    );
  });

  it("agrees with murmurhash3js on arbitrary strings", () => {
    fc.assert(
      fc.property(codeUnits, seeds, (text, seed) => {
        expect(murmur3x86_32(text, seed)).toBe(viaMurmurhash3js(text, seed));
      }),
      { numRuns: 1000 },
    );
  });

  it("agrees with the reference on long strings that cross many blocks", () => {
    const text = `${"ascii-".repeat(50)}é中😀${"x".repeat(1001)}`;
    for (const seed of [0, 1, VARIANT_SEED]) expect(murmur3x86_32(text, seed)).toBe(referenceHash(text, seed));
  });
});

describe("buckets", () => {
  it("names the hash version", () => {
    expect(HASH_VERSION).toBe("murmur3_x86_32/v1");
    expect(VARIANT_SEED).toBe(86028157);
  });

  it("matches the rollout bucket fixtures", () => {
    for (const fixture of fixtures.rolloutBuckets) {
      const expected = referenceHash(`${fixture.salt}:${fixture.targetingKey}`, 0) % 100;
      expect(fixture.rolloutBucket).toBe(expected);
      expect(rolloutBucket(fixture.salt, fixture.targetingKey)).toBe(expected);
      expect(rolloutBucketer(fixture.salt)(fixture.targetingKey)).toBe(expected);
    }
  });

  it("matches the variant bucket fixtures", () => {
    for (const fixture of fixtures.variantBuckets) {
      const expected = referenceHash(`${fixture.salt}:${fixture.targetingKey}`, VARIANT_SEED) % fixture.totalWeight;
      expect(fixture.variantBucket).toBe(expected);
      expect(variantBucket(fixture.salt, fixture.targetingKey, fixture.totalWeight)).toBe(expected);
      expect(variantBucketer(fixture.salt, fixture.totalWeight)(fixture.targetingKey)).toBe(expected);
    }
  });

  it("is Unleash's normalisation minus one for ASCII keys", () => {
    const ascii = fc.string({ unit: "binary-ascii", maxLength: 30 });
    fc.assert(
      fc.property(ascii, ascii, fc.integer({ min: 1, max: 10_000 }), (salt, key, total) => {
        expect(rolloutBucket(salt, key)).toBe(unleashUtil.normalizedStrategyValue(key, salt) - 1);
        expect(variantBucket(salt, key, total)).toBe(unleashUtil.normalizedVariantValue(key, salt, total) - 1);
      }),
      { numRuns: 1000 },
    );
  });

  it("stays in range, and the bound versions equal the plain ones", () => {
    fc.assert(
      fc.property(codeUnits, codeUnits, fc.integer({ min: 1, max: 1_000_000 }), (salt, key, total) => {
        const rollout = rolloutBucket(salt, key);
        const variant = variantBucket(salt, key, total);
        expect(rollout).toBeGreaterThanOrEqual(0);
        expect(rollout).toBeLessThan(100);
        expect(variant).toBeGreaterThanOrEqual(0);
        expect(variant).toBeLessThan(total);
        expect(rolloutBucketer(salt)(key)).toBe(rollout);
        expect(variantBucketer(salt, total)(key)).toBe(variant);
        expect(rollout).toBe(murmur3x86_32(`${salt}:${key}`) % 100);
        expect(variant).toBe(murmur3x86_32(`${salt}:${key}`, VARIANT_SEED) % total);
      }),
      { numRuns: 1000 },
    );
  });

  it("hashes a salt ending in a high surrogate like the joined string", () => {
    expect(rolloutBucket("salt\ud83d", "\ude00key")).toBe(murmur3x86_32("salt\ud83d:\ude00key") % 100);
    expect(rolloutBucketer("salt\ud83d")("\ude00key")).toBe(referenceHash("salt\ufffd:\ufffdkey", 0) % 100);
  });

  it("gives the rollout and the variant bucket independent seeds", () => {
    let same = 0;
    for (let user = 0; user < 2000; user++) {
      if (rolloutBucket("flag", `user-${user}`) === variantBucket("flag", `user-${user}`, 100)) same++;
    }
    // Independent buckets agree about 1 time in 100; equal seeds would agree every time.
    expect(same).toBeLessThan(60);
  });
});
