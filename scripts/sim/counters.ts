// What the simulated sidecars expose to scraping: Istio's counters, keyed by their labels, only ever growing.
// The mesh adds to them; the metrics store copies them at each scrape (with lag, gaps and outages of its own).

export type Labels = Readonly<Record<string, string>>;

export interface CounterSample {
  name: string;
  labels: Labels;
  value: number;
}

/** A canonical key for a series: metric name and labels sorted by name. */
export function seriesKey(name: string, labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((key) => `${key}=${JSON.stringify(labels[key])}`);
  return `${name}{${parts.join(",")}}`;
}

export class Counters {
  private readonly series = new Map<string, CounterSample>();

  /** Adds `delta` (>= 0) to the counter; creates it at 0 first. */
  add(name: string, labels: Labels, delta: number): void {
    if (!(delta >= 0)) throw new RangeError(`counter ${name} cannot grow by ${delta}`);
    const key = seriesKey(name, labels);
    const found = this.series.get(key);
    if (found) found.value += delta;
    else this.series.set(key, { name, labels: { ...labels }, value: delta });
  }

  /** The counters as they read now (copies, safe to keep). */
  snapshot(): CounterSample[] {
    return [...this.series.values()].map((sample) => ({ ...sample }));
  }

  get size(): number {
    return this.series.size;
  }
}
