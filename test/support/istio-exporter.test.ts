// The Istio-style test exporter: histogram shape, counters on a fake clock, and control over HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  exporterControl,
  ISTIO_DURATION_BUCKETS_MS,
  type IstioExporter,
  IstioTrafficSimulation,
  latencyDistribution,
  meanLatency,
  startIstioExporter,
  type Workload,
} from "../../scripts/services/istio-exporter.ts";

/** Prometheus's histogram_quantile over cumulative shares at ISTIO_DURATION_BUCKETS_MS (+Inf holding 1). */
function histogramQuantile(q: number, cumulative: readonly number[]): number {
  const rank = q * 1;
  const index = cumulative.findIndex((share) => share >= rank);
  if (index === -1) return ISTIO_DURATION_BUCKETS_MS.at(-1) ?? 0;
  const upper = ISTIO_DURATION_BUCKETS_MS[index] ?? 0;
  const lower = index === 0 ? 0 : (ISTIO_DURATION_BUCKETS_MS[index - 1] ?? 0);
  const below = index === 0 ? 0 : (cumulative[index - 1] ?? 0);
  return lower + (upper - lower) * ((rank - below) / ((cumulative[index] ?? 0) - below));
}

describe("latencyDistribution", () => {
  it.each([0.475, 0.5, 0.9, 1, 3, 10, 37, 99, 99.9, 100, 120, 240, 249, 250, 499, 700, 1000, 2000, 45_000, 3_600_000])(
    "p95 of %s ms comes back from histogram_quantile",
    (latency) => {
      const cumulative = latencyDistribution(latency);
      expect(histogramQuantile(0.95, cumulative)).toBeCloseTo(latency, 6);
      expect(histogramQuantile(0.99, cumulative)).toBeGreaterThanOrEqual(latency);
    },
  );

  it("is a valid cumulative distribution", () => {
    for (const latency of [0.1, 0.5, 7, 100, 101, 5000, 9_999_999]) {
      const cumulative = latencyDistribution(latency);
      expect(cumulative).toHaveLength(ISTIO_DURATION_BUCKETS_MS.length);
      cumulative.forEach((share, index) => {
        expect(share).toBeGreaterThanOrEqual(index === 0 ? 0 : (cumulative[index - 1] ?? 0));
        expect(share).toBeLessThanOrEqual(1);
      });
    }
  });

  it("puts p99 at the upper bound of the p95's bucket when there is room", () => {
    expect(histogramQuantile(0.99, latencyDistribution(120))).toBeCloseTo(250, 6);
  });

  it("floors p95 below the first bucket at 0.475 ms", () => {
    expect(histogramQuantile(0.95, latencyDistribution(0.1))).toBeCloseTo(0.475, 6);
  });

  it("has a mean inside the distribution", () => {
    const mean = meanLatency(latencyDistribution(120));
    expect(mean).toBeGreaterThan(0);
    expect(mean).toBeLessThan(250);
  });
});

/** Metric lines of a render as `name{labels}` -> value. */
const parse = (text: string): Map<string, number> =>
  new Map(
    text
      .split("\n")
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => {
        const cut = line.lastIndexOf(" ");
        return [line.slice(0, cut), Number(line.slice(cut + 1))] as const;
      }),
  );

const sumWhere = (metrics: Map<string, number>, ...parts: string[]): number =>
  [...metrics]
    .filter(([name]) => parts.every((part) => name.includes(part)))
    .reduce((sum, [, value]) => sum + value, 0);

