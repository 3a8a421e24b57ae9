// A metrics endpoint serving an OpenTelemetry-instrumented HTTP server's request durations split by feature flag
// variant, as a guarded flag rollout reads them (functions/flags/rollout/queries.ts), controllable over HTTP.
/*
 * What it serves (`GET /metrics`, Prometheus text format 0.0.4), per configured side of a flag (a flag key and one
 * variant it serves): the histogram `http_server_request_duration_seconds` (`_bucket` with `le`, `_sum`, `_count`)
 * that OpenTelemetry's `http.server.request.duration` becomes in Prometheus, with the labels
 * `feature_flag_key`, `feature_flag_result_variant` (the feature-flag semantic conventions' `feature_flag.key` and
 * `feature_flag.result.variant`), `http_request_method`, `http_route` and `http_response_status_code` ("200", or
 * "500" for the `errorRate` share). Buckets: OpenTelemetry's recommended bounds for that metric
 * (`OTEL_HTTP_DURATION_BUCKETS_S`); latencies log-normal with the configured p50 and p99 (`logNormalCumulative`).
 *
 * Deterministic, as the Istio exporter is: every counter is `value at the last change + rate * (now - last change)`,
 * so `increase()` over a window after the last change is exactly the configured rate times its length. Changing a
 * side keeps its counters (they never go down); a side at 0 rps keeps its series, flat.
 *
 * Control, from any process: `POST /control` with `{"set": FlagSide}`, `{"remove": {key, variant}}` or
 * `{"reset": true}`; `GET /control` lists the sides. `flagExporterControl(url)` is the client for tests.
 */
import { performance } from "node:perf_hooks";
import { normalCdf } from "../../functions/judge/special.ts";
import {
  type ControlClient,
  type ControlProtocol,
  controlClient,
  escapeLabel,
  itemFields,
  type ServedExporter,
  serveExporter,
} from "./controlled-exporter.ts";
import { type HistogramCounters, LinearCounters } from "./linear-counters.ts";

/** OpenTelemetry's recommended bucket bounds for `http.server.request.duration`, in seconds. */
export const OTEL_HTTP_DURATION_BUCKETS_S: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

export const FLAG_METRIC = "http_server_request_duration_seconds";
export const FLAG_ROUTE = "/checkout";

/** Standard normal quantile of 0.99: a log-normal's p99 is p50 · exp(2.326 σ). */
const Z99 = 2.326347874040841;

/**
 * Cumulative share of requests at or below each bound (seconds) for a log-normal latency with this p50 and p99 (ms),
 * and its mean in seconds. p99 at or below p50 gives a point mass at p50.
 */
export function logNormalCumulative(
  p50Ms: number,
  p99Ms: number,
  boundsSeconds: readonly number[] = OTEL_HTTP_DURATION_BUCKETS_S,
): { cumulative: number[]; meanSeconds: number } {
  const median = Math.max(p50Ms, 1e-6) / 1000;
  const sigma = p99Ms > p50Ms ? Math.log(p99Ms / p50Ms) / Z99 : 0;
  const cumulative = boundsSeconds.map((bound) =>
    sigma > 0 ? normalCdf((Math.log(bound) - Math.log(median)) / sigma) : bound >= median ? 1 : 0,
  );
  return { cumulative, meanSeconds: median * Math.exp((sigma * sigma) / 2) };
}

export interface FlagSideKey {
  /** The flag's key: `feature_flag_key`. */
  key: string;
  /** The variant this side serves: `feature_flag_result_variant`. */
  variant: string;
}

export interface FlagSide extends FlagSideKey {
  /** Requests per second served this variant, >= 0. */
  rps: number;
  /** Share answered 500, in [0, 1]. */
  errorRate: number;
  /** Median and 99th percentile latency in milliseconds (p99 >= p50 > 0). */
  p50Ms: number;
  p99Ms: number;
}

const CODES = ["200", "500"] as const;
type Code = (typeof CODES)[number];

const keyOf = (side: FlagSideKey): string => `${side.key}\u0000${side.variant}`;

function ratesOf(side: FlagSide, code: Code): HistogramCounters {
  const count = side.rps * (code === "200" ? 1 - side.errorRate : side.errorRate);
  const { cumulative, meanSeconds } = logNormalCumulative(side.p50Ms, side.p99Ms);
  return { count, buckets: cumulative.map((share) => count * share), sum: count * meanSeconds };
}

