// The comparative judge in the simulator: the scenario (50 rps, 1-minute intervals, steps 10/20/50/100, stable
// 0.5% errors and p99 100 ms) with each judge, and random timelines (faults, user actions) under judge: compare against
// every safety invariant.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scenarioArbitrary } from "../../scripts/sim/arbitrary.ts";
import { describeTimeline } from "../../scripts/sim/describe.ts";
import { type CanaryVariant, type JudgeKind, judgeScenario } from "../../scripts/sim/judge-scenario.ts";
import { runTimeline } from "../../scripts/sim/timeline.ts";

async function outcome(seed: number, variant: CanaryVariant, judge: JudgeKind) {
  const result = await runTimeline(judgeScenario(seed, variant, judge, 60), { stopAtFinal: true });
  expect(result.violations, describeTimeline(result)).toEqual([]);
  const last = result.passes.at(-1)?.canary;
  return { phase: result.finalPhase, minute: result.passes.at(-1)?.atSeconds ?? 0, checks: last?.checks ?? [] };
}

describe("the issue's scenario", () => {
  it("promotes an identical canary under both judges, the comparison after it could tell", async () => {
    for (const seed of [1, 2]) {
      const compared = await outcome(seed, "same", "compare");
      expect(compared.phase).toBe("Promoted");
      expect(compared.checks.find((check) => check.name === "error-rate-vs-stable")?.outcome).toBe("pass");
      const threshold = await outcome(seed, "same", "threshold");
      expect(threshold.phase).toBe("Promoted");
      // The comparison needs more canary requests than four one-minute windows: it costs time.
      expect(compared.minute).toBeGreaterThan(threshold.minute);
    }
  });

  it("rolls back a canary failing four times as often (both judges: 2% is over the 1% ceiling too)", async () => {
    const compared = await outcome(3, "errors-4x", "compare");
    expect(compared.phase).toBe("RolledBack");
    expect(compared.checks.find((check) => check.name === "error-rate-vs-stable")?.outcome).toBe("fail");
    expect((await outcome(3, "errors-4x", "threshold")).phase).toBe("RolledBack");
  });

  it("rolls back a canary 1.5 times as slow by comparison; the 1000 ms p99 ceiling lets it through", async () => {
    const compared = await outcome(4, "slower-1.5x", "compare");
    expect(compared.phase).toBe("RolledBack");
    expect(compared.checks.find((check) => check.name === "latency-vs-stable")?.outcome).toBe("fail");
    expect((await outcome(4, "slower-1.5x", "threshold")).phase).toBe("Promoted");
  });
});

describe("random timelines under judge: compare", () => {
  it("keep every safety invariant (30 timelines, fast-check seed 20261603)", async () => {
    let shown = "";
    await fc
      .assert(
        fc.asyncProperty(scenarioArbitrary, async (scenario) => {
          const compared = { ...scenario, annotations: { ...scenario.annotations, judge: "compare" } };
          const result = await runTimeline(compared, { stopAtViolation: true });
          if (result.violations.length > 0) shown = describeTimeline(result);
          expect(result.violations).toEqual([]);
        }),
        { numRuns: 30, seed: 20261603, endOnFailure: false },
      )
      .catch((error: unknown) => {
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n\nshrunk timeline:\n${shown}`);
      });
  }, 120_000);
});
