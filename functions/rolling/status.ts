// The rolling guard's memory: the `greenlight.dev/status` annotation on the Deployment, as JSON.
//
// API:
// - `parseRollingStatus(raw) -> { status?, problem? }`: absent -> `{}`; corrupt, or another strategy's status
//   -> `{ problem }` naming the field (never throws).
// - `formatRollingStatus(status) -> string`: fixed key order, no undefined fields, so formatting a parsed status
//   gives back the same text and a `test` op on the annotation the guard read compares equal.
// - `sameRollingStatus(a, b)`: equal but for `updatedAt`: the guard writes only when this is false.
// `rolledBackFrom` / `rolledBackTo` record an undo by revision and pod-template-hash. The hash is what makes the
// undo happen once: the controller gives the restored template a new revision number, but never a new hash.
import { isObject, type JsonObject } from "../contract/objects.ts";
import { fail, parseStatusAnnotation, STATUS_ANNOTATION } from "../contract/status-json.ts";

export { STATUS_ANNOTATION };
export const ROLLING_PHASES = ["Progressing", "Complete", "Failed", "RolledBack"] as const;
export type RollingPhase = (typeof ROLLING_PHASES)[number];

export interface RevisionRef {
  revision: number;
  podTemplateHash: string;
}

export interface RollingStatus {
  strategy: "rolling";
  phase: RollingPhase;
  /** The revision of the template the counts describe (the controller's `deployment.kubernetes.io/revision`). */
  revision?: number;
  podTemplateHash?: string;
  desired: number;
  updated: number;
  ready: number;
  available: number;
  message: string;
  /** The failed template greenlight rolled back from, kept while the Deployment runs it or the restored one. */
  rolledBackFrom?: RevisionRef;
  rolledBackTo?: RevisionRef;
  updatedAt: string;
}

const ref = (value: RevisionRef | undefined) =>
  value ? { revision: value.revision, podTemplateHash: value.podTemplateHash } : undefined;

export function formatRollingStatus(status: RollingStatus): string {
  return JSON.stringify({
    strategy: status.strategy,
    phase: status.phase,
    revision: status.revision,
    podTemplateHash: status.podTemplateHash,
    desired: status.desired,
    updated: status.updated,
    ready: status.ready,
    available: status.available,
    message: status.message,
    rolledBackFrom: ref(status.rolledBackFrom),
    rolledBackTo: ref(status.rolledBackTo),
    updatedAt: status.updatedAt,
  });
}

export const sameRollingStatus = (a: RollingStatus | undefined, b: RollingStatus | undefined): boolean =>
  a !== undefined &&
  b !== undefined &&
  formatRollingStatus({ ...a, updatedAt: "" }) === formatRollingStatus({ ...b, updatedAt: "" });

function count(fields: JsonObject, key: string, path = ""): number {
  const value = fields[key];
  return typeof value === "number" && Number.isInteger(value) && value >= 0
    ? value
    : fail(`${path}${key} must be an integer of 0 or more`);
}

function text(fields: JsonObject, key: string, path = ""): string {
  const value = fields[key];
  return typeof value === "string" ? value : fail(`${path}${key} must be a string`);
}

function readRef(fields: JsonObject, key: string): RevisionRef | undefined {
  const value = fields[key];
  if (value === undefined) return undefined;
  if (!isObject(value)) return fail(`${key} must be an object with revision and podTemplateHash`);
  const revision = count(value, "revision", `${key}.`);
  const podTemplateHash = text(value, "podTemplateHash", `${key}.`);
  return { revision, podTemplateHash };
}

function readStatus(body: unknown): RollingStatus {
  if (!isObject(body)) return fail("not a JSON object");
  if (body.strategy !== "rolling") fail(`strategy must be "rolling" (found ${JSON.stringify(body.strategy)})`);
  const phase = ROLLING_PHASES.find((choice) => choice === body.phase);
  const updatedAt = text(body, "updatedAt");
  if (Number.isNaN(Date.parse(updatedAt))) fail("updatedAt must be an ISO 8601 time");
  const status: RollingStatus = {
    strategy: "rolling",
    phase: phase ?? fail(`phase must be one of ${ROLLING_PHASES.join(", ")}`),
    desired: count(body, "desired"),
    updated: count(body, "updated"),
    ready: count(body, "ready"),
    available: count(body, "available"),
    message: text(body, "message"),
    updatedAt,
  };
  if (body.revision !== undefined) status.revision = count(body, "revision");
  if (body.podTemplateHash !== undefined) status.podTemplateHash = text(body, "podTemplateHash");
  const from = readRef(body, "rolledBackFrom");
  const to = readRef(body, "rolledBackTo");
  if ((from === undefined) !== (to === undefined)) fail("rolledBackFrom and rolledBackTo go together");
  if (from && to) Object.assign(status, { rolledBackFrom: from, rolledBackTo: to });
  return status;
}

export function parseRollingStatus(raw: string | undefined): { status?: RollingStatus; problem?: string } {
  return parseStatusAnnotation(raw, readStatus);
}
