// The simulated Prometheus's store: scrape timing, lag, missed scrapes, outages, retention and the reader.
import { describe, expect, it } from "vitest";
import { Counters } from "../../scripts/sim/counters.ts";
import { MetricsStore, type ScrapeSettings } from "../../scripts/sim/metrics-store.ts";
import { createRandom } from "../../scripts/sim/random.ts";

const S = 1000;
const settings = (overrides: Partial<ScrapeSettings> = {}): ScrapeSettings => ({
  intervalSeconds: 15,
  lagSeconds: 0,
  missProbability: 0,
  outages: [],
  ...overrides,
});

/** Runs a counter growing 1/s for `seconds`, observing every second. */
function run(store: MetricsStore, seconds: number, counters = new Counters(), from = 0): Counters {
  for (let t = from; t <= from + seconds; t++) {
    if (t > from) counters.add("c", { job: "x" }, 1);
    store.observe(t * S, counters);
  }
  return counters;
}

describe("MetricsStore", () => {
  it("scrapes once per interval at its multiples, whatever the tick rate", () => {
    const store = new MetricsStore(settings(), createRandom(1));
    run(store, 600);
    const [series] = store.dump();
    // The counter exists from the first second on, so the scrape at 0 finds nothing.
    expect(series?.times.slice(0, 3)).toEqual([15_000, 30_000, 45_000]);
    expect(series?.times).toHaveLength(40);
    expect(store.evaluate("increase(c[300s])", 600 * S)).toEqual([300]);
  });

  it("scrapes every multiple passed since a late call, with the counters as they read then", () => {
    const store = new MetricsStore(settings(), createRandom(1));
    const counters = new Counters();
    counters.add("c", {}, 5);
    store.observe(0, counters);
    counters.add("c", {}, 5);
    store.observe(50 * S, counters);
    expect(store.dump()[0]).toMatchObject({ times: [0, 15_000, 30_000, 45_000], values: [5, 10, 10, 10] });
  });

  it("hides samples until the lag has passed", () => {
    const store = new MetricsStore(settings({ lagSeconds: 20 }), createRandom(1));
    run(store, 600);
    // At 600 s the newest visible sample is the one of 570 s (600 and 585 are still in flight).
    expect(store.evaluate("c", 600 * S)).toEqual([570]);
    expect(store.evaluate("c", 605 * S)).toEqual([585]);
  });

  it("misses scrapes with the given probability, reproducibly per seed", () => {
    const counts = [1, 1, 2].map((seed) => {
      const store = new MetricsStore(settings({ missProbability: 0.5 }), createRandom(seed));
      run(store, 3000);
      return store.dump()[0]?.times.length ?? 0;
    });
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBeGreaterThan(60);
    expect(counts[0]).toBeLessThan(140);
    const none = new MetricsStore(settings({ missProbability: 1 }), createRandom(1));
    run(none, 300);
    expect(none.evaluate("c", 300 * S)).toEqual([]);
  });

  it("takes no samples during an outage and answers every query there with a network error", async () => {
    const outage = { fromMs: 100 * S, toMs: 200 * S };
    const store = new MetricsStore(settings({ outages: [outage] }), createRandom(1));
    run(store, 400);
    const times = store.dump()[0]?.times ?? [];
    expect(times.filter((t) => t >= outage.fromMs && t < outage.toMs)).toEqual([]);
    expect(times).toContain(90_000);
    expect(times).toContain(210_000);
    let now = 150 * S;
    const reader = store.reader(() => now);
    expect(await reader.query("c")).toEqual({
      kind: "network",
      message: expect.stringContaining("Prometheus at sim://prometheus unreachable"),
    });
    now = 400 * S;
    expect(await reader.query("c")).toEqual([390]);
    expect(await reader.query("rate(c[")).toMatchObject({ kind: "query" });
  });

  it("keeps only the retention window and forgets series without samples", () => {
    const store = new MetricsStore(settings(), createRandom(1), { retentionMs: 600 * S });
    const counters = run(store, 3600);
    const [series] = store.dump();
    expect(series?.times[0]).toBe(3000 * S);
    // The counters restart (a new pod): the old series stays until its samples expire.
    const fresh = new Counters();
    fresh.add("c", { job: "y" }, 1);
    for (let t = 3601; t <= 5000; t++) store.observe(t * S, fresh);
    expect(store.seriesCount).toBe(1);
    expect(counters.size).toBe(1);
  });

  it("sees a counter reset when the counters restart from zero", () => {
    const store = new MetricsStore(settings(), createRandom(1));
    const before = run(store, 300);
    expect(before.snapshot()[0]?.value).toBe(300);
    run(store, 300, new Counters(), 300);
    // 300 s of 1/s growth whichever side of the restart: the reset is added back, not subtracted.
    expect(store.evaluate("increase(c[300s])", 600 * S)).toEqual([300]);
  });
});
