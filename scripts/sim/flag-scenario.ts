// The comparison scenario as a guarded flag rollout (issue 16, section 3, flag half): the canary scenario of
// judge-scenario.ts (50 requests a second, 1-minute intervals, steps 10/20/50/100, control failing 0.5% of requests
// with a p99 of 100 ms, and a treatment that is the same, fails four times as often, or is slower) for a boolean
// flag whose `on` side is the new behaviour. `flagScenario(seed, variant, judge)` builds one timeline's input for
// flag-world.ts.
//
// The two judges: `compare` is the plan's default checks (the builtin error-rate and latency comparisons of section
// 1, at their default levels). A flag plan has no threshold judge of its own; its counterpart is a plan of custom
// checks holding the treatment to the canary's default ceilings (error rate at most 1%, p99 at most 1000 ms), which
// is what a user would write to get the threshold behaviour. Unlike the canary's threshold (2 failed analyses), a
// custom check beyond its bound rolls the flag back at once.
import { DEFAULT_ROLLOUT_METRICS } from "../../functions/flags/rollout/queries.ts";
import type { Flag, RolloutCheck } from "../../functions/flags/types.ts";
import {
  type CanaryVariant,
  canaryProfile,
  type JudgeKind,
  RPS,
  SCENARIO_MINUTES,
  SCENARIO_SCRAPE,
  STEPS,
  stableProfile,
} from "./judge-scenario.ts";
import type { TrafficProfile } from "./mesh.ts";
import type { ScrapeSettings } from "./metrics-store.ts";
import { type RevisionProfile, valueAt } from "./scenario.ts";

export const FLAG_KEY = "new-checkout";
/** A boolean flag's treatment and control variants (functions/flags/evaluate.ts names them so). */
export const TREATMENT = "on";
export const CONTROL = "off";
/** The canary's threshold defaults (greenlight.dev/max-error-rate, max-latency-p99), as custom checks. */
export const THRESHOLD_MAX_ERROR_RATE = 0.01;
export const THRESHOLD_MAX_P99_SECONDS = 1;

export interface FlagScenario {
  seed: number;
  /** Virtual minutes from the first pass to the end of the timeline. */
  minutes: number;
  tickSeconds: number;
  /** The scheduled pass's period. */
  passSeconds: number;
  rps: number;
  /** The flag as stored before the first pass (with its plan, no status yet). */
  flag: Flag;
  treatment: TrafficProfile;
  control: TrafficProfile;
  scrape: ScrapeSettings;
}

const at0 = (profile: RevisionProfile): TrafficProfile => ({
  errorRate: valueAt(profile.errorRate, 0),
  latencyP50Ms: valueAt(profile.latencyP50Ms, 0),
  latencyP99Ms: valueAt(profile.latencyP99Ms, 0),
});

/** The threshold counterpart: the treatment's own error rate and p99 over the window, against fixed ceilings. */
export function thresholdChecks(): RolloutCheck[] {
  const m = DEFAULT_ROLLOUT_METRICS;
  const selector = `${m.keyLabel}="{{key}}",${m.variantLabel}="{{variant}}"`;
  return [
    {
      name: "error-rate-max",
      query:
        `(sum(increase(${m.requests}{${selector},${m.errorSelector}}[{{interval}}])) or vector(0)) / ` +
        `sum(increase(${m.requests}{${selector}}[{{interval}}]))`,
      max: THRESHOLD_MAX_ERROR_RATE,
    },
    {
      name: "latency-p99-max",
      query: `histogram_quantile(0.99, sum by (le) (rate(${m.buckets}{${selector}}[{{interval}}])))`,
      max: THRESHOLD_MAX_P99_SECONDS,
    },
  ];
}

export function scenarioFlag(judge: JudgeKind): Flag {
  return {
    key: FLAG_KEY,
    state: "partial",
    percentage: 0,
    rollout: {
      steps: STEPS.split(",").map(Number),
      interval: "1m",
      ...(judge === "threshold" ? { checks: thresholdChecks() } : {}),
    },
  };
}

/** One timeline of the scenario. */
export function flagScenario(
  seed: number,
  variant: CanaryVariant,
  judge: JudgeKind,
  minutes = SCENARIO_MINUTES,
): FlagScenario {
  return {
    seed,
    minutes,
    tickSeconds: 10,
    passSeconds: 60,
    rps: RPS,
    flag: scenarioFlag(judge),
    treatment: at0(canaryProfile(variant)),
    control: at0(stableProfile()),
    scrape: SCENARIO_SCRAPE,
  };
}
