// The canary state machine: from the prior status, the settings, the route weights and the checks, the next status.
//
// API:
// - `planCanary(input) -> { analyse }`: whether this run must query Prometheus (an analysis is due).
// - `decideCanary(input) -> { status, weights?, events, changed }`: `weights` only when the route must change
//   (write exactly these, never `status.weights` blindly: during a drift pause they differ on purpose); `changed`
//   when the status annotation must be rewritten; at most one event, none when nothing happened.
// Rules, in order of precedence (the first that applies decides):
//  0. A status annotation that cannot be read: Paused at the weights found on the route (never a restart at stable
//     100%: the stable Deployment may be scaled down), until `abort`, `promote` or an explicit `paused: "false"`.
//  1. Deployment version = the recorded stable version: this is the stable Deployment, nothing to do.
//  2. No status, a new canary version, or a new pod template of it before promotion (another revision): a new
//     rollout, Waiting at step -1 with the canary at 0%; nothing measured of the old revision counts for the new one.
//  3. Promoted / RolledBack: nothing until the version (or, after a rollback, the revision) changes.
//  4. `abort: "true"` -> RolledBack. 5. An invalid control or custom check -> Paused with the problem.
//  6. `promote: "true"` (canary ready) -> Promoted. 7. `paused: "true"` -> Paused.
//  8. Weights differ from what greenlight wrote: Paused (drift); from Paused, an explicit `paused: "false"`
//     re-writes the stored weights and resumes. 9. Paused with no cause left -> resumes (a pause for an unreadable
//     status waits for the explicit `paused: "false"`).
// 10. Waiting and ready -> step 0. 11. Progressing, one interval after the last step or analysis: analyse.
// Ready means the canary's new ReplicaSet is fully rolled out (`assessRollout`: the generation observed, every replica
// updated, ready and available, no old pod left), not merely Available: old pods keep a Deployment Available while a
// new template rolls out, and weight given then would reach pods of a version nobody measured. While not ready the
// weight holds (an analysis is inconclusive); past the progress deadline an analysis counts as a failure.
// A control that already held its acting value when the rollout started (promote, abort) or when the pause began
// (`paused: "false"`) is recorded in `heldControls` and ignored until a run sees it change, so a leftover
// annotation never promotes, aborts or resumes anything by itself.
import { annotationName } from "../contract/annotations.ts";
import { type CheckResult, describeCheck } from "./checks.ts";
import type { JudgeState } from "./compare.ts";
import type { CanarySettings } from "./settings.ts";
import {
  type CanaryPhase,
  type CanaryStatus,
  formatStatus,
  type HeldControl,
  STATUS_ANNOTATION,
  STATUS_VERSION,
} from "./status.ts";
import { formatWeights, isValidWeights, sameWeights, type Weights, weightsFor } from "./weights.ts";

export interface CanaryDeployment {
  namespace: string;
  name: string;
  /** The Deployment's `version` label: the canary version. */
  version: string;
  /** The new ReplicaSet fully rolled out: generation observed, every replica updated, ready and available. */
  ready: boolean;
  /** The rollout passed its progress deadline (ProgressDeadlineExceeded): waiting will not make it ready. */
  stalled?: boolean;
  /** Why it is not ready, in an operator's words (e.g. "not fully rolled out: 1 of 3 updated"). */
  rollout?: string;
  /** A fingerprint of the pod template: a new one is a new revision, whose rollout starts over. */
  revision?: string;
}

export interface CanaryInput {
  deployment: CanaryDeployment;
  settings: CanarySettings;
  /** The located route's weights as they are now (`readWeights`). */
  currentWeights: Weights;
  /** `located.stableVersion`, recorded when a rollout starts. */
  stableVersion?: string;
  /** The prior status; absent starts a new rollout. */
  status?: CanaryStatus;
  /** Why the status annotation present on the route could not be read (it is then not in `status`). */
  statusProblem?: string;
  /** The analysis results when `planCanary` asked for them. */
  checks?: CheckResult[];
  /** The comparative judge's state after this analysis (greenlight.dev/judge: compare), kept in the status. */
  judge?: JudgeState;
  now: Date;
}

