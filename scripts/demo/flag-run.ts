// The flag demo's runner: two guarded flag rollouts on this machine, stepped by the real pass on the real clock.
/*
 * Parts, each real where it matters: a file flag store (by default the one `npm start` serves, so its dashboard and
 * `greenlight flags` show the flags and their audit logs afterwards), one sample app per flag evaluating it with
 * greenlight's evaluator for every request (flag-app.ts), an open-loop load generator per app (load.ts), Debian's
 * Prometheus scraping the apps every second, and `stepFlagRollouts` with the Prometheus reader every `tickMs`, as the
 * scheduled pass runs it (it judges a flag once its interval has passed since the last judgement).
 *
 * The two rollouts run side by side: `equal` (the new variant behaves as the old) walks 20% -> 50% -> 100%; `failing`
 * (the new variant fails eight times as often) is rolled back to 0% with the check and values that decided it. The
 * passes see only the demo's two flags (flag-store.ts's onlyFlags), so a plan on a flag of the user's own is left
 * alone. Everything started is stopped in reverse order on the way out, also when `signal` aborts (Ctrl-C).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createPrometheusReader } from "../../functions/canary/prometheus.ts";
import { type FlagRolloutReport, stepFlagRollouts } from "../../functions/flags/rollout/step.ts";
import type { FlagStore, RolloutPhase } from "../../functions/flags/types.ts";
import { FLAG_METRIC } from "../services/flag-exporter.ts";
import { startPrometheus } from "../services/prometheus.ts";
import { startFlagApp } from "./flag-app.ts";
import { CONTROL, FLAG_SCENARIOS, type FlagDemoProfile, type FlagScenario } from "./flag-profiles.ts";
import { onlyFlags, openDemoStore, writeDemoFlags } from "./flag-store.ts";
import {
  allFlagsAsExpected,
  type FlagJudgement,
  type FlagRunSummary,
  formatFlagSummary,
  formatJudgement,
} from "./flag-timeline.ts";
import { Teardown, waitForFirstScrape } from "./harness.ts";
import { type LoadStats, startLoad } from "./load.ts";

export interface FlagDemoOptions {
  profile: FlagDemoProfile;
  /** The file store's directory. */
  storeDir: string;
  /** The environment prefix the closing hints need to reach that store (empty for `npm start`'s own). */
  storeHint: string;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface FlagDemoResult {
  runs: FlagRunSummary[];
  judgements: FlagJudgement[];
  load: LoadStats;
  /** Every rollout ended as expected. */
  ok: boolean;
}

const TERMINAL: ReadonlySet<string> = new Set<RolloutPhase>(["completed", "rolled-back", "aborted"]);
const JUDGED: ReadonlySet<string> = new Set(["hold", "step-up", "complete", "roll-back"]);

/** Generous bound on the rollouts: ten judgements a step, plus slack. Only a broken setup reaches it. */
const runLimitMs = (profile: FlagDemoProfile): number =>
  (profile.steps.length * 10 * profile.intervalSeconds + 30) * 1000;

const sumStats = (all: readonly LoadStats[]): LoadStats => {
  const total: LoadStats = { sent: 0, answered: {}, timeouts: 0, skipped: 0, failed: 0, inFlight: 0 };
  for (const stats of all) {
    total.sent += stats.sent;
    total.timeouts += stats.timeouts;
    total.skipped += stats.skipped;
    total.failed += stats.failed;
    total.inFlight += stats.inFlight;
    for (const [code, count] of Object.entries(stats.answered))
      total.answered[code] = (total.answered[code] ?? 0) + count;
  }
  return total;
};

interface Tracked {
  scenario: FlagScenario;
  share: number;
  phase: RolloutPhase | "unfinished";
  judgements: number;
  reason: string;
  seconds: number;
}

/** One pass's reports as timeline entries (a write, or a failure to step), and the tracked state updated. */
async function record(
  store: FlagStore,
  reports: readonly FlagRolloutReport[],
  tracked: Map<string, Tracked>,
  seconds: number,
): Promise<FlagJudgement[]> {
  const entries: FlagJudgement[] = [];
  for (const report of reports) {
    const run = tracked.get(report.key);
    if (!run || report.action === "none") continue;
    const from = run.share;
    const to = report.share ?? from;
    const status = JUDGED.has(report.action) ? (await store.get(report.key))?.flag.rolloutStatus : undefined;
    entries.push({
      scenario: run.scenario.name,
      seconds,
      action: report.action,
      from,
      to,
      checks: status?.checks ?? [],
      reason: report.reason,
    });
    run.share = to;
    if (report.phase) run.phase = report.phase;
    if (JUDGED.has(report.action)) run.judgements += 1;
    run.reason = report.reason;
    run.seconds = seconds;
  }
  return entries;
}

