// Cross-checks the simulated Prometheus against the real one: the same scraped history (a counter reset, an
// outage gap, missed scrapes) is backfilled into Prometheus with promtool, and both answer the same queries.
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBinary } from "../../scripts/services/apt.ts";
import { type RunningPrometheus, startPrometheus } from "../../scripts/services/prometheus.ts";
import { Counters, type Labels } from "../../scripts/sim/counters.ts";
import { MetricsStore } from "../../scripts/sim/metrics-store.ts";
import { evaluatePromql } from "../../scripts/sim/promql.ts";
import { createRandom } from "../../scripts/sim/random.ts";

const INTERVAL_MS = 15_000;
const MINUTE = 60_000;
/** Four hours back, aligned to the scrape interval: old enough to be backfilled, young enough for retention. */
const BASE = Math.floor((Date.now() - 4 * 3_600_000) / INTERVAL_MS) * INTERVAL_MS;
const DURATION_MS = 90 * MINUTE;
const RESET_AT = BASE + 40 * MINUTE;
const OUTAGE = { fromMs: BASE + 60 * MINUTE, toMs: BASE + 67 * MINUTE + 30_000 };
const BOUNDS = ["5", "10", "25", "50", "100", "250", "500", "1000", "+Inf"];

const sel = (workload: string) =>
  `reporter="destination",destination_workload_namespace="shop",destination_workload="${workload}"`;
const APP = sel("cart-canary");

const QUERIES = [
  `sum(increase(istio_requests_total{${APP}}[300s]))`,
  // The builtin request count with its freshness guard (empty while the newest sample is too old, as in the outage).
  `sum(increase(istio_requests_total{${APP}}[300s])) and on() (time() - max(timestamp(istio_requests_total{${APP}})) < 100)`,
  `time() - max(timestamp(istio_requests_total{${APP}}))`,
  `(sum(rate(istio_requests_total{${APP},response_code=~"5.."}[300s])) or vector(0)) / ` +
    `sum(rate(istio_requests_total{${APP}}[300s]))`,
  `histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${APP}}[300s])))`,
  `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${APP}}[300s])))`,
  `histogram_quantile(0.5, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${APP}}[60s])))`,
  `histogram_quantile(0.9, rate(istio_request_duration_milliseconds_bucket[2m]))`,
  `rate(istio_requests_total{${APP}}[1m])`,
  `rate(istio_request_duration_milliseconds_bucket[2m])`,
  `increase(istio_requests_total[137s])`,
  `sum by (response_code) (rate(istio_requests_total{reporter="destination"}[10m]))`,
  `sum without (response_code) (increase(istio_requests_total{response_code!~"2.*"}[5m]))`,
  `istio_requests_total{${APP}}`,
  `sum(irate(istio_requests_total{${APP}}[1m]))`,
  `max(rate(istio_requests_total[30s])) > bool 0.5`,
  `count(istio_requests_total{reporter="destination"} offset 3m) * 2 - 1`,
  `avg(delta(istio_requests_total{response_code="200"}[5m]))`,
  `sum(rate(istio_requests_total{${APP},response_code="404"}[300s])) or vector(0)`,
  `sum(rate(istio_requests_total{${APP}}[300s])) / 0`,
  `-sum(rate(istio_requests_total{${APP},response_code=~"5.."}[5m])) / sum(rate(istio_requests_total{${APP}}[5m])) ^ 2`,
  `sum by (destination_workload) (rate(istio_requests_total[5m])) > on(destination_workload) ` +
    `sum by (destination_workload) (rate(istio_requests_total{response_code="200"}[5m])) * 1.02`,
];

/** Canary-like traffic for two workloads, scraped by the simulated store; the pods restart at RESET_AT. */
function simulate(): MetricsStore {
  const random = createRandom(20240611);
  const store = new MetricsStore(
    { intervalSeconds: INTERVAL_MS / 1000, lagSeconds: 0, missProbability: 0.05, outages: [OUTAGE] },
    random.fork("scrape"),
  );
  const traffic = random.fork("traffic");
  let counters = new Counters();
  for (let now = BASE; now <= BASE + DURATION_MS; now += 1000) {
    if (now === RESET_AT) counters = new Counters();
    for (const [workload, perSecond, errorShare] of [
      ["cart-canary", 6, 0.04],
      ["cart", 20, 0.01],
    ] as const) {
      const requests = traffic.int(0, perSecond * 2);
      for (let i = 0; i < requests; i++) {
        const code = traffic.chance(errorShare) ? traffic.pick(["500", "503"]) : "200";
        const labels: Labels = {
          reporter: "destination",
          destination_workload_namespace: "shop",
          destination_workload: workload,
          response_code: code,
        };
        counters.add("istio_requests_total", labels, 1);
        const latency = Math.exp(3 + traffic.normal()) * (workload === "cart" ? 1 : 1.5);
        for (const le of BOUNDS) {
          if (le === "+Inf" || latency <= Number(le)) {
            counters.add("istio_request_duration_milliseconds_bucket", { ...labels, le }, 1);
          }
        }
      }
    }
    store.observe(now, counters);
  }
  return store;
}

