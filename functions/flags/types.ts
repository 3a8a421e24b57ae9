// The flag vocabulary shared by the evaluator, the stores, the HTTP layer, the CLI and docs/flag.schema.json.
/*
 * Plain data only: no Node APIs here, so the evaluator runs unchanged in Node, Lambda and edge runtimes.
 * A flag is boolean unless it has `variants`; then its value is the chosen variant's `value`.
 */

import type { JudgeState } from "../judge/window.ts";

export type FlagState = "enabled" | "disabled" | "partial";

export const CONDITION_OPS = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "not_in",
  "contains",
  "starts_with",
  "ends_with",
  "matches",
  "semver_eq",
  "semver_gt",
  "semver_lt",
] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One targeting test; every condition of a flag must hold. A context without `attribute` fails it. */
export interface Condition {
  attribute: string;
  op: ConditionOp;
  /**
   * A string, number or boolean; a list of them for `in` / `not_in`; a string or a list of strings (any of them)
   * for `contains` / `starts_with` / `ends_with`.
   */
  value: string | number | boolean | Array<string | number | boolean>;
}

export interface Variant {
  value: JsonValue;
  /** Relative weight (non-negative integer); weights need not add up to 100. */
  weight: number;
}

export interface Flag {
  key: string;
  description?: string;
  state: FlagState;
  /** Segments the context's `segment` must be one of (`all` matches any); absent or empty: no segment test. */
  segments?: string[];
  /** Integer 0..100: the share of targeting keys that get the flag once targeting matched; default 100. */
  percentage?: number;
  /** Hashed with the targeting key for the split; default the key. Flags sharing a salt roll out to the same users. */
  salt?: string;
  /** ISO 8601 instants; outside [startTime, endTime) the flag is off (reason DISABLED). */
  startTime?: string;
  endTime?: string;
  conditions?: Condition[];
  /** Non-boolean and A/B flags: the values to choose from, by weight, once the flag is on. */
  variants?: Record<string, Variant>;
  /** Required with `variants`: served when the flag is off (disabled, targeting miss, outside the split). */
  defaultVariant?: string;
  /** Who to ask about this flag, and when it should be gone (ISO 8601 date): for `GET /admin/stale`. */
  owner?: string;
  expires?: string;
  /** A guarded rollout: the share of `rollout.variant` raised step by step while the judge finds no regression. */
  rollout?: RolloutPlan;
  /** Where the rollout stands; written by the stepper and the rollout controls, not by hand (see docs/FLAGS.md). */
  rolloutStatus?: RolloutStatus;
}

// ---- guarded rollouts ------------------------------------------------------------------------------------------

/** The builtin comparisons of treatment against control, by the comparative judge (functions/judge/). */
export const ROLLOUT_BUILTIN_CHECKS = ["error-rate", "latency"] as const;
export type RolloutBuiltinCheck = (typeof ROLLOUT_BUILTIN_CHECKS)[number];

/**
 * One check of a rollout: a builtin comparison, or custom PromQL (`{{key}}`, `{{variant}}` and `{{interval}}` are
 * filled in) whose single value must stay at most `max` or at least `min` (exactly one of them).
 */
export type RolloutCheck =
  | { builtin: RolloutBuiltinCheck }
  | { name: string; query: string; max?: number; min?: number };

/** The comparative judge's settings; the defaults are the canary's judge-* annotations' (2%, 0.5%, 5%). */
export interface RolloutJudgeSettings {
  /** False-alarm level over the whole rollout, split evenly over the builtin checks; in (0, 0.2], default 0.02. */
  alpha?: number;
  /** Tolerated error-rate difference, treatment minus control; in (0, 1), default 0.005. */
  tolerance?: number;
  /** Tolerated excess of P(a treatment request is slower than a control one) over one half; in (0, 0.5), default 0.05. */
  latencyTolerance?: number;
}

export interface RolloutPlan {
  /** The treatment's share at each step, integer percentages, strictly increasing, the last one 100. */
  steps: number[];
  /** Time between two judgements, and the window each one reads: "5m", "1h", "1m30s"; at least 1s (1m or more in production). */
  interval: string;
  /** Flags with variants: the new variant whose share is stepped (not the defaultVariant). Boolean flags: "on". */
  variant?: string;
  /** The share a regression or an abort goes back to: 0 (default) up to below the first step. */
  floor?: number;
  /** Default: both builtins, `[{"builtin": "error-rate"}, {"builtin": "latency"}]`. */
  checks?: RolloutCheck[];
  judge?: RolloutJudgeSettings;
  /** Fewest treatment requests a window needs to count towards a step up (default 10). */
  minRequests?: number;
}

export const ROLLOUT_PHASES = ["progressing", "paused", "rolled-back", "completed", "aborted"] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

/** A check's outcome: pass, regression (rolls back), inconclusive, no data or error (these three hold). */
export type RolloutCheckOutcome = "pass" | "regression" | "inconclusive" | "no-data" | "error";

