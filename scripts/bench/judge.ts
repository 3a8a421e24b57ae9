// The judge part of `npm run bench`: the comparison scenario (50 requests a second, 1-minute intervals, steps
// 10/20/50/100, stable 0.5% errors and p99 100 ms) run through the simulator with each judge, over the same seeds.
// Per canary variant and judge: how many rollouts were rolled back, promoted or still held when the timeline ended,
// the canary requests served before a rollback, and the minutes to the outcome. `--duration` scales the seeds
// (100 per second of it: the default 10 gives 1,000 timelines per variant and judge).
import { normalQuantile } from "../../functions/judge/special.ts";
import {
  type CanaryVariant,
  type JudgeKind,
  judgeScenario,
  RPS,
  SCENARIO_MINUTES,
  STABLE_ERROR_RATE,
  STABLE_P99_MS,
  STEPS,
} from "../sim/judge-scenario.ts";
import { runTimeline } from "../sim/timeline.ts";
import type { BenchContext } from "./index.ts";

export const VARIANTS: readonly CanaryVariant[] = ["same", "errors-4x", "slower-1.5x", "p99-tail-1.5x"];
export const JUDGES: readonly JudgeKind[] = ["compare", "threshold"];
/** Virtual minutes a timeline may run: the comparison holds a step until it can tell. */
export const MINUTES = SCENARIO_MINUTES;
/** Defaults of greenlight.dev/judge-alpha and judge-tolerance, which the scenario leaves as they are. */
export const ALPHA = 0.02;
export const TOLERANCE = 0.005;
export const POWER = 0.95;
/** The first step's canary share, where a failing canary is held until it is judged. */
export const FIRST_SHARE = 0.1;

export interface Tally {
  runs: number;
  rolledBack: number;
  promoted: number;
  /** Neither when the timeline ended: still held. */
  held: number;
  /** Per rolled-back run: canary requests served up to the rollback, and its minute. */
  requestsToRollback: number[];
  minutesToRollback: number[];
  minutesToPromotion: number[];
}

export interface JudgeResult {
  seeds: number;
  seconds: number;
  tallies: Tallies;
  violations: number;
}

/** Adds one timeline's end to a tally: rolled back (with the requests served and the minute), promoted, or held. */
export function tallyEnd(
  tally: Tally,
  end: { outcome: "rolled-back" | "promoted" | "held"; served: number; minute: number },
): void {
  tally.runs++;
  if (end.outcome === "rolled-back") {
    tally.rolledBack++;
    tally.requestsToRollback.push(end.served);
    tally.minutesToRollback.push(end.minute);
  } else if (end.outcome === "promoted") {
    tally.promoted++;
    tally.minutesToPromotion.push(end.minute);
  } else tally.held++;
}

export const emptyTally = (): Tally => ({
  runs: 0,
  rolledBack: 0,
  promoted: 0,
  held: 0,
  requestsToRollback: [],
  minutesToRollback: [],
  minutesToPromotion: [],
});

/** One timeline's outcome. */
export async function runJudgeTimeline(seed: number, variant: CanaryVariant, judge: JudgeKind, minutes = MINUTES) {
  const result = await runTimeline(judgeScenario(seed, variant, judge, minutes), { stopAtFinal: true });
  let served = 0;
  for (const pass of result.passes) {
    served += pass.servedToCanary;
    const phase = pass.canary?.phase;
    if (phase === "RolledBack" || phase === "Promoted") {
      return { phase, minute: pass.atSeconds / 60, served, violations: result.violations.length };
    }
  }
  return { phase: "held" as const, minute: minutes, served, violations: result.violations.length };
}

export type Tallies = Record<CanaryVariant, Record<JudgeKind, Tally>>;

/** An empty tally per variant and judge. */
export const emptyTallies = (): Tallies =>
  Object.fromEntries(
    VARIANTS.map((variant) => [variant, Object.fromEntries(JUDGES.map((judge) => [judge, emptyTally()]))]),
  ) as Tallies;

