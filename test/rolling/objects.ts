// Rollouts in a given state on the fake API server, which runs no controllers: the Deployment, its ReplicaSets and
// the new pods are written here as the deployment controller and the kubelet would leave them.
import { createHash } from "node:crypto";
import type { FakeApiServer, JsonObject } from "../../scripts/fakes/kube/fake-apiserver.ts";

export const NAMESPACE = "production";
export const NAME = "myapp";
const LABELS = { app: NAME };

type Obj = JsonObject & {
  metadata: {
    name: string;
    uid: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: { replicas?: number; template: JsonObject & { metadata: { labels: Record<string, string> } } };
  status?: JsonObject;
};

/** The seed's rolling pod template for one version (probes and resources as in the article). */
export function template(version: string): JsonObject & { metadata: { labels: Record<string, string> } } {
  return {
    metadata: { labels: { ...LABELS, version } },
    spec: {
      containers: [
        {
          name: NAME,
          image: `${NAME}:${version}`,
          ports: [{ containerPort: 8080 }],
          resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } },
          readinessProbe: { httpGet: { path: "/ready", port: 8080 }, initialDelaySeconds: 30, periodSeconds: 10 },
        },
      ],
    },
  };
}

/** A stand-in for the controller's pod-template-hash: stable per version, label-safe. */
export const hashOf = (version: string): string =>
  createHash("sha256")
    .update(version)
    .digest("hex")
    .slice(0, 10)
    .replace(/^[0-9]/, "h");

export const rsName = (version: string): string => `${NAME}-${hashOf(version)}`;

export type Counts = { updated: number; ready: number; available: number; total?: number };

export type Condition = "progressing" | "complete" | "deadline";

/** Deployment status as the controller writes it; `observed: false` leaves observedGeneration one behind. */
export function deploymentStatus(
  generation: number,
  counts: Counts,
  condition: Condition,
  newReplicaSet: string,
  observed = true,
): JsonObject {
  const progressing =
    condition === "deadline"
      ? {
          type: "Progressing",
          status: "False",
          reason: "ProgressDeadlineExceeded",
          message: `ReplicaSet "${newReplicaSet}" has timed out progressing.`,
        }
      : condition === "complete"
        ? {
            type: "Progressing",
            status: "True",
            reason: "NewReplicaSetAvailable",
            message: `ReplicaSet "${newReplicaSet}" has successfully progressed.`,
          }
        : {
            type: "Progressing",
            status: "True",
            reason: "ReplicaSetUpdated",
            message: `ReplicaSet "${newReplicaSet}" is progressing.`,
          };
  return {
    observedGeneration: observed ? generation : generation - 1,
    replicas: counts.total ?? counts.updated,
    updatedReplicas: counts.updated,
    readyReplicas: counts.ready,
    availableReplicas: counts.available,
    conditions: [
      { type: "Available", status: counts.available > 0 ? "True" : "False", reason: "MinimumReplicasAvailable" },
      progressing,
    ],
  };
}

export function deployment(version: string, annotations: Record<string, string> = {}, replicas = 3): JsonObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: NAME,
      namespace: NAMESPACE,
      labels: LABELS,
      annotations: { "greenlight.dev/strategy": "rolling", "greenlight.dev/auto-rollback": "true", ...annotations },
    },
    spec: {
      replicas,
      progressDeadlineSeconds: 300,
      selector: { matchLabels: LABELS },
      template: template(version),
    },
  };
}

export function replicaSet(
  version: string,
  revision: number,
  owner: { uid: string },
  counts: { replicas: number; ready: number; available: number },
): JsonObject {
  const hash = hashOf(version);
  const tpl = template(version);
  tpl.metadata.labels = { ...tpl.metadata.labels, "pod-template-hash": hash };
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: rsName(version),
      namespace: NAMESPACE,
      labels: tpl.metadata.labels,
      annotations: { "deployment.kubernetes.io/revision": String(revision) },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          name: NAME,
          uid: owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas: counts.replicas,
      selector: { matchLabels: { ...LABELS, "pod-template-hash": hash } },
      template: tpl,
    },
    status: { replicas: counts.replicas, readyReplicas: counts.ready, availableReplicas: counts.available },
  };
}

export type PodHealth = "running" | "crash-loop" | "restarting";

