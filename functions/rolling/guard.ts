// One rolling Deployment through one pass: read it, ask decideRolling, write once (guarded), record events.
// The entry point the scheduled pass calls for Deployments annotated `greenlight.dev/strategy: rolling`.
import type { V1Deployment } from "@kubernetes/client-node";
import jsonPatch, { type Operation } from "fast-json-patch";
import { annotationName, readAnnotation, readOrWarn } from "../contract/annotations.ts";
import type { KubeClients } from "../kube/clients.ts";
import { KubeError, toKubeError } from "../kube/errors.ts";
import { recordEvent } from "../kube/events.ts";
import type { NotifyBatch } from "../notify/notifier.ts";
import { rollingNotification } from "../notify/rollouts.ts";
import { decideRolling, type RollingEvent } from "./decide.ts";
import type { CrashLoop } from "./health.ts";
import { snapshotRollout } from "./kube.ts";
import { formatRollingStatus, type RollingPhase, type RollingStatus, STATUS_ANNOTATION } from "./status.ts";
import { type Revision, restorableTemplate } from "./undo.ts";

export interface RollingContext {
  clients: KubeClients;
  now: Date;
  dryRun: boolean;
  /** Restarts after which a container counts as crash-looping even between back-offs (default 3). */
  restartThreshold?: number;
  /** Told of each undo this pass wrote (functions/notify). */
  notify?: NotifyBatch;
}

export type RollingOutcome =
  | "written" // the status annotation changed, in one guarded patch
  | "rolled-back" // the template was replaced by the previous revision's, with the status, in one guarded patch
  | "unchanged" // nothing to write this pass
  | "lost-race" // another pass wrote first; this one backed off
  | "dry-run" // would have sent `patch`
  | "failed"; // this pass could not read or write: see `problem` (the rollout's own failure is phase Failed)

export interface RollingReport {
  namespace: string;
  deployment: string;
  outcome: RollingOutcome;
  phase?: RollingPhase;
  message: string;
  revision?: number;
  progress?: { desired: number; updated: number; ready: number; available: number };
  crashLoops: CrashLoop[];
  rolledBackFrom?: number;
  rolledBackTo?: number;
  events: RollingEvent[];
  /** Annotations that could not be parsed (defaults used), in the validator's words. */
  warnings: string[];
  problem?: string;
  patch?: Operation[];
}

const STATUS_POINTER = `/metadata/annotations/${jsonPatch.escapePathComponent(STATUS_ANNOTATION)}`;

/** Deployments annotated `greenlight.dev/strategy: rolling` (an invalid strategy value is not one). */
export function isRolling(deployment: V1Deployment): boolean {
  const strategy = readAnnotation(deployment.metadata?.annotations, "strategy");
  return strategy.present && strategy.ok && strategy.value === "rolling";
}

/**
 * The one JSON Patch of a pass. A status-only write is led by `test` ops on the generation (bumped by every
 * change of spec or annotations, but not by the controller's status updates, which come every few seconds
 * during a rollout) and on the status text this pass read. An undo is led by a `test` on the resourceVersion:
 * it must act on exactly the Deployment it judged. Either way the loser of two overlapping passes gets a 422.
 */
export function guardedPatch(
  deployment: V1Deployment,
  priorText: string | undefined,
  status: RollingStatus,
  rollbackTo?: Revision,
): Operation[] {
  const ops: Operation[] = [];
  const generation = deployment.metadata?.generation;
  if (rollbackTo || generation === undefined) {
    ops.push({ op: "test", path: "/metadata/resourceVersion", value: deployment.metadata?.resourceVersion });
  } else {
    ops.push({ op: "test", path: "/metadata/generation", value: generation });
  }
  if (priorText !== undefined) ops.push({ op: "test", path: STATUS_POINTER, value: priorText });
  if (rollbackTo) ops.push({ op: "replace", path: "/spec/template", value: restorableTemplate(rollbackTo.template) });
  const text = formatRollingStatus(status);
  ops.push(
    deployment.metadata?.annotations
      ? { op: "add", path: STATUS_POINTER, value: text }
      : { op: "add", path: "/metadata/annotations", value: { [STATUS_ANNOTATION]: text } },
  );
  return ops;
}

