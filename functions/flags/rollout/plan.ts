// The guarded rollout's pure core: a flag's plan resolved, when it is due, and what one pass does with one window's
// readings. No I/O: step.ts reads Prometheus and writes the store; the admin API and the CLI apply `controlRollout` through step.ts `applyRolloutControl`.
//
// API:
// - `resolvePlan(flag)`: the plan with its defaults, or the problem that keeps it from running.
// - `rolloutDue(flag, now)`: "idle" (nothing to do), "start" (no status yet, or the plan changed: no reading needed)
//   or "judge" (progressing and an interval has passed since the last judgement: read a window).
// - `decideRollout(flag, now, readings?)`: the next flag (with its new `rolloutStatus` and share) and the action.
// - `controlRollout(flag, "pause" | "resume" | "abort", now, reason?)`: a person's control, or why it does not apply.
//
// Each pass: a regression of any check (a builtin comparison whose interval lies beyond its tolerance, or a custom
// check beyond its bound) rolls back to the floor; every check passing (and the window holding min-requests treatment
// requests) steps up, and the step to 100% completes; anything else (inconclusive, no data, an unreadable window)
// holds. The judge's evidence is cumulative from the rollout's start across steps, as the canary's is.
import { defaultOf } from "../../contract/annotations.ts";
import { parseDuration } from "../../contract/values.ts";
import { addWindow, emptyJudgeState, type JudgeState, type VersionWindow } from "../../judge/window.ts";
import { murmur3x86_32 } from "../hash.ts";
import type { Flag, RolloutCheckReading, RolloutPhase, RolloutPlan, RolloutStatus, StoredFlag } from "../types.ts";
import {
  type CustomCheckSpec,
  type CustomValue,
  customReading,
  errorRateReading,
  formatNumber,
  type JudgeLevels,
  latencyReading,
} from "./checks.ts";
import { shareOf, treatmentOf, withShare } from "./share.ts";

/**
 * The shortest interval: 1 s, as a canary's `greenlight.dev/interval` (the demo and the tests run rollouts of a few
 * seconds). Every judgement is a write, and Prometheus needs a few scrapes in a window: docs/FLAGS.md advises 1m
 * and more in production.
 */
export const MIN_INTERVAL_SECONDS = 1;

/** The defaults of a plan's optional fields: the judge's are the canary's judge-* annotations'. */
export const ROLLOUT_DEFAULTS = {
  floor: 0,
  alpha: defaultOf("judge-alpha"),
  tolerance: defaultOf("judge-tolerance"),
  latencyTolerance: defaultOf("judge-latency-tolerance"),
  minRequests: defaultOf("min-requests"),
} as const;

/** The stepper's actor in audit entries. */
export const STEPPER_ACTOR = "greenlight-stepper";

/**
 * A stepper write that only records a judgement which held the share (`checkedAt` moved, `since` did not): every
 * interval writes one, and notifications leave them out. Starts, steps, rollbacks and completions move `since`.
 */
export const isRolloutHold = (flag: Flag, write: { actor: string }): boolean =>
  write.actor === STEPPER_ACTOR &&
  flag.rolloutStatus?.checkedAt !== undefined &&
  flag.rolloutStatus.checkedAt !== flag.rolloutStatus.since;

export type ResolvedCheck = { kind: "error-rate" } | { kind: "latency" } | ({ kind: "custom" } & CustomCheckSpec);

export interface ResolvedPlan {
  steps: number[];
  intervalSeconds: number;
  /** The treatment: the stepped variant, `on` for a boolean flag. */
  variant: string;
  floor: number;
  checks: ResolvedCheck[];
  alpha: number;
  tolerance: number;
  latencyTolerance: number;
  minRequests: number;
  /** Changes with everything but the interval: a status written under another plan is re-placed. */
  fingerprint: string;
}

/** One window, both sides: treatment (the new variant's requests) and control (the others'). */
export interface RolloutWindow {
  treatment: VersionWindow;
  control: VersionWindow;
}

