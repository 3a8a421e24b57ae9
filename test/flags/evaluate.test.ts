// Every evaluation path and reason: state, window, segments, conditions, split, variants, broken flags, rule sets.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { compileFlag, compileRuleSet, evaluateAll, evaluateFlag, evaluateKey } from "../../functions/flags/evaluate.ts";
import { rolloutBucket, variantBucket } from "../../functions/flags/hash.ts";
import {
  CONDITION_OPS,
  type Condition,
  type EvaluationContext,
  type EvaluationResult,
  type Flag,
  isFailure,
  type JsonValue,
  type RuleSet,
  type Variant,
} from "../../functions/flags/types.ts";

const NOW = Date.UTC(2025, 5, 1, 12);
const evaluate = (flag: Flag, context: EvaluationContext = {}, now = NOW): EvaluationResult =>
  evaluateFlag(compileFlag(flag), context, now);

const on = (key: string, reason: string) => ({ key, value: true, reason, variant: "on" });
const off = (key: string, reason: string) => ({ key, value: false, reason, variant: "off" });

/** Targeting keys whose rollout bucket for `salt` is below (inside) or at/above (outside) `percentage`. */
function usersFor(salt: string, percentage: number): { inside: string; outside: string } {
  let inside: string | undefined;
  let outside: string | undefined;
  for (let user = 0; inside === undefined || outside === undefined; user++) {
    const key = `user-${user}`;
    if (rolloutBucket(salt, key) < percentage) inside ??= key;
    else outside ??= key;
  }
  return { inside, outside };
}

describe("boolean flags", () => {
  it("serves false (DISABLED, off) when disabled, whatever the context", () => {
    const flag: Flag = { key: "payment_feature", state: "disabled", segments: ["all"], percentage: 100 };
    expect(evaluate(flag)).toEqual(off("payment_feature", "DISABLED"));
    expect(evaluate(flag, { targetingKey: "u", segment: "beta" })).toEqual(off("payment_feature", "DISABLED"));
  });

  it("serves true (STATIC, on) when enabled, ignoring targeting", () => {
    const flag: Flag = {
      key: "f",
      state: "enabled",
      segments: ["beta"],
      percentage: 0,
      conditions: [{ attribute: "country", op: "eq", value: "NL" }],
    };
    expect(evaluate(flag)).toEqual(on("f", "STATIC"));
    expect(evaluate(flag, { segment: "internal", country: "US" })).toEqual(on("f", "STATIC"));
  });

  it("serves true (TARGETING_MATCH) for a partial flag whose targeting matches, without a split", () => {
    expect(evaluate({ key: "f", state: "partial" })).toEqual(on("f", "TARGETING_MATCH"));
    expect(evaluate({ key: "f", state: "partial", percentage: 100, segments: [] })).toEqual(on("f", "TARGETING_MATCH"));
  });

  it("has no metadata and hands out frozen results", () => {
    const results = [
      evaluate({ key: "f", state: "disabled" }),
      evaluate({ key: "f", state: "enabled" }),
      evaluate({ key: "f", state: "partial", segments: ["x"] }),
      evaluate({ key: "f", state: "partial", percentage: 50 }),
      evaluate({ key: "f", state: "partial", percentage: 50 }, { targetingKey: "u" }),
      evaluate({ key: "f", state: "bogus" as Flag["state"] }),
    ];
    for (const result of results) {
      expect("metadata" in result).toBe(false);
      expect(Object.isFrozen(result)).toBe(true);
      expect(() => {
        (result as { key: string }).key = "changed";
      }).toThrow(TypeError);
    }
  });

  it("reuses one result object for the context-free answers", () => {
    const compiled = compileFlag({ key: "f", state: "enabled" });
    expect(evaluateFlag(compiled, { targetingKey: "a" }, NOW)).toBe(evaluateFlag(compiled, {}, NOW + 1));
  });
});

