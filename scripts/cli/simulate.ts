// `greenlight canary simulate`: what the stepper would do with a canary policy, run in the simulator (scripts/sim/)
// against metric profiles given as flags; printed one line a pass, as JSON, and as the demo's SVG chart.
import { writeFile } from "node:fs/promises";
import { type Command, CommanderError } from "commander";
import type { CheckResult } from "../../functions/canary/checks.ts";
import type { CanaryReport } from "../../functions/canary/step.ts";
import { pointFromReport, type TimelinePoint } from "../demo/timeline.ts";
import { clock } from "../sim/describe.ts";
import type { ProfileFlags } from "../sim/policy.ts";
import type { TimelineResult } from "../sim/timeline.ts";
import { formatTable } from "../text/table.ts";
import { CliError } from "./errors.ts";
import { parseDocuments, readInput } from "./input.ts";

interface SimulateFlags extends ProfileFlags {
  file?: string;
  output: string;
  svg?: string;
}

/** One pass as printed and as `-o json` gives it. */
export interface SimulatedPass {
  /** Seconds since the first pass. */
  at: number;
  time: string;
  weights: { stable: number; canary: number };
  phase: string;
  outcome: string;
  /** Present when the pass analysed the canary: pass, fail or inconclusive. */
  verdict?: string;
  checks?: Pick<CheckResult, "name" | "value" | "threshold" | "comparison" | "outcome">[];
  events: { reason: string; message: string }[];
  note?: string;
  /** Requests the canary's Ready pods served since the previous pass. */
  servedToCanary: number;
  /** Requests routed to a subset without a Ready pod since the previous pass (503 at the caller's sidecar). */
  unroutable: number;
}

export interface SimulationSummary {
  finalPhase: string;
  /** Seconds from the first pass to the one that ended the rollout; absent when it had not ended. */
  endedAt?: number;
  minutes: number;
  /** Requests the canary served until the rollout ended (or the timeline did). */
  canaryRequests: number;
  /** Requests sent to a canary without a Ready pod (0 is what greenlight promises). */
  unreadyRequests: number;
}

const TERMINAL = ["Promoted", "RolledBack"];

/** `7m`, `7m30s`: how long into the timeline. */
const span = (seconds: number): string =>
  `${Math.floor(seconds / 60)}m${seconds % 60 ? `${Math.round(seconds % 60)}s` : ""}`;

/** The file and the flags as a scenario; anything wrong with them is a usage error (exit 2). */
async function prepare(flags: SimulateFlags) {
  try {
    const input = await readInput(flags.file);
    const documents = parseDocuments(input.name, input.text).map((document) => document.toJS() as unknown);
    const { canaryScenario, pickDeployment } = await import("../sim/policy.ts");
    return canaryScenario({ deployment: pickDeployment(documents, input.name), flags });
  } catch (error) {
    if (error instanceof CliError || (error instanceof Error && error.name === "PolicyError")) {
      throw new CliError(error.message, 2);
    }
    throw error;
  }
}

async function simulate(flags: SimulateFlags): Promise<void> {
  // "text" as the other commands say it.
  const format = flags.output === "text" ? "table" : flags.output;
  if (format !== "table" && format !== "json") {
    throw new CliError(`-o ${flags.output} is not supported: use -o table or -o json`, 2);
  }
  const policy = await prepare(flags);
  for (const warning of policy.warnings) process.stderr.write(`warning: ${warning}\n`);

  const { runTimeline } = await import("../sim/timeline.ts");
  const result = await runTimeline(policy.scenario);
  const { passes, points } = describePasses(result);
  const summary = summarise(result, passes);
  for (const violation of result.violations) {
    process.stderr.write(
      `warning: the simulated stepper broke invariant ${violation.invariant} at ${clock(violation.atSeconds)}: ${violation.message}\n`,
    );
  }

  if (flags.svg) {
    const { renderTimelineSvg } = await import("../demo/svg.ts");
    const svg = renderTimelineSvg([{ id: "canary", label: `${policy.name} (simulated)`, points }], {
      title: `greenlight canary simulate: ${policy.name}`,
    });
    try {
      await writeFile(flags.svg, svg);
    } catch (error) {
      throw new CliError(`cannot write ${flags.svg}: ${(error as Error).message}`);
    }
  }

  if (format === "json") {
    process.stdout.write(
      `${JSON.stringify({ deployment: policy.name, summary, passes, violations: result.violations }, null, 2)}\n`,
    );
  } else {
    // One write of the whole table: a reader that stops early (`| head`) leaves no later write to break on.
    process.stdout.write(`${formatPasses(passes)}${summaryLine(summary)}\n`);
  }
  if (flags.svg) process.stderr.write(`wrote ${flags.svg}\n`);
}

