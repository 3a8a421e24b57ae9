// Table tests of validateFlag: valid flags come back normalised, each broken rule is reported at its JSON Pointer with
// what is accepted, all problems are reported at once, the URL key rules hold, and no input makes it throw.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EXAMPLE_FLAGS } from "../../functions/flags/examples.ts";
import type { Flag } from "../../functions/flags/types.ts";
import {
  describeProblems,
  FLAG_KEY_PATTERN,
  type FlagProblem,
  MAX_FLAG_BYTES,
  validateFlag,
} from "../../functions/flags/validate.ts";

const BASE = { key: "checkout", state: "enabled" } as const;
const OPS =
  "accepted: eq, neq, gt, gte, lt, lte, in, not_in, contains, starts_with, ends_with, matches, semver_eq, semver_gt, semver_lt";
const FIELDS =
  "accepted: key, description, state, segments, percentage, salt, startTime, endTime, conditions, variants, defaultVariant, owner, expires, rollout, rolloutStatus";

/** The problems of an input that must be rejected. */
function problemsOf(input: unknown, options?: { key?: string }): FlagProblem[] {
  const result = validateFlag(input, options);
  if (result.ok) throw new Error(`expected problems, got a valid flag: ${JSON.stringify(result.flag)}`);
  return result.problems;
}

/** The normalised flag of an input that must be accepted. */
function flagOf(input: unknown, options?: { key?: string }): Flag {
  const result = validateFlag(input, options);
  if (!result.ok) throw new Error(`expected a valid flag, got:\n${describeProblems(result.problems)}`);
  return result.flag;
}

const condition = (op: unknown, value: unknown) => ({ ...BASE, conditions: [{ attribute: "a", op, value }] });
const variants = (entries: Record<string, unknown>, defaultVariant: unknown = Object.keys(entries)[0]) => ({
  ...BASE,
  variants: entries,
  defaultVariant,
});

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

