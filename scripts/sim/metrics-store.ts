// The simulated Prometheus's storage: scrapes the sidecars' counters on a fixed interval into bounded series,
// with missed scrapes, ingestion lag and outages, and answers the stepper's queries as a `MetricsReader`.
import type { LabelledSample, MetricsError, MetricsReader } from "../../functions/canary/checks.ts";
import { type CounterSample, type Counters, type Labels, seriesKey } from "./counters.ts";
import {
  type EvalOptions,
  evaluatePromql,
  evaluatePromqlSamples,
  type Metric,
  type SeriesData,
  type SeriesSource,
} from "./promql.ts";
import type { Random } from "./random.ts";

export interface ScrapeSettings {
  intervalSeconds: number;
  lagSeconds: number;
  missProbability: number;
  outages: readonly { fromMs: number; toMs: number }[];
}

export interface StoreOptions {
  /** Samples older than this are dropped; must cover the longest range plus the 5m lookback. Default 2 h. */
  retentionMs?: number;
  /** Which Prometheus major version's query semantics to follow; default "v2". */
  semantics?: EvalOptions["semantics"];
}

export const PROMETHEUS_ADDRESS = "sim://prometheus";
const DEFAULT_RETENTION_MS = 2 * 3_600_000;
/** Compact a series' arrays once this many expired samples sit at their front. */
const COMPACT_AFTER = 256;

interface StoredSeries extends SeriesData {
  readonly key: string;
  readonly metric: Metric;
  readonly times: number[];
  readonly values: number[];
  start: number;
}

export class MetricsStore implements SeriesSource {
  private readonly intervalMs: number;
  private readonly lagMs: number;
  private readonly retentionMs: number;
  private readonly semantics: EvalOptions["semantics"];
  private readonly byKey = new Map<string, StoredSeries>();
  private readonly index = new Map<string, StoredSeries[]>();
  /** Counters hand out the same labels object for a series on every snapshot: skips the key computation. */
  private readonly byLabels = new WeakMap<Labels, StoredSeries>();
  private nextScrapeMs: number | undefined;

  constructor(
    private readonly settings: ScrapeSettings,
    private readonly random: Random,
    options: StoreOptions = {},
  ) {
    if (!(settings.intervalSeconds > 0)) throw new RangeError("scrape interval must be positive");
    this.intervalMs = settings.intervalSeconds * 1000;
    this.lagMs = Math.max(0, settings.lagSeconds * 1000);
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.semantics = options.semantics ?? "v2";
  }

  /** Scrapes at each multiple of the interval reached since the last call, unless missed or inside an outage. */
  observe(nowMs: number, counters: Counters): void {
    if (this.nextScrapeMs === undefined) this.nextScrapeMs = Math.ceil(nowMs / this.intervalMs) * this.intervalMs;
    if (this.nextScrapeMs > nowMs) return;
    // A long jump between calls: scrapes older than the retention would be dropped at once, skip them.
    const oldestUseful = Math.ceil((nowMs - this.retentionMs) / this.intervalMs) * this.intervalMs;
    if (this.nextScrapeMs < oldestUseful) this.nextScrapeMs = oldestUseful;
    const samples = counters.snapshot();
    for (; this.nextScrapeMs <= nowMs; this.nextScrapeMs += this.intervalMs) {
      const at = this.nextScrapeMs;
      if (this.inOutage(at)) continue;
      if (this.settings.missProbability > 0 && this.random.chance(this.settings.missProbability)) continue;
      this.scrape(at, samples);
    }
    // Expiry runs only when the interval came round, not on every tick.
    this.expire(nowMs - this.retentionMs);
  }

  /** A reader evaluating at `now()`; during an outage every query fails as a network error. */
  reader(now: () => number): MetricsReader {
    return {
      query: async (promql: string) => this.evaluate(promql, now()),
      querySamples: async (promql: string) => this.evaluateSamples(promql, now()),
    };
  }

  /** As `evaluate`, with the samples' labels. */
  evaluateSamples(promql: string, atMs: number): LabelledSample[] | MetricsError {
    if (this.inOutage(atMs)) {
      return { kind: "network", message: `Prometheus at ${PROMETHEUS_ADDRESS} unreachable (simulated outage)` };
    }
    return evaluatePromqlSamples(promql, this, { atMs, visibleUntilMs: atMs - this.lagMs, semantics: this.semantics });
  }

  /** One expression at `atMs`, seeing only the samples already ingested then (scrape time + lag <= atMs). */
  evaluate(promql: string, atMs: number): number[] | MetricsError {
    if (this.inOutage(atMs)) {
      return { kind: "network", message: `Prometheus at ${PROMETHEUS_ADDRESS} unreachable (simulated outage)` };
    }
    return evaluatePromql(promql, this, { atMs, visibleUntilMs: atMs - this.lagMs, semantics: this.semantics });
  }

  byName(name: string): readonly SeriesData[] {
    return this.index.get(name) ?? [];
  }

  all(): Iterable<SeriesData> {
    return this.byKey.values();
  }

  /** The stored samples of every series (for tools and the cross-check against a real Prometheus). */
  dump(): { metric: Metric; times: number[]; values: number[] }[] {
    return [...this.byKey.values()].map((series) => ({
      metric: series.metric,
      times: series.times.slice(series.start),
      values: series.values.slice(series.start),
    }));
  }

  get seriesCount(): number {
    return this.byKey.size;
  }

  private inOutage(atMs: number): boolean {
    return this.settings.outages.some((outage) => atMs >= outage.fromMs && atMs < outage.toMs);
  }

  private scrape(at: number, samples: readonly CounterSample[]): void {
    for (const sample of samples) {
      const series = this.seriesFor(sample);
      const last = series.times.length - 1;
      if (last >= series.start && (series.times[last] as number) >= at) continue;
      series.times.push(at);
      series.values.push(sample.value);
    }
  }

  private seriesFor(sample: CounterSample): StoredSeries {
    const known = this.byLabels.get(sample.labels);
    if (known && this.byKey.get(known.key) === known && known.metric.__name__ === sample.name) return known;
    const key = seriesKey(sample.name, sample.labels);
    let series = this.byKey.get(key);
    if (!series) {
      series = { key, metric: { ...sample.labels, __name__: sample.name }, times: [], values: [], start: 0 };
      this.byKey.set(key, series);
      const named = this.index.get(sample.name);
      if (named) named.push(series);
      else this.index.set(sample.name, [series]);
    }
    this.byLabels.set(sample.labels, series);
    return series;
  }

  private expire(beforeMs: number): void {
    for (const series of this.byKey.values()) {
      const { times } = series;
      while (series.start < times.length && (times[series.start] as number) < beforeMs) series.start++;
      if (series.start === times.length) {
        this.forget(series);
      } else if (series.start >= COMPACT_AFTER) {
        times.splice(0, series.start);
        series.values.splice(0, series.start);
        series.start = 0;
      }
    }
  }

  private forget(series: StoredSeries): void {
    this.byKey.delete(series.key);
    const name = series.metric.__name__ as string;
    const named = (this.index.get(name) ?? []).filter((other) => other !== series);
    if (named.length > 0) this.index.set(name, named);
    else this.index.delete(name);
  }
}
