// The flag demo's two speeds and its two rollouts, apart from flag-run.ts so that the command line loads without them.
/*
 * Sizes: the judge (functions/judge/) needs a few hundred treatment requests to tell a 1% error rate from an 8% one
 * with its default false-alarm level, so each app gets 300-400 requests a second and the first step is 20%. Its
 * tolerances are widened from the canary defaults (0.5% error-rate difference, 0.05 on P(slower)), which need tens of
 * thousands of requests, to 2% and 0.1: at that size an equal variant passes in a few windows, and a variant failing
 * eight times as often is rolled back after two or three.
 */
import type { RolloutPlan } from "../../functions/flags/types.ts";
import type { AppBehaviour } from "./app.ts";

export interface FlagDemoProfile {
  name: "full" | "fast";
  /** Requests per second to each scenario's app. */
  rps: number;
  /** The plan's interval, in seconds: the window each judgement reads. */
  intervalSeconds: number;
  steps: number[];
  /** Time between two passes of the stepper (it judges a flag once an interval has passed). */
  tickMs: number;
}

export const FLAG_PROFILES = {
  full: { name: "full", rps: 300, intervalSeconds: 4, steps: [20, 50, 100], tickMs: 500 },
  fast: { name: "fast", rps: 400, intervalSeconds: 3, steps: [20, 50, 100], tickMs: 250 },
} as const satisfies Record<string, FlagDemoProfile>;

/** How the app answers, by variant: the treatment is the flag's `on`, the control its `off`. */
export type VariantBehaviour = Omit<AppBehaviour, "version">;

/** Both variants: 1% of requests fail, 5 to 30 ms each. */
export const CONTROL: VariantBehaviour = { errorRate: 0.01, slowRate: 0, latencyMs: [5, 30], slowMs: [0, 0] };
/** The bad new variant: as fast, but 8% of its requests fail. */
export const FAILING: VariantBehaviour = { ...CONTROL, errorRate: 0.08 };

export interface FlagScenario {
  name: "equal" | "failing";
  /** The demo's flag (a boolean flag: `on` is the new variant). */
  key: string;
  label: string;
  treatment: VariantBehaviour;
  expected: "completed" | "rolled-back";
}

export const FLAG_SCENARIOS: readonly FlagScenario[] = [
  {
    name: "equal",
    key: "demo-checkout-equal",
    label: "on fails 1%, as off",
    treatment: CONTROL,
    expected: "completed",
  },
  {
    name: "failing",
    key: "demo-checkout-failing",
    label: "on fails 8%, off 1%",
    treatment: FAILING,
    expected: "rolled-back",
  },
];

/** Who writes the demo's flags before the stepper takes over, in the audit log. */
export const DEMO_ACTOR = "greenlight-demo";

/** The plan each demo flag carries. */
export function demoPlan(profile: FlagDemoProfile): RolloutPlan {
  return {
    steps: [...profile.steps],
    interval: `${profile.intervalSeconds}s`,
    judge: { tolerance: 0.02, latencyTolerance: 0.1 },
    minRequests: 20,
  };
}
