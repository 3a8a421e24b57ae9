// The comparative judge's adapter (functions/canary/compare.ts): its queries, bucket reading, the window counted into
// the state, the no-data rules it shares with the threshold checks, and analyseCanary over a scripted reader.
import { describe, expect, it } from "vitest";
import type { CheckTarget, LabelledSample, MetricsError, MetricsReader } from "../../functions/canary/checks.ts";
import {
  addWindow,
  analyseCanary,
  coarsen,
  compareQueries,
  ERROR_RATE_VS_STABLE,
  emptyJudgeState,
  histogramOf,
  type JudgeState,
  judgeWindow,
  LATENCY_VS_STABLE,
  readWindow,
  type VersionWindow,
} from "../../functions/canary/compare.ts";
import { readCanarySettings } from "../../functions/canary/settings.ts";
import { formatStatus, parseStatus } from "../../functions/canary/status.ts";
import { gl, statusOf } from "./fixtures.ts";

const target: CheckTarget = {
  namespace: "production",
  deployment: "myapp-v2",
  version: "v2.0",
  service: "myapp",
  app: "myapp",
  stableVersion: "v1.0",
};
const settingsWith = (entries: Record<string, string> = {}) =>
  readCanarySettings(gl({ judge: "compare", interval: "60s", ...entries }), "myapp").settings;

const LE = ["25", "50", "100", "250", "+Inf"];
const bucketSamples = (cumulative: number[]): LabelledSample[] =>
  cumulative.map((value, i) => ({ labels: { le: LE[i] as string }, value }));

/** A Prometheus answering per version: requests, 5xx and cumulative buckets; the request count for the freshness. */
function reader(
  canary: { requests: number; errors: number; buckets: number[] },
  stable: { requests: number; errors: number; buckets: number[] },
  fail?: MetricsError,
): MetricsReader & { queries: string[] } {
  const queries: string[] = [];
  const isStable = (promql: string) => promql.includes("destination_workload!=");
  return {
    queries,
    async query(promql) {
      queries.push(promql);
      if (fail) return fail;
      const side = isStable(promql) ? stable : canary;
      if (promql.includes('response_code=~"5.."')) return [side.errors];
      return [side.requests];
    },
    async querySamples(promql) {
      queries.push(promql);
      if (fail) return fail;
      return bucketSamples((isStable(promql) ? stable : canary).buckets);
    },
  };
}

const version = (requests: number, errors: number, counts: number[]): VersionWindow => ({
  requests,
  errors,
  histogram: { bounds: [25, 50, 100, 250], counts },
});

