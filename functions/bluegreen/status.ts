// Blue/green's memory: the `greenlight.dev/status` annotation on the main Service, as JSON.
//
// API:
// - `parseBlueGreenStatus(raw) -> { status?, smokeFailures?, problem? }`: absent -> `{}`; corrupt, or another
//   strategy's -> `{ problem }` (never throws). `status` is the last move of the selector, absent until greenlight
//   made one; `smokeFailures` the pod templates whose failed smoke check already has its Event.
// - `formatBlueGreenStatus(status?, smokeFailures?) -> string`: fixed key order and no `undefined`s, so the text a run
//   reads back and the text it wrote compare equal in a JSON Patch `test` op.
// A move is written in the same JSON Patch as the selector it describes, so the two can never disagree.
import { isObject, type JsonObject } from "../contract/objects.ts";
import { fail, parseStatusAnnotation, STATUS_ANNOTATION } from "../contract/status-json.ts";

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

/**
 * A version whose smoke check failed in the scheduled pass, with the fingerprint of the pod template that failed: its
 * Event was recorded when this entry was written, so later passes failing on the same template record none. One entry
 * per version (its latest failed template).
 */
export interface SmokeFailure {
  version: string;
  template: string;
  failedAt: string;
}

/** The annotation's text; a status without a move yet holds only `strategy` and `smokeFailures`. */
export function formatBlueGreenStatus(
  status: BlueGreenStatus | undefined,
  smokeFailures: readonly SmokeFailure[] = [],
): string {
  const failures = smokeFailures.map(({ version, template, failedAt }) => ({ version, template, failedAt }));
  return JSON.stringify({
    strategy: STRATEGY,
    phase: status?.phase,
    previous: status?.previous,
    current: status?.current,
    switchedAt: status?.switchedAt,
    message: status?.message,
    previousTemplate: status?.previousTemplate,
    currentTemplate: status?.currentTemplate,
    smokeFailures: failures.length > 0 ? failures : undefined,
  });
}

function text(fields: JsonObject, key: string): string {
  const value = fields[key];
  return typeof value === "string" && value !== "" ? value : fail(`${key} must be a non-empty string`);
}

const MOVE_FIELDS = ["phase", "previous", "current", "switchedAt", "message", "previousTemplate", "currentTemplate"];

function readSmokeFailures(body: JsonObject): SmokeFailure[] {
  const value = body.smokeFailures;
  if (value === undefined) return [];
  if (!Array.isArray(value)) return fail("smokeFailures must be a list");
  return value.map((entry: unknown, index) => {
    const at = `smokeFailures[${index}]`;
    if (!isObject(entry)) return fail(`${at} must be an object`);
    const field = (key: string): string => {
      const value = entry[key];
      return typeof value === "string" && value !== "" ? value : fail(`${at}.${key} must be a non-empty string`);
    };
    const failure = { version: field("version"), template: field("template"), failedAt: field("failedAt") };
    if (Number.isNaN(Date.parse(failure.failedAt))) fail(`${at}.failedAt must be an ISO 8601 time`);
    return failure;
  });
}

/** The move, absent when no field of one is there (only smoke failures recorded so far). */
function readMove(body: JsonObject): BlueGreenStatus | undefined {
  if (MOVE_FIELDS.every((key) => body[key] === undefined)) return undefined;
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

interface Parsed {
  status?: BlueGreenStatus;
  smokeFailures?: SmokeFailure[];
}

function readStatus(body: unknown): Parsed {
  if (!isObject(body)) return fail("not a JSON object");
  const status = readMove(body);
  const smokeFailures = readSmokeFailures(body);
  if (!status && smokeFailures.length === 0) return fail(`phase must be one of ${PHASES.join(", ")}`);
  return { ...(status ? { status } : {}), ...(smokeFailures.length > 0 ? { smokeFailures } : {}) };
}

/** Reads the annotation; a corrupt one, or another strategy's, is reported with the field at fault, never thrown. */
export function parseBlueGreenStatus(raw: string | undefined): Parsed & { problem?: string } {
  const parsed = parseStatusAnnotation(raw, (body) => body);
  if (parsed.status === undefined) return parsed.problem === undefined ? {} : { problem: parsed.problem };
  const body = parsed.status;
  if (isObject(body) && body.strategy !== STRATEGY) {
    return { problem: `${STATUS_ANNOTATION} records strategy ${JSON.stringify(body.strategy)}, not "${STRATEGY}"` };
  }
  const read = parseStatusAnnotation(raw, readStatus);
  return read.problem !== undefined ? { problem: read.problem } : (read.status ?? {});
}