describe("IstioTrafficSimulation", () => {
  const base: Workload = {
    namespace: "ns",
    deployment: "app-v2",
    version: "v2",
    rps: 10,
    errorRate: 0.1,
    latencyMs: 120,
  };

  it("counts linearly in time and splits 503s by the error rate, for both reporters", () => {
    let now = 0;
    const simulation = new IstioTrafficSimulation(() => now);
    simulation.set(base);
    now = 10_000;
    const metrics = parse(simulation.render());
    const requests = (code: string, reporter = "destination") =>
      sumWhere(metrics, "istio_requests_total{", `reporter="${reporter}"`, `response_code="${code}"`);
    expect(requests("200")).toBeCloseTo(90, 9);
    expect(requests("503")).toBeCloseTo(10, 9);
    expect(requests("200", "source")).toBeCloseTo(90, 9);
    expect(sumWhere(metrics, "_bucket{", 'reporter="destination"', 'le="+Inf"')).toBeCloseTo(100, 9);
    expect(sumWhere(metrics, "_count{", 'reporter="destination"')).toBeCloseTo(100, 9);
  });

  it("keeps counters when the traffic changes, and keeps a 503 series once it existed", () => {
    let now = 0;
    const simulation = new IstioTrafficSimulation(() => now);
    simulation.set(base);
    now = 10_000;
    simulation.set({ ...base, rps: 20, errorRate: 0 });
    now = 20_000;
    const metrics = parse(simulation.render());
    expect(sumWhere(metrics, "istio_requests_total{", 'reporter="destination"', 'response_code="200"')).toBeCloseTo(
      290,
      9,
    );
    expect(sumWhere(metrics, "istio_requests_total{", 'reporter="destination"', 'response_code="503"')).toBeCloseTo(
      10,
      9,
    );
  });

  it("serves a zero 200 series for a workload without traffic and no 503 series without errors", () => {
    let now = 0;
    const simulation = new IstioTrafficSimulation(() => now);
    simulation.set({ ...base, rps: 0, errorRate: 0 });
    now = 5_000;
    const metrics = parse(simulation.render());
    const series = [...metrics.keys()].filter((name) => name.startsWith("istio_requests_total{"));
    expect(series).toHaveLength(2);
    expect(series.every((name) => name.includes('response_code="200"'))).toBe(true);
    expect([...metrics.values()].every((value) => value === 0)).toBe(true);
  });

  it("labels series the way Istio does", () => {
    const simulation = new IstioTrafficSimulation(() => 0);
    simulation.set({ ...base, service: "app" });
    const [line] = simulation
      .render()
      .split("\n")
      .filter((each) => each.startsWith("istio_requests_total{"));
    for (const label of [
      'reporter="destination"',
      'destination_workload="app-v2"',
      'destination_workload_namespace="ns"',
      'destination_version="v2"',
      'destination_service_name="app"',
      'destination_service="app.ns.svc.cluster.local"',
      'response_code="200"',
    ]) {
      expect(line).toContain(label);
    }
  });

  it("forgets removed workloads and refuses invalid ones with the field's name", () => {
    const simulation = new IstioTrafficSimulation(() => 0);
    simulation.set(base);
    expect(simulation.remove(base)).toBe(true);
    expect(simulation.list()).toEqual([]);
    expect(() => simulation.set({ ...base, errorRate: 1.5 })).toThrow(
      "workload.errorRate must be a number in [0, 1], got 1.5",
    );
    expect(() => simulation.set({ ...base, namespace: 'a"b' })).toThrow("workload.namespace must be");
  });
});

describe("exporter over HTTP", () => {
  let exporter: IstioExporter;
  beforeAll(async () => {
    exporter = await startIstioExporter();
  });
  afterAll(async () => {
    await exporter.close();
  });

  it("is controlled through /control and serves /metrics in the text format", async () => {
    const control = exporterControl(exporter.url);
    await control.set({ namespace: "http", deployment: "web-v1", version: "v1", rps: 5, errorRate: 0, latencyMs: 30 });
    expect(await control.list()).toEqual([
      expect.objectContaining({ namespace: "http", deployment: "web-v1", service: "web-v1" }),
    ]);
    const response = await fetch(exporter.metricsUrl);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toContain('destination_workload="web-v1"');
    await control.remove({ namespace: "http", deployment: "web-v1", version: "v1" });
    expect(exporter.list()).toEqual([]);
  });

  it("answers a bad control message with 400 and the reason", async () => {
    const control = exporterControl(exporter.url);
    await expect(
      control.set({ namespace: "http", deployment: "web-v1", version: "v1", rps: -1, errorRate: 0, latencyMs: 30 }),
    ).rejects.toThrow(`exporter control at ${exporter.url} refused: workload.rps must be a number >= 0, got -1`);
  });
});