export type CanaryEventReason =
  | "CanaryWaiting"
  | "CanaryStep"
  | "CanaryHold"
  | "CanaryPaused"
  | "CanaryResumed"
  | "CanaryPromoted"
  | "CanaryRolledBack";

export interface CanaryEvent {
  type: "Normal" | "Warning";
  reason: CanaryEventReason;
  /** At most 1024 characters, naming the weights and the check values. */
  message: string;
}

/** Why a decision paused the canary: a person asked, its annotations need fixing, a hand edit of the route, or an unreadable status. */
export type CanaryPauseCause = "requested" | "configuration" | "drift" | "status-unreadable";

export interface CanaryDecision {
  status: CanaryStatus;
  weights?: Weights;
  events: CanaryEvent[];
  changed: boolean;
  /** Set when this decision enters Paused (or pauses again for another reason). */
  pauseCause?: CanaryPauseCause;
}

export const MESSAGE_LIMIT = 1024;

const clip = (text: string, limit = MESSAGE_LIMIT): string =>
  text.length > limit ? `${text.slice(0, limit - 1)}…` : text;

const ROLLED_BACK: Weights = { stable: 100, canary: 0 };
const PROMOTED: Weights = { stable: 0, canary: 100 };

/** What the pre-analysis rules concluded: a decision, or that an analysis is due. */
type Stage = { decision: CanaryDecision } | { due: CanaryStatus };

export function planCanary(input: CanaryInput): { analyse: boolean } {
  // A canary that is not ready is judged without asking Prometheus: inconclusive, or failed past its deadline.
  return { analyse: "due" in stage(input) && input.deployment.ready };
}

export function decideCanary(input: CanaryInput): CanaryDecision {
  const staged = stage(input);
  return "decision" in staged ? staged.decision : analyseStep(input, staged.due);
}

/** A decision that writes `status`, and the weights only when the route does not already carry them. */
function decision(input: CanaryInput, status: CanaryStatus, event?: CanaryEvent, weights?: Weights): CanaryDecision {
  const prior = input.status;
  const changed = prior === undefined || formatStatus(prior) !== formatStatus(status);
  const result: CanaryDecision = { status, events: event ? [event] : [], changed };
  if (weights && !sameWeights(weights, input.currentWeights)) result.weights = { ...weights };
  return result;
}

/** Nothing happened; `base` differs from the prior status at most in `heldControls`. */
function unchanged(input: CanaryInput, base: CanaryStatus): Stage {
  const prior = input.status;
  const same = prior !== undefined && formatStatus(prior) === formatStatus(base);
  const status = same ? prior : { ...base, updatedAt: input.now.toISOString() };
  return { decision: decision(input, status) };
}

const event = (type: CanaryEvent["type"], reason: CanaryEventReason, message: string): CanaryEvent => ({
  type,
  reason,
  message: clip(message),
});

const resumedPhase = (status: CanaryStatus): CanaryPhase => (status.stepIndex < 0 ? "Waiting" : "Progressing");

const stepLabel = (index: number, settings: CanarySettings) => `step ${index + 1}/${settings.steps.length}`;

const deploymentName = (input: CanaryInput) => `${input.deployment.namespace}/${input.deployment.name}`;

/** A new pod template of the same version: recorded revisions differ (a status without one adopts the current). */
const newRevision = (prior: CanaryStatus, deployment: CanaryDeployment): boolean =>
  prior.canaryRevision !== undefined &&
  deployment.revision !== undefined &&
  prior.canaryRevision !== deployment.revision;