describe("valid flags", () => {
  const full = {
    key: "new_checkout.v2-beta",
    description: "The new checkout flow",
    state: "partial",
    segments: ["internal", "beta"],
    percentage: 25,
    salt: "checkout-2025",
    startTime: "2025-01-01T00:00:00Z",
    endTime: "2025-12-31T23:59:59.999+01:00",
    conditions: [
      { attribute: "country", op: "in", value: ["DE", "FR"] },
      { attribute: "appVersion", op: "semver_gt", value: "v2.3.0-rc.1+build.5" },
    ],
    variants: { blue: { value: "#00f", weight: 1 }, green: { value: "#0f0", weight: 3 } },
    defaultVariant: "blue",
    owner: "checkout-team",
    expires: "2026-03-31",
  };

  it.each<[string, Record<string, unknown>]>([
    ["the smallest flag", { key: "a", state: "enabled" }],
    ["a disabled flag", { key: "A1", state: "disabled" }],
    ["a partial flag", { key: "9lives", state: "partial", percentage: 0 }],
    ["every field at once", full],
    ["a 128-character key", { key: `k${"x".repeat(127)}`, state: "enabled" }],
    ["an empty description", { ...BASE, description: "" }],
    ["a 1000-character description", { ...BASE, description: "d".repeat(1000) }],
    ["1000 emoji (characters, not UTF-16 units)", { ...BASE, description: "🚀".repeat(1000) }],
    ["100 segments", { ...BASE, segments: Array.from({ length: 100 }, (_, i) => `s${i}`) }],
    ["no segments", { ...BASE, segments: [] }],
    ["percentage 100", { ...BASE, percentage: 100 }],
    ["200-character owner and salt", { ...BASE, owner: "o".repeat(200), salt: "s".repeat(200) }],
    ["a leap day", { ...BASE, startTime: "2024-02-29T12:00:00Z" }],
    ["fractional seconds and an offset", { ...BASE, startTime: "2025-06-01T08:30:00.123456-07:00" }],
    [
      "a window across a zone change",
      { ...BASE, startTime: "2025-01-01T01:00:00+02:00", endTime: "2025-01-01T00:00:00Z" },
    ],
    [
      "a window a fraction of a second long",
      { ...BASE, startTime: "2025-01-01T00:00:00.5Z", endTime: "2025-01-01T00:00:00.51Z" },
    ],
    ["years before 100", { ...BASE, startTime: "0050-01-01T00:00:00Z", endTime: "0099-01-01T00:00:00Z" }],
    ["expires as a date-time", { ...BASE, expires: "2027-06-30T17:00:00+02:00" }],
    ["no conditions", { ...BASE, conditions: [] }],
    [
      "50 conditions",
      { ...BASE, conditions: Array.from({ length: 50 }, () => ({ attribute: "a", op: "eq", value: 1 })) },
    ],
    ["number variants", variants({ low: { value: 1, weight: 1 }, high: { value: 2.5, weight: 0 } })],
    ["boolean variants", variants({ on: { value: true, weight: 1 }, off: { value: false, weight: 1 } })],
    ["object and array variants", variants({ a: { value: { x: [1, null] }, weight: 1 }, b: { value: [], weight: 2 } })],
    ["one variant", variants({ only: { value: "x", weight: 7 } })],
    [
      "100 variants",
      variants(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`v${i}`, { value: i, weight: 1 }]))),
    ],
  ])("%s", (_what, input) => {
    expect(flagOf(input)).toEqual(input);
  });

  it.each<[string, unknown]>([
    ["eq", "gold"],
    ["eq", 3],
    ["neq", false],
    ["in", ["DE", 1, true]],
    ["not_in", ["x"]],
    ["contains", "shop"],
    ["contains", ""],
    ["starts_with", ["https://", "http://"]],
    ["ends_with", ".example.com"],
    ["gt", 8],
    ["gte", -1.5],
    ["lt", 20],
    ["lte", "2025-01-01T00:00:00Z"],
    ["matches", "^[a-z]+@example\\.com$"],
    ["matches", "(?<year>\\d{4})-\\d\\d"],
    ["matches", "a\\\\Z"],
    ["matches", "x".repeat(256)],
    ["matches", "(?i)^beta-"],
    ["matches", "(?P<major>\\d+)\\.\\pL+\\z"],
    ["matches", "(a|aa)+$"],
    ["matches", "\\d{1,200}"],
    ["semver_eq", "1.0.0"],
    ["semver_gt", "v10.20.30-alpha.1.x-y-z+001.sha"],
    ["semver_lt", "0.0.0-0"],
    ["semver_eq", "9007199254740991.0.0"],
  ])("condition %s %j", (op, value) => {
    const input = condition(op, value);
    expect(flagOf(input)).toEqual(input);
  });

  it("puts the fields in the documented order and adds nothing", () => {
    const flag = flagOf({ expires: "2026-01-01", owner: "me", state: "enabled", key: "k" });
    expect(Object.keys(flag)).toEqual(["key", "state", "owner", "expires"]);
  });

  it("neither mutates nor shares the input", () => {
    const input = deepFreeze(structuredClone(full));
    const flag = flagOf(input);
    expect(flag).toEqual(full);
    expect(flag).not.toBe(input);
    expect(flag.segments).not.toBe(input.segments);
    expect(flag.conditions?.[0]).not.toBe(input.conditions[0]);
    expect(flag.conditions?.[0]?.value).not.toBe(input.conditions[0]?.value);
    expect(flag.variants?.blue).not.toBe(input.variants.blue);
  });

  it("deep-copies variant values, keeping a __proto__ key as data", () => {
    const input = JSON.parse(
      '{"key":"k","state":"enabled","variants":{"a":{"value":{"__proto__":{"polluted":true},"list":[{"b":1}]},"weight":1}},"defaultVariant":"a"}',
    );
    const flag = flagOf(input);
    const value = flag.variants?.a?.value as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(["__proto__", "list"]);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(value.list).not.toBe(input.variants.a.value.list);
    expect(JSON.stringify(flag)).toBe(JSON.stringify(input));
  });

  it("treats a field set to undefined (JavaScript callers) as absent", () => {
    expect(flagOf({ ...BASE, description: undefined })).toEqual(BASE);
  });

  it.each(EXAMPLE_FLAGS.map((flag) => [flag.key, flag] as const))("example flag %s", (_key, flag) => {
    expect(flagOf(flag)).toEqual(flag);
  });

  it("the example flags keep both request_time conditions, as the seed meant", () => {
    const engine = EXAMPLE_FLAGS.find((flag) => flag.key === "new_recommendation_engine");
    expect(engine?.conditions).toEqual([
      { attribute: "request_time", op: "gt", value: 8 },
      { attribute: "request_time", op: "lt", value: 20 },
    ]);
    expect(EXAMPLE_FLAGS.map((flag) => [flag.key, flag.state])).toEqual([
      ["new_recommendation_engine", "partial"],
      ["new_ui_interface", "partial"],
      ["payment_feature", "disabled"],
    ]);
    expect(Object.isFrozen(engine?.conditions?.[0])).toBe(true);
  });
});

describe("FLAG_KEY_PATTERN", () => {
  it.each(["a", "Z", "0", "a.b", "a_b", "a-b", "a..b", `a${"b".repeat(127)}`])("accepts %s", (key) => {
    expect(FLAG_KEY_PATTERN.test(key)).toBe(true);
  });
  it.each(["", ".", "..", "-a", "_a", ".a", "a b", "a/b", "ä", "a:b", `a${"b".repeat(128)}`])("refuses %j", (key) => {
    expect(FLAG_KEY_PATTERN.test(key)).toBe(false);
  });
});

/** [what, input, path, fragments the message must contain]: each input has exactly this one problem. */
type Case = [string, unknown, string, string[]];

const KEY_RULE = "use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit";
const DATE_TIME = "use an ISO 8601 date-time with a time zone, e.g. 2025-01-01T00:00:00Z";
const SCALAR = "use a string, number or boolean";
const LIST = "use a non-empty array of strings, numbers or booleans";
const STRINGS = "use a string or a non-empty array of strings";
const ORDERED = "use a number or an ISO 8601 date-time with a time zone";
const SEMVER = "use a semantic version: MAJOR.MINOR.PATCH, optional -prerelease and +build, optional leading v";
const WEIGHT = "use an integer from 0 to 1,000,000";
const KINDS = "all strings, all numbers, all booleans, or all objects/arrays";