export function pod(version: string, index: number, owner: { uid: string }, health: PodHealth): JsonObject {
  const hash = hashOf(version);
  const crashing = health !== "running";
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${rsName(version)}-${index}`,
      namespace: NAMESPACE,
      labels: { ...LABELS, version, "pod-template-hash": hash },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: rsName(version), uid: owner.uid, controller: true },
      ],
    },
    spec: { containers: [{ name: NAME, image: `${NAME}:${version}` }] },
    status: {
      phase: "Running",
      containerStatuses: [
        {
          name: NAME,
          image: `${NAME}:${version}`,
          imageID: "",
          ready: !crashing,
          started: health === "restarting",
          restartCount: crashing ? 5 : 0,
          state:
            health === "crash-loop"
              ? { waiting: { reason: "CrashLoopBackOff", message: "back-off 5m0s restarting failed container" } }
              : { running: { startedAt: "2026-11-26T10:00:00Z" } },
          ...(crashing
            ? {
                lastState: {
                  terminated: {
                    exitCode: 1,
                    reason: "Error",
                    startedAt: "2026-11-26T10:00:00Z",
                    finishedAt: "2026-11-26T10:00:01Z",
                  },
                },
              }
            : {}),
        },
      ],
    },
  };
}

export interface Scene {
  /** Replaces the Deployment's status, observed at its current generation unless `observed` is false. */
  setStatus(counts: Counts, condition: Condition, observed?: boolean): void;
  /** The Deployment as stored. */
  deployment(): Obj;
  /** The ReplicaSet of a version as stored. */
  replicaSet(version: string): Obj;
  addPods(version: string, health: PodHealth, count?: number): void;
  /**
   * What the deployment controller does after the template changed: the ReplicaSet matching the template becomes
   * the newest revision (renumbered, as after an undo), the Deployment's revision follows, and the new
   * generation is observed with `counts` and `condition`.
   */
  reconcile(counts: Counts, condition: Condition): void;
}

const REVISION = "deployment.kubernetes.io/revision";

/**
 * A Deployment of `versions.at(-1)` whose earlier versions have ReplicaSets of revisions 1, 2, ...; the last
 * one is the rollout in progress, with the counts and condition given.
 */
export function seedRollout(
  api: FakeApiServer,
  options: {
    versions?: string[];
    annotations?: Record<string, string>;
    counts?: Counts;
    condition?: Condition;
    replicas?: number;
  } = {},
): Scene {
  const versions = options.versions ?? ["v1.0", "v2.0"];
  const replicas = options.replicas ?? 3;
  const latest = versions.at(-1) ?? "v2.0";
  const stored = api.put(
    deployment(latest, { [REVISION]: String(versions.length), ...options.annotations }, replicas),
  ) as Obj;
  const owner = { uid: stored.metadata.uid };
  versions.forEach((version, index) => {
    const isNew = version === latest;
    const counts = isNew
      ? { replicas: 1, ready: 0, available: 0 }
      : { replicas: index === versions.length - 2 ? replicas : 0, ready: replicas, available: replicas };
    api.put(replicaSet(version, index + 1, owner, counts));
  });
  const get = (): Obj => api.get("apps/v1", "Deployment", NAMESPACE, NAME) as Obj;
  const getReplicaSet = (version: string): Obj => api.get("apps/v1", "ReplicaSet", NAMESPACE, rsName(version)) as Obj;
  const setStatus = (counts: Counts, condition: Condition, observed = true) => {
    const current = get();
    const templateVersion = current.spec.template.metadata.labels.version ?? latest;
    api.put({
      ...current,
      status: deploymentStatus(current.metadata.generation ?? 1, counts, condition, rsName(templateVersion), observed),
    });
  };
  setStatus(
    options.counts ?? { updated: 1, ready: replicas, available: replicas, total: replicas + 1 },
    options.condition ?? "progressing",
  );
  const scene: Scene = {
    setStatus,
    deployment: get,
    replicaSet: getReplicaSet,
    addPods(version, health, count = 1) {
      const replicaSetUid = getReplicaSet(version).metadata.uid;
      for (let index = 0; index < count; index++) api.put(pod(version, index, { uid: replicaSetUid }, health));
    },
    reconcile(counts, condition) {
      const current = get();
      const version = current.spec.template.metadata.labels.version ?? latest;
      const all = api.list("apps/v1", "ReplicaSet", NAMESPACE) as Obj[];
      const newest = Math.max(...all.map((rs) => Number(rs.metadata.annotations?.[REVISION] ?? 0)));
      const matching = getReplicaSet(version);
      let revision = Number(matching.metadata.annotations?.[REVISION] ?? 0);
      if (revision < newest) {
        revision = newest + 1;
        api.put({
          ...matching,
          metadata: {
            ...matching.metadata,
            annotations: { ...matching.metadata.annotations, [REVISION]: String(revision) },
          },
        });
      }
      const annotated = get();
      const annotations = { ...annotated.metadata.annotations, [REVISION]: String(revision) };
      // The controller's own annotation write bumps the generation too; it observes the result.
      const written = api.put({ ...annotated, metadata: { ...annotated.metadata, annotations } }) as Obj;
      api.put({
        ...written,
        status: deploymentStatus(written.metadata.generation ?? 1, counts, condition, rsName(version)),
      });
    },
  };
  return scene;
}