/** What one pass read for a flag. */
export interface RolloutReadings {
  /** The builtin comparisons' counts and histograms, or why the window could not be read. */
  window: RolloutWindow | { error: string };
  /** Custom checks' values by name. */
  custom: Record<string, CustomValue>;
}

export type RolloutAction = "start" | "replan" | "step-up" | "complete" | "hold" | "roll-back" | "none" | "invalid";

export interface RolloutDecision {
  action: RolloutAction;
  /** The flag to write (share and rolloutStatus); absent when nothing is written. */
  next?: Flag;
  /** In words: what happened and why. */
  reason: string;
}

export type RolloutControl = "pause" | "resume" | "abort";

export type ControlResult =
  | { flag: Flag; reason: string }
  | { error: string; kind: "no-plan" | "invalid" | "conflict" };

/** The plan's fingerprint: a hash of its canonical JSON without the interval. */
function fingerprintOf(plan: Omit<ResolvedPlan, "fingerprint" | "intervalSeconds">): string {
  const text = JSON.stringify([
    plan.steps,
    plan.variant,
    plan.floor,
    plan.checks,
    plan.alpha,
    plan.tolerance,
    plan.latencyTolerance,
    plan.minRequests,
  ]);
  return murmur3x86_32(text).toString(16).padStart(8, "0");
}

/**
 * The flag's plan with its defaults. Validation (validate.ts) refuses bad plans on write; this repeats only what the
 * stepper needs, for flags stored by other means.
 */
export function resolvePlan(flag: Flag): ResolvedPlan | { problem: string } {
  const plan = flag.rollout;
  if (!plan) return { problem: "the flag has no rollout plan" };
  const steps = plan.steps;
  if (
    !Array.isArray(steps) ||
    steps.length === 0 ||
    steps.some(
      (step, index) => !Number.isInteger(step) || step < 1 || step > 100 || (index > 0 && step <= steps[index - 1]!),
    ) ||
    steps.at(-1) !== 100
  ) {
    return { problem: "rollout.steps must be strictly increasing integer percentages from 1, ending at 100" };
  }
  const interval = typeof plan.interval === "string" ? parseDuration(plan.interval) : undefined;
  if (!interval?.ok || interval.value < MIN_INTERVAL_SECONDS) {
    return { problem: `rollout.interval must be a duration of at least 1s, got ${JSON.stringify(plan.interval)}` };
  }
  const variant = treatmentOf(flag);
  if (flag.variants && (!(variant in flag.variants) || variant === flag.defaultVariant)) {
    return { problem: "rollout.variant must name one of the flag's variants other than its defaultVariant" };
  }
  const floor = plan.floor ?? ROLLOUT_DEFAULTS.floor;
  if (!Number.isInteger(floor) || floor < 0 || floor >= steps[0]!) {
    return { problem: `rollout.floor must be an integer from 0 to below the first step (${steps[0]})` };
  }
  const checks: ResolvedCheck[] = [];
  for (const check of plan.checks ?? [{ builtin: "error-rate" }, { builtin: "latency" }]) {
    if ("builtin" in check) checks.push({ kind: check.builtin });
    else {
      const comparison = check.max !== undefined ? "max" : "min";
      const threshold = check.max ?? check.min;
      if (typeof threshold !== "number") return { problem: `rollout check ${check.name} needs max or min` };
      checks.push({ kind: "custom", name: check.name, query: check.query, threshold, comparison });
    }
  }
  const resolved = {
    steps: [...steps],
    variant,
    floor,
    checks,
    alpha: plan.judge?.alpha ?? ROLLOUT_DEFAULTS.alpha,
    tolerance: plan.judge?.tolerance ?? ROLLOUT_DEFAULTS.tolerance,
    latencyTolerance: plan.judge?.latencyTolerance ?? ROLLOUT_DEFAULTS.latencyTolerance,
    minRequests: plan.minRequests ?? ROLLOUT_DEFAULTS.minRequests,
  };
  return { ...resolved, intervalSeconds: interval.value, fingerprint: fingerprintOf(resolved) };
}