const cases: Case[] = [
  // the flag itself
  ["an array", [BASE], "", ["an array is not a flag; send a JSON object"]],
  ["null", null, "", ["null is not a flag"]],
  ["a string", "checkout", "", ['"checkout" is not a flag']],
  ["a Date", new Date(0), "", ["an object is not a flag"]],
  // key
  ["no key", { state: "enabled" }, "/key", ["required", KEY_RULE.slice("use ".length)]],
  ["an empty key", { ...BASE, key: "" }, "/key", ['"" is not a flag key', KEY_RULE]],
  ["a key with a space", { ...BASE, key: "new ui" }, "/key", ['"new ui" is not a flag key', KEY_RULE]],
  ["a key starting with '-'", { ...BASE, key: "-x" }, "/key", [KEY_RULE]],
  ["a 129-character key", { ...BASE, key: "k".repeat(129) }, "/key", ["is not a flag key", KEY_RULE]],
  ["a number key", { ...BASE, key: 7 }, "/key", ["7 is not a flag key", KEY_RULE]],
  // description
  ["a number description", { ...BASE, description: 1 }, "/description", ["1 is not a string", "up to 1000 characters"]],
  [
    "a 1001-character description",
    { ...BASE, description: "é".repeat(1001) },
    "/description",
    ["1001 characters is too long", "up to 1000 characters"],
  ],
  // state
  ["no state", { key: "k" }, "/state", ["required: use enabled, disabled or partial"]],
  ["state on", { ...BASE, state: "on" }, "/state", ['"on" is not a state; use enabled, disabled or partial']],
  [
    "state Enabled",
    { ...BASE, state: "Enabled" },
    "/state",
    ['did you mean "enabled"?', "use enabled, disabled or partial"],
  ],
  ["state true", { ...BASE, state: true }, "/state", ["true is not a state; use enabled, disabled or partial"]],
  // segments
  [
    "segments as a string",
    { ...BASE, segments: "beta" },
    "/segments",
    ['"beta" is not a list of segments', "distinct non-empty strings"],
  ],
  [
    "an empty segment",
    { ...BASE, segments: ["beta", ""] },
    "/segments/1",
    ['"" is not a segment; use a non-empty string'],
  ],
  ["a number segment", { ...BASE, segments: [3] }, "/segments/0", ["3 is not a segment; use a non-empty string"]],
  [
    "a duplicate segment",
    { ...BASE, segments: ["a", "b", "a"] },
    "/segments/2",
    ['"a" is already listed at /segments/0; list each segment once'],
  ],
  [
    "101 segments",
    { ...BASE, segments: Array.from({ length: 101 }, (_, i) => `s${i}`) },
    "/segments",
    ["101 segments; at most 100 are accepted"],
  ],
  // percentage
  [
    "percentage 101",
    { ...BASE, percentage: 101 },
    "/percentage",
    ["101 is out of range; use an integer from 0 to 100"],
  ],
  ["percentage -1", { ...BASE, percentage: -1 }, "/percentage", ["-1 is out of range; use an integer from 0 to 100"]],
  [
    "percentage 12.5",
    { ...BASE, percentage: 12.5 },
    "/percentage",
    ["12.5 is not a percentage; use an integer from 0 to 100"],
  ],
  [
    'percentage "50"',
    { ...BASE, percentage: "50" },
    "/percentage",
    ['"50" is not a percentage; use an integer from 0 to 100'],
  ],
  ["percentage NaN", { ...BASE, percentage: Number.NaN }, "/percentage", ["NaN is not a percentage"]],
  // salt and owner
  ["an empty salt", { ...BASE, salt: "" }, "/salt", ['"" is empty; use a string of 1 to 200 characters']],
  [
    "a 201-character salt",
    { ...BASE, salt: "s".repeat(201) },
    "/salt",
    ["201 characters is too long; use a string of 1 to 200"],
  ],
  ["an empty owner", { ...BASE, owner: "" }, "/owner", ['"" is empty; use a string of 1 to 200 characters']],
  ["a 201-character owner", { ...BASE, owner: "o".repeat(201) }, "/owner", ["201 characters is too long"]],
  [
    "an owner list",
    { ...BASE, owner: ["a"] },
    "/owner",
    ["an array is not a string; use a string of 1 to 200 characters"],
  ],
  // startTime, endTime
  [
    "startTime as a date",
    { ...BASE, startTime: "2025-01-01" },
    "/startTime",
    ['"2025-01-01" is not a date-time', DATE_TIME],
  ],
  [
    "startTime without a zone",
    { ...BASE, startTime: "2025-01-01T00:00:00" },
    "/startTime",
    ["is not a date-time", DATE_TIME],
  ],
  ["startTime with a space", { ...BASE, startTime: "2025-01-01 00:00:00Z" }, "/startTime", [DATE_TIME]],
  ["startTime without seconds", { ...BASE, startTime: "2025-01-01T00:00Z" }, "/startTime", [DATE_TIME]],
  // The evaluator reads at most nanoseconds: a finer fraction would pass here and fail every evaluation.
  [
    "startTime with 10 fraction digits",
    { ...BASE, startTime: "2025-01-01T00:00:00.0000000001Z" },
    "/startTime",
    [DATE_TIME],
  ],
  ["startTime on February 30", { ...BASE, startTime: "2025-02-30T00:00:00Z" }, "/startTime", [DATE_TIME]],
  ["startTime on February 29 of 2100", { ...BASE, startTime: "2100-02-29T00:00:00Z" }, "/startTime", [DATE_TIME]],
  ["startTime at 24:00", { ...BASE, startTime: "2025-01-01T24:00:00Z" }, "/startTime", [DATE_TIME]],
  ["startTime with a leap second", { ...BASE, startTime: "2016-12-31T23:59:60Z" }, "/startTime", [DATE_TIME]],
  ["startTime with +0100", { ...BASE, startTime: "2025-01-01T00:00:00+0100" }, "/startTime", [DATE_TIME]],
  ["startTime in epoch seconds", { ...BASE, startTime: 1735689600 }, "/startTime", ["1735689600 is not a date-time"]],
  ["endTime in lower case", { ...BASE, endTime: "2025-01-01t00:00:00z" }, "/endTime", [DATE_TIME]],
  [
    "endTime equal to startTime",
    { ...BASE, startTime: "2025-01-01T01:00:00+01:00", endTime: "2025-01-01T00:00:00Z" },
    "/endTime",
    ['"2025-01-01T00:00:00Z" is not after startTime "2025-01-01T01:00:00+01:00"', "endTime must be later"],
  ],
  [
    "endTime equal to startTime but for trailing zeros",
    { ...BASE, startTime: "2025-01-01T00:00:00.5Z", endTime: "2025-01-01T00:00:00.500Z" },
    "/endTime",
    ["is not after startTime"],
  ],
  [
    "endTime before startTime",
    { ...BASE, startTime: "2025-06-01T00:00:00Z", endTime: "2025-01-01T00:00:00Z" },
    "/endTime",
    ["is not after startTime"],
  ],
  // expires
  [
    "expires in month 13",
    { ...BASE, expires: "2027-13-01" },
    "/expires",
    ["is not a date; use an ISO 8601 date (e.g. 2027-06-30)"],
  ],
  [
    "expires next year",
    { ...BASE, expires: "next year" },
    "/expires",
    ['"next year" is not a date', "date-time with a time zone"],
  ],
  ["expires without a zone", { ...BASE, expires: "2027-06-30T00:00:00" }, "/expires", ["is not a date"]],
  ["expires as a number", { ...BASE, expires: 20270630 }, "/expires", ["20270630 is not a date"]],
  // conditions
  [
    "conditions as an object",
    { ...BASE, conditions: {} },
    "/conditions",
    ["{} is not a list of conditions", "attribute, op and value"],
  ],
  [
    "51 conditions",
    { ...BASE, conditions: Array.from({ length: 51 }, () => ({ attribute: "a", op: "eq", value: 1 })) },
    "/conditions",
    ["51 conditions; at most 50 are accepted"],
  ],
  [
    "a string condition",
    { ...BASE, conditions: ["a == 1"] },
    "/conditions/0",
    ['"a == 1" is not a condition', "attribute, op and value"],
  ],
  [
    "a condition without attribute",
    { ...BASE, conditions: [{ op: "eq", value: 1 }] },
    "/conditions/0/attribute",
    ["required", "non-empty string"],
  ],
  [
    "an empty attribute",
    { ...BASE, conditions: [{ attribute: "", op: "eq", value: 1 }] },
    "/conditions/0/attribute",
    ['"" is not an attribute name; use a non-empty string'],
  ],
  [
    "a condition without op",
    { ...BASE, conditions: [{ attribute: "a", value: 1 }] },
    "/conditions/0/op",
    ["required", OPS],
  ],
  [
    "a condition without value",
    { ...BASE, conditions: [{ attribute: "a", op: "in" }] },
    "/conditions/0/value",
    [`required: ${LIST}`],
  ],
  [
    "op greater",
    condition("greater", 1),
    "/conditions/0/op",
    ['"greater" is not an operator; did you mean "gt"?', OPS],
  ],
  ["op >=", condition(">=", 1), "/conditions/0/op", ['did you mean "gte"?', OPS]],
  ["op startsWith", condition("startsWith", "a"), "/conditions/0/op", ['did you mean "starts_with"?']],
  ["op NOT_IN", condition("NOT_IN", ["a"]), "/conditions/0/op", ['did you mean "not_in"?']],
  ["op regex", condition("regex", "a"), "/conditions/0/op", ['did you mean "matches"?']],
  ["op contans", condition("contans", "a"), "/conditions/0/op", ['did you mean "contains"?']],
  ["op xyzzy", condition("xyzzy", 1), "/conditions/0/op", [`"xyzzy" is not an operator; ${OPS}`]],
  ["op 3", condition(3, 1), "/conditions/0/op", [`3 is not an operator; ${OPS}`]],
  // condition values, by op
  ["eq with a list", condition("eq", [1]), "/conditions/0/value", [`an array is not a value for eq; ${SCALAR}`]],
  ["neq with null", condition("neq", null), "/conditions/0/value", [`null is not a value for neq; ${SCALAR}`]],
  [
    "eq with an object",
    condition("eq", { a: 1 }),
    "/conditions/0/value",
    [`an object is not a value for eq; ${SCALAR}`],
  ],
  ["eq with Infinity", condition("eq", Number.POSITIVE_INFINITY), "/conditions/0/value", [SCALAR]],
  ["in with a string", condition("in", "DE"), "/conditions/0/value", [`"DE" is not a value for in; ${LIST}`]],
  ["in with []", condition("in", []), "/conditions/0/value", [`[] is empty; ${LIST}`]],
  ["not_in with []", condition("not_in", []), "/conditions/0/value", [`[] is empty; ${LIST}`]],
  [
    "in with null inside",
    condition("in", ["a", null]),
    "/conditions/0/value/1",
    ["null cannot be in a in list; use strings, numbers or booleans"],
  ],
  [
    "not_in with a list inside",
    condition("not_in", [["a"]]),
    "/conditions/0/value/0",
    ["an array cannot be in a not_in list"],
  ],
  [
    "contains with a number",
    condition("contains", 5),
    "/conditions/0/value",
    [`5 is not a value for contains; ${STRINGS}`],
  ],
  ["starts_with with []", condition("starts_with", []), "/conditions/0/value", [`[] is empty; ${STRINGS}`]],
  [
    "ends_with with a number inside",
    condition("ends_with", ["a", 1]),
    "/conditions/0/value/1",
    ["1 cannot be in a ends_with list; use strings"],
  ],
  ["gt with a word", condition("gt", "ten"), "/conditions/0/value", [`"ten" is not a value for gt; ${ORDERED}`]],
  [
    "gte with a date",
    condition("gte", "2025-01-01"),
    "/conditions/0/value",
    [`"2025-01-01" is not a value for gte; ${ORDERED}`],
  ],
  ["lt with a boolean", condition("lt", true), "/conditions/0/value", [`true is not a value for lt; ${ORDERED}`]],
  ["lte with NaN", condition("lte", Number.NaN), "/conditions/0/value", [`NaN is not a value for lte; ${ORDERED}`]],
  [
    "matches with a number",
    condition("matches", 1),
    "/conditions/0/value",
    ["1 is not a value for matches", "RE2 regular expression of up to 256 characters", "(?i) for case-insensitive"],
  ],
  [
    "matches with an unclosed group",
    condition("matches", "(ab"),
    "/conditions/0/value",
    ['"(ab" does not compile as RE2 syntax: missing closing ): `(ab`', "use an RE2 regular expression"],
  ],
  [
    "matches with \\Z",
    condition("matches", "end\\Z"),
    "/conditions/0/value",
    ["uses \\Z, which RE2 does not accept", "use $ or \\z"],
  ],
  [
    "matches with a backreference",
    condition("matches", "(ab)\\1"),
    "/conditions/0/value",
    [
      '"(ab)\\\\1" uses a backreference (`\\1`): backreferences are not supported (RE2 syntax',
      "RE2 regular expression",
    ],
  ],
  [
    "matches with a named backreference",
    condition("matches", "(?<x>a)\\k<x>"),
    "/conditions/0/value",
    ["backreferences are not supported"],
  ],
  [
    "matches with a lookahead",
    condition("matches", "^(?=.*admin)"),
    "/conditions/0/value",
    ["uses a lookaround (`(?=`): lookahead and lookbehind are not supported (RE2 syntax, matched in linear time)"],
  ],
  ["matches with a negative lookahead", condition("matches", "^(?!test-)"), "/conditions/0/value", ["(`(?!`)"]],
  ["matches with a lookbehind", condition("matches", "(?<=@)example"), "/conditions/0/value", ["(`(?<=`)"]],
  ["matches with a negative lookbehind", condition("matches", "(?<!x)y"), "/conditions/0/value", ["(`(?<!`)"]],
  [
    "matches with a possessive quantifier",
    condition("matches", "^a++b"),
    "/conditions/0/value",
    ["uses a possessive quantifier (`++`)", "plain + and * are enough"],
  ],
  ["matches with an atomic group", condition("matches", "(?>ab)"), "/conditions/0/value", ["atomic groups"]],
  [
    "matches with a JavaScript-only escape",
    condition("matches", "\\u0041"),
    "/conditions/0/value",
    ["does not compile as RE2 syntax: invalid escape sequence: `\\u`"],
  ],
  [
    "matches with a repetition count above 1000",
    condition("matches", "a{1001}"),
    "/conditions/0/value",
    ["invalid repeat count: `{1001}`"],
  ],
  [
    "matches with too large a program",
    condition("matches", "\\pL{1,600}"),
    "/conditions/0/value",
    ["compiles to 1,201 RE2 instructions, more than the 500 accepted", "use +, * or a smaller count"],
  ],
  [
    "matches with 257 characters",
    condition("matches", "x".repeat(257)),
    "/conditions/0/value",
    ["a 257-character pattern is too long", "up to 256"],
  ],
  [
    "semver_eq with 1.2",
    condition("semver_eq", "1.2"),
    "/conditions/0/value",
    [`"1.2" is not a value for semver_eq; ${SEMVER}`],
  ],
  ["semver_gt with a leading zero", condition("semver_gt", "01.2.3"), "/conditions/0/value", [SEMVER]],
  ["semver_lt with a leading-zero prerelease", condition("semver_lt", "1.2.3-01"), "/conditions/0/value", [SEMVER]],
  ["semver_eq with V", condition("semver_eq", "V1.2.3"), "/conditions/0/value", [SEMVER]],
  ["semver_eq with an empty build", condition("semver_eq", "1.2.3+"), "/conditions/0/value", [SEMVER]],
  ["semver_eq with a number", condition("semver_eq", 1), "/conditions/0/value", [SEMVER]],
  ["semver_eq beyond 2^53 - 1", condition("semver_eq", "9007199254740992.0.0"), "/conditions/0/value", [SEMVER]],
  // variants and defaultVariant
  [
    "variants as a list",
    { ...BASE, variants: [], defaultVariant: "a" },
    "/variants",
    ["[] is not a set of variants", "1 to 100 variant names"],
  ],
  [
    "no variants",
    { ...BASE, variants: {}, defaultVariant: "a" },
    "/variants",
    ["{} has no variants", "leave variants out for a boolean flag"],
  ],
  [
    "101 variants",
    variants(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`v${i}`, { value: i, weight: 1 }]))),
    "/variants",
    ["101 variants; at most 100 are accepted"],
  ],
  [
    "a variant name with a space",
    variants({ "big red": { value: "r", weight: 1 } }),
    "/variants/big red",
    ['"big red" is not a variant name', KEY_RULE],
  ],
  [
    "a variant name with a slash",
    variants({ "a/b~c": { value: "r", weight: 1 } }),
    "/variants/a~1b~0c",
    ['"a/b~c" is not a variant name'],
  ],
  [
    "a variant that is a value",
    variants({ a: "red" }),
    "/variants/a",
    ['"red" is not a variant; use {"value": ..., "weight": ...}'],
  ],
  ["a variant without weight", variants({ a: { value: 1 } }), "/variants/a/weight", ["required", WEIGHT]],
  [
    "a negative weight",
    variants({ a: { value: 1, weight: 2 }, b: { value: 2, weight: -1 } }),
    "/variants/b/weight",
    [`-1 is not a weight; ${WEIGHT}`],
  ],
  [
    "a fractional weight",
    variants({ a: { value: 1, weight: 0.5 } }),
    "/variants/a/weight",
    [`0.5 is not a weight; ${WEIGHT}`],
  ],
  [
    "a weight above the cap",
    variants({ a: { value: 1, weight: 1_000_001 } }),
    "/variants/a/weight",
    [`1000001 is not a weight; ${WEIGHT}`],
  ],
  [
    "a string weight",
    variants({ a: { value: 1, weight: "1" } }),
    "/variants/a/weight",
    [`"1" is not a weight; ${WEIGHT}`],
  ],
  [
    "a variant without value",
    variants({ a: { weight: 1 } }),
    "/variants/a/value",
    ["required", "string, number, boolean, object or array"],
  ],
  ["a null value", variants({ a: { value: null, weight: 1 } }), "/variants/a/value", ["null is not a variant value"]],
  [
    "mixed value kinds",
    variants({ a: { value: "x", weight: 1 }, b: { value: 2, weight: 1 } }),
    "/variants/b/value",
    ['a number, but variant "a" is a string', KINDS],
  ],
  [
    "a boolean among objects",
    variants({ a: { value: [1], weight: 1 }, b: { value: { c: 1 }, weight: 1 }, d: { value: true, weight: 1 } }),
    "/variants/d/value",
    ['a boolean, but variant "a" is an object or array', KINDS],
  ],
  [
    "a NaN deep inside a value",
    variants({ a: { value: { list: [1, Number.NaN] }, weight: 1 } }),
    "/variants/a/value/list/1",
    ["NaN is not JSON; use a finite number"],
  ],
  [
    "a function inside a value",
    variants({ a: { value: { f: () => 1 }, weight: 1 } }),
    "/variants/a/value/f",
    ["a function is not JSON"],
  ],
  [
    "a value nested 65 deep",
    variants({ a: { value: JSON.parse(`${"[".repeat(65)}${"]".repeat(65)}`), weight: 1 } }),
    `/variants/a/value${"/0".repeat(64)}`,
    ["nested more than 64 levels deep"],
  ],
  [
    "all weights 0",
    variants({ a: { value: 1, weight: 0 }, b: { value: 2, weight: 0 } }),
    "/variants",
    ["every weight is 0", "give at least one variant a weight above 0"],
  ],
  [
    "a misspelt variant field",
    variants({ a: { value: 1, weigth: 1, weight: 1 } }),
    "/variants/a/weigth",
    ['unknown field; did you mean "weight"? (accepted: value, weight)'],
  ],
  [
    "variants without defaultVariant",
    { ...BASE, variants: { a: { value: 1, weight: 1 }, b: { value: 2, weight: 1 } } },
    "/defaultVariant",
    ["required with variants", "(one of: a, b)"],
  ],
  [
    "a defaultVariant that is not a variant",
    variants({ blue: { value: 1, weight: 1 }, green: { value: 2, weight: 1 } }, "bleu"),
    "/defaultVariant",
    ['"bleu" is not one of the variants; did you mean "blue"? (variants: blue, green)'],
  ],
  [
    "a number defaultVariant",
    variants({ blue: { value: 1, weight: 1 } }, 0),
    "/defaultVariant",
    ["0 is not one of the variants", "(variants: blue)"],
  ],
  [
    "defaultVariant without variants",
    { ...BASE, defaultVariant: "a" },
    "/defaultVariant",
    ["only applies with variants; add variants or leave defaultVariant out"],
  ],
  // unknown fields
  [
    "enabled_for",
    { ...BASE, enabled_for: ["beta"] },
    "/enabled_for",
    [`unknown field; did you mean "segments"? (${FIELDS})`],
  ],
  ["start_time", { ...BASE, start_time: "x" }, "/start_time", ['did you mean "startTime"?', FIELDS]],
  ["End-Time", { ...BASE, "End-Time": "x" }, "/End-Time", ['did you mean "endTime"?']],
  ["rollout_percentage", { ...BASE, rollout_percentage: 5 }, "/rollout_percentage", ['did you mean "percentage"?']],
  ["default_variant", { ...BASE, default_variant: "a" }, "/default_variant", ['did you mean "defaultVariant"?']],
  ["descripton", { ...BASE, descripton: "x" }, "/descripton", ['did you mean "description"?']],
  ["enabled", { ...BASE, enabled: true }, "/enabled", ['did you mean "state"?']],
  ["expiry", { ...BASE, expiry: "2027-01-01" }, "/expiry", ['did you mean "expires"?']],
  ["ttl", { ...BASE, ttl: 3600 }, "/ttl", [`unknown field; ${FIELDS}`]],
  ["a/b", { ...BASE, "a/b": 1 }, "/a~1b", ["unknown field"]],
  [
    "__proto__ from JSON",
    JSON.parse('{"key":"k","state":"enabled","__proto__":{"x":1}}'),
    "/__proto__",
    ["unknown field"],
  ],
  [
    "a condition's operator",
    { ...BASE, conditions: [{ attribute: "a", operator: "eq", op: "eq", value: 1 }] },
    "/conditions/0/operator",
    ['did you mean "op"? (accepted: attribute, op, value)'],
  ],
];

