// `greenlight rollout watch|status`: a rolling update's progress and the health of its new pods, with exit codes.
import type { Command } from "commander";
import { parseDuration } from "../../functions/contract/values.ts";
import { describeCounts } from "../../functions/deployment/progress.ts";
import { type CrashLoop, detailCrashLoop } from "../../functions/rolling/health.ts";
import type { RolloutSnapshot } from "../../functions/rolling/kube.ts";
import { verdictOf } from "../../functions/rolling/verdict.ts";
import { resolveNamespaces } from "./cluster.ts";
import { CliError } from "./errors.ts";
import { ESC, fitLine, isLiveTerminal } from "./live.ts";

export const EXIT = { done: 0, failed: 1, timedOut: 2, progressing: 3 } as const;

export type Result = "done" | "failed" | "timed-out" | "progressing";

/** Where the progress goes: stderr. A TTY gets one line redrawn in place, anything else one line per change. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface WatchOptions {
  read: () => Promise<RolloutSnapshot>;
  timeoutMs: number;
  intervalMs: number;
  stream: ProgressStream;
  /** Milliseconds since some origin; injected by tests. */
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WatchResult {
  result: Exclude<Result, "progressing">;
  reason: string;
  /** The last snapshot read; absent when the API server never answered within the timeout. */
  snapshot?: RolloutSnapshot;
  elapsedMs: number;
}

const BAR_WIDTH = 20;

/**
 * `[████▓▓▒▒░░░░]`: of the desired replicas, new pods available (█), new pods ready but not yet available (▓),
 * updated pods not ready (▒), and what is still to come (░). The new ReplicaSet's own counts are used because the
 * Deployment's ready/available include old pods, which would fill the bar before the rollout is half done.
 */
export function progressBar(snapshot: Pick<RolloutSnapshot, "progress" | "current">, width = BAR_WIDTH): string {
  const desired = snapshot.progress.desired;
  if (desired <= 0) return `[${"░".repeat(width)}]`;
  const cells = (count: number) => Math.round((Math.min(Math.max(count, 0), desired) * width) / desired);
  const updated = cells(snapshot.progress.updated);
  const ready = Math.min(cells(snapshot.current?.ready ?? 0), updated);
  const available = Math.min(cells(snapshot.current?.available ?? 0), ready);
  return `[${"█".repeat(available)}${"▓".repeat(ready - available)}${"▒".repeat(updated - ready)}${"░".repeat(width - updated)}]`;
}

const revisionText = (snapshot: RolloutSnapshot) => (snapshot.current ? ` revision ${snapshot.current.revision}` : "");

/** The plain progress line (no timing, so it only changes when the rollout does). */
export function progressLine(snapshot: RolloutSnapshot): string {
  const crash = snapshot.crashLoops.length
    ? `; crash-looping: ${snapshot.crashLoops.map((loop) => `${loop.pod}/${loop.container}`).join(", ")}`
    : "";
  return `${snapshot.namespace}/${snapshot.name}${revisionText(snapshot)}: ${describeCounts(snapshot.progress)} - ${snapshot.progress.message}${crash}`;
}

function ttyLine(snapshot: RolloutSnapshot, elapsedMs: number, columns: number | undefined): string {
  const line = `${snapshot.namespace}/${snapshot.name}${revisionText(snapshot)} ${progressBar(snapshot)} ${describeCounts(snapshot.progress)} ${Math.floor(elapsedMs / 1000)}s - ${snapshot.progress.message}`;
  // A wrapped line cannot be redrawn with \r, so it is cut to the terminal's width.
  return fitLine(line, columns);
}

const verdictFor = (snapshot: RolloutSnapshot) =>
  verdictOf({
    name: snapshot.name,
    progress: snapshot.progress,
    ...(snapshot.current ? { currentHash: snapshot.current.hash } : {}),
    crashLoops: snapshot.crashLoops,
    ...(snapshot.status ? { status: snapshot.status } : {}),
  });

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves with the read, or with undefined when `ms` pass first: client-node sets no timeout of its own. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(ms, 1));
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const isNotFound = (error: unknown) => (error as { isNotFound?: boolean }).isNotFound === true;