function stage(input: CanaryInput): Stage {
  const { deployment, settings, status: prior } = input;
  if (!prior && input.statusProblem !== undefined) return unreadable(input, input.statusProblem);
  if (prior?.stableVersion !== undefined && deployment.version === prior.stableVersion) {
    // Both Deployments of a canary pair may carry the annotations; the stable one must never start a rollout.
    return { decision: decision(input, prior) };
  }
  if (!prior || prior.canaryVersion !== deployment.version) return { decision: startRollout(input) };
  // After promotion the canary serves everything and the stable Deployment may be gone: an edit of the promoted
  // version in place is not a new rollout (that would route 100% to stable). After a rollback it is a fix to try.
  if (prior.phase !== "Promoted" && newRevision(prior, deployment)) return { decision: startRollout(input) };
  if (prior.phase === "Promoted" || prior.phase === "RolledBack") return { decision: decision(input, prior) };

  const controls = settings.controls;
  const held = (prior.heldControls ?? []).filter((control) =>
    control === "resume" ? controls.paused === false : controls[control] === true,
  );
  const base: CanaryStatus = { ...prior };
  if (base.canaryRevision === undefined && deployment.revision !== undefined) base.canaryRevision = deployment.revision;
  if (held.length > 0) base.heldControls = held;
  else delete base.heldControls;
  const acting = (control: HeldControl, value: boolean) => value && !held.includes(control);
  const abort = acting("abort", controls.abort === true);
  const promote = acting("promote", controls.promote === true);
  const resume = acting("resume", controls.paused === false);

  if (abort) {
    return { decision: finish(input, base, "RolledBack", `aborted by ${annotationName("abort")}: "true"`) };
  }
  if (settings.blocking.length > 0) {
    return pause(input, base, "Warning", `paused until fixed: ${settings.blocking.join("; ")}`, "configuration");
  }
  if (promote && deployment.ready) {
    return { decision: finish(input, base, "Promoted", `promoted by ${annotationName("promote")}: "true"`) };
  }
  if (controls.paused === true) {
    return pause(input, base, "Normal", `paused by ${annotationName("paused")}: "true"`, "requested");
  }
  if (!sameWeights(input.currentWeights, prior.weights)) {
    if (prior.phase === "Paused" && resume) {
      // Re-writing more canary weight than the route has now is a step: it waits until the canary is ready.
      if (!deployment.ready && base.weights.canary > input.currentWeights.canary) return unchanged(input, base);
      return resumeRewriting(input, base);
    }
    return pause(input, base, "Warning", driftReason(input, prior), "drift");
  }
  if (prior.phase === "Paused" && prior.awaitingResume) {
    if (!resume) return unchanged(input, base);
    const status: CanaryStatus = {
      ...base,
      phase: resumedPhase(base),
      reason: `resumed by ${annotationName("paused")}: "false" at ${formatWeights(base.weights)}`,
      lastStepAt: input.now.toISOString(),
      updatedAt: input.now.toISOString(),
    };
    delete status.awaitingResume;
    return { decision: decision(input, status, event("Normal", "CanaryResumed", `${status.reason}`)) };
  }
  if (prior.phase === "Paused") {
    const status: CanaryStatus = {
      ...base,
      phase: resumedPhase(base),
      reason: `resumed at ${formatWeights(base.weights)}`,
      updatedAt: input.now.toISOString(),
    };
    return { decision: decision(input, status, event("Normal", "CanaryResumed", `${status.reason}`)) };
  }
  if (prior.phase === "Waiting") {
    return deployment.ready ? { decision: firstStep(input, base) } : unchanged(input, base);
  }
  return isDue(input, base) ? { due: base } : unchanged(input, base);
}

/** The step a route's canary weight stands at: the last step not above it (-1 below the first). */
export function stepAt(canaryWeight: number, steps: readonly number[]): number {
  let index = -1;
  steps.forEach((weight, at) => {
    if (weight <= canaryWeight) index = at;
  });
  return index;
}

/**
 * The status annotation is there but unreadable (hand-edited, or written by a newer greenlight). Starting over would
 * send everything to stable, which may be scaled down by now, so the weights found on the route stay, and a Paused
 * status recording them replaces the unreadable one. From then on a fresh `abort` or `promote` acts as usual, and a
 * fresh `paused: "false"` resumes from the step the weights stand at.
 */
