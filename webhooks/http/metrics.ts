// Prometheus metrics of the webhook server, on a registry of its own so several apps can live in one process.
/*
 * Counted as plain numbers on the request path (one PathMeter per admission path, made once) and handed to the
 * registry only when /metrics is read. prom-client's own counters and histograms validate and hash their label set
 * on every update, and on the webhook's hot path that cost more than the admission decision they measure. The
 * exposition has the series and values prom-client's Counter and Histogram would write for the same answers
 * (test/webhooks/metrics.test.ts compares the two), so dashboards and alerts see no difference.
 */
import { Counter, collectDefaultMetrics, type Histogram, Registry } from "prom-client";

/** Upper bounds of the latency histogram's buckets, in seconds. */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

export const METRIC_NAMES = {
  requests: "greenlight_webhook_requests_total",
  latency: "greenlight_webhook_request_duration_seconds",
  patches: "greenlight_webhook_patches_total",
  rejections: "greenlight_webhook_rejections_total",
} as const;

/** What one admission path answered since the start. */
export class PathMeter {
  /** Answers by HTTP status code. */
  readonly codes = new Map<number, number>();
  /** Answers that carried a JSON Patch. */
  patches = 0;
  /** Admission requests denied. */
  rejections = 0;
  /** Answers per latency bucket, not cumulative: slot i counts latencies in (bound i-1, bound i]; the last slot, over every bound. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  /** Sum of the latencies, in seconds. */
  seconds = 0;
  /** Answers timed. */
  timed = 0;

  constructor(readonly path: string) {}

  /** One answer with `code`, `seconds` after the request reached the core. */
  answered(code: number, seconds: number): void {
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    let slot = 0;
    while (slot < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[slot] as number)) slot++;
    this.buckets[slot] = (this.buckets[slot] as number) + 1;
    this.seconds += seconds;
    this.timed++;
  }

  /** Back to nothing counted (`registry.resetMetrics()`). */
  reset(): void {
    this.codes.clear();
    this.patches = 0;
    this.rejections = 0;
    this.buckets.fill(0);
    this.seconds = 0;
    this.timed = 0;
  }
}

export interface WebhookMetrics {
  registry: Registry;
  /** The meter of an admission path (made on first use; bind it once, outside the request path). */
  path(path: string): PathMeter;
}

/** One series of a family, as prom-client's registry reads it. */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/**
 * The latency histogram as the registry reads a metric: name, help, type, aggregator and `get()`. It writes the
 * series prom-client's Histogram writes for the same observations: per path its cumulative buckets (`le` first),
 * `+Inf`, `_sum` and `_count`; a path appears once it has answered.
 */
class LatencyHistogram {
  readonly name = METRIC_NAMES.latency;
  readonly help = "Time to answer an admission request";
  readonly type = "histogram";
  readonly aggregator = "sum";

  constructor(private readonly meters: ReadonlyMap<string, PathMeter>) {}

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const meter of this.meters.values()) {
      if (meter.timed === 0) continue;
      const { path } = meter;
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((bound, slot) => {
        cumulative += meter.buckets[slot] as number;
        values.push({ labels: { le: bound, path }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: "+Inf", path }, value: meter.timed, metricName: `${this.name}_bucket` });
      values.push({ labels: { path }, value: meter.seconds, metricName: `${this.name}_sum` });
      values.push({ labels: { path }, value: meter.timed, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /**
   * `registry.resetMetrics()` resets every metric; the counters are read from the meters afresh at each scrape, so
   * resetting the meters here resets them too.
   */
  reset(): void {
    for (const meter of this.meters.values()) meter.reset();
  }
}

/** A counter whose totals are read from the meters when the registry is read. */
function counter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  totals: () => Iterable<[Record<string, string>, number]>,
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, total] of totals()) if (total > 0) this.inc(labels, total);
    },
  });
}

export function createWebhookMetrics(options: { defaultMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const meters = new Map<string, PathMeter>();
  const each = function* <T>(read: (meter: PathMeter) => Iterable<T>): Iterable<T> {
    for (const meter of meters.values()) yield* read(meter);
  };

  counter(
    registry,
    METRIC_NAMES.requests,
    "Admission requests answered, by path and HTTP status code",
    ["path", "code"],
    () => each((m) => [...m.codes].map(([code, total]) => [{ path: m.path, code: String(code) }, total])),
  );
  // Registered second, where prom-client's Histogram stood. The registry takes any object with its metric's shape;
  // its type names only its own classes.
  registry.registerMetric(new LatencyHistogram(meters) as unknown as Histogram<"path">);
  counter(registry, METRIC_NAMES.patches, "Admission responses that carried a JSON Patch", ["path"], () =>
    each((m) => [[{ path: m.path }, m.patches]]),
  );
  counter(registry, METRIC_NAMES.rejections, "Admission requests denied", ["path"], () =>
    each((m) => [[{ path: m.path }, m.rejections]]),
  );

  return {
    registry,
    path(path) {
      let meter = meters.get(path);
      if (meter === undefined) {
        meter = new PathMeter(path);
        meters.set(path, meter);
      }
      return meter;
    },
  };
}
