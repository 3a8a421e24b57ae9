// The sim part of `npm run bench`: the simulator's timelines (world, fake API server, the real runStep every virtual
// minute, invariants after every pass) run in this process over a fixed set of seeds, timed on the wall clock.
import os from "node:os";
import type { ApiFaults } from "../sim/cluster.ts";
import { describeTimeline } from "../sim/describe.ts";
import { randomScenario } from "../sim/scenario.ts";
import { runTimeline, type TimelineResult } from "../sim/timeline.ts";
import type { BenchContext } from "./index.ts";

/** The measured seeds: `randomScenario(1)` to `randomScenario(500)`, the same timelines on every machine. */
export const SIM_SEEDS = { first: 1, count: 500 } as const;
/** Unmeasured timelines first, of seeds outside the measured set, so the JIT has seen every path before timing. */
const WARM_UP = { first: 1_000_001, count: 20 } as const;

export interface SimResult {
  timelines: number;
  seconds: number;
  warmUpSeconds: number;
  /** Scheduled passes (one a virtual minute), and the runStep calls they made (two when a concurrent stepper runs). */
  passes: number;
  stepperRuns: number;
  /** Virtual minutes the timelines ran, from the first pass on (the scenario's `minutes`). */
  virtualMinutes: number;
  apiCalls: number;
  violations: number;
  /** Timelines with a concurrent stepper, a blue/green pair, a rolling Deployment, API faults. */
  concurrent: number;
  blueGreen: number;
  rolling: number;
  faulty: number;
  /** Wall time of single timelines. */
  medianMs: number;
  slowest: { seed: number; ms: number };
  finalPhases: Record<string, number>;
}

const seedsOf = ({ first, count }: { first: number; count: number }) =>
  Array.from({ length: count }, (_, i) => first + i);

/** The scenario drew API faults: added latency or any chance of a throttled, failed, hung or lost call. */
const hasFaults = ({ latencyMs, ...chances }: ApiFaults) =>
  latencyMs.some((ms) => ms > 0) || Object.values(chances).some((chance) => chance > 0);

export async function benchSim(context: BenchContext): Promise<SimResult> {
  const warmUpStarted = performance.now();
  for (const seed of seedsOf(WARM_UP)) await runTimeline(randomScenario(seed), { stopAtViolation: true });
  const warmUpSeconds = (performance.now() - warmUpStarted) / 1000;
  context.log(`sim: warm-up, ${WARM_UP.count} timelines in ${warmUpSeconds.toFixed(1)} s`);

  const durations: number[] = [];
  const failures: TimelineResult[] = [];
  const phases = new Map<string, number>();
  const totals = {
    passes: 0,
    stepperRuns: 0,
    virtualMinutes: 0,
    apiCalls: 0,
    violations: 0,
    concurrent: 0,
    blueGreen: 0,
    rolling: 0,
    faulty: 0,
  };
  let slowest = { seed: 0, ms: 0 };
  const started = performance.now();
  for (const seed of seedsOf(SIM_SEEDS)) {
    const scenario = randomScenario(seed);
    const before = performance.now();
    const result = await runTimeline(scenario, { stopAtViolation: true });
    const ms = performance.now() - before;
    durations.push(ms);
    if (ms > slowest.ms) slowest = { seed, ms };
    totals.passes += result.passes.length;
    totals.stepperRuns += result.passes.length * (scenario.concurrentStepper ? 2 : 1);
    totals.virtualMinutes += scenario.minutes;
    totals.apiCalls += result.apiCalls;
    totals.violations += result.violations.length;
    if (scenario.concurrentStepper) totals.concurrent++;
    if (scenario.blueGreen) totals.blueGreen++;
    if (scenario.rolling) totals.rolling++;
    if (hasFaults(scenario.faults)) totals.faulty++;
    const phase = result.finalPhase ?? "none";
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
    if (result.violations.length > 0) failures.push(result);
    if (durations.length % 100 === 0) {
      const rate = durations.length / ((performance.now() - started) / 1000);
      context.log(`sim: ${durations.length} timelines, ${rate.toFixed(1)}/s`);
    }
  }
  const seconds = (performance.now() - started) / 1000;

  if (failures.length > 0) {
    const [first] = failures;
    const listed = failures
      .map((failure) => `seed ${failure.scenario.seed}: ${failure.violations.map((v) => v.invariant).join(", ")}`)
      .join("; ");
    throw new Error(
      `sim: ${totals.violations} invariant violation(s) in ${failures.length} of ${durations.length} timelines (${listed}); ` +
        "nothing written. The first, to its violation:\n" +
        `${first ? describeTimeline(first, 400) : ""}\n` +
        `replay one with: npm run sim -- --replay ${first?.scenario.seed}`,
    );
  }

  const sorted = [...durations].sort((a, b) => a - b);
  return {
    timelines: durations.length,
    seconds,
    warmUpSeconds,
    ...totals,
    medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0,
    slowest,
    finalPhases: Object.fromEntries([...phases].sort(([, a], [, b]) => b - a)),
  };
}

