// A rollout's checks judged (pure): the builtin comparisons of treatment against control from the judge's cumulative
// state (functions/judge/), and the custom checks' values against their bounds.
import { judgeErrors, judgeLatency } from "../../judge/judge.ts";
import type { Verdict } from "../../judge/rates.ts";
import type { JudgeState } from "../../judge/window.ts";
import type { RolloutCheckOutcome, RolloutCheckReading } from "../types.ts";

export interface JudgeLevels {
  /** The false-alarm level each builtin comparison gets (the plan's alpha split over them). */
  alpha: number;
  tolerance: number;
  latencyTolerance: number;
}

/** A custom check resolved: the rendered query and its bound. */
export interface CustomCheckSpec {
  name: string;
  query: string;
  threshold: number;
  comparison: "max" | "min";
}

/** A custom check's value in one window: a finite number, or why there is none. */
export type CustomValue = number | { outcome: "no-data" | "error"; detail: string };

/** Numbers in words: at most 3 significant digits, no exponent for the ranges rollouts see. */
export const formatNumber = (value: number): string =>
  Number.isFinite(value) ? String(Number(value.toPrecision(3))) : String(value);
const percent = (value: number): string => `${formatNumber(value * 100)}%`;
const signedPercent = (value: number): string => `${value > 0 ? "+" : ""}${percent(value)}`;

/** The judge's versions as a rollout names them. */
const SIDE = { canary: "treatment", stable: "control" } as const;

/** What a builtin reading takes from the judge's answer: the verdict as its outcome, the estimate and interval. */
function judged(result: { verdict: Verdict; estimate: number; lower: number; upper: number }) {
  const outcome: RolloutCheckOutcome = result.verdict;
  return { outcome, value: result.estimate, lower: result.lower, upper: result.upper };
}

/** The error-rate comparison of the state: treatment rate minus control rate, its interval and verdict. */
export function errorRateReading(state: JudgeState, levels: JudgeLevels): RolloutCheckReading {
  const base = { name: "error-rate", threshold: levels.tolerance, comparison: "max" as const };
  const { canary: treatment, stable: control } = state.errors;
  const result = judgeErrors(state, { alpha: levels.alpha, tolerance: levels.tolerance });
  if ("missing" in result) {
    return { ...base, outcome: "no-data", detail: `no ${SIDE[result.missing]} requests counted yet` };
  }
  const detail =
    `treatment ${percent(treatment.errors / treatment.requests)} (${treatment.errors}/${treatment.requests}) vs ` +
    `control ${percent(control.errors / control.requests)} (${control.errors}/${control.requests}), difference ` +
    `${signedPercent(result.estimate)} in [${signedPercent(result.lower)}, ${signedPercent(result.upper)}] ` +
    `(tolerance ${percent(levels.tolerance)}) over ${state.windows} window(s)`;
  return {
    ...base,
    ...judged(result),
    treatment: { ...treatment },
    control: { ...control },
    detail,
  };
}

/** The latency comparison of the state: P(a treatment request is slower than a control one), its interval, verdict. */
export function latencyReading(state: JudgeState, levels: JudgeLevels): RolloutCheckReading {
  const threshold = 0.5 + levels.latencyTolerance;
  const base = { name: "latency", threshold, comparison: "max" as const };
  const result = judgeLatency(state, { alpha: levels.alpha, tolerance: levels.latencyTolerance });
  if ("missing" in result) {
    return { ...base, outcome: "no-data", detail: `fewer than 2 ${SIDE[result.missing]} latencies counted yet` };
  }
  const detail =
    `P(a treatment request is slower than a control one) ${formatNumber(result.estimate)} in ` +
    `[${formatNumber(result.lower)}, ${formatNumber(result.upper)}] (at most ${formatNumber(threshold)}) over ` +
    `${result.canaryRequests} treatment and ${result.stableRequests} control latencies, ${state.windows} window(s)`;
  return {
    ...base,
    ...judged(result),
    treatment: { requests: result.canaryRequests },
    control: { requests: result.stableRequests },
    detail,
  };
}

/** A custom check's value against its bound: beyond it is a regression; no value holds. */
export function customReading(check: CustomCheckSpec, value: CustomValue | undefined): RolloutCheckReading {
  const base = { name: check.name, threshold: check.threshold, comparison: check.comparison };
  if (value === undefined) return { ...base, outcome: "no-data", detail: "no value read" };
  if (typeof value !== "number") return { ...base, outcome: value.outcome, detail: value.detail };
  const within = check.comparison === "max" ? value <= check.threshold : value >= check.threshold;
  const bound = `${check.comparison === "max" ? "at most" : "at least"} ${formatNumber(check.threshold)}`;
  return {
    ...base,
    value,
    outcome: within ? "pass" : "regression",
    detail: `${formatNumber(value)} (${bound})`,
  };
}
