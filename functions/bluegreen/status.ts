// Blue/green's memory: the `greenlight.dev/status` annotation on the main Service, as JSON.
//
// API:
// - `parseBlueGreenStatus(raw) -> { status?, problem? }`: absent -> `{}`; corrupt, or another strategy's -> `{ problem }`
//   (never throws).
// - `formatBlueGreenStatus(status) -> string`: fixed key order and no `undefined`s, so the text a run reads back and
//   the text it wrote compare equal in a JSON Patch `test` op.
// It is written in the same JSON Patch as the selector it describes, so the two can never disagree.
import { type Fields, fail, isFields, parseStatusAnnotation, STATUS_ANNOTATION } from "../contract/status-json.ts";

export { STATUS_ANNOTATION };
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

function text(fields: Fields, key: string): string {
  const value = fields[key];
  return typeof value === "string" && value !== "" ? value : fail(`${key} must be a non-empty string`);
}

function readStatus(body: unknown): BlueGreenStatus {
  if (!isFields(body)) return fail("not a JSON object");
  const phase =
    PHASES.find((candidate) => candidate === body.phase) ?? fail(`phase must be one of ${PHASES.join(", ")}`);
  const [previous, current, switchedAt] = [text(body, "previous"), text(body, "current"), text(body, "switchedAt")];
  if (Number.isNaN(Date.parse(switchedAt))) fail("switchedAt must be an ISO 8601 time");
  if (body.message !== undefined && typeof body.message !== "string") fail("message must be a string");
  const status: BlueGreenStatus = {
    strategy: STRATEGY,
    phase,
    previous,
    current,
    switchedAt,
    message: typeof body.message === "string" ? body.message : "",
  };
  for (const key of ["previousTemplate", "currentTemplate"] as const) {
    if (body[key] !== undefined) status[key] = text(body, key);
  }
  return status;
}

/** Reads the annotation; a corrupt one, or another strategy's, is reported with the field at fault, never thrown. */
export function parseBlueGreenStatus(raw: string | undefined): { status?: BlueGreenStatus; problem?: string } {
  const parsed = parseStatusAnnotation(raw, (body) => body);
  if (parsed.status === undefined) return parsed.problem === undefined ? {} : { problem: parsed.problem };
  const body = parsed.status;
  if (isFields(body) && body.strategy !== STRATEGY) {
    return { problem: `${STATUS_ANNOTATION} records strategy ${JSON.stringify(body.strategy)}, not "${STRATEGY}"` };
  }
  return parseStatusAnnotation(raw, readStatus);
}
