// One window of the comparative judge read through a metrics reader: each version's requests, failed requests and
// latency buckets. Shared by the canary (functions/canary/compare.ts) and the guarded flag rollout
// (functions/flags/rollout/read.ts), which hand it their own PromQL and reader; the reader is injected, so nothing
// here imports I/O. Never throws: a failed or nonsensical answer makes the window unreadable, with the reason.
import { type BucketSample, histogramOf, type VersionWindow, wholeCount } from "./window.ts";

/** Why a query produced no samples: the adapter maps its client's rejections to one of these kinds. */
export interface MetricsError {
  kind: "network" | "timeout" | "http" | "query" | "other";
  message: string;
}

/**
 * One instant query at a time: the values of the result vector's samples (empty when it has none), or its samples
 * with their labels (the judge reads histogram buckets by `le`), or an error. The one reader shape of the canary's
 * checks and judge and the flag rollout's (functions/canary/prometheus.ts implements it; the simulator too).
 */
export interface MetricsReader {
  query(promql: string): Promise<number[] | MetricsError>;
  querySamples?(promql: string): Promise<BucketSample[] | MetricsError>;
}

/** One version's queries over the window. */
export interface VersionQueries {
  requests: string;
  errors: string;
  buckets: string;
}

/**
 * How old, in seconds, the newest request sample may be for a window of `intervalSeconds` to be judged: a third of
 * the window, 30 s at least. When scrapes stop, rate() and increase() read the old part of the window alone.
 */
export const freshnessLimitSeconds = (intervalSeconds: number): number => Math.max(30, Math.round(intervalSeconds / 3));

const NO_SAMPLES = "the metrics reader cannot read labelled samples (histogram buckets)";

/** A reader's answer that is an error rather than values: an object with a message. */
export const isMetricsError = (value: unknown): value is MetricsError =>
  typeof value === "object" &&
  value !== null &&
  !Array.isArray(value) &&
  typeof (value as { message?: unknown }).message === "string";

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The values of one query, or why there are none usable. */
export async function queryValues(reader: MetricsReader, promql: string): Promise<number[] | string> {
  try {
    const answer: unknown = await reader.query(promql);
    if (isMetricsError(answer)) return `${answer.kind} error: ${answer.message}`;
    if (!Array.isArray(answer) || answer.some((value) => typeof value !== "number")) {
      return "the metrics reader returned something other than numbers";
    }
    return answer as number[];
  } catch (error) {
    return `query failed: ${messageOf(error)}`;
  }
}

/** The whole count the query's values add up to; `empty` is the reason when an empty answer means no count. */
async function count(reader: MetricsReader, promql: string, empty?: string): Promise<number | string> {
  const answer = await queryValues(reader, promql);
  if (typeof answer === "string") return answer;
  if (empty !== undefined && answer.length === 0) return empty;
  const bad = answer.find((value) => !Number.isFinite(value));
  if (bad !== undefined) return `Prometheus returned ${bad}`;
  return wholeCount(answer.reduce((sum, value) => sum + value, 0));
}

async function histogram(reader: MetricsReader, promql: string) {
  if (!reader.querySamples) return NO_SAMPLES;
  try {
    const answer: unknown = await reader.querySamples(promql);
    if (isMetricsError(answer)) return `${answer.kind} error: ${answer.message}`;
    if (!Array.isArray(answer)) return "the metrics reader returned something other than samples";
    return histogramOf(answer as BucketSample[]);
  } catch (error) {
    return `query failed: ${messageOf(error)}`;
  }
}

async function version(
  reader: MetricsReader,
  queries: VersionQueries,
  who: string,
  emptyRequests?: string,
): Promise<VersionWindow | string> {
  const [requests, errors, buckets] = await Promise.all([
    count(reader, queries.requests, emptyRequests),
    count(reader, queries.errors),
    histogram(reader, queries.buckets),
  ]);
  if (typeof requests === "string") return `${who}: ${requests}`;
  if (typeof errors === "string") return `${who}: ${errors}`;
  if (typeof buckets === "string") return `${who}: ${buckets}`;
  return { requests, errors: Math.min(requests, errors), histogram: buckets };
}

/**
 * Both versions' window, or the first reason it cannot be counted (prefixed with the version's name). `emptyRequests`,
 * when given, is the reason an empty requests answer gives (a freshness guard's); otherwise it counts as 0.
 */
export async function readVersions(
  reader: MetricsReader,
  canary: { name: string; queries: VersionQueries },
  stable: { name: string; queries: VersionQueries },
  emptyRequests?: string,
): Promise<{ canary: VersionWindow; stable: VersionWindow } | { error: string }> {
  if (!reader.querySamples) return { error: NO_SAMPLES };
  const [first, second] = await Promise.all([
    version(reader, canary.queries, canary.name, emptyRequests),
    version(reader, stable.queries, stable.name, emptyRequests),
  ]);
  if (typeof first === "string") return { error: first };
  if (typeof second === "string") return { error: second };
  return { canary: first, stable: second };
}
