// Reads one rolling Deployment as the guard and the CLI see it: Deployment, its ReplicaSets, the new pods.
// Three calls with client-node 1.4 (get or given Deployment, list ReplicaSets, list pods); nothing here decides.
import type { V1Deployment, V1LabelSelector, V1Pod } from "@kubernetes/client-node";
import { type Progress, readProgress } from "../deployment/progress.ts";
import type { KubeClients } from "../kube/clients.ts";
import { toKubeError } from "../kube/errors.ts";
import { type CrashLoop, DEFAULT_RESTART_THRESHOLD, findCrashLoops } from "./health.ts";
import { parseRollingStatus, type RollingStatus, STATUS_ANNOTATION } from "./status.ts";
import { findNewRevision, findPreviousRevision, POD_TEMPLATE_HASH, type Revision, revisionsOf } from "./undo.ts";

export interface RolloutSnapshot {
  namespace: string;
  name: string;
  deployment: V1Deployment;
  progress: Progress;
  /** The Deployment's ReplicaSets with a revision, highest first. */
  revisions: Revision[];
  /** The ReplicaSet of the current template; absent until the controller has made it. */
  current?: Revision;
  /** What an undo would restore. */
  previous?: Revision;
  /** Pods of the current ReplicaSet. */
  pods: V1Pod[];
  crashLoops: CrashLoop[];
  /** The status annotation as read (the guard's `test` op compares against exactly this text). */
  statusText?: string;
  status?: RollingStatus;
  statusProblem?: string;
}

/** A LabelSelector as the `labelSelector` query parameter the API server parses. */
export function selectorText(selector: V1LabelSelector | undefined): string {
  const terms = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const expression of selector?.matchExpressions ?? []) {
    const values = (expression.values ?? []).join(",");
    switch (expression.operator) {
      case "In":
        terms.push(`${expression.key} in (${values})`);
        break;
      case "NotIn":
        terms.push(`${expression.key} notin (${values})`);
        break;
      case "Exists":
        terms.push(expression.key);
        break;
      case "DoesNotExist":
        terms.push(`!${expression.key}`);
        break;
      default:
        throw new Error(`label selector operator ${expression.operator} is not one of In, NotIn, Exists, DoesNotExist`);
    }
  }
  return terms.join(",");
}

export async function readDeployment(clients: KubeClients, namespace: string, name: string): Promise<V1Deployment> {
  try {
    return await clients.apps.readNamespacedDeployment({ namespace, name });
  } catch (error) {
    throw toKubeError(error, `reading Deployment ${namespace}/${name}`);
  }
}

/** Pods are matched by the hash label and then by owner, so another Deployment's pods with equal labels never count. */
const ownedBy = (pod: V1Pod, replicaSet: Revision): boolean => {
  const controller = pod.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  return !controller || !replicaSet.uid || controller.uid === replicaSet.uid;
};

export async function snapshotRollout(
  clients: KubeClients,
  deployment: V1Deployment,
  options: { restartThreshold?: number } = {},
): Promise<RolloutSnapshot> {
  const namespace = deployment.metadata?.namespace ?? "default";
  const name = deployment.metadata?.name ?? "?";
  const selector = selectorText(deployment.spec?.selector);
  let replicaSets: Awaited<ReturnType<KubeClients["apps"]["listNamespacedReplicaSet"]>>["items"];
  try {
    replicaSets = (
      await clients.apps.listNamespacedReplicaSet({ namespace, ...(selector ? { labelSelector: selector } : {}) })
    ).items;
  } catch (error) {
    throw toKubeError(error, `listing ReplicaSets of ${namespace}/${name}`);
  }
  const owner = { name, ...(deployment.metadata?.uid ? { uid: deployment.metadata.uid } : {}) };
  const revisions = revisionsOf(owner, replicaSets);
  const current = findNewRevision(deployment.spec?.template, revisions);
  const previous = current ? findPreviousRevision(current, revisions) : undefined;
  let pods: V1Pod[] = [];
  if (current?.hash) {
    const labelSelector = [selector, `${POD_TEMPLATE_HASH}=${current.hash}`].filter(Boolean).join(",");
    try {
      pods = (await clients.core.listNamespacedPod({ namespace, labelSelector })).items.filter((pod) =>
        ownedBy(pod, current),
      );
    } catch (error) {
      throw toKubeError(error, `listing pods of ${namespace}/${current.name}`);
    }
  }
  const statusText = deployment.metadata?.annotations?.[STATUS_ANNOTATION];
  const parsed = parseRollingStatus(statusText);
  return {
    namespace,
    name,
    deployment,
    progress: readProgress(deployment),
    revisions,
    ...(current ? { current } : {}),
    ...(previous ? { previous } : {}),
    pods,
    crashLoops: findCrashLoops(pods, options.restartThreshold ?? DEFAULT_RESTART_THRESHOLD),
    ...(statusText !== undefined ? { statusText } : {}),
    ...(parsed.status ? { status: parsed.status } : {}),
    ...(parsed.problem ? { statusProblem: parsed.problem } : {}),
  };
}

export async function readRollout(
  clients: KubeClients,
  namespace: string,
  name: string,
  options: { restartThreshold?: number } = {},
): Promise<RolloutSnapshot> {
  return snapshotRollout(clients, await readDeployment(clients, namespace, name), options);
}