describe("invalid flags: one problem, at the field's JSON Pointer, saying what is accepted", () => {
  it.each(cases)("%s", (_what, input, path, fragments) => {
    const problems = problemsOf(input);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe(path);
    for (const fragment of fragments) expect(problems[0]?.message).toContain(fragment);
  });

  it("rejects a flag over 64 KiB, and accepts one of exactly 64 KiB", () => {
    const sized = (bytes: number) => {
      const input = { ...BASE, variants: { a: { value: "", weight: 1 } }, defaultVariant: "a" };
      const padding = bytes - new TextEncoder().encode(JSON.stringify(input)).length;
      // Two-byte characters, so the limit is on UTF-8 bytes, not on characters.
      input.variants.a.value = "é".repeat(Math.floor(padding / 2)) + "x".repeat(padding % 2);
      expect(new TextEncoder().encode(JSON.stringify(input)).length).toBe(bytes);
      return input;
    };
    expect(MAX_FLAG_BYTES).toBe(65536);
    expect(flagOf(sized(65536))).toEqual(sized(65536));
    expect(problemsOf(sized(65537))).toEqual([
      { path: "", message: "the flag is 65537 bytes as JSON; at most 65536 bytes (64 KiB) are accepted" },
    ]);
  });

  it("reports the size of an invalid flag too, without measuring past the limit", () => {
    const problems = problemsOf({ ...BASE, description: "x".repeat(100_000) });
    expect(problems.map((problem) => problem.path)).toEqual(["/description", ""]);
    expect(problems[1]?.message).toBe(
      "the flag is more than 65536 bytes as JSON; at most 65536 bytes (64 KiB) are accepted",
    );
  });
});

