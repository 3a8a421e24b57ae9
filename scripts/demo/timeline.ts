// The demo's record of a rollout: one point per stepper run, the lines printed as it goes, and the closing summary.
import { type CheckResult, describeCheck } from "../../functions/canary/checks.ts";
import type { CanaryReport } from "../../functions/canary/step.ts";
import { formatTable } from "../text/table.ts";

export type Verdict = "pass" | "fail" | "inconclusive";

export interface TimelinePoint {
  /** Seconds since the rollout started (its first stepper run). */
  at: number;
  /** The canary's weight in percent after this run. */
  weight: number;
  /** The canary phase after this run, or "Error" when the run could not step it. */
  phase: string;
  /** Whether this run wrote to the VirtualService (a step, a hold, the end). */
  wrote: boolean;
  /** Present when this run analysed the canary. */
  verdict?: Verdict;
  /** The weight the analysis judged (the one before this run's decision). */
  analysedWeight?: number;
  /** 5xx share the stepper read, as a fraction. */
  errorRate?: number;
  p99Ms?: number;
  requests?: number;
  /** Share of the router's requests that went to the canary since the previous run, in percent. */
  servedShare?: number;
  /** One line on what happened: the event, the failing checks, or the problem. */
  note?: string;
}

export interface RunSummary {
  name: string;
  /** What the run shows, e.g. "v2 healthy". */
  label: string;
  /** What it should end as. */
  expected: string;
  phase: string;
  seconds: number;
  points: TimelinePoint[];
  timedOut: boolean;
}

export const TERMINAL_PHASES = ["Promoted", "RolledBack"] as const;

export const isTerminal = (phase: string): boolean => (TERMINAL_PHASES as readonly string[]).includes(phase);

const checkValue = (checks: readonly CheckResult[] | undefined, name: string): number | undefined =>
  checks?.find((check) => check.name === name)?.value;

/** The analysis's overall verdict: any failing check fails it; any check without a verdict makes it inconclusive. */
export function verdictOf(checks: readonly CheckResult[]): Verdict {
  if (checks.some((check) => check.outcome === "fail")) return "fail";
  if (checks.length === 0 || checks.some((check) => check.outcome !== "pass")) return "inconclusive";
  return "pass";
}

function noteOf(report: CanaryReport, verdict: Verdict | undefined): string | undefined {
  if (report.problem) return report.problem;
  const event = report.events[0];
  const failing = (report.checks ?? []).filter((check) => check.outcome !== "pass");
  if (verdict && verdict !== "pass" && failing.length > 0) {
    return `${event?.reason ?? "analysis"}: ${failing.map(describeCheck).join("; ")}`;
  }
  if (!event) return undefined;
  // The event's first clause says what happened ("step 2/4: stable 70% / canary 30%"); the rest repeats the checks.
  const head = event.message.split(" after ")[0]?.split("; ")[0] ?? event.message;
  return `${event.reason}: ${head}`;
}

/** One stepper run's report as a timeline point; `previousWeight` stands in when the run could not read the route. */
export function pointFromReport(
  report: CanaryReport | undefined,
  at: number,
  previousWeight: number,
  servedShare?: number,
): TimelinePoint {
  if (!report) {
    return { at, weight: previousWeight, phase: "Error", wrote: false, note: "the run found no canary" };
  }
  const verdict = report.checks ? verdictOf(report.checks) : undefined;
  const point: TimelinePoint = {
    at,
    weight: report.weights?.canary ?? previousWeight,
    phase: report.outcome === "error" || report.outcome === "skipped" ? "Error" : (report.phase ?? "Error"),
    wrote: report.outcome === "written",
  };
  if (verdict) {
    point.verdict = verdict;
    point.analysedWeight = previousWeight;
  }
  const errorRate = checkValue(report.checks, "error-rate");
  const p99 = checkValue(report.checks, "latency-p99");
  const requests = checkValue(report.checks, "request-count");
  if (errorRate !== undefined) point.errorRate = errorRate;
  if (p99 !== undefined) point.p99Ms = p99;
  if (requests !== undefined) point.requests = requests;
  if (servedShare !== undefined) point.servedShare = servedShare;
  const note = noteOf(report, verdict);
  if (note) point.note = note;
  return point;
}

const percent = (fraction: number): string => `${(fraction * 100).toFixed(fraction < 0.1 ? 2 : 1)}%`;

/** One printed line: `[good]   9.1s  canary  30%  Progressing  errors 0.00%  p99 48 ms  served 29%  pass  ...`. */
export function formatPoint(run: string, point: TimelinePoint, width = 4): string {
  const cells = [
    `[${run.padEnd(width)}]`,
    `${point.at.toFixed(1).padStart(6)}s`,
    `canary ${String(point.weight).padStart(3)}%`,
    point.phase.padEnd(11),
    `errors ${point.errorRate !== undefined ? percent(point.errorRate).padStart(6) : "     -"}`,
    `p99 ${point.p99Ms !== undefined ? `${Math.round(point.p99Ms)} ms`.padStart(7) : "      -"}`,
    `served ${point.servedShare !== undefined ? `${Math.round(point.servedShare)}%`.padStart(4) : "   -"}`,
    (point.verdict ?? "").padEnd(12),
  ];
  return `${cells.join("  ")}${point.note ? `  ${point.note}` : ""}`.trimEnd();
}

const maxOf = (values: (number | undefined)[]): number | undefined => {
  const present = values.filter((value): value is number => value !== undefined && Number.isFinite(value));
  return present.length > 0 ? Math.max(...present) : undefined;
};

/** The table printed at the end: one row a run. */
export function formatSummary(runs: readonly RunSummary[]): string {
  const header = [
    "run",
    "canary",
    "expected",
    "ended",
    "took",
    "analyses (pass/fail/inconclusive)",
    "max errors",
    "max p99",
  ];
  const rows = runs.map((run) => {
    const count = (verdict: Verdict) => run.points.filter((point) => point.verdict === verdict).length;
    const errors = maxOf(run.points.map((point) => point.errorRate));
    const p99 = maxOf(run.points.map((point) => point.p99Ms));
    return [
      run.name,
      run.label,
      run.expected,
      run.timedOut ? `${run.phase} (timed out)` : run.phase,
      `${run.seconds.toFixed(1)}s`,
      `${count("pass")}/${count("fail")}/${count("inconclusive")}`,
      errors !== undefined ? percent(errors) : "-",
      p99 !== undefined ? `${Math.round(p99)} ms` : "-",
    ];
  });
  return formatTable(header, rows);
}

/** Whether every run ended as expected (the demo's exit status). */
export const allAsExpected = (runs: readonly RunSummary[]): boolean =>
  runs.length > 0 && runs.every((run) => run.phase === run.expected && !run.timedOut);
