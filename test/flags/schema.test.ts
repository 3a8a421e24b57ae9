// Keeps docs/flag.schema.json and validateFlag in step: generated valid flags of every shape pass both, and one
// invalid flag per rule the schema can express fails both; the rules it cannot express fail validateFlag alone.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EXAMPLE_FLAGS } from "../../functions/flags/examples.ts";
import { compilePattern } from "../../functions/flags/pattern.ts";
import { CONDITION_OPS, type Flag, type JsonValue } from "../../functions/flags/types.ts";
import { describeProblems, FLAG_KEY_PATTERN, validateFlag } from "../../functions/flags/validate.ts";

const schemaText = readFileSync(new URL("../../docs/flag.schema.json", import.meta.url), "utf8");
const schema = JSON.parse(schemaText) as Record<string, unknown> & {
  properties: Record<string, Record<string, unknown>>;
  $defs: Record<string, Record<string, unknown>>;
};

const warnings: unknown[] = [];
const ajv = new Ajv2020.default({
  allErrors: true,
  strict: true,
  allowUnionTypes: true,
  logger: {
    log: () => {},
    warn: (...args: unknown[]) => warnings.push(args),
    error: (...args: unknown[]) => warnings.push(args),
  },
});
addFormats.default(ajv);
const schemaAccepts = ajv.compile(schema);

const schemaErrors = (input: unknown): string =>
  (schemaAccepts.errors ?? []).map((error) => `${error.instancePath} ${error.message}`).join("; ") ||
  `accepted ${JSON.stringify(input)}`;

describe("the schema document", () => {
  it("is a draft 2020-12 schema titled greenlight flag, and compiles strictly without warnings", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.$id).toBe("https://greenlight.dev/schemas/flag.schema.json");
    expect(schema.title).toBe("greenlight flag");
    expect(schema.additionalProperties).toBe(false);
    expect(warnings).toEqual([]);
  });

  it("describes every property, at every level", () => {
    const undescribed: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) {
        for (const [index, item] of node.entries()) walk(item, `${path}/${index}`);
        return;
      }
      if (typeof node !== "object" || node === null) return;
      for (const [name, child] of Object.entries(node)) {
        if (name === "properties" && typeof child === "object" && child !== null) {
          for (const [property, definition] of Object.entries(child)) {
            if (typeof definition !== "object" || definition === null || !("description" in definition)) {
              undescribed.push(`${path}/properties/${property}`);
            }
          }
        }
        walk(child, `${path}/${name}`);
      }
    };
    walk(schema, "");
    expect(undescribed).toEqual([]);
  });

  it("lists exactly the flag's fields, the operators of types.ts and the key pattern of validate.ts", () => {
    expect(Object.keys(schema.properties)).toEqual([
      "key",
      "description",
      "state",
      "segments",
      "percentage",
      "salt",
      "startTime",
      "endTime",
      "conditions",
      "variants",
      "defaultVariant",
      "owner",
      "expires",
      "rollout",
      "rolloutStatus",
    ]);
    const condition = schema.$defs.condition as { properties: { op: { enum: string[] } } };
    expect(condition.properties.op.enum).toEqual([...CONDITION_OPS]);
    expect(schema.$defs.name?.pattern).toBe(FLAG_KEY_PATTERN.source);
    expect(schema.dependentRequired).toEqual({ variants: ["defaultVariant"], defaultVariant: ["variants"] });
  });

  it.each(EXAMPLE_FLAGS.map((flag) => [flag.key, flag] as const))("accepts example flag %s", (_key, flag) => {
    expect(schemaAccepts(flag), schemaErrors(flag)).toBe(true);
  });
});

// ---- valid flags of every shape -----------------------------------------------------------------------------

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
const anyText = (constraints: { minLength?: number; maxLength?: number }) =>
  fc.oneof(fc.string(constraints), fc.string({ ...constraints, unit: "binary" }));
const finite = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const scalar = fc.oneof(fc.string(), finite, fc.boolean());