describe("guarded rollouts", () => {
  const underRollout: Flag = {
    key: "r",
    state: "partial",
    percentage: 50,
    segments: ["beta"],
    variants: { a: { value: "A", weight: 1 }, b: { value: "B", weight: 1 } },
    defaultVariant: "a",
    rollout: { steps: [10, 50, 100], interval: "1m", variant: "b" },
    rolloutStatus: { phase: "progressing", step: 1, share: 50, since: "2025-06-01T00:00:00Z", plan: "p" },
  };
  const metadata = { rolloutPhase: "progressing", rolloutStep: 2, rolloutSteps: 3, rolloutShare: 50 };

  it("puts where the rollout stands in the metadata of every result the compiled flag serves, and nowhere else", () => {
    const compiled = compileFlag(underRollout);
    const { inside, outside } = usersFor("r", 50);
    const results = [
      evaluateFlag(compiled, { segment: "beta", targetingKey: inside }, NOW),
      evaluateFlag(compiled, { segment: "beta", targetingKey: outside }, NOW),
      evaluateFlag(compiled, { segment: "alpha" }, NOW),
      evaluateFlag(compileFlag({ ...underRollout, state: "disabled" }), {}, NOW),
      evaluateFlag(compileFlag({ ...underRollout, state: "enabled", variants: undefined }), {}, NOW),
    ];
    expect(results.map((result) => isFailure(result) || result.reason)).toEqual([
      "SPLIT",
      "SPLIT",
      "DEFAULT",
      "DISABLED",
      "STATIC",
    ]);
    for (const result of results) {
      expect(isFailure(result) ? undefined : result.metadata).toEqual(metadata);
      expect(Object.isFrozen(result) && Object.isFrozen((result as { metadata: object }).metadata)).toBe(true);
    }
    expect(evaluateFlag(compiled, { segment: "alpha" }, NOW)).toBe(results[2]);
    // None without both a plan and a status, nor on a failure.
    const { rolloutStatus: _status, ...planOnly } = underRollout;
    const { rollout: _plan, ...statusOnly } = underRollout;
    for (const flag of [planOnly, statusOnly]) {
      expect("metadata" in evaluateFlag(compileFlag(flag), { segment: "alpha" }, NOW)).toBe(false);
    }
    const failed = evaluateFlag(compileFlag({ ...underRollout, percentage: 101 }), {}, NOW);
    expect(isFailure(failed) && !("metadata" in failed)).toBe(true);
  });
});

describe("time window", () => {
  const startTime = "2025-06-01T00:00:00Z";
  const endTime = "2025-07-01T00:00:00+02:00";
  const start = Date.UTC(2025, 5, 1);
  const end = Date.UTC(2025, 5, 30, 22);

  it.each([
    ["one ms before the start", start - 1, "DISABLED"],
    ["exactly at the start", start, "STATIC"],
    ["inside", start + 86_400_000, "STATIC"],
    ["one ms before the end", end - 1, "STATIC"],
    ["exactly at the end", end, "DISABLED"],
    ["after the end", end + 1, "DISABLED"],
  ])("%s -> %s", (_, now, reason) => {
    const result = evaluate({ key: "w", state: "enabled", startTime, endTime }, {}, now);
    expect(result).toEqual(reason === "STATIC" ? on("w", "STATIC") : off("w", "DISABLED"));
  });

  it("applies an open-ended window and applies to partial flags too", () => {
    expect(evaluate({ key: "w", state: "enabled", startTime }, {}, start - 1)).toEqual(off("w", "DISABLED"));
    expect(evaluate({ key: "w", state: "enabled", startTime }, {}, start + 10 ** 12)).toEqual(on("w", "STATIC"));
    expect(evaluate({ key: "w", state: "enabled", endTime }, {}, 0)).toEqual(on("w", "STATIC"));
    expect(evaluate({ key: "w", state: "partial", endTime }, {}, end)).toEqual(off("w", "DISABLED"));
    expect(evaluate({ key: "w", state: "partial", endTime }, {}, end - 1)).toEqual(on("w", "TARGETING_MATCH"));
  });

  it("keeps a disabled flag disabled inside its window", () => {
    expect(evaluate({ key: "w", state: "disabled", startTime, endTime }, {}, start)).toEqual(off("w", "DISABLED"));
  });

  it("never opens a window that ends before it starts", () => {
    const flag: Flag = { key: "w", state: "enabled", startTime: endTime, endTime: startTime };
    for (const now of [start - 1, start, end - 1, end, end + 1])
      expect(evaluate(flag, {}, now)).toEqual(off("w", "DISABLED"));
  });
});

describe("segments", () => {
  const flag = (segments: string[]): Flag => ({ key: "s", state: "partial", segments });

  it.each<[string[], EvaluationContext, boolean]>([
    [["internal", "beta"], { segment: "beta" }, true],
    [["internal", "beta"], { segment: "internal" }, true],
    [["internal", "beta"], { segment: "external" }, false],
    [["internal", "beta"], { segment: "Beta" }, false],
    [["internal", "beta"], {}, false],
    [["internal", "beta"], { segment: 7 as unknown as string }, false],
    [["internal", "beta"], { segment: null as unknown as string }, false],
    [["all"], {}, true],
    [["all"], { segment: "anything" }, true],
    [["beta", "all"], { segment: "external" }, true],
    [[], {}, true],
    [["7"], { segment: 7 as unknown as string }, false],
  ])("segments %j with %j -> %s", (segments, context, matches) => {
    expect(evaluate(flag(segments), context)).toEqual(matches ? on("s", "TARGETING_MATCH") : off("s", "DEFAULT"));
  });
});

