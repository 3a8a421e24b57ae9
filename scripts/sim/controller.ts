// The simulated cluster's Deployment controller, ReplicaSet controller and kubelet, as plain data on a virtual clock.
//
// API:
// - `new DeploymentController(random, options?)`: `observationLagMs` (default 1000) is how long after a reconcile
//   first lists a new generation the controller acts on it (and reports it in observedGeneration).
// - `reconcile(deployments, nowMs, behaviourOf)`: advances every listed Deployment event by event (a pod turning
//   Ready, a pod becoming available, a progress deadline, an observed generation) up to `nowMs`, acting at each event
//   as the real controllers would within milliseconds; forgets Deployments no longer listed (their ReplicaSets and
//   pods go with them). Returns each Deployment's status keyed "namespace/name".
// - `replicaSets(ns)` / `pods(ns)`: fresh objects as the API server would list them at the last reconcile time. The
//   pod template spec inside them is shared and frozen (copy it before changing it).
// - `templateHash(template)`, `deploymentRevision(ns, name)`, `deletePod(ns, name)` (the ReplicaSet replaces it).
// Modelled: rolling updates (maxSurge/maxUnavailable, new ReplicaSet up and old ones down as pods become available,
// unhealthy old pods first), proportional scaling on a replicas change mid-rollout, Recreate, paused, minReadySeconds,
// revisions (a rollback renumbers the old ReplicaSet), revisionHistoryLimit, the Available and Progressing
// conditions with the progress deadline, and crash loops with the kubelet's back-off.
// Not modelled: pod scheduling and Pending time, graceful termination (scaled-down pods vanish at once), readiness
// lost after Ready, hash collisions, the desired-replicas annotation's use by anything but scaling events.

import type {
  V1ContainerState,
  V1ContainerStatus,
  V1Deployment,
  V1DeploymentCondition,
  V1DeploymentStatus,
  V1ObjectMeta,
  V1Pod,
  V1PodCondition,
  V1PodSpec,
  V1PodTemplateSpec,
  V1ReplicaSet,
} from "@kubernetes/client-node";
import { deepFreeze } from "../../functions/contract/objects.ts";
import {
  canonical,
  type JsonObject,
  POD_TEMPLATE_HASH,
  REVISION_ANNOTATION,
  restorableTemplate,
} from "../../functions/rolling/undo.ts";
import type { Random } from "./random.ts";

export interface PodBehaviour {
  /** Seconds from pod creation to Ready (the simulator draws these; 0 allowed). */
  startupSeconds: number;
  /** The container exits repeatedly: never Ready, restartCount grows, waits in CrashLoopBackOff between restarts. */
  crashLoop: boolean;
}

/** How pods of one template behave; called once per new pod. */
export type BehaviourOf = (deployment: V1Deployment, templateHash: string, random: Random) => PodBehaviour;

export interface ControllerOptions {
  /** Delay between a reconcile first listing a generation and the controller observing it (default 1000 ms). */
  observationLagMs?: number;
}

export const DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas";
export const MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas";
export const PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded";
export const NEW_RS_AVAILABLE = "NewReplicaSetAvailable";
export const CRASH_LOOP_BACK_OFF = "CrashLoopBackOff";

/** progressDeadlineSeconds at MaxInt32 means "no deadline" to the controller. */
const NO_DEADLINE_SECONDS = 2147483647;
/** The alphabet of generated names and hashes: no vowels, no look-alike digits (Kubernetes' safe encoding). */
const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const BACK_OFF_FIRST_MS = 10_000;
const BACK_OFF_CAP_MS = 300_000;
const PAUSED = "DeploymentPaused";
const MAX_ACTIONS_PER_SYNC = 64;

/** metav1.Time as the API server writes it: RFC 3339 in whole seconds (client-node says Date; JSON has a string). */
const stamp = (ms: number): Date => `${new Date(ms).toISOString().slice(0, 19)}Z` as unknown as Date;

/** A Go-style duration ("40s", "2m40s", "5m0s") as the kubelet's back-off message prints it. */
function goDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

function fnv32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/** Each character mapped into the safe alphabet, as Kubernetes encodes the decimal hash. */
function safeEncode(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) out += SAFE_ALPHABET.charAt(text.charCodeAt(i) % SAFE_ALPHABET.length);
  return out;
}

const hashOfJson = (template: JsonObject): string => safeEncode(String(fnv32(canonical(template))));

function randomSuffix(random: Random, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += SAFE_ALPHABET.charAt(random.int(0, SAFE_ALPHABET.length - 1));
  return out;
}

