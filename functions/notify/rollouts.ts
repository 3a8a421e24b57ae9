// The rollout events, from plain data the strategies already hold after their guarded write (structural types: this
// folder imports no strategy). Each returns undefined when the write is not a transition worth telling: a pause that
// is still the same pause, a hold that is not the first without data.
import { deploymentSource, eventId, makeEvent, type NotifyEvent } from "./event.ts";

export interface Weights {
  stable: number;
  canary: number;
}

interface CanaryState {
  phase: string;
  weights: Weights;
  inconclusive: number;
  stepIndex: number;
  reason?: string;
  lastChecks: readonly { name: string; outcome: string }[];
}

export interface CanaryTransition {
  namespace: string;
  deployment: string;
  uid?: string;
  version: string;
  revision?: string;
  stableVersion?: string;
  /** The route object (VirtualService or HTTPRoute). */
  route: string;
  /** The status read before the write, and its text (the state this transition leaves). */
  prior?: CanaryState;
  priorText?: string;
  /** The status written. */
  status: CanaryState;
  /** Why the stepper paused the canary, when this write pauses it (its decision says so). */
  pauseCause?: "requested" | "configuration" | "drift" | "status-unreadable";
  /** The Kubernetes Event's note for this write. */
  message: string;
  now: Date;
}

export type PauseCause = "drift" | "requested" | "configuration" | "status-unreadable" | "no-data" | "other";

/** The first analysis without data after one that had data (or the first ever): a hold worth telling once. */
const startsNoData = (transition: CanaryTransition): boolean =>
  (transition.status.phase === "Progressing" || transition.status.phase === "Waiting") &&
  (transition.prior?.inconclusive ?? 0) === 0 &&
  transition.status.inconclusive > 0 &&
  transition.status.lastChecks.some((check) => check.outcome === "no-data");

export function canaryNotification(transition: CanaryTransition): NotifyEvent | undefined {
  const { namespace, deployment, status, prior } = transition;
  const entered = (phase: string) => status.phase === phase && prior?.phase !== phase;
  let kind: "canary.promoted" | "canary.rolledback" | "canary.paused";
  let cause: PauseCause | undefined;
  if (entered("Promoted")) kind = "canary.promoted";
  else if (entered("RolledBack")) kind = "canary.rolledback";
  else if (entered("Paused")) {
    kind = "canary.paused";
    cause = transition.pauseCause ?? "other";
  } else if (startsNoData(transition)) {
    kind = "canary.paused";
    cause = "no-data";
  } else return undefined;
  const name = `${namespace}/${deployment}`;
  const title =
    kind === "canary.promoted"
      ? `canary ${name} promoted: ${transition.version}`
      : kind === "canary.rolledback"
        ? `canary ${name} rolled back: ${transition.version}`
        : cause === "no-data"
          ? `canary ${name} held: no data`
          : `canary ${name} paused (${cause})`;
  return makeEvent({
    id: eventId(kind, [transition.uid ?? name, transition.version, transition.revision, cause, transition.priorText]),
    kind,
    source: deploymentSource(namespace, deployment),
    subject: name,
    time: transition.now.toISOString(),
    severity: kind === "canary.promoted" ? "info" : "warning",
    title,
    message: transition.message,
    namespace,
    data: {
      namespace,
      deployment,
      version: transition.version,
      ...(transition.stableVersion ? { stableVersion: transition.stableVersion } : {}),
      route: transition.route,
      phase: status.phase,
      weights: { stable: status.weights.stable, canary: status.weights.canary },
      ...(cause ? { cause } : {}),
      ...(status.reason ? { reason: status.reason } : {}),
      checks: status.lastChecks.map((check) => `${check.name} ${check.outcome}`),
    },
  });
}

export interface BlueGreenTransition {
  kind: "bluegreen.switched" | "bluegreen.switchedback";
  namespace: string;
  /** The Deployment switched to (the one that was switched back from, for a switch back). */
  deployment: string;
  service: string;
  /** The Service's uid when known (the object the switch wrote), else the Deployment's. */
  uid?: string;
  from: string;
  to: string;
  /** The Service's status annotation before the write (the state this transition leaves). */
  priorText?: string;
  message: string;
  now: Date;
}

export function blueGreenNotification(transition: BlueGreenTransition): NotifyEvent {
  const { kind, namespace, service, from, to } = transition;
  const verb = kind === "bluegreen.switched" ? "switched" : "switched back";
  return makeEvent({
    id: eventId(kind, [transition.uid ?? `${namespace}/${service}`, from, to, transition.priorText]),
    kind,
    source: deploymentSource(namespace, transition.deployment),
    subject: `${namespace}/${service}`,
    time: transition.now.toISOString(),
    severity: kind === "bluegreen.switched" ? "info" : "warning",
    title: `blue/green ${namespace}/${service} ${verb}: ${from} → ${to}`,
    message: transition.message,
    namespace,
    data: { namespace, deployment: transition.deployment, service, from, to },
  });
}

export interface RollingUndo {
  namespace: string;
  deployment: string;
  uid?: string;
  /** The Deployment's resourceVersion the undo was guarded on: one undo per state. */
  resourceVersion?: string;
  from?: number;
  to?: number;
  message: string;
  now: Date;
}

export function rollingNotification(undo: RollingUndo): NotifyEvent {
  const { namespace, deployment } = undo;
  const name = `${namespace}/${deployment}`;
  const revisions = `revision ${undo.from ?? "?"} → ${undo.to ?? "?"}`;
  return makeEvent({
    id: eventId("rolling.undone", [undo.uid ?? name, undo.resourceVersion, undo.from, undo.to]),
    kind: "rolling.undone",
    source: deploymentSource(namespace, deployment),
    subject: name,
    time: undo.now.toISOString(),
    severity: "warning",
    title: `rolling update ${name} undone: ${revisions}`,
    message: undo.message,
    namespace,
    data: {
      namespace,
      deployment,
      ...(undo.from !== undefined ? { from: `revision ${undo.from}` } : {}),
      ...(undo.to !== undefined ? { to: `revision ${undo.to}` } : {}),
    },
  });
}