describe("conditions", () => {
  const flag: Flag = {
    key: "c",
    state: "partial",
    conditions: [
      { attribute: "request_time", op: "gt", value: 8 },
      { attribute: "request_time", op: "lt", value: 20 },
      { attribute: "country", op: "in", value: ["NL", "BE"] },
    ],
  };

  it("needs every condition to hold, two on one attribute included", () => {
    expect(evaluate(flag, { request_time: 12, country: "NL" })).toEqual(on("c", "TARGETING_MATCH"));
    expect(evaluate(flag, { request_time: "12", country: "BE" })).toEqual(on("c", "TARGETING_MATCH"));
    expect(evaluate(flag, { request_time: 7, country: "NL" })).toEqual(off("c", "DEFAULT"));
    expect(evaluate(flag, { request_time: 21, country: "NL" })).toEqual(off("c", "DEFAULT"));
    expect(evaluate(flag, { request_time: 12, country: "US" })).toEqual(off("c", "DEFAULT"));
    expect(evaluate(flag, { country: "NL" })).toEqual(off("c", "DEFAULT"));
  });

  it("tests segments and conditions before the split, so a targeting miss needs no targetingKey", () => {
    const split: Flag = { ...flag, segments: ["beta"], percentage: 50 };
    expect(evaluate(split, { segment: "beta", request_time: 3, country: "NL" })).toEqual(off("c", "DEFAULT"));
    expect(evaluate(split, { segment: "other", request_time: 12, country: "NL" })).toEqual(off("c", "DEFAULT"));
    const missing = evaluate(split, { segment: "beta", request_time: 12, country: "NL" });
    expect(isFailure(missing) && missing.errorCode).toBe("TARGETING_KEY_MISSING");
  });
});

describe("percentage split", () => {
  const flag: Flag = { key: "ramp", state: "partial", percentage: 30 };
  const { inside, outside } = usersFor("ramp", 30);

  it("serves true (SPLIT, on) inside and false (SPLIT, off) outside", () => {
    expect(evaluate(flag, { targetingKey: inside })).toEqual(on("ramp", "SPLIT"));
    expect(evaluate(flag, { targetingKey: outside })).toEqual(off("ramp", "SPLIT"));
  });

  it("follows the rollout bucket of salt:targetingKey for many users", () => {
    const compiled = compileFlag(flag);
    for (let user = 0; user < 500; user++) {
      const targetingKey = `u${user}@example.com`;
      const result = evaluateFlag(compiled, { targetingKey }, NOW);
      expect(result).toEqual(rolloutBucket("ramp", targetingKey) < 30 ? on("ramp", "SPLIT") : off("ramp", "SPLIT"));
    }
  });

  it("hashes with the salt instead of the key when there is one", () => {
    const salted: Flag = { ...flag, salt: "shared-salt" };
    const users = usersFor("shared-salt", 30);
    expect(evaluate(salted, { targetingKey: users.inside })).toEqual(on("ramp", "SPLIT"));
    expect(evaluate(salted, { targetingKey: users.outside })).toEqual(off("ramp", "SPLIT"));
  });

  it("serves nobody at 0% and everybody at 100%", () => {
    for (let user = 0; user < 300; user++) {
      expect(evaluate({ key: "z", state: "partial", percentage: 0 }, { targetingKey: `${user}` })).toEqual(
        off("z", "SPLIT"),
      );
      expect(evaluate({ key: "z", state: "partial", percentage: 100 }, { targetingKey: `${user}` })).toEqual(
        on("z", "TARGETING_MATCH"),
      );
    }
  });

  it.each<[string, EvaluationContext]>([
    ["no targetingKey", {}],
    ["an empty targetingKey", { targetingKey: "" }],
    ["a numeric targetingKey", { targetingKey: 42 as unknown as string }],
    ["a null targetingKey", { targetingKey: null as unknown as string }],
  ])("fails with TARGETING_KEY_MISSING for %s", (_, context) => {
    const result = evaluate(flag, context);
    expect(result).toEqual({ key: "ramp", errorCode: "TARGETING_KEY_MISSING", errorDetails: expect.any(String) });
    expect(isFailure(result) && result.errorDetails).toMatch(/flag ramp .*targetingKey/);
  });

  it("fails with TARGETING_KEY_MISSING at 0% too: every split needs a key", () => {
    const result = evaluate({ key: "z", state: "partial", percentage: 0 });
    expect(isFailure(result) && result.errorCode).toBe("TARGETING_KEY_MISSING");
  });
});

