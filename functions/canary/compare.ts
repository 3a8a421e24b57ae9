// The comparative judge (greenlight.dev/judge: compare): the canary against the stable version, measured over the
// same windows from the same Prometheus, by sequential tests that stay valid at every analysis (functions/judge/).
//
// API:
// - `compareQueries(target, settings)`: the PromQL of one window, per version: requests, 5xx, latency buckets (pure).
// - `readWindow(reader, queries)`: runs them; whole, rounded counts, or why the window cannot be counted (I/O).
// - `judgeWindow(prior, window, settings, requestCount, queries)`: the new cumulative state and the two checks (pure).
// - `analyseCanary(reader, target, settings, prior)`: `analyse` under threshold; under compare the request count and
//   custom checks as usual, plus `error-rate-vs-stable` and `latency-vs-stable` from the cumulative state.
// The state (`JudgeState`) lives in the status annotation: counts since the rollout's first step and the error-rate
// test's evidence. A window is counted when every query answered and the request count was fresh (its freshness
// guard); a window with fewer than min-requests requests is counted but judged no-data, as under threshold.
import { judgeErrors, judgeLatency } from "../judge/judge.ts";
import { readVersions, type VersionQueries } from "../judge/read.ts";
import {
  addWindow,
  coarsen,
  emptyJudgeState,
  type Histogram,
  histogramOf,
  type JudgeState,
  type VersionWindow,
} from "../judge/window.ts";
import {
  analyse,
  type CheckResult,
  type CheckTarget,
  formatNumber,
  type JudgeReading,
  type MetricsReader,
  promWindow,
  REQUEST_COUNT,
} from "./checks.ts";
import type { CanarySettings, CompareSettings } from "./settings.ts";

export const ERROR_RATE_VS_STABLE = "error-rate-vs-stable";
export const LATENCY_VS_STABLE = "latency-vs-stable";

export type { Histogram, JudgeState, VersionWindow };
export { addWindow, coarsen, emptyJudgeState, histogramOf };

export type Window = { canary: VersionWindow; stable: VersionWindow } | { error: string };

export interface CompareQueries {
  canary: VersionQueries;
  stable: VersionQueries;
}

const literal = (value: string): string => JSON.stringify(value);

/**
 * The canary as the threshold checks select it (its Deployment's destination_workload); the stable version as the
 * other workloads of the app in the namespace, narrowed to its version label when the route names it.
 */
export function compareQueries(target: CheckTarget, settings: Pick<CanarySettings, "intervalSeconds">): CompareQueries {
  const namespace = `reporter="destination",destination_workload_namespace=${literal(target.namespace)}`;
  const canary = `${namespace},destination_workload=${literal(target.deployment)}`;
  const stable =
    `${namespace},destination_app=${literal(target.app ?? target.service)},destination_workload!=${literal(target.deployment)}` +
    (target.stableVersion ? `,destination_version=${literal(target.stableVersion)}` : "");
  const window = promWindow(settings);
  const of = (selector: string) => ({
    requests: `sum(increase(istio_requests_total{${selector}}[${window}]))`,
    errors: `sum(increase(istio_requests_total{${selector},response_code=~"5.."}[${window}])) or vector(0)`,
    buckets: `sum by (le) (increase(istio_request_duration_milliseconds_bucket{${selector}}[${window}]))`,
  });
  return { canary: of(canary), stable: of(stable) };
}

/** Runs one window's queries; any failure (or nonsense) makes the window uncountable, with the first reason. */
export function readWindow(reader: MetricsReader, queries: CompareQueries): Promise<Window> {
  return readVersions(reader, { name: "canary", queries: queries.canary }, { name: "stable", queries: queries.stable });
}

const percent = (value: number): string => `${formatNumber(value * 100)}%`;
const signedPercent = (value: number): string => `${value > 0 ? "+" : ""}${percent(value)}`;

/** The error-rate comparison of the state as a check result. */
function errorRateCheck(state: JudgeState, settings: CompareSettings, query: string): CheckResult {
  const base = { name: ERROR_RATE_VS_STABLE, query, threshold: settings.tolerance, comparison: "max" as const };
  const { canary, stable } = state.errors;
  const result = judgeErrors(state, { alpha: settings.alpha / 2, tolerance: settings.tolerance });
  if ("missing" in result) return { ...base, outcome: "no-data", detail: `no ${result.missing} requests counted yet` };
  const judge: JudgeReading = {
    estimate: result.estimate,
    lower: result.lower,
    upper: result.upper,
    canary: { ...canary },
    stable: { ...stable },
    windows: state.windows,
  };
  const outcome = result.verdict === "regression" ? "fail" : result.verdict;
  const detail =
    `canary ${percent(canary.errors / canary.requests)} (${canary.errors}/${canary.requests}) vs stable ` +
    `${percent(stable.errors / stable.requests)} (${stable.errors}/${stable.requests}), difference ` +
    `${signedPercent(result.estimate)} in [${signedPercent(result.lower)}, ${signedPercent(result.upper)}] over ${state.windows} window(s)`;
  return { ...base, value: result.estimate, outcome, detail, judge };
}

