// One simulated guarded flag rollout: an app serves a flag's variants at the flag's current share (flag-traffic.ts),
// the simulated Prometheus scrapes it (metrics-store.ts), and every `passSeconds` the rollout's pure core
// (functions/flags/rollout/plan.ts) decides on the window the pass read through the same queries the stepper sends
// (queries.ts) and evaluates with the simulator's PromQL. The flag is the only state: there are no Deployments, no
// API server and no pods, so a timeline is cheap and thousands of them run in seconds. Deterministic per seed.
import type { MetricsReader } from "../../functions/canary/checks.ts";
import { decideRollout, type RolloutDecision, resolvePlan, rolloutDue } from "../../functions/flags/rollout/plan.ts";
import { rolloutQueries } from "../../functions/flags/rollout/queries.ts";
import { readRollout } from "../../functions/flags/rollout/read.ts";
import { shareOf, treatmentOf } from "../../functions/flags/rollout/share.ts";
import type { Flag, RolloutCheckReading, RolloutPhase } from "../../functions/flags/types.ts";
import { Counters } from "./counters.ts";
import { CONTROL, type FlagScenario } from "./flag-scenario.ts";
import { FlagTraffic } from "./flag-traffic.ts";
import { MetricsStore } from "./metrics-store.ts";
import { createRandom } from "./random.ts";
import { START_MS } from "./timeline.ts";

/** The app serves before the first pass for this long, so the control's series are there. */
const WARM_UP_SECONDS = 300;

export interface FlagPass {
  /** Seconds since the first pass. */
  atSeconds: number;
  action: RolloutDecision["action"];
  reason: string;
  /** The treatment's share after the pass, in percent. */
  share: number;
  phase?: RolloutPhase;
  checks?: RolloutCheckReading[];
  /** Requests served the treatment since the previous pass. */
  servedToTreatment: number;
}

export interface FlagTimelineResult {
  scenario: FlagScenario;
  passes: FlagPass[];
  /** The flag after the last pass. */
  flag: Flag;
  finalPhase?: RolloutPhase;
}

/** One pass for one flag at `now`: what the scheduled pass does, without the store. */
export type FlagPassFn = (flag: Flag, reader: MetricsReader, now: Date) => Promise<RolloutDecision>;

/** The pure core with the stepper's reading: read a window when the flag is due for a judgement, then decide. */
export const corePass: FlagPassFn = async (flag, reader, now) => {
  const due = rolloutDue(flag, now);
  if (due !== "judge") return decideRollout(flag, now);
  const plan = resolvePlan(flag);
  if ("problem" in plan) return decideRollout(flag, now);
  const readings = await readRollout(reader, plan, rolloutQueries(flag.key, plan));
  return decideRollout(flag, now, readings);
};

export interface FlagTimelineOptions {
  /** Stop once the rollout completed or was rolled back (the benchmark: nothing happens after that). */
  stopAtFinal?: boolean;
  pass?: FlagPassFn;
}

const FINAL: ReadonlySet<string> = new Set(["completed", "rolled-back", "aborted"]);

export async function runFlagTimeline(
  scenario: FlagScenario,
  options: FlagTimelineOptions = {},
): Promise<FlagTimelineResult> {
  const random = createRandom(scenario.seed);
  const counters = new Counters();
  const metrics = new MetricsStore(scenario.scrape, random.fork("metrics"));
  const traffic = new FlagTraffic(counters, random.fork("traffic"));
  const pass = options.pass ?? corePass;
  let now = START_MS - WARM_UP_SECONDS * 1000;
  const reader = metrics.reader(() => now);
  let flag = scenario.flag;
  const variant = treatmentOf(flag);
  const passes: FlagPass[] = [];
  let served = 0;
  const tickMs = scenario.tickSeconds * 1000;
  const endMs = START_MS + scenario.minutes * 60_000;
  for (; now <= endMs; now += tickMs) {
    const share = shareOf(flag, variant) / 100;
    // The requests of the tick that just ended, at the share in force during it.
    const tally = traffic.tick({
      dtSeconds: scenario.tickSeconds,
      rps: scenario.rps,
      key: flag.key,
      sides: [
        { variant, share, profile: scenario.treatment },
        { variant: CONTROL, share: 1 - share, profile: scenario.control },
      ],
    });
    served += tally[variant]?.requests ?? 0;
    metrics.observe(now, counters);
    const sinceStart = now - START_MS;
    if (sinceStart < 0 || sinceStart % (scenario.passSeconds * 1000) !== 0) continue;
    const decision = await pass(flag, reader, new Date(now));
    if (decision.next) flag = decision.next;
    const status = flag.rolloutStatus;
    passes.push({
      atSeconds: sinceStart / 1000,
      action: decision.action,
      reason: decision.reason,
      share: shareOf(flag, variant),
      ...(status ? { phase: status.phase } : {}),
      ...(decision.action !== "none" && status?.checks ? { checks: status.checks } : {}),
      servedToTreatment: served,
    });
    served = 0;
    if (options.stopAtFinal && status && FINAL.has(status.phase)) break;
  }
  const finalPhase = flag.rolloutStatus?.phase;
  return { scenario, passes, flag, ...(finalPhase ? { finalPhase } : {}) };
}
