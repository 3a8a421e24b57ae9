// The state machine under greenlight.dev/judge: compare: an inconclusive comparison holds the weight without counting,
// a regression counts as a failure, passes step, and the judge's state rides along in the status.
import { describe, expect, it } from "vitest";
import type { CheckOutcome, CheckResult } from "../../functions/canary/checks.ts";
import { emptyJudgeState, type JudgeState } from "../../functions/canary/compare.ts";
import { type CanaryInput, decideCanary, planCanary } from "../../functions/canary/decide.ts";
import type { CanaryStatus } from "../../functions/canary/status.ts";
import { atSecond, statusOf, testSettings } from "./fixtures.ts";

const compare = testSettings({ judge: "compare" });

/** The request count and the two comparisons with the given outcomes. */
function checks(errors: CheckOutcome, latency: CheckOutcome = "pass", count: CheckOutcome = "pass"): CheckResult[] {
  return [
    { name: "request-count", query: "q", threshold: 10, comparison: "min", outcome: count, value: 300 },
    { name: "error-rate-vs-stable", query: "q", threshold: 0.005, comparison: "max", outcome: errors, value: 0.001 },
    { name: "latency-vs-stable", query: "q", threshold: 0.55, comparison: "max", outcome: latency, value: 0.5 },
  ];
}

const judgeAfter = (windows: number): JudgeState => ({ ...emptyJudgeState(0.005), windows });

function step(status: CanaryStatus, results: CheckResult[], at: number, judge = judgeAfter(1)) {
  const input: CanaryInput = {
    deployment: { namespace: "production", name: "myapp-v2", version: "v2.0", ready: true },
    settings: compare,
    currentWeights: status.weights,
    stableVersion: "v1.0",
    status,
    now: atSecond(at),
  };
  expect(planCanary(input).analyse).toBe(true);
  return decideCanary({ ...input, checks: results, judge });
}

describe("judge: compare in the state machine", () => {
  it("holds the weight on an inconclusive comparison, counting neither a failure nor an inconclusive analysis", () => {
    let status = statusOf({ failures: 1, inconclusive: 1 });
    for (let minute = 1; minute <= 10; minute++) {
      const decision = step(status, checks("inconclusive"), minute * 60, judgeAfter(minute));
      expect(decision.weights).toBeUndefined();
      expect(decision.events).toEqual([expect.objectContaining({ type: "Normal", reason: "CanaryHold" })]);
      status = decision.status;
      expect(status).toMatchObject({ phase: "Progressing", stepIndex: 0, failures: 1, inconclusive: 0 });
      expect(status.judge?.windows).toBe(minute);
      expect(status.reason).toMatch(/cannot tell yet: error-rate-vs-stable/);
    }
  });

  it("counts a regression as a failure: two in a row roll back (threshold 2), the state kept for the record", () => {
    const first = step(statusOf(), checks("fail"), 60).status;
    expect(first).toMatchObject({ phase: "Progressing", failures: 1 });
    const second = step(first, checks("inconclusive", "fail"), 120, judgeAfter(2));
    expect(second.status).toMatchObject({ phase: "RolledBack", weights: { stable: 100, canary: 0 } });
    expect(second.status.judge?.windows).toBe(2);
    expect(second.weights).toEqual({ stable: 100, canary: 0 });
  });

  it("steps on passing comparisons, and treats no data as under threshold (max-inconclusive)", () => {
    const passed = step(statusOf(), checks("pass"), 60);
    expect(passed.status).toMatchObject({ phase: "Progressing", stepIndex: 1, weights: { stable: 50, canary: 50 } });
    expect(passed.status.judge).toEqual(judgeAfter(1));
    const once = step(statusOf(), checks("inconclusive", "pass", "no-data"), 60).status;
    expect(once).toMatchObject({ inconclusive: 1, failures: 0 });
    // max-inconclusive 2 in these settings: the second no-data analysis in a row counts as a failure.
    expect(step(once, checks("no-data", "no-data", "no-data"), 120).status).toMatchObject({
      inconclusive: 2,
      failures: 1,
    });
  });

  it("leaves the status without a judge field under threshold", () => {
    const input: CanaryInput = {
      deployment: { namespace: "production", name: "myapp-v2", version: "v2.0", ready: true },
      settings: testSettings(),
      currentWeights: { stable: 90, canary: 10 },
      stableVersion: "v1.0",
      status: statusOf(),
      now: atSecond(60),
      checks: checks("pass").slice(0, 1),
    };
    expect(decideCanary(input).status.judge).toBeUndefined();
  });
});
