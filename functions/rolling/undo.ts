// Which ReplicaSet is the rollout's new one and which template an undo restores: `kubectl rollout undo`'s choice.
//
// API:
// - `revisionsOf(deployment, replicaSets) -> Revision[]`: the ReplicaSets the Deployment controls (controller
//   ownerReference with its uid), with their `deployment.kubernetes.io/revision` and `pod-template-hash`,
//   highest revision first. ReplicaSets without a readable revision are left out, as kubectl leaves them out.
// - `findNewRevision(template, revisions)`: the highest revision whose template equals the Deployment's once the
//   `pod-template-hash` label is taken off (the controller's own test for "the new ReplicaSet").
// - `findPreviousRevision(current, revisions, avoid?)`: the highest revision below the current one with a different
//   template: what `kubectl rollout undo` without --to-revision goes back to; ReplicaSets whose pod-template-hash
//   is in `avoid` are passed over.
// - `restorableTemplate(template)`: the template as plain JSON without `pod-template-hash`, ready for a
//   `replace /spec/template` (the controller adds the hash back on the ReplicaSet, never on the Deployment).
// - `sameTemplate(a, b)`: equality of two templates ignoring `pod-template-hash`, key order and absent fields.

export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
export const POD_TEMPLATE_HASH = "pod-template-hash";

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The fields read here; client-node's V1PodTemplateSpec is assignable to it. */
export interface PodTemplateShape {
  metadata?: { labels?: Record<string, string> };
  spec?: unknown;
}

/** The fields read here; client-node's V1ReplicaSet is assignable to it. */
export interface ReplicaSetShape {
  metadata?: {
    name?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string; uid?: string; controller?: boolean }[];
  };
  spec?: { template?: PodTemplateShape };
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number };
}

export interface Revision {
  name: string;
  uid?: string;
  revision: number;
  /** The ReplicaSet's `pod-template-hash`: stays the same when the controller renumbers it after an undo. */
  hash: string;
  template: PodTemplateShape;
  replicas: number;
  ready: number;
  available: number;
}

/** Plain JSON of a client-node object: Dates become the strings the API server sent, undefined fields go. */
export const toJson = (value: unknown): Json => JSON.parse(JSON.stringify(value ?? null)) as Json;

/** A stable text of JSON: keys sorted, nulls dropped (the API server omits what client-node sets to undefined). */
export function canonical(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== null && value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key] as Json)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function restorableTemplate(template: PodTemplateShape | undefined): JsonObject {
  const json = toJson(template ?? {});
  const plain: JsonObject = json !== null && typeof json === "object" && !Array.isArray(json) ? json : {};
  const metadata = plain.metadata;
  if (metadata && typeof metadata === "object" && !Array.isArray(metadata)) {
    const labels = metadata.labels;
    if (labels && typeof labels === "object" && !Array.isArray(labels)) delete labels[POD_TEMPLATE_HASH];
  }
  return plain;
}

export const sameTemplate = (a: PodTemplateShape | undefined, b: PodTemplateShape | undefined): boolean =>
  canonical(restorableTemplate(a)) === canonical(restorableTemplate(b));

/** A revision annotation as the controller writes it: a positive decimal integer. */
export function parseRevision(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,15}$/.test(raw)) return undefined;
  const revision = Number(raw);
  return revision > 0 ? revision : undefined;
}

interface Owner {
  uid?: string;
  name?: string;
}

function controlledBy(replicaSet: ReplicaSetShape, owner: Owner): boolean {
  const controller = replicaSet.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  if (controller?.kind !== "Deployment") return false;
  // The uid tells a Deployment from an earlier one of the same name; the name only serves when no uid is known.
  return owner.uid ? controller.uid === owner.uid : controller.name === owner.name;
}

export function revisionsOf(owner: Owner, replicaSets: readonly ReplicaSetShape[]): Revision[] {
  const revisions: Revision[] = [];
  for (const replicaSet of replicaSets) {
    if (!controlledBy(replicaSet, owner)) continue;
    const revision = parseRevision(replicaSet.metadata?.annotations?.[REVISION_ANNOTATION]);
    if (revision === undefined) continue;
    const template = replicaSet.spec?.template ?? {};
    const entry: Revision = {
      name: replicaSet.metadata?.name ?? "?",
      revision,
      hash: replicaSet.metadata?.labels?.[POD_TEMPLATE_HASH] ?? template.metadata?.labels?.[POD_TEMPLATE_HASH] ?? "",
      template,
      replicas: replicaSet.status?.replicas ?? 0,
      ready: replicaSet.status?.readyReplicas ?? 0,
      available: replicaSet.status?.availableReplicas ?? 0,
    };
    if (replicaSet.metadata?.uid) entry.uid = replicaSet.metadata.uid;
    revisions.push(entry);
  }
  return revisions.sort((a, b) => b.revision - a.revision);
}

export const findNewRevision = (
  template: PodTemplateShape | undefined,
  revisions: readonly Revision[],
): Revision | undefined => revisions.find((candidate) => sameTemplate(candidate.template, template));

export const findPreviousRevision = (
  current: Revision,
  revisions: readonly Revision[],
  avoid: readonly string[] = [],
): Revision | undefined =>
  revisions.find(
    (candidate) =>
      candidate.revision < current.revision &&
      !avoid.includes(candidate.hash) &&
      !sameTemplate(candidate.template, current.template),
  );