describe("every problem at once", () => {
  it("reports each broken field of one flag, in field order", () => {
    const problems = problemsOf({
      key: "bad key",
      state: "on",
      enabled_for: ["beta"],
      segments: ["a", "a"],
      percentage: 150,
      startTime: "2025-06-01T00:00:00Z",
      endTime: "2025-01-01T00:00:00Z",
      conditions: [
        { attribute: "hour", op: "greater", value: 8 },
        { attr: "country", op: "in", value: [] },
      ],
      variants: { a: { value: 1, weight: 1 }, b: { value: "x", weight: -2 } },
      defaultVariant: "c",
      owner: "",
      expires: "soon",
    });
    expect(problems.map((problem) => problem.path)).toEqual([
      "/enabled_for",
      "/key",
      "/state",
      "/segments/1",
      "/percentage",
      "/endTime",
      "/conditions/0/op",
      "/conditions/1/attr",
      "/conditions/1/attribute",
      "/conditions/1/value",
      "/variants/b/weight",
      "/variants/b/value",
      "/defaultVariant",
      "/owner",
      "/expires",
    ]);
  });

  it("reports every bad item of a list", () => {
    const problems = problemsOf({ ...BASE, segments: [1, "ok", "", null] });
    expect(problems.map((problem) => problem.path)).toEqual(["/segments/0", "/segments/2", "/segments/3"]);
  });

  it("describeProblems writes one line per problem, the flag's own problems without a path", () => {
    const problems = problemsOf({ ...BASE, state: "on", percentage: 101, description: "x".repeat(70_000) });
    expect(describeProblems(problems).split("\n")).toEqual([
      "/description: 70000 characters is too long; use a string of up to 1000 characters",
      '/state: "on" is not a state; use enabled, disabled or partial',
      "/percentage: 101 is out of range; use an integer from 0 to 100",
      "the flag is more than 65536 bytes as JSON; at most 65536 bytes (64 KiB) are accepted",
    ]);
    expect(describeProblems([])).toBe("");
  });

  it("cuts long strings in messages", () => {
    const problems = problemsOf({ ...BASE, state: "x".repeat(500) });
    expect(problems[0]?.message).toBe(`"${"x".repeat(57)}..." is not a state; use enabled, disabled or partial`);
  });
});