export async function watchRollout(options: WatchOptions): Promise<WatchResult> {
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const { stream } = options;
  const start = clock();
  let last: RolloutSnapshot | undefined;
  let lastLine: string | undefined;
  let drawn = false;
  const endLine = () => {
    if (drawn) stream.write("\n");
    drawn = false;
  };
  const timedOut = (elapsedMs: number): WatchResult => {
    endLine();
    return {
      result: "timed-out",
      reason: last
        ? `not finished after ${Math.round(elapsedMs / 1000)}s: ${last.progress.message}`
        : `no answer from the API server within ${Math.round(options.timeoutMs / 1000)}s`,
      ...(last ? { snapshot: last } : {}),
      elapsedMs,
    };
  };
  for (let poll = 0; ; poll++) {
    const remaining = options.timeoutMs - (clock() - start);
    let snapshot: RolloutSnapshot | undefined;
    try {
      // The last read happens at the deadline itself, so it gets one interval of its own.
      snapshot = await within(options.read(), Math.max(remaining, 0) + options.intervalMs);
    } catch (error) {
      // The first read settles whether the Deployment exists; later, a blip must not end a ten-minute watch.
      endLine();
      if (poll === 0 || isNotFound(error)) throw error;
      stream.write(`warning: ${(error as Error).message}; retrying\n`);
    }
    const elapsedMs = clock() - start;
    if (snapshot) {
      last = snapshot;
      if (stream.isTTY) {
        stream.write(`\r\x1b[2K${ttyLine(snapshot, elapsedMs, stream.columns)}`);
        drawn = true;
      } else {
        const line = progressLine(snapshot);
        if (line !== lastLine) stream.write(`${line}\n`);
        lastLine = line;
      }
      const { verdict, reason } = verdictFor(snapshot);
      if (verdict !== "progressing") {
        endLine();
        return { result: verdict, reason, snapshot, elapsedMs };
      }
    }
    if (elapsedMs >= options.timeoutMs) return timedOut(elapsedMs);
    await sleep(Math.min(options.intervalMs, options.timeoutMs - elapsedMs));
  }
}

export interface Summary {
  namespace: string;
  deployment: string;
  result: Result;
  exitCode: number;
  reason: string;
  revision?: number;
  desired?: number;
  updated?: number;
  ready?: number;
  available?: number;
  crashLoops: CrashLoop[];
  rolledBack?: { from: number; to: number };
  elapsedSeconds?: number;
}

const EXIT_OF: Record<Result, number> = {
  done: EXIT.done,
  failed: EXIT.failed,
  "timed-out": EXIT.timedOut,
  progressing: EXIT.progressing,
};

export function summarise(
  target: { namespace: string; name: string },
  result: Result,
  reason: string,
  snapshot: RolloutSnapshot | undefined,
  elapsedMs?: number,
): Summary {
  const summary: Summary = {
    namespace: target.namespace,
    deployment: target.name,
    result,
    exitCode: EXIT_OF[result],
    reason,
    crashLoops: snapshot?.crashLoops ?? [],
  };
  if (snapshot) {
    const { desired, updated, ready, available } = snapshot.progress;
    Object.assign(summary, {
      ...(snapshot.current ? { revision: snapshot.current.revision } : {}),
      desired,
      updated,
      ready,
      available,
    });
    const status = snapshot.status;
    if (result === "failed" && status?.rolledBackFrom && status.rolledBackTo) {
      summary.rolledBack = { from: status.rolledBackFrom.revision, to: status.rolledBackTo.revision };
    }
  }
  if (elapsedMs !== undefined) summary.elapsedSeconds = Math.round(elapsedMs / 100) / 10;
  return summary;
}

const HEADLINE: Record<Result, string> = {
  done: "successfully rolled out",
  failed: "failed",
  "timed-out": "timed out",
  progressing: "still progressing",
};

