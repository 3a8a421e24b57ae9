// The demo router's request accounting: Istio's standard request metrics per destination and code, as Prometheus text.
/*
 * The stepper's checks (functions/canary/checks.ts) select `reporter="destination"`, `destination_workload_namespace`
 * and `destination_workload`, and read `response_code` and the `le` buckets of
 * `istio_request_duration_milliseconds`. The router stands in for the canary's sidecar, so it reports as the
 * destination, with the rest of the label set Istio puts on these series (as scripts/services/istio-exporter.ts does),
 * so that dashboards' queries would work on it too. Series appear when first incremented, as in Istio, and counters
 * never go down.
 */
import { ISTIO_DURATION_BUCKETS_MS } from "../services/istio-exporter.ts";

export { ISTIO_DURATION_BUCKETS_MS };

/** Who served a request: one Deployment (Istio's workload) behind one Service. */
export interface DestinationLabels {
  namespace: string;
  /** The Deployment's name: `destination_workload`. */
  workload: string;
  /** The pods' `version` label: `destination_version`. */
  version: string;
  /** The Kubernetes Service (`destination_service_name`), also the app name. */
  service: string;
}

export interface RequestRecord {
  destination: DestinationLabels;
  /** The HTTP status answered to the client. */
  code: number;
  durationMs: number;
  /** Envoy's response flags: `-` for none, `UF` when the upstream could not be reached. */
  flags?: string;
}

interface Series {
  labels: string;
  destination: DestinationLabels;
  requests: number;
  /** Requests per bucket, not cumulative (index `ISTIO_DURATION_BUCKETS_MS.length` is the overflow). */
  buckets: number[];
  sum: number;
}

export const SOURCE_WORKLOAD = "demo-load";

const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** The label set of one series, in Istio's names; `le` is appended by the histogram lines. */
export function istioLabels(destination: DestinationLabels, code: number, flags: string): string {
  const { namespace, workload, version, service } = destination;
  const labels: Record<string, string> = {
    reporter: "destination",
    source_workload: SOURCE_WORKLOAD,
    source_workload_namespace: namespace,
    destination_workload: workload,
    destination_workload_namespace: namespace,
    destination_version: version,
    destination_app: service,
    destination_canonical_service: service,
    destination_canonical_revision: version,
    destination_service: `${service}.${namespace}.svc.cluster.local`,
    destination_service_name: service,
    destination_service_namespace: namespace,
    request_protocol: "http",
    response_code: String(code),
    response_flags: flags,
    // Plain HTTP on loopback: no mesh certificates in the demo.
    connection_security_policy: "none",
  };
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
    .join(",");
}

/** Index of the first bucket whose upper bound holds the duration; the overflow index when none does. */
export function bucketIndex(durationMs: number): number {
  const index = ISTIO_DURATION_BUCKETS_MS.findIndex((bound) => durationMs <= bound);
  return index < 0 ? ISTIO_DURATION_BUCKETS_MS.length : index;
}

/** Prometheus's text format writes these three specially; everything else is a plain decimal. */
const sample = (value: number): string =>
  Number.isNaN(value) ? "NaN" : value === Number.POSITIVE_INFINITY ? "+Inf" : String(value);

export class IstioRequestMetrics {
  readonly #series = new Map<string, Series>();

  record(request: RequestRecord): void {
    const durationMs = Number.isFinite(request.durationMs) ? Math.max(0, request.durationMs) : 0;
    const labels = istioLabels(request.destination, request.code, request.flags ?? "-");
    let series = this.#series.get(labels);
    if (!series) {
      series = {
        labels,
        destination: { ...request.destination },
        requests: 0,
        buckets: new Array<number>(ISTIO_DURATION_BUCKETS_MS.length + 1).fill(0),
        sum: 0,
      };
      this.#series.set(labels, series);
    }
    series.requests += 1;
    const index = bucketIndex(durationMs);
    series.buckets[index] = (series.buckets[index] ?? 0) + 1;
    series.sum += durationMs;
  }

  /** Requests served so far per `namespace/workload`, every code together (the router's own view of the split). */
  served(): Map<string, number> {
    const totals = new Map<string, number>();
    for (const series of this.#series.values()) {
      const key = `${series.destination.namespace}/${series.destination.workload}`;
      totals.set(key, (totals.get(key) ?? 0) + series.requests);
    }
    return totals;
  }

  /** The `/metrics` body (text format 0.0.4), series in a stable order. */
  render(): string {
    const all = [...this.#series.values()].sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0));
    const requests = all.map((series) => `istio_requests_total{${series.labels}} ${series.requests}`);
    const durations: string[] = [];
    for (const series of all) {
      let cumulative = 0;
      ISTIO_DURATION_BUCKETS_MS.forEach((bound, index) => {
        cumulative += series.buckets[index] ?? 0;
        durations.push(`istio_request_duration_milliseconds_bucket{${series.labels},le="${bound}"} ${cumulative}`);
      });
      durations.push(`istio_request_duration_milliseconds_bucket{${series.labels},le="+Inf"} ${series.requests}`);
      durations.push(`istio_request_duration_milliseconds_sum{${series.labels}} ${sample(series.sum)}`);
      durations.push(`istio_request_duration_milliseconds_count{${series.labels}} ${series.requests}`);
    }
    return [
      "# HELP istio_requests_total Requests answered by the demo router, as the destination's sidecar would count them.",
      "# TYPE istio_requests_total counter",
      ...requests,
      "# HELP istio_request_duration_milliseconds Time from the router receiving a request to its answer.",
      "# TYPE istio_request_duration_milliseconds histogram",
      ...durations,
      "",
    ].join("\n");
  }
}
