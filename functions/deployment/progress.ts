// A rolling update's progress from the Deployment alone, judged by the rules `kubectl rollout status` uses.
//
// API:
// - `readProgress(deployment) -> Progress`: counts of desired (spec.replicas, default 1), updated, ready and
//   available replicas, whether the controller has observed the latest generation, and one state:
//   "observing" (observedGeneration < generation: the counts describe an older spec, so nothing is judged),
//   "failed" (the Progressing condition says ProgressDeadlineExceeded), "complete" (updated = desired, no old
//   pods left, every updated pod available) or "progressing", with a message saying what is still missing.
// The order is kubectl's: an unobserved generation first, then the deadline, then each count.
// Nothing here reads the status annotation or the pods: those are the guard's memory and health.ts.

export const PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded";

/** The fields read here; client-node's V1Deployment is assignable to it. */
export interface DeploymentShape {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec?: { replicas?: number; paused?: boolean; progressDeadlineSeconds?: number };
  status?: {
    observedGeneration?: number;
    /** Pods of every ReplicaSet of the Deployment, old ones included. */
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status?: string; reason?: string; message?: string }[];
  };
}

export type ProgressState = "observing" | "progressing" | "complete" | "failed";

export interface Progress {
  /** spec.replicas, 1 when unset (the API server's default). */
  desired: number;
  /** Pods of the current template. */
  updated: number;
  /** Ready pods of every ReplicaSet (what `kubectl get deploy` shows as READY). */
  ready: number;
  available: number;
  /** Pods of every ReplicaSet: above `updated` while old pods remain. */
  total: number;
  /** observedGeneration >= generation: the counts describe the current spec. */
  observed: boolean;
  /** spec.paused: the controller holds the rollout and does not check the deadline. */
  paused: boolean;
  state: ProgressState;
  message: string;
}

const count = (value: number | undefined): number => (typeof value === "number" && value > 0 ? value : 0);

export function readProgress(deployment: DeploymentShape): Progress {
  const status = deployment.status ?? {};
  const desired = typeof deployment.spec?.replicas === "number" ? deployment.spec.replicas : 1;
  const generation = deployment.metadata?.generation ?? 0;
  const observedGeneration = status.observedGeneration ?? 0;
  const base = {
    desired,
    updated: count(status.updatedReplicas),
    ready: count(status.readyReplicas),
    available: count(status.availableReplicas),
    total: count(status.replicas),
    observed: observedGeneration >= generation,
    paused: deployment.spec?.paused === true,
  };
  const judged = judge(base, generation, observedGeneration, status.conditions ?? []);
  return { ...base, state: judged.state, message: base.paused ? `${judged.message} (paused)` : judged.message };
}

function judge(
  counts: Omit<Progress, "state" | "message">,
  generation: number,
  observedGeneration: number,
  conditions: NonNullable<NonNullable<DeploymentShape["status"]>["conditions"]>,
): { state: ProgressState; message: string } {
  if (!counts.observed) {
    return {
      state: "observing",
      message: `waiting for the Deployment controller to observe generation ${generation} (observed ${observedGeneration})`,
    };
  }
  const progressing = conditions.find((condition) => condition.type === "Progressing");
  if (progressing?.reason === PROGRESS_DEADLINE_EXCEEDED) {
    return {
      state: "failed",
      message: `exceeded its progress deadline${progressing.message ? `: ${progressing.message}` : ""}`,
    };
  }
  if (counts.updated < counts.desired) {
    return {
      state: "progressing",
      message: `${counts.updated} of ${counts.desired} new replicas have been updated`,
    };
  }
  if (counts.total > counts.updated) {
    const old = counts.total - counts.updated;
    return {
      state: "progressing",
      message: `${old} old ${old === 1 ? "replica is" : "replicas are"} pending termination`,
    };
  }
  if (counts.available < counts.updated) {
    return {
      state: "progressing",
      message: `${counts.available} of ${counts.updated} updated replicas are available`,
    };
  }
  return { state: "complete", message: "successfully rolled out" };
}

/** `updated 6/10, ready 9/10, available 8/10`: the counts as one phrase, the same in events, status and CLI. */
export const describeCounts = (progress: Pick<Progress, "desired" | "updated" | "ready" | "available">): string =>
  `updated ${progress.updated}/${progress.desired}, ready ${progress.ready}/${progress.desired}, available ${progress.available}/${progress.desired}`;
