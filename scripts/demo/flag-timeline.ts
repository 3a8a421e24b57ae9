// The flag demo's output, pure: one line per judgement (the share, each check's outcome, estimate and interval) and
// the summary table.
import type { RolloutCheckReading, RolloutPhase } from "../../functions/flags/types.ts";

/** One pass that wrote something for one flag: its start, a judgement (hold, step up, complete, roll back). */
export interface FlagJudgement {
  scenario: string;
  /** Since the demo's passes began. */
  seconds: number;
  /** The pass's action (functions/flags/rollout/step.ts). */
  action: string;
  /** The share before and after the pass, in percent. */
  from: number;
  to: number;
  /** The checks this judgement read (absent for the start). */
  checks: readonly RolloutCheckReading[];
  reason: string;
}

export interface FlagRunSummary {
  name: string;
  key: string;
  label: string;
  expected: RolloutPhase;
  /** Where the rollout ended; "unfinished" when the demo gave up on it. */
  phase: RolloutPhase | "unfinished";
  share: number;
  seconds: number;
  judgements: number;
  /** The last reason the status gave (the rollback's names the check and its values). */
  reason: string;
}

const trim = (value: number, digits: number): string => String(Number(value.toFixed(digits)));
const percent = (value: number): string => `${trim(value * 100, 1)}%`;
const signed = (value: number): string => `${value > 0 ? "+" : ""}${percent(value)}`;

/** A check in a few words: `error-rate pass +0.2% [-1.8%, +2%] 312/1240`, `latency pass 0.5 [0.43, 0.57]`. */
export function formatCheck(check: RolloutCheckReading): string {
  const parts = [check.name, check.outcome];
  if (check.value !== undefined) {
    const show = check.name === "error-rate" ? signed : (value: number) => trim(value, 2);
    parts.push(show(check.value));
    if (check.lower !== undefined && check.upper !== undefined)
      parts.push(`[${show(check.lower)}, ${show(check.upper)}]`);
  }
  if (check.name === "error-rate" && check.treatment && check.control) {
    parts.push(`(${check.treatment.requests} on / ${check.control.requests} off)`);
  }
  return parts.join(" ");
}

const WIDTH = 7;

/** One timeline line: `[failing]  8.2s  20% -> 0%    roll-back  error-rate regression ... | latency ...`. */
export function formatJudgement(judgement: FlagJudgement): string {
  const name = `[${judgement.scenario.padEnd(WIDTH)}]`;
  const time = `${judgement.seconds.toFixed(1).padStart(5)}s`;
  const share = `${judgement.from}% -> ${judgement.to}%`.padEnd(12);
  const action = judgement.action.padEnd(9);
  const checks = judgement.checks.length > 0 ? judgement.checks.map(formatCheck).join(" | ") : judgement.reason;
  return `${name} ${time}  ${share} ${action}  ${checks}`;
}

/** Every rollout ended where its scenario expects. */
export const allFlagsAsExpected = (runs: readonly FlagRunSummary[]): boolean =>
  runs.length > 0 && runs.every((run) => run.phase === run.expected);

/** The summary: a table, then each rollout's last reason. */
export function formatFlagSummary(runs: readonly FlagRunSummary[]): string {
  const header = ["SCENARIO", "FLAG", "EXPECTED", "ENDED", "SHARE", "JUDGEMENTS", "TIME"];
  const rows = runs.map((run) => [
    run.name,
    run.key,
    run.expected,
    run.phase,
    `${run.share}%`,
    String(run.judgements),
    `${Math.round(run.seconds)}s`,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd();
  const reasons = runs.map((run) => `${run.name}: ${run.reason}`);
  return [line(header), ...rows.map(line), "", ...reasons].join("\n");
}
