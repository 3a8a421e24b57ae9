// One pass of the scheduled function: every canary stepped, every blue/green Deployment promoted when due, every
// rolling update guarded, once each, with bounded concurrency and a deadline. One Deployment list serves all three;
// the strategies are peers behind one interface (strategies.ts), so a new one is a new entry there, not a change here.
import type { V1Deployment } from "@kubernetes/client-node";
import type { BlueGreenReport, Timing } from "../bluegreen/switch.ts";
import type { MetricsReader } from "../canary/checks.ts";
import { IstioReader } from "../canary/istio.ts";
import type { CanaryReport } from "../canary/step.ts";
import type { RolloutMetrics } from "../flags/rollout/queries.ts";
import { type FlagRolloutReport, stepFlagRollouts } from "../flags/rollout/step.ts";
import type { FlagStore } from "../flags/types.ts";
import { boundedClients, type CallPolicy, DEFAULT_CALL_TIMEOUT_MS } from "../kube/calls.ts";
import type { KubeClients } from "../kube/clients.ts";
import { type Clock, sleepOn, systemClock } from "../kube/clock.ts";
import { listDeployments } from "../kube/deployments.ts";
import { toKubeError } from "../kube/errors.ts";
import { namespaceReader } from "../notify/namespaces.ts";
import type { Notifier, NotifySummary } from "../notify/notifier.ts";
import type { RollingReport } from "../rolling/guard.ts";
import { boundedReader } from "./bounded-reader.ts";
import { strategiesFor } from "./strategies.ts";

/** Canaries stepped at once by default: API calls are latency-bound, and 32 in flight is light for an API server. */
export const DEFAULT_CONCURRENCY = 32;

export interface RunOptions {
  clients: KubeClients;
  reader: MetricsReader;
  /** Namespaces to look in; empty or absent: all namespaces. */
  namespaces?: readonly string[];
  now?: Date;
  dryRun?: boolean;
  /** Canaries stepped at once. */
  concurrency?: number;
  /** No canary is started after this instant (a Lambda's remaining time minus a margin). */
  deadline?: Date;
  /**
   * Every API call and query still running at this instant is cut off, so the pass ends by then even when the API
   * server or Prometheus hangs. Default: FINISH_MS after `deadline` (or after the start, when that is later), else none.
   */
  endBy?: Date;
  /** One API call or Prometheus query waits at most this long (default 10 s). */
  callTimeoutMs?: number;
  /** The system clock by default; the simulator passes a virtual one. */
  clock?: Clock;
  onProgress?: (report: CanaryReport) => void;
  /** Blue/green smoke and verification timing; the default fits a pass inside the Lambda's minute. */
  blueGreenTiming?: Partial<Timing>;
  /** With a flag store: every flag's guarded rollout is stepped after the Deployments (functions/flags/rollout). */
  flags?: { store: FlagStore; metrics?: RolloutMetrics };
  /** Tells Slack / CloudEvents receivers of promotions, rollbacks, pauses, switches and undos (functions/notify). */
  notifier?: Notifier;
}

/**
 * Within one pass a failing smoke check costs at most ~3 x 5 s plus 1 s + 2 s of backoff, so a pass stays inside the
 * minute; the next pass tries again. `greenlight bluegreen switch` by hand keeps the longer default.
 */
export const SCHEDULED_BLUE_GREEN_TIMING: Partial<Timing> = {
  smokeAttempts: 3,
  smokeTimeoutMs: 5_000,
  verifyAttempts: 4,
};

/** Work started before the deadline gets this long to finish (a blue/green switch and its verification fit). */
export const FINISH_MS = 25_000;

export interface RunReport {
  startedAt: string;
  canaries: CanaryReport[];
  blueGreen: BlueGreenReport[];
  rolling: RollingReport[];
  /** Deployments not started because the deadline came first; the next run takes them. */
  deferred: { namespace: string; deployment: string }[];
  /** A failure of the whole pass (listing Deployments); the canaries were not touched. */
  error?: string;
  /** With a flag store: one report per flag with a rollout plan. */
  flags?: FlagRolloutReport[];
  /** The flag rollouts could not be stepped at all (the store failed); the Deployments were. */
  flagsError?: string;
  /** With a notifier: what was sent, failed or dropped (the pass waits for deliveries at most its budget). */
  notifications?: NotifySummary;
}

export async function runStep(options: RunOptions): Promise<RunReport> {
  const clock = options.clock ?? systemClock;
  const now = options.now ?? new Date(clock.now());
  const endBy =
    options.endBy ??
    (options.deadline ? new Date(Math.max(options.deadline.getTime(), clock.now()) + FINISH_MS) : undefined);
  const policy: CallPolicy = {
    clock,
    timeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    ...(endBy ? { endBy: endBy.getTime() } : {}),
  };
  const clients = boundedClients(options.clients, policy);
  const report: RunReport = { startedAt: now.toISOString(), canaries: [], blueGreen: [], rolling: [], deferred: [] };
  const flags = options.flags;
  const stepFlags = async () => {
    if (!flags) return;
    const reader = boundedReader(options.reader, policy);
    const dryRun = options.dryRun ?? false;
    await stepFlagRollouts({ ...flags, reader, now, dryRun }).then(
      (reports) => (report.flags = reports),
      (error: unknown) => (report.flagsError = `flag rollouts: ${(error as Error)?.message ?? String(error)}`),
    );
  };
  let deployments: V1Deployment[];
  try {
    deployments = await listDeployments(clients, options.namespaces);
  } catch (error) {
    await stepFlags();
    return { ...report, error: toKubeError(error, "listing Deployments").message };
  }
  const notify = options.dryRun ? undefined : options.notifier?.batch({ readNamespace: namespaceReader(clients) });
  const strategies = strategiesFor({
    clients,
    istio: new IstioReader(clients),
    reader: boundedReader(options.reader, policy),
    now,
    dryRun: options.dryRun ?? false,
    sleep: (ms: number) => sleepOn(clock, ms),
    deployments,
    blueGreenTiming: { ...SCHEDULED_BLUE_GREEN_TIMING, ...options.blueGreenTiming },
    ...(notify ? { notify } : {}),
  });
  const pastDeadline = () => options.deadline !== undefined && clock.now() >= options.deadline.getTime();
  const queue = strategies.flatMap((strategy) => strategy.claimed.map((deployment) => ({ strategy, deployment })));
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const { strategy, deployment } = item;
      if (pastDeadline()) {
        report.deferred.push({
          namespace: deployment.metadata?.namespace ?? "default",
          deployment: deployment.metadata?.name ?? "?",
        });
        continue;
      }
      const result = await strategy.step(deployment, report);
      if (strategy.name === "canary") options.onProgress?.(result as CanaryReport);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY) }, worker));
  await stepFlags();
  if (notify && options.notifier) {
    // Deliveries ran beside the work; what is left gets at most the budget, and never past the pass's end.
    const left = endBy ? endBy.getTime() - clock.now() : Number.POSITIVE_INFINITY;
    report.notifications = await notify.settle(Math.max(0, Math.min(options.notifier.settings.budgetMs, left)));
  }
  const byName = (a: { namespace: string; deployment?: string }, b: { namespace: string; deployment?: string }) =>
    `${a.namespace}/${a.deployment}`.localeCompare(`${b.namespace}/${b.deployment}`);
  report.canaries.sort(byName);
  report.blueGreen.sort(byName);
  report.rolling.sort(byName);
  return report;
}