const isProblem = (value: ResolvedPlan | { problem: string }): value is { problem: string } => "problem" in value;

/** What a pass has to do for this flag at `now`. */
export function rolloutDue(flag: Flag, now: Date): "idle" | "start" | "judge" {
  if (!flag.rollout) return "idle";
  const plan = resolvePlan(flag);
  return isProblem(plan) ? "idle" : dueUnder(plan, flag.rolloutStatus, now);
}

/** `rolloutDue` under the resolved plan. */
function dueUnder(plan: ResolvedPlan, status: RolloutStatus | undefined, now: Date): "start" | "idle" | "judge" {
  if (!status || status.plan !== plan.fingerprint) return "start";
  if (status.phase !== "progressing") return "idle";
  const last = Date.parse(status.checkedAt ?? status.since);
  return Number.isNaN(last) || now.getTime() - last >= plan.intervalSeconds * 1000 ? "judge" : "idle";
}

/** The flag with the treatment at `share` and `status` as its rolloutStatus. */
const written = (flag: Flag, plan: ResolvedPlan, status: RolloutStatus): Flag => ({
  ...withShare(flag, plan.variant, status.share),
  rolloutStatus: status,
});

/** The first step; a plan whose first step is 100% has no control left to judge against, so it is complete at once. */
const startStatus = (plan: ResolvedPlan, now: Date): RolloutStatus => ({
  phase: plan.steps[0]! >= 100 ? "completed" : "progressing",
  step: 0,
  share: plan.steps[0]!,
  since: now.toISOString(),
  plan: plan.fingerprint,
  judge: emptyJudgeState(plan.tolerance),
});

/** The highest step at most `share`, or the first. */
const stepAtMost = (steps: readonly number[], share: number): number => {
  let index = 0;
  steps.forEach((step, i) => {
    if (step <= share) index = i;
  });
  return index;
};

/** A status written under another plan, placed on this one's steps with its evidence started over. */
function replan(flag: Flag, plan: ResolvedPlan, status: RolloutStatus, now: Date): RolloutDecision {
  const share = shareOf(flag, plan.variant);
  const base = { ...status, plan: plan.fingerprint, judge: emptyJudgeState(plan.tolerance), checks: [] };
  let next: RolloutStatus;
  if (status.phase === "completed" && share >= 100) next = { ...base, step: plan.steps.length - 1, share: 100 };
  else if (status.phase === "rolled-back" || status.phase === "aborted") next = { ...base, share: plan.floor };
  else {
    const step = stepAtMost(plan.steps, share);
    const phase: RolloutPhase =
      plan.steps[step]! >= 100 ? "completed" : status.phase === "completed" ? "progressing" : status.phase;
    next = { ...base, phase, step, share: plan.steps[step]!, since: now.toISOString() };
    delete next.checkedAt;
  }
  const reason = `the plan changed: ${next.phase} at ${next.share}% (step ${next.step + 1} of ${plan.steps.length}), evidence started over`;
  return { action: "replan", next: written(flag, plan, { ...next, reason }), reason };
}

/** The builtin checks' share of alpha, and the judge's levels. */
function levelsOf(plan: ResolvedPlan): JudgeLevels {
  const builtins = plan.checks.filter((check) => check.kind !== "custom").length;
  return {
    alpha: plan.alpha / Math.max(1, builtins),
    tolerance: plan.tolerance,
    latencyTolerance: plan.latencyTolerance,
  };
}