function openMetrics(store: MetricsStore): string {
  const lines: string[] = [];
  const series = store.dump().sort((a, b) => (a.metric.__name__ ?? "").localeCompare(b.metric.__name__ ?? ""));
  for (const { metric, times, values } of series) {
    const { __name__: name, ...labels } = metric;
    const text = Object.entries(labels)
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(",");
    times.forEach((t, i) => {
      lines.push(`${name}{${text}} ${values[i]} ${(t / 1000).toFixed(3)}`);
    });
  }
  return `${lines.join("\n")}\n# EOF\n`;
}

interface Answer {
  status: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

async function prometheusValues(url: string, query: string, atMs: number): Promise<number[]> {
  const params = new URLSearchParams({ query, time: (atMs / 1000).toFixed(3) });
  const response = await fetch(`${url}/api/v1/query?${params}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as Answer;
  if (body.status !== "success" || !body.data) throw new Error(`${query}: ${body.error ?? response.status}`);
  const number = (text: string) =>
    text === "+Inf" ? Number.POSITIVE_INFINITY : text === "-Inf" ? Number.NEGATIVE_INFINITY : Number(text);
  const { resultType, result } = body.data;
  if (resultType === "scalar") return [number((result as [number, string])[1])];
  return (result as { value: [number, string] }[]).map((sample) => number(sample.value[1]));
}

const same = (a: number, b: number): boolean =>
  (Number.isNaN(a) && Number.isNaN(b)) || a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

describe("the simulated Prometheus against the real one", () => {
  let prometheus: RunningPrometheus;
  let store: MetricsStore;

  beforeAll(async () => {
    store = simulate();
    const promtool = ensureBinary(
      { binary: "promtool", packageName: "prometheus", hint: "promtool not found: apt-get install prometheus" },
      { fallback: "/usr/bin/promtool" },
    );
    prometheus = await startPrometheus({ scrapeTargets: [] });
    await prometheus.stop();
    const file = join(prometheus.dir, "history.om");
    await writeFile(file, openMetrics(store));
    const created = spawnSync(
      promtool,
      ["tsdb", "create-blocks-from", "openmetrics", file, join(prometheus.dir, "data")],
      {
        encoding: "utf8",
      },
    );
    if (created.status !== 0) throw new Error(`promtool failed: ${created.stderr || created.stdout}`);
    await prometheus.restart();
  }, 120_000);

  afterAll(async () => {
    await prometheus?.close();
  });

  it("answers every query alike at instants all over the history", async () => {
    const instants: number[] = [];
    for (let t = BASE + 2 * MINUTE; t <= BASE + DURATION_MS + 4 * MINUTE; t += 97_003) instants.push(t);
    // On a scrape, just after the reset, inside and just after the gap.
    instants.push(BASE + 30 * MINUTE, RESET_AT + 20_000, RESET_AT + 4 * MINUTE, OUTAGE.fromMs + 2 * MINUTE);
    instants.push(OUTAGE.toMs + 45_000, OUTAGE.toMs + 3 * MINUTE + 1);
    let compared = 0;
    const mismatches: string[] = [];
    for (const atMs of instants) {
      for (const query of QUERIES) {
        // Straight to the engine: the store itself would answer a network error inside the outage.
        const ours = evaluatePromql(query, store, { atMs });
        if (!Array.isArray(ours)) throw new Error(`${query}: ${ours.message}`);
        const theirs = await prometheusValues(prometheus.url, query, atMs);
        const a = [...ours].sort((x, y) => x - y);
        const b = [...theirs].sort((x, y) => x - y);
        const equal = a.length === b.length && a.every((value, i) => same(value, b[i] as number));
        if (!equal) mismatches.push(`t=${atMs - BASE} ${query}: ours [${a}] prometheus [${b}]`);
        compared += theirs.length;
      }
    }
    expect(mismatches.slice(0, 5).map((m) => m.slice(0, 3000))).toEqual([]);
    expect(compared).toBeGreaterThan(500);
  }, 120_000);
});