/** Why no undo may happen now, from greenlight's own pause and Kubernetes' (kubectl refuses to undo a paused one). */
function heldBy(deployment: V1Deployment, warnings: string[]): string | undefined {
  if (readOrWarn(deployment.metadata?.annotations, "paused", warnings) === true) {
    return `${annotationName("paused")} is "true"`;
  }
  if (deployment.spec?.paused) return "the Deployment is paused (spec.paused); resume it first";
  return undefined;
}

const ACTIONS: Record<RollingEvent["reason"], string> = {
  RolloutProgressing: "Progressing",
  RolloutComplete: "Complete",
  RolloutFailed: "Failed",
  RolledBack: "Rollback",
};

export async function guardRollout(context: RollingContext, deployment: V1Deployment): Promise<RollingReport> {
  const namespace = deployment.metadata?.namespace ?? "default";
  const name = deployment.metadata?.name ?? "?";
  const warnings: string[] = [];
  const report: RollingReport = {
    namespace,
    deployment: name,
    outcome: "unchanged",
    message: "",
    crashLoops: [],
    events: [],
    warnings,
  };
  try {
    const snapshot = await snapshotRollout(context.clients, deployment, {
      ...(context.restartThreshold !== undefined ? { restartThreshold: context.restartThreshold } : {}),
    });
    if (snapshot.statusProblem) warnings.push(`${snapshot.statusProblem}; starting over`);
    const autoRollback = readOrWarn(deployment.metadata?.annotations, "auto-rollback", warnings) ?? false;
    const held = heldBy(deployment, warnings);
    const decision = decideRolling({
      progress: snapshot.progress,
      ...(snapshot.current ? { current: snapshot.current } : {}),
      revisions: snapshot.revisions,
      crashLoops: snapshot.crashLoops,
      autoRollback,
      ...(held ? { held } : {}),
      ...(snapshot.status ? { prior: snapshot.status } : {}),
      now: context.now,
    });
    const { progress } = snapshot;
    Object.assign(report, {
      message: decision.message,
      progress: {
        desired: progress.desired,
        updated: progress.updated,
        ready: progress.ready,
        available: progress.available,
      },
      crashLoops: snapshot.crashLoops,
      events: decision.events,
      ...(decision.status ? { phase: decision.status.phase } : {}),
      ...(decision.status?.revision !== undefined ? { revision: decision.status.revision } : {}),
      ...(decision.status?.rolledBackFrom
        ? {
            rolledBackFrom: decision.status.rolledBackFrom.revision,
            rolledBackTo: decision.status.rolledBackTo?.revision,
          }
        : {}),
    });
    if (!decision.changed || !decision.status) return report;

    const patch = guardedPatch(deployment, snapshot.statusText, decision.status, decision.rollback?.to);
    if (context.dryRun) return { ...report, outcome: "dry-run", patch };
    try {
      await context.clients.apps.patchNamespacedDeployment({ namespace, name, body: patch });
    } catch (error) {
      const failure = toKubeError(error, `writing Deployment ${namespace}/${name}`);
      // The other pass's decision stands; events for ours would describe something that did not happen.
      if (failure.isConflict) return { ...report, events: [], outcome: "lost-race", problem: failure.message };
      throw failure;
    }
    for (const event of decision.events) {
      const failed = await recordEvent(
        context.clients,
        { namespace, name, ...(deployment.metadata?.uid ? { uid: deployment.metadata.uid } : {}) },
        { type: event.type, reason: event.reason, action: ACTIONS[event.reason], note: event.message },
        context.now,
      );
      if (failed) warnings.push(failed.message);
    }
    if (decision.rollback && context.notify) {
      const { resourceVersion, uid } = deployment.metadata ?? {};
      const event = rollingNotification({
        namespace,
        deployment: name,
        ...(uid ? { uid } : {}),
        ...(resourceVersion ? { resourceVersion } : {}),
        ...(report.rolledBackFrom !== undefined ? { from: report.rolledBackFrom } : {}),
        ...(report.rolledBackTo !== undefined ? { to: report.rolledBackTo } : {}),
        message: decision.status.message,
        now: context.now,
      });
      context.notify.notify(event, deployment.metadata?.annotations);
    }
    return { ...report, outcome: decision.rollback ? "rolled-back" : "written" };
  } catch (error) {
    const failure = error instanceof KubeError ? error : toKubeError(error, `rolling guard ${namespace}/${name}`);
    return { ...report, events: [], outcome: "failed", problem: failure.message };
  }
}