/** Every check of this judgement and the judge's new state. */
function judge(
  plan: ResolvedPlan,
  prior: JudgeState | undefined,
  readings: RolloutReadings,
): { state: JudgeState; checks: RolloutCheckReading[] } {
  // Evidence gathered against another tolerance is about another hypothesis: start over.
  const start = prior && prior.tolerance === plan.tolerance ? prior : emptyJudgeState(plan.tolerance);
  const window = readings.window;
  const counted = !("error" in window);
  const state = counted ? addWindow(start, { canary: window.treatment, stable: window.control }) : start;
  const levels = levelsOf(plan);
  const few =
    counted && window.treatment.requests < plan.minRequests
      ? `only ${window.treatment.requests} treatment requests in the window (minRequests ${plan.minRequests})`
      : undefined;
  const checks = plan.checks.map((check): RolloutCheckReading => {
    if (check.kind === "custom") return customReading(check, readings.custom[check.name]);
    const reading = check.kind === "error-rate" ? errorRateReading(state, levels) : latencyReading(state, levels);
    if (!counted)
      return { ...reading, outcome: "error", detail: `window not counted: ${window.error}; so far: ${reading.detail}` };
    // A regression stands on the evidence so far; a pass needs this window to have had traffic.
    if (few && reading.outcome === "pass")
      return { ...reading, outcome: "no-data", detail: `${few}; so far: ${reading.detail}` };
    return reading;
  });
  return { state, checks };
}

/** One judgement: roll back on a regression, step up when every check passes, hold otherwise. */
function judged(
  flag: Flag,
  plan: ResolvedPlan,
  status: RolloutStatus,
  readings: RolloutReadings,
  now: Date,
): RolloutDecision {
  const { state, checks } = judge(plan, status.judge, readings);
  const at = now.toISOString();
  const base: RolloutStatus = { ...status, judge: state, checks, checkedAt: at };
  const regression = checks.find((check) => check.outcome === "regression");
  if (regression) {
    const reason = `${regression.name} regression at ${status.share}%: ${regression.detail}; rolled back to ${plan.floor}%`;
    const next: RolloutStatus = { ...base, phase: "rolled-back", share: plan.floor, since: at, reason };
    return { action: "roll-back", next: written(flag, plan, next), reason };
  }
  if (checks.length > 0 && checks.every((check) => check.outcome === "pass")) {
    const step = Math.min(status.step + 1, plan.steps.length - 1);
    const share = plan.steps[step]!;
    const complete = share >= 100;
    const reason = complete
      ? `every check passed at ${status.share}%: completed at 100%`
      : `every check passed at ${status.share}%: stepped up to ${share}% (step ${step + 1} of ${plan.steps.length})`;
    const next: RolloutStatus = {
      ...base,
      phase: complete ? "completed" : "progressing",
      step,
      share,
      since: at,
      reason,
    };
    return { action: complete ? "complete" : "step-up", next: written(flag, plan, next), reason };
  }
  const waiting = checks.filter((check) => check.outcome !== "pass").map((check) => `${check.name} ${check.outcome}`);
  const reason = `holding at ${status.share}%: ${waiting.join(", ") || "no checks"}`;
  return { action: "hold", next: written(flag, plan, { ...base, reason }), reason };
}

/**
 * What one pass does for `flag` at `now`. `readings` is needed when `rolloutDue` says "judge"; without them a due flag
 * is left alone.
 */
export function decideRollout(flag: Flag, now: Date, readings?: RolloutReadings): RolloutDecision {
  if (!flag.rollout) return { action: "none", reason: "no rollout plan" };
  const plan = resolvePlan(flag);
  if (isProblem(plan)) return { action: "invalid", reason: plan.problem };
  const status = flag.rolloutStatus;
  if (!status) {
    const next = startStatus(plan, now);
    const reason =
      next.phase === "completed"
        ? "started at 100%: completed (a plan whose only step is 100% has no control to judge against)"
        : `started at ${next.share}% (step 1 of ${plan.steps.length})`;
    return { action: "start", next: written(flag, plan, { ...next, reason }), reason };
  }
  if (status.plan !== plan.fingerprint) return replan(flag, plan, status, now);
  const due = dueUnder(plan, status, now);
  if (due !== "judge") return { action: "none", reason: status.phase === "progressing" ? "not due yet" : status.phase };
  if (!readings) return { action: "none", reason: "due, but nothing was read" };
  return judged(flag, plan, status, readings, now);
}

