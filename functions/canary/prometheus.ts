// The canary's `MetricsReader` over Prometheus's HTTP API (prometheus-query), with its rejections made typed errors.
/*
 * API:
 * - `createPrometheusReader({ url, timeoutMs })`: one instant query a call. A vector gives its samples' values, a
 *   scalar `[value]`, an empty vector `[]`; NaN and ±Inf stay numbers (the core judges them). Never throws: a failure
 *   is a `MetricsError` whose one-line message names the URL and what to do.
 * - `prometheusUrlFromEnv(env)`: `PROMETHEUS_URL` (default http://127.0.0.1:9090), checked to be an http(s) URL.
 *
 * prometheus-query 3.5.1 rejects with plain objects, not Errors (seen against Prometheus 2.42):
 * - refused / DNS / reset / TLS:  { status: "error", errorType: "network_error", error: "connect ECONNREFUSED
 *   127.0.0.1:9", code: "ECONNREFUSED", original: AxiosError }   (code also ENOTFOUND, ECONNRESET, EPROTO, ...)
 * - client-side timeout:          { status, errorType: "timeout_error", error: "timeout of 300ms exceeded",
 *   code: "ECONNABORTED", original }
 * - Prometheus error answer:      { status, errorType: "http_error", httpStatus: 400, error: "invalid parameter
 *   \"query\": 1:10: parse error: ...", prometheus: { status: "error", errorType: "bad_data", error } }
 *   (422 "execution" for a query that fails to evaluate, 503 "timeout" when Prometheus's own query timeout hits)
 * - an answer that is not the API's JSON (a 404 page, a proxy's HTML):
 *                                 { status, errorType: "client_error", error: "unexpected client error", data: body }
 * - TLS handshake errors by code: { errorType: "ssl_error", ... } for ERR_SSL_* codes.
 * And it parses sample values with parseFloat, which turns Prometheus's "+Inf" / "-Inf" into NaN: a response
 * interceptor rewrites them to "Infinity" / "-Infinity" first. Scalars come back raw, `[time, "value"]`.
 *
 * Deadline and cancel: the driver hands axios `timeout`, which is not a deadline. Through follow-redirects it is a
 * wall-clock timer only until the response headers arrive, then a socket idle timeout: a Prometheus (or a proxy)
 * that sends headers and then a byte now and then holds a query for as long as it likes (a 300 ms timeout was seen
 * to wait 2 s for a body trickled over 2 s). So a request interceptor also gives every request
 * `signal: AbortSignal.timeout(timeoutMs)`: axios destroys the request when it fires, whatever the phase, and the
 * driver rejects with `{ errorType: "network_error", code: "ERR_CANCELED" }`, which is read as the timeout it is
 * (nothing else cancels these requests). A query therefore settles within timeoutMs, and its socket is closed.
 */
import { PrometheusDriver } from "prometheus-query";
import type { LabelledSample, MetricsError, MetricsReader } from "./checks.ts";

export const DEFAULT_PROMETHEUS_URL = "http://127.0.0.1:9090";
export const DEFAULT_QUERY_TIMEOUT_MS = 10_000;
const MESSAGE_LIMIT = 300;

export interface PrometheusReaderOptions {
  /** Prometheus's base URL (with a path prefix if it is served under one), e.g. http://prometheus:9090. */
  url: string;
  /** Client-side limit for one query, also sent to Prometheus as its evaluation timeout. Default 10 s. */
  timeoutMs?: number;
}

/** `PROMETHEUS_URL`, or the default; throws one line when it is not an http(s) URL. */
export function prometheusUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.PROMETHEUS_URL?.trim();
  if (!raw) return DEFAULT_PROMETHEUS_URL;
  return checkPrometheusUrl(raw, "PROMETHEUS_URL");
}

/** The URL without a trailing slash; throws one line naming `source` when it is not a usable http(s) URL. */
export function checkPrometheusUrl(raw: string, source = "the Prometheus URL"): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Quoted only without an "@": a URL that carries credentials is a secret, and this message reaches logs.
    const quoted = raw.includes("@") ? "" : ` ${JSON.stringify(raw)}`;
    throw new Error(`${source}${quoted} is not a URL: use e.g. http://prometheus.monitoring:9090`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${source} ${JSON.stringify(shown(raw))} must use http or https, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.search || url.hash) {
    throw new Error(
      `${source} ${JSON.stringify(shown(raw))} must not carry a query or fragment: give Prometheus's base URL`,
    );
  }
  return raw.replace(/\/+$/, "");
}

