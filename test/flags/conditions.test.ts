// Every condition op (match, miss, missing attribute, wrong type, coercion), compile errors, semver and date-times.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConditionError, compileCondition, MATCH_LIMIT } from "../../functions/flags/conditions.ts";
import { parseInstant } from "../../functions/flags/date-time.ts";
import { compareSemver, parseSemver } from "../../functions/flags/semver.ts";
import {
  CONDITION_OPS,
  type Condition,
  type ConditionOp,
  type EvaluationContext,
} from "../../functions/flags/types.ts";

const MISSING = Symbol("missing");
type Attribute = unknown;

/** Whether `attribute op value` holds for a context whose attribute `a` is `attribute` (MISSING: no such key). */
function holds(op: ConditionOp, value: Condition["value"], attribute: Attribute): boolean {
  const test = compileCondition({ attribute: "a", op, value });
  const context: EvaluationContext = attribute === MISSING ? {} : { a: attribute };
  return test(context);
}

type Row = [ConditionOp, Condition["value"], Attribute, boolean];
const rows = (op: ConditionOp, value: Condition["value"], cases: [Attribute, boolean][]): Row[] =>
  cases.map(([attribute, expected]) => [op, value, attribute, expected]);

// Attributes no op accepts: absent, null, and values that are not a string, a finite number or a boolean.
const UNUSABLE: Attribute[] = [MISSING, null, undefined, {}, { a: 1 }, [], ["8"], Number.NaN, Number.POSITIVE_INFINITY];

const EQUALITY: Row[] = [
  ...rows("eq", 8, [
    [8, true],
    [8.0, true],
    ["8", true],
    ["8.0", true],
    ["08", true],
    ["+8", true],
    ["8e0", true],
    [9, false],
    ["9", false],
    ["8px", false],
    [" 8", false],
    ["0x8", false],
    ["", false],
    [true, false],
  ]),
  ...rows("eq", "8", [
    ["8", true],
    [8, true],
    ["8.0", false],
    [8.5, false],
  ]),
  ...rows("eq", "8.0", [
    [8, false], // a number matches a string value by its canonical form ("8") only
    ["8.0", true],
  ]),
  ...rows("eq", 1.5, [
    ["1.5", true],
    ["1.50", true],
    [1.5, true],
  ]),
  ...rows("eq", "beta", [
    ["beta", true],
    ["Beta", false],
    ["beta ", false],
    [0, false],
    [false, false],
  ]),
  ...rows("eq", true, [
    [true, true],
    ["true", true],
    [false, false],
    ["false", false],
    ["True", false],
    [1, false],
    ["1", false],
  ]),
  ...rows("eq", false, [
    [false, true],
    ["false", true],
    [0, false],
    ["", false],
  ]),
  ...rows("eq", "true", [
    [true, true],
    ["true", true],
    [false, false],
  ]),
  ...rows("neq", 8, [
    [9, true],
    ["9", true],
    ["abc", true],
    [false, true],
    [8, false],
    ["8", false],
    ["8.0", false],
  ]),
  ...rows("neq", "beta", [
    ["alpha", true],
    ["beta", false],
  ]),
  ...rows("neq", true, [
    [false, true],
    ["false", true],
    [true, false],
    ["true", false],
  ]),
  ...rows(
    "in",
    ["internal", "beta", 3, true],
    [
      ["internal", true],
      ["beta", true],
      [3, true],
      ["3", true],
      ["3.0", true],
      [true, true],
      ["true", true],
      ["external", false],
      [4, false],
      [false, false],
      ["Beta", false],
    ],
  ),
  ...rows(
    "in",
    [],
    [
      ["anything", false],
      [0, false],
    ],
  ),
  ...rows(
    "not_in",
    ["internal", "beta", 3],
    [
      ["external", true],
      [4, true],
      [true, true],
      ["internal", false],
      [3, false],
      ["3", false],
    ],
  ),
  ...rows("not_in", [], [["anything", true]]),
];

