// The comparison scenario as simulator timelines (issue 16, section 3): 50 requests a second, 1-minute
// intervals, steps 10/20/50/100, a stable version failing 0.5% of requests with a p99 of 100 ms, and a canary that is
// the same (A/A), fails four times as often, or is slower. `judgeScenario(seed, variant, judge)` builds one; the
// bench (scripts/bench/judge.ts) and the tests run them with either judge.
import { NO_FAULTS } from "./cluster.ts";
import type { ScrapeSettings } from "./metrics-store.ts";
import type { RevisionProfile, Scenario } from "./scenario.ts";

export type JudgeKind = "threshold" | "compare";

/** What the canary does differently from the stable version. */
export type CanaryVariant = "same" | "errors-4x" | "slower-1.5x" | "p99-tail-1.5x";

export const STABLE_ERROR_RATE = 0.005;
export const STABLE_P50_MS = 40;
export const STABLE_P99_MS = 100;
export const RPS = 50;
export const STEPS = "10,20,50,100";
/** A timeline's default length: long enough for the slower judge to finish in nearly every run. */
export const SCENARIO_MINUTES = 90;
/** Every 15 s, on time, none missed: the scenario measures the judges, not scrape faults. */
export const SCENARIO_SCRAPE: ScrapeSettings = { intervalSeconds: 15, lagSeconds: 0, missProbability: 0, outages: [] };

export const stableProfile = (): RevisionProfile => ({
  startupSeconds: 5,
  crashLoop: false,
  errorRate: [[0, STABLE_ERROR_RATE]],
  latencyP50Ms: [[0, STABLE_P50_MS]],
  latencyP99Ms: [[0, STABLE_P99_MS]],
});

export function canaryProfile(variant: CanaryVariant): RevisionProfile {
  const profile = stableProfile();
  switch (variant) {
    case "same":
      return profile;
    case "errors-4x":
      return { ...profile, errorRate: [[0, 4 * STABLE_ERROR_RATE]] };
    case "slower-1.5x":
      // Every request 1.5 times as slow: p50 and p99 both +50%.
      return { ...profile, latencyP50Ms: [[0, 1.5 * STABLE_P50_MS]], latencyP99Ms: [[0, 1.5 * STABLE_P99_MS]] };
    case "p99-tail-1.5x":
      // Only the tail: p99 +50% with the median unchanged.
      return { ...profile, latencyP99Ms: [[0, 1.5 * STABLE_P99_MS]] };
  }
}

/** One timeline of the scenario. */
export function judgeScenario(
  seed: number,
  variant: CanaryVariant,
  judge: JudgeKind,
  minutes = SCENARIO_MINUTES,
): Scenario {
  return {
    seed,
    minutes,
    tickSeconds: 10,
    passSeconds: 60,
    annotations: {
      strategy: "canary",
      "virtual-service": "myapp",
      steps: STEPS,
      interval: "60s",
      ...(judge === "compare" ? { judge: "compare" } : {}),
    },
    replicas: 2,
    maxSurge: "25%",
    maxUnavailable: "25%",
    progressDeadlineSeconds: 600,
    rps: RPS,
    headerShare: 0,
    stable: stableProfile(),
    canary: canaryProfile(variant),
    scrape: SCENARIO_SCRAPE,
    faults: NO_FAULTS,
    concurrentStepper: false,
    actions: [],
    blueGreen: false,
    rolling: false,
  };
}