describe("queries", () => {
  it("select the canary by its workload and the stable version by app, other workload and version label", () => {
    const queries = compareQueries(target, settingsWith());
    expect(queries.canary.requests).toBe(
      'sum(increase(istio_requests_total{reporter="destination",destination_workload_namespace="production",destination_workload="myapp-v2"}[60s]))',
    );
    expect(queries.stable.errors).toBe(
      'sum(increase(istio_requests_total{reporter="destination",destination_workload_namespace="production",destination_app="myapp",destination_workload!="myapp-v2",destination_version="v1.0",response_code=~"5.."}[60s])) or vector(0)',
    );
    expect(queries.stable.buckets).toMatch(/^sum by \(le\) \(increase\(istio_request_duration_milliseconds_bucket\{/);
    // Without the stable version (Gateway API routes do not say it): the app's other workloads.
    const { stableVersion: _, ...unversioned } = target;
    expect(compareQueries(unversioned, settingsWith()).stable.requests).not.toContain("destination_version");
  });
});

describe("buckets", () => {
  it("turns cumulative le samples into per-bucket counts, rounded, whatever their order", () => {
    const shuffled = [...bucketSamples([10.4, 30, 30, 39.6, 41])].reverse();
    expect(histogramOf(shuffled)).toEqual({ bounds: [25, 50, 100, 250], counts: [10, 20, 0, 10, 1] });
    expect(histogramOf([])).toEqual({ bounds: [], counts: [0] });
    expect(histogramOf([{ labels: {}, value: 1 }])).toMatch(/le label/);
  });

  it("coarsens to fewer bounds by adding neighbouring buckets", () => {
    expect(coarsen({ bounds: [25, 50, 100, 250], counts: [1, 2, 3, 4, 5] }, [50, 250])).toEqual([3, 7, 5]);
    expect(coarsen({ bounds: [25, 50], counts: [1, 2, 3] }, [])).toEqual([6]);
  });
});

describe("the state", () => {
  it("adds a window's counts and evidence, and keeps the buckets both versions share", () => {
    const state = addWindow(emptyJudgeState(0.005), {
      canary: version(300, 6, [100, 150, 40, 9, 1]),
      stable: version(2700, 13, [900, 1350, 400, 45, 5]),
    });
    expect(state).toMatchObject({
      tolerance: 0.005,
      windows: 1,
      errors: { canary: { requests: 300, errors: 6 }, stable: { requests: 2700, errors: 13 } },
      latency: { bounds: [25, 50, 100, 250], canary: [100, 150, 40, 9, 1], stable: [900, 1350, 400, 45, 5] },
    });
    const next = addWindow(state, {
      canary: { ...version(0, 0, []), histogram: { bounds: [50, 250], counts: [10, 5, 0] } },
      stable: version(10, 0, [5, 5, 0, 0, 0]),
    });
    expect(next.latency).toEqual({ bounds: [50, 250], canary: [260, 54, 1], stable: [2260, 445, 5] });
  });

  it("round-trips through the status annotation, byte for byte", () => {
    const judge = addWindow(emptyJudgeState(0.005), {
      canary: version(300, 6, [100, 150, 40, 9, 1]),
      stable: version(2700, 13, [900, 1350, 400, 45, 5]),
    });
    const text = formatStatus(statusOf({ judge }));
    const parsed = parseStatus(text);
    expect(parsed.problem).toBeUndefined();
    expect(parsed.status?.judge).toEqual(judge);
    expect(formatStatus(parsed.status as NonNullable<typeof parsed.status>)).toBe(text);
    expect(parseStatus(text.replace('"windows":1', '"windows":-1')).problem).toMatch(/judge\.windows/);
  });
});

describe("judgeWindow", () => {
  const settings = settingsWith();
  const queries = compareQueries(target, settings);
  const fresh = {
    name: "request-count",
    query: "q",
    threshold: 10,
    comparison: "min" as const,
    outcome: "pass" as const,
    value: 300,
  };
  const window = { canary: version(300, 2, [100, 150, 40, 9, 1]), stable: version(2700, 13, [900, 1350, 400, 45, 5]) };

  it("counts a fresh window and judges the cumulative counts: inconclusive after one minute", () => {
    const { checks, state } = judgeWindow(undefined, window, settings, fresh, queries);
    expect(state.windows).toBe(1);
    const [errors, latency] = checks;
    expect(errors).toMatchObject({ name: ERROR_RATE_VS_STABLE, outcome: "inconclusive", threshold: 0.005 });
    expect(errors?.judge).toMatchObject({
      canary: { requests: 300, errors: 2 },
      stable: { requests: 2700, errors: 13 },
    });
    expect(errors?.value).toBeCloseTo(2 / 300 - 13 / 2700, 12);
    expect(latency).toMatchObject({ name: LATENCY_VS_STABLE, threshold: 0.55 });
    expect(latency?.judge?.canary).toEqual({ requests: 300 });
  });

  it("does not count a stale or failed window, and says why", () => {
    const stale = judgeWindow(undefined, window, settings, { ...fresh, value: undefined, outcome: "no-data" }, queries);
    expect(stale.state.windows).toBe(0);
    expect(stale.checks.map((c) => c.outcome)).toEqual(["no-data", "no-data"]);
    const failed = judgeWindow(undefined, { error: "stable: network error: down" }, settings, fresh, queries);
    expect(failed.state.windows).toBe(0);
    expect(failed.checks.map((c) => c.outcome)).toEqual(["error", "error"]);
    expect(failed.checks[0]?.detail).toContain("stable: network error: down");
  });

  it("counts a window below min-requests but judges it no-data, as the threshold checks are", () => {
    const few = { ...fresh, value: 4, outcome: "no-data" as const };
    const { checks, state } = judgeWindow(undefined, window, settings, few, queries);
    expect(state.windows).toBe(1);
    expect(checks.map((c) => c.outcome)).toEqual(["no-data", "no-data"]);
    expect(checks[0]?.detail).toMatch(/^only 4 requests in the window \(min-requests 10\); so far: /);
  });

  it("starts the evidence over when the tolerance changed", () => {
    const prior: JudgeState = judgeWindow(undefined, window, settings, fresh, queries).state;
    const changed = settingsWith({ "judge-tolerance": "1%" });
    expect(judgeWindow(prior, window, changed, fresh, queries).state).toMatchObject({ tolerance: 0.01, windows: 1 });
    expect(judgeWindow(prior, window, settings, fresh, queries).state).toMatchObject({ tolerance: 0.005, windows: 2 });
  });

  it("rolls back a canary failing 2% against 0.5% within minutes, and passes an equal one in time", () => {
    let bad: JudgeState | undefined;
    let good: JudgeState | undefined;
    const outcomes: string[][] = [];
    for (let minute = 0; minute < 40; minute++) {
      const b = judgeWindow(
        bad,
        { canary: version(300, 6, [300, 0, 0, 0, 0]), stable: version(2700, 13, [2700, 0, 0, 0, 0]) },
        settings,
        fresh,
        queries,
      );
      const g = judgeWindow(
        good,
        { canary: version(300, 2, [300, 0, 0, 0, 0]), stable: version(2700, 13, [2700, 0, 0, 0, 0]) },
        settings,
        fresh,
        queries,
      );
      bad = b.state;
      good = g.state;
      outcomes.push([b.checks[0]?.outcome ?? "", g.checks[0]?.outcome ?? ""]);
    }
    expect(outcomes.findIndex(([b]) => b === "fail")).toBeLessThan(10);
    expect(outcomes.findIndex(([, g]) => g === "pass")).toBeGreaterThan(0);
    expect(outcomes.some(([, g]) => g === "fail")).toBe(false);
  });
});

describe("analyseCanary", () => {
  it("under threshold runs the threshold checks alone", async () => {
    const settings = readCanarySettings(gl({}), "myapp").settings;
    const fake = reader(
      { requests: 300, errors: 0, buckets: [300, 300, 300, 300, 300] },
      { requests: 1, errors: 0, buckets: [1, 1, 1, 1, 1] },
    );
    const { checks, judge } = await analyseCanary(fake, target, settings);
    expect(checks.map((c) => c.name)).toEqual(["request-count", "error-rate", "latency-p95", "latency-p99"]);
    expect(judge).toBeUndefined();
  });

  it("under compare: the request count, both comparisons, the custom checks; no ceilings", async () => {
    const settings = settingsWith({ "check.saturation": '{"query":"max(cpu)","max":0.8}' });
    const fake = reader(
      { requests: 300, errors: 2, buckets: [100, 250, 290, 299, 300] },
      { requests: 2700, errors: 13, buckets: [900, 2250, 2650, 2695, 2700] },
    );
    const { checks, judge } = await analyseCanary(fake, target, settings);
    expect(checks.map((c) => c.name)).toEqual([
      "request-count",
      ERROR_RATE_VS_STABLE,
      LATENCY_VS_STABLE,
      "check.saturation",
    ]);
    expect(judge).toMatchObject({ windows: 1, errors: { canary: { requests: 300, errors: 2 } } });
    expect(judge?.latency.canary).toEqual([100, 150, 40, 9, 1]);
    expect(fake.queries.some((q) => q.includes("histogram_quantile"))).toBe(false);
  });

  it("reports a reader without labelled queries, or a failing Prometheus, as an error on both comparisons", async () => {
    const settings = settingsWith();
    const plain: MetricsReader = { query: async () => [300] };
    const { checks } = await analyseCanary(plain, target, settings);
    expect(checks.slice(1, 3).map((c) => c.outcome)).toEqual(["error", "error"]);
    const down = reader(
      { requests: 0, errors: 0, buckets: [] },
      { requests: 0, errors: 0, buckets: [] },
      { kind: "network", message: "refused" },
    );
    expect(await readWindow(down, compareQueries(target, settings))).toEqual({
      error: "canary: network error: refused",
    });
  });
});
