// The two comparisons of a cumulative state, with the least data each needs: shared by the canary
// (functions/canary/compare.ts) and the guarded flag rollout (functions/flags/rollout/checks.ts), which word them.
import { compareLatency, type LatencyComparison } from "./ranks.ts";
import { type RateComparison, rateVerdict } from "./rates.ts";
import type { JudgeState } from "./window.ts";

/** The version with too little counted to compare yet. */
export type TooLittle = { missing: "canary" | "stable" };

/** The error-rate comparison, once both versions have a request counted. */
export function judgeErrors(
  state: JudgeState,
  options: { alpha: number; tolerance: number },
): RateComparison | TooLittle {
  const { canary, stable } = state.errors;
  if (canary.requests === 0 || stable.requests === 0) return { missing: canary.requests === 0 ? "canary" : "stable" };
  return rateVerdict(state.errors, options);
}

const total = (counts: readonly number[]) => counts.reduce((sum, count) => sum + count, 0);

/** The latency comparison at this look (the windows counted), once both versions have 2 latencies counted. */
export function judgeLatency(
  state: JudgeState,
  options: { alpha: number; tolerance: number },
): LatencyComparison | TooLittle {
  const { canary, stable } = state.latency;
  if (total(canary) < 2 || total(stable) < 2) return { missing: total(canary) < 2 ? "canary" : "stable" };
  return compareLatency(canary, stable, { ...options, look: Math.max(1, state.windows) });
}