describe("variants", () => {
  const colours: Record<string, Variant> = {
    red: { value: { hex: "#f00", rgb: [255, 0, 0] }, weight: 0 },
    green: { value: { hex: "#0f0", rgb: [0, 255, 0] }, weight: 1 },
    blue: { value: { hex: "#00f", rgb: [0, 0, 255] }, weight: 0 },
  };
  const single: Flag = { key: "colour", state: "enabled", variants: colours, defaultVariant: "red" };
  const served = (variant: string, reason: string) => ({
    key: "colour",
    value: colours[variant]!.value,
    reason,
    variant,
  });

  it("serves the one weighted variant with the reason of the path taken", () => {
    expect(evaluate(single)).toEqual(served("green", "STATIC"));
    expect(evaluate({ ...single, state: "partial" })).toEqual(served("green", "TARGETING_MATCH"));
    const { inside, outside } = usersFor("colour", 40);
    expect(evaluate({ ...single, state: "partial", percentage: 40 }, { targetingKey: inside })).toEqual(
      served("green", "SPLIT"),
    );
    expect(evaluate({ ...single, state: "partial", percentage: 40 }, { targetingKey: outside })).toEqual(
      served("red", "SPLIT"),
    );
  });

  it("serves the default variant, by name, whenever the flag is off", () => {
    expect(evaluate({ ...single, state: "disabled" })).toEqual(served("red", "DISABLED"));
    expect(evaluate({ ...single, endTime: "2020-01-01T00:00:00Z" })).toEqual(served("red", "DISABLED"));
    expect(evaluate({ ...single, state: "partial", segments: ["beta"] })).toEqual(served("red", "DEFAULT"));
  });

  it("needs no targetingKey for a single weighted variant", () => {
    expect(evaluate({ ...single, state: "partial" }, {})).toEqual(served("green", "TARGETING_MATCH"));
  });

  const ab: Flag = {
    key: "checkout",
    state: "enabled",
    variants: {
      control: { value: "old", weight: 50 },
      treatment: { value: "new", weight: 30 },
      holdout: { value: "none", weight: 0 },
      extra: { value: "x", weight: 20 },
    },
    defaultVariant: "control",
  };
  // Written from the rule, not from the evaluator: weighted variants in sorted name order, first cumulative > bucket.
  const expectedVariant = (targetingKey: string): string => {
    const order = [
      ["extra", 20],
      ["control", 50],
      ["treatment", 30],
    ].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)) as [string, number][];
    let bucket = variantBucket("checkout", targetingKey, 100);
    for (const [name, weight] of order) {
      if (bucket < weight) return name;
      bucket -= weight;
    }
    throw new Error("unreachable");
  };

  it("picks one of several weighted variants by the variant bucket, in name order (SPLIT)", () => {
    const compiled = compileFlag(ab);
    const seen = new Set<string>();
    for (let user = 0; user < 400; user++) {
      const targetingKey = `user-${user}`;
      const result = evaluateFlag(compiled, { targetingKey }, NOW);
      const variant = expectedVariant(targetingKey);
      seen.add(variant);
      expect(result).toEqual({ key: "checkout", value: ab.variants![variant]!.value, reason: "SPLIT", variant });
    }
    expect(seen).toEqual(new Set(["control", "treatment", "extra"]));
  });

  it("does not depend on the order the variants were written in", () => {
    const reversed: Flag = { ...ab, variants: Object.fromEntries(Object.entries(ab.variants!).reverse()) };
    for (let user = 0; user < 200; user++) {
      const context = { targetingKey: `user-${user}` };
      expect(evaluate(reversed, context)).toEqual(evaluate(ab, context));
    }
  });

  it("shares users out by weight and never serves a zero-weight variant", () => {
    const compiled = compileFlag(ab);
    const counts = new Map<string, number>();
    const users = 20_000;
    for (let user = 0; user < users; user++) {
      const result = evaluateFlag(compiled, { targetingKey: `${user}` }, NOW);
      if (isFailure(result)) throw new Error(result.errorDetails);
      counts.set(result.variant, (counts.get(result.variant) ?? 0) + 1);
    }
    expect(counts.get("holdout")).toBeUndefined();
    expect(Math.abs(counts.get("control")! / users - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(counts.get("treatment")! / users - 0.3)).toBeLessThan(0.02);
    expect(Math.abs(counts.get("extra")! / users - 0.2)).toBeLessThan(0.02);
  });

  it("fails with TARGETING_KEY_MISSING when several variants are weighted and there is no key", () => {
    for (const context of [{}, { targetingKey: "" }]) {
      const result = evaluate(ab, context);
      expect(result).toEqual({ key: "checkout", errorCode: "TARGETING_KEY_MISSING", errorDetails: expect.any(String) });
      expect(isFailure(result) && result.errorDetails).toMatch(/variants.*targetingKey/);
    }
  });

  it("rolls out first, then picks a variant among the users inside", () => {
    const ramp: Flag = { ...ab, state: "partial", percentage: 25 };
    for (let user = 0; user < 300; user++) {
      const targetingKey = `user-${user}`;
      const result = evaluate(ramp, { targetingKey });
      if (rolloutBucket("checkout", targetingKey) < 25) {
        expect(result).toMatchObject({ reason: "SPLIT", variant: expectedVariant(targetingKey) });
      } else {
        expect(result).toEqual({ key: "checkout", value: "old", reason: "SPLIT", variant: "control" });
      }
    }
  });

  it("serves a deep copy of the value, frozen, and leaves the definition alone", () => {
    const definition: Flag = {
      key: "cfg",
      state: "enabled",
      variants: { only: { value: { limits: { rps: 10 }, tags: ["a"] }, weight: 1 } },
      defaultVariant: "only",
    };
    const result = evaluate(definition);
    if (isFailure(result)) throw new Error(result.errorDetails);
    const value = result.value as { limits: { rps: number }; tags: string[] };
    expect(value).toEqual({ limits: { rps: 10 }, tags: ["a"] });
    expect(() => {
      value.limits.rps = 11;
    }).toThrow(TypeError);
    expect(() => value.tags.push("b")).toThrow(TypeError);
    expect(Object.isFrozen(definition.variants!.only!.value)).toBe(false);
    (definition.variants!.only!.value as { limits: { rps: number } }).limits.rps = 99;
    expect(value.limits.rps).toBe(10);
  });

  it("keeps a variant value's __proto__ key as data", () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "plain": 1}') as JsonValue;
    const result = evaluate({ key: "p", state: "enabled", variants: { v: { value, weight: 1 } }, defaultVariant: "v" });
    if (isFailure(result)) throw new Error(result.errorDetails);
    expect(Object.getPrototypeOf(result.value)).toBe(Object.prototype);
    expect(Object.keys(result.value as object)).toEqual(["__proto__", "plain"]);
  });

  // The Unleash client specification's variant cases (08-variants.json): the same users get the same variants.
  it("agrees with the Unleash client specification's variant cases", () => {
    const require = createRequire(import.meta.url);
    const path = require.resolve("@unleash/client-specification/specifications/08-variants.json");
    const spec = JSON.parse(readFileSync(path, "utf8")) as {
      state: { features: { name: string; variants?: { name: string; weight: number; overrides?: unknown }[] }[] };
      variantTests: { toggleName: string; context: { userId?: string }; expectedResult: { name: string } }[];
    };
    let checked = 0;
    for (const test of spec.variantTests) {
      const feature = spec.state.features.find((candidate) => candidate.name === test.toggleName);
      const variants = feature?.variants ?? [];
      if (!["B", "C", "D"].some((name) => test.toggleName === `Feature.Variants.${name}`)) continue;
      const flag: Flag = {
        key: test.toggleName,
        state: "enabled",
        variants: Object.fromEntries(
          variants.map((variant) => [variant.name, { value: variant.name, weight: variant.weight }]),
        ),
        defaultVariant: variants[0]!.name,
      };
      expect(evaluate(flag, { targetingKey: test.context.userId! })).toMatchObject({
        variant: test.expectedResult.name,
      });
      checked++;
    }
    expect(checked).toBe(8);
  });
});

