// `greenlight step`, `greenlight canary status` and `greenlight canary analyze`: the scheduled pass, by hand.
import type { Command } from "commander";
import type { CanaryStanding } from "../../functions/canary/standings.ts";
import { parseDuration } from "../../functions/contract/values.ts";
import { formatTable } from "../text/table.ts";
import { addNamespaceOptions, type NamespaceFlags, resolveNamespaces } from "./cluster.ts";
import { CliError } from "./errors.ts";
import { exitOnInterrupt, LiveView, shortDuration, weightBar } from "./live.ts";
import { registerSimulateCommand } from "./simulate.ts";

const outputFormat = (raw: string): "text" | "json" => {
  if (raw !== "text" && raw !== "json") throw new CliError(`-o ${raw} is not supported: use -o text or -o json`);
  return raw;
};

const weightsText = (weights?: { stable: number; canary: number }) =>
  weights ? `${weights.stable}/${weights.canary}` : "-";

/** A comparison's estimate, interval and sample sizes, as `canary status` shows them. */
interface JudgedCheck {
  name: string;
  outcome: string;
  judge?: {
    estimate: number;
    lower: number;
    upper: number;
    canary: { requests: number; errors?: number };
    stable: { requests: number; errors?: number };
  };
}

/** `error-rate-vs-stable inconclusive (+0.14% in [-1%, +3%], canary 2/279, stable 16/2785)`; others `name outcome`. */
function checkText(check: JudgedCheck, format: (value: number) => string): string {
  const { judge } = check;
  if (!judge || !Number.isFinite(judge.estimate)) return `${check.name} ${check.outcome}`;
  const rate = judge.canary.errors !== undefined;
  const shown = (value: number) => (rate ? `${value > 0 ? "+" : ""}${format(value * 100)}%` : format(value));
  const side = (counts: { requests: number; errors?: number }) =>
    counts.errors !== undefined ? `${counts.errors}/${counts.requests}` : `${counts.requests}`;
  return (
    `${check.name} ${check.outcome} (${shown(judge.estimate)} in [${shown(judge.lower)}, ${shown(judge.upper)}], ` +
    `canary ${side(judge.canary)}, stable ${side(judge.stable)})`
  );
}

/** The clients and reader of the scheduled function, built from the same environment variables. */
async function connect() {
  const { runOptionsFromEnv } = await import("../../functions/stepper/config.ts");
  try {
    const options = runOptionsFromEnv();
    // Flag rollouts: Upstash when configured (as the Lambda), else the file store when GREENLIGHT_FLAGS_DIR names it.
    if (!options.flags && process.env.GREENLIGHT_FLAGS_DIR?.trim()) {
      const { flagsConfigFromEnv } = await import("../../functions/flags/config.ts");
      const { rolloutMetricsFromEnv } = await import("../../functions/flags/rollout/queries.ts");
      const config = flagsConfigFromEnv(process.env, { cwd: process.cwd() });
      options.flags = { store: config.store, metrics: rolloutMetricsFromEnv(process.env) };
    }
    return options;
  } catch (error) {
    throw new CliError(`${(error as Error).message}`);
  }
}

interface StepFlags extends NamespaceFlags {
  once?: boolean;
  dryRun?: boolean;
  every: string;
  deadline?: string;
  callTimeout: string;
  output: string;
}

