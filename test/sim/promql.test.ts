// Known answers for the simulated Prometheus's PromQL: rate/increase extrapolation, resets, histogram_quantile,
// matching, operators and parse errors, plus a property of increase on a steadily growing counter.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  evaluatePromql,
  evaluateValue,
  type Metric,
  type SeriesData,
  type SeriesSource,
} from "../../scripts/sim/promql.ts";

const S = 1000;

/** A source holding literal series: `points` are [seconds, value]. */
function source(series: { metric: Metric; points: [number, number][] }[]): SeriesSource {
  const data: SeriesData[] = series.map(({ metric, points }) => ({
    metric,
    times: points.map(([t]) => t * S),
    values: points.map(([, v]) => v),
    start: 0,
  }));
  return {
    byName: (name) => data.filter((s) => s.metric.__name__ === name),
    all: () => data,
  };
}

/** Samples every `step` s from `from` to `to` (inclusive) of value f(t). */
function points(from: number, to: number, step: number, f: (t: number) => number): [number, number][] {
  const out: [number, number][] = [];
  for (let t = from; t <= to; t += step) out.push([t, f(t)]);
  return out;
}

const at = (src: SeriesSource, query: string, seconds: number) => evaluatePromql(query, src, { atMs: seconds * S });
const sorted = (answer: ReturnType<typeof evaluatePromql>) =>
  Array.isArray(answer) ? [...answer].sort((a, b) => a - b) : answer;

