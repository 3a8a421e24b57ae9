// The flag-judge part of `npm run bench`: the judge part's scenario (judge.ts) as a guarded flag rollout, in the flag
// world (scripts/sim/flag-world.ts): a boolean flag's `on` share stepped 10/20/50/100 once a minute at 50 requests a
// second, the control failing 0.5% of requests with a p99 of 100 ms. Per treatment variant and judge: rollouts rolled
// back, completed or still held when the timeline ended, treatment requests served before a rollback, minutes to the
// outcome. `--duration` scales the seeds as the judge part's does (100 per second of it).

import { FLAG_KEY, flagScenario, THRESHOLD_MAX_ERROR_RATE, THRESHOLD_MAX_P99_SECONDS } from "../sim/flag-scenario.ts";
import { runFlagTimeline } from "../sim/flag-world.ts";
import type { CanaryVariant, JudgeKind } from "../sim/judge-scenario.ts";
import { RPS, STABLE_ERROR_RATE, STABLE_P99_MS, STEPS } from "../sim/judge-scenario.ts";
import type { BenchContext } from "./index.ts";
import {
  emptyTallies,
  JUDGES,
  judgeTable,
  MINUTES,
  pct,
  scenarioFixedSampleSize,
  type Tallies,
  type Tally,
  tallyEnd,
  VARIANTS,
} from "./judge.ts";

export interface FlagJudgeResult {
  seeds: number;
  seconds: number;
  tallies: Tallies;
}

export interface FlagOutcome {
  phase: "rolled-back" | "completed" | "held";
  /** Minutes from the rollout's start to the outcome (the timeline's length when held). */
  minute: number;
  /** Treatment requests served up to the outcome. */
  served: number;
}

/** One timeline's outcome. */
export async function runFlagJudgeTimeline(
  seed: number,
  variant: CanaryVariant,
  judge: JudgeKind,
  minutesLong = MINUTES,
): Promise<FlagOutcome> {
  const result = await runFlagTimeline(flagScenario(seed, variant, judge, minutesLong), { stopAtFinal: true });
  let served = 0;
  for (const pass of result.passes) {
    served += pass.servedToTreatment;
    if (pass.phase === "rolled-back" || pass.phase === "completed") {
      return { phase: pass.phase, minute: pass.atSeconds / 60, served };
    }
  }
  return { phase: "held", minute: minutesLong, served };
}

/** Adds one outcome to a tally (a completed rollout counts as promoted). */
export function tallyOutcome(tally: Tally, outcome: FlagOutcome): void {
  const end = outcome.phase === "rolled-back" ? "rolled-back" : outcome.phase === "completed" ? "promoted" : "held";
  tallyEnd(tally, { ...outcome, outcome: end });
}

/** The fixed-sample size the error-rate figure is set against: the judge part's, for a 10% first step. */
export const flagFixedSampleSize = scenarioFixedSampleSize;

export async function benchFlagJudge(context: BenchContext): Promise<FlagJudgeResult> {
  const seeds = context.duration * 100;
  const tallies = emptyTallies();
  const started = performance.now();
  for (let seed = 1; seed <= seeds; seed++) {
    for (const variant of VARIANTS) {
      for (const judge of JUDGES)
        tallyOutcome(tallies[variant][judge], await runFlagJudgeTimeline(seed, variant, judge));
    }
    if (seed % 200 === 0) {
      const rate = seed / ((performance.now() - started) / 1000);
      context.log(`flag-judge: ${seed} of ${seeds} seeds, ${rate.toFixed(1)} seeds/s`);
    }
  }
  return { seeds, seconds: (performance.now() - started) / 1000, tallies };
}

export function renderFlagJudgeSection(result: FlagJudgeResult, context: BenchContext): string {
  const { tallies, seeds } = result;
  const fixed = flagFixedSampleSize();
  const { row, both, rolledBack, stopped, promotions, rollbacks, requests } = judgeTable(tallies, fixed);
  return [
    "## Judges on a guarded flag rollout",
    "",
    `Measured with \`${context.command}\` on ${context.date} (${result.seconds.toFixed(0)} s).`,
    `Machine: ${context.machine}.`,
    "",
    `The judge section's scenario as a guarded rollout of the boolean flag \`${FLAG_KEY}\` (scripts/sim/flag-scenario.ts, ` +
      `scripts/sim/flag-world.ts): the app serves ${RPS} requests a second, the share that gets \`on\` (the ` +
      `treatment) is stepped ${STEPS} with a 1-minute interval, and the control (\`off\`) fails ` +
      `${pct(STABLE_ERROR_RATE)} of requests with a p99 of ${STABLE_P99_MS} ms (log-normal, p50 40 ms). Requests are ` +
      "Poisson, errors binomial, latencies drawn into OpenTelemetry's buckets for `http.server.request.duration`, " +
      "counted as `http_server_request_duration_seconds` with the `feature_flag_key` and " +
      "`feature_flag_result_variant` labels, scraped every 15 s by the simulated Prometheus; every minute the " +
      "rollout's queries (functions/flags/rollout/queries.ts, read.ts) run against it and the rollout's pure core " +
      `(plan.ts) decides. Each variant runs seeds 1 to ${seeds} with each judge for at most ${MINUTES} virtual ` +
      "minutes. `compare` is the plan's default checks (the builtin error-rate and latency comparisons; alpha 2%, " +
      "tolerance 0.5%, latency tolerance 5%). A flag plan has no threshold judge; `threshold` is its counterpart, a " +
      `plan of two custom checks holding the treatment to the canary's default ceilings (error rate at most ` +
      `${pct(THRESHOLD_MAX_ERROR_RATE)}, p99 at most ${THRESHOLD_MAX_P99_SECONDS * 1000} ms per window), and a custom ` +
      "check beyond its bound rolls back at once (the canary's threshold judge waits for 2 failed analyses). Shares " +
      "come with Wilson's 95% interval.",
    "",
    "| figure | target | compare | threshold |",
    "| --- | --- | ---: | ---: |",
    row("A/A (treatment identical to control): rolled back", "≤ 2%", ...both(rolledBack("same"))),
    row("A/A: completed within the timeline; median minutes to completion", "–", ...both(promotions("same"))),
    row("treatment error rate 4x (2% vs 0.5%): stopped before 100%", "≥ 95%", ...both(stopped("errors-4x"))),
    row("… of which rolled back; median minutes to the rollback", "–", ...both(rollbacks("errors-4x"))),
    row(
      `… treatment requests served before the rollback (median), and its ratio to ${fixed}, the fixed-sample size`,
      "≤ 2x",
      ...both(requests),
    ),
    row("treatment 1.5x slower (p50 and p99 +50%): stopped before 100%", "≥ 95%", ...both(stopped("slower-1.5x"))),
    row("treatment p99 +50% with the median unchanged: stopped before 100%", "–", ...both(stopped("p99-tail-1.5x"))),
    "",
    "The fixed-sample size is the judge section's (the same test, level and power, with nine control requests for " +
      "each treatment one at the first step's 10%). Stopped means not at 100% when the timeline ended: rolled back, " +
      "or still held by an inconclusive comparison. As for canaries, the rank comparison does not see a change " +
      "confined to the tail (the last row), and the threshold plan's stops there are its A/A false alarms, not " +
      "detections: catching a tail-only change takes a check on the tail itself (a custom check on the treatment's " +
      "p99), which this benchmark does not measure.",
  ].join("\n");
}