function unreadable(input: CanaryInput, problem: string): Stage {
  const { deployment, settings } = input;
  const at = input.now.toISOString();
  const weights = input.currentWeights;
  if (!isValidWeights(weights)) {
    // Nothing sane to record: leave the route and the annotation as they are; the report carries the problem.
    return { decision: { status: placeholder(input, weights, problem), events: [], changed: false } };
  }
  // Controls already set may be leftovers from before the status was lost (a promote ignored after a rollback):
  // none acts until a run sees it changed, as when a rollout starts.
  const held: HeldControl[] = [];
  if (settings.controls.promote === true) held.push("promote");
  if (settings.controls.abort === true) held.push("abort");
  if (settings.controls.paused === false) held.push("resume");
  const base: CanaryStatus = {
    version: STATUS_VERSION,
    phase: "Paused",
    canaryVersion: deployment.version,
    stepIndex: stepAt(weights.canary, settings.steps),
    weights: { ...weights },
    lastStepAt: at,
    failures: 0,
    inconclusive: 0,
    lastChecks: [],
    updatedAt: at,
  };
  if (input.stableVersion !== undefined) base.stableVersion = input.stableVersion;
  if (deployment.revision !== undefined) base.canaryRevision = deployment.revision;
  const reason = clip(
    `paused: ${STATUS_ANNOTATION} could not be read (${problem}); the route keeps ${formatWeights(weights)}; ` +
      `set ${annotationName("paused")}: "false" to resume from there, ${annotationName("abort")}: "true" to roll back, ` +
      `or ${annotationName("promote")}: "true" to promote (a control already set counts once it is changed)`,
  );
  const status: CanaryStatus = { ...base, reason, awaitingResume: true };
  if (held.length > 0) status.heldControls = held;
  return {
    decision: { ...decision(input, status, event("Warning", "CanaryPaused", reason)), pauseCause: "status-unreadable" },
  };
}

function placeholder(input: CanaryInput, weights: Weights, problem: string): CanaryStatus {
  const at = input.now.toISOString();
  return {
    version: STATUS_VERSION,
    phase: "Paused",
    canaryVersion: input.deployment.version,
    stepIndex: -1,
    weights,
    lastStepAt: at,
    failures: 0,
    inconclusive: 0,
    lastChecks: [],
    reason: clip(
      `${STATUS_ANNOTATION} could not be read (${problem}) and the route's weights are not two integers summing to 100: fix either by hand`,
    ),
    updatedAt: at,
  };
}

function startRollout(input: CanaryInput): CanaryDecision {
  const { deployment, settings, status: prior } = input;
  const at = input.now.toISOString();
  const held: HeldControl[] = [];
  if (settings.controls.promote === true) held.push("promote");
  if (settings.controls.abort === true) held.push("abort");
  const first = settings.steps[0] ?? 100;
  const reason =
    `rollout of ${deployment.version}${input.stableVersion ? ` over stable ${input.stableVersion}` : ""} starts at ` +
    `${formatWeights(ROLLED_BACK)}; ${stepLabel(0, settings)} (canary ${first}%) once ${deploymentName(input)} is fully rolled out`;
  const status: CanaryStatus = {
    version: STATUS_VERSION,
    phase: "Waiting",
    canaryVersion: deployment.version,
    stepIndex: -1,
    weights: { ...ROLLED_BACK },
    lastStepAt: at,
    failures: 0,
    inconclusive: 0,
    lastChecks: [],
    reason,
    updatedAt: at,
  };
  if (input.stableVersion !== undefined) status.stableVersion = input.stableVersion;
  if (deployment.revision !== undefined) status.canaryRevision = deployment.revision;
  if (held.length > 0) status.heldControls = held;
  const replaced = !prior
    ? ""
    : prior.canaryVersion === deployment.version
      ? ` (a new pod template of ${deployment.version} replaces revision ${prior.canaryRevision}, ${prior.phase}: ` +
        "nothing measured of that revision counts)"
      : ` (replaces ${prior.canaryVersion}, ${prior.phase})`;
  return decision(input, status, event("Normal", "CanaryWaiting", `${reason}${replaced}`), ROLLED_BACK);
}