describe("rate and increase", () => {
  const steady = source([{ metric: { __name__: "c" }, points: points(0, 600, 15, (t) => 1000 + 2 * t) }]);

  it("covers the whole window when samples sit on its edges (both edges included, as Prometheus 2.x)", () => {
    expect(at(steady, "increase(c[300s])", 300)).toEqual([600]);
    expect(at(steady, "rate(c[5m])", 300)).toEqual([2]);
  });

  it("extrapolates to both edges when the samples are within 1.1 average intervals of them", () => {
    const [value] = at(steady, "increase(c[300s])", 307) as number[];
    expect(value).toBeCloseTo(600, 9);
  });

  it("extrapolates only half an interval past a series that starts inside the window", () => {
    const late = source([{ metric: { __name__: "c" }, points: points(200, 300, 10, (t) => t - 100) }]);
    // 100 seen over 100 s, plus 5 s (half the interval) before the first sample; the end is on the edge.
    expect(at(late, "increase(c[300s])", 300)).toEqual([105]);
  });

  it("does not extrapolate a counter below zero", () => {
    const fresh = source([{ metric: { __name__: "c" }, points: points(10, 300, 10, (t) => t - 8) }]);
    // Raw 290 over 290 s; the start edge is 10 s away but the counter was 0 only 2 s before its first sample.
    expect(at(fresh, "increase(c[300s])", 300)).toEqual([292]);
  });

  it("treats a drop as a counter reset", () => {
    const reset = source([
      {
        metric: { __name__: "c" },
        points: [
          [0, 10],
          [15, 20],
          [30, 30],
          [45, 5],
          [60, 15],
        ],
      },
    ]);
    expect(at(reset, "increase(c[60s])", 60)).toEqual([35]);
    expect(sorted(at(reset, "rate(c[1m])", 60))).toEqual([35 / 60]);
    expect(at(reset, "delta(c[1m])", 60)).toEqual([5]);
    expect(at(reset, "irate(c[1m])", 60)).toEqual([10 / 15]);
  });

  it("answers nothing with fewer than two samples in the window", () => {
    expect(at(steady, "rate(c[10s])", 307)).toEqual([]);
    expect(at(steady, "rate(c[5m])", 2000)).toEqual([]);
  });

  it("leaves the window's left edge out with semantics v3, as Prometheus 3.x does", () => {
    const v3 = (query: string, seconds: number) =>
      evaluatePromql(query, steady, { atMs: seconds * S, semantics: "v3" });
    expect(v3("count_over_time(c[300s])", 300)).toEqual([20]);
    expect(at(steady, "count_over_time(c[300s])", 300)).toEqual([21]);
    expect(v3("increase(c[300s])", 300)).toEqual([600]);
    expect(v3("c", 900)).toEqual([]);
    expect(at(steady, "c", 900)).toEqual([2200]);
  });

  it("honours offset", () => {
    expect(at(steady, "increase(c[300s] offset 5m)", 600)).toEqual([600]);
    expect(at(steady, "c offset 1m", 600)).toEqual([1000 + 2 * 540]);
  });

  it("property: increase of a counter growing at r/s scraped regularly is r * window", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 1e4, noNaN: true }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 0, max: 100_000 }),
        (rate, interval, intervals, shiftMs) => {
          const window = interval * intervals + 1;
          const end = 10 * window + interval * 20;
          // The counter starts long before the window, so the zero point never limits the extrapolation.
          const src = source([{ metric: { __name__: "c" }, points: points(0, end, interval, (t) => rate * t) }]);
          const atMs = (end - interval) * S - (shiftMs % (interval * S));
          const answer = evaluatePromql(`increase(c[${window}s])`, src, { atMs }) as number[];
          expect(answer).toHaveLength(1);
          expect(Math.abs((answer[0] as number) - rate * window)).toBeLessThanOrEqual(1e-9 * rate * window);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("histogram_quantile", () => {
  const bucket = (le: string, value: number, extra: Record<string, string> = {}) => ({
    metric: { __name__: "h_bucket", le, ...extra },
    points: [[100, value]] as [number, number][],
  });
  const histogram = source([bucket("50", 60), bucket("+Inf", 100), bucket("10", 10), bucket("100", 90)]);

  it("interpolates linearly inside the bucket, the lowest one from 0", () => {
    expect(at(histogram, "histogram_quantile(0.5, h_bucket)", 100)).toEqual([42]);
    expect(at(histogram, "histogram_quantile(0.05, h_bucket)", 100)).toEqual([5]);
    expect(at(histogram, "histogram_quantile(0.9, h_bucket)", 100)).toEqual([100]);
  });

  it("answers the highest finite bound for a rank in the +Inf bucket, ±Inf outside [0, 1]", () => {
    expect(at(histogram, "histogram_quantile(0.95, h_bucket)", 100)).toEqual([100]);
    expect(at(histogram, "histogram_quantile(1.5, h_bucket)", 100)).toEqual([Number.POSITIVE_INFINITY]);
    expect(at(histogram, "histogram_quantile(-1, h_bucket)", 100)).toEqual([Number.NEGATIVE_INFINITY]);
  });

  it("is NaN without observations or without the +Inf bucket", () => {
    const empty = source([bucket("10", 0), bucket("+Inf", 0)]);
    expect(at(empty, "histogram_quantile(0.5, h_bucket)", 100)).toEqual([Number.NaN]);
    const noInf = source([bucket("10", 5), bucket("20", 10)]);
    expect(at(noInf, "histogram_quantile(0.5, h_bucket)", 100)).toEqual([Number.NaN]);
  });

  it("groups by every label but le, and works on rates summed by le", () => {
    const two = source([
      bucket("10", 10, { pod: "a" }),
      bucket("+Inf", 20, { pod: "a" }),
      bucket("10", 30, { pod: "b" }),
      bucket("+Inf", 40, { pod: "b" }),
    ]);
    expect(sorted(at(two, "histogram_quantile(0.5, h_bucket)", 100))).toEqual([10 * (20 / 30), 10]);
    expect(at(two, "histogram_quantile(0.5, sum by (le) (h_bucket))", 100)).toEqual([10 * (30 / 40)]);
    expect(at(two, "histogram_quantile(0.5, sum(h_bucket) by (le))", 100)).toEqual([10 * (30 / 40)]);
  });
});

describe("selectors, aggregation and operators", () => {
  const requests = (code: string, workload: string, value: number) => ({
    metric: { __name__: "req", code, workload },
    points: [[100, value]] as [number, number][],
  });
  const src = source([
    requests("200", "app", 90),
    requests("500", "app", 6),
    requests("503", "app", 4),
    requests("5000", "app", 1000),
    requests("1500", "app", 2000),
    requests("200", "other", 50),
  ]);

  it("anchors regex matchers at both ends", () => {
    expect(sorted(at(src, 'req{code=~"5.."}', 100))).toEqual([4, 6]);
    expect(sorted(at(src, 'req{workload="app",code!~"5..|1.*"}', 100))).toEqual([90, 1000]);
    expect(sorted(at(src, '{__name__="req",workload!="app"}', 100))).toEqual([50]);
  });

  it("aggregates with by/without before or after the argument", () => {
    expect(sorted(at(src, "sum by (workload) (req)", 100))).toEqual([50, 3100]);
    expect(sorted(at(src, "sum(req) by (workload)", 100))).toEqual([50, 3100]);
    expect(sorted(at(src, "count without (code) (req)", 100))).toEqual([1, 5]);
    expect(at(src, 'max(req{workload="app"})', 100)).toEqual([2000]);
    expect(at(src, 'min(req{workload="app"})', 100)).toEqual([4]);
    expect(at(src, 'avg(req{code=~"5.."})', 100)).toEqual([5]);
    expect(at(src, "sum(nothing)", 100)).toEqual([]);
  });

  it("fills an empty side with `or vector(0)` and keeps a present one", () => {
    expect(at(src, 'sum(req{code="404"}) or vector(0)', 100)).toEqual([0]);
    expect(
      at(src, '(sum(req{workload="app",code=~"5.."}) or vector(0)) / sum(req{workload="app",code=~"..."})', 100),
    ).toEqual([10 / 100]);
  });

  it("divides by zero as IEEE does", () => {
    expect(at(src, "1 / 0", 100)).toEqual([Number.POSITIVE_INFINITY]);
    expect(at(src, "-1 / 0", 100)).toEqual([Number.NEGATIVE_INFINITY]);
    expect(at(src, "0 / 0", 100)).toEqual([Number.NaN]);
    expect(at(src, 'sum(req{code="200"}) / (sum(req{code="200"}) - 140)', 100)).toEqual([Number.POSITIVE_INFINITY]);
    expect(at(src, 'sum(req{code="404"}) / 0', 100)).toEqual([]);
  });

  it("follows PromQL precedence", () => {
    expect(at(src, "1 + 2 * 3", 100)).toEqual([7]);
    expect(at(src, "(1 + 2) * 3", 100)).toEqual([9]);
    expect(at(src, "2 ^ 3 ^ 2", 100)).toEqual([512]);
    expect(at(src, "-2 ^ 2", 100)).toEqual([-4]);
    expect(at(src, "10 - 4 - 3", 100)).toEqual([3]);
    expect(at(src, "7 % 4 + 1 > bool 3", 100)).toEqual([1]);
  });

  it("matches vectors one-to-one on their labels, with on/ignoring", () => {
    const ratio = 'sum by (workload) (req{code=~"5.."}) / sum by (workload) (req)';
    expect(at(src, ratio, 100)).toEqual([10 / 3100]);
    expect(at(src, 'req{code="500"} + on(workload) sum by (workload) (req{code="200"})', 100)).toEqual([96]);
    expect(at(src, 'req{code="500"} - ignoring(code) req{code="503"}', 100)).toEqual([2]);
    const duplicate = at(src, 'sum(req{workload="app"}) + on() req', 100);
    expect(duplicate).toMatchObject({ kind: "query" });
  });

  it("filters with comparisons unless bool, and combines sets with and/unless", () => {
    expect(sorted(at(src, "req > 1000", 100))).toEqual([2000]);
    expect(sorted(at(src, "1000 < req", 100))).toEqual([2000]);
    expect(sorted(at(src, 'req{workload="other"} > bool 10', 100))).toEqual([1]);
    expect(sorted(at(src, 'req and req{code="200"}', 100))).toEqual([50, 90]);
    expect(sorted(at(src, 'req{code="200"} unless ignoring(code) req{code="500"}', 100))).toEqual([50]);
  });

  it("looks back five minutes for an instant selector", () => {
    expect(at(src, 'req{workload="other"}', 399)).toEqual([50]);
    expect(at(src, 'req{workload="other"}', 400)).toEqual([50]);
    expect(at(src, 'req{workload="other"}', 401)).toEqual([]);
    expect(at(src, 'req{workload="other"}', 99)).toEqual([]);
  });

  it("supports scalar, vector, time and the math functions", () => {
    expect(at(src, 'scalar(req{code="500"}) * 2', 100)).toEqual([12]);
    expect(at(src, "scalar(req)", 100)).toEqual([Number.NaN]);
    expect(at(src, "time()", 100)).toEqual([100]);
    expect(at(src, 'clamp_min(req{code="500"} - 10, 0)', 100)).toEqual([0]);
    expect(at(src, 'abs(req{code="500"} - 10)', 100)).toEqual([4]);
  });
});

describe("errors", () => {
  const src = source([{ metric: { __name__: "c" }, points: [[0, 1]] }]);

  it("names the position of a parse error", () => {
    expect(at(src, "sum(rate(c[5m])", 0)).toEqual({ kind: "query", message: expect.stringMatching(/char 16/) });
    expect(at(src, 'c{a="b",}) + 1', 0)).toEqual({ kind: "query", message: expect.stringMatching(/char 10/) });
    expect(at(src, "rate(c)", 0)).toEqual({ kind: "query", message: expect.stringMatching(/char 6.*matrix/) });
    expect(at(src, 'c{a=~"("}', 0)).toEqual({ kind: "query", message: expect.stringMatching(/char 6.*regular/) });
    expect(at(src, "nosuch(c)", 0)).toEqual({ kind: "query", message: expect.stringMatching(/char 1.*unknown/) });
    expect(at(src, "1 > 2", 0)).toEqual({ kind: "query", message: expect.stringMatching(/char 3.*BOOL/) });
    expect(at(src, "c[5m:1m]", 0)).toMatchObject({ kind: "query" });
    expect(at(src, '{a=""}', 0)).toMatchObject({ kind: "query" });
  });

  it("refuses a range vector result", () => {
    expect(at(src, "c[5m]", 0)).toEqual({ kind: "query", message: expect.stringMatching(/matrix/) });
  });

  it("gives labels to tools through evaluateValue", () => {
    const value = evaluateValue("sum by (x) (c)", src, { atMs: 0 });
    expect(value).toEqual({ kind: "vector", samples: [{ metric: {}, value: 1 }] });
  });
});
