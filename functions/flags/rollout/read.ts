// One window of a guarded rollout read from Prometheus: the builtin comparisons' counts and histograms per side, and
// the custom checks' values. Never throws: a failed query makes the window (or the check) unreadable, with the reason.
//
// The reader is the shape of the canary's MetricsReader (functions/canary/checks.ts), declared here again because
// feature flags import nothing of the strategies (.dependency-cruiser.cjs, flags-stand-alone): the Prometheus
// adapter the stepper builds (functions/canary/prometheus.ts) is one, and so is a test's fake.
import { type BucketSample, histogramOf, type VersionWindow, wholeCount } from "../../judge/window.ts";
import type { CustomValue } from "./checks.ts";
import type { ResolvedPlan, RolloutReadings, RolloutWindow } from "./plan.ts";
import type { RolloutQueries, SideQueries } from "./queries.ts";

/** Why a query produced no samples (the canary's MetricsError). */
export interface RolloutMetricsError {
  kind: string;
  message: string;
}

/** One instant query at a time: the values of the result's samples, or its samples with their labels. */
export interface RolloutMetricsReader {
  query(promql: string): Promise<number[] | RolloutMetricsError>;
  querySamples?(promql: string): Promise<BucketSample[] | RolloutMetricsError>;
}

const isError = (value: unknown): value is RolloutMetricsError =>
  typeof value === "object" && value !== null && !Array.isArray(value) && "kind" in value && "message" in value;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The values of one query, or why there are none usable. */
async function values(reader: RolloutMetricsReader, promql: string): Promise<number[] | string> {
  try {
    const answer: unknown = await reader.query(promql);
    if (isError(answer)) return `${answer.kind} error: ${answer.message}`;
    if (!Array.isArray(answer) || answer.some((value) => typeof value !== "number")) {
      return "the metrics reader returned something other than numbers";
    }
    return answer as number[];
  } catch (error) {
    return `query failed: ${messageOf(error)}`;
  }
}

async function count(reader: RolloutMetricsReader, promql: string, stale?: string): Promise<number | string> {
  const answer = await values(reader, promql);
  if (typeof answer === "string") return answer;
  if (stale !== undefined && answer.length === 0) return stale;
  const bad = answer.find((value) => !Number.isFinite(value));
  if (bad !== undefined) return `Prometheus returned ${bad}`;
  return wholeCount(answer.reduce((sum, value) => sum + value, 0));
}

async function histogram(reader: RolloutMetricsReader, promql: string) {
  if (!reader.querySamples) return "the metrics reader cannot read labelled samples (histogram buckets)";
  try {
    const answer: unknown = await reader.querySamples(promql);
    if (isError(answer)) return `${answer.kind} error: ${answer.message}`;
    if (!Array.isArray(answer)) return "the metrics reader returned something other than samples";
    return histogramOf(answer as BucketSample[]);
  } catch (error) {
    return `query failed: ${messageOf(error)}`;
  }
}

const STALE =
  "no request sample newer than the freshness limit (no traffic on this side yet, or Prometheus late or down)";

async function side(reader: RolloutMetricsReader, queries: SideQueries, who: string): Promise<VersionWindow | string> {
  const [requests, errors, buckets] = await Promise.all([
    count(reader, queries.requests, STALE),
    count(reader, queries.errors),
    histogram(reader, queries.buckets),
  ]);
  if (typeof requests === "string") return `${who}: ${requests}`;
  if (typeof errors === "string") return `${who}: ${errors}`;
  if (typeof buckets === "string") return `${who}: ${buckets}`;
  return { requests, errors: Math.min(requests, errors), histogram: buckets };
}

/** A custom check's value: the worst of its series (the highest under max, the lowest under min). */
async function customValue(
  reader: RolloutMetricsReader,
  promql: string,
  comparison: "max" | "min",
): Promise<CustomValue> {
  const answer = await values(reader, promql);
  if (typeof answer === "string") return { outcome: "error", detail: answer };
  if (answer.length === 0) return { outcome: "no-data", detail: "empty result" };
  const bad = answer.find((value) => !Number.isFinite(value));
  if (bad !== undefined) return { outcome: "no-data", detail: `Prometheus returned ${bad}` };
  return comparison === "max" ? Math.max(...answer) : Math.min(...answer);
}

/** Everything one judgement needs: the builtin window (when the plan has a builtin check) and every custom value. */
export async function readRollout(
  reader: RolloutMetricsReader,
  plan: Pick<ResolvedPlan, "checks">,
  queries: RolloutQueries,
): Promise<RolloutReadings> {
  const builtins = plan.checks.some((check) => check.kind !== "custom");
  const readWindow = async (): Promise<RolloutWindow | { error: string }> => {
    if (!builtins) return { error: "no builtin check" };
    const [treatment, control] = await Promise.all([
      side(reader, queries.treatment, "treatment"),
      side(reader, queries.control, "control"),
    ]);
    if (typeof treatment === "string") return { error: treatment };
    if (typeof control === "string") return { error: control };
    return { treatment, control };
  };
  const customs = plan.checks.flatMap((check) => (check.kind === "custom" ? [check] : []));
  const [window, ...custom] = await Promise.all([
    readWindow(),
    ...customs.map((check) => customValue(reader, queries.custom[check.name] ?? "", check.comparison)),
  ]);
  return {
    window: window as RolloutWindow | { error: string },
    custom: Object.fromEntries(customs.map((check, index) => [check.name, custom[index] as CustomValue])),
  };
}