/** -n wins, then GREENLIGHT_NAMESPACES (so a CronJob bound per namespace can say where to look), then -A. */
async function stepNamespaces(flags: StepFlags): Promise<string[]> {
  const { namespacesFromEnv } = await import("../../functions/stepper/config.ts");
  let listed: string[];
  try {
    listed = namespacesFromEnv();
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  if (!flags.namespace && listed.length > 0) return listed;
  return resolveNamespaces(flags);
}

async function step(flags: StepFlags): Promise<void> {
  const format = outputFormat(flags.output);
  const every = parseDuration(flags.every);
  if (!every.ok) throw new CliError(`--every ${flags.every}: ${every.problem}`);
  let deadlineSeconds: number | undefined;
  if (flags.deadline !== undefined) {
    const parsed = parseDuration(flags.deadline);
    if (!parsed.ok) throw new CliError(`--deadline ${flags.deadline}: ${parsed.problem}`);
    deadlineSeconds = parsed.value;
  }
  const callTimeout = parseDuration(flags.callTimeout);
  if (!callTimeout.ok) throw new CliError(`--call-timeout ${flags.callTimeout}: ${callTimeout.problem}`);
  if (callTimeout.value <= 0)
    throw new CliError(`--call-timeout ${flags.callTimeout}: must be longer than 0s, e.g. 10s`);
  const namespaces = await stepNamespaces(flags);
  const options = await connect();
  const { runStep } = await import("../../functions/stepper/run.ts");
  let failed = false;
  for (;;) {
    // On a terminal one progress line redrawn in place, erased before the table; elsewhere a line per canary.
    const progress = new LiveView(process.stderr);
    const stopProgress = progress.live ? exitOnInterrupt([progress]) : () => undefined;
    let stepped = 0;
    const report = await runStep({
      ...options,
      namespaces,
      ...(deadlineSeconds === undefined ? {} : { deadline: new Date(Date.now() + deadlineSeconds * 1000) }),
      dryRun: Boolean(flags.dryRun),
      callTimeoutMs: callTimeout.value * 1000,
      onProgress: (canary) => {
        stepped += 1;
        if (progress.live)
          progress.render(`stepping: ${stepped} done, ${canary.namespace}/${canary.deployment}: ${canary.outcome}`);
        else process.stderr.write(`  ${canary.namespace}/${canary.deployment}: ${canary.outcome}\n`);
      },
    }).finally(() => {
      progress.clear();
      stopProgress();
    });
    const nothing = report.canaries.length + report.blueGreen.length + report.rolling.length === 0;
    // A pass that failed before it found anything (the API server unreachable) says only why, not an empty table.
    if (nothing && report.error && format !== "json") throw new CliError(report.error);
    if (format === "json") {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      process.stdout.write(
        formatTable(
          ["NAMESPACE", "DEPLOYMENT", "PHASE", "WEIGHTS", "OUTCOME", "NOTE"],
          report.canaries.map((c) => [
            c.namespace,
            c.deployment,
            c.phase ?? "-",
            weightsText(c.weights),
            c.outcome,
            c.problem ?? c.events.map((e) => e.message).join("; "),
          ]),
        ),
      );
      if (flags.dryRun) {
        for (const canary of report.canaries.filter((c) => c.patch)) {
          process.stdout.write(
            `\n# ${canary.namespace}/${canary.virtualService}\n${JSON.stringify(canary.patch, null, 2)}\n`,
          );
        }
      }
      if (report.blueGreen.length > 0) {
        process.stdout.write(
          `\n${formatTable(
            ["NAMESPACE", "DEPLOYMENT", "SERVICE", "FROM", "TO", "OUTCOME", "NOTE"],
            report.blueGreen.map((b) => [
              b.namespace,
              b.deployment ?? "-",
              b.service,
              b.from ?? "-",
              b.to ?? "-",
              b.outcome,
              b.message,
            ]),
          )}`,
        );
      }
      if (report.rolling.length > 0) {
        process.stdout.write(
          `\n${formatTable(
            ["NAMESPACE", "DEPLOYMENT", "PHASE", "OUTCOME", "NOTE"],
            report.rolling.map((r) => [r.namespace, r.deployment, r.phase ?? "-", r.outcome, r.problem ?? r.message]),
          )}`,
        );
      }
      if (report.flags?.length || report.flagsError) {
        process.stdout.write(
          `\n${formatTable(
            ["FLAG", "ACTION", "PHASE", "SHARE", "NOTE"],
            (report.flags ?? []).map((f) => [
              f.key,
              f.action,
              f.phase ?? "-",
              f.share === undefined ? "-" : `${f.share}%`,
              f.reason,
            ]),
          )}${report.flagsError ? `${report.flagsError}\n` : ""}`,
        );
      }
      if (nothing) {
        process.stdout.write("no Deployment annotated greenlight.dev/strategy: canary, blue-green or rolling\n");
      }
      const told = report.notifications;
      if (told && told.failed + told.dropped + told.warnings.length > 0) {
        const lost = told.deliveries.filter((d) => d.outcome !== "sent");
        process.stderr.write(
          `notifications: ${told.sent} sent, ${told.failed} failed, ${told.dropped} dropped` +
            `${lost.map((d) => `\n  ${d.type} to ${d.channel} ${d.receiver}: ${d.outcome} (${d.detail})`).join("")}` +
            `${told.warnings.map((warning) => `\n  ${warning}`).join("")}\n`,
        );
      }
    }
    if (report.error) throw new CliError(report.error);
    failed =
      report.canaries.some((c) => c.outcome === "error") ||
      report.blueGreen.some((b) => b.outcome === "failed") ||
      report.rolling.some((r) => r.outcome === "failed");
    if (flags.once) break;
    await new Promise((resolve) => setTimeout(resolve, every.value * 1000));
  }
  if (failed) throw new CliError("some Deployments could not be stepped (see NOTE)");
}

interface StatusFlags extends NamespaceFlags {
  output: string;
  watch?: boolean;
  interval: string;
}

const stepText = (row: CanaryStanding) => (row.step ? `${row.step.index}/${row.step.of}` : "-");

function checksText(row: CanaryStanding, format: (value: number) => string): string {
  return row.problem ?? (row.lastChecks.map((check) => checkText(check, format)).join(", ") || row.reason || "-");
}

function statusTable(rows: readonly CanaryStanding[], format: (value: number) => string): string {
  return formatTable(
    ["NAMESPACE", "CANARY", "VERSION", "WEIGHTS", "PHASE", "STEP", "LAST CHECKS"],
    rows.map((row) => [
      row.namespace,
      row.deployment,
      row.version ?? "-",
      weightsText(row.weights),
      row.phase ?? "-",
      stepText(row),
      checksText(row, format),
    ]),
  );
}

/**
 * The redrawn view: the canary's weight as a bar, how long ago the stepper last wrote the status, and how long until
 * its next analysis is due ("due" once the time has come: the next scheduled pass takes it).
 */
function liveFrame(
  rows: readonly CanaryStanding[],
  format: (value: number) => string,
  intervalSeconds: number,
  now: number,
  warning?: string,
): string[] {
  const age = (row: CanaryStanding) => {
    const at = row.updatedAt ? Date.parse(row.updatedAt) : Number.NaN;
    return Number.isFinite(at) ? `${shortDuration((now - at) / 1000)} ago` : "-";
  };
  const next = (row: CanaryStanding) => {
    const at = row.nextAnalysisAt ? Date.parse(row.nextAnalysisAt) : Number.NaN;
    if (!Number.isFinite(at)) return "-";
    return at <= now ? "due" : `in ${shortDuration(Math.ceil((at - now) / 1000))}`;
  };
  const table = formatTable(
    ["NAMESPACE", "CANARY", "VERSION", "CANARY WEIGHT", "PHASE", "STEP", "UPDATED", "NEXT ANALYSIS", "LAST CHECKS"],
    rows.map((row) => [
      row.namespace,
      row.deployment,
      row.version ?? "-",
      row.weights ? weightBar(row.weights.canary, row.weights.stable + row.weights.canary) : "-",
      row.phase ?? "-",
      stepText(row),
      age(row),
      next(row),
      checksText(row, format),
    ]),
  ).replace(/\n$/, "");
  const head = `every ${shortDuration(intervalSeconds)}, ${new Date(now).toISOString().slice(11, 19)} UTC (Ctrl-C to stop)`;
  return [head, ...(rows.length > 0 ? table.split("\n") : ["no canary found"]), ...(warning ? [warning] : [])];
}

/** One line per canary for logs and pipes: it changes only when the canary does. */
const plainLine = (row: CanaryStanding, format: (value: number) => string) =>
  `${row.namespace}/${row.deployment} ${row.version ?? "-"} ${row.phase ?? "-"} weights ${weightsText(row.weights)} ` +
  `step ${stepText(row)}: ${checksText(row, format)}`;

async function status(flags: StatusFlags): Promise<void> {
  const format = outputFormat(flags.output);
  let intervalSeconds = 0;
  if (flags.watch) {
    const interval = parseDuration(flags.interval);
    if (!interval.ok) throw new CliError(`--interval ${flags.interval}: ${interval.problem}`);
    intervalSeconds = interval.value;
  }
  const namespaces = await resolveNamespaces(flags);
  const { clients } = await connect();
  const { readStandings } = await import("../../functions/canary/standings.ts");
  const { formatNumber } = await import("../../functions/canary/checks.ts");
  const read = () =>
    readStandings(clients, namespaces).catch((error: Error) => {
      throw new CliError(error.message);
    });
  if (!flags.watch) {
    const rows = await read();
    process.stdout.write(format === "json" ? `${JSON.stringify(rows, null, 2)}\n` : statusTable(rows, formatNumber));
    return;
  }
  // The first read settles whether the cluster answers (exit 1 as without --watch); later a blip is retried.
  let rows = await read();
  const view = new LiveView(process.stdout);
  exitOnInterrupt([view]);
  const shown = new Map<string, string>();
  for (let poll = 0; ; poll++) {
    let warning: string | undefined;
    if (poll > 0) {
      await new Promise((resolve) => setTimeout(resolve, intervalSeconds * 1000));
      try {
        rows = await read();
      } catch (error) {
        warning = `warning: ${(error as Error).message}; retrying`;
        if (format === "json" || !view.live) process.stderr.write(`${warning}\n`);
      }
    }
    if (format === "json") {
      // NDJSON: one compact document per canary each time it changes.
      for (const row of rows) {
        const text = JSON.stringify(row);
        const key = `${row.namespace}/${row.deployment}`;
        if (shown.get(key) !== text) process.stdout.write(`${text}\n`);
        shown.set(key, text);
      }
    } else if (view.live) {
      view.render(liveFrame(rows, formatNumber, intervalSeconds, Date.now(), warning));
    } else {
      view.render(rows.length > 0 ? rows.map((row) => plainLine(row, formatNumber)) : ["no canary found"]);
    }
  }
}

async function analyze(name: string, flags: { namespace?: string; output: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const [namespace = "default"] = await resolveNamespaces(flags);
  const { clients, reader } = await connect();
  const { analyseDeployment } = await import("../../functions/canary/analyze.ts");
  const { formatNumber } = await import("../../functions/canary/checks.ts");
  const analysis = await analyseDeployment(clients, reader, namespace, name).catch((error: Error) => {
    throw new CliError(error.message);
  });
  for (const warning of analysis.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (format === "json") {
    process.stdout.write(`${JSON.stringify(analysis, null, 2)}\n`);
  } else {
    process.stdout.write(
      formatTable(
        ["CHECK", "VALUE", "THRESHOLD", "OUTCOME", "DETAIL"],
        analysis.checks.map((check) => [
          check.name,
          check.value === undefined ? "-" : formatNumber(check.value),
          `${check.comparison === "max" ? "<=" : ">="} ${formatNumber(check.threshold)}`,
          check.outcome,
          check.detail ?? "",
        ]),
      ),
    );
  }
  if (analysis.checks.some((check) => check.outcome === "fail")) {
    throw new CliError(`${namespace}/${name}: a check failed`, 1);
  }
  if (analysis.checks.some((check) => check.outcome === "inconclusive")) {
    throw new CliError(
      `${namespace}/${name}: inconclusive (the comparison with the stable version cannot tell yet)`,
      2,
    );
  }
  if (analysis.checks.some((check) => check.outcome !== "pass")) {
    throw new CliError(`${namespace}/${name}: inconclusive (no data or errors)`, 2);
  }
}

const ENVIRONMENT = `
Environment: KUBECONFIG (or GREENLIGHT_KUBECONFIG with the kubeconfig itself), PROMETHEUS_URL
(default http://127.0.0.1:9090).`;

export function registerCanaryCommands(program: Command): void {
  addNamespaceOptions(
    program
      .command("step")
      .description(
        "Run one pass of the scheduled function: step every canary, promote blue/green Deployments, guard rolling updates",
      ),
    "canaries",
  )
    .option("--once", "run one pass and exit (default: repeat every --every)")
    .option("--dry-run", "print the guarded JSON Patches it would send; write nothing, record no events")
    .option("--every <duration>", "time between passes without --once", "1m")
    .option(
      "--deadline <duration>",
      "start no Deployment after this long into a pass (the rest is deferred to the next pass), e.g. 25s; " +
        "an API call or Prometheus query still running 25s after it is cut off, so the pass ends in time",
    )
    .option(
      "--call-timeout <duration>",
      "how long one Kubernetes API call or Prometheus query may take before the pass gives up on it",
      "10s",
    )
    .option("-o, --output <format>", "text or json (one JSON report per pass)", "text")
    .addHelpText(
      "after",
      `
The same code as the Lambda handler and the CronJob. Exit status: 0 when every Deployment was handled,
1 when a pass failed, a canary could not be stepped, or a blue/green or rolling Deployment ended "failed".
Namespaces: -n NAME, else GREENLIGHT_NAMESPACES (comma-separated), else -A for all, else the kubeconfig's.
${ENVIRONMENT}

Examples:
  greenlight step --once --dry-run -n production
  greenlight step -A --every 30s
  greenlight step --once -A -o json | jq '.canaries[] | select(.outcome == "error")'`,
    )
    .action((flags: StepFlags) => step(flags));

  const canary = program
    .command("canary")
    .description("Inspect canaries, or simulate what a canary policy would do")
    .addHelpText(
      "after",
      `
status and analyze read the cluster (KUBECONFIG) and, for analyze, Prometheus (PROMETHEUS_URL); simulate needs
neither: it runs the stepper on a simulated cluster.

Examples:
  greenlight canary status -A
  greenlight canary status -n production -o json
  PROMETHEUS_URL=http://localhost:9090 greenlight canary analyze myapp -n production
  greenlight canary simulate -f manifests/examples/istio-canary.yaml --error-rate 0.1%,3%@12m`,
    );
  addNamespaceOptions(
    canary.command("status").description("Show every canary: weights, phase, step and last checks"),
    "canaries",
  )
    .option(
      "-o, --output <format>",
      "text or json (with --watch: one JSON line per canary each time it changes)",
      "text",
    )
    .option("-w, --watch", "keep polling and show changes until Ctrl-C (exit 130)")
    .option("--interval <duration>", "time between polls with --watch", "5s")
    .addHelpText(
      "after",
      `
With --watch, on a terminal the table is redrawn in place every --interval: the canary's share of traffic as a
bar, phase, step, how long ago the stepper last wrote the status, how long until its next analysis is due (the
first scheduled pass after that may move the weights; "due" when the time has come), and the last checks. JSON
output carries the same instant as nextAnalysisAt while the canary is Progressing. Anywhere else (a pipe, a
log) it writes one line per canary each time that canary changes, as \`kubectl get -w\` does. It runs until Ctrl-C
(exit 130), also after every canary is promoted or rolled back. Exit status: 1 when the cluster cannot be read (at
the first poll; later failures are retried with a warning on stderr), else 0.
${ENVIRONMENT}

Examples:
  greenlight canary status -A
  greenlight canary status -n production -o json
  greenlight canary status -n production --watch --interval 10s
  greenlight canary status -A --watch -o json | jq -c '{deployment, phase, weights}'`,
    )
    .action((flags: StatusFlags) => status(flags));
  canary
    .command("analyze")
    .description("Run a canary's checks once and print each with value, threshold and outcome")
    .argument("<deployment>", "the canary Deployment")
    .option("-n, --namespace <namespace>", "its namespace (default: the kubeconfig context's, else default)")
    .option("-o, --output <format>", "text or json", "text")
    .addHelpText(
      "after",
      `
Exit status: 0 when every check passes, 1 when one fails, 2 when any has no data, errored, or (with
greenlight.dev/judge: compare) cannot tell yet. Under compare the canary is compared with the stable version over this
one window: VALUE is the estimate (the error-rate difference, or P(a canary request is slower than a stable one)),
DETAIL its interval and sample sizes; the scheduled pass also counts the windows before it (canary status shows that).
${ENVIRONMENT}

Examples:
  greenlight canary analyze myapp-v2 -n production
  PROMETHEUS_URL=http://localhost:9090 greenlight canary analyze myapp-v2 -o json`,
    )
    .action((name: string, flags: { namespace?: string; output: string }) => analyze(name, flags));
  registerSimulateCommand(canary);
}