describe("flags that cannot be evaluated", () => {
  const base: Flag = { key: "broken", state: "partial" };
  it.each<[string, unknown, RegExp]>([
    [
      "a bad regex",
      {
        ...base,
        conditions: [
          { attribute: "a", op: "eq", value: 1 },
          { attribute: "a", op: "matches", value: "(" },
        ],
      },
      /conditions\[1\]\.value: "\(" does not compile as RE2 syntax: missing closing \)/,
    ],
    [
      "an unknown op",
      { ...base, conditions: [{ attribute: "a", op: "between", value: 1 }] },
      /conditions\[0\]\.op: "between" is not one of/,
    ],
    [
      "a bad semver",
      { ...base, conditions: [{ attribute: "v", op: "semver_gt", value: "1.x" }] },
      /conditions\[0\]\.value: semver_gt takes a semantic version/,
    ],
    [
      "a condition that is not an object",
      { ...base, conditions: ["a eq 1"] },
      /conditions\[0\]: a condition is an object/,
    ],
    ["conditions that are not a list", { ...base, conditions: { a: 1 } }, /conditions: must be a list/],
    ["a bad startTime", { ...base, startTime: "next week" }, /startTime: must be an ISO 8601 date-time.*"next week"/],
    ["an endTime without offset", { ...base, endTime: "2025-01-01T00:00:00" }, /endTime: must be an ISO 8601/],
    ["an unknown state", { ...base, state: "on" }, /state: must be enabled, disabled or partial, got "on"/],
    ["a percentage above 100", { ...base, percentage: 150 }, /percentage: must be an integer from 0 to 100, got 150/],
    [
      "a fractional percentage",
      { ...base, percentage: 12.5 },
      /percentage: must be an integer from 0 to 100, got 12.5/,
    ],
    ["a string percentage", { ...base, percentage: "50" }, /percentage: must be an integer from 0 to 100, got "50"/],
    ["a numeric salt", { ...base, salt: 7 }, /salt: must be a string, got 7/],
    ["segments that are not a list", { ...base, segments: "beta" }, /segments: must be a list of strings/],
    ["a segment that is not a string", { ...base, segments: ["beta", 3] }, /segments\[1\]: must be a string, got 3/],
    [
      "variants without defaultVariant",
      { ...base, variants: { a: { value: 1, weight: 1 } } },
      /defaultVariant: is required with variants: one of a/,
    ],
    [
      "an unknown defaultVariant",
      { ...base, variants: { a: { value: 1, weight: 1 } }, defaultVariant: "b" },
      /defaultVariant: must be one of a, got "b"/,
    ],
    [
      "no weighted variant",
      { ...base, variants: { a: { value: 1, weight: 0 } }, defaultVariant: "a" },
      /variants: at least one variant needs a weight above 0/,
    ],
    [
      "a negative weight",
      { ...base, variants: { a: { value: 1, weight: -1 } }, defaultVariant: "a" },
      /variants\.a\.weight: must be a non-negative integer, got -1/,
    ],
    [
      "a fractional weight",
      { ...base, variants: { a: { value: 1, weight: 0.5 } }, defaultVariant: "a" },
      /variants\.a\.weight: must be a non-negative integer/,
    ],
    [
      "a variant without value",
      { ...base, variants: { a: { weight: 1 } }, defaultVariant: "a" },
      /variants\.a: must be an object \{value, weight\}/,
    ],
    [
      "a non-JSON value",
      { ...base, variants: { a: { value: [Number.NaN], weight: 1 } }, defaultVariant: "a" },
      /variants\.a\.value\[0\]: must be a JSON value/,
    ],
    ["empty variants", { ...base, variants: {}, defaultVariant: "a" }, /variants: must name at least one variant/],
    [
      "variants that are a list",
      { ...base, variants: [{ value: 1, weight: 1 }], defaultVariant: "0" },
      /variants: must be an object/,
    ],
  ])("fails with GENERAL for %s", (_, flag, why) => {
    const compiled = compileFlag(flag as Flag);
    for (const context of [{}, { targetingKey: "u", segment: "beta", a: 1 }]) {
      const result = evaluateFlag(compiled, context, NOW);
      expect(result).toEqual({ key: "broken", errorCode: "GENERAL", errorDetails: expect.any(String) });
      const details = isFailure(result) ? result.errorDetails : "";
      expect(details.startsWith("flag broken cannot be evaluated: ")).toBe(true);
      expect(details).toMatch(why);
      expect(Object.isFrozen(result)).toBe(true);
    }
  });

  it("fails even when the broken flag is disabled (the definition is wrong either way)", () => {
    const result = evaluate({ key: "broken", state: "disabled", startTime: "soon" });
    expect(isFailure(result) && result.errorCode).toBe("GENERAL");
  });

  it.each<[string, unknown, string]>([
    ["null", null, "null"],
    ["a string", "flag", "flag"],
    ["a flag without key", { state: "enabled" }, "undefined"],
    ["a flag with a numeric key", { key: 5, state: "enabled" }, "5"],
  ])("compiles %s without throwing", (_, flag, key) => {
    const result = evaluateFlag(compileFlag(flag as Flag), {}, NOW);
    expect(result).toMatchObject({ key, errorCode: "GENERAL" });
  });
});