/** The URL as shown in messages: no password. */
function shown(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = "***";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

const oneLine = (text: string): string => {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > MESSAGE_LIMIT ? `${flat.slice(0, MESSAGE_LIMIT - 1)}…` : flat;
};

/** Prometheus writes non-finite sample values as "+Inf" / "-Inf"; parseFloat only knows "Infinity". */
const jsFloat = (value: unknown): unknown => (value === "+Inf" ? "Infinity" : value === "-Inf" ? "-Infinity" : value);

function normaliseInfinities(body: unknown): void {
  const data = (body as { data?: { resultType?: unknown; result?: unknown } } | null)?.data;
  if (!data || !Array.isArray(data.result)) return;
  if (data.resultType === "scalar") {
    data.result[1] = jsFloat(data.result[1]);
  } else if (data.resultType === "vector") {
    for (const sample of data.result as { value?: unknown }[]) {
      if (Array.isArray(sample?.value)) sample.value[1] = jsFloat(sample.value[1]);
    }
  }
}

/** A query's numbers from the driver's parsed result; a non-instant result is the query's fault. */
function valuesOf(result: { resultType?: unknown; result?: unknown }, url: string): number[] | MetricsError {
  const { resultType } = result;
  const samples: unknown = result.result;
  if (resultType === "vector" && Array.isArray(samples)) {
    const values = samples.map((sample: { value?: { value?: unknown } }) => sample?.value?.value);
    if (values.every((value): value is number => typeof value === "number")) return values;
  } else if (resultType === "scalar" && Array.isArray(samples)) {
    return [Number.parseFloat(String(samples[1]))];
  } else if (resultType === "matrix" || resultType === "string") {
    return {
      kind: "query",
      message: oneLine(
        `Prometheus at ${shown(url)} returned a ${resultType} for an instant query: the check's PromQL must give ` +
          "a vector or a scalar (wrap a range selector in rate(), increase() or *_over_time())",
      ),
    };
  }
  return {
    kind: "other",
    message: oneLine(`Prometheus at ${shown(url)} answered with an unreadable ${String(resultType)} result`),
  };
}

/** A vector's samples with their labels (the comparative judge's bucket queries); anything else as `valuesOf` says. */
function samplesOf(result: { resultType?: unknown; result?: unknown }, url: string): LabelledSample[] | MetricsError {
  if (result.resultType !== "vector" || !Array.isArray(result.result)) {
    const values = valuesOf(result, url);
    return Array.isArray(values) ? values.map((value) => ({ labels: {}, value })) : values;
  }
  const samples: LabelledSample[] = [];
  for (const sample of result.result as { metric?: { labels?: unknown }; value?: { value?: unknown } }[]) {
    const value = sample?.value?.value;
    if (typeof value !== "number") {
      return { kind: "other", message: oneLine(`Prometheus at ${shown(url)} answered with an unreadable sample`) };
    }
    const labels: Record<string, string> = {};
    const raw = sample?.metric?.labels;
    if (raw && typeof raw === "object") {
      for (const [name, text] of Object.entries(raw)) if (typeof text === "string") labels[name] = text;
    }
    samples.push({ labels, value });
  }
  return samples;
}

interface DriverRejection {
  errorType?: unknown;
  error?: unknown;
  code?: unknown;
  httpStatus?: unknown;
  prometheus?: { errorType?: unknown; error?: unknown };
  data?: unknown;
}

const asText = (value: unknown): string => (typeof value === "string" ? value : "");

const timedOut = (where: string, timeoutMs: number): MetricsError => ({
  kind: "timeout",
  message: oneLine(`${where} did not answer within ${timeoutMs} ms: check its load, or raise the timeout`),
});

/** One prometheus-query rejection (or anything else thrown) as a `MetricsError` with a hint. */
export function toMetricsError(rejection: unknown, url: string, timeoutMs: number): MetricsError {
  const where = `Prometheus at ${shown(url)}`;
  if (rejection instanceof Error) {
    return { kind: "other", message: oneLine(`${where}: ${rejection.message}`) };
  }
  if (typeof rejection !== "object" || rejection === null) {
    return { kind: "other", message: oneLine(`${where}: ${String(rejection)}`) };
  }
  const { errorType, error, code, httpStatus, prometheus, data } = rejection as DriverRejection;
  const detail = asText(error);
  const errorCode = asText(code);
  // Our own AbortSignal.timeout fired (see the header): the wall-clock deadline, not a network failure.
  if (errorType === "network_error" && errorCode === "ERR_CANCELED") return timedOut(where, timeoutMs);
  switch (errorType) {
    case "network_error":
    case "ssl_error": {
      const hint =
        errorCode === "ENOTFOUND" || errorCode === "EAI_AGAIN"
          ? "check the host name in PROMETHEUS_URL"
          : errorCode === "EPROTO" || errorType === "ssl_error"
            ? "check http vs https in PROMETHEUS_URL"
            : "check PROMETHEUS_URL and that Prometheus is running";
      return { kind: "network", message: oneLine(`${where} unreachable (${errorCode || detail}): ${hint}`) };
    }
    case "timeout_error":
      return timedOut(where, timeoutMs);
    case "http_error": {
      const type = asText(prometheus?.errorType);
      const reason = oneLine(`${type ? `${type}: ` : ""}${asText(prometheus?.error) || detail}`);
      if (type === "timeout") {
        return {
          kind: "timeout",
          message: oneLine(`${where} timed out evaluating the query (${reason}): simplify it or raise the timeout`),
        };
      }
      if (type === "bad_data" || type === "execution" || httpStatus === 400 || httpStatus === 422) {
        return { kind: "query", message: oneLine(`${where} rejected the query (${reason}): fix the PromQL`) };
      }
      return {
        kind: "http",
        message: oneLine(`${where} answered HTTP ${String(httpStatus)} (${reason}): check that Prometheus is healthy`),
      };
    }
    case "client_error": {
      const body = typeof data === "string" ? data : JSON.stringify(data ?? null);
      return {
        kind: "http",
        message: oneLine(
          `${where} answered without Prometheus's API JSON (${body.slice(0, 80)}): check that PROMETHEUS_URL ` +
            "points at Prometheus itself (its /api/v1 must be below it)",
        ),
      };
    }
    default:
      return { kind: "other", message: oneLine(`${where}: ${detail || JSON.stringify(rejection)}`) };
  }
}

/** A `MetricsReader` querying Prometheus at `url`; its queries resolve to numbers or a `MetricsError`, never throw. */
export function createPrometheusReader(options: PrometheusReaderOptions): MetricsReader {
  const url = checkPrometheusUrl(options.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`the Prometheus query timeout must be a positive number of milliseconds, got ${timeoutMs}`);
  }
  const driver = new PrometheusDriver({
    endpoint: url,
    timeout: timeoutMs,
    // Runs as each request starts: its own deadline, counted from then (a signal made once would fire only once).
    requestInterceptor: {
      onFulfilled: (config) => {
        config.signal = AbortSignal.timeout(Math.ceil(timeoutMs)); // whole ms: it refuses fractions
        return config;
      },
    },
    responseInterceptor: {
      onFulfilled: (response) => {
        normaliseInfinities(response.data);
        return response;
      },
    },
  });
  const evaluationTimeout = `${Math.ceil(timeoutMs)}ms`;
  return {
    async query(promql: string): Promise<number[] | MetricsError> {
      try {
        const result = await driver.instantQuery(promql, undefined, evaluationTimeout);
        return valuesOf(result, url);
      } catch (rejection) {
        return toMetricsError(rejection, url, timeoutMs);
      }
    },
    async querySamples(promql: string): Promise<LabelledSample[] | MetricsError> {
      try {
        const result = await driver.instantQuery(promql, undefined, evaluationTimeout);
        return samplesOf(result, url);
      } catch (rejection) {
        return toMetricsError(rejection, url, timeoutMs);
      }
    },
  };
}
