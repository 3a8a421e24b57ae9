// The local stepper: one pass per interval while a cluster answers; idle (said once, probed again quietly) while none does.
import type { Logger } from "pino";
import type { BlueGreenReport } from "../../functions/bluegreen/switch.ts";
import type { CanaryReport } from "../../functions/canary/step.ts";
import type { KubeClients } from "../../functions/kube/clients.ts";
import type { RollingReport } from "../../functions/rolling/guard.ts";
import type { RunReport } from "../../functions/stepper/run.ts";
import type { Connection } from "./cluster.ts";
import { canaryState } from "./history.ts";

export const DEFAULT_RETRY_MS = 5 * 60_000;
/** How long stop() waits for a pass in flight before giving up on it. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export type StepperStatus = "starting" | "idle" | "active" | "stopped";

export interface CanaryView {
  namespace: string;
  deployment: string;
  virtualService?: string;
  phase?: string;
  weights?: { stable: number; canary: number };
  outcome: string;
  problem?: string;
}

export interface BlueGreenView {
  namespace: string;
  service: string;
  deployment?: string;
  from?: string;
  to?: string;
  outcome: string;
  message: string;
}

export interface RollingView {
  namespace: string;
  deployment: string;
  phase?: string;
  outcome: string;
  message: string;
  problem?: string;
}

export interface PassView {
  startedAt: string;
  finishedAt: string;
  error?: string;
  deferred: number;
  canaries: CanaryView[];
  blueGreen: BlueGreenView[];
  rolling: RollingView[];
}

export interface StepperView {
  status: StepperStatus;
  intervalSeconds: number;
  dryRun: boolean;
  server?: string;
  context?: string;
  /** Why it is idle, as logged. */
  message?: string;
  passes: number;
  lastPass?: PassView;
}

export interface StepperLoopOptions {
  intervalMs: number;
  /** How often a missing cluster is probed again; default 5 min. */
  retryMs?: number;
  stopTimeoutMs?: number;
  dryRun?: boolean;
  connect: () => Promise<Connection>;
  /** One pass; no canary may start after `deadline` (stop() moves it to now). */
  runPass: (clients: KubeClients, deadline: Date) => Promise<PassReport>;
  logger: Logger;
  /** Told of every finished pass (the local stack's rollout history); must not throw. */
  onPass?: (report: PassReport, finishedAt: Date) => void;
}

/** The part of runStep's report the loop shows and logs. */
export type PassReport = Pick<RunReport, "startedAt" | "canaries" | "blueGreen" | "rolling" | "deferred" | "error"> &
  Pick<RunReport, "flags" | "flagsError">;

export interface StepperLoop {
  /** Settles once the first probe has: the caller can then say whether the stepper runs. */
  readonly ready: Promise<void>;
  view(): StepperView;
  /** Lets a pass in flight finish (up to stopTimeoutMs), then stops for good. */
  stop(): Promise<void>;
}