describe("rule sets", () => {
  const stored = (flag: Flag, revision = 1) => ({
    flag,
    revision,
    updatedAt: "2025-06-01T00:00:00Z",
    updatedBy: "test",
  });
  const ruleSet: RuleSet = {
    version: 7,
    flags: {
      zeta: stored({ key: "zeta", state: "enabled" }),
      alpha: stored({ key: "alpha", state: "disabled" }),
      Mid: stored({ key: "Mid", state: "partial", conditions: [{ attribute: "a", op: "matches", value: "[" }] }),
      moved: stored({ key: "elsewhere", state: "enabled" }),
      beta: stored({ key: "beta", state: "partial", segments: ["beta"] }),
    },
  };
  const set = compileRuleSet(ruleSet);

  it("keeps the version and sorts the keys", () => {
    expect(set.version).toBe(7);
    expect(set.keys).toEqual(["Mid", "alpha", "beta", "moved", "zeta"]);
    expect([...set.flags.keys()].sort()).toEqual(set.keys);
  });

  it("evaluates one key, and FLAG_NOT_FOUND for a missing one", () => {
    expect(evaluateKey(set, "zeta", {}, NOW)).toEqual(on("zeta", "STATIC"));
    expect(evaluateKey(set, "beta", { segment: "beta" }, NOW)).toEqual(on("beta", "TARGETING_MATCH"));
    const missing = evaluateKey(set, "nope", {}, NOW);
    expect(missing).toEqual({
      key: "nope",
      errorCode: "FLAG_NOT_FOUND",
      errorDetails: expect.stringContaining("nope"),
    });
  });

  it("evaluates every flag in key order, a broken one failing alone", () => {
    const results = evaluateAll(set, { segment: "beta" }, NOW);
    expect(results.map((result) => result.key)).toEqual(set.keys);
    expect(results[0]).toMatchObject({ key: "Mid", errorCode: "GENERAL" });
    expect(results[1]).toEqual(off("alpha", "DISABLED"));
    expect(results[2]).toEqual(on("beta", "TARGETING_MATCH"));
    expect(results[4]).toEqual(on("zeta", "STATIC"));
  });

  it("fails a flag stored under another key than its own", () => {
    const result = evaluateKey(set, "moved", {}, NOW);
    expect(result).toEqual({
      key: "moved",
      errorCode: "GENERAL",
      errorDetails: 'flag moved cannot be evaluated: it is stored under "moved" but its key is "elsewhere"',
    });
  });

  it("compiles an empty rule set and junk entries without throwing", () => {
    expect(evaluateAll(compileRuleSet({ version: 0, flags: {} }), {}, NOW)).toEqual([]);
    const junk = compileRuleSet({ version: 1, flags: { a: null, b: { revision: 1 } } } as unknown as RuleSet);
    expect(evaluateAll(junk, {}, NOW).map((result) => isFailure(result) && result.errorCode)).toEqual([
      "GENERAL",
      "GENERAL",
    ]);
  });
});