/** The latency comparison of the state as a check result. */
function latencyCheck(state: JudgeState, settings: CompareSettings, query: string): CheckResult {
  const threshold = 0.5 + settings.latencyTolerance;
  const base = { name: LATENCY_VS_STABLE, query, threshold, comparison: "max" as const };
  const result = judgeLatency(state, { alpha: settings.alpha / 2, tolerance: settings.latencyTolerance });
  if ("missing" in result) {
    return { ...base, outcome: "no-data", detail: `fewer than 2 ${result.missing} latencies counted yet` };
  }
  const judge: JudgeReading = {
    estimate: result.estimate,
    lower: result.lower,
    upper: result.upper,
    canary: { requests: result.canaryRequests },
    stable: { requests: result.stableRequests },
    windows: state.windows,
  };
  const outcome = result.verdict === "regression" ? "fail" : result.verdict;
  const detail =
    `P(a canary request is slower than a stable one) ${formatNumber(result.estimate)} in ` +
    `[${formatNumber(result.lower)}, ${formatNumber(result.upper)}] over ${result.canaryRequests} canary and ` +
    `${result.stableRequests} stable latencies, ${state.windows} window(s)`;
  return { ...base, value: result.estimate, outcome, detail, judge };
}

/**
 * The judge's checks and state after this analysis (pure). `window` is counted when it was read and the request
 * count is fresh; the checks are no-data when the window held too few requests, as the threshold checks are.
 */
export function judgeWindow(
  prior: JudgeState | undefined,
  window: Window,
  settings: CanarySettings,
  requestCount: CheckResult | undefined,
  queries: CompareQueries,
): { checks: CheckResult[]; state: JudgeState } {
  const compare = settings.judge;
  if (!compare) throw new Error("judgeWindow needs greenlight.dev/judge: compare");
  // Evidence gathered against another tolerance is about another hypothesis: start over.
  const start = prior && prior.tolerance === compare.tolerance ? prior : emptyJudgeState(compare.tolerance);
  const fresh = requestCount?.value !== undefined;
  const counted = !("error" in window) && fresh;
  const state = counted ? addWindow(start, window) : start;
  const errorQuery = `${queries.stable.errors} / ${queries.stable.requests}`;
  const checks = [
    errorRateCheck(state, compare, errorQuery),
    latencyCheck(state, compare, `histogram: ${queries.stable.buckets}`),
  ];
  const why =
    "error" in window
      ? { outcome: "error" as const, detail: `window not counted: ${window.error}` }
      : !fresh
        ? { outcome: "no-data" as const, detail: "window not counted: the request count is stale or missing" }
        : settings.minRequests > 0 && requestCount?.outcome !== "pass"
          ? {
              outcome: "no-data" as const,
              detail: `only ${formatNumber(requestCount?.value ?? 0)} requests in the window (min-requests ${settings.minRequests})`,
            }
          : undefined;
  if (why) {
    for (const check of checks) {
      if (check.outcome === "no-data" && !("error" in window)) continue;
      check.outcome = why.outcome;
      check.detail = check.detail ? `${why.detail}; so far: ${check.detail}` : why.detail;
    }
  }
  return { checks, state };
}

export interface CanaryAnalysis {
  checks: CheckResult[];
  /** The judge's new state; only under compare. */
  judge?: JudgeState;
}

/** Every check of one analysis: `analyse` under threshold, plus the comparisons under compare. Never throws. */
export async function analyseCanary(
  reader: MetricsReader,
  target: CheckTarget,
  settings: CanarySettings,
  prior?: JudgeState,
): Promise<CanaryAnalysis> {
  if (!settings.judge) return { checks: await analyse(reader, target, settings) };
  const queries = compareQueries(target, settings);
  const [base, window] = await Promise.all([analyse(reader, target, settings), readWindow(reader, queries)]);
  const count = base.find((check) => check.name === REQUEST_COUNT);
  const { checks, state } = judgeWindow(prior, window, settings, count, queries);
  const rest = base.filter((check) => check !== count);
  return { checks: [...(count ? [count] : []), ...checks, ...rest], judge: state };
}
