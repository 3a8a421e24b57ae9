// What every `greenlight flags` command needs from where the flags live: the local store or a running flag server.
import { editDistance } from "../../../functions/contract/closest.ts";
import type { RolloutControl } from "../../../functions/flags/rollout/plan.ts";
import type { StaleFlag, StaleReport } from "../../../functions/flags/stale.ts";
import type {
  AuditEntry,
  EvaluationContext,
  EvaluationResult,
  Flag,
  StoredFlag,
} from "../../../functions/flags/types.ts";

export type { StaleFlag, StaleReport };

/** `flags stale`'s thresholds; unset: the backend's defaults (the environment's, or the server's with --url). */
export interface StaleQuery {
  days?: number;
  unusedDays?: number;
}

import { CliError } from "../errors.ts";

export interface FlagList {
  version: number;
  flags: StoredFlag[];
}

export interface PutOutcome {
  version: number;
  flag: StoredFlag;
  created: boolean;
}

/** The two backends answer alike, so each command is written once; both throw CliError on anything a user can fix. */
export interface FlagsBackend {
  /** Where the flags are, for messages: the server URL or the store's description. */
  readonly where: string;
  list(): Promise<FlagList>;
  get(key: string): Promise<StoredFlag>;
  put(flag: Flag, ifMatch?: number): Promise<PutOutcome>;
  remove(key: string, ifMatch?: number): Promise<{ version: number }>;
  audit(limit?: number): Promise<AuditEntry[]>;
  /** The stale flags and, when the store counts usage, since when it does. */
  stale(query?: StaleQuery): Promise<StaleReport>;
  evaluate(key: string, context: EvaluationContext): Promise<EvaluationResult>;
  evaluateAll(context: EvaluationContext): Promise<EvaluationResult[]>;
  /** Every flag key, for "did you mean"; empty when they cannot be read. */
  keys(): Promise<string[]>;
  /** Pause, resume or abort the flag's guarded rollout; the flag as written and what happened, in words. */
  controlRollout(key: string, control: RolloutControl, options?: ControlOptions): Promise<ControlOutcome>;
}

/** A rollout control's options: why (kept in the status), and the revision it must apply to. */
export interface ControlOptions {
  reason?: string;
  ifMatch?: number;
}

export interface ControlOutcome {
  flag: StoredFlag;
  summary: string;
}

/** Up to three keys the user probably meant: near in edit distance, or containing what they typed. */
export function closeKeys(key: string, keys: readonly string[]): string[] {
  const wanted = key.toLowerCase();
  const limit = Math.max(2, Math.ceil(wanted.length / 3));
  return keys
    .map((candidate) => {
      const lower = candidate.toLowerCase();
      const distance = wanted.length > 64 ? Number.POSITIVE_INFINITY : editDistance(wanted, lower);
      const contains = wanted.length >= 3 && (lower.includes(wanted) || wanted.includes(lower));
      return { candidate, distance, near: distance <= limit || contains };
    })
    .filter((entry) => entry.near && entry.candidate !== key)
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, 3)
    .map((entry) => entry.candidate);
}

/** The end of a "no flag" message: the close keys, else a few known ones, else how to create one. */
export function notFoundHint(key: string, keys: readonly string[]): string {
  const close = closeKeys(key, keys);
  if (close.length > 0) return `did you mean ${close.join(", ")}?`;
  if (keys.length === 0) return `there are no flags yet: create one with \`greenlight flags set ${key} -f FILE\``;
  const sorted = [...keys].sort();
  const shown = sorted.slice(0, 5).join(", ");
  return `known flags: ${shown}${sorted.length > 5 ? ` and ${sorted.length - 5} more (greenlight flags list)` : ""}`;
}

/** The If-Match refusal, with the revision to retry with when it is known. */
export function conflictMessage(key: string, expected: number | undefined, actual: number | undefined): string {
  const wanted = expected === undefined ? "" : expected === 0 ? " (--if-match 0: only if it does not exist)" : "";
  if (actual === undefined)
    return `flag "${key}" has changed${wanted}: re-read it with \`greenlight flags get ${key}\``;
  if (actual === 0) return `flag "${key}" does not exist, not revision ${expected}: drop --if-match to create it`;
  return `flag "${key}" is at revision ${actual}, not ${expected}${wanted}: re-read it with \`greenlight flags get ${key}\` and retry with --if-match ${actual}`;
}

/** A problem the server found in a flag: printed one a line before the error (see ProblemsError). */
export interface FlagProblem {
  path: string;
  message: string;
}

/** The server rejected a flag (400 with problems): the command prints each problem before the one-line error. */
export class ProblemsError extends CliError {
  constructor(
    message: string,
    readonly problems: FlagProblem[],
  ) {
    super(message);
  }
}
