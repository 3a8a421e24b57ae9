// `npm run sim`: the simulation campaign at any length, the same code `npm test` runs 2,000 timelines of.
//   npm run sim -- --seeds 100000            random timelines (fast-check), shrunk and printed on the first violation
//   npm run sim -- --seeds 5000 --seed 42    the same campaign again (fast-check seed)
//   npm run sim -- --replay 1234             one timeline of randomScenario(1234), printed pass by pass
//   npm run sim -- --judge compare           the same timelines with greenlight.dev/judge: compare on the canary
import { parseArgs } from "node:util";
import fc from "fast-check";
import { scenarioArbitrary } from "./arbitrary.ts";
import { describeTimeline } from "./describe.ts";
import { randomScenario, type Scenario } from "./scenario.ts";
import { runTimeline } from "./timeline.ts";

const USAGE = "usage: npm run sim -- [--seeds N] [--seed S] [--replay SEED] [--judge threshold|compare]";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string", default: "10000" },
      seed: { type: "string" },
      replay: { type: "string" },
      judge: { type: "string", default: "threshold" },
    },
  });
  if (values.judge !== "threshold" && values.judge !== "compare") {
    throw new Error(`--judge ${values.judge}: threshold or compare. ${USAGE}`);
  }
  /** The canary judged as asked (threshold: the scenario as drawn). */
  const judged = (scenario: Scenario): Scenario =>
    values.judge === "compare" ? { ...scenario, annotations: { ...scenario.annotations, judge: "compare" } } : scenario;
  if (values.replay !== undefined) {
    const seed = Number(values.replay);
    if (!Number.isInteger(seed)) throw new Error(`--replay ${values.replay}: not an integer seed. ${USAGE}`);
    const result = await runTimeline(judged(randomScenario(seed)));
    console.log(describeTimeline(result, 400));
    return result.violations.length > 0 ? 1 : 0;
  }
  const runs = Number(values.seeds);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--seeds ${values.seeds}: a positive integer. ${USAGE}`);
  const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 0x7fffffff;
  if (!Number.isInteger(seed)) throw new Error(`--seed ${values.seed}: an integer. ${USAGE}`);
  const started = performance.now();
  let done = 0;
  let calls = 0;
  let shown = "";
  const phases = new Map<string, number>();
  const others = new Map<string, number>();
  const result = await fc.check(
    fc.asyncProperty(scenarioArbitrary, async (scenario) => {
      const timeline = await runTimeline(judged(scenario), { stopAtViolation: true });
      done++;
      calls += timeline.apiCalls;
      phases.set(timeline.finalPhase ?? "none", (phases.get(timeline.finalPhase ?? "none") ?? 0) + 1);
      for (const pass of timeline.passes) {
        for (const outcome of [
          pass.blueGreen && `blue/green ${pass.blueGreen.outcome}`,
          pass.rolling && `rolling ${pass.rolling.outcome}`,
        ]) {
          if (outcome && !/unchanged|waiting|up-to-date|healthy/.test(outcome))
            others.set(outcome, (others.get(outcome) ?? 0) + 1);
        }
      }
      if (done % 1000 === 0) {
        const rate = done / ((performance.now() - started) / 1000);
        process.stderr.write(`sim: ${done} timelines, ${rate.toFixed(0)}/s\n`);
      }
      if (timeline.violations.length > 0) {
        shown = describeTimeline(timeline, 400);
        return false;
      }
      return true;
    }),
    { numRuns: runs, seed },
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `sim: ${done} timelines in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(1)} timelines/s, ` +
      `${calls} API calls), fast-check seed ${seed}; final canary phases ${JSON.stringify(Object.fromEntries(phases))}; ` +
      `blue/green and rolling passes that acted ${JSON.stringify(Object.fromEntries(others))}`,
  );
  if (result.failed) {
    console.log(`VIOLATION after ${result.numRuns} runs, shrunk ${result.numShrinks} times; counterexample:\n${shown}`);
    console.log(`reproduce: npm run sim -- --seeds ${runs} --seed ${seed}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`sim: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