describe("the key in the URL", () => {
  it("fills in a body without key", () => {
    expect(flagOf({ state: "enabled" }, { key: "from-url" })).toEqual({ key: "from-url", state: "enabled" });
  });

  it("accepts a body key equal to it", () => {
    expect(flagOf({ key: "same", state: "enabled" }, { key: "same" })).toEqual({ key: "same", state: "enabled" });
  });

  it("refuses a body key that differs, naming both", () => {
    expect(problemsOf({ key: "other", state: "enabled" }, { key: "mine" })).toEqual([
      { path: "/key", message: '"other" differs from the key in the URL, "mine"; leave key out or make them equal' },
    ]);
  });

  it("refuses a URL key that is not a flag key", () => {
    expect(problemsOf({ state: "enabled" }, { key: "a b" })).toEqual([
      { path: "/key", message: `the key in the URL, "a b", is not a flag key; ${KEY_RULE}` },
    ]);
  });

  it("requires key in the body when there is no URL", () => {
    expect(problemsOf({ state: "enabled" })).toEqual([
      { path: "/key", message: `required: the flag's key, ${KEY_RULE.slice("use ".length)}` },
    ]);
  });
});

describe("never throws", () => {
  const settings = { numRuns: 500 };

  it("for arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.option(fc.string(), { nil: undefined }), (input, key) => {
        const result = validateFlag(input, key === undefined ? undefined : { key });
        expect(typeof result.ok).toBe("boolean");
      }),
      settings,
    );
  });

  it("for arbitrary values", () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withDate: true, withMap: true, withNullPrototype: true }),
        (input) => {
          expect(typeof validateFlag(input).ok).toBe("boolean");
        },
      ),
      settings,
    );
  });

  /** Each flag field (and a few unknown ones) set to arbitrary values, so every checker sees junk of every shape. */
  const junkFlag = fc.dictionary(
    fc.constantFrom(
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
      "__proto__",
      "enabled_for",
    ),
    fc.oneof(
      fc.anything(),
      fc.array(
        fc.record({ attribute: fc.anything(), op: fc.constantFrom("eq", "in", "matches", "gt"), value: fc.anything() }),
      ),
      fc.dictionary(fc.string(), fc.record({ value: fc.anything(), weight: fc.anything() })),
    ),
  );

  it("for flags whose fields hold arbitrary values; whatever it accepts, it accepts again unchanged", () => {
    fc.assert(
      fc.property(junkFlag, (input) => {
        const result = validateFlag(input);
        if (result.ok) expect(validateFlag(result.flag)).toEqual(result);
        else expect(result.problems.length).toBeGreaterThan(0);
      }),
      settings,
    );
  });

  it("for hostile JavaScript values", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const shared: unknown[] = [];
    let node: unknown[] = shared;
    for (let depth = 0; depth < 60; depth++) node = [node, node];
    const deep = JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
    const throwing = {
      key: "k",
      get state(): string {
        throw new Error("boom");
      },
    };
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("no keys");
        },
      },
    );
    const hostile: unknown[] = [
      { ...BASE, variants: { a: { value: cyclic, weight: 1 } }, defaultVariant: "a" },
      { ...BASE, variants: { a: { value: node, weight: 1 } }, defaultVariant: "a" },
      { ...BASE, variants: { a: { value: deep, weight: 1 } }, defaultVariant: "a" },
      { ...BASE, segments: deep, conditions: [{ attribute: "a", op: "in", value: deep }] },
      { ...BASE, description: cyclic, extra: cyclic },
      throwing,
      proxy,
      Object.create(null),
      Symbol("x"),
      () => BASE,
      10n,
    ];
    for (const input of hostile) {
      const result = validateFlag(input);
      expect(result.ok).toBe(false);
    }
    expect(problemsOf(throwing)).toEqual([{ path: "", message: "the flag could not be read (boom); send plain JSON" }]);
    expect(problemsOf({ ...BASE, variants: { a: { value: node, weight: 1 } }, defaultVariant: "a" })).toEqual([
      {
        path: expect.stringMatching(/^\/variants\/a\/value(\/[01])+$/),
        message: "the variant values hold more than 65536 values; a flag is at most 64 KiB",
      },
      { path: "", message: "the flag is more than 65536 bytes as JSON; at most 65536 bytes (64 KiB) are accepted" },
    ]);
  });
});
