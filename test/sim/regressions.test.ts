// Counterexamples the simulation campaign found, kept as named timelines (their scenarios are stored as JSON, so a
// change to the random generator cannot change what they test). Each failed before its fix.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeTimeline } from "../../scripts/sim/describe.ts";
import type { Scenario } from "../../scripts/sim/scenario.ts";
import { runTimeline, type TimelineResult } from "../../scripts/sim/timeline.ts";

const load = (name: string): Scenario =>
  JSON.parse(readFileSync(new URL(`./regressions/${name}.json`, import.meta.url), "utf8")) as Scenario;

async function replay(name: string): Promise<TimelineResult> {
  const result = await runTimeline(load(name));
  expect(result.violations, describeTimeline(result)).toEqual([]);
  return result;
}

describe("regressions found by the campaign", () => {
  it("leftover promote: a promote ignored after a rollback does not act when the status is later corrupted", async () => {
    const result = await replay("leftover-promote");
    const at = result.passes.findIndex((pass) => pass.actions.includes("status annotation corrupted"));
    expect(result.passes[at]?.canary?.phase).toBe("Paused");
    expect(result.passes.every((pass) => pass.canary?.phase !== "Promoted")).toBe(true);
  });

  it("corrupt status: an unreadable status pauses at the route's weights until a person resumes", async () => {
    const result = await replay("corrupt-after-rollback");
    const at = result.passes.findIndex((pass) => pass.actions.includes("status annotation corrupted"));
    const before = result.passes[at - 1]?.canary;
    const after = result.passes[at]?.canary;
    expect(after?.phase).toBe("Paused");
    expect(after?.weights).toEqual(before?.weights);
  });

  it("resume above plan: a step resumed at more weight than planned still counts as that step", async () => {
    const result = await replay("resume-above-plan");
    // The hand edit left the canary at 33% and the resume kept it there, as step 1 of 2: no violation of invariant 2.
    expect(
      result.passes.some((pass) => pass.canary?.phase === "Progressing" && pass.canary.weights?.canary === 33),
    ).toBe(true);
  });

  // Found by `npm run sim -- --seeds 10000 --seed 20261207`: two missed scrapes left the newest sample 90 s old; the
  // analysis judged only the healthy first half of its window and promoted a canary failing 8% of requests.
  it("stale metrics: an analysis whose newest sample is too old is inconclusive, and the bad canary is rolled back", async () => {
    const result = await replay("stale-metrics");
    expect(result.finalPhase).toBe("RolledBack");
    expect(result.passes.some((pass) => pass.canary?.phase === "Promoted")).toBe(false);
  });
});