/** The passes as printed, and as the chart's points (the demo's, built the same way). */
export function describePasses(result: TimelineResult): { passes: SimulatedPass[]; points: TimelinePoint[] } {
  const passes: SimulatedPass[] = [];
  const points: TimelinePoint[] = [];
  let weights = { stable: 100, canary: 0 };
  for (const pass of result.passes) {
    const report = pass.canary;
    const point = pointFromReport(report, pass.atSeconds, weights.canary);
    points.push(point);
    if (report?.weights) weights = { stable: report.weights.stable, canary: report.weights.canary };
    const entry: SimulatedPass = {
      at: pass.atSeconds,
      time: clock(pass.atSeconds),
      weights,
      phase: point.phase,
      outcome: report?.outcome ?? "error",
      events: (report?.events ?? []).map((event) => ({ reason: event.reason, message: event.message })),
      servedToCanary: pass.servedToCanary,
      unroutable: pass.unroutable,
    };
    if (point.verdict) entry.verdict = point.verdict;
    if (report?.checks) {
      entry.checks = report.checks.map(({ name, value, threshold, comparison, outcome }) => ({
        name,
        ...(value === undefined ? {} : { value }),
        threshold,
        comparison,
        outcome,
      }));
    }
    const note = point.verdict && point.verdict !== "pass" ? point.note : (shortNote(report) ?? point.note);
    if (note) entry.note = note;
    passes.push(entry);
  }
  return { passes, points };
}

/** The first event's reason and first clause, without the check values the table shows in their own columns. */
function shortNote(report: CanaryReport | undefined): string | undefined {
  const event = report?.events[0];
  if (!report || report.problem || !event) return undefined;
  let head = event.message.split(" after ")[0]?.split("; ")[0] ?? event.message;
  for (const check of report.checks ?? []) {
    const at = head.indexOf(`: ${check.name} `);
    if (at > 0) head = head.slice(0, at);
  }
  return `${event.reason}: ${head}`;
}

export function summarise(result: TimelineResult, passes: readonly SimulatedPass[]): SimulationSummary {
  const ended = passes.find((pass) => TERMINAL.includes(pass.phase));
  return {
    finalPhase: passes.at(-1)?.phase ?? result.finalPhase ?? "none",
    ...(ended ? { endedAt: ended.at } : {}),
    minutes: result.scenario.minutes,
    // Up to the pass that ended the rollout: after a promotion the canary is simply the app.
    canaryRequests: passes
      .filter((pass) => ended === undefined || pass.at <= ended.at)
      .reduce((sum, pass) => sum + pass.servedToCanary, 0),
    // The first pass's count covers the warm-up, when only the stable pods were starting (the canary had no weight).
    unreadyRequests: passes.reduce((sum, pass) => sum + (pass.at > 0 ? pass.unroutable : 0), 0),
  };
}

const percent = (fraction: number) => `${(fraction * 100).toFixed(2)}%`;
const millis = (value: number) => `${Math.round(value)}ms`;

function checkCell(checks: SimulatedPass["checks"], name: string, show: (value: number) => string): string {
  const check = checks?.find((entry) => entry.name === name);
  if (!check) return "";
  return check.value === undefined ? check.outcome : `${show(check.value)} ${check.outcome}`;
}

const signedPercent = (fraction: number) => `${fraction > 0 ? "+" : ""}${percent(fraction)}`;

export function formatPasses(passes: readonly SimulatedPass[]): string {
  // Under greenlight.dev/judge: compare the comparisons take the ceilings' columns.
  const compared = passes.some((pass) => pass.checks?.some((check) => check.name === "error-rate-vs-stable"));
  const judged: [string, string, (value: number) => string][] = compared
    ? [
        ["ERRORS VS STABLE", "error-rate-vs-stable", signedPercent],
        ["P(SLOWER)", "latency-vs-stable", (value) => value.toFixed(3)],
      ]
    : [
        ["ERRORS", "error-rate", percent],
        ["P95", "latency-p95", millis],
        ["P99", "latency-p99", millis],
      ];
  return formatTable(
    ["TIME", "CANARY", "PHASE", "OUTCOME", "REQUESTS", ...judged.map(([header]) => header), "NOTE"],
    passes.map((pass) => {
      const unready = pass.at > 0 && pass.unroutable > 0 ? `${pass.unroutable} requests hit no Ready pod` : "";
      return [
        pass.time,
        `${pass.weights.canary}%`,
        pass.phase,
        pass.outcome,
        checkCell(pass.checks, "request-count", (value) => String(Math.round(value))),
        ...judged.map(([, name, show]) => checkCell(pass.checks, name, show)),
        [pass.note, unready].filter(Boolean).join("; "),
      ];
    }),
  );
}