const ORDERING: Row[] = [
  ...rows("gt", 8, [
    [9, true],
    [8.5, true],
    ["9", true],
    ["1e1", true],
    [8, false],
    ["8", false],
    [7, false],
    [-9, false],
    ["nine", false],
    ["", false],
    [true, false],
    ["2025-03-01T00:00:00Z", false],
  ]),
  ...rows("gte", 8, [
    [8, true],
    ["8.0", true],
    [9, true],
    [7.99, false],
  ]),
  ...rows("lt", 8, [
    [7, true],
    ["-1", true],
    [8, false],
    ["9", false],
    [false, false],
  ]),
  ...rows("lte", 8, [
    [8, true],
    ["8", true],
    [8.01, false],
  ]),
  ...rows("gt", "2025-03-01T00:00:00Z", [
    ["2025-03-01T00:00:01Z", true],
    ["2025-03-01T00:00:00.001Z", true],
    ["2025-03-01T01:00:01+01:00", true],
    ["2026-01-01", true],
    ["2025-03-01T00:00:00Z", false],
    ["2025-03-01T01:00:00+01:00", false], // the same instant
    ["2025-02-28T23:59:59Z", false],
    ["2025-03-01T00:00:01", false], // no offset: not an instant
    [1_800_000_000_000, false], // epoch numbers are not date-times
    ["tomorrow", false],
    [8, false],
  ]),
  ...rows("gte", "2025-03-01T00:00:00Z", [
    ["2025-03-01T01:00:00+01:00", true],
    ["2025-02-28T19:00:00-05:00", true],
    ["2025-02-28T18:59:59-05:00", false],
  ]),
  ...rows("lt", "2025-03-01T00:00:00+02:00", [
    ["2025-02-28T21:59:59Z", true],
    ["2025-02-28T22:00:00Z", false],
  ]),
  ...rows("lte", "2025-03-01", [
    ["2025-03-01T00:00:00Z", true],
    ["2025-03-01T00:00:00.001Z", false],
  ]),
];

const TEXT: Row[] = [
  ...rows("contains", "ab", [
    ["xaby", true],
    ["ab", true],
    ["xAby", false],
    ["a b", false],
    [12, false],
    [true, false],
  ]),
  ...rows(
    "contains",
    ["@example.com", "@example.org"],
    [
      ["ann@example.org", true],
      ["ann@example.net", false],
    ],
  ),
  ...rows("starts_with", "user-", [
    ["user-1", true],
    ["User-1", false],
    ["a user-1", false],
    [1, false],
  ]),
  ...rows(
    "starts_with",
    ["a", "b"],
    [
      ["bob", true],
      ["carl", false],
    ],
  ),
  ...rows("ends_with", ".internal", [
    ["db.internal", true],
    ["db.internal.com", false],
    [false, false],
  ]),
  ...rows(
    "ends_with",
    ["x", "y"],
    [
      ["boy", true],
      ["bot", false],
    ],
  ),
  ...rows("matches", "^user-\\d+$", [
    ["user-12", true],
    ["user-x", false],
    ["USER-12", false],
    [12, false],
  ]),
  ...rows("matches", "beta", [
    ["a beta tester", true],
    ["Beta", false], // no flags: case sensitive
  ]),
  ...rows("matches", "(?i)^beta", [
    ["Beta tester", true], // (?i): RE2's way to ignore case
    ["BETA", true],
    ["a beta", false],
  ]),
  ...rows("matches", "^(a|aa)+$", [
    ["aaaa", true],
    ["aaa!", false],
    ["", false],
  ]),
  ...rows("matches", "^\\pL+\\z", [
    ["Ünïcödé", true], // Unicode classes, and \z for the very end
    ["ab1", false],
  ]),
  ...rows("matches", "^.$", [["😀", true]]), // `.` is one code point, not one UTF-16 unit
];

const SEMVER: Row[] = [
  ...rows("semver_eq", "1.2.2", [
    ["1.2.2", true],
    ["v1.2.2", true],
    ["1.2.2+build.7", true],
    ["1.2.3", false],
    ["1.2.2-rc.1", false],
    ["1.2", false],
    ["latest", false],
    [122, false],
  ]),
  ...rows("semver_gt", "1.2.2", [
    ["1.2.3", true],
    ["1.10.0", true],
    ["1.2.2", false],
    ["1.2.3-beta", true],
    ["1.2.2-beta", false],
    ["1.2", false],
  ]),
  ...rows("semver_lt", "2.0.0-alpha.3", [
    ["2.0.0-alpha.1", true],
    ["1.9.1-beta.1", true],
    ["2.0.0-alpha.4", false],
    ["2.0.0-beta.1", false],
    ["2.0.0", false],
  ]),
  ...rows("semver_gt", "2.0.0-rc.1", [
    ["2.0.0", true],
    ["2.0.0-beta.1", false],
    ["2.0.0-rc.1+build", false],
  ]),
];

