// The guarded flag rollout in the simulator (issue 16, section 3, flag half): the flag world's traffic and its series,
// single timelines read pass by pass, and a few hundred seeded timelines per variant held to the targets
// (A/A false alarms at most the 2% level, a 4x error rate and a 1.5x slower treatment stopped in at least 95% of
// rollouts, the treatment requests before detecting the 4x error rate at most twice the fixed-sample size).
import { describe, expect, it } from "vitest";
import { resolvePlan } from "../../functions/flags/rollout/plan.ts";
import { rolloutQueries } from "../../functions/flags/rollout/queries.ts";
import { validateFlag } from "../../functions/flags/validate.ts";
import {
  type FlagOutcome,
  flagFixedSampleSize,
  runFlagJudgeTimeline,
  tallyOutcome,
} from "../../scripts/bench/flag-judge.ts";
import { emptyTally, median, type Tally } from "../../scripts/bench/judge.ts";
import { FlagTrafficSimulation } from "../../scripts/services/flag-exporter.ts";
import { Counters } from "../../scripts/sim/counters.ts";
import { CONTROL, FLAG_KEY, flagScenario, scenarioFlag, TREATMENT } from "../../scripts/sim/flag-scenario.ts";
import { FlagTraffic } from "../../scripts/sim/flag-traffic.ts";
import { runFlagTimeline } from "../../scripts/sim/flag-world.ts";
import type { CanaryVariant, JudgeKind } from "../../scripts/sim/judge-scenario.ts";
import { MetricsStore } from "../../scripts/sim/metrics-store.ts";
import { createRandom } from "../../scripts/sim/random.ts";

const PROFILE = { errorRate: 0.005, latencyP50Ms: 40, latencyP99Ms: 100 };

describe("the flag world's traffic", () => {
  it("serves each variant its share, as series the rollout's queries select", async () => {
    const counters = new Counters();
    const traffic = new FlagTraffic(counters, createRandom(7));
    const store = new MetricsStore(
      { intervalSeconds: 10, lagSeconds: 0, missProbability: 0, outages: [] },
      createRandom(8),
    );
    let treatment = 0;
    let control = 0;
    for (let tick = 0; tick < 60; tick++) {
      const served = traffic.tick({
        dtSeconds: 10,
        rps: 100,
        key: FLAG_KEY,
        sides: [
          { variant: TREATMENT, share: 0.2, profile: { ...PROFILE, errorRate: 0.02 } },
          { variant: CONTROL, share: 0.8, profile: PROFILE },
        ],
      });
      treatment += served[TREATMENT]?.requests ?? 0;
      control += served[CONTROL]?.requests ?? 0;
      store.observe((tick + 1) * 10_000, counters);
    }
    // 60,000 requests expected, a fifth of them treatment: well within 5 standard deviations.
    expect(Math.abs(treatment - 12_000)).toBeLessThan(5 * Math.sqrt(12_000));
    expect(Math.abs(control - 48_000)).toBeLessThan(5 * Math.sqrt(48_000));

    // Scraped and read back through the same queries the stepper sends: counts, errors and buckets per side.
    const plan = resolvePlan({ key: FLAG_KEY, state: "partial", rollout: { steps: [100], interval: "10m" } });
    if ("problem" in plan) throw new Error(plan.problem);
    const queries = rolloutQueries(FLAG_KEY, plan);
    const value = (promql: string) => {
      const answer = store.evaluate(promql, 600_000);
      if (!Array.isArray(answer)) throw new Error(answer.message);
      return answer.reduce((sum, sample) => sum + sample, 0);
    };
    // increase() extrapolates from the first scrape to the window's start: within a few percent.
    expect(value(queries.treatment.requests) / treatment).toBeCloseTo(1, 1);
    expect(value(queries.control.requests) / control).toBeCloseTo(1, 1);
    const treatmentErrors = value(queries.treatment.errors) / value(queries.treatment.requests);
    expect(treatmentErrors).toBeGreaterThan(0.015);
    expect(treatmentErrors).toBeLessThan(0.025);
    // The p99 of the buckets lands in the bucket holding 100 ms.
    const p99 = value(`histogram_quantile(0.99, ${queries.control.buckets})`);
    expect(p99).toBeGreaterThan(0.075);
    expect(p99).toBeLessThanOrEqual(0.25);
  });

  it("emits the series the real test exporter serves: same names, same labels", () => {
    const counters = new Counters();
    new FlagTraffic(counters, createRandom(1)).tick({
      dtSeconds: 10,
      rps: 10,
      key: FLAG_KEY,
      sides: [{ variant: TREATMENT, share: 1, profile: PROFILE }],
    });
    const simulated = counters
      .snapshot()
      .map((sample) => `${sample.name}{${Object.keys(sample.labels).sort().join(",")}}`)
      .sort();
    const exporter = new FlagTrafficSimulation(() => 0);
    exporter.set({ key: FLAG_KEY, variant: TREATMENT, rps: 10, errorRate: 0.005, p50Ms: 40, p99Ms: 100 });
    const served = exporter
      .render()
      .split("\n")
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => {
        const [, name, labels] = /^([a-z_]+)\{(.*)\} /.exec(line) ?? [];
        const names = (labels ?? "").split(/,(?=[a-z_]+=)/).map((pair) => pair.split("=")[0]);
        return `${name}{${names.sort().join(",")}}`;
      })
      .sort();
    expect(simulated).toEqual(served);
  });
});

