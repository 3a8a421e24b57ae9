// The rolling guard's decision: from progress, new pods' health, revisions and the prior status, the next status
// and at most one undo.
//
// API:
// - `decideRolling(input) -> { status?, changed, rollback?, events, message }`: `status` is what the annotation
//   should say (absent only when nothing can be judged yet and nothing was written before); `changed` when it
//   differs from the prior one other than in `updatedAt`; `rollback` when the Deployment's template must be
//   replaced by `rollback.to`'s; at most one event, and only when the phase or the template changed.
// Rules, in order (the first that applies decides):
//  1. The controller has not observed the latest generation: the counts are stale, nothing is judged or written.
//  2. The status records an undo and the Deployment runs the restored template: RolledBack while it rolls out,
//     Failed if it fails too. Never a second undo: back from there is the failed template, and flipping between
//     the two is what an unattended guard must not do.
//  3. The status records an undo and the Deployment runs the failed template again (re-applied by a person or a
//     GitOps tool): reported like any rollout, but a failure is not undone again.
//  4. This template was Complete before: it stays Complete. Pods that crash or replicas that cannot be placed
//     later are reported, not undone: a scale-up or a node outage is no reason to go back a version.
//  5. Deadline exceeded or crash-looping new pods: undo to the previous revision when `auto-rollback` is "true",
//     nothing holds the rollout (`paused`, spec.paused), and there is a previous ReplicaSet (not the template
//     greenlight rolled back before, when the status still records it); else Failed, saying what is missing.
//  6. Otherwise Complete or Progressing, as `readProgress` says.
import { annotationName } from "../contract/annotations.ts";
import { describeCounts, type Progress } from "../deployment/progress.ts";
import { type CrashLoop, describeCrashLoops } from "./health.ts";
import { type RevisionRef, type RollingPhase, type RollingStatus, sameRollingStatus } from "./status.ts";
import { findPreviousRevision, type Revision } from "./undo.ts";

export interface RollingInput {
  progress: Progress;
  /** The ReplicaSet of the Deployment's current template (`findNewRevision`); absent until the controller makes it. */
  current?: Revision;
  /** The Deployment's ReplicaSets (`revisionsOf`), where the undo target is chosen. */
  revisions: readonly Revision[];
  /** Crash-looping containers of the current ReplicaSet's pods. */
  crashLoops: readonly CrashLoop[];
  autoRollback: boolean;
  /** Why no undo may happen now (`greenlight.dev/paused`, spec.paused); absent when nothing holds it. */
  held?: string;
  prior?: RollingStatus;
  now: Date;
}

export type RollingEventReason = "RolloutProgressing" | "RolloutComplete" | "RolloutFailed" | "RolledBack";

export interface RollingEvent {
  type: "Normal" | "Warning";
  reason: RollingEventReason;
  message: string;
}

export interface RollingDecision {
  status?: RollingStatus;
  changed: boolean;
  rollback?: { from: Revision; to: Revision };
  events: RollingEvent[];
  /** What this pass found, for the report (the status message, or why nothing was judged). */
  message: string;
}

const refOf = (revision: Revision): RevisionRef => ({ revision: revision.revision, podTemplateHash: revision.hash });

interface Judgement {
  phase: RollingPhase;
  message: string;
  record?: { from: RevisionRef; to: RevisionRef };
  rollback?: { from: Revision; to: Revision };
}

/**
 * The undo target, or why there is none. A template greenlight rolled back before (still recorded in the status)
 * is passed over: it is the one revision known to fail.
 */
function undoTarget(input: RollingInput): { from: Revision; to: Revision } | { blocker: string } {
  if (!input.autoRollback) return { blocker: `${annotationName("auto-rollback")} is not "true"` };
  if (input.held) return { blocker: input.held };
  const { current } = input;
  if (!current) return { blocker: "no ReplicaSet matches the current pod template" };
  const failed = input.prior?.rolledBackFrom;
  const to = findPreviousRevision(current, input.revisions, failed ? [failed.podTemplateHash] : []);
  if (to) return { from: current, to };
  const passedOver =
    failed && input.revisions.some((r) => r.hash === failed.podTemplateHash && r.revision < current.revision);
  return {
    blocker: `no ReplicaSet older than revision ${current.revision} to roll back to${
      passedOver ? ` but the template greenlight rolled back before (revision ${failed.revision})` : ""
    }`,
  };
}

