// The comparative judge's error-rate test: is the canary's error rate worse than the stable's by more than a tolerance?
//
// Two e-processes (test supermartingales) per hypothesis, multiplied window by window, so that a verdict stays valid
// however often it is looked at and whenever the rollout stops (Ville's inequality: a nonnegative supermartingale
// starting at 1 ever reaches 1/α with probability ≤ α). They are exact: no normal approximation, which matters when
// errors are rare (a few in a thousand requests).
//
// Each window w brings n_c canary requests with x_c errors and n_s stable requests with x_s errors. Before it, the
// rates are estimated from the windows so far (predictably: p̃ = (x + 1/2) / (n + 50), a Beta(1/2, 50) posterior mean,
// so the first window starts from 1%). For a hypothesis "difference ≤ d0" (canary rate minus stable rate), when the
// estimate says more (p̃_c - p̃_s > d0) the window's factor is
//
//     F_w = L_w(p̃_c, p̃_s) / L_w(q_c, q_s),   L_w(a, b) = a^x_c (1-a)^(n_c-x_c) b^x_s (1-b)^(n_s-x_s),
//
// with (q_c, q_s) the reverse information projection of the estimate onto the line q_c - q_s = d0: the point of the
// line closest to it in n_c KL(p̃_c‖q_c) + n_s KL(p̃_s‖q_s). Otherwise F_w = 1 (no bet). The projection makes F_w an
// e-variable for every pair of rates with difference ≤ d0, given the window's request counts: E[F_w] ≤ 1 (the
// expectation is concave in the rates and stationary at the projection along the line, see docs/ARCHITECTURE.md), so
// the product over windows is a test supermartingale under the hypothesis whatever the stable rate is. The mirror
// image tests "difference ≥ d0". This is the construction of Turner, Ly and Grünwald's safe tests for 2x2 tables.
//
// Both are kept for a fixed grid of d0, multiples of the tolerance. The interval: from below, the grid points whose
// "≤" test rejected, as long as every point under them rejected too; from above, likewise with "≥". Each end errs
// with probability ≤ α, so the interval covers the true difference at every look at once with probability ≥ 1 - 2α.
// Verdicts read the interval: regression when it lies above the tolerance, pass when below, else inconclusive.

import { xLogY } from "./special.ts";

export interface RateCounts {
  /** Requests in the counted windows. */
  requests: number;
  /** Of which failed (5xx). */
  errors: number;
}

export type Verdict = "pass" | "regression" | "inconclusive";

/** The hypotheses' differences d0, as multiples of the tolerance; 1 is the tolerance itself. */
export const RATE_GRID: readonly number[] = [-4, -2, -1, -0.5, 0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 16];

/** What the test remembers between windows: the cumulative counts and ln of both e-processes at every grid point. */
export interface RateState {
  canary: RateCounts;
  stable: RateCounts;
  /** ln E against "difference ≤ d0", per grid point. */
  above: number[];
  /** ln E against "difference ≥ d0", per grid point. */
  below: number[];
}

export interface RateComparison {
  /** canary rate - stable rate over every counted window. */
  estimate: number;
  /** The interval's ends, each -1 or +1 when nothing is excluded on its side. */
  lower: number;
  upper: number;
  verdict: Verdict;
  /** ln E at the tolerance: against "no worse than tolerated" and against "worse than tolerated". */
  logEvidence: { regression: number; pass: number };
}

/** Beta(1/2, 50): the predictable estimate starts at 1% and the data outweigh it after 50 requests. */
const PRIOR_ERRORS = 0.5;
const PRIOR_REQUESTS = 50;
const BISECTIONS = 100;
/** Differences are kept off ±1, where a projection has no room. */
const EDGE = 0.999;

export const emptyRateState = (): RateState => ({
  canary: { requests: 0, errors: 0 },
  stable: { requests: 0, errors: 0 },
  above: RATE_GRID.map(() => 0),
  below: RATE_GRID.map(() => 0),
});

/** The predictable estimate of a rate from the windows before this one. */
export const estimateRate = (counts: RateCounts): number =>
  (counts.errors + PRIOR_ERRORS) / (counts.requests + PRIOR_REQUESTS);

/** The grid's differences for a tolerance. */
export const gridDifferences = (tolerance: number): number[] =>
  RATE_GRID.map((multiple) => Math.min(EDGE, Math.max(-EDGE, multiple * tolerance)));

