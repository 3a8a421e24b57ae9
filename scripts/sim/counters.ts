// What the simulated sidecars expose to scraping: Istio's counters, keyed by their labels, only ever growing.
// The mesh adds to them; the metrics store copies them at each scrape (with lag, gaps and outages of its own).

export type Labels = Readonly<Record<string, string>>;

export interface CounterSample {
  name: string;
  labels: Labels;
  value: number;
}

/**
 * A key for a series: the metric name and its labels in the order given. The mesh always builds a series' labels in
 * the same order, and sorting or serialising them on every add was a quarter of a timeline's time.
 */
export function seriesKey(name: string, labels: Labels): string {
  let key = name;
  for (const label in labels) key += `\u0001${label}\u0002${labels[label]}`;
  return key;
}

export class Counters {
  private readonly series = new Map<string, CounterSample>();
  /** The mesh passes the same label objects every tick: their series are found without building a key. */
  private readonly byLabels = new WeakMap<Labels, Map<string, CounterSample>>();

  /** Adds `delta` (>= 0) to the counter; creates it at 0 first. */
  add(name: string, labels: Labels, delta: number): void {
    if (!(delta >= 0)) throw new RangeError(`counter ${name} cannot grow by ${delta}`);
    let named = this.byLabels.get(labels);
    const cached = named?.get(name);
    if (cached) {
      cached.value += delta;
      return;
    }
    const key = seriesKey(name, labels);
    let found = this.series.get(key);
    if (found) found.value += delta;
    else {
      found = { name, labels: { ...labels }, value: delta };
      this.series.set(key, found);
    }
    // Only frozen label objects are cached: a caller could change any other after the call.
    if (Object.isFrozen(labels)) {
      if (!named) {
        named = new Map();
        this.byLabels.set(labels, named);
      }
      named.set(name, found);
    }
  }

  /** The counters as they read now (copies, safe to keep). */
  snapshot(): CounterSample[] {
    return [...this.series.values()].map((sample) => ({ ...sample }));
  }

  get size(): number {
    return this.series.size;
  }
}
