// The campaign run inside `npm test`: random timelines against every invariant, reproducible by fast-check seed.
// Each part file runs its own share so vitest spreads them over the machine's cores.
import fc from "fast-check";
import { expect, it } from "vitest";
import { scenarioArbitrary } from "../../scripts/sim/arbitrary.ts";
import { describeTimeline } from "../../scripts/sim/describe.ts";
import { runTimeline } from "../../scripts/sim/timeline.ts";

/** Timelines per part; four parts make the 2,000 the issue asks of every `npm test`. */
export const PER_PART = 500;

export function timelineCampaign(part: number): void {
  it(`keeps every safety invariant on ${PER_PART} random timelines (part ${part}, fast-check seed ${20261207 + part})`, async () => {
    let shown = "";
    await fc
      .assert(
        fc.asyncProperty(scenarioArbitrary, async (scenario) => {
          const result = await runTimeline(scenario, { stopAtViolation: true });
          if (result.violations.length > 0) shown = describeTimeline(result);
          expect(result.violations).toEqual([]);
        }),
        { numRuns: PER_PART, seed: 20261207 + part, endOnFailure: false },
      )
      .catch((error: unknown) => {
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n\nshrunk timeline:\n${shown}`);
      });
  }, 300_000);
}