describe("the flag test exporter", () => {
  it("grows each counter at its configured rate, keeping the counts when the traffic changes", () => {
    let now = 0;
    const exporter = new FlagTrafficSimulation(() => now);
    exporter.set({ key: FLAG_KEY, variant: TREATMENT, rps: 100, errorRate: 0.02, p50Ms: 40, p99Ms: 100 });
    const read = (pattern: RegExp) => {
      const line = exporter
        .render()
        .split("\n")
        .find((candidate) => pattern.test(candidate));
      return Number(line?.split(" ").at(-1));
    };
    now = 10_000;
    expect(read(/_count\{.*status_code="500"/)).toBeCloseTo(20, 9);
    expect(read(/_count\{.*status_code="200"/)).toBeCloseTo(980, 9);
    // Half the requests at or below the median's bucket bound (50 ms > 40 ms), all but 1% below 100 ms.
    expect(read(/_bucket\{.*status_code="200",le="0.05"\}/) / 980).toBeGreaterThan(0.5);
    expect(read(/_bucket\{.*status_code="200",le="0.1"\}/) / 980).toBeCloseTo(0.99, 3);
    exporter.set({ key: FLAG_KEY, variant: TREATMENT, rps: 0, errorRate: 0.02, p50Ms: 40, p99Ms: 100 });
    now = 20_000;
    expect(read(/_count\{.*status_code="200"/)).toBeCloseTo(980, 9);
  });

  it("names the field and what it accepts when a side is wrong", () => {
    const exporter = new FlagTrafficSimulation();
    expect(() =>
      exporter.set({ key: FLAG_KEY, variant: TREATMENT, rps: 1, errorRate: 1.5, p50Ms: 40, p99Ms: 100 }),
    ).toThrow("side.errorRate must be a number in [0, 1], got 1.5");
    expect(() =>
      exporter.set({ key: FLAG_KEY, variant: TREATMENT, rps: 1, errorRate: 0, p50Ms: 40, p99Ms: 30 }),
    ).toThrow("side.p99Ms must be a number of milliseconds >= p50Ms (40), got 30");
  });
});

describe("one rollout, pass by pass", () => {
  it("rolls out flags the admin API accepts, under either judge", () => {
    for (const judge of ["compare", "threshold"] as const) {
      expect(validateFlag(scenarioFlag(judge)).ok, judge).toBe(true);
    }
  });

  it("steps an identical treatment 10, 20, 50, 100 once the comparison can tell, writing the flag's percentage", async () => {
    const result = await runFlagTimeline(flagScenario(2, "same", "compare"), { stopAtFinal: true });
    expect(result.finalPhase).toBe("completed");
    expect(result.flag.percentage).toBe(100);
    const shares = result.passes.map((pass) => pass.share).filter((share, i, all) => share !== all[i - 1]);
    expect(shares).toEqual([10, 20, 50, 100]);
    expect(result.passes[0]).toMatchObject({ action: "start", share: 10 });
    // At 50 requests a second the first step holds while the error-rate comparison is inconclusive.
    expect(result.passes[1]).toMatchObject({ action: "hold", share: 10 });
    expect(result.passes[1]?.checks?.find((check) => check.name === "error-rate")?.outcome).toBe("inconclusive");
    const last = result.passes.at(-1);
    expect(last?.checks?.map((check) => [check.name, check.outcome])).toEqual([
      ["error-rate", "pass"],
      ["latency", "pass"],
    ]);
  });

  it("rolls a treatment failing four times as often back to 0%, naming the check and its values", async () => {
    const result = await runFlagTimeline(flagScenario(3, "errors-4x", "compare"), { stopAtFinal: true });
    expect(result.finalPhase).toBe("rolled-back");
    expect(result.flag.percentage).toBe(0);
    expect(result.flag.rolloutStatus?.reason).toMatch(
      /^error-rate regression at 10%: treatment 2?\.?\d*% \(\d+\/\d+\) vs control/,
    );
    const check = result.flag.rolloutStatus?.checks?.find((reading) => reading.name === "error-rate");
    expect(check?.lower).toBeGreaterThanOrEqual(0.005);
  });

  it("the threshold counterpart lets a 1.5x slower treatment through; compare rolls it back", async () => {
    expect((await runFlagTimeline(flagScenario(4, "slower-1.5x", "threshold"), { stopAtFinal: true })).finalPhase).toBe(
      "completed",
    );
    const compared = await runFlagTimeline(flagScenario(4, "slower-1.5x", "compare"), { stopAtFinal: true });
    expect(compared.finalPhase).toBe("rolled-back");
    expect(compared.flag.rolloutStatus?.reason).toMatch(/^latency regression/);
  });
});

async function tally(variant: CanaryVariant, judge: JudgeKind, seeds: number): Promise<Tally> {
  const result = emptyTally();
  for (let seed = 1; seed <= seeds; seed++) {
    const outcome: FlagOutcome = await runFlagJudgeTimeline(seed, variant, judge, 60);
    tallyOutcome(result, outcome);
  }
  return result;
}

describe("the issue's targets over 300 seeded rollouts each (judge: compare)", () => {
  const SEEDS = 300;

  it("A/A: at most 2% rolled back, and nearly all complete", async () => {
    const aa = await tally("same", "compare", SEEDS);
    expect(aa.rolledBack / aa.runs).toBeLessThanOrEqual(0.02);
    expect(aa.promoted / aa.runs).toBeGreaterThanOrEqual(0.95);
  }, 60_000);

  it("a 4x error rate: at least 95% stopped, after at most twice the fixed-sample size's treatment requests", async () => {
    const failing = await tally("errors-4x", "compare", SEEDS);
    expect((failing.runs - failing.promoted) / failing.runs).toBeGreaterThanOrEqual(0.95);
    const requests = median(failing.requestsToRollback) ?? Number.POSITIVE_INFINITY;
    expect(requests).toBeLessThanOrEqual(2 * flagFixedSampleSize());
  }, 60_000);

  it("a treatment 1.5x slower: at least 95% stopped", async () => {
    const slower = await tally("slower-1.5x", "compare", SEEDS);
    expect((slower.runs - slower.promoted) / slower.runs).toBeGreaterThanOrEqual(0.95);
  }, 60_000);
});