export function formatSummary(summary: Summary): string {
  const counts =
    summary.desired === undefined
      ? ""
      : ` (${summary.revision !== undefined ? `revision ${summary.revision}, ` : ""}${describeCounts({
          desired: summary.desired,
          updated: summary.updated ?? 0,
          ready: summary.ready ?? 0,
          available: summary.available ?? 0,
        })})`;
  const lines = [`deployment ${summary.namespace}/${summary.deployment} ${HEADLINE[summary.result]}${counts}`];
  if (summary.result !== "done") lines.push(`  ${summary.reason}`);
  for (const loop of summary.crashLoops) lines.push(`  crash-looping ${detailCrashLoop(loop)}`);
  return `${lines.join("\n")}\n`;
}

/** Seconds as a plain number (`600`, `0.05`) or a duration (`10m`, `1m30s`). */
export function parseSeconds(flag: string, raw: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : undefined;
  if (seconds !== undefined && seconds > 0) return seconds;
  const duration = parseDuration(raw);
  if (seconds === undefined && duration.ok) return duration.value;
  throw new CliError(`${flag} ${raw} is invalid: accepted: seconds above 0 (e.g. 600 or 0.5) or a duration (e.g. 10m)`);
}

const outputFormat = (raw: string): "text" | "json" => {
  if (raw !== "text" && raw !== "json") throw new CliError(`-o ${raw} is not supported: use -o text or -o json`);
  return raw;
};