function finish(
  input: CanaryInput,
  base: CanaryStatus,
  phase: "Promoted" | "RolledBack",
  why: string,
  checks?: CheckResult[],
): CanaryDecision {
  const weights = phase === "Promoted" ? PROMOTED : ROLLED_BACK;
  const at = input.now.toISOString();
  const reason = `${why}; was ${formatWeights(input.currentWeights)}, now ${formatWeights(weights)}`;
  const status: CanaryStatus = { ...base, phase, weights: { ...weights }, reason: clip(reason), updatedAt: at };
  delete status.heldControls;
  delete status.awaitingResume;
  if (checks) {
    status.lastChecks = checks;
    status.lastAnalysisAt = at;
  }
  const verb = phase === "Promoted" ? "promoted" : "rolled back";
  const message = `${verb} ${input.deployment.version}: ${reason}`;
  const type = phase === "Promoted" ? "Normal" : "Warning";
  const reasonCode = phase === "Promoted" ? "CanaryPromoted" : "CanaryRolledBack";
  return decision(input, status, event(type, reasonCode, message), weights);
}

/** Enters (or stays in) Paused; one event each time the reason for the pause changes. */
function pause(
  input: CanaryInput,
  base: CanaryStatus,
  type: CanaryEvent["type"],
  why: string,
  cause: CanaryPauseCause,
): Stage {
  const reason = clip(why);
  if (input.status?.phase === "Paused" && input.status.reason === reason) return unchanged(input, base);
  const status: CanaryStatus = { ...base, phase: "Paused", reason, updatedAt: input.now.toISOString() };
  // A `paused: "false"` left over from an earlier resume must not end this pause by itself.
  if (input.settings.controls.paused === false && !status.heldControls?.includes("resume")) {
    status.heldControls = [...(status.heldControls ?? []), "resume"];
  }
  return { decision: { ...decision(input, status, event(type, "CanaryPaused", reason)), pauseCause: cause } };
}

function driftReason(input: CanaryInput, prior: CanaryStatus): string {
  const paused = annotationName("paused");
  const leftover =
    input.settings.controls.paused === false
      ? ` (${paused} already reads "false" from before: set it to "true", then "false")`
      : "";
  return (
    `VirtualService weights were edited by hand: found ${formatWeights(input.currentWeights)}, greenlight wrote ` +
    `${formatWeights(prior.weights)}; set ${paused}: "false" to resume at ${formatWeights(prior.weights)}${leftover}, ` +
    `or ${annotationName("abort")}: "true" to roll back`
  );
}

function resumeRewriting(input: CanaryInput, base: CanaryStatus): Stage {
  const at = input.now.toISOString();
  const reason =
    `resumed by ${annotationName("paused")}: "false": re-wrote ${formatWeights(base.weights)} over ` +
    `the hand-edited ${formatWeights(input.currentWeights)}`;
  // The new analysis window starts now, when the stored weights are back on the route.
  const status: CanaryStatus = { ...base, phase: resumedPhase(base), reason, lastStepAt: at, updatedAt: at };
  delete status.awaitingResume;
  return { decision: decision(input, status, event("Normal", "CanaryResumed", reason), base.weights) };
}

function firstStep(input: CanaryInput, base: CanaryStatus): CanaryDecision {
  const { settings } = input;
  const weights = weightsFor(settings.steps[0] ?? 100);
  const at = input.now.toISOString();
  const reason = `${stepLabel(0, settings)}: ${formatWeights(weights)}; ${deploymentName(input)} is fully rolled out`;
  const status: CanaryStatus = {
    ...base,
    phase: "Progressing",
    stepIndex: 0,
    weights,
    lastStepAt: at,
    failures: 0,
    inconclusive: 0,
    reason,
    updatedAt: at,
  };
  delete status.lastAnalysisAt;
  return decision(input, status, event("Normal", "CanaryStep", reason), weights);
}

/** One interval after the later of the last step and the last analysis, so no window is judged twice. */
export function nextAnalysisAt(status: CanaryStatus, settings: CanarySettings): Date {
  const since = Math.max(Date.parse(status.lastStepAt), Date.parse(status.lastAnalysisAt ?? status.lastStepAt));
  return new Date(since + settings.intervalSeconds * 1000);
}

