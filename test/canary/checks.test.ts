// The metric gates: PromQL selectors, judgement of values, min-requests gating, and reader failures as data.
import { describe, expect, it } from "vitest";
import {
  analyse,
  builtinQueries,
  type CheckResult,
  type CheckTarget,
  checkDefinitions,
  describeCheck,
  judge,
  type MetricsError,
  type MetricsReader,
  worstValue,
} from "../../functions/canary/checks.ts";
import { readCanarySettings } from "../../functions/canary/settings.ts";
import { gl } from "./fixtures.ts";

const target: CheckTarget = { namespace: "production", deployment: "myapp-v2", version: "v2.0", service: "myapp" };
const settingsWith = (entries: Record<string, string> = {}) => readCanarySettings(gl(entries), "myapp").settings;

/** A reader answering by the first pattern the query contains; unknown queries get an empty vector. */
function reader(answers: [string, number[] | MetricsError | Error][]): MetricsReader & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    async query(promql) {
      queries.push(promql);
      const answer = answers.find(([pattern]) => promql.includes(pattern))?.[1] ?? [];
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

const healthy: [string, number[]][] = [
  ["increase(", [500]],
  ['response_code=~"5.."', [0.001]],
  ["histogram_quantile(0.95", [120]],
  ["histogram_quantile(0.99", [300]],
];

const byName = (results: CheckResult[]) => Object.fromEntries(results.map((result) => [result.name, result]));

describe("judge", () => {
  it.each([
    [undefined, 1, "max", "no-data"],
    [Number.NaN, 1, "max", "no-data"],
    [Number.POSITIVE_INFINITY, 1, "max", "no-data"],
    [Number.NEGATIVE_INFINITY, 1, "min", "no-data"],
    [Number.NEGATIVE_INFINITY, 1, "max", "no-data"],
    [0.5, 1, "max", "pass"],
    [1, 1, "max", "pass"],
    [1.01, 1, "max", "fail"],
    [1, 1, "min", "pass"],
    [0.99, 1, "min", "fail"],
    [0, 0, "max", "pass"],
  ] as const)("%s vs %s %s -> %s", (value, threshold, comparison, outcome) => {
    expect(judge(value, threshold, comparison)).toBe(outcome);
  });

  it("the worst series counts; an empty result has no value; a NaN sample spoils the result", () => {
    expect(worstValue([], "max")).toBeUndefined();
    expect(worstValue([1, 3, 2], "max")).toBe(3);
    expect(worstValue([1, 3, 2], "min")).toBe(1);
    expect(worstValue([1, Number.NaN], "max")).toBeNaN();
  });
});

describe("queries", () => {
  const queries = builtinQueries(target, settingsWith({ interval: "2m" }));

  it("selects the canary workload as reported by its own sidecar, over the interval", () => {
    expect(queries.map((query) => query.name)).toEqual(["request-count", "error-rate", "latency-p95", "latency-p99"]);
    for (const { query } of queries) {
      expect(query).toContain('reporter="destination"');
      expect(query).toContain('destination_workload_namespace="production"');
      expect(query).toContain('destination_workload="myapp-v2"');
      expect(query).toContain("[120s]");
    }
  });

  it("builds each builtin from the right metric and threshold", () => {
    const [count, errors, p95, p99] = queries;
    expect(count?.query).toMatch(/^sum\(increase\(istio_requests_total\{/);
    expect(count).toMatchObject({ threshold: 10, comparison: "min" });
    expect(errors?.query).toContain('response_code=~"5.."');
    expect(errors?.query).toContain("or vector(0)");
    expect(errors?.query).toMatch(/\/ sum\(rate\(istio_requests_total\{/);
    expect(errors).toMatchObject({ threshold: 0.01, comparison: "max" });
    expect(p95?.query).toMatch(
      /^histogram_quantile\(0\.95, sum by \(le\) \(rate\(istio_request_duration_milliseconds_bucket\{/,
    );
    expect(p95).toMatchObject({ threshold: 500, comparison: "max" });
    expect(p99?.query).toContain("histogram_quantile(0.99,");
    expect(p99).toMatchObject({ threshold: 1000, comparison: "max" });
  });

  it("renders custom checks with every template variable", () => {
    const settings = settingsWith({
      "check.custom": JSON.stringify({
        query: 'rate(x{ns="{{namespace}}",d="{{deployment}}",v="{{ version }}",s="{{service}}"}[{{interval}}])',
        min: 2,
      }),
    });
    const custom = checkDefinitions(target, settings).at(-1);
    expect(custom).toEqual({
      name: "check.custom",
      query: 'rate(x{ns="production",d="myapp-v2",v="v2.0",s="myapp"}[300s])',
      threshold: 2,
      comparison: "min",
      needsTraffic: false,
    });
  });
});

describe("analyse", () => {
  it("passes a healthy canary with every value", async () => {
    const results = await analyse(reader(healthy), target, settingsWith());
    expect(results.map((result) => [result.name, result.value, result.outcome])).toEqual([
      ["request-count", 500, "pass"],
      ["error-rate", 0.001, "pass"],
      ["latency-p95", 120, "pass"],
      ["latency-p99", 300, "pass"],
    ]);
  });

  it("fails on a value beyond its threshold", async () => {
    const results = byName(await analyse(reader([['5.."', [0.2]], ...healthy]), target, settingsWith()));
    expect(results["error-rate"]).toMatchObject({ value: 0.2, outcome: "fail" });
    expect(describeCheck(results["error-rate"] as CheckResult)).toBe("error-rate 0.2 > max 0.01 (fail)");
  });

  it("turns empty results, NaN and +Inf into no data", async () => {
    const results = byName(
      await analyse(
        reader([
          ["increase(", [500]],
          ['5.."', []],
          ["histogram_quantile(0.95", [Number.NaN]],
          ["histogram_quantile(0.99", [Number.POSITIVE_INFINITY]],
        ]),
        target,
        settingsWith(),
      ),
    );
    expect(results["error-rate"]).toMatchObject({ outcome: "no-data", detail: "empty result" });
    expect(results["latency-p95"]).toMatchObject({ outcome: "no-data", detail: "Prometheus returned NaN" });
    expect(results["latency-p99"]).toMatchObject({ outcome: "no-data", detail: "Prometheus returned Infinity" });
    expect(results["latency-p95"]?.value).toBeUndefined();
  });

  it("below min-requests, the traffic checks are no data even when their values would fail", async () => {
    const results = byName(
      await analyse(reader([["increase(", [4]], ['5.."', [0.5]], ...healthy.slice(2)]), target, settingsWith()),
    );
    expect(results["request-count"]).toMatchObject({ value: 4, outcome: "no-data" });
    for (const name of ["error-rate", "latency-p95", "latency-p99"]) {
      expect(results[name]).toMatchObject({
        outcome: "no-data",
        detail: "only 4 requests in the window (min-requests 10)",
      });
    }
  });

  it("an unknown request count also withholds a verdict, but min-requests 0 does not", async () => {
    const noCount = reader(healthy.slice(1));
    expect((await analyse(noCount, target, settingsWith())).map((r) => r.outcome)).toEqual(Array(4).fill("no-data"));
    const zero = await analyse(noCount, target, settingsWith({ "min-requests": "0" }));
    expect(zero.map((r) => r.outcome)).toEqual(["no-data", "pass", "pass", "pass"]);
  });

  it("does not gate custom checks on traffic", async () => {
    const settings = settingsWith({ "check.queue": '{"query": "queue_depth", "max": 5}' });
    const results = byName(await analyse(reader([["queue_depth", [7]]]), target, settings));
    expect(results["check.queue"]).toMatchObject({ value: 7, outcome: "fail" });
  });

  it("turns reader errors, rejections and nonsense into outcome error with the message", async () => {
    const broken: MetricsReader = {
      async query(promql) {
        if (promql.includes("increase(")) return { kind: "network", message: "connect ECONNREFUSED 127.0.0.1:9090" };
        if (promql.includes("0.95")) throw new Error("socket hang up");
        if (promql.includes("0.99")) return Promise.reject({ errorType: "timeout_error", message: "timed out" });
        return ["1"] as unknown as number[];
      },
    };
    const results = byName(await analyse(broken, target, settingsWith()));
    expect(results["request-count"]).toMatchObject({
      outcome: "error",
      detail: "network error: connect ECONNREFUSED 127.0.0.1:9090",
    });
    expect(results["latency-p95"]).toMatchObject({ outcome: "error", detail: "query failed: socket hang up" });
    expect(results["latency-p99"]).toMatchObject({ outcome: "error", detail: "query failed: timed out" });
    expect(results["error-rate"]).toMatchObject({ outcome: "error" });
  });

  it("never throws, even when the reader throws synchronously", async () => {
    const hostile: MetricsReader = {
      query() {
        throw "boom";
      },
    };
    const results = await analyse(hostile, target, settingsWith());
    expect(results.every((result) => result.outcome === "error" && result.detail === "query failed: boom")).toBe(true);
  });

  it("runs every query at once", async () => {
    let inFlight = 0;
    let peak = 0;
    const slow: MetricsReader = {
      async query() {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
        return [1];
      },
    };
    await analyse(slow, target, settingsWith({ "check.a": '{"query": "a", "max": 1}' }));
    expect(peak).toBe(5);
  });

  it("takes the worst of several series and says so", async () => {
    const settings = settingsWith({ "check.pods": '{"query": "pod_errors", "max": 3}' });
    const results = byName(await analyse(reader([["pod_errors", [1, 4, 2]]]), target, settings));
    expect(results["check.pods"]).toMatchObject({ value: 4, outcome: "fail", detail: "worst of 3 series" });
  });
});