export async function benchJudge(context: BenchContext): Promise<JudgeResult> {
  const seeds = context.duration * 100;
  const tallies = emptyTallies();
  let violations = 0;
  const started = performance.now();
  for (let seed = 1; seed <= seeds; seed++) {
    for (const variant of VARIANTS) {
      for (const judge of JUDGES) {
        const outcome = await runJudgeTimeline(seed, variant, judge);
        violations += outcome.violations;
        const end = outcome.phase === "RolledBack" ? "rolled-back" : outcome.phase === "Promoted" ? "promoted" : "held";
        tallyEnd(tallies[variant][judge], { ...outcome, outcome: end });
      }
    }
    if (seed % 100 === 0) {
      const rate = seed / ((performance.now() - started) / 1000);
      context.log(`judge: ${seed} of ${seeds} seeds, ${rate.toFixed(1)} seeds/s`);
    }
  }
  if (violations > 0) throw new Error(`judge: ${violations} invariant violation(s) in the scenario's timelines`);
  return { seeds, seconds: (performance.now() - started) / 1000, tallies, violations };
}

/**
 * Canary requests a fixed-sample one-sided test of "difference ≤ tolerance" needs for `power` at level `alpha`, with
 * the stable version getting `ratio` times as many: n = (z(1-α) + z(power))² (p_c(1-p_c) + p_s(1-p_s)/ratio) / (δ - τ)².
 */
export function fixedSampleSize(
  canaryRate: number,
  stableRate: number,
  options: { alpha: number; power: number; tolerance: number; ratio: number },
): number {
  const z = normalQuantile(1 - options.alpha) + normalQuantile(options.power);
  const variance = canaryRate * (1 - canaryRate) + (stableRate * (1 - stableRate)) / options.ratio;
  return Math.ceil((z * z * variance) / (canaryRate - stableRate - options.tolerance) ** 2);
}

/** Wilson's 95% interval of a proportion. */
export function wilson(successes: number, trials: number): [number, number] {
  if (trials === 0) return [0, 1];
  const z = 1.959963984540054;
  const p = successes / trials;
  const centre = (p + (z * z) / (2 * trials)) / (1 + (z * z) / trials);
  const half = (z / (1 + (z * z) / trials)) * Math.sqrt((p * (1 - p)) / trials + (z * z) / (4 * trials * trials)) || 0;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export const median = (values: readonly number[]): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle)
    ? ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
    : (sorted[Math.floor(middle)] as number);
};

export const pct = (value: number) => `${(value * 100).toFixed(1)}%`;
export const share = (count: number, runs: number) => {
  const [low, high] = wilson(count, runs);
  return `${pct(count / runs)} (${count}/${runs}; ${pct(low)}–${pct(high)})`;
};
export const minutes = (values: readonly number[]) => {
  const m = median(values);
  return m === undefined ? "–" : `${m.toFixed(0)} min`;
};

/** The fixed-sample size the scenario's error-rate figure is set against: a 4x error rate at the first step's share. */
export const scenarioFixedSampleSize = (): number =>
  fixedSampleSize(4 * STABLE_ERROR_RATE, STABLE_ERROR_RATE, {
    alpha: ALPHA,
    power: POWER,
    tolerance: TOLERANCE,
    ratio: (1 - FIRST_SHARE) / FIRST_SHARE,
  });

/** The rows and cells of both judge sections' tables (this one and flag-judge.ts's), over one run's tallies. */
export function judgeTable(tallies: Tallies, fixed: number) {
  const of = (variant: CanaryVariant, judge: JudgeKind) => tallies[variant][judge];
  return {
    row: (figure: string, target: string, compare: string, threshold: string) =>
      `| ${figure} | ${target} | ${compare} | ${threshold} |`,
    both: (f: (judge: JudgeKind) => string) => [f("compare"), f("threshold")] as const,
    rolledBack: (variant: CanaryVariant) => (judge: JudgeKind) =>
      share(of(variant, judge).rolledBack, of(variant, judge).runs),
    /** Not promoted when the timeline ended: rolled back or still held. */
    stopped: (variant: CanaryVariant) => (judge: JudgeKind) =>
      share(of(variant, judge).runs - of(variant, judge).promoted, of(variant, judge).runs),
    /** The share promoted, and the median minutes to it. */
    promotions: (variant: CanaryVariant) => (judge: JudgeKind) =>
      `${share(of(variant, judge).promoted, of(variant, judge).runs)}; ${minutes(of(variant, judge).minutesToPromotion)}`,
    /** The share rolled back, and the median minutes to it. */
    rollbacks: (variant: CanaryVariant) => (judge: JudgeKind) =>
      `${share(of(variant, judge).rolledBack, of(variant, judge).runs)}; ${minutes(of(variant, judge).minutesToRollback)}`,
    /** The 4x error rate's median requests served before a rollback, and its ratio to the fixed-sample size. */
    requests: (judge: JudgeKind) => {
      const m = median(of("errors-4x", judge).requestsToRollback);
      return m === undefined ? "–" : `${m.toFixed(0)} (${(m / fixed).toFixed(2)}x)`;
    },
  };
}