describe("the seed's example flags", () => {
  const flags: Flag[] = [
    {
      key: "new_recommendation_engine",
      state: "partial",
      segments: ["internal", "beta"],
      percentage: 50,
      conditions: [
        { attribute: "request_time", op: "gt", value: 8 },
        { attribute: "request_time", op: "lt", value: 20 },
      ],
    },
    { key: "new_ui_interface", state: "partial", segments: ["all"], percentage: 20 },
    { key: "payment_feature", state: "disabled" },
  ];
  const set = compileRuleSet({
    version: 3,
    flags: Object.fromEntries(flags.map((flag) => [flag.key, { flag, revision: 1, updatedAt: "", updatedBy: "seed" }])),
  });
  const engine = "new_recommendation_engine";

  it("turns the recommendation engine on for half the internal and beta users between 8 and 20 h", () => {
    const { inside, outside } = usersFor(engine, 50);
    expect(evaluateKey(set, engine, { targetingKey: inside, segment: "beta", request_time: 12 }, NOW)).toEqual(
      on(engine, "SPLIT"),
    );
    expect(evaluateKey(set, engine, { targetingKey: outside, segment: "internal", request_time: 12 }, NOW)).toEqual(
      off(engine, "SPLIT"),
    );
    for (const requestTime of [7, 8, 20, 21]) {
      expect(
        evaluateKey(set, engine, { targetingKey: inside, segment: "beta", request_time: requestTime }, NOW),
      ).toEqual(off(engine, "DEFAULT"));
    }
    expect(evaluateKey(set, engine, { targetingKey: inside, segment: "public", request_time: 12 }, NOW)).toEqual(
      off(engine, "DEFAULT"),
    );
  });

  it("rolls the new UI out to about a fifth of everybody, with or without a segment", () => {
    let served = 0;
    for (let user = 0; user < 5000; user++) {
      const result = evaluateKey(set, "new_ui_interface", { targetingKey: `visitor-${user}` }, NOW);
      if (!isFailure(result) && result.value === true) served++;
    }
    expect(Math.abs(served / 5000 - 0.2)).toBeLessThan(0.02);
  });

  it("keeps payments off", () => {
    expect(evaluateKey(set, "payment_feature", { targetingKey: "u", segment: "internal" }, NOW)).toEqual(
      off("payment_feature", "DISABLED"),
    );
  });

  it("answers all three in key order", () => {
    const results = evaluateAll(set, { targetingKey: "u", segment: "beta", request_time: 3 }, NOW);
    expect(results.map((result) => result.key)).toEqual([engine, "new_ui_interface", "payment_feature"]);
  });
});