function judge(input: RollingInput, failure: string | undefined): Judgement {
  const { progress, current, prior } = input;
  const from = prior?.rolledBackFrom;
  const to = prior?.rolledBackTo;
  if (from && to && current && current.hash === to.podTemplateHash) {
    const record = { from, to };
    if (failure) {
      return {
        phase: "Failed",
        record,
        message: `${failure}; this is the template restored from revision ${from.revision}: greenlight rolls back once, the next step is yours`,
      };
    }
    return { phase: "RolledBack", record, message: `rolled back from revision ${from.revision}: ${progress.message}` };
  }
  if (from && to && current && current.hash === from.podTemplateHash) {
    if (failure) {
      return {
        phase: "Failed",
        record: { from, to },
        message: `${failure}; not rolled back again: greenlight rolled this template back once already (revision ${from.revision})`,
      };
    }
    if (progress.state === "complete") return { phase: "Complete", message: progress.message };
    return { phase: "Progressing", record: { from, to }, message: progress.message };
  }
  if (prior?.phase === "Complete" && current && prior.podTemplateHash === current.hash) {
    const now = failure ?? (progress.state === "complete" ? undefined : progress.message);
    return { phase: "Complete", message: now ? `rolled out; since then ${now}` : progress.message };
  }
  if (failure) {
    const target = undoTarget(input);
    if ("blocker" in target) return { phase: "Failed", message: `${failure}; not rolled back: ${target.blocker}` };
    return {
      phase: "RolledBack",
      rollback: target,
      record: { from: refOf(target.from), to: refOf(target.to) },
      message: `${failure}; rolled back from revision ${target.from.revision} to ${target.to.revision}`,
    };
  }
  if (!current) return { phase: "Progressing", message: `${progress.message}; waiting for the new ReplicaSet` };
  return { phase: progress.state === "complete" ? "Complete" : "Progressing", message: progress.message };
}

function eventFor(status: RollingStatus, judgement: Judgement): RollingEvent {
  const revision = status.revision === undefined ? "the new revision" : `revision ${status.revision}`;
  switch (status.phase) {
    case "RolledBack":
      return judgement.rollback
        ? { type: "Warning", reason: "RolledBack", message: status.message }
        : { type: "Normal", reason: "RolloutProgressing", message: status.message };
    case "Failed":
      return { type: "Warning", reason: "RolloutFailed", message: `${revision}: ${status.message}` };
    case "Complete":
      return { type: "Normal", reason: "RolloutComplete", message: `${revision}: ${describeCounts(status)}` };
    default:
      return { type: "Normal", reason: "RolloutProgressing", message: `${revision}: ${status.message}` };
  }
}

export function decideRolling(input: RollingInput): RollingDecision {
  const { progress, prior } = input;
  if (progress.state === "observing") {
    return { ...(prior ? { status: prior } : {}), changed: false, events: [], message: progress.message };
  }
  const failure =
    progress.state === "failed"
      ? progress.message
      : input.crashLoops.length > 0
        ? `new pods crash-loop: ${describeCrashLoops(input.crashLoops)}`
        : undefined;
  const judgement = judge(input, failure);
  const described = judgement.rollback ? judgement.rollback.to : input.current;
  const status: RollingStatus = {
    strategy: "rolling",
    phase: judgement.phase,
    ...(described ? { revision: described.revision, podTemplateHash: described.hash } : {}),
    desired: progress.desired,
    updated: progress.updated,
    ready: progress.ready,
    available: progress.available,
    message: judgement.message,
    ...(judgement.record ? { rolledBackFrom: judgement.record.from, rolledBackTo: judgement.record.to } : {}),
    updatedAt: input.now.toISOString(),
  };
  const changed = !sameRollingStatus(prior, status);
  if (!changed && prior) {
    return { status: prior, changed: false, events: [], message: prior.message };
  }
  const newTemplate = status.podTemplateHash !== undefined && prior?.podTemplateHash !== status.podTemplateHash;
  const news = judgement.rollback || !prior || prior.phase !== status.phase || newTemplate;
  const events = news ? [eventFor(status, judgement)] : [];
  return {
    status,
    changed,
    ...(judgement.rollback ? { rollback: judgement.rollback } : {}),
    events,
    message: status.message,
  };
}
