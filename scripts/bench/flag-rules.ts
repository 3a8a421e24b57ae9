// The benchmark's rules, written once per engine: greenlight flags, Unleash features and flagd flags that decide alike.
import type { EvaluationContext, Flag } from "../../functions/flags/types.ts";

export const SCENARIOS = ["on/off", "20% rollout", "3-condition targeting", "pattern match"] as const;
export type Scenario = (typeof SCENARIOS)[number];
/** The bulk set's rules: "pattern match" is timed on its own, so bulk figures stay comparable across runs. */
const BULK_SCENARIOS = ["on/off", "20% rollout", "3-condition targeting"] as const satisfies readonly Scenario[];

const COUNTRIES = ["NL", "DE", "FR"];
const MIN_VERSION = "2.0.0";
/** Targeting keys ending in 3 or 7: 20% of the benchmark's users (`user-<n>`). */
const KEY_PATTERN = "^user-\\d*[37]$";

/**
 * What each engine evaluates for a scenario, where they differ (the results table says so). flagd's JsonLogic has no
 * regular expression: its nearest equivalent of the pattern is `starts_with` and `ends_with`, which decide alike on
 * the benchmark's keys but do less work.
 */
export const SCENARIO_ENGINES: Partial<Record<Scenario, string>> = {
  "pattern match":
    `greenlight \`matches\` \`${KEY_PATTERN}\` on targetingKey (RE2, re2js); unleash-client \`REGEX\`, same pattern ` +
    'on userId (also re2js); flagd-core `starts_with` "user-" and `ends_with` "3" or "7" (JsonLogic has no regex)',
};

export function greenlightFlag(key: string, scenario: Scenario): Flag {
  switch (scenario) {
    case "on/off":
      return { key, state: "enabled" };
    case "20% rollout":
      return { key, state: "partial", percentage: 20 };
    case "3-condition targeting":
      return {
        key,
        state: "partial",
        conditions: [
          { attribute: "country", op: "in", value: COUNTRIES },
          { attribute: "plan", op: "eq", value: "premium" },
          { attribute: "appVersion", op: "semver_gt", value: MIN_VERSION },
        ],
      };
    case "pattern match":
      return { key, state: "partial", conditions: [{ attribute: "targetingKey", op: "matches", value: KEY_PATTERN }] };
  }
}

/** Unleash's client API format. The rollout hashes `groupId:userId` exactly as greenlight hashes `key:targetingKey`. */
export function unleashFeature(name: string, scenario: Scenario): Record<string, unknown> {
  const strategy = (() => {
    switch (scenario) {
      case "on/off":
        return { name: "default", parameters: {}, constraints: [] };
      case "20% rollout":
        return {
          name: "flexibleRollout",
          parameters: { rollout: "20", stickiness: "userId", groupId: name },
          constraints: [],
        };
      case "3-condition targeting":
        return {
          name: "default",
          parameters: {},
          constraints: [
            { contextName: "country", operator: "IN", values: COUNTRIES },
            { contextName: "plan", operator: "IN", values: ["premium"] },
            { contextName: "appVersion", operator: "SEMVER_GT", value: MIN_VERSION },
          ],
        };
      case "pattern match":
        return {
          name: "default",
          parameters: {},
          constraints: [{ contextName: "userId", operator: "REGEX", value: KEY_PATTERN }],
        };
    }
  })();
  return { name, enabled: true, strategies: [strategy], variants: [] };
}

/** flagd's flag definition format, targeting in JsonLogic (its `fractional` hashes flag key and targetingKey). */
export function flagdFlag(scenario: Scenario): Record<string, unknown> {
  const base = { state: "ENABLED", variants: { on: true, off: false } };
  switch (scenario) {
    case "on/off":
      return { ...base, defaultVariant: "on" };
    case "20% rollout":
      return {
        ...base,
        defaultVariant: "off",
        targeting: {
          fractional: [
            ["on", 20],
            ["off", 80],
          ],
        },
      };
    case "3-condition targeting":
      return {
        ...base,
        defaultVariant: "off",
        targeting: {
          if: [
            {
              and: [
                { in: [{ var: "country" }, COUNTRIES] },
                { "==": [{ var: "plan" }, "premium"] },
                { sem_ver: [{ var: "appVersion" }, ">", MIN_VERSION] },
              ],
            },
            "on",
            "off",
          ],
        },
      };
    case "pattern match": {
      const key = { var: "targetingKey" };
      return {
        ...base,
        defaultVariant: "off",
        targeting: {
          if: [
            {
              and: [{ starts_with: [key, "user-"] }, { or: [{ ends_with: [key, "3"] }, { ends_with: [key, "7"] }] }],
            },
            "on",
            "off",
          ],
        },
      };
    }
  }
}

/** One user as each engine wants it: the same attributes, shaped three ways. */
export interface BenchUser {
  greenlight: EvaluationContext;
  unleash: { userId: string; properties: Record<string, string> };
  flagd: Record<string, string>;
}

export function benchUsers(count: number): BenchUser[] {
  const countries = ["NL", "DE", "FR", "US", "JP"];
  const plans = ["premium", "free"];
  const versions = ["1.9.0", "2.0.0", "2.1.3", "3.0.0-beta.1"];
  return Array.from({ length: count }, (_, i) => {
    const attributes = {
      country: countries[i % countries.length] ?? "NL",
      plan: plans[i % plans.length] ?? "free",
      appVersion: versions[(i >> 1) % versions.length] ?? "2.0.0",
    };
    const id = `user-${i}`;
    return {
      greenlight: { targetingKey: id, ...attributes },
      unleash: { userId: id, properties: attributes },
      flagd: { targetingKey: id, ...attributes },
    };
  });
}

/** The bulk set: `count` flags cycling through the scenarios, named `bulk-<n>`. */
export function bulkScenarios(count: number): Array<{ key: string; scenario: Scenario }> {
  return Array.from({ length: count }, (_, i) => ({
    key: `bulk-${String(i).padStart(2, "0")}`,
    scenario: BULK_SCENARIOS[i % BULK_SCENARIOS.length] ?? "on/off",
  }));
}

/** How many flags a bulk evaluation covers in the benchmark. */
export const BULK_FLAGS = 50;

/** The bulk set as greenlight flags: what the `flags` bench server (serve.ts) serves. */
export function bulkFlags(): Flag[] {
  return bulkScenarios(BULK_FLAGS).map(({ key, scenario }) => greenlightFlag(key, scenario));
}