describe("properties", () => {
  const condition: fc.Arbitrary<Condition> = fc.record({
    attribute: fc.constantFrom("request_time", "country", "version", "targetingKey", "segment"),
    op: fc.constantFrom(...CONDITION_OPS),
    value: fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.array(fc.oneof(fc.string(), fc.integer())),
      fc.constantFrom("1.2.3", "2025-01-01T00:00:00Z", "^a", "("),
    ),
  });
  const instant = fc.constantFrom(undefined, "2025-01-01T00:00:00Z", "2025-06-01T12:00:00Z", "2026-01-01", "bad");
  const variants = fc.dictionary(
    fc.string({ minLength: 1, maxLength: 6 }),
    fc.record({ value: fc.jsonValue({ maxDepth: 2 }), weight: fc.integer({ min: 0, max: 5 }) }),
    { minKeys: 1, maxKeys: 4 },
  );
  const flag: fc.Arbitrary<Flag> = fc
    .record(
      {
        key: fc.constantFrom("f1", "f2", "f3"),
        state: fc.constantFrom("enabled", "disabled", "partial", "partial", "partial") as fc.Arbitrary<Flag["state"]>,
        segments: fc.array(fc.constantFrom("all", "beta", "internal"), { maxLength: 3 }),
        percentage: fc.integer({ min: 0, max: 100 }),
        salt: fc.string({ maxLength: 8 }),
        startTime: instant,
        endTime: instant,
        conditions: fc.array(condition, { maxLength: 3 }),
        variants,
      },
      { requiredKeys: ["key", "state"] },
    )
    .chain((base) =>
      base.variants === undefined
        ? fc.constant(base as Flag)
        : fc.constantFrom(...Object.keys(base.variants)).map((defaultVariant) => ({ ...base, defaultVariant }) as Flag),
    );
  const context = fc.dictionary(
    fc.constantFrom("targetingKey", "segment", "request_time", "country", "version", "other"),
    fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.string(),
      fc.constantFrom("beta", "internal", "12", "1.2.4", Number.NaN),
    ),
  ) as fc.Arbitrary<EvaluationContext>;
  const now = fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2027, 0, 1) });

  it("never throws and answers deterministically, for any flag and any JSON context", () => {
    fc.assert(
      fc.property(flag, context, now, (definition, ctx, at) => {
        const result = evaluate(definition, ctx, at);
        expect(Object.isFrozen(result)).toBe(true);
        expect(evaluate(structuredClone(definition), structuredClone(ctx), at)).toEqual(result);
        if (isFailure(result)) {
          expect(["GENERAL", "TARGETING_KEY_MISSING"]).toContain(result.errorCode);
        } else {
          expect(["STATIC", "DISABLED", "DEFAULT", "SPLIT", "TARGETING_MATCH"]).toContain(result.reason);
          if (definition.variants === undefined) expect(result.value).toBe(result.variant === "on");
          else expect(Object.keys(definition.variants)).toContain(result.variant);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("never throws for anything at all in place of a flag", () => {
    fc.assert(
      fc.property(fc.anything(), context, (junk, ctx) => {
        const result = evaluate(junk as Flag, ctx);
        expect(typeof result.key).toBe("string");
      }),
      { numRuns: 1000 },
    );
  });

  it("evaluateAll equals evaluateKey for each key", () => {
    fc.assert(
      fc.property(fc.array(flag, { maxLength: 4 }), context, now, (definitions, ctx, at) => {
        const flags = Object.fromEntries(
          definitions.map((definition) => [
            definition.key,
            { flag: definition, revision: 1, updatedAt: "", updatedBy: "" },
          ]),
        );
        const set = compileRuleSet({ version: 1, flags });
        expect(evaluateAll(set, ctx, at)).toEqual(set.keys.map((key) => evaluateKey(set, key, ctx, at)));
      }),
      { numRuns: 500 },
    );
  });
});

describe("evaluation without a given time", () => {
  const stored = (flag: Flag) => ({ flag, revision: 1, updatedAt: "2026-01-01T00:00:00Z", updatedBy: "t" });

  it("reads the clock only for flags with a time window", () => {
    const set = compileRuleSet({
      version: 1,
      flags: {
        always: stored({ key: "always", state: "enabled" }),
        launch: stored({ key: "launch", state: "enabled", startTime: "2030-01-01T00:00:00Z" }),
      },
    });
    const clock = vi.spyOn(Date, "now");
    try {
      expect(evaluateKey(set, "always", {})).toMatchObject({ value: true, reason: "STATIC" });
      expect(clock).not.toHaveBeenCalled();
      clock.mockReturnValue(Date.parse("2029-12-31T23:59:59Z"));
      expect(evaluateKey(set, "launch", {})).toMatchObject({ value: false, reason: "DISABLED" });
      clock.mockReturnValue(Date.parse("2030-01-01T00:00:00Z"));
      expect(evaluateKey(set, "launch", {})).toMatchObject({ value: true, reason: "STATIC" });
      expect(clock).toHaveBeenCalledTimes(2);
      // A given time wins over the clock.
      expect(evaluateKey(set, "launch", {}, Date.parse("2020-01-01T00:00:00Z"))).toMatchObject({ value: false });
    } finally {
      clock.mockRestore();
    }
  });
});
