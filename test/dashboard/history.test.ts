// The local stack's rollout history: one bounded ring per canary, the stalest canary dropped first.
import { describe, expect, it } from "vitest";
import type { CanaryReport } from "../../functions/canary/step.ts";
import { createRolloutHistory } from "../../scripts/local/history.ts";

const report = (deployment: string, canary: number, extra: Partial<CanaryReport> = {}): CanaryReport => ({
  namespace: "shop",
  deployment,
  phase: "Progressing",
  weights: { stable: 100 - canary, canary },
  outcome: "written",
  events: [],
  warnings: [],
  ...extra,
});

const at = (second: number) => new Date(Date.UTC(2026, 11, 7, 12, 0, second));

describe("the rollout history", () => {
  it("keeps a point per pass with the weights and each check's value and outcome", () => {
    const history = createRolloutHistory();
    history.record([report("web", 10)], at(0));
    history.record(
      [
        report("web", 20, {
          checks: [
            { name: "error-rate", query: "q", value: 0.02, threshold: 0.01, comparison: "max", outcome: "fail" },
            {
              name: "latency-p99",
              query: "q",
              threshold: 500,
              comparison: "max",
              outcome: "inconclusive",
              detail: "NaN",
            },
          ],
          problem: "error-rate 0.02 > max 0.01",
        }),
      ],
      at(60),
    );
    expect(history.timelines()).toEqual([
      {
        namespace: "shop",
        deployment: "web",
        points: [
          {
            at: at(0).toISOString(),
            phase: "Progressing",
            weights: { stable: 90, canary: 10 },
            outcome: "written",
            checks: [],
          },
          {
            at: at(60).toISOString(),
            phase: "Progressing",
            weights: { stable: 80, canary: 20 },
            outcome: "written",
            problem: "error-rate 0.02 > max 0.01",
            checks: [
              { name: "error-rate", value: 0.02, threshold: 0.01, outcome: "fail" },
              { name: "latency-p99", threshold: 500, outcome: "inconclusive", detail: "NaN" },
            ],
          },
        ],
      },
    ]);
  });

  it("holds at most `capacity` points per canary, the newest", () => {
    const history = createRolloutHistory({ capacity: 3 });
    for (let i = 0; i < 5; i += 1) history.record([report("web", i * 10)], at(i));
    expect(history.timelines()[0]?.points.map((point) => point.weights?.canary)).toEqual([20, 30, 40]);
  });

  it("drops the canary seen longest ago when there are too many", () => {
    const history = createRolloutHistory({ maxCanaries: 2 });
    history.record([report("a", 10), report("b", 10)], at(0));
    history.record([report("a", 20)], at(1));
    history.record([report("c", 10)], at(2));
    expect(history.timelines().map((timeline) => timeline.deployment)).toEqual(["a", "c"]);
  });

  it("hands out copies: a caller cannot change what it keeps", () => {
    const history = createRolloutHistory();
    history.record([report("web", 10)], at(0));
    const [timeline] = history.timelines();
    timeline?.points.pop();
    expect(history.timelines()[0]?.points).toHaveLength(1);
  });
});
