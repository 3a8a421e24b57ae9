// What greenlight tells the outside world: one event per rollout transition or flag write, as plain data. The
// Slack text (slack.ts) and the CloudEvent (cloudevent.ts) are both made from this, so they never disagree.
import { createHash } from "node:crypto";

/** Every kind of notification, as `dev.greenlight.<kind>` names its CloudEvents type. */
export const NOTIFY_KINDS = [
  "canary.promoted",
  "canary.rolledback",
  "canary.paused",
  "bluegreen.switched",
  "bluegreen.switchedback",
  "rolling.undone",
  "flag.created",
  "flag.changed",
  "flag.deleted",
] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

/** The CloudEvents `type` prefix: reverse DNS of greenlight.dev. */
export const TYPE_PREFIX = "dev.greenlight.";

export type NotifyData = { [key: string]: string | number | boolean | null | NotifyData | string[] };

export interface NotifyEvent {
  /** Deterministic: the same transition of the same object always gets the same id (the receiver's dedup key). */
  id: string;
  kind: NotifyKind;
  /** `dev.greenlight.<kind>`. */
  type: string;
  /** A URI reference naming the Deployment or the flag, e.g. `/apis/apps/v1/namespaces/shop/deployments/web`. */
  source: string;
  /** `namespace/name` of the object acted on (a Service for blue/green), or the flag key. */
  subject: string;
  /** When the write this event describes was decided (ISO 8601). */
  time: string;
  severity: "info" | "warning";
  /** One line for people: "canary shop/web-v2 promoted (v2)". */
  title: string;
  /** What happened and why, in greenlight's own words (the Kubernetes Event's note). */
  message: string;
  /** The namespace whose annotations choose the receivers; absent for flags (environment only). */
  namespace?: string;
  data: NotifyData;
}

/** An id from the parts that identify one transition: a hex digest, stable across passes and retries. */
export function eventId(kind: NotifyKind, parts: readonly (string | number | undefined)[]): string {
  const digest = createHash("sha256")
    .update([kind, ...parts.map((part) => (part === undefined ? "" : String(part)))].join("\u0000"))
    .digest("hex");
  return `${kind}-${digest.slice(0, 32)}`;
}

/** The API path of a Deployment, the `source` of every rollout event. */
export const deploymentSource = (namespace: string, name: string): string =>
  `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(name)}`;

/** The admin API path of a flag, the `source` of every flag event. */
export const flagSource = (key: string): string => `/admin/flags/${encodeURIComponent(key)}`;

/** Fills `type` from `kind`. */
export function makeEvent(event: Omit<NotifyEvent, "type">): NotifyEvent {
  return { ...event, type: `${TYPE_PREFIX}${event.kind}` };
}
