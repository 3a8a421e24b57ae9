// The demo runner: starts every part, runs a healthy then a failing canary through the real stepper, stops it all.
/*
 * Parts, each real where it matters: the fake Kubernetes API server from the tests (the stepper and the router talk
 * to it over HTTP through @kubernetes/client-node), two sample apps per rollout, the weighted router, an open-loop
 * load generator, Debian's Prometheus scraping the router, and `runStep` itself with the Prometheus reader.
 *
 * Time: unlike the scenario tests, the stepper runs on the real clock (`now` = the time of each run), every
 * `tickMs`, so its analyses read exactly the traffic of the last `interval`. The canary's interval is seconds long
 * (the contract accepts any whole number of seconds from 1s), and the first rollout waits for Prometheus's first scrape (~6 s
 * after it starts), so no analysis sees an empty store.
 *
 * Each rollout has its own namespace, so the second one's series never mix with the first's; the router follows the
 * VirtualService of the rollout in progress. Everything started is stopped in reverse order on the way out, also
 * when `signal` aborts (Ctrl-C) or a part fails.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { MetricsReader } from "../../functions/canary/checks.ts";
import { createPrometheusReader } from "../../functions/canary/prometheus.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { startFakeApiServer } from "../fakes/kube/fake-apiserver.ts";
import { startPrometheus } from "../services/prometheus.ts";
import { HEALTHY, startSampleApp } from "./app.ts";
import { APP, CANARY, type CanaryTuning, DEMO_LIMITS, STABLE, seedDemo } from "./cluster.ts";
import { Teardown, waitForFirstScrape } from "./harness.ts";
import { type LoadStats, startLoad } from "./load.ts";
import { type DemoProfile, SCENARIOS, type Scenario } from "./profiles.ts";
import { DEFAULT_POLL_MS, type Router, type RouterTarget, startRouter } from "./router.ts";
import { renderTimelineSvg } from "./svg.ts";
import {
  allAsExpected,
  formatPoint,
  formatSummary,
  isTerminal,
  pointFromReport,
  type RunSummary,
  type TimelinePoint,
} from "./timeline.ts";

export interface DemoOptions {
  profile: DemoProfile;
  /** Where the SVG chart goes. */
  svgPath: string;
  /** Progress and results, one line at a time. */
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface DemoResult {
  runs: RunSummary[];
  svgPath: string;
  load: LoadStats;
  /** Every run ended as expected. */
  ok: boolean;
}

/** Generous bound on one rollout: every step analysed twice over, plus slack. Only a broken setup reaches it. */
const runLimitMs = (tuning: CanaryTuning): number =>
  ((tuning.steps.length + tuning.threshold + 2) * 2 * tuning.intervalSeconds + 20) * 1000;

interface Rollout {
  clients: KubeClients;
  reader: MetricsReader;
  router: Router;
  profile: DemoProfile;
  log: (line: string) => void;
  signal: AbortSignal | undefined;
}

