// Percentage splits at scale: shares, stickiness, independence between flags, shared salts, monotonic ramp-up.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { type CompiledFlag, compileFlag, evaluateFlag } from "../../functions/flags/evaluate.ts";
import { rolloutBucket } from "../../functions/flags/hash.ts";
import { type EvaluationContext, type Flag, isFailure } from "../../functions/flags/types.ts";

const NOW = Date.UTC(2025, 5, 1);
const USERS = 100_000;
const keys = Array.from({ length: USERS }, (_, index) => `user-${index.toString(36)}-${(index * 7919) % 10007}`);

const ramp = (key: string, percentage: number, salt?: string): CompiledFlag =>
  compileFlag({ key, state: "partial", percentage, ...(salt === undefined ? {} : { salt }) });

function isOn(flag: CompiledFlag, targetingKey: string): boolean {
  const result = evaluateFlag(flag, { targetingKey }, NOW);
  if (isFailure(result)) throw new Error(result.errorDetails);
  return result.value === true;
}

/** The users the flag serves, as one boolean per entry of `keys`. */
const served = (flag: CompiledFlag): boolean[] => keys.map((key) => isOn(flag, key));
const share = (selection: boolean[]): number => selection.filter(Boolean).length / selection.length;

describe("percentage split", () => {
  it("serves 20% of 100,000 distinct users, within 1%", () => {
    expect(new Set(keys).size).toBe(USERS);
    expect(Math.abs(share(served(ramp("new_ui_interface", 20))) - 0.2)).toBeLessThan(0.01);
  });

  it.each([1, 5, 33, 50, 75, 99])("serves %i%% within 1%%", (percentage) => {
    expect(Math.abs(share(served(ramp(`flag-${percentage}`, percentage))) - percentage / 100)).toBeLessThan(0.01);
  });

  it("fills every bucket about evenly", () => {
    const counts = new Array<number>(100).fill(0);
    for (const key of keys) counts[rolloutBucket("uniformity", key)]!++;
    // 1,000 expected per bucket, standard deviation about 31.
    for (const count of counts) expect(Math.abs(count - USERS / 100)).toBeLessThan(200);
  });

  it("is sticky: the same user gets the same answer every time, from a fresh compilation too", () => {
    const first = ramp("sticky", 37);
    const second = ramp("sticky", 37);
    const context: EvaluationContext = { targetingKey: "" };
    for (const key of keys.slice(0, 20_000)) {
      context.targetingKey = key;
      const answer = evaluateFlag(first, context, NOW);
      expect(evaluateFlag(first, context, NOW + 3_600_000)).toBe(answer);
      expect(evaluateFlag(second, { targetingKey: key, segment: "x", other: 1 }, NOW)).toEqual(answer);
    }
  });

  it("picks independent users for flags with different keys: 25% of users are in both at 50%", () => {
    const a = served(ramp("checkout-redesign", 50));
    const b = served(ramp("search-ranking-v2", 50));
    expect(Math.abs(share(a) - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(share(b) - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(share(a.map((inA, index) => inA && b[index]!)) - 0.25)).toBeLessThan(0.015);
  });

  it("picks the same users for flags that share a salt", () => {
    const a = served(ramp("mobile-nav", 30, "q3-launch"));
    const b = served(ramp("mobile-footer", 30, "q3-launch"));
    expect(b).toEqual(a);
    expect(Math.abs(share(a) - 0.3)).toBeLessThan(0.01);
    // Without the shared salt the same two flags choose differently.
    expect(served(ramp("mobile-footer", 30))).not.toEqual(a);
  });

  it("only adds users when ramping up: everybody in at 10% is still in at 20%", () => {
    const at10 = served(ramp("ramp-up", 10));
    const at20 = served(ramp("ramp-up", 20));
    at10.forEach((inside, index) => {
      if (inside) expect(at20[index], keys[index]).toBe(true);
    });
    expect(share(at20)).toBeGreaterThan(share(at10));
    for (const [lower, higher] of [
      [0, 1],
      [1, 50],
      [50, 99],
      [99, 100],
    ] as const) {
      const low = ramp("ramp-up", lower);
      const high = ramp("ramp-up", higher);
      for (const key of keys.slice(0, 10_000)) if (isOn(low, key)) expect(isOn(high, key)).toBe(true);
    }
  });

  // The Unleash client specification's gradual rollout cases: a user in (or out) there is in (or out) here.
  it.each(["03-gradual-rollout-user-id-strategy.json", "10-flexible-rollout-strategy.json"])(
    "agrees with the Unleash client specification (%s)",
    (file) => {
      const require = createRequire(import.meta.url);
      const spec = JSON.parse(
        readFileSync(require.resolve(`@unleash/client-specification/specifications/${file}`), "utf8"),
      ) as {
        state: { features: { name: string; strategies: { name: string; parameters?: Record<string, string> }[] }[] };
        tests: { toggleName: string; context: { userId?: string }; expectedResult: boolean }[];
      };
      let checked = 0;
      for (const test of spec.tests) {
        const feature = spec.state.features.find((candidate) => candidate.name === test.toggleName)!;
        const strategy = feature.strategies[0];
        const parameters = strategy?.parameters ?? {};
        const percentage = Number(parameters.percentage ?? parameters.rollout);
        const sticky = parameters.stickiness === undefined || ["default", "userId"].includes(parameters.stickiness);
        // Only single-strategy cases keyed by userId carry over (ours has no session id or random stickiness).
        if (feature.strategies.length !== 1 || !sticky || test.context.userId === undefined || !(percentage < 100))
          continue;
        const flag: Flag = { key: test.toggleName, state: "partial", percentage, salt: parameters.groupId! };
        expect(isOn(compileFlag(flag), test.context.userId), test.toggleName).toBe(test.expectedResult);
        checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(3);
    },
  );
});
