// Is a Deployment fully rolled out: the rolling guard's reading of `kubectl rollout status`, made stricter for a switch.
//
// API: `assessRollout(deployment) -> { ready, failed, message, counts }`.
// Rules, in order (the first that applies decides):
//  1. metadata.generation > status.observedGeneration: the controller has not seen the latest spec yet, so every
//     count below describes an older template (kubectl checks this first for the same reason).
//  2. A Progressing condition with reason ProgressDeadlineExceeded: the rollout failed; waiting will not help.
//  3. spec.replicas (default 1) is 0: there is nothing to send traffic to.
//  4. updated = ready = available = desired, and no pods beyond them (old ReplicaSets still running): ready.
//     Otherwise the message names exactly the counts that are short, e.g. "2 of 3 updated, 1 of 3 ready".
// Blue/green needs all of them, not just "Available": the switch moves every request at once, so a version serving
// with one pod of three, or with old pods still behind its Service, is not ready to take the whole load.

import { type DeploymentShape, PROGRESS_DEADLINE_EXCEEDED, readProgress } from "./progress.ts";

/** The fields of an apps/v1 Deployment that readiness depends on (a V1Deployment fits). */
export type RolloutView = DeploymentShape;

export interface RolloutCounts {
  desired: number;
  /** Pods of every ReplicaSet (status.replicas). */
  total: number;
  updated: number;
  ready: number;
  available: number;
}

export interface Readiness {
  ready: boolean;
  /** The rollout passed its progress deadline: it will not become ready without a new rollout. */
  failed: boolean;
  /** Why it is (not) ready, in words an operator acts on. */
  message: string;
  counts: RolloutCounts;
}

export const DEADLINE_REASON = PROGRESS_DEADLINE_EXCEEDED;

/** The counts that keep a rollout from being complete, as "2 of 3 updated"; empty when none. */
export function shortCounts(counts: RolloutCounts): string[] {
  const { desired, total, updated, ready, available } = counts;
  const short: string[] = [];
  if (updated < desired) short.push(`${updated} of ${desired} updated`);
  if (ready < desired) short.push(`${ready} of ${desired} ready`);
  if (available < desired) short.push(`${available} of ${desired} available`);
  const old = total - updated;
  if (old > 0) short.push(`${old} old ${old === 1 ? "replica" : "replicas"} still running`);
  return short;
}

export function assessRollout(deployment: RolloutView): Readiness {
  // The counts and the first two rules (generation observed, deadline) are readProgress's, as the rolling guard uses.
  const progress = readProgress(deployment);
  const { desired, total, updated, ready, available } = progress;
  const counts: RolloutCounts = { desired, total, updated, ready, available };
  const notReady = (message: string, failed = false): Readiness => ({ ready: false, failed, message, counts });
  if (progress.state === "observing") {
    const generation = deployment.metadata?.generation;
    const observed = deployment.status?.observedGeneration;
    return notReady(
      `the Deployment controller has not observed generation ${generation} yet (observed: ${observed ?? "none"})`,
    );
  }
  if (progress.state === "failed") {
    const deadline = deployment.status?.conditions?.find((condition) => condition.type === "Progressing");
    const detail = deadline?.message ? `: ${deadline.message}` : "";
    return notReady(`the rollout exceeded its progress deadline (${DEADLINE_REASON}${detail})`, true);
  }
  if (desired === 0) return notReady("scaled to 0 replicas: there is nothing to switch traffic to");
  const short = shortCounts(counts);
  if (short.length > 0) return notReady(`not fully rolled out: ${short.join(", ")}`);
  return {
    ready: true,
    failed: false,
    message: `${desired} of ${desired} replicas updated, ready and available`,
    counts,
  };
}