// A day inside years 1 and 9999, so an instant rendered in any zone still has a four-digit year.
const MIN_SECONDS = Date.parse("0001-01-02T00:00:00Z") / 1000;
const MAX_SECONDS = Date.parse("9999-12-30T00:00:00Z") / 1000;
const pad = (value: number, width: number) => String(value).padStart(width, "0");

/** An RFC 3339 rendering of `seconds` (UTC): in a random zone, with or without fraction digits that stay under 1 s. */
const renderInstant = (seconds: number) =>
  fc
    .record({
      zone: fc.oneof(fc.constant(undefined), fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })),
      fraction: fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
    })
    .map(({ zone, fraction }) => {
      const local = new Date((seconds + (zone ?? 0) * 60) * 1000);
      const date = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1, 2)}-${pad(local.getUTCDate(), 2)}`;
      const time = `${pad(local.getUTCHours(), 2)}:${pad(local.getUTCMinutes(), 2)}:${pad(local.getUTCSeconds(), 2)}`;
      const offset =
        zone === undefined
          ? "Z"
          : `${zone < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(zone) / 60), 2)}:${pad(Math.abs(zone) % 60, 2)}`;
      return `${date}T${time}${fraction === undefined ? "" : `.${fraction}`}${offset}`;
    });
const instantSeconds = fc.integer({ min: MIN_SECONDS, max: MAX_SECONDS });
const dateTime = instantSeconds.chain(renderInstant);
const date = fc
  .date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T00:00:00Z"), noInvalidDate: true })
  .map((day) => day.toISOString().slice(0, 10));

/** startTime and endTime: either, neither, or both with startTime strictly earlier (whole seconds apart). */
const window = fc.oneof(
  fc.constant({}),
  dateTime.map((startTime) => ({ startTime })),
  dateTime.map((endTime) => ({ endTime })),
  fc
    .uniqueArray(instantSeconds, { minLength: 2, maxLength: 2 })
    .map((pair) => pair.sort((a, b) => a - b))
    .chain(([start, end]) => fc.record({ startTime: renderInstant(start ?? 0), endTime: renderInstant(end ?? 0) })),
);

const identifier = fc.oneof(fc.nat().map(String), fc.stringMatching(/^[0-9]{0,3}[A-Za-z-][0-9A-Za-z-]{0,6}$/));
const semver = fc
  .record({
    v: fc.boolean(),
    core: fc.tuple(fc.nat(), fc.nat(), fc.nat()),
    prerelease: fc.array(identifier, { maxLength: 3 }),
    build: fc.array(fc.stringMatching(/^[0-9A-Za-z-]{1,8}$/), { maxLength: 3 }),
  })
  .map(
    ({ v, core, prerelease, build }) =>
      `${v ? "v" : ""}${core.join(".")}${prerelease.length ? `-${prerelease.join(".")}` : ""}${build.length ? `+${build.join(".")}` : ""}`,
  );

/** RE2 patterns from pieces (every one compiles), and arbitrary strings that happen to compile as RE2 syntax. */
const pattern = fc.oneof(
  fc
    .array(
      fc.constantFrom(
        "a",
        "\\d+",
        "[a-z]",
        "(x|y)",
        ".*",
        "^",
        "$",
        "\\.",
        "b{2,3}",
        "(?:ab)?",
        "\\w",
        "(?<n>c)",
        "\\\\",
        "(?i)",
        "\\pL",
        "(?P<p>d)",
        "\\z",
      ),
      { maxLength: 20 },
    )
    // Group names must differ within one pattern.
    .map((pieces) => pieces.map((piece, index) => piece.replace(/<([np])>/, `<$1${index}>`)).join("")),
  fc.string({ maxLength: 256 }).filter((text) => compilePattern(text).ok),
);

const conditionValue: Record<(typeof CONDITION_OPS)[number], fc.Arbitrary<unknown>> = {
  eq: scalar,
  neq: scalar,
  in: fc.array(scalar, { minLength: 1, maxLength: 8 }),
  not_in: fc.array(scalar, { minLength: 1, maxLength: 8 }),
  contains: fc.oneof(fc.string(), fc.array(fc.string(), { minLength: 1, maxLength: 4 })),
  starts_with: fc.oneof(fc.string(), fc.array(fc.string(), { minLength: 1, maxLength: 4 })),
  ends_with: fc.oneof(fc.string(), fc.array(fc.string(), { minLength: 1, maxLength: 4 })),
  gt: fc.oneof(finite, dateTime),
  gte: fc.oneof(finite, dateTime),
  lt: fc.oneof(finite, dateTime),
  lte: fc.oneof(finite, dateTime),
  matches: pattern,
  semver_eq: semver,
  semver_gt: semver,
  semver_lt: semver,
};
const condition = fc
  .constantFrom(...CONDITION_OPS)
  .chain((op) => fc.record({ attribute: anyText({ minLength: 1 }), op: fc.constant(op), value: conditionValue[op] }));

const json = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>;
const variantValues: fc.Arbitrary<JsonValue>[] = [
  fc.string(),
  finite,
  fc.boolean(),
  fc.oneof(fc.array(json, { maxLength: 4 }), fc.dictionary(fc.string(), json, { maxKeys: 4 })),
];

/** Variants of one kind of value, at least one weight above 0, and a defaultVariant naming one of them. */
const withVariants = fc
  .tuple(fc.uniqueArray(name, { minLength: 1, maxLength: 12 }), fc.constantFrom(...variantValues))
  .chain(([names, value]) =>
    fc.record({
      variants: fc
        .tuple(
          fc.array(value, { minLength: names.length, maxLength: names.length }),
          fc.array(fc.oneof(fc.nat(1000), fc.constant(1_000_000)), {
            minLength: names.length,
            maxLength: names.length,
          }),
        )
        .map(([values, weights]) => {
          if (!weights.some((weight) => weight > 0)) weights[0] = 1;
          return Object.fromEntries(
            names.map((variant, index) => [variant, { value: values[index] ?? "", weight: weights[index] ?? 1 }]),
          );
        }),
      defaultVariant: fc.constantFrom(...names),
    }),
  );

const base = fc.record(
  {
    key: name,
    description: anyText({ maxLength: 1000 }),
    state: fc.constantFrom("enabled", "disabled", "partial"),
    segments: fc.uniqueArray(anyText({ minLength: 1, maxLength: 20 }), { maxLength: 100 }),
    percentage: fc.integer({ min: 0, max: 100 }),
    salt: anyText({ minLength: 1, maxLength: 200 }),
    conditions: fc.array(condition, { maxLength: 50 }),
    owner: anyText({ minLength: 1, maxLength: 200 }),
    expires: fc.oneof(date, dateTime),
  },
  { requiredKeys: ["key", "state"] },
);

const utf8Bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;
const validFlag = fc
  .tuple(base, window, fc.option(withVariants, { nil: undefined }))
  .map(([fields, times, variants]) => ({ ...fields, ...times, ...variants }))
  .filter((flag) => utf8Bytes(flag) <= 64 * 1024);

describe("valid flags: validateFlag and the schema both accept them", () => {
  it("for generated flags of every shape", () => {
    fc.assert(
      fc.property(validFlag, (flag) => {
        const result = validateFlag(flag);
        expect(result.ok, result.ok ? "" : describeProblems(result.problems)).toBe(true);
        if (result.ok) expect(result.flag).toEqual(flag);
        expect(schemaAccepts(flag), schemaErrors(flag)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("for flags at the limits", () => {
    const limits: Flag[] = [
      {
        key: `k${"x".repeat(127)}`,
        description: "🚀".repeat(1000),
        state: "partial",
        segments: Array.from({ length: 100 }, (_, i) => `s${i}`),
        percentage: 100,
        salt: "s".repeat(200),
        conditions: Array.from({ length: 50 }, (_, i) => ({
          attribute: `a${i}`,
          op: "matches",
          value: "x".repeat(256),
        })),
        owner: "o".repeat(200),
        expires: "2024-02-29",
      },
      {
        key: "many",
        state: "enabled",
        variants: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`v${i}`, { value: [i], weight: i }])),
        defaultVariant: "v0",
      },
    ];
    for (const flag of limits) {
      expect(validateFlag(flag)).toEqual({ ok: true, flag });
      expect(schemaAccepts(flag), schemaErrors(flag)).toBe(true);
    }
  });
});

const BASE = { key: "checkout", state: "enabled" };
const withCondition = (op: string, value: unknown) => ({ ...BASE, conditions: [{ attribute: "a", op, value }] });
const withVariantSet = (variants: Record<string, unknown>) => ({
  ...BASE,
  variants,
  defaultVariant: Object.keys(variants)[0] ?? "a",
});

/** One flag per rule JSON Schema can express. */
const invalid: Array<[string, unknown]> = [
  ["not an object", [BASE]],
  ["no key", { state: "enabled" }],
  ["a key with a space", { ...BASE, key: "a b" }],
  ["a key starting with '.'", { ...BASE, key: ".a" }],
  ["a 129-character key", { ...BASE, key: "k".repeat(129) }],
  ["a number description", { ...BASE, description: 5 }],
  ["a 1001-character description", { ...BASE, description: "🚀".repeat(1001) }],
  ["no state", { key: "k" }],
  ["state on", { ...BASE, state: "on" }],
  ["segments as a string", { ...BASE, segments: "beta" }],
  ["an empty segment", { ...BASE, segments: [""] }],
  ["a number segment", { ...BASE, segments: [1] }],
  ["a duplicate segment", { ...BASE, segments: ["a", "a"] }],
  ["101 segments", { ...BASE, segments: Array.from({ length: 101 }, (_, i) => `s${i}`) }],
  ["percentage 101", { ...BASE, percentage: 101 }],
  ["percentage -1", { ...BASE, percentage: -1 }],
  ["percentage 2.5", { ...BASE, percentage: 2.5 }],
  ["an empty salt", { ...BASE, salt: "" }],
  ["a 201-character salt", { ...BASE, salt: "s".repeat(201) }],
  ["an empty owner", { ...BASE, owner: "" }],
  ["a 201-character owner", { ...BASE, owner: "o".repeat(201) }],
  ["startTime without a zone", { ...BASE, startTime: "2025-01-01T00:00:00" }],
  ["startTime as a date", { ...BASE, startTime: "2025-01-01" }],
  ["startTime on February 30", { ...BASE, startTime: "2025-02-30T00:00:00Z" }],
  ["startTime with a space", { ...BASE, startTime: "2025-01-01 00:00:00Z" }],
  ["startTime in lower case", { ...BASE, startTime: "2025-01-01t00:00:00z" }],
  ["startTime with +0100", { ...BASE, startTime: "2025-01-01T00:00:00+0100" }],
  ["endTime with a leap second", { ...BASE, endTime: "2016-12-31T23:59:60Z" }],
  ["expires in month 13", { ...BASE, expires: "2027-13-01" }],
  ["expires next year", { ...BASE, expires: "next year" }],
  ["conditions as an object", { ...BASE, conditions: {} }],
  [
    "51 conditions",
    { ...BASE, conditions: Array.from({ length: 51 }, () => ({ attribute: "a", op: "eq", value: 1 })) },
  ],
  ["a condition without op", { ...BASE, conditions: [{ attribute: "a", value: 1 }] }],
  ["a condition without value", { ...BASE, conditions: [{ attribute: "a", op: "eq" }] }],
  ["an empty attribute", { ...BASE, conditions: [{ attribute: "", op: "eq", value: 1 }] }],
  ["an extra condition field", { ...BASE, conditions: [{ attribute: "a", op: "eq", value: 1, negate: true }] }],
  ["op greater", withCondition("greater", 1)],
  ["eq with a list", withCondition("eq", [1])],
  ["neq with null", withCondition("neq", null)],
  ["in with a string", withCondition("in", "a")],
  ["in with []", withCondition("in", [])],
  ["not_in with an object inside", withCondition("not_in", [{}])],
  ["contains with a number", withCondition("contains", 1)],
  ["starts_with with []", withCondition("starts_with", [])],
  ["ends_with with a number inside", withCondition("ends_with", ["a", 1])],
  ["gt with a word", withCondition("gt", "ten")],
  ["lte with a date", withCondition("lte", "2025-01-01")],
  ["matches with a number", withCondition("matches", 1)],
  ["matches with 257 characters", withCondition("matches", "x".repeat(257))],
  ["semver_eq with 1.2", withCondition("semver_eq", "1.2")],
  ["semver_gt with a leading zero", withCondition("semver_gt", "1.02.3")],
  ["semver_lt with a leading-zero prerelease", withCondition("semver_lt", "1.2.3-01")],
  ["variants as a list", { ...BASE, variants: [], defaultVariant: "a" }],
  ["no variants", { ...BASE, variants: {}, defaultVariant: "a" }],
  [
    "101 variants",
    withVariantSet(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`v${i}`, { value: i, weight: 1 }]))),
  ],
  ["a variant name with a space", withVariantSet({ "a b": { value: 1, weight: 1 } })],
  ["a variant without weight", withVariantSet({ a: { value: 1 } })],
  ["a variant without value", withVariantSet({ a: { weight: 1 } })],
  ["a negative weight", withVariantSet({ a: { value: 1, weight: 1 }, b: { value: 2, weight: -1 } })],
  ["a fractional weight", withVariantSet({ a: { value: 1, weight: 1.5 } })],
  ["a weight above 1,000,000", withVariantSet({ a: { value: 1, weight: 1_000_001 } })],
  ["a null value", withVariantSet({ a: { value: null, weight: 1 } })],
  ["mixed value kinds", withVariantSet({ a: { value: "x", weight: 1 }, b: { value: 1, weight: 1 } })],
  ["a boolean among arrays", withVariantSet({ a: { value: [], weight: 1 }, b: { value: false, weight: 1 } })],
  ["all weights 0", withVariantSet({ a: { value: 1, weight: 0 }, b: { value: 2, weight: 0 } })],
  ["an extra variant field", withVariantSet({ a: { value: 1, weight: 1, label: "A" } })],
  ["variants without defaultVariant", { ...BASE, variants: { a: { value: 1, weight: 1 } } }],
  ["defaultVariant without variants", { ...BASE, defaultVariant: "a" }],
  ["an unknown field", { ...BASE, enabled_for: ["beta"] }],
];

describe("invalid flags: validateFlag and the schema both reject them", () => {
  it.each(invalid)("%s", (_what, input) => {
    expect(validateFlag(input).ok).toBe(false);
    expect(schemaAccepts(input), `the schema ${schemaErrors(input)}`).toBe(false);
  });

  it.each<[string, unknown]>([
    ["startTime not before endTime", { ...BASE, startTime: "2025-02-01T00:00:00Z", endTime: "2025-01-01T00:00:00Z" }],
    [
      "a defaultVariant that is not a variant",
      { ...BASE, variants: { a: { value: 1, weight: 1 } }, defaultVariant: "b" },
    ],
    ["more than 64 KiB", withVariantSet({ a: { value: "x".repeat(70_000), weight: 1 } })],
    ["a semantic version beyond 2^53 - 1", withCondition("semver_gt", "1.0.0-9007199254740992")],
    ["a pattern that does not compile", withCondition("matches", "(a")],
    ["a pattern with \\Z", withCondition("matches", "a\\Z")],
    ["a pattern with a backreference", withCondition("matches", "(a)\\1")],
    ["a pattern with a lookahead", withCondition("matches", "a(?=b)")],
    ["a pattern too large to run in bounded time", withCondition("matches", "\\pL{1,600}")],
    [
      "a variant value nested 65 deep",
      withVariantSet({ a: { value: JSON.parse(`${"[".repeat(65)}${"]".repeat(65)}`), weight: 1 } }),
    ],
  ])("beyond JSON Schema, only validateFlag rejects %s (as the schema's description says)", (_what, input) => {
    expect(validateFlag(input).ok).toBe(false);
    expect(schemaAccepts(input), schemaErrors(input)).toBe(true);
  });
});
