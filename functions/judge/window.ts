// The comparative judge's memory: one window's counts per version, and the cumulative state they add up to.
//
// Shared by the canary (functions/canary/compare.ts: canary against stable) and the guarded flag rollout
// (functions/flags/rollout/: treatment against control). Both call the two versions "canary" and "stable" here; the
// flag rollout maps treatment to canary and control to stable. Pure: plain numbers in, plain numbers out.
//
// - `histogramOf(samples)`: cumulative `le` samples (Prometheus histogram buckets) as per-bucket counts.
// - `coarsen(histogram, bounds)`: the same counts in fewer buckets.
// - `emptyJudgeState(tolerance)` / `addWindow(state, window)`: the state with one more window counted.
import { addRateWindow, emptyRateState, type RateCounts, type RateState } from "./rates.ts";

/** Per-bucket request counts at the bucket bounds (in the metric's unit), lowest first; `counts` has one more, the overflow. */
export interface Histogram {
  bounds: number[];
  counts: number[];
}

/** What the judge remembers between analyses. */
export interface JudgeState {
  /** The tolerance the error-rate evidence was gathered at; another one starts the evidence over. */
  tolerance: number;
  /** Windows counted. */
  windows: number;
  /** The error-rate test: counts and evidence (functions/judge/rates.ts). */
  errors: RateState;
  /** Latency histograms since the first window, both versions in the same buckets. */
  latency: { bounds: number[]; canary: number[]; stable: number[] };
}

/** One version's requests, failed requests and latency histogram over one window. */
export interface VersionWindow extends RateCounts {
  histogram: Histogram;
}

/** One instant-vector sample with its labels (the shape of a Prometheus bucket sample). */
export interface BucketSample {
  labels: Record<string, string>;
  value: number;
}

/** Whole counts from an increase() (Prometheus extrapolates to the window's edges): rounded, never negative. */
export const wholeCount = (value: number): number => Math.max(0, Math.round(value));

/** Cumulative `le` samples as per-bucket counts; bounds as numbers, +Inf last as the overflow. */
export function histogramOf(samples: readonly BucketSample[]): Histogram | string {
  const points: [number, number][] = [];
  for (const sample of samples) {
    const le = sample.labels.le;
    const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
    if (le === undefined || Number.isNaN(bound)) return "a bucket sample without a numeric le label";
    if (!Number.isFinite(sample.value)) return `Prometheus returned ${sample.value} for the bucket le="${le}"`;
    points.push([bound, sample.value]);
  }
  points.sort((a, b) => a[0] - b[0]);
  const bounds: number[] = [];
  const counts: number[] = [];
  let below = 0;
  for (const [bound, cumulative] of points) {
    const total = Math.max(below, wholeCount(cumulative));
    if (Number.isFinite(bound)) bounds.push(bound);
    counts.push(total - below);
    below = total;
  }
  // Without a +Inf sample (or without any) the overflow bucket is empty.
  if (points.length === 0 || Number.isFinite(points.at(-1)?.[0])) counts.push(0);
  return { bounds, counts };
}

/** The histogram in fewer buckets: `bounds` must be among the histogram's own. */
export function coarsen(histogram: Histogram, bounds: readonly number[]): number[] {
  const counts: number[] = bounds.map(() => 0);
  counts.push(0);
  let target = 0;
  histogram.counts.forEach((count, index) => {
    const upper = histogram.bounds[index] ?? Number.POSITIVE_INFINITY;
    while (target < bounds.length && (bounds[target] as number) < upper) target++;
    counts[target] = (counts[target] as number) + count;
  });
  return counts;
}

const common = (a: readonly number[], b: readonly number[]): number[] => a.filter((bound) => b.includes(bound));

export const emptyJudgeState = (tolerance: number): JudgeState => ({
  tolerance,
  windows: 0,
  errors: emptyRateState(),
  latency: { bounds: [], canary: [0], stable: [0] },
});

/** Log evidence is kept to 4 decimals, rounded down: a smaller e-value is still one. */
const floor4 = (value: number): number => Math.floor(value * 10_000) / 10_000;

/** The state with one more window counted (pure). */
export function addWindow(prior: JudgeState, window: { canary: VersionWindow; stable: VersionWindow }): JudgeState {
  const errors = addRateWindow(prior.errors, window, prior.tolerance);
  // Both versions and the state in the buckets all three share (Istio's defaults: all of them).
  const known = prior.windows > 0 ? prior.latency.bounds : window.canary.histogram.bounds;
  const bounds = common(common(known, window.canary.histogram.bounds), window.stable.histogram.bounds);
  const previous = (counts: number[]) => coarsen({ bounds: prior.latency.bounds, counts }, bounds);
  const sum = (a: number[], b: number[]) => a.map((value, index) => value + (b[index] ?? 0));
  return {
    tolerance: prior.tolerance,
    windows: prior.windows + 1,
    errors: { ...errors, above: errors.above.map(floor4), below: errors.below.map(floor4) },
    latency: {
      bounds,
      canary: sum(previous(prior.latency.canary), coarsen(window.canary.histogram, bounds)),
      stable: sum(previous(prior.latency.stable), coarsen(window.stable.histogram, bounds)),
    },
  };
}