/** Checks a side from a caller (possibly JSON from another process); throws one line naming the field. */
export function validateFlagSide(input: unknown): FlagSide {
  const { name: text, number } = itemFields(input, "side", "a flag key or variant name (letters, digits, . _ -)");
  const p50Ms = number("p50Ms", (n) => n > 0, "a number of milliseconds > 0");
  return {
    key: text("key"),
    variant: text("variant"),
    rps: number("rps", (n) => n >= 0, "a number >= 0"),
    errorRate: number("errorRate", (n) => n >= 0 && n <= 1, "a number in [0, 1]"),
    p50Ms,
    p99Ms: number("p99Ms", (n) => n >= p50Ms, `a number of milliseconds >= p50Ms (${p50Ms})`),
  };
}

function labelsOf(side: FlagSideKey, code: Code): string {
  const labels: Record<string, string> = {
    feature_flag_key: side.key,
    feature_flag_result_variant: side.variant,
    http_request_method: "GET",
    http_route: FLAG_ROUTE,
    http_response_status_code: code,
  };
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
    .join(",");
}

/** The simulation without HTTP: `render()` is the /metrics body at the clock's current time. */
export class FlagTrafficSimulation {
  readonly #sides: LinearCounters<FlagSide, FlagSideKey, Code>;

  constructor(now: () => number = () => performance.now()) {
    this.#sides = new LinearCounters(
      { codes: CODES, bucketCount: OTEL_HTTP_DURATION_BUCKETS_S.length, keyOf, ratesOf },
      now,
    );
  }

  /** Adds a side or changes its traffic from now on; its counters carry on from their current values. */
  set(input: FlagSide): void {
    this.#sides.set(validateFlagSide(input));
  }

  remove(key: FlagSideKey): boolean {
    return this.#sides.remove(key);
  }

  reset(): void {
    this.#sides.reset();
  }

  list(): FlagSide[] {
    return this.#sides.list();
  }

  render(): string {
    const lines: string[] = [];
    for (const { item: side, counters: byCode } of this.#sides.now()) {
      for (const code of CODES) {
        const counters = byCode[code];
        const labels = labelsOf(side, code);
        OTEL_HTTP_DURATION_BUCKETS_S.forEach((bound, index) => {
          lines.push(`${FLAG_METRIC}_bucket{${labels},le="${bound}"} ${counters.buckets[index]}`);
        });
        lines.push(`${FLAG_METRIC}_bucket{${labels},le="+Inf"} ${counters.count}`);
        lines.push(`${FLAG_METRIC}_sum{${labels}} ${counters.sum}`);
        lines.push(`${FLAG_METRIC}_count{${labels}} ${counters.count}`);
      }
    }
    return [
      `# HELP ${FLAG_METRIC} Duration of HTTP server requests.`,
      `# TYPE ${FLAG_METRIC} histogram`,
      ...lines,
      "",
    ].join("\n");
  }
}

function validateKey(input: unknown): FlagSideKey {
  const value = (input ?? {}) as Record<string, unknown>;
  for (const field of ["key", "variant"]) {
    if (typeof value[field] !== "string") throw new Error(`remove.${field} must be a string`);
  }
  return { key: String(value.key), variant: String(value.variant) };
}

const PROTOCOL: ControlProtocol<FlagSide, FlagSideKey> = {
  listName: "sides",
  validateItem: validateFlagSide,
  validateKey,
  shapes: { item: "side", key: "{key, variant}" },
};

export interface FlagExporter extends ServedExporter {
  simulation: FlagTrafficSimulation;
}

/** Starts the exporter on 127.0.0.1 (a free port unless given). */
export async function startFlagExporter(options: { port?: number; now?: () => number } = {}): Promise<FlagExporter> {
  const simulation = new FlagTrafficSimulation(options.now);
  return { ...(await serveExporter(simulation, PROTOCOL, options.port)), simulation };
}

export type FlagExporterControl = ControlClient<FlagSide, FlagSideKey>;

/** A client for a running exporter's `/control`, usable from any test worker. */
export const flagExporterControl = (url: string): FlagExporterControl =>
  controlClient(url, PROTOCOL.listName, "flag exporter");
