// A metrics endpoint that serves Istio-style request metrics for simulated workloads, controllable over HTTP.
/*
 * What it serves (`GET /metrics`, Prometheus text format 0.0.4), for every configured workload and for both
 * reporters ("destination", as the canary's own sidecar reports, and "source", as the ingress gateway does):
 * - `istio_requests_total{reporter, destination_workload_namespace, destination_workload, destination_version,
 *   destination_service_name, destination_service, destination_app, response_code, ...}`: counters for "200" and
 *   "503"; the 503 share is the configured `errorRate`. A 503 series appears once the workload has had an error rate
 *   above 0 (as in Istio, a series exists once it was incremented); the 200 series exists from `set` on, even with
 *   no traffic (a workload whose traffic stopped).
 * - `istio_request_duration_milliseconds_bucket{..., le}` / `_sum` / `_count` with Istio's default buckets, shaped so
 *   that `histogram_quantile(0.95, ...)` gives back `latencyMs` (see `latencyDistribution`); p99 lands at the upper
 *   bound of that bucket or the next one.
 *
 * Deterministic: every counter is `value at the last change + rate * (now - last change)`, so it grows linearly
 * between `set` calls and `rate()` over any window that starts after the last change is exactly the configured
 * rate, whenever the scrapes happen. Changing a workload keeps its counters (they never go down).
 *
 * Control, from any process (vitest workers): `POST /control` with JSON `{"set": Workload}`, `{"remove": WorkloadKey}`
 * or `{"reset": true}`; `GET /control` lists the workloads. `exporterControl(url)` is the client for tests.
 * Workloads are keyed by namespace, deployment and version: tests sharing one exporter use their own namespaces.
 */
import { performance } from "node:perf_hooks";
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

/** Istio's default buckets for `istio_request_duration_milliseconds`. */
export const ISTIO_DURATION_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

export interface WorkloadKey {
  namespace: string;
  /** The Deployment's name: Istio's `destination_workload`. */
  deployment: string;
  /** The pods' `version` label: Istio's `destination_version`. */
  version: string;
}

export interface Workload extends WorkloadKey {
  /** The Kubernetes Service in front of it (`destination_service_name`); default: the deployment's name. */
  service?: string;
  /** Requests per second, >= 0. */
  rps: number;
  /** Share of responses that are 503, in [0, 1]. */
  errorRate: number;
  /** The p95 latency the histogram yields, in milliseconds (> 0). */
  latencyMs: number;
}

const QUANTILE = 0.95;
const UPPER_SHARE = 0.99;

/**
 * Cumulative share of requests at or below each of Istio's bucket bounds, chosen so that Prometheus's
 * `histogram_quantile(0.95, ...)` (linear interpolation inside the bucket holding the 95th percentile) returns
 * `p95Ms`: with `lo < p95 <= hi` the bucket's bounds and `f = (p95 - lo) / (hi - lo)`, the shares `a` at `lo` and `b`
 * at `hi` satisfy `a + (b - a) * f = 0.95`. `b` is 0.99 where possible (p99 then is `hi`); below `lo` the requests
 * are spread evenly, above `hi` they fall in the next bucket.
 */
export function latencyDistribution(p95Ms: number): number[] {
  const bounds = ISTIO_DURATION_BUCKETS_MS;
  const last = bounds.length - 1;
  const target = Math.min(Math.max(p95Ms, Number.MIN_VALUE), bounds[last] ?? 0);
  const k = Math.max(
    0,
    bounds.findIndex((bound) => bound >= target),
  );
  const hi = bounds[k] ?? 0;
  const lo = k === 0 ? 0 : (bounds[k - 1] ?? 0);
  const f = (target - lo) / (hi - lo);
  let below: number;
  let atHi: number;
  if (k === 0) {
    // Nothing can lie below 0 ms: all of the first share goes to the first bucket.
    below = 0;
    atHi = Math.min(1, QUANTILE / f);
  } else if (f < 1 && (QUANTILE - UPPER_SHARE * f) / (1 - f) >= 0) {
    below = (QUANTILE - UPPER_SHARE * f) / (1 - f);
    atHi = UPPER_SHARE;
  } else {
    below = 0.5;
    atHi = below + (QUANTILE - below) / f;
  }
  return bounds.map((bound, index) => {
    if (index < k) return below * (bound / lo);
    if (index === k) return atHi;
    return 1;
  });
}

/** Mean latency of `latencyDistribution`'s piecewise-uniform shape (for `_sum`). */
export function meanLatency(cumulative: readonly number[]): number {
  let mean = 0;
  let previousShare = 0;
  let previousBound = 0;
  ISTIO_DURATION_BUCKETS_MS.forEach((bound, index) => {
    const share = cumulative[index] ?? 1;
    mean += (share - previousShare) * ((previousBound + bound) / 2);
    previousShare = share;
    previousBound = bound;
  });
  return mean + (1 - previousShare) * previousBound;
}

const CODES = ["200", "503"] as const;
type Code = (typeof CODES)[number];

const keyOf = (key: WorkloadKey): string => `${key.namespace}/${key.deployment}/${key.version}`;

/** Per-second rates of every counter of one code under a workload's settings. */
function ratesOf(workload: Required<Workload>, code: Code): HistogramCounters {
  const share = code === "200" ? 1 - workload.errorRate : workload.errorRate;
  const count = workload.rps * share;
  const cumulative = latencyDistribution(workload.latencyMs);
  return {
    count,
    buckets: cumulative.map((fraction) => count * fraction),
    sum: count * meanLatency(cumulative),
  };
}

