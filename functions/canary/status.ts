// The canary's memory: the `greenlight.dev/status` annotation on the VirtualService, as versioned JSON.
//
// API:
// - `parseStatus(raw) -> { status? , problem? }`: absent -> `{}`; corrupt -> `{ problem }` (never throws).
// - `formatStatus(status) -> string`: fixed key order and no optional `undefined`s, so formatting a parsed status
//   gives back the same text and a JSON Patch `test` op on the prior annotation compares equal.
import { isObject, type JsonObject } from "../contract/objects.ts";
import { fail, parseStatusAnnotation, STATUS_ANNOTATION } from "../contract/status-json.ts";
import type { CheckResult, Comparison, Outcome } from "./checks.ts";
import type { Weights } from "./weights.ts";

export { STATUS_ANNOTATION };
export const STATUS_VERSION = 1;
export const PHASES = ["Waiting", "Progressing", "Paused", "Promoted", "RolledBack"] as const;
export type CanaryPhase = (typeof PHASES)[number];

/** A control whose acting value is ignored until a run sees it changed ("resume" = `paused: "false"`). */
export type HeldControl = "promote" | "abort" | "resume";
const HELD_CONTROLS: readonly HeldControl[] = ["promote", "abort", "resume"];

export interface CanaryStatus {
  version: typeof STATUS_VERSION;
  phase: CanaryPhase;
  canaryVersion: string;
  /** `labels.version` of the stable subset when this rollout began. */
  stableVersion?: string;
  /** Fingerprint of the canary's pod template this rollout measures; another one starts the rollout over. */
  canaryRevision?: string;
  /** Index into the steps; -1 before the first step. */
  stepIndex: number;
  /** What greenlight last wrote to the route; anything else found there is a hand edit (drift). */
  weights: Weights;
  /** When greenlight last wrote the weights of the current step (ISO 8601). */
  lastStepAt: string;
  /** When the last analysis ran; the next is due one interval after this or `lastStepAt`, whichever is later. */
  lastAnalysisAt?: string;
  /** Consecutive failed analyses since the last pass (inconclusive ones neither add nor reset). */
  failures: number;
  /** Consecutive inconclusive analyses (no data or error). */
  inconclusive: number;
  lastChecks: CheckResult[];
  /** Controls that already held their acting value when they were recorded: a leftover never acts by itself. */
  heldControls?: HeldControl[];
  /** Paused for a reason no run can see go away (an unreadable status): only `paused: "false"` resumes. */
  awaitingResume?: boolean;
  reason?: string;
  updatedAt: string;
}

const OUTCOMES: readonly Outcome[] = ["pass", "fail", "no-data", "error"];
const COMPARISONS: readonly Comparison[] = ["max", "min"];

/** Field order of the annotation text. */
function ordered(status: CanaryStatus): Record<string, unknown> {
  return {
    version: status.version,
    phase: status.phase,
    canaryVersion: status.canaryVersion,
    stableVersion: status.stableVersion,
    canaryRevision: status.canaryRevision,
    stepIndex: status.stepIndex,
    weights: { stable: status.weights.stable, canary: status.weights.canary },
    lastStepAt: status.lastStepAt,
    lastAnalysisAt: status.lastAnalysisAt,
    failures: status.failures,
    inconclusive: status.inconclusive,
    lastChecks: status.lastChecks.map((check) => ({
      name: check.name,
      query: check.query,
      // JSON has no NaN: a non-finite value is dropped rather than written as null.
      value: check.value !== undefined && Number.isFinite(check.value) ? check.value : undefined,
      threshold: check.threshold,
      comparison: check.comparison,
      outcome: check.outcome,
      detail: check.detail,
    })),
    heldControls: status.heldControls?.length ? [...status.heldControls] : undefined,
    awaitingResume: status.awaitingResume === true ? true : undefined,
    reason: status.reason,
    updatedAt: status.updatedAt,
  };
}

export const formatStatus = (status: CanaryStatus): string => JSON.stringify(ordered(status));

function text(fields: JsonObject, key: string, path: string): string {
  const value = fields[key];
  return typeof value === "string" && value !== "" ? value : fail(`${path}${key} must be a non-empty string`);
}

