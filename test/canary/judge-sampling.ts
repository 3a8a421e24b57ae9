// Exact sampling for the judge's property tests, from the simulator's seeded generator: binomial counts by geometric
// jumps between successes (exact for independent Bernoulli trials), and a rollout of the scenario driven by
// the error-rate test alone.
import { addRateWindow, emptyRateState, type RateState, rateVerdict } from "../../functions/judge/rates.ts";
import { createRandom, type Random } from "../../scripts/sim/random.ts";

/** Successes in `trials` Bernoulli(p) trials: the gaps between successes are geometric. */
export function binomial(random: Random, trials: number, p: number): number {
  if (p <= 0 || trials <= 0) return 0;
  if (p >= 1) return trials;
  const logMiss = Math.log1p(-p);
  let count = 0;
  for (let at = Math.floor(Math.log(1 - random.next()) / logMiss); at < trials; count++) {
    at += 1 + Math.floor(Math.log(1 - random.next()) / logMiss);
  }
  return count;
}

export interface RolloutOptions {
  alpha: number;
  tolerance: number;
  /** Requests a minute over both versions (50 rps: 3,000). */
  perMinute?: number;
  steps?: readonly number[];
  minutes?: number;
}

export interface RolloutOutcome {
  outcome: "regression" | "promoted" | "held";
  minute: number;
  canaryRequests: number;
  state: RateState;
}

/**
 * The error-rate test through a rollout: every minute a window at the current step's split; a pass moves to the next
 * step, promotion after the last, a regression stops it.
 */
export function rollout(seed: number, canaryRate: number, stableRate: number, options: RolloutOptions): RolloutOutcome {
  const random = createRandom(seed);
  const steps = options.steps ?? [10, 20, 50, 100];
  const perMinute = options.perMinute ?? 3000;
  let state = emptyRateState();
  let step = 0;
  for (let minute = 1; minute <= (options.minutes ?? 60); minute++) {
    const canary = Math.round((perMinute * (steps[step] as number)) / 100);
    const stable = perMinute - canary;
    state = addRateWindow(
      state,
      {
        canary: { requests: canary, errors: binomial(random, canary, canaryRate) },
        stable: { requests: stable, errors: binomial(random, stable, stableRate) },
      },
      options.tolerance,
    );
    const { verdict } = rateVerdict(state, options);
    if (verdict === "regression")
      return { outcome: "regression", minute, canaryRequests: state.canary.requests, state };
    if (verdict === "pass" && ++step >= steps.length) {
      return { outcome: "promoted", minute, canaryRequests: state.canary.requests, state };
    }
  }
  return { outcome: "held", minute: options.minutes ?? 60, canaryRequests: state.canary.requests, state };
}