function every(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

/** The line said once when the stepper goes idle. */
export function idleMessage(failure: { reason: string; fix: string }, retryMs: number): string {
  return `${failure.reason}: the stepper stays idle; ${failure.fix}; looking again every ${every(retryMs)}`;
}

export function canaryView(report: CanaryReport): CanaryView {
  return {
    namespace: report.namespace,
    deployment: report.deployment,
    ...(report.virtualService === undefined ? {} : { virtualService: report.virtualService }),
    ...canaryState(report),
  };
}

export function blueGreenView(report: BlueGreenReport): BlueGreenView {
  return {
    namespace: report.namespace,
    service: report.service,
    ...(report.deployment === undefined ? {} : { deployment: report.deployment }),
    ...(report.from === undefined ? {} : { from: report.from }),
    ...(report.to === undefined ? {} : { to: report.to }),
    outcome: report.outcome,
    message: report.message,
  };
}

export function rollingView(report: RollingReport): RollingView {
  return {
    namespace: report.namespace,
    deployment: report.deployment,
    ...(report.phase === undefined ? {} : { phase: report.phase }),
    outcome: report.outcome,
    message: report.message,
    ...(report.problem === undefined ? {} : { problem: report.problem }),
  };
}

export function startStepperLoop(options: StepperLoopOptions): StepperLoop {
  const retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
  const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const log = options.logger;
  const view: StepperView = {
    status: "starting",
    intervalSeconds: options.intervalMs / 1000,
    dryRun: options.dryRun ?? false,
    passes: 0,
  };
  let clients: KubeClients | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let deadline: Date | undefined;
  let lastIdleMessage: string | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const goIdle = (failure: Extract<Connection, { ok: false }>): void => {
    clients = undefined;
    const message = idleMessage(failure, retryMs);
    view.status = "idle";
    view.message = message;
    if (failure.server === undefined) delete view.server;
    else view.server = failure.server;
    delete view.context;
    // Said once: the retries that find the same thing stay quiet.
    if (message !== lastIdleMessage) log.warn({ server: failure.server }, message);
    lastIdleMessage = message;
  };

  const connect = async (): Promise<boolean> => {
    const connection = await options.connect();
    if (stopped) return false;
    if (!connection.ok) {
      goIdle(connection);
      return false;
    }
    clients = connection.clients;
    lastIdleMessage = undefined;
    view.status = "active";
    view.server = connection.server;
    view.context = connection.context;
    delete view.message;
    log.info(
      { server: connection.server, context: connection.context, dryRun: view.dryRun },
      `cluster answered: stepping canaries every ${every(options.intervalMs)}${view.dryRun ? " (dry run: nothing is written)" : ""}`,
    );
    return true;
  };

  const pass = async (active: KubeClients): Promise<void> => {
    const started = Date.now();
    deadline = new Date(started + options.intervalMs);
    let report: PassReport;
    try {
      report = await options.runPass(active, deadline);
    } catch (error) {
      report = {
        startedAt: new Date(started).toISOString(),
        canaries: [],
        blueGreen: [],
        rolling: [],
        deferred: [],
        error: String(error),
      };
    }
    view.passes += 1;
    options.onPass?.(report, new Date());
    view.lastPass = {
      startedAt: report.startedAt,
      finishedAt: new Date().toISOString(),
      ...(report.error === undefined ? {} : { error: report.error }),
      deferred: report.deferred.length,
      canaries: report.canaries.map(canaryView),
      blueGreen: report.blueGreen.map(blueGreenView),
      rolling: report.rolling.map(rollingView),
    };
    const count = (outcome: string) => report.canaries.filter((c) => c.outcome === outcome).length;
    log[report.error === undefined ? "info" : "warn"](
      {
        canaries: report.canaries.length,
        written: count("written") + count("dry-run"),
        errors: count("error") + count("skipped"),
        blueGreen: report.blueGreen.length,
        blueGreenFailed: report.blueGreen.filter((b) => b.outcome === "failed" || b.outcome === "switched-back").length,
        rolling: report.rolling.length,
        rollingFailed: report.rolling.filter((r) => r.outcome === "failed").length,
        deferred: report.deferred.length,
        ms: Date.now() - started,
        ...(report.error === undefined ? {} : { error: report.error }),
      },
      "stepper pass",
    );
    // Guarded flag rollouts: every write (and every failure) logged, a quiet pass not.
    for (const flag of report.flags ?? []) {
      if (flag.action === "error" || flag.action === "invalid" || flag.action === "conflict")
        log.warn(flag, "flag rollout not stepped");
      else if (flag.action !== "none") log.info(flag, `flag rollout ${flag.action}`);
    }
    if (report.flagsError) log.warn({ error: report.flagsError }, "flag rollouts not stepped");
    for (const canary of report.canaries) {
      const fields = { ...canaryView(canary), events: canary.events.map((event) => event.message) };
      if (canary.outcome === "error" || canary.outcome === "skipped") log.warn(fields, "canary not stepped");
      else if (canary.outcome === "unchanged") log.debug(fields, "canary unchanged");
      else log.info(fields, `canary ${canary.outcome}`);
    }
    for (const item of report.blueGreen) {
      const fields = blueGreenView(item);
      if (item.outcome === "failed" || item.outcome === "switched-back") log.warn(fields, "blue/green not switched");
      else if (item.outcome === "unchanged") log.debug(fields, "blue/green unchanged");
      else log.info(fields, `blue/green ${item.outcome}`);
    }
    for (const item of report.rolling) {
      const fields = rollingView(item);
      if (item.outcome === "failed") log.warn(fields, "rolling update not guarded");
      else if (item.outcome === "unchanged") log.debug(fields, "rolling update unchanged");
      else log.info(fields, `rolling update ${item.outcome}`);
    }
    // A failed listing may be the cluster going away: probe again and go idle (said once) if so.
    if (report.error !== undefined && !stopped) await connect();
  };

  const schedule = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(tick, ms);
    // The servers keep the process alive; this timer never should.
    timer.unref();
  };

  const tick = (): void => {
    inFlight = (async () => {
      try {
        if (clients === undefined) await connect();
        markReady();
        if (clients !== undefined && !stopped) await pass(clients);
      } catch (error) {
        log.error({ err: error }, "stepper loop failed; trying again next interval");
      } finally {
        markReady();
        inFlight = undefined;
        schedule(clients === undefined ? retryMs : options.intervalMs);
      }
    })();
  };

  tick();

  return {
    ready,
    view: () => structuredClone(view),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      // No canary starts after this; the ones already started finish their write.
      deadline?.setTime(Date.now());
      const running = inFlight;
      if (running) {
        let bound: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          running.then(() => false),
          new Promise<boolean>((resolve) => {
            bound = setTimeout(() => resolve(true), stopTimeoutMs);
          }),
        ]);
        clearTimeout(bound);
        if (timedOut) log.warn({ waitedMs: stopTimeoutMs }, "stopping without waiting longer for the stepper pass");
      }
      view.status = "stopped";
    },
  };
}