function optionalText(fields: JsonObject, key: string, path: string): string | undefined {
  return fields[key] === undefined ? undefined : text(fields, key, path);
}

function integer(fields: JsonObject, key: string, min: number, max: number, path = ""): number {
  const value = fields[key];
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
    ? value
    : fail(`${path}${key} must be an integer from ${min} to ${max}`);
}

function finite(fields: JsonObject, key: string, path: string): number {
  const value = fields[key];
  return typeof value === "number" && Number.isFinite(value) ? value : fail(`${path}${key} must be a number`);
}

function instant(fields: JsonObject, key: string): string {
  const value = text(fields, key, "");
  return Number.isNaN(Date.parse(value)) ? fail(`${key} must be an ISO 8601 time`) : value;
}

function oneOf<T extends string>(fields: JsonObject, key: string, choices: readonly T[], path = ""): T {
  const value = fields[key];
  const found = choices.find((choice) => choice === value);
  return found ?? fail(`${path}${key} must be one of ${choices.join(", ")}`);
}

function readCheck(entry: unknown, index: number): CheckResult {
  const path = `lastChecks[${index}].`;
  if (!isObject(entry)) return fail(`lastChecks[${index}] must be an object`);
  const check: CheckResult = {
    name: text(entry, "name", path),
    query: typeof entry.query === "string" ? entry.query : fail(`${path}query must be a string`),
    threshold: finite(entry, "threshold", path),
    comparison: oneOf(entry, "comparison", COMPARISONS, path),
    outcome: oneOf(entry, "outcome", OUTCOMES, path),
  };
  if (entry.value !== undefined) check.value = finite(entry, "value", path);
  const detail = optionalText(entry, "detail", path);
  if (detail !== undefined) check.detail = detail;
  return check;
}

function readStatus(body: unknown): CanaryStatus {
  if (!isObject(body)) return fail("not a JSON object");
  if (body.version !== STATUS_VERSION) fail(`version must be ${STATUS_VERSION}`);
  const weights = isObject(body.weights) ? body.weights : fail("weights must be an object");
  const pair = {
    stable: integer(weights, "stable", 0, 100, "weights."),
    canary: integer(weights, "canary", 0, 100, "weights."),
  };
  if (pair.stable + pair.canary !== 100) fail("weights must sum to 100");
  const checks = Array.isArray(body.lastChecks) ? body.lastChecks : fail("lastChecks must be a list");
  const status: CanaryStatus = {
    version: STATUS_VERSION,
    phase: oneOf(body, "phase", PHASES),
    canaryVersion: text(body, "canaryVersion", ""),
    stepIndex: integer(body, "stepIndex", -1, 100),
    weights: pair,
    lastStepAt: instant(body, "lastStepAt"),
    failures: integer(body, "failures", 0, 1_000_000),
    inconclusive: integer(body, "inconclusive", 0, 1_000_000),
    lastChecks: checks.map(readCheck),
    updatedAt: instant(body, "updatedAt"),
  };
  const stableVersion = optionalText(body, "stableVersion", "");
  if (stableVersion !== undefined) status.stableVersion = stableVersion;
  const canaryRevision = optionalText(body, "canaryRevision", "");
  if (canaryRevision !== undefined) status.canaryRevision = canaryRevision;
  if (body.awaitingResume !== undefined) {
    if (body.awaitingResume !== true) fail("awaitingResume must be true when present");
    status.awaitingResume = true;
  }
  if (body.lastAnalysisAt !== undefined) status.lastAnalysisAt = instant(body, "lastAnalysisAt");
  if (body.heldControls !== undefined) {
    const held = Array.isArray(body.heldControls) ? body.heldControls : fail("heldControls must be a list");
    status.heldControls = held.map(
      (value, index) =>
        HELD_CONTROLS.find((control) => control === value) ??
        fail(`heldControls[${index}] must be one of ${HELD_CONTROLS.join(", ")}`),
    );
  }
  const reason = optionalText(body, "reason", "");
  if (reason !== undefined) status.reason = reason;
  return status;
}

/** Reads the annotation; a corrupt one is reported with the field at fault, never thrown. */
export function parseStatus(raw: string | undefined): { status?: CanaryStatus; problem?: string } {
  return parseStatusAnnotation(raw, readStatus);
}