async function connect() {
  const { createKubeClients } = await import("../../functions/kube/clients.ts");
  const { loadKubeConfig } = await import("../../functions/stepper/config.ts");
  try {
    return createKubeClients(loadKubeConfig(), "greenlight-cli");
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

interface RolloutFlags {
  namespace?: string;
  output: string;
}

interface WatchFlags extends RolloutFlags {
  timeout: string;
  interval: string;
}

function finish(summary: Summary, format: "text" | "json"): void {
  process.stdout.write(format === "json" ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
  const where = `${summary.namespace}/${summary.deployment}`;
  if (summary.result === "failed") throw new CliError(`${where}: rollout failed: ${summary.reason}`, EXIT.failed);
  if (summary.result === "timed-out") throw new CliError(`${where}: rollout timed out`, EXIT.timedOut);
  if (summary.result === "progressing") throw new CliError(`${where}: rollout still progressing`, EXIT.progressing);
}

async function watch(name: string, flags: WatchFlags): Promise<void> {
  const format = outputFormat(flags.output);
  const timeoutMs = parseSeconds("--timeout", flags.timeout) * 1000;
  const intervalMs = parseSeconds("--interval", flags.interval) * 1000;
  const [namespace = "default"] = await resolveNamespaces({
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
  });
  const clients = await connect();
  const { readRollout } = await import("../../functions/rolling/kube.ts");
  // A terminal that cannot move the cursor (TERM=dumb), or NO_COLOR, gets the plain lines a pipe gets.
  const live = isLiveTerminal(process.stderr);
  const stream: ProgressStream = {
    write: (text) => process.stderr.write(text),
    isTTY: live,
    // Read at each redraw, so a resized terminal is followed.
    get columns() {
      return process.stderr.columns;
    },
  };
  // Ctrl-C ends the redrawn line and shows the cursor again before exiting 130, as a shell reports SIGINT.
  const onInterrupt = () => {
    process.stderr.write(`\n${ESC.showCursor}`);
    process.exit(130);
  };
  if (live) {
    process.stderr.write(ESC.hideCursor);
    process.once("SIGINT", onInterrupt);
  }
  const outcome = await watchRollout({
    read: () => readRollout(clients, namespace, name),
    timeoutMs,
    intervalMs,
    stream,
  })
    .catch((error: Error) => {
      throw new CliError(error.message);
    })
    .finally(() => {
      if (!live) return;
      process.off("SIGINT", onInterrupt);
      process.stderr.write(ESC.showCursor);
    });
  finish(summarise({ namespace, name }, outcome.result, outcome.reason, outcome.snapshot, outcome.elapsedMs), format);
}

async function status(name: string, flags: RolloutFlags): Promise<void> {
  const format = outputFormat(flags.output);
  const [namespace = "default"] = await resolveNamespaces({
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
  });
  const clients = await connect();
  const { readRollout } = await import("../../functions/rolling/kube.ts");
  const snapshot = await readRollout(clients, namespace, name).catch((error: Error) => {
    throw new CliError(error.message);
  });
  const { verdict, reason } = verdictFor(snapshot);
  finish(summarise({ namespace, name }, verdict, reason, snapshot), format);
}

const ENVIRONMENT = `
Environment: KUBECONFIG (or GREENLIGHT_KUBECONFIG with the kubeconfig itself).`;

export function registerRolloutCommands(program: Command): void {
  const rollout = program
    .command("rollout")
    .description("Follow a Deployment's rolling update: progress, health of the new pods, exit codes")
    .addHelpText(
      "after",
      `
watch polls until the rollout is done, fails or times out (exit 0, 1, 2); status reads it once (exit 0, 1, or
3 while it progresses). Both need a cluster: KUBECONFIG, or GREENLIGHT_KUBECONFIG with the kubeconfig itself.

Examples:
  greenlight rollout watch myapp -n production --timeout 10m
  kubectl apply -f manifests/examples/rolling.yaml && greenlight rollout watch myapp -n production
  greenlight rollout status myapp -n production -o json`,
    );
  rollout
    .command("watch")
    .description("Poll a Deployment until its rollout is done, fails or times out")
    .argument("<deployment>", "the Deployment")
    .option("-n, --namespace <namespace>", "its namespace (default: the kubeconfig context's, else default)")
    .option("--timeout <seconds>", "give up after this long (seconds, or a duration such as 10m)", "600")
    .option("--interval <seconds>", "time between polls (seconds, or a duration such as 5s)", "2")
    .option("-o, --output <format>", "final summary as text or json", "text")
    .addHelpText(
      "after",
      `
Progress goes to stderr: on a terminal one line redrawn in place with a bar of the desired replicas
(█ new pods available, ▓ new pods ready, ▒ updated but not ready, ░ still to come) and the time so far;
otherwise (a pipe, a log, TERM=dumb or NO_COLOR set) one plain line each time the counts change, so it pipes
and logs cleanly. The summary goes to stdout. Ctrl-C stops watching with exit status 130.

Done means what \`kubectl rollout status\` means: the controller observed the latest spec, every replica is
updated, no old pods are left and every updated pod is available.

Exit status:
  0  the rollout is done
  1  it failed: progress deadline exceeded, new pods crash-loop (they are listed), greenlight rolled it
     back, or the Deployment cannot be read
  2  it did not finish within --timeout
${ENVIRONMENT}

Examples:
  greenlight rollout watch myapp -n production
  kubectl apply -f deploy.yaml && greenlight rollout watch myapp --timeout 10m
  greenlight rollout watch myapp -n production -o json 2>/dev/null | jq .crashLoops`,
    )
    .action((name: string, flags: WatchFlags) => watch(name, flags));
  rollout
    .command("status")
    .description("Read a Deployment's rollout once and say where it stands")
    .argument("<deployment>", "the Deployment")
    .option("-n, --namespace <namespace>", "its namespace (default: the kubeconfig context's, else default)")
    .option("-o, --output <format>", "text or json", "text")
    .addHelpText(
      "after",
      `
Exit status:
  0  the rollout is done
  1  it failed (deadline exceeded, crash-looping new pods, rolled back by greenlight) or cannot be read
  3  it is still progressing
${ENVIRONMENT}

Examples:
  greenlight rollout status myapp -n production
  until greenlight rollout status myapp >/dev/null; do [ $? -eq 3 ] || exit 1; sleep 5; done`,
    )
    .action((name: string, flags: RolloutFlags) => status(name, flags));
}
