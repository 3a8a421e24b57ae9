// The scheduled pass over the flags: every flag with a rollout plan that is due is judged on one window read from
// Prometheus and written back with its revision as the precondition, so of two passes at once only one steps it.
//
// A person's pause, resume or abort (the admin API's and the local CLI's) is written the same way: read, decide,
// write under the revision read.
//
// API:
// - `stepFlagRollouts({ store, reader, metrics, now, dryRun })` -> one report per flag with a plan. Never throws for
//   one flag: a store or Prometheus failure is that flag's report (`error`), a lost race its `conflict`.
// - `applyRolloutControl(store, key, control, { actor, token, ifMatch, ifNoneMatch, now, reason })` -> the write and
//   what it did in words, or why the control does not apply.

import type { MetricsReader } from "../../judge/read.ts";
import type { FlagStore, RolloutPhase, StoredFlag, WriteOptions, WriteResult } from "../types.ts";
import { StoreConflictError, StoreNotFoundError } from "../types.ts";
import {
  type ControlResult,
  controlRollout,
  decideRollout,
  type RolloutAction,
  type RolloutControl,
  resolvePlan,
  rolloutDue,
  STEPPER_ACTOR,
} from "./plan.ts";
import { DEFAULT_ROLLOUT_METRICS, type RolloutMetrics, rolloutQueries } from "./queries.ts";
import { readRollout } from "./read.ts";

export interface FlagRolloutReport {
  key: string;
  /** What the pass did; `conflict`: another writer changed the flag first, nothing written; `error`: see reason. */
  action: RolloutAction | "conflict" | "error";
  reason: string;
  /** Where the rollout stands after the pass (as written, or as found when nothing was written). */
  phase?: RolloutPhase;
  share?: number;
  /** The flag's revision after the write (before it, when nothing was written). */
  revision?: number;
}

export interface StepFlagsOptions {
  store: FlagStore;
  reader: MetricsReader;
  metrics?: RolloutMetrics;
  now: Date;
  /** Decide and report, write nothing. */
  dryRun?: boolean;
  /** Flags judged at once (each reads a few queries); default 8. */
  concurrency?: number;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** One flag's pass: decide, then write under the revision it was read at. */
async function stepOne(stored: StoredFlag, options: StepFlagsOptions): Promise<FlagRolloutReport> {
  const { flag, revision } = stored;
  const now = options.now;
  const found = { phase: flag.rolloutStatus?.phase, share: flag.rolloutStatus?.share, revision };
  let decision: ReturnType<typeof decideRollout>;
  try {
    const due = rolloutDue(flag, now);
    if (due === "judge") {
      const plan = resolvePlan(flag);
      if ("problem" in plan) return { key: flag.key, action: "invalid", reason: plan.problem, ...found };
      const queries = rolloutQueries(flag.key, plan, options.metrics ?? DEFAULT_ROLLOUT_METRICS);
      decision = decideRollout(flag, now, await readRollout(options.reader, plan, queries));
    } else decision = decideRollout(flag, now);
  } catch (error) {
    return { key: flag.key, action: "error", reason: messageOf(error), ...found };
  }
  const next = decision.next;
  if (!next) return { key: flag.key, action: decision.action, reason: decision.reason, ...found };
  const after = { phase: next.rolloutStatus?.phase, share: next.rolloutStatus?.share };
  if (options.dryRun)
    return { key: flag.key, action: decision.action, reason: `dry run: ${decision.reason}`, ...after };
  try {
    const result = await options.store.put(next, { actor: STEPPER_ACTOR, ifMatch: revision });
    return {
      key: flag.key,
      action: decision.action,
      reason: decision.reason,
      ...after,
      revision: result.stored?.revision ?? result.version,
    };
  } catch (error) {
    if (error instanceof StoreConflictError) {
      return {
        key: flag.key,
        action: "conflict",
        reason: `another writer changed the flag first (${error.message}); nothing written, the next pass decides again`,
        ...found,
      };
    }
    return { key: flag.key, action: "error", reason: `writing the flag: ${messageOf(error)}`, ...found };
  }
}

/** Every flag with a rollout plan, stepped once; reports in key order. */
export async function stepFlagRollouts(options: StepFlagsOptions): Promise<FlagRolloutReport[]> {
  const rules = await options.store.load();
  const queue = Object.values(rules.flags)
    .filter((stored) => stored.flag.rollout !== undefined)
    .sort((a, b) => (a.flag.key < b.flag.key ? -1 : a.flag.key > b.flag.key ? 1 : 0));
  const reports: FlagRolloutReport[] = [];
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) reports.push(await stepOne(item, options));
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  return reports.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A control's write: who and under which preconditions (none: the revision read), when, and why (kept in the status). */
export interface ControlWrite extends WriteOptions {
  now: Date;
  reason?: string;
}

/** What a control did: the write and the status line it made, or why it does not apply (nothing written). */
export type AppliedControl = { written: WriteResult; summary: string } | Extract<ControlResult, { error: string }>;

/** Reads of a control without preconditions of its own, when the stepper (or another person) keeps writing first. */
const CONTROL_TRIES = 3;

/**
 * A person's pause, resume or abort of `key`'s rollout: read the flag, decide (controlRollout), write it back. With
 * `ifMatch` or `ifNoneMatch` the write holds only under them; without, it is conditional on the revision read, and
 * when another writer got there first it reads and decides again, 3 tries in all. Rejects with StoreNotFoundError when
 * there is no such flag, and with StoreConflictError when the preconditions fail (the caller's, or the last try's).
 */
export async function applyRolloutControl(
  store: FlagStore,
  key: string,
  control: RolloutControl,
  options: ControlWrite,
): Promise<AppliedControl> {
  const { now, reason, ...write } = options;
  const given = write.ifMatch !== undefined || write.ifNoneMatch !== undefined;
  for (let attempt = 1; ; attempt++) {
    const stored = await store.get(key);
    if (!stored) throw new StoreNotFoundError(key);
    const result = controlRollout(stored.flag, control, now, reason);
    if ("error" in result) return result;
    try {
      const written = await store.put(result.flag, given ? write : { ...write, ifMatch: stored.revision });
      return { written, summary: result.reason };
    } catch (error) {
      if (!(error instanceof StoreConflictError) || given || attempt >= CONTROL_TRIES) throw error;
    }
  }
}
