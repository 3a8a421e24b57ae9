// The PromQL a guarded rollout reads (pure): one window's requests, failed requests and latency buckets for the
// treatment (the flag's new variant) and the control (every other variant), and the custom checks rendered.
//
// Series are selected by the labels OpenTelemetry's feature-flag semantic conventions give, as Prometheus exports
// them (`feature_flag.key` -> `feature_flag_key`, `feature_flag.result.variant` -> `feature_flag_result_variant`), on
// the HTTP server duration histogram of OpenTelemetry's HTTP conventions (`http.server.request.duration`, seconds).
// Every name is configurable (GREENLIGHT_FLAGS_METRIC_*, see docs/FLAGS.md).
import { type Env, readSettingOr } from "../../contract/settings.ts";
import type { Parsed } from "../../contract/values.ts";
import { freshnessLimitSeconds } from "../../judge/read.ts";
import type { ResolvedPlan } from "./plan.ts";

export interface RolloutMetrics {
  /** The request counter (a histogram's `_count` will do). */
  requests: string;
  /** The latency histogram's bucket series (with an `le` label). */
  buckets: string;
  /** Label matchers that pick the failed requests out of `requests`. */
  errorSelector: string;
  /** The label holding the flag key. */
  keyLabel: string;
  /** The label holding the variant served. */
  variantLabel: string;
}

export const DEFAULT_ROLLOUT_METRICS: RolloutMetrics = {
  requests: "http_server_request_duration_seconds_count",
  buckets: "http_server_request_duration_seconds_bucket",
  errorSelector: 'http_response_status_code=~"5.."',
  keyLabel: "feature_flag_key",
  variantLabel: "feature_flag_result_variant",
};

/** The environment variables, by field. */
export const ROLLOUT_METRIC_ENV: Record<keyof RolloutMetrics, string> = {
  requests: "GREENLIGHT_FLAGS_METRIC_REQUESTS",
  buckets: "GREENLIGHT_FLAGS_METRIC_BUCKETS",
  errorSelector: "GREENLIGHT_FLAGS_METRIC_ERROR_SELECTOR",
  keyLabel: "GREENLIGHT_FLAGS_METRIC_KEY_LABEL",
  variantLabel: "GREENLIGHT_FLAGS_METRIC_VARIANT_LABEL",
};

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** One or more `label op "value"` matchers, comma-separated. */
const SELECTOR =
  /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*(,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*)*$/;

const matching =
  (pattern: RegExp, accepted: string) =>
  (raw: string): Parsed<string> =>
    pattern.test(raw) ? { ok: true, value: raw } : { ok: false, problem: `accepted: ${accepted}` };

const metricName = matching(METRIC_NAME, "a Prometheus metric name, e.g. http_server_request_duration_seconds_count");
const labelName = matching(LABEL_NAME, "a Prometheus label name, e.g. feature_flag_key");
const selector = matching(SELECTOR, 'comma-separated label matchers, e.g. http_response_status_code=~"5.."');

/** The metric names from the environment, each defaulted; a bad one throws SettingError naming the variable. */
export function rolloutMetricsFromEnv(env: Env): RolloutMetrics {
  const d = DEFAULT_ROLLOUT_METRICS;
  const e = ROLLOUT_METRIC_ENV;
  return {
    requests: readSettingOr(env, e.requests, metricName, d.requests),
    buckets: readSettingOr(env, e.buckets, metricName, d.buckets),
    errorSelector: readSettingOr(env, e.errorSelector, selector, d.errorSelector),
    keyLabel: readSettingOr(env, e.keyLabel, labelName, d.keyLabel),
    variantLabel: readSettingOr(env, e.variantLabel, labelName, d.variantLabel),
  };
}

export interface SideQueries {
  /** Requests in the window; an empty answer when the side's newest sample is stale (or it has none). */
  requests: string;
  errors: string;
  buckets: string;
}

export interface RolloutQueries {
  treatment: SideQueries;
  control: SideQueries;
  /** Custom checks' rendered PromQL, by name. */
  custom: Record<string, string>;
}

const literal = (value: string): string => JSON.stringify(value);

/** Fills `{{key}}`, `{{variant}}` and `{{interval}}`; other placeholders are left as written. */
export function renderRolloutQuery(
  query: string,
  variables: { key: string; variant: string; interval: string },
): string {
  return query.replace(/\{\{\s*([a-z]+)\s*\}\}/g, (whole, name: string) =>
    name === "key" || name === "variant" || name === "interval" ? variables[name] : whole,
  );
}

/** One window's queries for `key` under `plan` (the window is the plan's interval). */
export function rolloutQueries(
  key: string,
  plan: Pick<ResolvedPlan, "variant" | "intervalSeconds" | "checks">,
  metrics: RolloutMetrics = DEFAULT_ROLLOUT_METRICS,
): RolloutQueries {
  const window = `${plan.intervalSeconds}s`;
  const flag = `${metrics.keyLabel}=${literal(key)}`;
  const limit = freshnessLimitSeconds(plan.intervalSeconds);
  const of = (side: string): SideQueries => {
    const selector = `${flag},${metrics.variantLabel}${side}${literal(plan.variant)}`;
    // The count only while the newest sample is fresh: when scrapes stop, increase() reads the old part of the
    // window alone and the judge would count requests it has counted before. Empty answer: the window is not read.
    const fresh = `(time() - max(timestamp(${metrics.requests}{${selector}})) < ${limit})`;
    return {
      requests: `(sum(increase(${metrics.requests}{${selector}}[${window}])) or vector(0)) and on() ${fresh}`,
      errors: `sum(increase(${metrics.requests}{${selector},${metrics.errorSelector}}[${window}])) or vector(0)`,
      buckets: `sum by (le) (increase(${metrics.buckets}{${selector}}[${window}]))`,
    };
  };
  const custom: Record<string, string> = {};
  for (const check of plan.checks) {
    if (check.kind === "custom") {
      custom[check.name] = renderRolloutQuery(check.query, { key, variant: plan.variant, interval: window });
    }
  }
  return { treatment: of("="), control: of("!="), custom };
}
