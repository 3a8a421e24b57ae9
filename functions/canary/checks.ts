// The canary's metric gates: PromQL for the builtin and custom checks, and the judgement of their values.
//
// API:
// - `checkDefinitions(target, settings)` / `builtinQueries(target, settings)`: the queries with thresholds (pure).
// - `judge(value, threshold, comparison)`: pass / fail / no-data for one value.
// - `analyse(reader, target, settings)`: runs every query through a `MetricsReader` in parallel; never throws.
//   The Prometheus adapter implements `MetricsReader`; this module does no I/O of its own.
// Outcomes: no data (empty result, NaN, ±Inf, too few requests) and error (the reader failed) are never a pass.
import { renderQuery, type TemplateVariable } from "../contract/custom-checks.ts";
import { freshnessLimitSeconds, isMetricsError, type MetricsError, type MetricsReader } from "../judge/read.ts";
import type { BucketSample } from "../judge/window.ts";
import type { CanarySettings } from "./settings.ts";

export type Comparison = "max" | "min";
/** A threshold check's outcomes. */
export type Outcome = "pass" | "fail" | "no-data" | "error";
/**
 * Any check's: `inconclusive` is the comparative judge's (greenlight.dev/judge: compare), the data so far cannot tell
 * yet. It holds the weight and counts neither as a pass nor as a failure, nor towards max-inconclusive (no-data and
 * error do).
 */
export type CheckOutcome = Outcome | "inconclusive";

/** What a comparison of the canary against the stable version found, over every window counted since the first step. */
export interface JudgeReading {
  /** The estimate (also the check's `value`): the error-rate difference, or P(canary slower) for latency. */
  estimate: number;
  /** The confidence sequence's ends at this look. */
  lower: number;
  upper: number;
  /** Requests (and, for the error rate, failed requests) counted per version. */
  canary: { requests: number; errors?: number };
  stable: { requests: number; errors?: number };
  /** Analysis windows counted. */
  windows: number;
}

export interface CheckResult {
  name: string;
  query: string;
  /** The value judged; always finite when present (NaN and ±Inf are reported in `detail`). */
  value?: number;
  threshold: number;
  comparison: Comparison;
  outcome: CheckOutcome;
  detail?: string;
  /** Set by the comparative judge: estimate, interval and sample sizes. */
  judge?: JudgeReading;
}

/** The reader and its error are the judge's (functions/judge/read.ts): one shape for canaries and flag rollouts. */
export type { MetricsError, MetricsReader };

/** One sample of an instant vector with its labels: the judge's bucket sample, which it reads by `le`. */
export type LabelledSample = BucketSample;

/** The canary workload the queries select: `deployment` is `destination_workload`, `service` the route's host. */
export interface CheckTarget {
  namespace: string;
  deployment: string;
  version: string;
  service: string;
  /** The app label both versions' pods carry: how the comparative judge finds the stable version's series. */
  app?: string;
  /** The stable version's `version` label, when the route says it (Istio's stable subset). */
  stableVersion?: string;
}

export interface CheckDefinition {
  name: string;
  query: string;
  threshold: number;
  comparison: Comparison;
  /** A traffic check: no data when the window held fewer than `min-requests` requests. */
  needsTraffic: boolean;
}

export const REQUEST_COUNT = "request-count";
export const BUILTIN_CHECKS = [REQUEST_COUNT, "error-rate", "latency-p95", "latency-p99"] as const;

const DETAIL_LIMIT = 300;

/** PromQL string literal: Kubernetes names need no escaping, but a stray quote must not end the selector. */
const literal = (value: string): string => JSON.stringify(value);

export const promWindow = (settings: Pick<CanarySettings, "intervalSeconds">): string => `${settings.intervalSeconds}s`;

/** The builtin queries over Istio's standard metrics, as reported by the canary's own sidecars. */
export function builtinQueries(target: CheckTarget, settings: CanarySettings): CheckDefinition[] {
  const selector =
    `reporter="destination",destination_workload_namespace=${literal(target.namespace)},` +
    `destination_workload=${literal(target.deployment)}`;
  const window = promWindow(settings);
  const requests = `sum(rate(istio_requests_total{${selector}}[${window}]))`;
  // `or vector(0)`: with no 5xx series at all the share is 0, not an empty result.
  const errors = `(sum(rate(istio_requests_total{${selector},response_code=~"5.."}[${window}])) or vector(0))`;
  const quantile = (q: number) =>
    `histogram_quantile(${q}, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${selector}}[${window}])))`;
  // The count only while the newest sample is fresh: when scrapes stop (Prometheus late, a target down) rate() and
  // increase() judge the old part of the window alone, and a canary that turned bad since would pass.
  const fresh = `(time() - max(timestamp(istio_requests_total{${selector}})) < ${freshnessLimitSeconds(settings.intervalSeconds)})`;
  return [
    {
      name: REQUEST_COUNT,
      query: `sum(increase(istio_requests_total{${selector}}[${window}])) and on() ${fresh}`,
      threshold: settings.minRequests,
      comparison: "min",
      needsTraffic: false,
    },
    {
      name: "error-rate",
      query: `${errors} / ${requests}`,
      threshold: settings.maxErrorRate,
      comparison: "max",
      needsTraffic: true,
    },
    {
      name: "latency-p95",
      query: quantile(0.95),
      threshold: settings.maxLatencyP95Ms,
      comparison: "max",
      needsTraffic: true,
    },
    {
      name: "latency-p99",
      query: quantile(0.99),
      threshold: settings.maxLatencyP99Ms,
      comparison: "max",
      needsTraffic: true,
    },
  ];
}