export function summaryLine(summary: SimulationSummary): string {
  const outcome =
    summary.endedAt === undefined
      ? `still ${summary.finalPhase} when the ${summary.minutes}-minute timeline ended (raise --minutes to see more)`
      : `${summary.finalPhase} after ${span(summary.endedAt)}`;
  return `${outcome}; the canary served ${summary.canaryRequests} requests during the rollout; ${summary.unreadyRequests} were sent to a canary without a Ready pod`;
}

export function registerSimulateCommand(canary: Command): void {
  canary
    .command("simulate")
    .description("Show what the stepper would do with a canary's annotations, against metric profiles you choose")
    .requiredOption("-f, --file <file>", "the canary Deployment's manifest (YAML or JSON), or - for standard input")
    .option("--error-rate <schedule>", "the canary's 5xx share, e.g. 0.5%,3%@12m: 3% from 12 minutes on (default 0.1%)")
    .option("--latency-p50 <schedule>", "the canary's median latency, e.g. 40ms,300ms@10m (default 40ms)")
    .option("--latency-p99 <schedule>", "the canary's p99 latency, e.g. 200ms,2s@10m (default 200ms)")
    .option("--rps <number>", "requests per second to the Service, split by the weights (default 20)")
    .option("--startup <duration>", "time a canary pod takes to become Ready (default 5s)")
    .option("--crash-loop", "the canary's pods never become Ready")
    .option("--minutes <n>", "length of the timeline (default: steps x interval + start-up + 5, at most 240)")
    .option("--seed <n>", "seed of the simulated traffic; the same seed, the same timeline (default 1)")
    .option("--scrape-interval <duration>", "Prometheus's scrape interval (default 15s)")
    .option("--scrape-lag <duration>", "time until a scrape can be queried (default 0s)")
    .option("-o, --output <format>", "table or json", "table")
    .option("--svg <file>", "also write the timeline as an SVG chart (weight and 5xx rate over time)")
    .addHelpText(
      "after",
      `
Runs the real stepper once a virtual minute against a simulated cluster: a Deployment controller, the Istio mesh,
Prometheus and the API server. The stable version is healthy; the canary behaves as the flags say. The Deployment
is the first one in the file annotated greenlight.dev/strategy: canary (else the first), with its replicas,
rollingUpdate and progressDeadlineSeconds (Kubernetes defaults when absent); its annotations are validated first.
Nothing touches a cluster, and a day of virtual time takes about a second.

Schedules: comma-separated values, each after the first with @<when it starts> since the first pass: "0.5%,3%@12m"
is 0.5% errors, then 3% from 12 minutes on. Error rates as "1%" or "0.01"; latencies as "120ms" or "1.2s".

Output: one line a pass (time since the first pass, canary weight, phase, outcome, the analysed values with their
verdict, what happened), then the final phase, when it was reached, the requests the canary served and the requests
sent to a canary without a Ready pod (greenlight keeps this at 0). Exit status: 0 when the simulation ran, whatever
its outcome; 2 on a usage error (a flag value, the file, an invalid annotation).

Examples:
  greenlight canary simulate -f deploy.yaml
  greenlight canary simulate -f deploy.yaml --error-rate 0.5%,3%@12m --latency-p99 120ms --rps 20
  greenlight canary simulate -f deploy.yaml --startup 2m --svg timeline.svg
  helm template ./chart | greenlight canary simulate -f - -o json | jq '.passes[] | {time, weights, phase}'`,
    )
    // Usage errors (a missing -f, an unknown flag) exit 2 like the command's own; --help still exits 0.
    .exitOverride((error) => {
      throw error.exitCode === 0 ? error : new CommanderError(2, error.code, error.message);
    })
    .action((flags: SimulateFlags) => simulate(flags));
}