/** Checks a workload from a caller (possibly JSON from another process); throws one line naming the field. */
export function validateWorkload(input: unknown): Required<Workload> {
  const { name: text, number } = itemFields(input, "workload", "a Kubernetes-style name");
  const deployment = text("deployment");
  return {
    namespace: text("namespace"),
    deployment,
    version: text("version"),
    service: text("service", true) || deployment,
    rps: number("rps", (n) => n >= 0, "a number >= 0"),
    errorRate: number("errorRate", (n) => n >= 0 && n <= 1, "a number in [0, 1]"),
    latencyMs: number("latencyMs", (n) => n > 0, "a number of milliseconds > 0"),
  };
}

function validateKey(input: unknown): WorkloadKey {
  const value = (input ?? {}) as Record<string, unknown>;
  for (const field of ["namespace", "deployment", "version"]) {
    if (typeof value[field] !== "string") throw new Error(`workload.${field} must be a string`);
  }
  return { namespace: String(value.namespace), deployment: String(value.deployment), version: String(value.version) };
}

/** The simulation without HTTP: `render()` is the /metrics body at the clock's current time. */
export class IstioTrafficSimulation {
  readonly #workloads: LinearCounters<Required<Workload>, WorkloadKey, Code>;
  /** Per workload, the codes whose series exist: once a series was incremented it stays. */
  readonly #seen = new Map<string, Set<Code>>();

  constructor(now: () => number = () => performance.now()) {
    this.#workloads = new LinearCounters(
      { codes: CODES, bucketCount: ISTIO_DURATION_BUCKETS_MS.length, keyOf, ratesOf },
      now,
    );
  }

  /** Adds a workload or changes its traffic from now on; its counters carry on from their current values. */
  set(input: Workload): void {
    const workload = validateWorkload(input);
    this.#workloads.set(workload);
    const seen = this.#seen.get(keyOf(workload)) ?? new Set<Code>(["200"]);
    if (workload.errorRate > 0) seen.add("503");
    this.#seen.set(keyOf(workload), seen);
  }

  /** Drops a workload's series (Prometheus marks them stale at the next scrape). */
  remove(key: WorkloadKey): boolean {
    this.#seen.delete(keyOf(key));
    return this.#workloads.remove(key);
  }

  reset(): void {
    this.#workloads.reset();
    this.#seen.clear();
  }

  list(): Workload[] {
    return this.#workloads.list();
  }

  render(): string {
    const requests: string[] = [];
    const durations: string[] = [];
    for (const { item: workload, counters: byCode } of this.#workloads.now()) {
      for (const code of CODES) {
        if (!this.#seen.get(keyOf(workload))?.has(code)) continue;
        const counters = byCode[code];
        for (const reporter of ["destination", "source"] as const) {
          const labels = istioLabels(workload, reporter, code);
          requests.push(`istio_requests_total{${labels}} ${counters.count}`);
          ISTIO_DURATION_BUCKETS_MS.forEach((bound, index) => {
            durations.push(
              `istio_request_duration_milliseconds_bucket{${labels},le="${bound}"} ${counters.buckets[index]}`,
            );
          });
          durations.push(`istio_request_duration_milliseconds_bucket{${labels},le="+Inf"} ${counters.count}`);
          durations.push(`istio_request_duration_milliseconds_sum{${labels}} ${counters.sum}`);
          durations.push(`istio_request_duration_milliseconds_count{${labels}} ${counters.count}`);
        }
      }
    }
    return [
      "# HELP istio_requests_total Total requests.",
      "# TYPE istio_requests_total counter",
      ...requests,
      "# HELP istio_request_duration_milliseconds Request duration in milliseconds.",
      "# TYPE istio_request_duration_milliseconds histogram",
      ...durations,
      "",
    ].join("\n");
  }
}

/** The labels Istio's standard metrics carry (the subset greenlight and dashboards select on). */
function istioLabels(workload: Required<Workload>, reporter: "destination" | "source", code: Code): string {
  const { namespace, deployment, version, service } = workload;
  const labels: Record<string, string> = {
    reporter,
    source_workload: "istio-ingressgateway",
    source_workload_namespace: "istio-system",
    destination_workload: deployment,
    destination_workload_namespace: namespace,
    destination_version: version,
    destination_app: service,
    destination_canonical_service: service,
    destination_canonical_revision: version,
    destination_service: `${service}.${namespace}.svc.cluster.local`,
    destination_service_name: service,
    destination_service_namespace: namespace,
    request_protocol: "http",
    response_code: code,
    response_flags: "-",
    connection_security_policy: reporter === "destination" ? "mutual_tls" : "unknown",
  };
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
    .join(",");
}

export interface IstioExporter extends ServedExporter {
  set(workload: Workload): void;
  remove(key: WorkloadKey): boolean;
  list(): Workload[];
}

const PROTOCOL: ControlProtocol<Workload, WorkloadKey> = {
  listName: "workloads",
  validateItem: validateWorkload,
  validateKey,
  shapes: { item: "workload", key: "key" },
};

/** Starts the exporter on 127.0.0.1 (a free port unless given). */
export async function startIstioExporter(options: { port?: number; now?: () => number } = {}): Promise<IstioExporter> {
  const simulation = new IstioTrafficSimulation(options.now);
  const served = await serveExporter(simulation, PROTOCOL, options.port);
  return {
    ...served,
    set: (workload) => simulation.set(workload),
    remove: (key) => simulation.remove(key),
    list: () => simulation.list(),
  };
}

export type ExporterControl = ControlClient<Workload, WorkloadKey>;

/** A client for a running exporter's `/control`, usable from any test worker. */
export const exporterControl = (url: string): ExporterControl => controlClient(url, PROTOCOL.listName, "exporter");