/** Builtin checks first, then the custom ones as `check.<name>` with their template variables filled. */
export function checkDefinitions(target: CheckTarget, settings: CanarySettings): CheckDefinition[] {
  const variables: Record<TemplateVariable, string> = {
    namespace: target.namespace,
    deployment: target.deployment,
    version: target.version,
    service: target.service,
    interval: promWindow(settings),
  };
  const custom = settings.checks.map(
    (check): CheckDefinition => ({
      name: `check.${check.name}`,
      query: renderQuery(check.query, variables),
      threshold: check.max ?? check.min ?? 0,
      comparison: check.max !== undefined ? "max" : "min",
      needsTraffic: false,
    }),
  );
  // The comparative judge replaces the ceilings with its own comparisons (compare.ts); the request count stays.
  const builtin = builtinQueries(target, settings).filter(
    (definition) => settings.judge === undefined || definition.name === REQUEST_COUNT,
  );
  return [...builtin, ...custom];
}

/** One value against its threshold; missing, NaN and ±Inf are no data, never a pass. */
export function judge(value: number | undefined, threshold: number, comparison: Comparison): Outcome {
  if (value === undefined || !Number.isFinite(value)) return "no-data";
  const within = comparison === "max" ? value <= threshold : value >= threshold;
  return within ? "pass" : "fail";
}

/** Several series: the worst one counts, and any non-finite sample makes the whole result no data. */
export function worstValue(values: readonly number[], comparison: Comparison): number | undefined {
  if (values.length === 0) return undefined;
  if (values.some((value) => !Number.isFinite(value))) return Number.NaN;
  return comparison === "max" ? Math.max(...values) : Math.min(...values);
}

export { isMetricsError };

const clip = (text: string): string => (text.length > DETAIL_LIMIT ? `${text.slice(0, DETAIL_LIMIT - 1)}…` : text);

/** Runs one definition; a reader that throws or answers nonsense is an `error`, not an exception. */
export async function runCheck(reader: MetricsReader, definition: CheckDefinition): Promise<CheckResult> {
  const { name, query, threshold, comparison } = definition;
  const base = { name, query, threshold, comparison };
  let answer: unknown;
  try {
    answer = await reader.query(query);
  } catch (error) {
    return { ...base, outcome: "error", detail: clip(`query failed: ${messageOf(error)}`) };
  }
  if (isMetricsError(answer)) {
    return { ...base, outcome: "error", detail: clip(`${answer.kind} error: ${answer.message}`) };
  }
  if (!Array.isArray(answer) || answer.some((sample) => typeof sample !== "number")) {
    return { ...base, outcome: "error", detail: "the metrics reader returned something other than numbers" };
  }
  const samples = answer as number[];
  const value = worstValue(samples, comparison);
  if (value === undefined) {
    const detail =
      name === REQUEST_COUNT
        ? "empty result: no request in the window, or no sample newer than the freshness limit (Prometheus late or down)"
        : "empty result";
    return { ...base, outcome: "no-data", detail };
  }
  if (!Number.isFinite(value)) {
    const shown = samples.filter((sample) => !Number.isFinite(sample)).map(String);
    return { ...base, outcome: "no-data", detail: `Prometheus returned ${shown[0]}` };
  }
  const result: CheckResult = { ...base, value, outcome: judge(value, threshold, comparison) };
  if (samples.length > 1) result.detail = `worst of ${samples.length} series`;
  return result;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (isMetricsError(error)) return error.message;
  return String(error);
}

/** Runs every check at once. Fewer than `min-requests` requests turn the traffic checks' verdicts into no data. */
export async function analyse(
  reader: MetricsReader,
  target: CheckTarget,
  settings: CanarySettings,
): Promise<CheckResult[]> {
  const definitions = checkDefinitions(target, settings);
  const results = await Promise.all(definitions.map((definition) => runCheck(reader, definition)));
  const count = results.find((result) => result.name === REQUEST_COUNT);
  if (count && count.outcome === "fail") {
    // Too little traffic is an absence of evidence, not a failure of the canary.
    count.outcome = "no-data";
    count.detail = `fewer than ${settings.minRequests} requests in the window`;
  }
  const enoughTraffic = settings.minRequests === 0 || count?.outcome === "pass";
  if (!enoughTraffic) {
    const why =
      count?.value !== undefined
        ? `only ${formatNumber(count.value)} requests in the window (min-requests ${settings.minRequests})`
        : `request count unknown (min-requests ${settings.minRequests})`;
    definitions.forEach((definition, index) => {
      const result = results[index];
      if (!definition.needsTraffic || !result || (result.outcome !== "pass" && result.outcome !== "fail")) return;
      result.outcome = "no-data";
      result.detail = why;
    });
  }
  return results;
}

/** Compact numbers for messages: 4 significant digits, no exponent noise for ordinary values. */
export const formatNumber = (value: number): string => String(Number(value.toPrecision(4)));

/** One check for an event or the CLI: `error-rate 0.2 > max 0.01 (fail)`. */
export function describeCheck(result: CheckResult): string {
  const bound = `${result.comparison} ${formatNumber(result.threshold)}`;
  const detail = result.detail ? `: ${result.detail}` : "";
  if (result.value === undefined) return `${result.name} ${result.outcome}${detail} (${bound})`;
  const relation =
    result.outcome === "fail" ? (result.comparison === "max" ? ">" : "<") : result.outcome === "pass" ? "within" : "vs";
  return `${result.name} ${formatNumber(result.value)} ${relation} ${bound} (${result.outcome}${detail})`;
}