/** ln of a window's likelihood at rates (a, b), binomial coefficients left out. */
export function windowLogLikelihood(canary: RateCounts, stable: RateCounts, a: number, b: number): number {
  return (
    xLogY(canary.errors, a) +
    xLogY(canary.requests - canary.errors, 1 - a) +
    xLogY(stable.errors, b) +
    xLogY(stable.requests - stable.errors, 1 - b)
  );
}

/**
 * The point (q_c, q_s) with q_c - q_s = d0 closest to (p_c, p_s) in n_c KL(p_c‖q_c) + n_s KL(p_s‖q_s); the estimate
 * must lie strictly inside (0, 1). Convex in q_s: its derivative rises through zero once, found by bisection.
 */
export function project(
  rates: { canary: number; stable: number },
  weights: { canary: number; stable: number },
  difference: number,
): { canary: number; stable: number } {
  const { canary: pc, stable: ps } = rates;
  const d = difference;
  const slope = (q: number) =>
    weights.canary * ((1 - pc) / (1 - q - d) - pc / (q + d)) + weights.stable * ((1 - ps) / (1 - q) - ps / q);
  let lo = Math.max(0, -d);
  let hi = Math.min(1, 1 - d);
  for (let i = 0; i < BISECTIONS; i++) {
    const mid = lo + (hi - lo) / 2;
    if (mid === lo || mid === hi) break;
    if (slope(mid) < 0) lo = mid;
    else hi = mid;
  }
  const stable = lo + (hi - lo) / 2;
  return { canary: stable + d, stable };
}

/**
 * ln F_w of one window against "difference ≤ d0" (`side` "above": betting the canary is worse than d0) or
 * "difference ≥ d0" (`side` "below"), with the estimate from the windows before it. 0 when the estimate is on the
 * hypothesis's side (no bet) or the window holds no request.
 */
export function windowLogFactor(
  before: { canary: RateCounts; stable: RateCounts },
  window: { canary: RateCounts; stable: RateCounts },
  difference: number,
  side: "above" | "below",
): number {
  if (window.canary.requests + window.stable.requests === 0) return 0;
  const rates = { canary: estimateRate(before.canary), stable: estimateRate(before.stable) };
  const gap = rates.canary - rates.stable;
  if (side === "above" ? gap <= difference : gap >= difference) return 0;
  const weights = { canary: window.canary.requests, stable: window.stable.requests };
  const q = project(rates, weights, difference);
  return (
    windowLogLikelihood(window.canary, window.stable, rates.canary, rates.stable) -
    windowLogLikelihood(window.canary, window.stable, q.canary, q.stable)
  );
}

const add = (a: RateCounts, b: RateCounts): RateCounts => ({
  requests: a.requests + b.requests,
  errors: a.errors + b.errors,
});

/** The state after one more window (pure). Counts must be whole, errors within 0..requests. */
export function addRateWindow(
  state: RateState,
  window: { canary: RateCounts; stable: RateCounts },
  tolerance: number,
): RateState {
  const differences = gridDifferences(tolerance);
  return {
    canary: add(state.canary, window.canary),
    stable: add(state.stable, window.stable),
    above: differences.map((d, i) => (state.above[i] ?? 0) + windowLogFactor(state, window, d, "above")),
    below: differences.map((d, i) => (state.below[i] ?? 0) + windowLogFactor(state, window, d, "below")),
  };
}

/** The interval and the verdict at level `alpha` (each end errs with probability ≤ alpha). */
export function rateVerdict(state: RateState, options: { alpha: number; tolerance: number }): RateComparison {
  const { alpha, tolerance } = options;
  const level = Math.log(1 / alpha);
  const differences = gridDifferences(tolerance);
  const { canary, stable } = state;
  const estimate =
    canary.requests > 0 && stable.requests > 0
      ? canary.errors / canary.requests - stable.errors / stable.requests
      : Number.NaN;
  // From below: the highest d0 such that "difference ≤ d" is rejected at d0 and at every grid point under it.
  let lower = -1;
  for (let i = 0; i < differences.length && (state.above[i] ?? 0) >= level; i++) lower = differences[i] as number;
  let upper = 1;
  for (let i = differences.length - 1; i >= 0 && (state.below[i] ?? 0) >= level; i--) upper = differences[i] as number;
  const at = RATE_GRID.indexOf(1);
  const verdict: Verdict = lower >= tolerance ? "regression" : upper <= tolerance ? "pass" : "inconclusive";
  return {
    estimate,
    lower,
    upper,
    verdict,
    logEvidence: { regression: state.above[at] ?? 0, pass: state.below[at] ?? 0 },
  };
}
