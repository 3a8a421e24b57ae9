// The comparative judge's latency test: a rank comparison of the two versions' latency distributions, read from the
// histogram buckets both report, with a confidence interval that stays valid over every look.
//
//   θ = P(X > Y) + ½ P(X = Y), X a canary request's latency bucket, Y a stable one's: the probability that a canary
//   request is slower than a stable one, ties (the same bucket) counted half. θ = ½ when both versions have the same
//   distribution, whatever it is; it is the Mann-Whitney U statistic divided by n_c n_s (Mann and Whitney 1947), the
//   effect Kayenta's judge and the "probability of superiority" report.
//   estimate  θ̂ = Σ_b c_b (S_<b + ½ s_b) / (n_c n_s), c_b and s_b the canary's and stable's requests in bucket b,
//             S_<b the stable's requests in the buckets below b.
//   variance  the larger of DeLong's (DeLong, DeLong and Clarke-Pearson 1988; placements V10 of canary requests among
//             stable ones and V01 the other way round: Var θ̂ ≈ s²(V10)/n_c + s²(V01)/n_s) and the null variance with
//             the tie correction, (N + 1) / (12 n_c n_s) · (1 - Σ_b (t_b³ - t_b) / (N³ - N)), t_b = c_b + s_b, N = n_c + n_s.
//   looks     the k-th look gets α_k = α / (k (k + 1)), which sum to α over k = 1, 2, ...: an interval
//             θ̂ ± z(1 - α_k / 2) · sd at every look covers θ at all looks at once with probability ≥ 1 - α (a union
//             bound, so whatever the dependence between looks; each interval is the normal approximation of θ̂).
// Verdicts: regression when the interval lies above ½ + tolerance, pass when below, otherwise inconclusive.
// What it does not see: a change confined to the tail with the bulk unchanged (p99 up, p50 the same) moves θ little
// or not at all; the docs say so and the benchmark measures it.

import type { Verdict } from "./rates.ts";
import { normalQuantile } from "./special.ts";

export interface LatencyOptions {
  /** The false-alarm level over all looks. */
  alpha: number;
  /** Tolerated excess of θ over ½, in (0, ½). */
  tolerance: number;
  /** This look's number, 1 for the first: how much of alpha it may spend. */
  look: number;
}

export interface LatencyComparison {
  /** θ̂, in [0, 1]. */
  estimate: number;
  lower: number;
  upper: number;
  verdict: Verdict;
  canaryRequests: number;
  stableRequests: number;
}

/** α_k of the k-th look: α / (k (k + 1)). */
export const lookAlpha = (alpha: number, look: number): number => alpha / (look * (look + 1));

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

/**
 * θ̂ and its interval from per-bucket counts in the same buckets (lowest first, the overflow bucket last). Each version
 * needs at least two requests.
 */
export function compareLatency(
  canary: readonly number[],
  stable: readonly number[],
  options: LatencyOptions,
): LatencyComparison {
  if (canary.length !== stable.length) throw new RangeError("both histograms need the same buckets");
  const nc = sum(canary);
  const ns = sum(stable);
  if (!(nc >= 2 && ns >= 2)) throw new RangeError("each version needs two requests at least");
  // Placements: a canary request in bucket b sits above `stableBelow` stable requests and ties with s_b of them.
  const canaryPlacement: number[] = [];
  const stablePlacement: number[] = [];
  let stableBelow = 0;
  let canaryBelow = 0;
  for (let b = 0; b < canary.length; b++) {
    const c = canary[b] as number;
    const s = stable[b] as number;
    canaryPlacement.push((stableBelow + s / 2) / ns);
    // A stable request in bucket b lies below the canary requests above b and ties with c_b of them.
    stablePlacement.push((nc - canaryBelow - c + c / 2) / nc);
    stableBelow += s;
    canaryBelow += c;
  }
  let theta = 0;
  for (let b = 0; b < canary.length; b++) theta += (canary[b] as number) * (canaryPlacement[b] as number);
  theta /= nc;
  let s10 = 0;
  let s01 = 0;
  let ties = 0;
  for (let b = 0; b < canary.length; b++) {
    const c = canary[b] as number;
    const s = stable[b] as number;
    s10 += c * ((canaryPlacement[b] as number) - theta) ** 2;
    s01 += s * ((stablePlacement[b] as number) - theta) ** 2;
    const t = c + s;
    ties += t * t * t - t;
  }
  const n = nc + ns;
  const delong = s10 / (nc - 1) / nc + s01 / (ns - 1) / ns;
  const nullVariance = ((n + 1) / (12 * nc * ns)) * Math.max(0, 1 - ties / (n * n * n - n));
  const sd = Math.sqrt(Math.max(delong, nullVariance));
  const z = normalQuantile(1 - lookAlpha(options.alpha, Math.max(1, options.look)) / 2);
  const lower = Math.max(0, theta - z * sd);
  const upper = Math.min(1, theta + z * sd);
  const bound = 0.5 + options.tolerance;
  const verdict: Verdict = lower > bound ? "regression" : upper < bound ? "pass" : "inconclusive";
  return { estimate: theta, lower, upper, verdict, canaryRequests: nc, stableRequests: ns };
}
