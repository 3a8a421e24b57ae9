// A flag's rollout plan and status in validateFlag and docs/flag.schema.json: every field checked, each problem at
// its JSON Pointer saying what is accepted, and the schema agreeing on what it can express.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { decideRollout } from "../../functions/flags/rollout/plan.ts";
import type { Flag } from "../../functions/flags/types.ts";
import { validateFlag } from "../../functions/flags/validate.ts";

const schema = JSON.parse(readFileSync(new URL("../../docs/flag.schema.json", import.meta.url), "utf8")) as object;
const ajv = new Ajv2020.default({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats.default(ajv);
const schemaAccepts = ajv.compile(schema);

const booleanFlag = (rollout: unknown, extra: Record<string, unknown> = {}) => ({
  key: "new-checkout",
  state: "partial",
  rollout,
  ...extra,
});
const variantFlag = (rollout: unknown) => ({
  key: "layout",
  state: "enabled",
  variants: { old: { value: "old", weight: 100 }, next: { value: "next", weight: 0 } },
  defaultVariant: "old",
  rollout,
});

describe("valid plans", () => {
  const full = {
    steps: [5, 25, 50, 100],
    interval: "2m30s",
    floor: 1,
    checks: [
      { builtin: "error-rate" },
      { name: "checkout-errors", query: 'sum(x{flag="{{key}}",v="{{variant}}"})', max: 0.1 },
    ],
    judge: { alpha: 0.05, tolerance: 0.01, latencyTolerance: 0.1 },
    minRequests: 100,
  };
  it.each([
    ["the smallest boolean plan", booleanFlag({ steps: [100], interval: "1m" })],
    ["every field", booleanFlag(full)],
    ["a variant plan", variantFlag({ steps: [10, 100], interval: "5m", variant: "next" })],
    [
      "a plan with the status the stepper wrote",
      decideRollout(booleanFlag({ steps: [10, 100], interval: "1m" }) as Flag, new Date()).next,
    ],
  ])("%s passes both", (_name, input) => {
    const result = validateFlag(input);
    expect(result.ok ? [] : result.problems).toEqual([]);
    expect(schemaAccepts(input), JSON.stringify(schemaAccepts.errors)).toBe(true);
    if (result.ok) expect(result.flag).toEqual(input);
  });
});

describe("invalid plans: one problem at its pointer, saying what is accepted", () => {
  it.each([
    ["steps missing", booleanFlag({ interval: "1m" }), "/rollout/steps", "required: use 1 to 20 integer percentages"],
    [
      "steps not increasing",
      booleanFlag({ steps: [10, 10, 100], interval: "1m" }),
      "/rollout/steps/1",
      "10 does not increase on 10",
    ],
    [
      "steps not ending at 100",
      booleanFlag({ steps: [10, 50], interval: "1m" }),
      "/rollout/steps/1",
      "the last step is 50, not 100",
    ],
    ["a step of 0", booleanFlag({ steps: [0, 100], interval: "1m" }), "/rollout/steps/0", "0 is not a step"],
    [
      "an interval of 0s",
      booleanFlag({ steps: [100], interval: "0s" }),
      "/rollout/interval",
      "at least 1s in s, m or h",
    ],
    [
      "floor at the first step",
      booleanFlag({ steps: [10, 100], interval: "1m", floor: 10 }),
      "/rollout/floor",
      "not below the first step (10)",
    ],
    [
      "an unknown field",
      booleanFlag({ steps: [100], interval: "1m", pace: 2 }),
      "/rollout/pace",
      "unknown field; accepted: steps, interval",
    ],
    [
      "a misspelt field",
      booleanFlag({ steps: [100], interval: "1m", min_requests: 100 }),
      "/rollout/min_requests",
      'unknown field; did you mean "minRequests"? (accepted: steps, interval',
    ],
    [
      "a variant on a boolean flag",
      booleanFlag({ steps: [100], interval: "1m", variant: "blue" }),
      "/rollout/variant",
      'steps its "on" side',
    ],
    [
      "an enabled boolean flag",
      booleanFlag({ steps: [100], interval: "1m" }, { state: "enabled" }),
      "/rollout",
      'set state to "partial"',
    ],
    [
      "no variant with variants",
      variantFlag({ steps: [100], interval: "1m" }),
      "/rollout/variant",
      'required with variants: use the name of the new variant, one of "next"',
    ],
    [
      "the defaultVariant",
      variantFlag({ steps: [100], interval: "1m", variant: "old" }),
      "/rollout/variant",
      "the defaultVariant is what users outside",
    ],
    [
      "an unknown builtin",
      booleanFlag({ steps: [100], interval: "1m", checks: [{ builtin: "p99" }] }),
      "/rollout/checks/0/builtin",
      '"p99" is not a builtin check',
    ],
    [
      "a check listed twice",
      booleanFlag({ steps: [100], interval: "1m", checks: [{ builtin: "latency" }, { builtin: "latency" }] }),
      "/rollout/checks/1",
      "list each check once",
    ],
    [
      "a custom check with both bounds",
      booleanFlag({ steps: [100], interval: "1m", checks: [{ name: "c", query: "q", max: 1, min: 0 }] }),
      "/rollout/checks/0",
      "set exactly one of max and min",
    ],
    [
      "an unknown template variable",
      booleanFlag({ steps: [100], interval: "1m", checks: [{ name: "c", query: "q{{namespace}}", max: 1 }] }),
      "/rollout/checks/0/query",
      "unknown template variable {{namespace}}",
    ],
    [
      "alpha too high",
      booleanFlag({ steps: [100], interval: "1m", judge: { alpha: 0.5 } }),
      "/rollout/judge/alpha",
      "above 0 and at most 0.2",
    ],
    [
      "latency tolerance of one half",
      booleanFlag({ steps: [100], interval: "1m", judge: { latencyTolerance: 0.5 } }),
      "/rollout/judge/latencyTolerance",
      "below 0.5",
    ],
    [
      "minRequests negative",
      booleanFlag({ steps: [100], interval: "1m", minRequests: -1 }),
      "/rollout/minRequests",
      "an integer from 0 to 1000000000",
    ],
    [
      "a status without a plan",
      { key: "k", state: "partial", rolloutStatus: { phase: "paused" } },
      "/rolloutStatus",
      "without a rollout plan",
    ],
    [
      "a status in an unknown phase",
      booleanFlag(
        { steps: [100], interval: "1m" },
        { rolloutStatus: { phase: "done", step: 0, share: 0, since: "x", plan: "y" } },
      ),
      "/rolloutStatus/phase",
      "accepted: progressing, paused, rolled-back, completed, aborted",
    ],
  ])("%s", (_name, input, path, fragment) => {
    const result = validateFlag(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]?.path).toBe(path);
    expect(result.problems[0]?.message).toContain(fragment);
  });

  it.each([
    ["steps not ending at 100 (schema: only the range)", booleanFlag({ steps: [0, 100], interval: "1m" })],
    ["an unknown field", booleanFlag({ steps: [100], interval: "1m", pace: 2 })],
    ["both bounds", booleanFlag({ steps: [100], interval: "1m", checks: [{ name: "c", query: "q", max: 1, min: 0 }] })],
    ["alpha too high", booleanFlag({ steps: [100], interval: "1m", judge: { alpha: 0.5 } })],
  ])("the schema refuses %s too", (_name, input) => {
    expect(schemaAccepts(input)).toBe(false);
  });
});
