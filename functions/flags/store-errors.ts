// What both flag stores check and say alike: write and paging arguments, the stored-flag shape, error causes.
/*
 * Plain TypeScript (no Node APIs): the Upstash store runs in edge runtimes. The stores check only the envelope
 * they depend on (a flag has a string key, a stored flag has a revision...); whether a flag's rules make sense is
 * the validator's and the evaluator's business.
 */
import { isObject } from "../contract/objects.ts";
import type { Flag, StoredFlag, WriteOptions } from "./types.ts";

export const DEFAULT_AUDIT_LIMIT = 100;
export const DEFAULT_AUDIT_MAX_LEN = 10_000;

const show = (value: unknown): string => (value === undefined ? "undefined" : JSON.stringify(value));

/** A flag key as the stores take it: a non-empty string. `what` names the argument in the message. */
export function checkKey(key: unknown, what: string): asserts key is string {
  if (typeof key !== "string" || key === "") {
    throw new TypeError(`${what} must be a non-empty string, got ${show(key)}`);
  }
}

const isRevision = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** One precondition field: a revision, or (ifMatch only) a list of them; names the bad element. */
function checkRevisions(name: string, value: unknown, single: boolean): void {
  if (value === undefined || (single && isRevision(value))) return;
  const accepted = single
    ? 'a non-negative integer (a revision, or 0 for "must not exist") or a list of them'
    : 'a list of non-negative integers (revisions, 0 for "does not exist")';
  if (!Array.isArray(value)) throw new RangeError(`options.${name} must be ${accepted}, got ${show(value)}`);
  value.forEach((element: unknown, index) => {
    if (!isRevision(element)) {
      throw new RangeError(
        `options.${name}[${index}] must be a non-negative integer (a revision), got ${show(element)}`,
      );
    }
  });
}

/** Rejects write options no store can honour: an actor that is not text, preconditions that are not revisions. */
export function checkWriteOptions(options: WriteOptions): void {
  if (!isObject(options) || typeof options.actor !== "string") {
    throw new TypeError(`options.actor must be a string (who made the change), got ${show(options?.actor)}`);
  }
  checkRevisions("ifMatch", options.ifMatch, true);
  checkRevisions("ifNoneMatch", options.ifNoneMatch, false);
}

/**
 * Whether a flag at `actual` (0: absent) meets the write's preconditions: its revision is one `ifMatch` allows and
 * none `ifNoneMatch` rules out. The stores call this under their lock (the Upstash script does the same in Lua).
 */
export function preconditionsHold(options: Pick<WriteOptions, "ifMatch" | "ifNoneMatch">, actual: number): boolean {
  const { ifMatch, ifNoneMatch } = options;
  if (ifMatch !== undefined && ![ifMatch].flat().includes(actual)) return false;
  return !(ifNoneMatch ?? []).includes(actual);
}

/** A flag the stores can write: an object with a non-empty string key (its rules are the validator's business). */
export function checkFlag(flag: unknown): asserts flag is Flag {
  if (!isObject(flag)) throw new TypeError(`flag must be an object, got ${show(flag)}`);
  checkKey(flag.key, "flag.key");
}

/** The audit page size: a positive integer, 100 when absent. */
export function auditLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_AUDIT_LIMIT;
  if (!(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new RangeError(`audit limit must be a positive integer, got ${show(limit)}`);
  }
  return limit;
}

/** A store option that must be a positive integer (auditMaxLen). */
export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(Number.isSafeInteger(value) && value >= 1)) {
    throw new RangeError(`${name} must be a positive integer, got ${show(value)}`);
  }
  return value;
}

/** `value` as a StoredFlag for `key`, or a one-line description of the first thing wrong with it. */
export function storedFlagOf(value: unknown, key: string): StoredFlag | { problem: string } {
  if (!isObject(value)) return { problem: `is ${show(value)?.slice(0, 60)}, not a stored flag object` };
  const { flag, revision, updatedAt, updatedBy } = value;
  if (!isObject(flag)) return { problem: `has flag ${show(flag)?.slice(0, 60)}, not an object` };
  if (flag.key !== key) return { problem: `has flag.key ${show(flag.key)}, not ${show(key)}` };
  if (!(Number.isSafeInteger(revision) && (revision as number) >= 1)) {
    return { problem: `has revision ${show(revision)}, not a positive integer` };
  }
  if (typeof updatedAt !== "string") return { problem: `has updatedAt ${show(updatedAt)}, not a string` };
  if (typeof updatedBy !== "string") return { problem: `has updatedBy ${show(updatedBy)}, not a string` };
  return { flag: flag as unknown as Flag, revision: revision as number, updatedAt, updatedBy };
}

export const isProblem = (value: StoredFlag | { problem: string }): value is { problem: string } => "problem" in value;

/** The error's message with its causes' (fetch's "fetch failed" says little; its cause says ECONNREFUSED). */
export function causeMessage(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
}
