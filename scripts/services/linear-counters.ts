// The counting both test exporters share (istio-exporter.ts, flag-exporter.ts): every counter of an item is `value at
// its last change + rate * (now - last change)`, so it grows linearly between changes and `rate()` or `increase()`
// over a window after the last change is exactly the configured rate, whenever the scrapes happen. Changing an item
// keeps its counters (they never go down).

/** One response code's counters: requests, cumulative bucket counts (one per bound), and the sum of the latencies. */
export interface HistogramCounters {
  count: number;
  buckets: number[];
  sum: number;
}

/** How an exporter's items count: which codes they answer, how many buckets, and each counter's rate per second. */
export interface CountingSpec<Item, Key, Code extends string> {
  codes: readonly Code[];
  bucketCount: number;
  keyOf(key: Key): string;
  ratesOf(item: Item, code: Code): HistogramCounters;
}

interface Entry<Item, Code extends string> {
  item: Item;
  /** Counter values at `since` (ms on the simulation clock). */
  base: Record<Code, HistogramCounters>;
  since: number;
}

/** Items keyed apart, each with counters per code that advance at the rates of its current settings. */
export class LinearCounters<Item extends Key, Key extends object, Code extends string> {
  readonly #entries = new Map<string, Entry<Item, Code>>();
  readonly #spec: CountingSpec<Item, Key, Code>;
  readonly #now: () => number;

  constructor(spec: CountingSpec<Item, Key, Code>, now: () => number) {
    this.#spec = spec;
    this.#now = now;
  }

  /** Adds an item or changes its rates from now on; its counters carry on. Returns the item it replaced. */
  set(item: Item): Item | undefined {
    const now = this.#now();
    const key = this.#spec.keyOf(item);
    const existing = this.#entries.get(key);
    const base = Object.fromEntries(
      this.#spec.codes.map((code) => [code, existing ? this.#countersAt(existing, code, now) : this.#zero()]),
    ) as Record<Code, HistogramCounters>;
    this.#entries.set(key, { item, base, since: now });
    return existing?.item;
  }

  remove(key: Key): boolean {
    return this.#entries.delete(this.#spec.keyOf(key));
  }

  reset(): void {
    this.#entries.clear();
  }

  list(): Item[] {
    return [...this.#entries.values()].map((entry) => ({ ...entry.item }));
  }

  /** Every item with its counters per code at the clock's current time. */
  now(): { item: Item; counters: Record<Code, HistogramCounters> }[] {
    const now = this.#now();
    return [...this.#entries.values()].map((entry) => ({
      item: entry.item,
      counters: Object.fromEntries(
        this.#spec.codes.map((code) => [code, this.#countersAt(entry, code, now)]),
      ) as Record<Code, HistogramCounters>,
    }));
  }

  #zero(): HistogramCounters {
    return { count: 0, buckets: Array.from({ length: this.#spec.bucketCount }, () => 0), sum: 0 };
  }

  #countersAt(entry: Entry<Item, Code>, code: Code, now: number): HistogramCounters {
    const elapsed = Math.max(0, now - entry.since) / 1000;
    const base = entry.base[code];
    const rates = this.#spec.ratesOf(entry.item, code);
    return {
      count: base.count + rates.count * elapsed,
      buckets: base.buckets.map((value, index) => value + (rates.buckets[index] ?? 0) * elapsed),
      sum: base.sum + rates.sum * elapsed,
    };
  }
}