describe("compileCondition", () => {
  it.each([...EQUALITY, ...ORDERING, ...TEXT, ...SEMVER])(
    "%s %j against %j -> %s",
    (op, value, attribute, expected) => {
      expect(holds(op, value, attribute)).toBe(expected);
    },
  );

  // One valid value per op: a missing or unusable attribute fails every one of them, neq and not_in included.
  const VALID: Record<ConditionOp, Condition["value"]> = {
    eq: "x",
    neq: "x",
    gt: 1,
    gte: 1,
    lt: 1,
    lte: 1,
    in: ["x", 1],
    not_in: ["x", 1],
    contains: "x",
    starts_with: "x",
    ends_with: "x",
    matches: ".*",
    semver_eq: "1.0.0",
    semver_gt: "1.0.0",
    semver_lt: "1.0.0",
  };

  it.each(CONDITION_OPS)("%s fails for a missing or unusable attribute", (op) => {
    for (const attribute of UNUSABLE) expect(holds(op, VALID[op], attribute), String(attribute)).toBe(false);
  });

  it("reads inherited names as missing, not as the object's prototype", () => {
    for (const attribute of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(compileCondition({ attribute, op: "neq", value: "x" })({})).toBe(false);
      expect(compileCondition({ attribute, op: "not_in", value: ["x"] })({})).toBe(false);
    }
  });

  it("treats targetingKey and segment as attributes", () => {
    const context = { targetingKey: "user-7", segment: "beta" };
    expect(compileCondition({ attribute: "targetingKey", op: "ends_with", value: "-7" })(context)).toBe(true);
    expect(compileCondition({ attribute: "segment", op: "in", value: ["beta", "internal"] })(context)).toBe(true);
    expect(compileCondition({ attribute: "segment", op: "eq", value: "internal" })(context)).toBe(false);
  });

  it("fails matches for an attribute longer than MATCH_LIMIT, rather than matching a cut", () => {
    expect(holds("matches", "^a+$", "a".repeat(MATCH_LIMIT))).toBe(true);
    // Cut to its first MATCH_LIMIT characters, this text would end in an "a" and match.
    expect(holds("matches", "^a+$", `${"a".repeat(MATCH_LIMIT)}!`)).toBe(false);
    expect(holds("matches", "^a", "a".repeat(MATCH_LIMIT + 1))).toBe(false);
  });

  it("matches a pattern that backtracking would take forever on, in linear time", () => {
    // A backtracking engine tries about 1.6^n ways to split n a's before giving up on the "!": over 10^200 at the
    // input cap, which never finishes, so a regression hangs here until vitest's timeout fails the test.
    const text = `${"a".repeat(MATCH_LIMIT - 1)}!`;
    expect(holds("matches", "^(a|aa)+$", text)).toBe(false);
    expect(holds("matches", "^(x+x+)+y$", "x".repeat(MATCH_LIMIT))).toBe(false);
  });

  it("compiles a regular expression once and keeps no state between tests", () => {
    const test = compileCondition({ attribute: "a", op: "matches", value: "^x" });
    for (let round = 0; round < 3; round++) {
      expect(test({ a: "xy" })).toBe(true);
      expect(test({ a: "yx" })).toBe(false);
    }
  });

  it("lets two conditions on one attribute both count", () => {
    const conditions = [
      compileCondition({ attribute: "request_time", op: "gt", value: 8 }),
      compileCondition({ attribute: "request_time", op: "lt", value: 20 }),
    ];
    const all = (requestTime: unknown) => conditions.every((test) => test({ request_time: requestTime }));
    expect(all(7)).toBe(false);
    expect(all(21)).toBe(false);
    expect(all(12)).toBe(true);
    expect(all("12")).toBe(true);
  });

  it.each<[string, unknown, string, RegExp]>([
    ["an unknown op", { attribute: "a", op: "between", value: 1 }, "op", /"between" is not one of eq, neq, gt/],
    ["a bad pattern", { attribute: "a", op: "matches", value: "(" }, "value", /"\(" does not compile as RE2 syntax/],
    ["a backreference", { attribute: "a", op: "matches", value: "(a)\\1" }, "value", /backreferences are not/],
    ["a lookahead", { attribute: "a", op: "matches", value: "(?=a)" }, "value", /lookahead and lookbehind are not/],
    [
      "a non-string pattern",
      { attribute: "a", op: "matches", value: 1 },
      "value",
      /matches takes an RE2 regular expression/,
    ],
    ["a bad semantic version", { attribute: "a", op: "semver_gt", value: "1.2" }, "value", /semantic version.*"1\.2"/],
    ["a numeric semver", { attribute: "a", op: "semver_eq", value: 1 }, "value", /semantic version/],
    ["a text bound for gt", { attribute: "a", op: "gt", value: "abc" }, "value", /gt takes a finite number or an ISO/],
    ["a date-time without offset", { attribute: "a", op: "lt", value: "2025-03-01T00:00:00" }, "value", /lt takes/],
    ["a boolean bound", { attribute: "a", op: "gte", value: true }, "value", /gte takes a finite number/],
    ["a list for eq", { attribute: "a", op: "eq", value: ["x"] }, "value", /for a list use in \/ not_in/],
    ["a scalar for in", { attribute: "a", op: "in", value: "x" }, "value", /in takes a list/],
    ["an object in a list", { attribute: "a", op: "not_in", value: ["x", {}] }, "value[1]", /not_in takes strings/],
    ["a number to contain", { attribute: "a", op: "contains", value: 1 }, "value", /contains takes a string/],
    ["a number in a list", { attribute: "a", op: "ends_with", value: ["x", 2] }, "value[1]", /ends_with takes a str/],
    ["an empty attribute", { attribute: "", op: "eq", value: 1 }, "attribute", /non-empty string/],
    ["a missing attribute", { op: "eq", value: 1 }, "attribute", /non-empty string/],
    ["not an object", null, "", /a condition is an object/],
    ["a bigint", { attribute: "a", op: "eq", value: 10n }, "value", /got 10$/],
    ["a function", { attribute: "a", op: "in", value: () => 1 }, "value", /in takes a list/],
  ])("refuses %s", (_, condition, field, message) => {
    let thrown: unknown;
    try {
      compileCondition(condition as Condition);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConditionError);
    expect((thrown as ConditionError).field).toBe(field);
    expect((thrown as ConditionError).message).toMatch(message);
    if (field !== "") expect((thrown as ConditionError).message.startsWith(`${field}: `)).toBe(true);
  });

  it("never throws at evaluation, whatever the context holds", () => {
    const attributeValue = fc.oneof(
      fc.jsonValue(),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, undefined, -0, "1e999", "2025-02-30T00:00:00Z"),
      fc.string(),
      fc.double(),
    );
    const conditionValue = (op: ConditionOp): fc.Arbitrary<Condition["value"]> => {
      const primitive = fc.oneof(fc.string(), fc.integer(), fc.boolean());
      switch (op) {
        case "in":
        case "not_in":
          return fc.array(primitive);
        case "gt":
        case "gte":
        case "lt":
        case "lte":
          return fc.oneof(
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc
              .date({
                noInvalidDate: true,
                min: new Date("0000-01-01T00:00:00Z"),
                max: new Date("9999-12-31T23:59:59Z"),
              })
              .map((date) => date.toISOString()),
          );
        case "contains":
        case "starts_with":
        case "ends_with":
          return fc.oneof(fc.string(), fc.array(fc.string()));
        case "matches":
          return fc.constantFrom("^a", "b+$", "(x|y)z", ".*");
        case "semver_eq":
        case "semver_gt":
        case "semver_lt":
          return fc.constantFrom("1.0.0", "2.0.0-rc.1", "v0.1.2+meta");
        default:
          return primitive;
      }
    };
    const condition = fc
      .constantFrom(...CONDITION_OPS)
      .chain((op) => conditionValue(op).map((value): Condition => ({ attribute: "a", op, value })));
    fc.assert(
      fc.property(
        condition,
        fc.dictionary(fc.constantFrom("a", "b", "targetingKey"), attributeValue),
        (spec, context) => {
          const result = compileCondition(spec)(context);
          expect(typeof result).toBe("boolean");
          expect(compileCondition(spec)(context)).toBe(result);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("semver", () => {
  // semver.org 2.0.0, item 11: each version ranks below the next.
  const ORDERED = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
    "10.0.0",
  ];

  it("decides every semver condition by the version it is given, whatever the conditions evaluated before read", () => {
    // The conditions share a one-entry memo of the last parsed attribute: interleaving texts, invalid ones and
    // several bounds must decide exactly as parsing afresh each time does.
    const texts = fc.constantFrom(...ORDERED, "v2.1.0", "2.1", "", "1.0.0-", "10.0.0+build.1");
    const ops = fc.constantFrom("semver_eq" as const, "semver_gt" as const, "semver_lt" as const);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(ops, fc.constantFrom(...ORDERED), texts), { minLength: 1, maxLength: 20 }),
        (steps) => {
          for (const [op, bound, text] of steps) {
            const parsed = parseSemver(text);
            const order = parsed === undefined ? undefined : compareSemver(parsed, parseSemver(bound)!);
            const wanted = op === "semver_eq" ? 0 : op === "semver_gt" ? 1 : -1;
            expect(compileCondition({ attribute: "v", op, value: bound })({ v: text }), `${text} ${op} ${bound}`).toBe(
              order === wanted,
            );
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("ranks semver.org's precedence examples in order, both ways round", () => {
    ORDERED.forEach((left, i) => {
      ORDERED.forEach((right, j) => {
        const a = parseSemver(left)!;
        const b = parseSemver(right)!;
        expect(compareSemver(a, b), `${left} vs ${right}`).toBe(Math.sign(i - j));
      });
    });
  });

  it("ignores build metadata and accepts a leading v", () => {
    expect(compareSemver(parseSemver("1.0.0+20130313144700")!, parseSemver("1.0.0+exp.sha.5114f85")!)).toBe(0);
    expect(compareSemver(parseSemver("v1.0.0-beta+exp")!, parseSemver("1.0.0-beta")!)).toBe(0);
  });

  it("parses the parts", () => {
    expect(parseSemver("v1.22.333-rc.4.x-y+build.5")).toEqual({
      major: 1,
      minor: 22,
      patch: 333,
      prerelease: ["rc", 4, "x-y"],
      build: ["build", "5"],
    });
    expect(parseSemver("0.0.0")).toEqual({ major: 0, minor: 0, patch: 0, prerelease: [], build: [] });
  });

  it("compares numeric identifiers as numbers and below alphanumeric ones", () => {
    expect(compareSemver(parseSemver("1.0.0-2")!, parseSemver("1.0.0-10")!)).toBe(-1);
    expect(compareSemver(parseSemver("1.0.0-10")!, parseSemver("1.0.0-a")!)).toBe(-1);
    expect(compareSemver(parseSemver("1.0.0-B")!, parseSemver("1.0.0-a")!)).toBe(-1); // ASCII order
    expect(compareSemver(parseSemver("1.0.0-1a")!, parseSemver("1.0.0-1")!)).toBe(1);
  });

  it.each([
    "",
    "1",
    "1.2",
    "1.2.3.4",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "1.2.3-01",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-a..b",
    " 1.2.3",
    "1.2.3 ",
    "V1.2.3",
    "vv1.2.3",
    "1.2.3-β",
    "9007199254740992.0.0",
    "1.0.0-9007199254740992",
  ])("refuses %j", (text) => {
    expect(parseSemver(text)).toBeUndefined();
  });
});

describe("parseInstant", () => {
  it.each([
    ["2025-03-01T00:00:00Z", Date.UTC(2025, 2, 1)],
    ["2025-03-01t00:00:00z", Date.UTC(2025, 2, 1)],
    ["2025-03-01T01:30:00+01:30", Date.UTC(2025, 2, 1)],
    ["2025-02-28T19:00:00-05:00", Date.UTC(2025, 2, 1)],
    ["2025-03-01T12:34Z", Date.UTC(2025, 2, 1, 12, 34)],
    ["2025-03-01T12:34:56.789Z", Date.UTC(2025, 2, 1, 12, 34, 56, 789)],
    ["2025-03-01", Date.UTC(2025, 2, 1)],
    ["2024-02-29", Date.UTC(2024, 1, 29)],
    ["2000-02-29T23:59:59Z", Date.UTC(2000, 1, 29, 23, 59, 59)],
    ["0099-01-01T00:00:00Z", new Date("0099-01-01T00:00:00Z").getTime()],
    ["1969-12-31T23:59:59Z", -1000],
  ])("reads %s", (text, expected) => {
    expect(parseInstant(text)).toBe(expected);
  });

  it.each([
    "2025-03-01T00:00:00",
    "2025-03-01 00:00:00Z",
    "2025-02-29",
    "1900-02-29",
    "2025-13-01",
    "2025-00-10",
    "2025-04-31",
    "2025-03-01T24:00:00Z",
    "2025-03-01T23:60:00Z",
    "2025-03-01T23:59:60Z",
    "2025-03-01T00:00:00+24:00",
    "2025-03-01T00:00:00+0100",
    "25-03-01",
    "March 1, 2025",
    "1740787200000",
    "",
  ])("refuses %j", (text) => {
    expect(parseInstant(text)).toBeUndefined();
  });

  it("refuses what is not a string", () => {
    for (const value of [1740787200000, null, undefined, {}, new Date()]) expect(parseInstant(value)).toBeUndefined();
  });

  it("reads back what Date#toISOString writes", () => {
    fc.assert(
      fc.property(fc.date({ min: new Date("0000-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z") }), (date) => {
        if (Number.isNaN(date.getTime())) return;
        expect(parseInstant(date.toISOString())).toBe(date.getTime());
      }),
      { numRuns: 2000 },
    );
  });
});
