// The flag API fuzz campaign's inputs (run by fuzz.test.ts): seeded worlds (store, tokens, limits, faults, transport)
// and seeded requests against them: OFREP single and bulk evaluations, admin reads and writes, odd paths, methods,
// headers and bodies, and flag definitions at and just past every limit of validate.ts and docs/flag.schema.json.
/*
 * Everything is a function of (seed, index): a case's PRNG is seeded from both, a world's from (seed, block), and the
 * fast-check pools from the seed alone. Nothing here reads the clock or the store; values that depend on the world's
 * state (a flag's current revision for If-Match, the last bulk ETag) are placeholders the runner fills in.
 */
import fc from "fast-check";
import type { AdminToken } from "../../functions/flags/http/tokens.ts";
import { CONDITION_OPS, type Flag } from "../../functions/flags/types.ts";
import { createRandom, type Random } from "../../scripts/sim/random.ts";
import { TEST_FLAGS } from "./memory-store.ts";

// ---------------------------------------------------------------------------------------------------------------
// Random helpers on top of scripts/sim/random.ts.

/** The PRNG of case `index` (or world `index` with another salt): independent of every other case. */
function randomFor(seed: number, index: number, salt = 0): Random {
  return createRandom((seed ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0);
}

/** An integer in [0, n). */
const below = (random: Random, n: number): number => random.int(0, n - 1);

function weighted<T>(random: Random, choices: readonly (readonly [number, T])[]): T {
  let left = random.next() * choices.reduce((sum, [weight]) => sum + weight, 0);
  for (const [weight, choice] of choices) {
    left -= weight;
    if (left < 0) return choice;
  }
  return (choices.at(-1) as readonly [number, T])[1];
}

/** Up to `count` distinct items of `items`, in random order. */
function some<T>(random: Random, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const chosen: T[] = [];
  while (chosen.length < count && pool.length > 0) chosen.push(pool.splice(below(random, pool.length), 1)[0] as T);
  return chosen;
}

/** An own, enumerable property even for "__proto__", as JSON.parse defines it. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function objectOf(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    if (key === "__proto__") define(object, key, value);
    else object[key] = value;
  }
  return object;
}

// ---------------------------------------------------------------------------------------------------------------
// Secrets and fixed vocabularies.

const T0 = Date.parse("2026-06-01T00:00:00Z");
const ADMIN_TOKEN = "fuzz-admin-token-0123456789abcdef";
const READ_TOKEN = "fuzz-read-token-0123456789abcdef";
const EXPIRING_TOKEN = "fuzz-rotated-token-0123456789abcd";
const SINGLE_TOKEN = "fuzz-single-token-0123456789abcd";
const API_KEY = "fuzz-ofrep-api-key-0123456789";
/** The origin a world may list for the admin API. */
const ADMIN_ORIGIN = "https://admin.example.com";

/** Keys PUT and DELETE aim at: a bounded pool, so a world's rule set stays small, plus TEST_FLAGS' own keys. */
const WRITE_KEYS: readonly string[] = [
  ...Array.from({ length: 12 }, (_, index) => `k${index}`),
  ...TEST_FLAGS.map((flag) => flag.key),
  "a",
  "9",
  "x.y_z-1",
  "a..b",
  "a-",
  "Z".repeat(128),
  "release.2026-07",
];
/** Keys no flag may have (validate.ts FLAG_KEY_PATTERN) and keys that exist nowhere. */
const BAD_KEYS: readonly string[] = [
  "",
  ".",
  "..",
  "-a",
  "_a",
  ".hidden",
  "a b",
  "a/b",
  "a\\b",
  "é",
  "😀",
  "Z".repeat(129),
  "k%",
  "k?x=1",
  "k#frag",
  "k\u0000",
  "__proto__",
  "constructor",
  "k0 ",
  " k0",
  "K0",
  "x".repeat(5000),
];
const MISSING_KEYS: readonly string[] = ["no-such-flag", "k99", "banner2", "Banner", "hasOwnProperty", "toString"];

const ATTRIBUTES: readonly string[] = [
  "country",
  "plan",
  "version",
  "email",
  "age",
  "beta",
  "createdAt",
  "score",
  "tags",
  "segment",
  "targetingKey",
  "a.b",
  "ключ",
  "😀",
  "__proto__",
  "constructor",
  "toString",
  "length",
];
const SEGMENTS: readonly string[] = [
  "beta",
  "internal",
  "all",
  "eu",
  "us",
  "staff",
  "😀",
  "a b",
  "ALL",
  "x".repeat(200),
];

const VALID_DATE_TIMES: readonly string[] = [
  "2026-05-01T00:00:00Z",
  "2026-06-01T00:00:00Z",
  "2026-06-01T00:00:30.5Z",
  "2026-06-01T01:00:00+01:00",
  "2026-06-01T12:00:00.123456789Z",
  "2026-06-02T00:00:00-23:59",
  "2026-06-15T08:30:00Z",
  "2026-07-01T00:00:00Z",
  "2028-02-29T23:59:59Z",
  "1970-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999999999Z",
  "0000-01-01T00:00:00Z",
];
const BAD_DATE_TIMES: readonly string[] = [
  "2026-06-01",
  "2026-06-01T00:00:00",
  "2026-06-01t00:00:00z",
  "2026-06-01T00:00Z",
  "2026-06-01T24:00:00Z",
  "2026-06-01T23:59:60Z",
  "2026-02-30T00:00:00Z",
  "2027-02-29T00:00:00Z",
  "2026-06-01T00:00:00.1234567890Z",
  "2026-06-01T00:00:00+24:00",
  "2026-06-01 00:00:00Z",
  "+2026-06-01T00:00:00Z",
  "2026-06-01T00:00:00.Z",
  "１２３４-06-01T00:00:00Z",
  "",
  "now",
];
const VALID_DATES: readonly string[] = ["2026-01-31", "2026-06-01", "2027-06-30", "2028-02-29", "2026-12-31"];
const BAD_DATES: readonly string[] = ["2026-13-01", "2026-06-31", "2027-02-29", "26-06-01", "2026/06/01", "2026-6-1"];

const VALID_SEMVERS: readonly string[] = [
  "1.0.0",
  "1.4.0",
  "v2.0.0-rc.1",
  "2.0.0-rc.1+build.5",
  "0.0.0",
  "1.0.0-alpha.beta.1",
  "9007199254740991.0.0",
  "1.2.3-0a.1",
];
const BAD_SEMVERS: readonly string[] = [
  "1.0",
  "01.0.0",
  "1.0.0-",
  "1.0.0+",
  "9007199254740992.0.0",
  "V1.0.0",
  "1.0.0-01",
  " 1.0.0",
  "",
  "1.0.0-alpha..1",
];

/** Patterns the validator should accept: RE2 syntax, small programs. */
const GOOD_PATTERNS: readonly string[] = [
  "^a+b$",
  "@example\\.com$",
  "(?i)^beta",
  "^\\p{L}+$",
  "^[A-Z]{2}$",
  "^(DE|FR|IT)$",
  "(?s)a.b",
  "\\d{3}-\\d{4}",
  "^$",
  "",
  "[[:alpha:]]+",
  "\\Qa.b\\E",
  "(?P<name>x)y",
  "^v?\\d+\\.\\d+\\.\\d+$",
  "a{1,100}",
  "(a|aa)+$",
  "^(a+)+$",
  "(a*)*b",
  "(x+x+)+y",
  "([a-zA-Z]+)*$",
  "\\bword\\b",
  "(?U)a+",
  "[^\\x00-\\x{10FFFF}]",
  "(|)*",
  ".{0,100}",
  "😀+",
  "a".repeat(256),
];
/** Patterns the validator should refuse (or that sit right at a limit), hostile ones among them. */
const HOSTILE_PATTERNS: readonly string[] = [
  "a".repeat(257),
  "(a)\\1",
  "\\1",
  "(?=a)",
  "(?!a)",
  "(?<=a)b",
  "(?<!a)b",
  "(?>a)",
  "a++",
  "a*+",
  "\\Z",
  "\\C",
  "[",
  "(",
  ")",
  "*",
  "a**",
  "\\",
  "[z-a]",
  "x{2,1}",
  "x{1001}",
  "a{1000}",
  "[a-z]{1,249}",
  "[a-z]{1,250}",
  "(.*a){20}",
  "(?:a{1,100}){1,10}",
  "(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|r|s|t|u|v|w|x|y|z){1,20}",
  `${"(".repeat(100)}a${")".repeat(100)}`,
  `${"(".repeat(128)}${")".repeat(128)}`,
  "\\d".repeat(128),
  "\\x{110000}",
  "(?<n>x)",
  "\\8",
  "(?i",
  "\ud800",
  "\u0000",
];

/** Hostile and ordinary texts for `matches` attributes: around MATCH_LIMIT (1024 code units). */
const MATCH_TEXTS: readonly string[] = [
  "a".repeat(1024),
  "a".repeat(1025),
  `${"a".repeat(1023)}!`,
  `${"a".repeat(40)}!`,
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
  "x".repeat(60),
  "user@example.com",
  "DE",
  "😀".repeat(512),
  "\ud800",
];

// ---------------------------------------------------------------------------------------------------------------
// Pools of arbitrary values, filled once per run from the seed with fast-check.

export interface Pools {
  /** Short strings: ASCII-ish, graphemes, and arbitrary UTF-16 (lone surrogates too). */
  strings: string[];
  /** JSON texts of arbitrary values (parsing one gives fresh objects). */
  json: string[];
  /** Scalars as JSON texts. */
  scalars: string[];
}

const scalarArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, -1, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 53 + 2, 100, 101, 1_000_000, 1_000_001, 0.5),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom("", "true", "false", "8", "8.0", "1e3", "0x10", " 5", "Infinity", "NaN", "null", "{}", "\u0000"),
);