/** A person's pause, resume or abort; `reason` is kept in the status (the audit entry's actor says who). */
export function controlRollout(flag: Flag, control: RolloutControl, now: Date, reason?: string): ControlResult {
  if (!flag.rollout) return { kind: "no-plan", error: `flag "${flag.key}" has no rollout plan` };
  const plan = resolvePlan(flag);
  if (isProblem(plan)) return { kind: "invalid", error: plan.problem };
  const status = flag.rolloutStatus;
  const at = now.toISOString();
  const said = reason ? `: ${reason}` : "";
  if (!status) {
    return { kind: "conflict", error: `the rollout of "${flag.key}" has not started yet (the next pass starts it)` };
  }
  const conflict = (why: string): ControlResult => ({
    kind: "conflict",
    error: `cannot ${control} the rollout of "${flag.key}": it is ${status.phase}${why}`,
  });
  if (control === "pause") {
    if (status.phase !== "progressing") return conflict("");
    const next: RolloutStatus = { ...status, phase: "paused", since: at, reason: `paused at ${status.share}%${said}` };
    return { flag: { ...flag, rolloutStatus: next }, reason: next.reason! };
  }
  if (control === "abort") {
    if (status.phase !== "progressing" && status.phase !== "paused") return conflict("");
    const text = `aborted at ${status.share}%, back to ${plan.floor}%${said}`;
    const next: RolloutStatus = { ...status, phase: "aborted", share: plan.floor, since: at, reason: text };
    return { flag: written(flag, plan, next), reason: text };
  }
  if (status.phase === "paused") {
    const text = `resumed at ${status.share}%${said}`;
    const next: RolloutStatus = { ...status, phase: "progressing", since: at, checkedAt: at, reason: text };
    return { flag: { ...flag, rolloutStatus: next }, reason: text };
  }
  if (status.phase === "rolled-back" || status.phase === "aborted") {
    const next = startStatus(plan, now);
    const text = `restarted at ${next.share}% (step 1 of ${plan.steps.length}) after being ${status.phase}${said}`;
    return { flag: written(flag, plan, { ...next, reason: text }), reason: text };
  }
  return conflict(status.phase === "completed" ? " (edit the plan or the flag to roll out again)" : "");
}

/** One line on where a rollout stands, for `flags get` and the CLI. */
export function describeRollout(flag: Flag): string {
  const plan = flag.rollout ? resolvePlan(flag) : undefined;
  if (!plan) return "no rollout plan";
  if (isProblem(plan)) return `rollout plan not usable: ${plan.problem}`;
  const steps = plan.steps.join(", ");
  const status = flag.rolloutStatus;
  if (!status) return `rollout of ${plan.variant} over ${steps}% every ${flag.rollout?.interval}: not started`;
  const where = `${status.phase} at ${formatNumber(status.share)}% (step ${status.step + 1} of ${plan.steps.length}: ${steps})`;
  return `rollout of ${plan.variant} ${where}${status.reason ? `; ${status.reason}` : ""}`;
}

/** A rollout as GET /admin/flags/{key}/rollout and `flags rollout -o json` show it (docs/FLAGS.md). */
export interface RolloutView {
  key: string;
  revision: number;
  plan: RolloutPlan;
  /** Left out before the stepper's first write. */
  status?: RolloutStatus;
  summary: string;
}

/** The plan, where it stands and one line saying so; undefined when the flag has no rollout plan. */
export function rolloutView(stored: StoredFlag): RolloutView | undefined {
  const { flag } = stored;
  if (!flag.rollout) return undefined;
  return {
    key: flag.key,
    revision: stored.revision,
    plan: flag.rollout,
    ...(flag.rolloutStatus ? { status: flag.rolloutStatus } : {}),
    summary: describeRollout(flag),
  };
}