/** What one check found at the last judgement. */
export interface RolloutCheckReading {
  /** `error-rate`, `latency` or the custom check's name. */
  name: string;
  outcome: RolloutCheckOutcome;
  /** The judged value: the error-rate difference, P(treatment slower), or the custom query's value. */
  value?: number;
  /** The comparison's confidence interval at this look (builtins). */
  lower?: number;
  upper?: number;
  /** The bound: the tolerance (error-rate), ½ + latency tolerance (latency), the custom check's max or min. */
  threshold?: number;
  comparison?: "max" | "min";
  /** Requests (and failed requests, error-rate) counted since the rollout began, per side (builtins). */
  treatment?: { requests: number; errors?: number };
  control?: { requests: number; errors?: number };
  detail: string;
}

/** The judge's memory between passes (functions/judge/window.ts); its "canary" is the treatment, "stable" the control. */
export type RolloutJudgeState = JudgeState;

export interface RolloutStatus {
  phase: RolloutPhase;
  /** Index into the plan's steps of the share in force. */
  step: number;
  /** The treatment's share the rollout last wrote, in percent. */
  share: number;
  /** When the current step (or phase) began (ISO 8601). */
  since: string;
  /** When the last window was judged; the next one is due an interval after it (or after `since`). */
  checkedAt?: string;
  /** The fingerprint of the plan this status belongs to: another plan is re-placed on its steps. */
  plan: string;
  /** Cumulative evidence since the rollout began (or was last restarted). */
  judge?: RolloutJudgeState;
  /** The checks of the last judgement. */
  checks?: RolloutCheckReading[];
  /** Why the rollout holds, paused, rolled back or was aborted, in words (named check and values on a rollback). */
  reason?: string;
}

/** A flag as stored: the definition plus the rule-set version of its last write (its revision, used as ETag). */
export interface StoredFlag {
  flag: Flag;
  revision: number;
  updatedAt: string;
  updatedBy: string;
}

/** The whole rule set as one snapshot: `version` goes up by one on every write to any flag. */
export interface RuleSet {
  version: number;
  flags: Record<string, StoredFlag>;
}

export type AuditAction = "put" | "delete";

export interface AuditEntry {
  /** Store-assigned, increasing (a Redis stream id, or a sequence number in the file store). */
  id: string;
  at: string;
  actor: string;
  /** The label of the admin token the write came with (never the token); absent in entries from before labels. */
  token?: string;
  action: AuditAction;
  key: string;
  /** The rule-set version this write produced. */
  version: number;
  /** The definition before and after the write (absent when there was none). */
  before?: Flag;
  after?: Flag;
}

/**
 * A write's preconditions, checked in the same atomic step as the write itself (so two writers can never both pass
 * them). They test the flag's current revision, where 0 stands for "the flag does not exist" (no stored flag has
 * revision 0: revisions start at 1).
 */
export interface WriteOptions {
  actor: string;
  /** The label of the admin token the write came with, for the audit entry (see AuditEntry.token). */
  token?: string;
  /**
   * Write only when the current revision is this one or, given a list, any one of them (0: the flag does not
   * exist). An empty list never holds: it is what an If-Match naming no revision of this flag asks for.
   */
  ifMatch?: number | readonly number[];
  /** Write only when the current revision is none of these (`[0]`: only when the flag exists, `If-Match: *`). */
  ifNoneMatch?: readonly number[];
}

export interface WriteResult {
  version: number;
  stored?: StoredFlag;
  /**
   * put: whether this write created the flag (it did not exist just before). Decided inside the atomic write, so
   * of two racing creators exactly one is told it created the flag.
   */
  created?: boolean;
}

/** Everything a flag store does; the Upstash store and the embedded file store pass the same tests. */
export interface FlagStore {
  readonly kind: "upstash" | "file";
  /** The rule-set version alone: one cheap call, so a cache can skip `load` when nothing changed. */
  version(): Promise<number>;
  /** A consistent snapshot of every flag and the version it belongs to. */
  load(): Promise<RuleSet>;
  get(key: string): Promise<StoredFlag | undefined>;
  /** Creates or replaces; rejects with StoreConflictError when `ifMatch` or `ifNoneMatch` does not hold. */
  put(flag: Flag, options: WriteOptions): Promise<WriteResult>;
  /**
   * Rejects with StoreNotFoundError when there is no such flag, whatever the preconditions say (as RFC 9110 section
   * 13.2.1 has a server ignore them when the answer without them would be an error), and with StoreConflictError
   * when `ifMatch` or `ifNoneMatch` does not hold.
   */
  delete(key: string, options: WriteOptions): Promise<WriteResult>;
  /** Newest first; `before` pages back from an entry id. */
  audit(options?: { limit?: number; before?: string }): Promise<AuditEntry[]>;
  /**
   * Adds one instance's evaluation counts (usage.ts), as one atomic step: the day's counts, each flag's last
   * evaluation (the later of the stored one and `batch.at`) and the time counting began (the earlier one). Optional:
   * a store without it counts nothing and its stale report has no `unused` reason. Deleting a flag forgets its last
   * evaluation, so a flag created again under the same key starts as never evaluated.
   */
  recordUsage?(batch: UsageBatch): Promise<void>;
  /** What recordUsage kept; `days` (default 0, at most USAGE_DAYS_KEPT) of daily counts, ending with `now`'s day. */
  readUsage?(options?: UsageQuery): Promise<UsageReport>;
}