export function makePools(seed: number): Pools {
  const sample = <T>(arbitrary: fc.Arbitrary<T>, numRuns: number, salt: number): T[] =>
    fc.sample(arbitrary, { numRuns, seed: (seed + salt) | 0 });
  return {
    strings: sample(
      fc.oneof(
        fc.string({ maxLength: 24 }),
        fc.string({ unit: "grapheme", maxLength: 16 }),
        fc.string({ unit: "binary", maxLength: 16 }),
      ),
      2_000,
      11,
    ),
    json: sample(fc.jsonValue({ maxDepth: 4 }), 2_000, 12).map((value) => JSON.stringify(value) ?? "null"),
    scalars: sample(scalarArb, 1_000, 13).map((value) => JSON.stringify(value) ?? "null"),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Worlds: one per block of cases, each with its own store, core options and clock.

export type Transport = "core" | "http";
export type StoreKind = "memory" | "file";

export interface WorldConfig {
  block: number;
  transport: Transport;
  store: StoreKind;
  /** The admin tokens the core accepts (none: the admin API is off). */
  tokens: AdminToken[];
  /** Given as `adminToken` (one token labelled "admin") rather than `adminTokens`. */
  singleToken: boolean;
  apiKey: string | undefined;
  limits: boolean;
  corsOrigins: string[] | undefined;
  bodyLimitBytes: number | undefined;
  cacheTtlMs: number;
  maxStaleMs: number;
  /** The store goes down now and then (runner's fault switch), and single calls fail. */
  faults: boolean;
  /** Flags the store starts with. */
  seed: Flag[];
  startAt: number;
  /** Client addresses the core-direct requests come from (the HTTP ones all come from 127.0.0.1). */
  addresses: (string | undefined)[];
}

const HTTP_EVERY = 12;
const FILE_EVERY = 30;

export function worldConfig(seed: number, block: number, pools: Pools): WorldConfig {
  const random = randomFor(seed, block, 0x5eed);
  const transport: Transport = block % HTTP_EVERY === 1 ? "http" : "core";
  const store: StoreKind = block % FILE_EVERY === 4 ? "file" : "memory";
  const startAt = T0 + below(random, 40) * 86_400_000;
  const auth = weighted(random, [
    [70, "tokens"],
    [15, "single"],
    [15, "none"],
  ] as const);
  const tokens: AdminToken[] =
    auth === "tokens"
      ? [
          { label: "ops", scope: "admin", token: ADMIN_TOKEN },
          { label: "dash", scope: "read", token: READ_TOKEN },
          {
            label: "ops-2025",
            scope: "admin",
            token: EXPIRING_TOKEN,
            notAfter: startAt + below(random, 4) * 3_600_000,
          },
        ]
      : auth === "single"
        ? [{ label: "admin", scope: "admin", token: SINGLE_TOKEN }]
        : [];
  const cacheTtlMs = random.pick([0, 1000, 5000, 60_000]);
  const extra: Flag[] = [];
  for (let attempt = 0; attempt < 4 + below(random, 8); attempt++) {
    const key = `s${attempt}`;
    extra.push({ key, ...(JSON.parse(validFlagText(random, pools, key, false)) as Omit<Flag, "key">) });
  }
  return {
    block,
    transport,
    store,
    tokens,
    singleToken: auth === "single",
    apiKey: random.chance(0.2) ? API_KEY : undefined,
    limits: random.chance(0.3),
    corsOrigins: weighted(random, [
      [60, undefined],
      [20, [ADMIN_ORIGIN]],
      [20, ["*", ADMIN_ORIGIN]],
    ] as const)?.slice(),
    bodyLimitBytes: weighted(random, [
      [85, undefined],
      [10, 1024],
      [5, 200_000],
    ] as const),
    cacheTtlMs,
    // env.ts refuses a staleness bound below the TTL: rules are only re-checked once per TTL.
    maxStaleMs: Math.max(cacheTtlMs, random.pick([10_000, 600_000])),
    faults: random.chance(0.2),
    seed: [...TEST_FLAGS, ...extra],
    startAt,
    addresses: random.chance(0.5) ? ["10.0.0.1"] : ["10.0.0.1", "10.0.0.2", "2001:db8::7", undefined],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Requests.

export type Family =
  | "ofrep-single"
  | "ofrep-bulk"
  | "admin-put"
  | "admin-delete"
  | "admin-read"
  | "odd-path"
  | "odd-method"
  | "odd-body"
  | "misc";

export interface HeaderLine {
  name: string;
  value: string;
}

export type Fault = { kind: "down"; cases: number } | { kind: "up" } | { kind: "fail-next"; count: number };

export interface FuzzCase {
  index: number;
  family: Family;
  method: string;
  /** The request-target as on the wire: path and query, sometimes odder. */
  target: string;
  headers: HeaderLine[];
  body: Uint8Array | undefined;
  /** Core only: the body as a Web stream cut into chunks of these sizes, instead of bodyBytes. */
  chunks: number[] | undefined;
  /** Over HTTP: send no Content-Length (chunked transfer coding). */
  chunked: boolean;
  clientAddress: string | undefined;
  /** The key the request writes (PUT/DELETE families), for `{rev}`. */
  writeKey: string | undefined;
  fault: Fault | undefined;
  /** Milliseconds the world's clock moves on after this case. */
  clockStep: number;
  /** The input in words, for a failure message. */
  describe: () => string;
}

const encoder = new TextEncoder();
const bytesOf = (text: string): Uint8Array => encoder.encode(text);

/** A key as a path segment: encoded, raw, over-encoded, or with broken percent-encoding. */
function keySegment(random: Random, key: string): string {
  return weighted(random, [
    [70, () => encodeURIComponent(key)],
    [8, () => key],
    [5, () => [...bytesOf(key)].map((byte) => `%${byte.toString(16).padStart(2, "0").toUpperCase()}`).join("")],
    [3, () => encodeURIComponent(encodeURIComponent(key))],
    [
      6,
      () =>
        `${encodeURIComponent(key)}${random.pick(["%", "%zz", "%E0%A4%A", "%FF", "%C3%28", "%ED%A0%80", "%2", "%%"])}`,
    ],
    [3, () => `${encodeURIComponent(key)}%2F${random.pick(["x", "..", ""])}`],
    [3, () => `${encodeURIComponent(key)}${random.pick(["/", "//", "/.", "/..", "?a=1", "#x", ";v=1", "%20"])}`],
    [2, () => random.pick(["%2e", "%2e%2e", ".", "..", "%2E%2e%2F", "%00", "%C0%AE"])],
  ] as const)();
}

function flagKey(random: Random): string {
  return random.pick(
    weighted(random, [
      [75, WRITE_KEYS],
      [15, MISSING_KEYS],
      [10, BAD_KEYS],
    ] as const),
  );
}

const OFREP = "/ofrep/v1/evaluate/flags";

/** The bulk path and its near misses. */
function bulkPath(random: Random): string {
  return weighted(random, [
    [85, OFREP],
    [3, `${OFREP}/`],
    [2, `${OFREP}?x=1&context=1`],
    [2, "/ofrep/v1/evaluate/flags//"],
    [2, "/ofrep/v1/evaluate/./flags"],
    [2, "/ofrep/v1/evaluate/flags/../flags"],
    [1, "/OFREP/v1/evaluate/flags"],
    [1, "/ofrep/v1/evaluate/flags%2F"],
    [1, "//ofrep/v1/evaluate/flags"],
    [1, `*${OFREP}`],
  ] as const);
}

function adminReadTarget(random: Random): string {
  const integer = () =>
    random.pick(["1", "1000", "1001", "0", "-1", "abc", " 5 ", "1e2", "", "2", "3650", "3651", "90", "007", "٣"]);
  return weighted(random, [
    [25, () => "/admin/flags"],
    [25, () => `/admin/flags/${keySegment(random, flagKey(random))}`],
    [
      20,
      () => {
        const params: string[] = [];
        if (random.chance(0.5)) params.push(`limit=${encodeURIComponent(integer())}`);
        if (random.chance(0.4)) {
          const before = random.pick(["1", "2", "5", "999", "", " ", "x".repeat(200), "x".repeat(201), "😀", "-1"]);
          params.push(`before=${encodeURIComponent(before)}`);
        }
        if (random.chance(0.1)) params.push("limit=5&limit=x");
        return `/admin/audit${params.length > 0 ? `?${params.join("&")}` : ""}`;
      },
    ],
    [15, () => `/admin/stale${random.chance(0.6) ? `?days=${encodeURIComponent(integer())}` : ""}`],
    [5, () => random.pick(["/admin/flags/", "/admin/audit/", "/admin/stale/", "/admin/flags?x=1", "/admin"])],
  ] as const)();
}

/** Paths of every other kind: unknown, encoded, unicode, dot segments, long, the request-target forms. */
function oddTarget(random: Random, pools: Pools): string {
  return weighted(random, [
    [10, () => random.pick(["/", "", "/healthz/", "/flags/healthz", "/flags", "/ofrep", "/ofrep/", "/ofrep/v1"])],
    [8, () => `/ofrep/v1/evaluate/flags/${keySegment(random, random.pick(pools.strings))}`],
    [8, () => `/admin/flags/${keySegment(random, random.pick(pools.strings))}`],
    [6, () => `/${encodeURIComponent(random.pick(pools.strings))}`],
    [6, () => `/${random.pick(pools.strings)}`],
    [5, () => `/ofrep/v1/evaluate/flags/${"k".repeat(random.pick([128, 129, 2000, 20_000]))}`],
    [5, () => `/admin/flags/${"k".repeat(random.pick([128, 129, 2000]))}`],
    [4, () => `/${"x/".repeat(random.pick([50, 2000]))}`],
    [
      6,
      () =>
        random.pick([
          "/admin/flags/k0/extra",
          "/admin/flags/k0/..",
          "/admin/flags/%2e%2e/audit",
          "/admin/./flags",
          "/admin/flags/../audit",
          "/admin//flags",
          "/ADMIN/flags",
          "/admin/flags/k0;x",
          "/admin/flags\\k0",
          "/ofrep/v1/evaluate/flags/..%2Fadmin",
          "/ofrep/v1/evaluate/flags/%2e%2e/%2e%2e/%2e%2e/admin/flags",
          "/ofrep/v2/evaluate/flags",
          "/ofrep/v1/evaluate/flag/banner",
          "/healthz?x=%zz",
          "/%",
          "/%zz",
          "/%FF",
        ]),
    ],
    [
      6,
      () =>
        random.pick([
          "*",
          "*%",
          "*|x",
          "**",
          `*${OFREP}`,
          "http://example.com/ofrep/v1/evaluate/flags",
          "http://example.com/admin/flags",
          "http://a%zz/x",
          "a://b/healthz",
          "//evil.example/admin/flags",
          "/admin/flags#frag",
          "/admin/flags?#",
          "?x=1",
        ]),
    ],
  ] as const)();
}

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] as const;
const ODD_METHODS = [
  "TRACE",
  "PROPFIND",
  "FOO",
  "M-SEARCH",
  "get",
  "Post",
  "pUt",
  "",
  "G E T",
  "ПОСТ",
  "X".repeat(100),
];

/** What an OFREP client sends, and near misses. */
function contextBody(random: Random, pools: Pools): string {
  const attribute = (): [string, unknown] => {
    const name = random.chance(0.8) ? random.pick(ATTRIBUTES) : random.pick(pools.strings);
    const value: unknown = weighted(random, [
      [20, () => random.pick(["DE", "FR", "pro", "free", "beta", "internal", "user@example.com", "1.4.0"])],
      [10, () => random.pick([...VALID_SEMVERS, ...BAD_SEMVERS])],
      [10, () => random.pick([...VALID_DATE_TIMES, ...BAD_DATE_TIMES, ...VALID_DATES])],
      [10, () => random.pick([0, 1, -1, 17, 18, 65.5, 1e308, 2 ** 53 + 1, "18", "18.0", "1e1", " 18", "0x12"])],
      [10, () => random.pick(MATCH_TEXTS)],
      [8, () => random.chance(0.5)],
      [15, () => JSON.parse(random.pick(pools.scalars)) as unknown],
      [10, () => JSON.parse(random.pick(pools.json)) as unknown],
      [7, () => random.pick(pools.strings)],
    ] as const)();
    return [name, value];
  };
  const context = (): Record<string, unknown> => {
    const entries: [string, unknown][] = [];
    if (random.chance(0.75)) {
      const key = weighted(random, [
        [70, () => `user-${below(random, 500)}`],
        [10, () => random.pick(pools.strings)],
        [5, () => ""],
        [5, () => "x".repeat(random.pick([1024, 5000]))],
        [10, () => JSON.parse(random.pick(pools.scalars)) as unknown],
      ] as const)();
      entries.push(["targetingKey", key]);
    }
    if (random.chance(0.5)) entries.push(["segment", random.chance(0.8) ? random.pick(SEGMENTS) : 7]);
    for (let count = below(random, 6); count > 0; count--) entries.push(attribute());
    return objectOf(entries);
  };
  return weighted(random, [
    [60, () => JSON.stringify({ context: context() })],
    [5, () => JSON.stringify({ context: context(), extra: JSON.parse(random.pick(pools.json)) as unknown })],
    [5, () => JSON.stringify({})],
    [5, () => `{"context":${random.pick(pools.json)}}`],
    [3, () => `{"context":${random.pick(pools.scalars)}}`],
    [3, () => JSON.stringify({ context: { targetingKey: JSON.parse(random.pick(pools.scalars)) as unknown } })],
    [4, () => random.pick(pools.json)],
    [
      3,
      () => {
        // Many attributes: up to and past the default 64 KiB body limit.
        const count = random.pick([100, 1000, 2500, 4000]);
        const entries = Array.from({ length: count }, (_, index) => [`a${index}`, "v".repeat(10)] as const);
        return JSON.stringify({ context: objectOf([["targetingKey", "user-1"], ...entries]) });
      },
    ],
    [
      2,
      () => {
        const depth = random.pick([100, 5000, 30_000]);
        return `{"context":{"targetingKey":"u","deep":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
      },
    ],
    [
      2,
      () =>
        `{"context":{"targetingKey":"u","__proto__":{"segment":"beta"},"constructor":{"prototype":{"x":1}},"segment":"beta"}}`,
    ],
    [2, () => `{"context":{"targetingKey":"u"},"context":{"targetingKey":7}}`],
  ] as const)();
}

// ---- flag definitions ------------------------------------------------------------------------------------------

function codePointsOf(random: Random, count: number): string {
  const unit = random.pick(["a", "é", "😀", "中", " "]);
  return unit.repeat(count);
}

function conditionValue(random: Random, op: (typeof CONDITION_OPS)[number]): unknown {
  switch (op) {
    case "eq":
    case "neq":
      return random.pick(["DE", "pro", 18, 0, true, false, "18", 1.5, "😀", ""]);
    case "in":
    case "not_in":
      return some(random, ["DE", "FR", "IT", 18, 21, true, "pro", "", "😀", 0.5], 1 + below(random, 4));
    case "contains":
    case "starts_with":
    case "ends_with":
      return random.chance(0.5)
        ? random.pick(["@example.com", "beta", "", "a", "😀"])
        : some(random, ["@example.com", "beta", "x", "user"], 1 + below(random, 3));
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return random.chance(0.6) ? random.pick([18, 0, -1.5, 1e9, 65.5]) : random.pick(VALID_DATE_TIMES);
    case "matches":
      return random.pick(GOOD_PATTERNS);
    case "semver_eq":
    case "semver_gt":
    case "semver_lt":
      return random.pick(VALID_SEMVERS);
  }
}

type VariantKind = "string" | "number" | "boolean" | "object";

function variantValue(random: Random, kind: VariantKind, pools: Pools): unknown {
  switch (kind) {
    case "string":
      return random.chance(0.7)
        ? random.pick(["dark", "light", "", "😀", "a".repeat(300)])
        : random.pick(pools.strings);
    case "number":
      return random.pick([0, 1, -1, 10, 0.5, 1e308, -5e-324, 2 ** 53]);
    case "boolean":
      return random.chance(0.5);
    case "object":
      return weighted(random, [
        [50, () => ({ columns: below(random, 5), dense: random.chance(0.5) })],
        [15, () => [1, "two", { three: 3 }]],
        [
          10,
          () =>
            objectOf([
              ["__proto__", { polluted: true }],
              ["constructor", "x"],
            ]),
        ],
        [15, () => JSON.parse(`{"v":${random.pick(pools.json)}}`) as unknown],
        [10, () => JSON.parse(`${"[".repeat(62)}1${"]".repeat(62)}`) as unknown],
      ] as const)();
  }
}

/** A flag definition the validator accepts (by construction, near its limits now and then), as JSON text. */
function validFlagText(random: Random, pools: Pools, key: string | undefined, withKey: boolean): string {
  const flag: Record<string, unknown> = {};
  if (withKey && key !== undefined) flag.key = key;
  if (random.chance(0.3)) flag.description = random.chance(0.1) ? codePointsOf(random, 1000) : "fuzzed flag";
  flag.state = random.pick(["enabled", "disabled", "partial", "partial"]);
  if (random.chance(0.35)) {
    flag.segments = random.chance(0.05)
      ? Array.from({ length: 100 }, (_, index) => `seg-${index}`)
      : some(random, SEGMENTS, 1 + below(random, 3));
  }
  if (random.chance(0.35)) flag.percentage = random.pick([0, 1, 50, 99, 100, below(random, 101)]);
  if (random.chance(0.15)) flag.salt = random.chance(0.2) ? codePointsOf(random, 200) : "shared-salt";
  if (random.chance(0.2)) {
    const [start, end] = some(random, VALID_DATE_TIMES, 2).sort((a, b) => Date.parse(a) - Date.parse(b));
    if (random.chance(0.7)) flag.startTime = start;
    if (random.chance(0.7) && end !== undefined && Date.parse(end) > Date.parse(start ?? "")) flag.endTime = end;
  }
  if (random.chance(0.45)) {
    const count = random.chance(0.05) ? 50 : 1 + below(random, 4);
    flag.conditions = Array.from({ length: count }, () => {
      const op = random.pick(CONDITION_OPS);
      return {
        attribute: random.pick(ATTRIBUTES.filter((name) => name !== "")),
        op,
        value: conditionValue(random, op),
      };
    });
  }
  if (random.chance(0.4)) {
    const kind = random.pick(["string", "number", "boolean", "object"] as const);
    const count = random.chance(0.05) ? 100 : 1 + below(random, 4);
    const names = Array.from({ length: count }, (_, index) => (index === 0 ? "on" : `v${index}`));
    const variants: Record<string, unknown> = {};
    for (const name of names) {
      variants[name] = {
        value: variantValue(random, kind, pools),
        weight: random.pick([0, 1, 1, 3, 50, 1_000_000]),
      };
    }
    (variants.on as { weight: number }).weight = 1 + below(random, 10);
    flag.variants = variants;
    flag.defaultVariant = random.pick(names);
  }
  if (random.chance(0.2)) flag.owner = random.chance(0.2) ? codePointsOf(random, 200) : "team-web";
  if (random.chance(0.2)) flag.expires = random.pick([...VALID_DATES, ...VALID_DATE_TIMES]);
  return JSON.stringify(flag);
}

/** Built once: a variant value wider than any flag may be (MAX_NODES is 65,536 values, MAX_FLAG_BYTES 64 KiB). */
const WIDE_VALUE: Readonly<Record<string, number>> = Object.fromEntries(
  Array.from({ length: 20_000 }, (_, index) => [`k${index}`, 0]),
);

/** One edit that breaks a flag definition, or takes it to (or just past) a limit. */
function breakFlag(random: Random, flag: Record<string, unknown>, pools: Pools): string {
  const set = (field: string, value: unknown, what: string): string => {
    define(flag, field, value);
    return `${field} = ${what}`;
  };
  const weird = (): unknown => JSON.parse(random.pick(pools.json)) as unknown;
  const kind = random.int(0, 33);
  switch (kind) {
    case 0:
      return set(random.pick(["key", "state", "segments", "percentage", "variants", "conditions"]), weird(), "weird");
    case 1:
      delete flag.state;
      return "no state";
    case 2:
      return set("key", random.pick([...BAD_KEYS, ...WRITE_KEYS]), "another key");
    case 3:
      return set(
        random.pick(["enabled", "rollout", "rules", "start_time", "Default", "expiry", "extra", "__proto__"]),
        1,
        "unknown/alias field",
      );
    case 4:
      return set("description", codePointsOf(random, 1001), "1001 code points");
    case 5:
      return set(random.pick(["salt", "owner"]), random.chance(0.5) ? codePointsOf(random, 201) : "", "201 or 0 chars");
    case 6:
      return set(
        "segments",
        random.pick([
          Array.from({ length: 101 }, (_, index) => `seg-${index}`),
          ["beta", "beta"],
          [""],
          [7],
          "beta",
          [],
        ]),
        "bad segments",
      );
    case 7:
      return set("percentage", random.pick([-1, 101, 50.5, "50", null, 1e308, true]), "bad percentage");
    case 8: {
      const op = random.pick(CONDITION_OPS);
      const bad = Array.from({ length: 51 }, () => ({ attribute: "country", op, value: conditionValue(random, op) }));
      return set("conditions", bad, "51 conditions");
    }
    case 9:
      return set(
        "conditions",
        [{ attribute: "email", op: "matches", value: random.pick(HOSTILE_PATTERNS) }],
        "hostile pattern",
      );
    case 10:
      return set(
        "conditions",
        [{ attribute: "email", op: "matches", value: random.pick(pools.strings) }],
        "random pattern",
      );
    case 11:
      return set(
        "conditions",
        [{ attribute: "v", op: random.pick(["semver_eq", "semver_gt", "semver_lt"]), value: random.pick(BAD_SEMVERS) }],
        "bad semver",
      );
    case 12:
      return set(
        "conditions",
        [{ attribute: "at", op: random.pick(["gt", "gte", "lt", "lte"]), value: random.pick(BAD_DATE_TIMES) }],
        "bad instant",
      );
    case 13: {
      const op = random.pick([...CONDITION_OPS, "==", "regex", "EQ", "in ", "", "startsWith"]);
      return set("conditions", [{ attribute: "plan", op, value: weird() }], "op with a weird value");
    }
    case 14:
      return set(
        "conditions",
        [
          random.pick([
            { attribute: "", op: "eq", value: "x" },
            { attribute: 7, op: "eq", value: "x" },
            { op: "eq", value: "x" },
            { attribute: "a", op: "eq" },
            { attribute: "a", op: "in", value: [] },
            { attribute: "a", op: "in", value: [null] },
            { attribute: "a", op: "eq", value: "x", extra: 1 },
            "a == b",
            null,
          ]),
        ],
        "bad condition",
      );
    case 15:
      return set(
        "variants",
        objectOf(Array.from({ length: 101 }, (_, index) => [`v${index}`, { value: index, weight: 1 }] as const)),
        "101 variants",
      );
    case 16:
      return set(
        "variants",
        random.pick([
          { on: { value: true, weight: 1_000_001 } },
          { on: { value: true, weight: -1 } },
          { on: { value: true, weight: 1.5 } },
          { on: { value: true, weight: 0 } },
          { on: { value: true } },
          { on: { value: null, weight: 1 } },
          { on: { value: true, weight: 1 }, off: { value: "false", weight: 1 } },
          { "bad name": { value: 1, weight: 1 } },
          { on: { value: 1, weight: 1, extra: 1 } },
          { on: [1, 1] },
          {},
        ]),
        "bad variants",
      );
    case 17: {
      const depth = random.pick([63, 64, 65, 100]);
      return set(
        "variants",
        { on: { value: JSON.parse(`${"[".repeat(depth)}1${"]".repeat(depth)}`) as unknown, weight: 1 } },
        `variant value ${depth} deep`,
      );
    }
    case 18:
      return set("defaultVariant", random.pick(["missing", "", 7, "ON"]), "defaultVariant not among variants");
    case 19:
      delete flag.defaultVariant;
      return "no defaultVariant";
    case 20:
      delete flag.variants;
      return set("defaultVariant", "on", "defaultVariant without variants");
    case 21:
      return set(random.pick(["startTime", "endTime"]), random.pick(BAD_DATE_TIMES), "bad date-time");
    case 22:
      define(flag, "startTime", "2026-06-02T00:00:00Z");
      return set("endTime", random.pick(["2026-06-02T00:00:00Z", "2026-06-01T00:00:00Z"]), "end not after start");
    case 23:
      return set("expires", random.pick([...BAD_DATES, ...BAD_DATE_TIMES, 20270101]), "bad expires");
    case 24:
      return set("state", random.pick(["Enabled", "on", "", true, null, "partial ", "disabld"]), "bad state");
    case 25: {
      // Big variant values: the flag at and past MAX_FLAG_BYTES (64 KiB), and past the body limit.
      const size = random.pick([60_000, 65_300, 65_400, 65_500, 66_000, 70_000]);
      const variants = objectOf(
        Array.from(
          { length: 10 },
          (_, index) => [`v${index}`, { value: "x".repeat(size / 10 - 30), weight: 1 }] as const,
        ),
      );
      define(flag, "defaultVariant", "v0");
      return set("variants", variants, `variants of ~${size} bytes`);
    }
    case 26:
      return set("variants", { on: { value: WIDE_VALUE, weight: 1 } }, "a variant value of 20,000 members");
    case 27:
      return set("conditions", [{ attribute: "plan", op: "eq", value: [weird()] }], "eq with a list");
    case 28:
      return set("conditions", weird(), "conditions weird");
    case 29:
      return set("percentage", 100, "percentage 100 (edge)");
    case 30:
      return set("segments", ["all"], "segments [all] (edge)");
    case 31:
      return set(
        "conditions",
        [{ attribute: "email", op: "matches", value: "a".repeat(random.pick([256, 257])) }],
        "pattern length edge",
      );
    case 32:
      return set(
        "conditions",
        [{ attribute: "n", op: random.pick(["gt", "lt"]), value: random.pick([1e308, -1e308, "12", null]) }],
        "ordered non-number",
      );
    default:
      return set("key", random.pick(WRITE_KEYS), "key from the pool");
  }
}

/** The body of a PUT: a valid flag (about half), or one with edits that break it or take it to a limit. */
function flagBody(random: Random, pools: Pools, key: string): { text: string; what: string } {
  const withKey = random.chance(0.4);
  const text = validFlagText(random, pools, key, withKey);
  if (random.chance(0.45)) return { text: formatJson(random, text), what: "valid" };
  const flag = JSON.parse(text) as Record<string, unknown>;
  const edits: string[] = [];
  for (let count = 1 + below(random, 3); count > 0; count--) edits.push(breakFlag(random, flag, pools));
  return { text: formatJson(random, JSON.stringify(flag)), what: edits.join("; ") };
}

/** JSON as different clients write it: compact, pretty, with escapes, with a BOM or trailing bytes. */
function formatJson(random: Random, text: string): string {
  return weighted(random, [
    [85, () => text],
    [7, () => JSON.stringify(JSON.parse(text), null, random.pick([2, "\t"]))],
    [
      4,
      () => text.replace(/[a-z]/g, (char) => (random.chance(0.1) ? `\\u00${char.charCodeAt(0).toString(16)}` : char)),
    ],
    [2, () => `\ufeff${text}`],
    [2, () => `${text}${random.pick(["x", " ", "\n", "}", ",", "\u0000"])}`],
  ] as const)();
}

// ---- odd bodies ------------------------------------------------------------------------------------------------

const ODD_TEXTS: readonly string[] = [
  "",
  " ",
  "\n\t ",
  "{",
  "}",
  "[",
  "nul",
  "NaN",
  "Infinity",
  "undefined",
  "{'a':1}",
  '{"a":1,}',
  "/* c */{}",
  '{"context":{"targetingKey":"\\ud800"}}',
  '"\\ud800"',
  "1e999999",
  "-0",
  "[]",
  "null",
  "true",
  "0",
  '"string"',
  '{"context":null}',
  '{"context":[]}',
  '{"context":"x"}',
  '{"__proto__":{"context":{"targetingKey":1}}}',
  "[".repeat(100_000),
  `${"[".repeat(50_000)}${"]".repeat(50_000)}`,
  `${"{".repeat(10)}`,
];
const BAD_BYTES: readonly (readonly number[])[] = [
  [0xff],
  [0xc3, 0x28],
  [0xed, 0xa0, 0x80],
  [0xf0, 0x28, 0x8c, 0x28],
  [0xf4, 0x90, 0x80, 0x80],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0x00],
  [0xfe, 0xff],
  [0xef, 0xbb, 0xbf],
];

function oddBody(random: Random, pools: Pools): { body: Uint8Array; what: string } {
  const base = bytesOf(random.chance(0.5) ? contextBody(random, pools) : validFlagText(random, pools, "k0", false));
  return weighted(random, [
    [15, () => ({ body: bytesOf(random.pick(ODD_TEXTS).slice(0, 200_000)), what: "odd text" })],
    [15, () => ({ body: bytesOf(random.pick(pools.json)), what: "random JSON" })],
    [10, () => ({ body: bytesOf(random.pick(pools.scalars)), what: "JSON scalar" })],
    [
      10,
      () => ({
        body: Uint8Array.from({ length: below(random, 300) }, () => below(random, 256)),
        what: "random bytes",
      }),
    ],
    [10, () => ({ body: base.subarray(0, below(random, base.length + 1)), what: "truncated" })],
    [
      15,
      () => {
        const at = below(random, base.length + 1);
        const bad = random.pick(BAD_BYTES);
        return {
          body: Uint8Array.from([...base.subarray(0, at), ...bad, ...base.subarray(at)]),
          what: `invalid UTF-8 ${bad.map((byte) => byte.toString(16)).join(" ")} at ${at}`,
        };
      },
    ],
    [
      10,
      () => {
        const bytes = Uint8Array.from(base);
        if (bytes.length > 0) bytes[below(random, bytes.length)] = below(random, 256);
        return { body: bytes, what: "one byte changed" };
      },
    ],
    [
      15,
      () => {
        // Around the default limit of 65,536 bytes (and the small worlds' 1,024).
        const size = random.pick([1023, 1024, 1025, 65_535, 65_536, 65_537, 100_000, 300_000]);
        const prefix = '{"context":{"targetingKey":"u","pad":"';
        const suffix = '"}}';
        const fill = Math.max(0, size - prefix.length - suffix.length);
        return { body: bytesOf(`${prefix}${"p".repeat(fill)}${suffix}`), what: `${size} bytes` };
      },
    ],
  ] as const)();
}

// ---- headers ---------------------------------------------------------------------------------------------------

/** The token a world's writers use: admin scope, no end. */
const writerToken = (config: WorldConfig): string | undefined =>
  config.tokens.find((token) => token.scope === "admin" && token.notAfter === undefined)?.token;

function authorization(random: Random, pools: Pools, config: WorldConfig, write: boolean): string | undefined {
  const known = [ADMIN_TOKEN, READ_TOKEN, EXPIRING_TOKEN, SINGLE_TOKEN];
  const token = (): string => (config.tokens.length > 0 ? random.pick(config.tokens).token : random.pick(known));
  const writer = writerToken(config);
  if (writer !== undefined && random.chance(write ? 0.6 : 0.3)) return `Bearer ${writer}`;
  return weighted<() => string | undefined>(random, [
    [12, () => undefined],
    [55, () => `Bearer ${token()}`],
    [4, () => `Bearer ${random.pick(known)}`],
    [3, () => `bearer ${token()}`],
    [2, () => `BEARER\t${token()}  `],
    [
      6,
      () => {
        const right = token();
        const at = below(random, right.length);
        return `Bearer ${random.pick([
          right.slice(0, -1),
          `${right}x`,
          right.toUpperCase(),
          `${right.slice(0, at)}${right[at] === "a" ? "b" : "a"}${right.slice(at + 1)}`,
        ])}`;
      },
    ],
    [
      8,
      () =>
        random.pick([
          "Bearer",
          "Bearer ",
          `Bearer ${token()} extra`,
          `Basic ${Buffer.from(`x:${token()}`).toString("base64")}`,
          token(),
          `Bearer\u00a0${token()}`,
          `Bearer ${token()}\u2028`,
          `Bearer "${token()}"`,
          `Bearer ${"A".repeat(10_000)}`,
          `Bearer ${token()}, Bearer ${token()}`,
          "Bearer 😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
        ]),
    ],
    [2, () => `Bearer ${random.pick(pools.strings)}`],
    [8, () => `Bearer ${API_KEY}`],
  ])();
}

function preconditionValue(random: Random, pools: Pools): string {
  return weighted(random, [
    [25, () => '"{rev}"'],
    [8, () => "{rev}"],
    [8, () => '"{rev+1}"'],
    [6, () => 'W/"{rev}"'],
    [10, () => "*"],
    [6, () => '"0"'],
    [6, () => `"1", "{rev}", "999"`],
    [4, () => ' "{rev}" , '],
    [3, () => '"0{rev}"'],
    [4, () => "{etag}"],
    [
      10,
      () =>
        random.pick([
          "",
          ",",
          '"',
          '"unterminated',
          "W/",
          'W/"x"',
          '"a,b"',
          '*, "1"',
          "7 8",
          '"\u00e9"',
          '"\u0100"',
          `"${"9".repeat(20)}"`,
          '"9007199254740993"',
          '"-1"',
          '"1.0"',
          '""',
          '"x" "y"',
          'w/"1"',
        ]),
    ],
    [4, () => random.pick(pools.strings)],
  ] as const)();
}

const CONTENT_TYPES = [
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "application/json;charset=UTF-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/json; charset=latin1",
  "APPLICATION/JSON",
  "",
  "\u0000",
  "application/merge-patch+json",
] as const;

function headersFor(random: Random, pools: Pools, config: WorldConfig, family: Family, method: string): HeaderLine[] {
  const lines: HeaderLine[] = [];
  const add = (name: string, value: string | undefined): void => {
    if (value !== undefined) lines.push({ name, value });
  };
  const ofrep = family === "ofrep-single" || family === "ofrep-bulk";
  if (method !== "GET" && method !== "HEAD" && random.chance(0.85)) add("Content-Type", random.pick(CONTENT_TYPES));
  if (random.chance(0.05)) add("content-type", random.pick(CONTENT_TYPES));
  const admin = family.startsWith("admin") || !ofrep;
  const write = family === "admin-put" || family === "admin-delete";
  if (admin ? random.chance(0.9) : random.chance(0.15))
    add("Authorization", authorization(random, pools, config, write));
  if (random.chance(0.04)) add("authorization", authorization(random, pools, config, false));
  if (ofrep && config.apiKey !== undefined && random.chance(0.7)) {
    const how = below(random, 4);
    if (how === 0) add("Authorization", `Bearer ${API_KEY}`);
    else if (how === 1) add("X-API-Key", random.pick([API_KEY, ` ${API_KEY} `, `${API_KEY}x`, ""]));
    else if (how === 2) add("x-api-key", API_KEY);
  }
  if (random.chance(0.03)) add("X-API-Key", random.pick([API_KEY, "", ADMIN_TOKEN]));
  if (family === "admin-put" || family === "admin-delete") {
    if (random.chance(0.35)) add("If-Match", preconditionValue(random, pools));
    if (random.chance(0.2)) add("If-None-Match", preconditionValue(random, pools));
    if (random.chance(0.05)) add("If-Match", preconditionValue(random, pools));
  } else if (family === "ofrep-bulk" && random.chance(0.4)) {
    add("If-None-Match", random.chance(0.7) ? "{etag}" : preconditionValue(random, pools));
  } else if (random.chance(0.03)) {
    add(random.pick(["If-Match", "If-None-Match"]), preconditionValue(random, pools));
  }
  if (random.chance(0.25)) {
    add(
      "Origin",
      random.pick([
        ADMIN_ORIGIN,
        "https://app.example.com",
        "null",
        "https://evil.example",
        ADMIN_ORIGIN.toUpperCase(),
      ]),
    );
  }
  if (random.chance(0.02)) add("Origin", "https://second.example");
  if (random.chance(0.15)) {
    add(
      "X-Greenlight-Actor",
      random.pick([
        "alice@example.com",
        "  bob  ",
        "",
        " ",
        "a".repeat(100),
        "a".repeat(101),
        "ümlaut",
        "tab\there",
        "line\u2028sep",
        random.pick(pools.strings),
      ]),
    );
  }
  if (random.chance(0.03)) add("Content-Length", random.pick(["0", "1", "999999999", "-1", "abc", " 5 ", "1e3"]));
  if (random.chance(0.05)) {
    add(random.pick(["X-Forwarded-For", "Accept", "Cookie", "X-Real-IP", "Accept-Encoding", "X-Weird"]), "x");
  }
  if (random.chance(0.05)) {
    add(random.pick(["X-Greenlight-Actor", "Accept", "If-None-Match"]), random.pick(pools.strings));
  }
  // Shuffle now and then: order matters for duplicates.
  if (random.chance(0.1)) lines.reverse();
  return lines;
}

// ---- the case --------------------------------------------------------------------------------------------------

const FAMILY_WEIGHTS: readonly (readonly [number, Family])[] = [
  [24, "ofrep-single"],
  [12, "ofrep-bulk"],
  [22, "admin-put"],
  [7, "admin-delete"],
  [10, "admin-read"],
  [8, "odd-path"],
  [5, "odd-method"],
  [9, "odd-body"],
  [3, "misc"],
];

function clockStep(random: Random): number {
  return weighted(random, [
    [70, () => below(random, 50)],
    [20, () => 50 + below(random, 2000)],
    [6, () => 2000 + below(random, 60_000)],
    [3, () => 60_000 + below(random, 1_800_000)],
    [1, () => 3_600_000 + below(random, 3 * 86_400_000)],
  ] as const)();
}

function faultFor(random: Random, config: WorldConfig): Fault | undefined {
  if (!config.faults) return undefined;
  return weighted(random, [
    [90, undefined],
    [3, { kind: "down", cases: 1 + below(random, 30) }],
    [2, { kind: "up" }],
    [5, { kind: "fail-next", count: 1 + below(random, 3) }],
  ] as const);
}

/** Case `index` of the run in `config`'s world: the same (seed, index, world) always builds the same request. */
export function buildCase(seed: number, index: number, config: WorldConfig, pools: Pools): FuzzCase {
  const random = randomFor(seed, index);
  const family = weighted(random, FAMILY_WEIGHTS);
  let method = "POST";
  let target = OFREP;
  let body: Uint8Array | undefined;
  let what = "";
  let writeKey: string | undefined;
  switch (family) {
    case "ofrep-single": {
      const key = weighted(random, [
        [70, () => random.pick(config.seed).key],
        [15, () => random.pick(WRITE_KEYS)],
        [10, () => random.pick(MISSING_KEYS)],
        [5, () => random.pick([...BAD_KEYS, ...pools.strings.slice(0, 50)])],
      ] as const)();
      target = `${OFREP}/${keySegment(random, key)}`;
      if (random.chance(0.95)) body = bytesOf(contextBody(random, pools));
      break;
    }
    case "ofrep-bulk":
      target = bulkPath(random);
      if (random.chance(0.95)) body = bytesOf(contextBody(random, pools));
      break;
    case "admin-put": {
      method = "PUT";
      writeKey = random.chance(0.93) ? random.pick(WRITE_KEYS) : random.pick([...BAD_KEYS, ...MISSING_KEYS]);
      target = `/admin/flags/${keySegment(random, writeKey)}`;
      const flag = flagBody(random, pools, writeKey);
      what = flag.what;
      if (random.chance(0.97)) body = bytesOf(flag.text);
      break;
    }
    case "admin-delete":
      method = "DELETE";
      writeKey = random.chance(0.9) ? random.pick(WRITE_KEYS) : random.pick([...BAD_KEYS, ...MISSING_KEYS]);
      target = `/admin/flags/${keySegment(random, writeKey)}`;
      if (random.chance(0.1)) body = bytesOf(random.pick(['{"key":"k0"}', "", "x"]));
      break;
    case "admin-read":
      method = random.chance(0.9) ? "GET" : "HEAD";
      target = adminReadTarget(random);
      break;
    case "odd-path":
      method = random.pick(METHODS);
      target = oddTarget(random, pools);
      if (method !== "GET" && method !== "HEAD" && random.chance(0.7)) body = bytesOf(contextBody(random, pools));
      break;
    case "odd-method": {
      method = random.chance(0.6) ? random.pick(METHODS) : random.pick(ODD_METHODS);
      target = random.pick([
        OFREP,
        `${OFREP}/banner`,
        "/admin/flags",
        "/admin/flags/k0",
        "/admin/audit",
        "/admin/stale",
        "/healthz",
        "/flags/healthz",
      ]);
      if (random.chance(0.5)) body = bytesOf(random.chance(0.5) ? contextBody(random, pools) : '{"state":"enabled"}');
      break;
    }
    case "odd-body": {
      method = random.pick(["POST", "POST", "POST", "PUT", "PUT", "DELETE", "PATCH", "GET"]);
      target =
        method === "POST"
          ? random.chance(0.5)
            ? OFREP
            : `${OFREP}/${random.pick(config.seed).key}`
          : `/admin/flags/${random.pick(WRITE_KEYS)}`;
      if (method === "PUT" || method === "DELETE") writeKey = decodeOrUndefined(target.slice("/admin/flags/".length));
      const odd = oddBody(random, pools);
      body = odd.body;
      what = odd.what;
      break;
    }
    case "misc":
      method = random.pick(["GET", "GET", "HEAD", "OPTIONS", "OPTIONS", "POST"]);
      target = random.pick(["/healthz", "/flags/healthz", OFREP, "/admin/flags", "/admin/flags/k0", "/admin/audit"]);
      break;
  }
  const headers = headersFor(random, pools, config, family, method);
  const streamed = config.transport === "core" && body !== undefined && random.chance(0.15);
  const chunks = streamed ? chunking(random, body?.length ?? 0) : undefined;
  const chunked = config.transport === "http" && random.chance(0.3);
  const clientAddress = random.pick(config.addresses);
  const fault = faultFor(random, config);
  const step = clockStep(random);
  const sentBody = body;
  return {
    index,
    family,
    method,
    target,
    headers,
    body: sentBody,
    chunks,
    chunked,
    clientAddress,
    writeKey,
    fault,
    clockStep: step,
    describe: () => describeRequest(method, target, headers, sentBody, what, clientAddress, fault),
  };
}

function decodeOrUndefined(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function chunking(random: Random, length: number): number[] {
  const sizes: number[] = [];
  let left = length;
  while (left > 0) {
    const size = Math.min(left, 1 + below(random, random.chance(0.5) ? 16 : 16_384));
    sizes.push(size);
    left -= size;
  }
  if (random.chance(0.2)) sizes.splice(below(random, sizes.length + 1), 0, 0);
  return sizes;
}

const clip = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;

function describeRequest(
  method: string,
  target: string,
  headers: readonly HeaderLine[],
  body: Uint8Array | undefined,
  what: string,
  clientAddress: string | undefined,
  fault: Fault | undefined,
): string {
  const text = body === undefined ? "" : Buffer.from(body).toString("utf8");
  return [
    `${JSON.stringify(method)} ${JSON.stringify(clip(target, 200))}`,
    headers.length > 0
      ? `headers ${clip(JSON.stringify(headers.map(({ name, value }) => `${name}: ${value}`)), 400)}`
      : "",
    body === undefined
      ? "no body"
      : `body (${body.length} bytes${what ? `, ${what}` : ""}) ${clip(JSON.stringify(text), 500)}`,
    clientAddress === undefined ? "" : `from ${clientAddress}`,
    fault === undefined ? "" : `fault ${JSON.stringify(fault)}`,
  ]
    .filter((part) => part !== "")
    .join("; ");
}

/** Placeholders filled in: `{rev}` the revision of the written key (0: absent), `{etag}` the last bulk ETag. */
export function fillPlaceholders(value: string, revision: number, lastEtag: string | undefined): string {
  return value
    .replaceAll("{rev+1}", String(revision + 1))
    .replaceAll("{rev}", String(revision))
    .replaceAll("{etag}", lastEtag ?? '"0-0"');
}