const decimal = (value: number, digits: number) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function renderSimSection(result: SimResult, context: BenchContext): string {
  const perSecond = (n: number) => n / result.seconds;
  const last = SIM_SEEDS.first + SIM_SEEDS.count - 1;
  const phases = Object.entries(result.finalPhases)
    .map(([phase, n]) => `${phase} ${n}`)
    .join(", ");
  return [
    "## Simulator: timelines per second",
    "",
    `Measured with \`${context.command}\` on ${context.date}.`,
    `Machine: ${context.machine}.`,
    "",
    ...(context.busy ? ["**The machine was busy when this run started: treat the rates with care.**", ""] : []),
    `The timelines of \`randomScenario(${SIM_SEEDS.first})\` to \`randomScenario(${last})\` (scripts/sim/scenario.ts), each run ` +
      "by `runTimeline(scenario, { stopAtViolation: true })` as `npm run sim` runs them: the simulated Deployment " +
      "controller, Istio mesh, scraped metrics and API server (with its faults) in virtual time, the real `runStep` at " +
      "every scheduled pass (twice at once when the scenario has a concurrent stepper), and the invariants checked after " +
      "every pass. The seeds are fixed, so the timelines, their passes and their API calls are the same on every machine " +
      "for a given scripts/sim (a change to how scenarios are drawn changes them); only the wall time differs. " +
      `${WARM_UP.count} unmeasured timelines of other seeds run first ` +
      `(${decimal(result.warmUpSeconds, 1)} s). One Node process, one after the other on its main thread: one core of ` +
      `the machine's ${os.cpus().length}, nothing in parallel. The part takes no notice of \`--duration\`.`,
    "",
    "| timelines | wall time | timelines/s | virtual minutes per timeline | passes/s (virtual) | runStep calls/s | API calls per timeline | invariant violations |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${result.timelines} | ${decimal(result.seconds, 1)} s | ${decimal(perSecond(result.timelines), 1)} | ` +
      `${decimal(result.virtualMinutes / result.timelines, 1)} | ${decimal(perSecond(result.passes), 0)} | ` +
      `${decimal(perSecond(result.stepperRuns), 0)} | ${decimal(result.apiCalls / result.timelines, 1)} | ${result.violations} |`,
    "",
    `Virtual minutes count from the first pass (the scenario's \`minutes\`; the world runs a warm-up before it in which ` +
      `the stable version comes up): ${decimal(result.virtualMinutes / result.seconds / 60, 1)} virtual hours of ` +
      `rollouts per wall second. ${result.passes.toLocaleString("en-US")} passes in all (one a virtual minute, minute 0 included), ` +
      `${result.stepperRuns.toLocaleString("en-US")} runs of \`runStep\`. A timeline took ${decimal(result.medianMs, 0)} ms ` +
      `(median), the slowest ${decimal(result.slowest.ms, 0)} ms (seed ${result.slowest.seed}). Of the ${result.timelines}: ` +
      `${result.faulty} with API faults (added latency, chances of failed, hung or lost calls), ${result.concurrent} with a concurrent stepper, ${result.blueGreen} with a ` +
      `blue/green pair, ${result.rolling} with a rolling Deployment. The canary's last phase: ${phases}.`,
    "",
    "### Targets",
    "",
    `- no invariant violated in ${result.timelines} timelines: ${result.violations}, met (any violation fails the part and writes nothing)`,
  ].join("\n");
}