const isDue = (input: CanaryInput, status: CanaryStatus): boolean =>
  input.now.getTime() >= nextAnalysisAt(status, input.settings).getTime();

const summarise = (checks: readonly CheckResult[]): string => checks.map(describeCheck).join("; ");

function analyseStep(input: CanaryInput, prior: CanaryStatus): CanaryDecision {
  let base = prior;
  const { settings, deployment } = input;
  const at = input.now.toISOString();
  const checks = input.checks ?? [];
  const failing = checks.filter((check) => check.outcome === "fail");
  const unsure = checks.filter((check) => check.outcome === "no-data" || check.outcome === "error");
  // The comparative judge's "cannot tell yet": holds the weight, and is neither a failure nor no data.
  const undecided = checks.filter((check) => check.outcome === "inconclusive");
  const here = `${stepLabel(base.stepIndex, settings)} at ${formatWeights(base.weights)}`;
  if (input.judge) base = { ...base, judge: input.judge };

  if (failing.length === 0 && unsure.length === 0 && undecided.length === 0 && checks.length > 0 && deployment.ready) {
    const next = base.stepIndex + 1;
    const canary = settings.steps[next];
    if (canary === undefined) {
      const why = `all ${settings.steps.length} steps passed: ${summarise(checks)}`;
      return finish(input, { ...base, failures: 0, inconclusive: 0 }, "Promoted", why, checks);
    }
    const weights = weightsFor(canary);
    const reason = `${stepLabel(next, settings)}: ${formatWeights(weights)} after ${here} passed: ${summarise(checks)}`;
    const status: CanaryStatus = {
      ...base,
      phase: "Progressing",
      stepIndex: next,
      weights,
      lastStepAt: at,
      lastAnalysisAt: at,
      failures: 0,
      inconclusive: 0,
      lastChecks: checks,
      reason: clip(reason),
      updatedAt: at,
    };
    return decision(input, status, event("Normal", "CanaryStep", reason), weights);
  }

  let failures = base.failures;
  let inconclusive = 0;
  let verdict: string;
  const notReady = `${deploymentName(input)} is not ready${deployment.rollout ? ` (${deployment.rollout})` : ""}`;
  if (!deployment.ready && deployment.stalled) {
    // Past its progress deadline the rollout will not become ready by waiting: that is a failed check.
    failures += 1;
    verdict = `analysis failed: ${notReady}`;
  } else if (failing.length > 0) {
    failures += 1;
    verdict = `analysis failed: ${summarise(failing)}`;
  } else if (unsure.length === 0 && undecided.length > 0 && deployment.ready) {
    // Evidence is still gathering: hold, without counting a failure or an inconclusive analysis.
    const counted = { ...base, inconclusive: 0, lastChecks: checks, lastAnalysisAt: at };
    const reason = clip(
      `holding ${here}: the comparison with the stable version cannot tell yet: ${summarise(undecided)}`,
    );
    const status: CanaryStatus = { ...counted, reason, updatedAt: at };
    return decision(input, status, event("Normal", "CanaryHold", reason));
  } else {
    inconclusive = base.inconclusive + 1;
    const overflow = inconclusive >= settings.maxInconclusive;
    if (overflow) failures += 1;
    const why = !deployment.ready
      ? notReady
      : input.checks === undefined
        ? "no analysis was run"
        : checks.length === 0
          ? "no checks ran"
          : summarise(unsure);
    verdict =
      `analysis inconclusive ${inconclusive} time(s) in a row` +
      `${overflow ? ", which counts as a failure" : ` (a failure from ${settings.maxInconclusive})`}: ${why}`;
  }
  const counted = { ...base, failures, inconclusive, lastChecks: checks, lastAnalysisAt: at };
  if (failures >= settings.threshold) {
    const why = `${failures} consecutive failed analyses at ${here}; last ${verdict}`;
    return finish(input, counted, "RolledBack", why, checks);
  }
  const reason = `holding ${here} (${failures} of ${settings.threshold} failures before rollback): ${verdict}`;
  const status: CanaryStatus = { ...counted, reason: clip(reason), updatedAt: at };
  return decision(input, status, event("Warning", "CanaryHold", reason));
}