export class StoreConflictError extends Error {
  override readonly name = "StoreConflictError";
  /** The revision the write asked for when it asked for exactly one (0: "must not exist"); otherwise undefined. */
  readonly expected: number | undefined;
  /** The write's preconditions, as lists (`ifMatch` undefined: there was none). */
  readonly ifMatch: readonly number[] | undefined;
  readonly ifNoneMatch: readonly number[];
  constructor(
    readonly key: string,
    preconditions: Pick<WriteOptions, "ifMatch" | "ifNoneMatch">,
    /** The flag's revision when the write was refused (0: it does not exist; -1: its stored value has none). */
    readonly actual: number,
  ) {
    const ifMatch = preconditions.ifMatch === undefined ? undefined : [preconditions.ifMatch].flat();
    const ifNoneMatch = [...(preconditions.ifNoneMatch ?? [])];
    const expected = ifMatch?.length === 1 && ifNoneMatch.length === 0 ? ifMatch[0] : undefined;
    const state =
      actual === 0 ? "does not exist" : actual < 0 ? "holds a value with no revision" : `is at revision ${actual}`;
    const wanted =
      expected === undefined
        ? `, which fails the write's preconditions (${[
            ...(ifMatch === undefined ? [] : [`ifMatch [${ifMatch.join(", ")}]`]),
            ...(ifNoneMatch.length === 0 ? [] : [`ifNoneMatch [${ifNoneMatch.join(", ")}]`]),
          ].join(", ")}; 0 stands for "does not exist")`
        : expected === 0
          ? ", not absent (ifMatch 0: create only)"
          : `, not at revision ${expected}`;
    super(`flag "${key}" ${state}${wanted}${actual > 0 ? `: re-read it and retry against revision ${actual}` : ""}`);
    this.expected = expected;
    this.ifMatch = ifMatch;
    this.ifNoneMatch = ifNoneMatch;
  }
}

export class StoreNotFoundError extends Error {
  override readonly name = "StoreNotFoundError";
  constructor(readonly key: string) {
    super(`no flag "${key}"`);
  }
}

/** The store could not be reached or answered nonsense; carries the underlying cause. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

// ---- usage counts --------------------------------------------------------------------------------------------

/** Days of daily evaluation counts a store keeps (older days expire); last evaluations are kept until the flag goes. */
export const USAGE_DAYS_KEPT = 90;

/** Evaluations of one flag with one outcome: a variant name, or `error:<code>` for an evaluation that failed. */
export interface UsageCount {
  key: string;
  variant: string;
  count: number;
}

/** What an instance counted since its last flush. */
export interface UsageBatch {
  /** The last evaluation counted (ms since the epoch): the flags' last-evaluated time, and the UTC day counted to. */
  at: number;
  /** When this instance began counting (ms): the store keeps the earliest it was told, as `countingSince`. */
  countingSince: number;
  counts: UsageCount[];
}

export interface UsageQuery {
  /** Days of daily counts to add up, ending with the UTC day of `now` (0: none, only the last evaluations). */
  days?: number;
  now?: number;
}

export interface FlagUsage {
  /** The last evaluation recorded (ms since the epoch). */
  lastEvaluatedAt: number;
  /** Evaluations by variant (`error:<code>` for failures) over the days asked for; empty when none were. */
  variants: Record<string, number>;
}

export interface UsageReport {
  /** When counting began (ms since the epoch): the earliest instance's start; undefined before anything was recorded. */
  countingSince?: number;
  /** By flag key: every flag evaluated since counting began and not deleted since. */
  flags: Record<string, FlagUsage>;
}

// ---- evaluation ----------------------------------------------------------------------------------------------

/** OFREP's evaluation context: `targetingKey` buckets percentage splits, `segment` meets `segments`. */
export interface EvaluationContext {
  targetingKey?: string;
  segment?: string;
  [attribute: string]: unknown;
}

export type EvaluationReason = "STATIC" | "DISABLED" | "DEFAULT" | "SPLIT" | "TARGETING_MATCH";

/** OFREP error codes (https://openfeature.dev/specification/appendix-c). */
export type OfrepErrorCode = "PARSE_ERROR" | "TARGETING_KEY_MISSING" | "INVALID_CONTEXT" | "FLAG_NOT_FOUND" | "GENERAL";

export interface EvaluationSuccess {
  key: string;
  value: JsonValue;
  reason: EvaluationReason;
  variant: string;
  metadata?: Record<string, string | number | boolean>;
}

export interface EvaluationFailure {
  key: string;
  errorCode: OfrepErrorCode;
  errorDetails: string;
}

export type EvaluationResult = EvaluationSuccess | EvaluationFailure;

export const isFailure = (result: EvaluationResult): result is EvaluationFailure => "errorCode" in result;