/** Steps one rollout on the real clock until it is Promoted or RolledBack (or the limit passes). */
async function runRollout(context: Rollout, scenario: Scenario, target: RouterTarget): Promise<RunSummary> {
  const { clients, reader, router, profile, log, signal } = context;
  await router.follow(target);
  log("");
  log(`== ${scenario.name}: ${scenario.label} (expected: ${scenario.expected}) ==`);
  const canaryKey = `${scenario.namespace}/${CANARY.name}`;
  const stableKey = `${scenario.namespace}/${STABLE.name}`;
  const servedNow = () => {
    const served = router.served();
    return { canary: served.get(canaryKey) ?? 0, stable: served.get(stableKey) ?? 0 };
  };
  const started = Date.now();
  const limit = started + runLimitMs(profile.tuning);
  const points: TimelinePoint[] = [];
  let before = servedNow();
  let weight = 0;
  let phase = "Waiting";
  let timedOut = false;
  for (;;) {
    signal?.throwIfAborted();
    const now = new Date();
    const report = await runStep({ clients, reader, namespaces: [scenario.namespace], now });
    const served = servedNow();
    const delta = served.canary - before.canary + (served.stable - before.stable);
    const share = delta > 0 ? (100 * (served.canary - before.canary)) / delta : undefined;
    before = served;
    const canary = report.canaries.find((entry) => entry.deployment === CANARY.name);
    const point = pointFromReport(canary, (now.getTime() - started) / 1000, weight, share);
    if (report.error) point.note = report.error;
    points.push(point);
    weight = point.weight;
    if (point.phase !== "Error") phase = point.phase;
    // A line whenever something happened: a write (step, hold, end), an analysis, or a failure to step.
    if (point.wrote || point.verdict !== undefined || point.phase === "Error") log(formatPoint(scenario.name, point));
    if (isTerminal(phase)) break;
    if (Date.now() >= limit) {
      timedOut = true;
      log(`[${scenario.name}] gave up after ${Math.round((Date.now() - started) / 1000)} s in phase ${phase}`);
      break;
    }
    await sleep(profile.tickMs, undefined, { signal });
  }
  return {
    name: scenario.name,
    label: scenario.label,
    expected: scenario.expected,
    phase,
    seconds: (Date.now() - started) / 1000,
    points,
    timedOut,
  };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { profile, log, signal } = options;
  const { tuning } = profile;
  const teardown = new Teardown();
  try {
    const api = await startFakeApiServer();
    teardown.add("the fake API server", () => api.close());
    log(`  fake Kubernetes API  ${api.url}`);
    const clients = createKubeClients(api.kubeConfig(), "greenlight-demo-stepper");

    const targets: RouterTarget[] = [];
    for (const scenario of SCENARIOS) {
      seedDemo(api, scenario.namespace, tuning);
      const apps = await Promise.all([
        startSampleApp({ version: STABLE.version, ...HEALTHY }),
        startSampleApp({ version: CANARY.version, ...scenario.canary }),
      ]);
      for (const app of apps) teardown.add(`the ${scenario.name} app ${app.version}`, () => app.close());
      const [stable, canary] = apps;
      if (!stable || !canary) throw new Error("the sample apps did not start");
      const labels = (which: { name: string; version: string }) => ({
        namespace: scenario.namespace,
        workload: which.name,
        version: which.version,
        service: APP,
      });
      targets.push({
        namespace: scenario.namespace,
        virtualService: APP,
        destinations: {
          [STABLE.subset]: { url: stable.url, labels: labels(STABLE) },
          [CANARY.subset]: { url: canary.url, labels: labels(CANARY) },
        },
      });
    }

    const router = await startRouter({ kubeConfig: api.kubeConfig(), onPollError: (line) => log(`router: ${line}`) });
    teardown.add("the router", () => router.close());
    const first = targets[0];
    if (!first) throw new Error("no scenario to run");
    await router.follow(first);

    const load = startLoad({ url: router.url, rps: profile.rps });
    let loadStats: LoadStats | undefined;
    teardown.add("the load generator", async () => {
      loadStats = await load.stop();
    });

    const prometheus = await startPrometheus({ scrapeTargets: [router.metricsUrl], scrapeIntervalSeconds: 1 });
    teardown.add("Prometheus", () => prometheus.close());
    const reader = createPrometheusReader({ url: prometheus.url, timeoutMs: 5_000 });

    log(`  router               ${router.url}  (follows the VirtualService every ${DEFAULT_POLL_MS} ms; /metrics)`);
    log(`  load                 ${profile.rps} req/s, open loop`);
    log(`  Prometheus           ${prometheus.url}  (scrapes the router every 1 s)`);
    log(
      `  stepper              runStep every ${profile.tickMs / 1000} s; canary interval ${tuning.intervalSeconds}s, ` +
        `steps ${tuning.steps.join(",")}, threshold ${tuning.threshold}`,
    );
    log("waiting for Prometheus's first scrape of the router (about 6 s)...");
    await waitForFirstScrape(
      prometheus.url,
      reader,
      {
        what: "the router",
        promql: 'count(istio_requests_total{reporter="destination"})',
        landed: (samples) => samples.length > 0,
      },
      log,
      signal,
    );

    const context: Rollout = { clients, reader, router, profile, log, signal };
    const runs: RunSummary[] = [];
    for (const [index, scenario] of SCENARIOS.entries()) {
      const target = targets[index];
      if (target) runs.push(await runRollout(context, scenario, target));
    }

    const svg = renderTimelineSvg(
      runs.map((run) => ({ id: run.name, label: `${run.name}: ${run.label}`, points: run.points })),
      { title: `greenlight demo: canary weight over time (${profile.name} run)`, limits: DEMO_LIMITS },
    );
    await mkdir(dirname(options.svgPath), { recursive: true });
    await writeFile(options.svgPath, svg);

    await teardown.run(log);
    const stats = loadStats ?? load.stats();
    const routerStats = router.stats();
    const ok = allAsExpected(runs);
    log("");
    log("summary");
    log(formatSummary(runs).trimEnd());
    log("");
    const answered = Object.entries(stats.answered)
      .sort()
      .map(([code, count]) => `${count} ${code}`)
      .join(", ");
    log(
      `load: ${stats.sent} requests sent (${answered || "none answered"}; ${stats.timeouts} timed out, ` +
        `${stats.failed} failed); router: ${routerStats.noRoute} without a route, ${routerStats.pollErrors} failed polls`,
    );
    log(`chart: ${options.svgPath}`);
    log(ok ? "every rollout ended as expected" : "a rollout did not end as expected: see the timeline above");
    return { runs, svgPath: options.svgPath, load: stats, ok };
  } finally {
    await teardown.run(log);
  }
}