function uuid(random: Random): string {
  let hex = "";
  for (let i = 0; i < 4; i++) hex += random.int(0, 0xffffffff).toString(16).padStart(8, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** An IntOrString of the rolling-update strategy against `total`: surge rounds up, unavailable rounds down. */
function resolveIntOrPercent(value: number | string | undefined, total: number, roundUp: boolean): number {
  const raw = value ?? "25%";
  if (typeof raw === "number") return Math.max(0, Math.floor(raw));
  const percent = /^(\d+)%$/.exec(raw);
  if (!percent) return Math.max(0, Number.parseInt(raw, 10) || 0);
  const scaled = (Number(percent[1]) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}

/** The part of a Deployment's spec the controller acts on, read once per generation. */
interface Spec {
  generation: number;
  /** Text of every field below, to notice changes when the caller sets no generation. */
  key: string;
  replicas: number;
  hash: string;
  template: JsonObject;
  selector: Record<string, string>;
  recreate: boolean;
  maxSurge: number;
  maxUnavailable: number;
  paused: boolean;
  minReadyMs: number;
  /** Infinity without a deadline. */
  deadlineMs: number;
  historyLimit: number;
}

function readSpec(deployment: V1Deployment, generation: number): Spec {
  const spec = deployment.spec;
  const replicas = spec?.replicas ?? 1;
  const template = deepFreeze(restorableTemplate(spec?.template));
  const hash = hashOfJson(template);
  const recreate = spec?.strategy?.type === "Recreate";
  const rolling = spec?.strategy?.rollingUpdate;
  const maxSurge = recreate ? 0 : resolveIntOrPercent(rolling?.maxSurge, replicas, true);
  let maxUnavailable = recreate ? 0 : resolveIntOrPercent(rolling?.maxUnavailable, replicas, false);
  // Both zero would never let the rollout move: the controller allows one unavailable pod instead.
  if (!recreate && maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  const deadlineSeconds = spec?.progressDeadlineSeconds ?? 600;
  const fields = {
    replicas,
    hash,
    selector: { ...(spec?.selector?.matchLabels ?? {}) },
    recreate,
    maxSurge,
    maxUnavailable,
    paused: spec?.paused === true,
    minReadyMs: Math.max(0, spec?.minReadySeconds ?? 0) * 1000,
    deadlineMs: deadlineSeconds >= NO_DEADLINE_SECONDS ? Number.POSITIVE_INFINITY : deadlineSeconds * 1000,
    historyLimit: spec?.revisionHistoryLimit ?? 10,
  };
  return { generation, key: JSON.stringify(fields), template, ...fields };
}

interface SimPod {
  name: string;
  uid: string;
  createdMs: number;
  createdStamp: Date;
  /** When the readiness probe first passes; Infinity for a crash loop. */
  readyMs: number;
  crashLoop: boolean;
  /** stamp(readyMs), made once when first listed Ready. */
  readyStamp?: Date;
  /** How long each run of a crash-looping container lasts before it exits with code 1. */
  runMs: number;
}

interface SimReplicaSet {
  name: string;
  uid: string;
  hash: string;
  revision: number;
  createdMs: number;
  templateMeta: JsonObject;
  podSpec: V1PodSpec;
  podLabels: Readonly<Record<string, string>>;
  selector: Readonly<Record<string, string>>;
  container: string;
  image: string;
  /** spec.replicas; pods are created and removed at once, so pods.length always equals it after an action. */
  replicas: number;
  pods: SimPod[];
  /** The desired-replicas and max-replicas annotations, as last written. */
  desired: number;
  maxReplicas: number;
}

interface Condition {
  status: string;
  reason: string;
  message: string;
  updateMs: number;
  transitionMs: number;
}

interface Counts {
  replicas: number;
  updated: number;
  ready: number;
  available: number;
}

interface SimDeployment {
  namespace: string;
  name: string;
  uid: string;
  latest: V1Deployment;
  seenGeneration: number | undefined;
  seenKey: string | undefined;
  /** Generations listed but not observed yet, each with the time the controller observes it. */
  pending: { atMs: number; spec: Spec }[];
  spec: Spec | undefined;
  /** In creation order. */
  sets: SimReplicaSet[];
  /** The time of the last sync. */
  clockMs: number;
  /** A sync requested from outside (a pod deleted), Infinity when none. */
  wakeMs: number;
  counts: Counts;
  available: Condition | undefined;
  progressing: Condition | undefined;
  status: V1DeploymentStatus;
  revision: number;
}

const sum = (sets: readonly SimReplicaSet[], of: (rs: SimReplicaSet) => number): number => {
  let total = 0;
  for (const rs of sets) total += of(rs);
  return total;
};

const readyCount = (rs: SimReplicaSet, t: number): number => {
  let count = 0;
  for (const pod of rs.pods) if (pod.readyMs <= t) count++;
  return count;
};

const availableCount = (rs: SimReplicaSet, t: number, minReadyMs: number): number => {
  let count = 0;
  for (const pod of rs.pods) if (pod.readyMs + minReadyMs <= t) count++;
  return count;
};

const backOffMs = (restarts: number): number => Math.min(BACK_OFF_FIRST_MS * 2 ** restarts, BACK_OFF_CAP_MS);

interface CrashState {
  restarts: number;
  running: boolean;
  startedMs: number;
  /** The previous run, when there was one: [start, exit). */
  last?: { startMs: number; exitMs: number };
  /** While waiting: the back-off in force. */
  backOffMs?: number;
}

/** Where a crash-looping container is at `t`: runs of `runMs`, each followed by the kubelet's doubling back-off. */
function crashStateAt(pod: SimPod, t: number): CrashState {
  let start = pod.createdMs;
  let last: CrashState["last"];
  for (let restarts = 0; ; restarts++) {
    const exit = start + pod.runMs;
    if (t < exit) return { restarts, running: true, startedMs: start, ...(last ? { last } : {}) };
    const wait = backOffMs(restarts);
    if (t < exit + wait) {
      return { restarts, running: false, startedMs: start, last: { startMs: start, exitMs: exit }, backOffMs: wait };
    }
    last = { startMs: start, exitMs: exit };
    start = exit + wait;
  }
}

const restartsAt = (pod: SimPod, t: number): number => (pod.crashLoop ? crashStateAt(pod, t).restarts : 0);

/** The ReplicaSet controller's order of pods to delete: unready, then Ready most recently, most restarts, newest. */
function deletionOrder(t: number): (a: SimPod, b: SimPod) => number {
  return (a, b) => {
    const aReady = a.readyMs <= t;
    const bReady = b.readyMs <= t;
    if (aReady !== bReady) return aReady ? 1 : -1;
    if (aReady && a.readyMs !== b.readyMs) return b.readyMs - a.readyMs;
    const restarts = restartsAt(b, t) - restartsAt(a, t);
    return restarts !== 0 ? restarts : b.createdMs - a.createdMs;
  };
}

/** A pod's Ready or ContainersReady condition (built field by field: this runs for every pod of every list). */
function readiness(type: string, ready: boolean, since: Date, container: string): V1PodCondition {
  if (ready) return { type, status: "True", lastTransitionTime: since };
  const message = `containers with unready status: [${container}]`;
  return { type, status: "False", lastTransitionTime: since, reason: "ContainersNotReady", message };
}

const copyStatus = (status: V1DeploymentStatus): V1DeploymentStatus =>
  status.conditions
    ? { ...status, conditions: status.conditions.map((condition) => ({ ...condition })) }
    : { ...status };

const isComplete = (counts: Counts, replicas: number): boolean =>
  counts.updated === replicas && counts.replicas === replicas && counts.available === replicas;

/** Kubernetes' notion of progress: more new pods, fewer old pods, more ready or available pods. */
const progressed = (before: Counts, after: Counts): boolean =>
  after.updated > before.updated ||
  after.replicas - after.updated < before.replicas - before.updated ||
  after.ready > before.ready ||
  after.available > before.available;

export class DeploymentController {
  private readonly deployments = new Map<string, SimDeployment>();
  private readonly names: Random;
  private readonly behaviours: Random;
  private readonly kubelet: Random;
  private readonly lagMs: number;
  private nowMs = 0;

  constructor(random: Random, options: ControllerOptions = {}) {
    this.names = random.fork("names");
    this.behaviours = random.fork("behaviours");
    this.kubelet = random.fork("kubelet");
    this.lagMs = Math.max(0, options.observationLagMs ?? 1000);
  }

  /** Brings the ReplicaSets and pods of every listed Deployment up to `nowMs` (pods of Deployments no longer listed
   *  are deleted) and returns each Deployment's new `status` keyed "namespace/name". Deterministic given the seed. */
  reconcile(
    deployments: readonly V1Deployment[],
    nowMs: number,
    behaviourOf: BehaviourOf,
  ): Map<string, V1DeploymentStatus> {
    this.nowMs = Math.max(this.nowMs, nowMs);
    const statuses = new Map<string, V1DeploymentStatus>();
    for (const deployment of deployments) {
      const key = `${deployment.metadata?.namespace ?? "default"}/${deployment.metadata?.name ?? ""}`;
      const sim = this.track(deployment, key, nowMs);
      this.advance(sim, nowMs, behaviourOf);
      statuses.set(key, copyStatus(sim.status));
    }
    for (const key of this.deployments.keys()) if (!statuses.has(key)) this.deployments.delete(key);
    return statuses;
  }

  replicaSets(namespace: string): V1ReplicaSet[] {
    const out: V1ReplicaSet[] = [];
    for (const sim of this.deployments.values()) {
      if (sim.namespace !== namespace) continue;
      for (const rs of sim.sets) out.push(this.replicaSetObject(sim, rs));
    }
    return out;
  }

  pods(namespace: string): V1Pod[] {
    const out: V1Pod[] = [];
    for (const sim of this.deployments.values()) {
      if (sim.namespace !== namespace) continue;
      for (const rs of sim.sets) for (const pod of rs.pods) out.push(this.podObject(sim, rs, pod));
    }
    return out;
  }

  /** The pod-template-hash the controller gives a template (stable for equal templates, canonical JSON). */
  templateHash(template: V1PodTemplateSpec): string {
    return hashOfJson(restorableTemplate(template));
  }

  /** The `deployment.kubernetes.io/revision` the controller keeps on the Deployment: its new ReplicaSet's revision. */
  deploymentRevision(namespace: string, name: string): string | undefined {
    const sim = this.deployments.get(`${namespace}/${name}`);
    return sim && sim.revision > 0 ? String(sim.revision) : undefined;
  }

  /** Deletes one pod (a node failure, `kubectl delete pod`); its ReplicaSet replaces it at the next reconcile. */
  deletePod(namespace: string, name: string): boolean {
    for (const sim of this.deployments.values()) {
      if (sim.namespace !== namespace) continue;
      for (const rs of sim.sets) {
        const index = rs.pods.findIndex((pod) => pod.name === name);
        if (index < 0) continue;
        rs.pods.splice(index, 1);
        sim.wakeMs = Math.min(sim.wakeMs, Math.max(this.nowMs, sim.clockMs));
        return true;
      }
    }
    return false;
  }

  private track(deployment: V1Deployment, key: string, nowMs: number): SimDeployment {
    const uid = deployment.metadata?.uid ?? `uid-${key}`;
    let sim = this.deployments.get(key);
    if (!sim || sim.uid !== uid) {
      sim = {
        namespace: deployment.metadata?.namespace ?? "default",
        name: deployment.metadata?.name ?? "",
        uid,
        latest: deployment,
        seenGeneration: undefined,
        seenKey: undefined,
        pending: [],
        spec: undefined,
        sets: [],
        clockMs: nowMs,
        wakeMs: Number.POSITIVE_INFINITY,
        counts: { replicas: 0, updated: 0, ready: 0, available: 0 },
        available: undefined,
        progressing: undefined,
        status: {},
        revision: 0,
      };
      this.deployments.set(key, sim);
    }
    sim.latest = deployment;
    const generation = deployment.metadata?.generation;
    // Same generation, same spec: the common case costs one comparison.
    if (generation !== undefined && generation === sim.seenGeneration) return sim;
    const spec = readSpec(deployment, generation ?? 0);
    if (generation === undefined && spec.key === sim.seenKey) return sim;
    sim.seenGeneration = generation;
    sim.seenKey = spec.key;
    sim.pending.push({ atMs: nowMs + this.lagMs, spec });
    return sim;
  }

  /** Syncs at every event up to `nowMs`, in time order. */
  private advance(sim: SimDeployment, nowMs: number, behaviourOf: BehaviourOf): void {
    for (;;) {
      const at = Math.min(sim.pending[0]?.atMs ?? Number.POSITIVE_INFINITY, sim.wakeMs, this.nextEvent(sim));
      if (at > nowMs) return;
      const t = Math.max(at, sim.clockMs);
      for (let next = sim.pending[0]; next && next.atMs <= t; next = sim.pending[0]) {
        sim.spec = next.spec;
        sim.pending.shift();
      }
      sim.clockMs = t;
      sim.wakeMs = Number.POSITIVE_INFINITY;
      if (sim.spec) this.sync(sim, sim.spec, t, behaviourOf);
    }
  }

  /** The next time after the last sync at which the controller would act: a pod Ready or available, a deadline. */
  private nextEvent(sim: SimDeployment): number {
    const spec = sim.spec;
    if (!spec) return Number.POSITIVE_INFINITY;
    const after = sim.clockMs;
    let next = Number.POSITIVE_INFINITY;
    for (const rs of sim.sets) {
      for (const pod of rs.pods) {
        if (pod.readyMs > after && pod.readyMs < next) next = pod.readyMs;
        const availableMs = pod.readyMs + spec.minReadyMs;
        if (availableMs > after && availableMs < next) next = availableMs;
      }
    }
    const progressing = sim.progressing;
    if (
      !spec.paused &&
      progressing &&
      progressing.reason !== NEW_RS_AVAILABLE &&
      progressing.reason !== PROGRESS_DEADLINE_EXCEEDED
    ) {
      // The controller requeues a stuck Deployment one second after its deadline.
      const deadline = progressing.updateMs + spec.deadlineMs + 1000;
      if (deadline > after && deadline < next) next = deadline;
    }
    return next;
  }

  private sync(sim: SimDeployment, spec: Spec, t: number, behaviourOf: BehaviourOf): void {
    // The ReplicaSet controller first: a deleted pod is replaced before the Deployment controller looks.
    for (const rs of sim.sets)
      while (rs.pods.length < rs.replicas) rs.pods.push(this.createPod(sim, rs, t, behaviourOf));
    for (let i = 0; i < MAX_ACTIONS_PER_SYNC; i++) if (!this.act(sim, spec, t, behaviourOf)) break;
    const current = sim.sets.find((rs) => rs.hash === spec.hash);
    if (spec.paused || isComplete(sim.counts, spec.replicas)) this.cleanupHistory(sim, current, spec);
    this.writeStatus(sim, spec, current, t);
  }

  /** One step of the controller's sync; true when it changed a ReplicaSet (the caller loops to a fixpoint). */
  private act(sim: SimDeployment, spec: Spec, t: number, behaviourOf: BehaviourOf): boolean {
    const current = sim.sets.find((rs) => rs.hash === spec.hash);
    if (current) this.syncRevision(sim, current, spec, t);
    const scalingEvent = sim.sets.some((rs) => rs.replicas > 0 && rs.desired !== spec.replicas);
    if (spec.paused || scalingEvent) return this.scale(sim, spec, current, t, behaviourOf);
    if (spec.recreate) return this.recreate(sim, spec, current, t, behaviourOf);
    if (!current) {
      const total = sum(sim.sets, (rs) => rs.replicas);
      const maxTotal = spec.replicas + spec.maxSurge;
      this.createReplicaSet(sim, spec, t, Math.max(0, Math.min(maxTotal - total, spec.replicas)), behaviourOf);
      return true;
    }
    return this.scaleNew(sim, spec, current, t, behaviourOf) || this.scaleOld(sim, spec, current, t, behaviourOf);
  }

  private createReplicaSet(
    sim: SimDeployment,
    spec: Spec,
    t: number,
    replicas: number,
    behaviourOf: BehaviourOf,
  ): SimReplicaSet {
    const meta = (spec.template.metadata ?? {}) as JsonObject;
    const labels = (meta.labels ?? {}) as Record<string, string>;
    const podSpec = (spec.template.spec ?? { containers: [] }) as unknown as V1PodSpec;
    const first = podSpec.containers?.[0];
    const rs: SimReplicaSet = {
      name: `${sim.name}-${spec.hash}`,
      uid: uuid(this.names),
      hash: spec.hash,
      revision: Math.max(0, ...sim.sets.map((set) => set.revision)) + 1,
      createdMs: t,
      templateMeta: meta,
      podSpec,
      podLabels: Object.freeze({ ...labels, [POD_TEMPLATE_HASH]: spec.hash }),
      selector: Object.freeze({ ...spec.selector, [POD_TEMPLATE_HASH]: spec.hash }),
      container: first?.name ?? "app",
      image: first?.image ?? "",
      replicas: 0,
      pods: [],
      desired: spec.replicas,
      maxReplicas: spec.replicas + spec.maxSurge,
    };
    sim.sets.push(rs);
    sim.revision = rs.revision;
    this.resize(sim, rs, replicas, spec, t, behaviourOf);
    if (spec.deadlineMs < Number.POSITIVE_INFINITY) {
      this.setCondition(sim, "progressing", "True", "NewReplicaSetCreated", `Created new replica set "${rs.name}"`, t);
    }
    return rs;
  }

  /** The new ReplicaSet takes the highest revision: a rollback renumbers the old ReplicaSet it re-uses. */
  private syncRevision(sim: SimDeployment, current: SimReplicaSet, spec: Spec, t: number): void {
    let maxOld = 0;
    for (const rs of sim.sets) if (rs !== current && rs.revision > maxOld) maxOld = rs.revision;
    if (current.revision < maxOld + 1) current.revision = maxOld + 1;
    sim.revision = current.revision;
    if (!sim.progressing && spec.deadlineMs < Number.POSITIVE_INFINITY) {
      this.setCondition(sim, "progressing", "True", "FoundNewReplicaSet", `Found new replica set "${current.name}"`, t);
    }
  }

  /** Sets a ReplicaSet's replicas and makes its pods match: new pods start now, surplus ones vanish at once. */
  private resize(
    sim: SimDeployment,
    rs: SimReplicaSet,
    replicas: number,
    spec: Spec,
    t: number,
    behaviourOf: BehaviourOf,
  ): void {
    rs.replicas = replicas;
    rs.desired = spec.replicas;
    rs.maxReplicas = spec.replicas + spec.maxSurge;
    if (rs.pods.length > replicas) {
      const doomed = new Set([...rs.pods].sort(deletionOrder(t)).slice(0, rs.pods.length - replicas));
      rs.pods = rs.pods.filter((pod) => !doomed.has(pod));
    }
    while (rs.pods.length < replicas) rs.pods.push(this.createPod(sim, rs, t, behaviourOf));
  }

  private createPod(sim: SimDeployment, rs: SimReplicaSet, t: number, behaviourOf: BehaviourOf): SimPod {
    const behaviour = behaviourOf(sim.latest, rs.hash, this.behaviours);
    const startupMs = Math.max(0, behaviour.startupSeconds) * 1000;
    return {
      name: `${rs.name}-${randomSuffix(this.names, 5)}`,
      uid: uuid(this.names),
      createdMs: t,
      createdStamp: stamp(t),
      readyMs: behaviour.crashLoop ? Number.POSITIVE_INFINITY : t + startupMs,
      crashLoop: behaviour.crashLoop,
      runMs: behaviour.crashLoop ? this.kubelet.int(1, 5) * 1000 : 0,
    };
  }

  /** The new ReplicaSet up to spec.replicas, never past replicas + maxSurge pods in all. */
  private scaleNew(
    sim: SimDeployment,
    spec: Spec,
    current: SimReplicaSet,
    t: number,
    behaviourOf: BehaviourOf,
  ): boolean {
    if (current.replicas === spec.replicas) return false;
    if (current.replicas > spec.replicas) {
      this.resize(sim, current, spec.replicas, spec, t, behaviourOf);
      return true;
    }
    const total = sum(sim.sets, (rs) => rs.replicas);
    const maxTotal = spec.replicas + spec.maxSurge;
    if (total >= maxTotal) return false;
    const target = current.replicas + Math.min(maxTotal - total, spec.replicas - current.replicas);
    this.resize(sim, current, target, spec, t, behaviourOf);
    return true;
  }

  /** Old ReplicaSets down, oldest first: unhealthy pods first, then as far as availability allows. */
  private scaleOld(
    sim: SimDeployment,
    spec: Spec,
    current: SimReplicaSet,
    t: number,
    behaviourOf: BehaviourOf,
  ): boolean {
    const old = sim.sets.filter((rs) => rs !== current);
    const oldReplicas = sum(old, (rs) => rs.replicas);
    if (oldReplicas === 0) return false;
    const minAvailable = spec.replicas - spec.maxUnavailable;
    const newUnavailable = current.replicas - availableCount(current, t, spec.minReadyMs);
    const maxScaledDown = oldReplicas + current.replicas - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    let cleaned = 0;
    for (const rs of old) {
      if (cleaned >= maxScaledDown) break;
      const healthy = availableCount(rs, t, spec.minReadyMs);
      if (rs.replicas === 0 || rs.replicas === healthy) continue;
      const down = Math.min(maxScaledDown - cleaned, rs.replicas - healthy);
      this.resize(sim, rs, rs.replicas - down, spec, t, behaviourOf);
      cleaned += down;
    }
    const budget = sum(sim.sets, (rs) => availableCount(rs, t, spec.minReadyMs)) - minAvailable;
    let scaled = 0;
    for (const rs of old) {
      if (scaled >= budget) break;
      if (rs.replicas === 0) continue;
      const down = Math.min(rs.replicas, budget - scaled);
      this.resize(sim, rs, rs.replicas - down, spec, t, behaviourOf);
      scaled += down;
    }
    return cleaned + scaled > 0;
  }

  /** Recreate: every old pod gone first, then the new ReplicaSet at full size. */
  private recreate(
    sim: SimDeployment,
    spec: Spec,
    current: SimReplicaSet | undefined,
    t: number,
    behaviourOf: BehaviourOf,
  ): boolean {
    let changed = false;
    for (const rs of sim.sets) {
      if (rs === current || rs.replicas === 0) continue;
      this.resize(sim, rs, 0, spec, t, behaviourOf);
      changed = true;
    }
    if (changed) return true;
    if (!current) {
      this.createReplicaSet(sim, spec, t, spec.replicas, behaviourOf);
      return true;
    }
    if (current.replicas === spec.replicas) return false;
    this.resize(sim, current, spec.replicas, spec, t, behaviourOf);
    return true;
  }

  /** A replicas change (or a paused Deployment): one active ReplicaSet takes it all, several share it by size. */
  private scale(
    sim: SimDeployment,
    spec: Spec,
    current: SimReplicaSet | undefined,
    t: number,
    behaviourOf: BehaviourOf,
  ): boolean {
    const active = sim.sets.filter((rs) => rs.replicas > 0);
    if (active.length <= 1) {
      const target = active[0] ?? current ?? sim.sets[sim.sets.length - 1];
      if (!target) return false;
      if (target.replicas === spec.replicas) {
        target.desired = spec.replicas;
        target.maxReplicas = spec.replicas + spec.maxSurge;
        return false;
      }
      this.resize(sim, target, spec.replicas, spec, t, behaviourOf);
      return true;
    }
    const saturated =
      current !== undefined &&
      current.replicas === spec.replicas &&
      current.desired === spec.replicas &&
      availableCount(current, t, spec.minReadyMs) === spec.replicas;
    if (saturated) {
      for (const rs of active) if (rs !== current) this.resize(sim, rs, 0, spec, t, behaviourOf);
      return true;
    }
    const sizes = new Map<SimReplicaSet, number>(sim.sets.map((rs) => [rs, rs.replicas]));
    if (!spec.recreate) this.proportions(sim, spec, sizes);
    let changed = false;
    for (const rs of sim.sets) {
      const size = sizes.get(rs) ?? rs.replicas;
      if (size !== rs.replicas) changed = true;
      this.resize(sim, rs, size, spec, t, behaviourOf);
    }
    return changed;
  }

  /** Kubernetes' proportional scaling: each ReplicaSet grows or shrinks by its share, the largest takes the rest. */
  private proportions(sim: SimDeployment, spec: Spec, sizes: Map<SimReplicaSet, number>): void {
    const allowed = spec.replicas > 0 ? spec.replicas + spec.maxSurge : 0;
    const toAdd = allowed - sum(sim.sets, (rs) => rs.replicas);
    if (toAdd === 0) return;
    const order = [...sim.sets].sort(
      (a, b) => b.replicas - a.replicas || (toAdd > 0 ? b.createdMs - a.createdMs : a.createdMs - b.createdMs),
    );
    let added = 0;
    for (const rs of order) {
      if (rs.replicas === 0 || added === toAdd) continue;
      const annotated = rs.maxReplicas > 0 ? rs.maxReplicas : Math.max(1, sim.counts.replicas);
      const fraction =
        spec.replicas === 0 ? -rs.replicas : Math.round((rs.replicas * allowed) / annotated) - rs.replicas;
      const share = toAdd > 0 ? Math.min(fraction, toAdd - added) : Math.max(fraction, toAdd - added);
      sizes.set(rs, rs.replicas + share);
      added += share;
    }
    const first = order[0];
    if (first) sizes.set(first, Math.max(0, (sizes.get(first) ?? 0) + toAdd - added));
  }

  /** Old ReplicaSets without pods beyond revisionHistoryLimit go, lowest revision first. */
  private cleanupHistory(sim: SimDeployment, current: SimReplicaSet | undefined, spec: Spec): void {
    const cleanable = sim.sets.filter((rs) => rs !== current && rs.replicas === 0 && rs.pods.length === 0);
    const excess = cleanable.length - spec.historyLimit;
    if (excess <= 0) return;
    const doomed = new Set(cleanable.sort((a, b) => a.revision - b.revision).slice(0, excess));
    sim.sets = sim.sets.filter((rs) => !doomed.has(rs));
  }

  private setCondition(
    sim: SimDeployment,
    which: "available" | "progressing",
    status: string,
    reason: string,
    message: string,
    t: number,
  ): void {
    const existing = sim[which];
    if (existing && existing.status === status && existing.reason === reason) return;
    const transitionMs = existing && existing.status === status ? existing.transitionMs : t;
    sim[which] = { status, reason, message, updateMs: t, transitionMs };
  }

  /** The status the controller writes after a sync: counts, Available, and Progressing with its deadline. */
  private writeStatus(sim: SimDeployment, spec: Spec, current: SimReplicaSet | undefined, t: number): void {
    const counts: Counts = {
      replicas: sum(sim.sets, (rs) => rs.pods.length),
      updated: current?.pods.length ?? 0,
      ready: sum(sim.sets, (rs) => readyCount(rs, t)),
      available: sum(sim.sets, (rs) => availableCount(rs, t, spec.minReadyMs)),
    };
    const total = sum(sim.sets, (rs) => rs.replicas);
    const maxUnavailable = spec.recreate || spec.replicas === 0 ? 0 : Math.min(spec.maxUnavailable, spec.replicas);
    if (counts.available >= spec.replicas - maxUnavailable) {
      this.setCondition(
        sim,
        "available",
        "True",
        "MinimumReplicasAvailable",
        "Deployment has minimum availability.",
        t,
      );
    } else {
      const message = "Deployment does not have minimum availability.";
      this.setCondition(sim, "available", "False", "MinimumReplicasUnavailable", message, t);
    }
    this.updateProgressing(sim, spec, current, counts, t);
    sim.counts = counts;
    sim.status = this.statusObject(sim, spec, counts, Math.max(0, total - counts.available));
  }

  private updateProgressing(
    sim: SimDeployment,
    spec: Spec,
    current: SimReplicaSet | undefined,
    counts: Counts,
    t: number,
  ): void {
    if (spec.deadlineMs === Number.POSITIVE_INFINITY) {
      sim.progressing = undefined;
      return;
    }
    if (spec.paused) {
      if (sim.progressing?.reason !== PAUSED) {
        this.setCondition(sim, "progressing", "Unknown", PAUSED, "Deployment is paused", t);
      }
      return;
    }
    if (sim.progressing?.reason === PAUSED) {
      this.setCondition(sim, "progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", t);
    }
    const condition = sim.progressing;
    // A finished rollout with no old pods is not estimated again (the controller's own shortcut).
    if (counts.replicas === counts.updated && condition?.reason === NEW_RS_AVAILABLE) return;
    const subject = current ? `ReplicaSet "${current.name}"` : `Deployment "${sim.name}"`;
    if (isComplete(counts, spec.replicas)) {
      this.setCondition(sim, "progressing", "True", NEW_RS_AVAILABLE, `${subject} has successfully progressed.`, t);
    } else if (progressed(sim.counts, counts)) {
      // Progress refreshes lastUpdateTime even with an unchanged reason: that is what restarts the deadline.
      const transitionMs = condition?.status === "True" ? condition.transitionMs : t;
      const message = `${subject} is progressing.`;
      sim.progressing = { status: "True", reason: "ReplicaSetUpdated", message, updateMs: t, transitionMs };
    } else if (condition && condition.reason !== NEW_RS_AVAILABLE && condition.updateMs + spec.deadlineMs < t) {
      const message = `${subject} has timed out progressing.`;
      this.setCondition(sim, "progressing", "False", PROGRESS_DEADLINE_EXCEEDED, message, t);
    }
  }

  private statusObject(sim: SimDeployment, spec: Spec, counts: Counts, unavailable: number): V1DeploymentStatus {
    const status: V1DeploymentStatus = {};
    // The API server's JSON leaves zero counts out (omitempty); readers must treat absent as 0.
    if (spec.generation > 0) status.observedGeneration = spec.generation;
    if (counts.replicas > 0) status.replicas = counts.replicas;
    if (counts.updated > 0) status.updatedReplicas = counts.updated;
    if (counts.ready > 0) status.readyReplicas = counts.ready;
    if (counts.available > 0) status.availableReplicas = counts.available;
    if (unavailable > 0) status.unavailableReplicas = unavailable;
    const conditions: V1DeploymentCondition[] = [];
    for (const [type, condition] of [
      ["Available", sim.available],
      ["Progressing", sim.progressing],
    ] as const) {
      if (!condition) continue;
      conditions.push({
        type,
        status: condition.status,
        lastUpdateTime: stamp(condition.updateMs),
        lastTransitionTime: stamp(condition.transitionMs),
        reason: condition.reason,
        message: condition.message,
      });
    }
    if (conditions.length > 0) status.conditions = conditions;
    return status;
  }

  private replicaSetObject(sim: SimDeployment, rs: SimReplicaSet): V1ReplicaSet {
    const t = this.nowMs;
    const minReadyMs = sim.spec?.minReadyMs ?? 0;
    const ready = readyCount(rs, t);
    const available = availableCount(rs, t, minReadyMs);
    return {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name: rs.name,
        namespace: sim.namespace,
        uid: rs.uid,
        creationTimestamp: stamp(rs.createdMs),
        labels: { ...rs.podLabels },
        annotations: {
          [REVISION_ANNOTATION]: String(rs.revision),
          [DESIRED_REPLICAS_ANNOTATION]: String(rs.desired),
          [MAX_REPLICAS_ANNOTATION]: String(rs.maxReplicas),
        },
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "Deployment",
            name: sim.name,
            uid: sim.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas: rs.replicas,
        minReadySeconds: minReadyMs / 1000,
        selector: { matchLabels: { ...rs.selector } },
        template: { metadata: { ...(rs.templateMeta as V1ObjectMeta), labels: { ...rs.podLabels } }, spec: rs.podSpec },
      },
      status: {
        replicas: rs.pods.length,
        fullyLabeledReplicas: rs.pods.length,
        readyReplicas: ready,
        availableReplicas: available,
      },
    };
  }

  private podObject(sim: SimDeployment, rs: SimReplicaSet, pod: SimPod): V1Pod {
    const t = this.nowMs;
    const ready = pod.readyMs <= t;
    if (ready && !pod.readyStamp) pod.readyStamp = stamp(pod.readyMs);
    const since = (ready ? pod.readyStamp : undefined) ?? pod.createdStamp;
    const conditions: V1PodCondition[] = [
      { type: "Initialized", status: "True", lastTransitionTime: pod.createdStamp },
      readiness("Ready", ready, since, rs.container),
      readiness("ContainersReady", ready, since, rs.container),
      { type: "PodScheduled", status: "True", lastTransitionTime: pod.createdStamp },
    ];
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: pod.name,
        generateName: `${rs.name}-`,
        namespace: sim.namespace,
        uid: pod.uid,
        creationTimestamp: pod.createdStamp,
        labels: { ...rs.podLabels },
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: rs.name,
            uid: rs.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: rs.podSpec,
      status: {
        phase: "Running",
        conditions,
        containerStatuses: [this.containerStatus(sim, rs, pod, t)],
        startTime: pod.createdStamp,
      },
    };
  }

  private containerStatus(sim: SimDeployment, rs: SimReplicaSet, pod: SimPod, t: number): V1ContainerStatus {
    if (!pod.crashLoop) {
      return {
        name: rs.container,
        image: rs.image,
        imageID: "",
        ready: pod.readyMs <= t,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: pod.createdStamp } },
      };
    }
    const base = { name: rs.container, image: rs.image, imageID: "" };
    const crash = crashStateAt(pod, t);
    const state: V1ContainerState = crash.running
      ? { running: { startedAt: stamp(crash.startedMs) } }
      : {
          waiting: {
            reason: CRASH_LOOP_BACK_OFF,
            message:
              `back-off ${goDuration(crash.backOffMs ?? BACK_OFF_FIRST_MS)} restarting failed ` +
              `container=${rs.container} pod=${pod.name}_${sim.namespace}(${pod.uid})`,
          },
        };
    const status: V1ContainerStatus = {
      ...base,
      ready: false,
      started: crash.running,
      restartCount: crash.restarts,
      state,
    };
    if (crash.last) {
      status.lastState = {
        terminated: {
          exitCode: 1,
          reason: "Error",
          startedAt: stamp(crash.last.startMs),
          finishedAt: stamp(crash.last.exitMs),
        },
      };
    }
    return status;
  }
}
