// Blue/green's memory: the `greenlight.dev/status` annotation on the main Service, as JSON.
//
// API:
// - `parseBlueGreenStatus(raw) -> { status?, problem? }`: absent -> `{}`; corrupt, or another strategy's -> `{ problem }`
//   (never throws).
// - `formatBlueGreenStatus(status) -> string`: fixed key order and no `undefined`s, so the text a run reads back and
//   the text it wrote compare equal in a JSON Patch `test` op.
// It is written in the same JSON Patch as the selector it describes, so the two can never disagree.
import { annotationName } from "../contract/annotations.ts";

export const STATUS_ANNOTATION = annotationName("status");
export const STRATEGY = "blue-green";
/** Switched: moved to a new version and verified; SwitchedBack: moved, failed verification, moved back;
 *  RolledBack: moved back by `greenlight bluegreen rollback`. */
export const PHASES = ["Switched", "SwitchedBack", "RolledBack"] as const;
export type BlueGreenPhase = (typeof PHASES)[number];

export interface BlueGreenStatus {
  strategy: typeof STRATEGY;
  phase: BlueGreenPhase;
  /** The `version` the Service selected before this write. */
  previous: string;
  /** The `version` it selects after this write. */
  current: string;
  /** When this write happened (ISO 8601). */
  switchedAt: string;
  message: string;
  /**
   * Fingerprints of the pod templates that served `previous` and `current` at that moment: the scheduled pass never
   * auto-promotes a version back to the exact template it was switched away from (no ping-pong between two
   * auto-promote Deployments), but does promote it once it has been rolled out again.
   */
  previousTemplate?: string;
  currentTemplate?: string;
}

export const formatBlueGreenStatus = (status: BlueGreenStatus): string =>
  JSON.stringify({
    strategy: status.strategy,
    phase: status.phase,
    previous: status.previous,
    current: status.current,
    switchedAt: status.switchedAt,
    message: status.message,
    previousTemplate: status.previousTemplate,
    currentTemplate: status.currentTemplate,
  });

type Fields = Record<string, unknown>;

const isFields = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function text(fields: Fields, key: string): string | { problem: string } {
  const value = fields[key];
  return typeof value === "string" && value !== "" ? value : { problem: `${key} must be a non-empty string` };
}

/** Reads the annotation; a corrupt one is reported with the field at fault, never thrown. */
export function parseBlueGreenStatus(raw: string | undefined): { status?: BlueGreenStatus; problem?: string } {
  if (raw === undefined) return {};
  const corrupt = (problem: string) => ({ problem: `${STATUS_ANNOTATION} is corrupt: ${problem}` });
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { problem: `${STATUS_ANNOTATION} is not JSON` };
  }
  if (!isFields(body)) return corrupt("not a JSON object");
  if (body.strategy !== STRATEGY) {
    return { problem: `${STATUS_ANNOTATION} records strategy ${JSON.stringify(body.strategy)}, not "${STRATEGY}"` };
  }
  const phase = PHASES.find((candidate) => candidate === body.phase);
  if (!phase) return corrupt(`phase must be one of ${PHASES.join(", ")}`);
  const fields: Record<string, string> = {};
  for (const key of ["previous", "current", "switchedAt"]) {
    const value = text(body, key);
    if (typeof value !== "string") return corrupt(value.problem);
    fields[key] = value;
  }
  if (Number.isNaN(Date.parse(fields.switchedAt ?? ""))) return corrupt("switchedAt must be an ISO 8601 time");
  if (body.message !== undefined && typeof body.message !== "string") return corrupt("message must be a string");
  const status: BlueGreenStatus = {
    strategy: STRATEGY,
    phase,
    previous: fields.previous ?? "",
    current: fields.current ?? "",
    switchedAt: fields.switchedAt ?? "",
    message: typeof body.message === "string" ? body.message : "",
  };
  for (const key of ["previousTemplate", "currentTemplate"] as const) {
    const value = body[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "") return corrupt(`${key} must be a non-empty string`);
    status[key] = value;
  }
  return { status };
}
