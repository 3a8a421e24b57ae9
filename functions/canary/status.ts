// The canary's memory: the `greenlight.dev/status` annotation on the VirtualService, as versioned JSON.
//
// API:
// - `parseStatus(raw) -> { status? , problem? }`: absent -> `{}`; corrupt -> `{ problem }` (never throws).
// - `formatStatus(status) -> string`: fixed key order and no optional `undefined`s, so formatting a parsed status
//   gives back the same text and a JSON Patch `test` op on the prior annotation compares equal.
import { isObject, type JsonObject } from "../contract/objects.ts";
import { fail, parseStatusAnnotation, STATUS_ANNOTATION } from "../contract/status-json.ts";
import type { CheckOutcome, CheckResult, Comparison, JudgeReading } from "./checks.ts";
import type { JudgeState } from "./compare.ts";
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
  /** The comparative judge's counts and evidence since the first step (greenlight.dev/judge: compare only). */
  judge?: JudgeState;
  /** Controls that already held their acting value when they were recorded: a leftover never acts by itself. */
  heldControls?: HeldControl[];
  /** Paused for a reason no run can see go away (an unreadable status): only `paused: "false"` resumes. */
  awaitingResume?: boolean;
  reason?: string;
  updatedAt: string;
}

const OUTCOMES: readonly CheckOutcome[] = ["pass", "fail", "no-data", "error", "inconclusive"];
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
      judge: check.judge ? orderedReading(check.judge) : undefined,
    })),
    judge: status.judge ? orderedJudge(status.judge) : undefined,
    heldControls: status.heldControls?.length ? [...status.heldControls] : undefined,
    awaitingResume: status.awaitingResume === true ? true : undefined,
    reason: status.reason,
    updatedAt: status.updatedAt,
  };
}

/** Finite numbers only: JSON has no NaN or infinities (an estimate without data is left out). */
const finiteOrUndefined = (value: number): number | undefined => (Number.isFinite(value) ? value : undefined);

function orderedReading(reading: JudgeReading): Record<string, unknown> {
  const counts = (side: JudgeReading["canary"]) => ({ requests: side.requests, errors: side.errors });
  return {
    estimate: finiteOrUndefined(reading.estimate),
    lower: reading.lower,
    upper: reading.upper,
    canary: counts(reading.canary),
    stable: counts(reading.stable),
    windows: reading.windows,
  };
}

function orderedJudge(judge: JudgeState): Record<string, unknown> {
  const counts = (side: { requests: number; errors: number }) => ({ requests: side.requests, errors: side.errors });
  return {
    tolerance: judge.tolerance,
    windows: judge.windows,
    errors: {
      canary: counts(judge.errors.canary),
      stable: counts(judge.errors.stable),
      above: [...judge.errors.above],
      below: [...judge.errors.below],
    },
    latency: {
      bounds: [...judge.latency.bounds],
      canary: [...judge.latency.canary],
      stable: [...judge.latency.stable],
    },
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
  if (entry.judge !== undefined) check.judge = readReading(entry.judge, `${path}judge.`);
  return check;
}

function readSide(body: unknown, path: string, errors: "required" | "optional"): { requests: number; errors?: number } {
  if (!isObject(body)) return fail(`${path} must be an object`);
  const side: { requests: number; errors?: number } = { requests: count(body, "requests", `${path}.`) };
  if (errors === "required" || body.errors !== undefined) side.errors = count(body, "errors", `${path}.`);
  return side;
}

function count(fields: JsonObject, key: string, path: string): number {
  const value = fields[key];
  return typeof value === "number" && Number.isInteger(value) && value >= 0
    ? value
    : fail(`${path}${key} must be a whole number`);
}

function readReading(body: unknown, path: string): JudgeReading {
  if (!isObject(body)) return fail(`${path.slice(0, -1)} must be an object`);
  return {
    estimate: body.estimate === undefined ? Number.NaN : finite(body, "estimate", path),
    lower: finite(body, "lower", path),
    upper: finite(body, "upper", path),
    canary: readSide(body.canary, `${path}canary`, "optional"),
    stable: readSide(body.stable, `${path}stable`, "optional"),
    windows: count(body, "windows", path),
  };
}

function numbers(body: unknown, path: string, whole: boolean): number[] {
  if (!Array.isArray(body)) return fail(`${path} must be a list`);
  return body.map((value, index) =>
    typeof value === "number" && Number.isFinite(value) && (!whole || (Number.isInteger(value) && value >= 0))
      ? value
      : fail(`${path}[${index}] must be ${whole ? "a whole number" : "a number"}`),
  );
}

function readJudge(body: unknown): JudgeState {
  if (!isObject(body)) return fail("judge must be an object");
  const errors = isObject(body.errors) ? body.errors : fail("judge.errors must be an object");
  const latency = isObject(body.latency) ? body.latency : fail("judge.latency must be an object");
  const side = (value: unknown, path: string) =>
    readSide(value, path, "required") as { requests: number; errors: number };
  const state: JudgeState = {
    tolerance: finite(body, "tolerance", "judge."),
    windows: count(body, "windows", "judge."),
    errors: {
      canary: side(errors.canary, "judge.errors.canary"),
      stable: side(errors.stable, "judge.errors.stable"),
      above: numbers(errors.above, "judge.errors.above", false),
      below: numbers(errors.below, "judge.errors.below", false),
    },
    latency: {
      bounds: numbers(latency.bounds, "judge.latency.bounds", false),
      canary: numbers(latency.canary, "judge.latency.canary", true),
      stable: numbers(latency.stable, "judge.latency.stable", true),
    },
  };
  const buckets = state.latency.bounds.length + 1;
  if (state.latency.canary.length !== buckets || state.latency.stable.length !== buckets) {
    fail("judge.latency must hold one count per bucket and one above the last bound, for each version");
  }
  return state;
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
  if (body.judge !== undefined) status.judge = readJudge(body.judge);
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