export function renderJudgeSection(result: JudgeResult, context: BenchContext): string {
  const { tallies, seeds } = result;
  const fixed = scenarioFixedSampleSize();
  const { row, both, rolledBack, stopped, promotions, rollbacks, requests } = judgeTable(tallies, fixed);
  return [
    "## Judges: compare against threshold on the rollout scenario",
    "",
    `Measured with \`${context.command}\` on ${context.date} (${result.seconds.toFixed(0)} s).`,
    `Machine: ${context.machine}.`,
    "",
    `The scenario of issue 16 in the simulator (scripts/sim/judge-scenario.ts): ${RPS} requests a second, 1-minute ` +
      `intervals, steps ${STEPS}, a stable version failing ${pct(STABLE_ERROR_RATE)} of requests with a p99 of ` +
      `${STABLE_P99_MS} ms (log-normal latency, p50 40 ms), every other setting at its default (threshold 2, ` +
      `max-error-rate 1%, max-latency-p99 1000ms, min-requests 10; judge-alpha 2%, judge-tolerance 0.5%, ` +
      `judge-latency-tolerance 5%). Each variant runs seeds 1 to ${seeds} with each judge for at most ${MINUTES} ` +
      "virtual minutes: errors binomial per request, requests Poisson per pod, latencies in Istio's buckets, the real " +
      "`runStep` every minute against the simulated Prometheus, with the invariants checked after every pass. " +
      "Shares come with Wilson's 95% interval.",
    "",
    "| figure | target | compare | threshold |",
    "| --- | --- | ---: | ---: |",
    row("A/A (canary identical to stable): rolled back", "≤ 2%", ...both(rolledBack("same"))),
    row("A/A: promoted within the timeline; median minutes to promotion", "–", ...both(promotions("same"))),
    row("canary error rate 4x (2% vs 0.5%): stopped before promotion", "≥ 95%", ...both(stopped("errors-4x"))),
    row("… of which rolled back; median minutes to the rollback", "–", ...both(rollbacks("errors-4x"))),
    row(
      `… canary requests served before the rollback (median), and its ratio to ${fixed}, the fixed-sample size`,
      "≤ 2x",
      ...both(requests),
    ),
    row("canary 1.5x slower (p50 and p99 +50%): stopped before promotion", "≥ 95%", ...both(stopped("slower-1.5x"))),
    row("canary p99 +50% with the median unchanged: stopped before promotion", "–", ...both(stopped("p99-tail-1.5x"))),
    "",
    `The fixed-sample size is the canary requests a one-sided two-proportion z-test of "canary ≤ stable + 0.5%" ` +
      `needs for ${pct(POWER)} power at the same ${pct(ALPHA)} false-alarm level against 2% vs 0.5%, with the stable ` +
      `version getting nine requests for each canary one (the first step's split, where a failing canary is held): ` +
      "n = (z(1−α) + z(0.95))² (p_c(1−p_c) + p_s(1−p_s)/9) / (p_c − p_s − 0.5%)². The sequential test runs at half " +
      "the level (the other half goes to latency) and may stop at any minute. Stopped means not promoted when the " +
      "timeline ended: rolled back, or still held by an inconclusive comparison. A change confined to the tail (the " +
      "last row) barely moves the rank comparison, which compares whole distributions: a custom check on the p99 " +
      "covers it (docs/ARCHITECTURE.md).",
  ].join("\n");
}