export async function runFlagDemo(options: FlagDemoOptions): Promise<FlagDemoResult> {
  const { profile, log, signal } = options;
  const stops = new Teardown();
  try {
    const store = openDemoStore(options.storeDir);
    await writeDemoFlags(store, FLAG_SCENARIOS, profile);
    const keys = FLAG_SCENARIOS.map((scenario) => scenario.key);
    log(`  flag store           files in ${options.storeDir} (${keys.join(", ")} written at 0%)`);

    const apps = [];
    for (const scenario of FLAG_SCENARIOS) {
      const app = await startFlagApp({
        store,
        key: scenario.key,
        variants: { on: scenario.treatment, off: CONTROL },
        fallback: CONTROL,
      });
      stops.add(`the ${scenario.name} app`, () => app.close());
      apps.push(app);
    }
    const loads = apps.map((app) => startLoad({ url: app.url, rps: profile.rps }));
    let finalStats: LoadStats[] | undefined;
    stops.add("the load generators", async () => {
      finalStats = await Promise.all(loads.map((load) => load.stop()));
    });

    const prometheus = await startPrometheus({
      scrapeTargets: apps.map((app) => app.metricsUrl),
      scrapeIntervalSeconds: 1,
    });
    stops.add("Prometheus", () => prometheus.close());
    const reader = createPrometheusReader({ url: prometheus.url, timeoutMs: 5_000 });

    apps.forEach((app, index) => {
      const scenario = FLAG_SCENARIOS[index];
      log(`  app ${scenario?.name.padEnd(16)} ${app.url}  (evaluates ${scenario?.key} per request; /metrics)`);
    });
    log(`  load                 ${profile.rps} req/s to each app, open loop`);
    log(`  Prometheus           ${prometheus.url}  (scrapes the apps every 1 s)`);
    log(
      `  stepper              stepFlagRollouts every ${profile.tickMs / 1000} s; plan: steps ${profile.steps.join(",")}, ` +
        `interval ${profile.intervalSeconds}s, error-rate tolerance 2%, latency tolerance 0.1`,
    );
    log("waiting for Prometheus's first scrape of the apps (about 6 s)...");
    await waitForFirstScrape(
      prometheus.url,
      reader,
      {
        what: "the apps",
        promql: `count(count by (feature_flag_key) (${FLAG_METRIC}_count))`,
        landed: (samples) => Number(samples[0]) >= apps.length,
      },
      log,
      signal,
    );

    const tracked = new Map<string, Tracked>(
      FLAG_SCENARIOS.map((scenario) => [
        scenario.key,
        { scenario, share: 0, phase: "unfinished", judgements: 0, reason: "not started", seconds: 0 },
      ]),
    );
    log("");
    for (const scenario of FLAG_SCENARIOS) {
      log(`== ${scenario.name}: ${scenario.key}, ${scenario.label} (expected: ${scenario.expected}) ==`);
    }
    const demoStore = onlyFlags(store, keys);
    const judgements: FlagJudgement[] = [];
    const started = Date.now();
    const limit = started + runLimitMs(profile);
    for (;;) {
      signal?.throwIfAborted();
      const now = new Date();
      const reports = await stepFlagRollouts({ store: demoStore, reader, now });
      const entries = await record(store, reports, tracked, (now.getTime() - started) / 1000);
      for (const entry of entries) log(formatJudgement(entry));
      judgements.push(...entries);
      const runs = [...tracked.values()];
      if (runs.every((run) => TERMINAL.has(run.phase))) break;
      if (Date.now() >= limit) {
        const open = runs.filter((run) => !TERMINAL.has(run.phase));
        log(
          `gave up after ${Math.round((Date.now() - started) / 1000)} s on ${open.map((run) => run.scenario.name).join(", ")}`,
        );
        for (const run of open) run.phase = "unfinished";
        break;
      }
      await sleep(profile.tickMs, undefined, { signal });
    }

    await stops.run(log);
    const load = sumStats(finalStats ?? loads.map((generator) => generator.stats()));
    const runs: FlagRunSummary[] = [...tracked.values()].map((run) => ({
      name: run.scenario.name,
      key: run.scenario.key,
      label: run.scenario.label,
      expected: run.scenario.expected,
      phase: run.phase,
      share: run.share,
      seconds: run.seconds,
      judgements: run.judgements,
      reason: run.reason,
    }));
    const ok = allFlagsAsExpected(runs);
    log("");
    log("summary");
    log(formatFlagSummary(runs));
    log("");
    const answered = Object.entries(load.answered)
      .sort()
      .map(([code, count]) => `${count} ${code}`)
      .join(", ");
    log(
      `load: ${load.sent} requests sent (${answered || "none answered"}; ${load.timeouts} timed out, ${load.failed} failed)`,
    );
    const failing = FLAG_SCENARIOS.find((scenario) => scenario.expected === "rolled-back")?.key ?? keys[0];
    log(
      `the flags stay in the store; see where a rollout stands and every write (audit entries by greenlight-stepper):`,
    );
    log(`  ${options.storeHint}npx greenlight flags rollout status ${failing}`);
    log(`  ${options.storeHint}npx greenlight flags get ${failing}`);
    log(ok ? "every rollout ended as expected" : "a rollout did not end as expected: see the timeline above");
    return { runs, judgements, load, ok };
  } finally {
    await stops.run(log);
  }
}
