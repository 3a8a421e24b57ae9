// The compiled rule set kept in memory between store checks: one cheap version call per TTL, stale-while-down.
/*
 * Pure logic (the clock is injected, no timers): it runs unchanged in Node, Lambda and edge isolates.
 * Freshness is measured from the last successful check, not from the load: rules confirmed unchanged a second
 * ago are a second old even when they were loaded an hour ago.
 * Hung stores: the cache has no timer of its own; it relies on every store call settling, as the Upstash store's
 * do within GREENLIGHT_UPSTASH_TIMEOUT (upstash-store.ts). A call that times out is a failed check like any other:
 * the last good rules keep being served within maxStaleMs, the single flight is released when the check settles,
 * and the next caller after the TTL starts a new check rather than joining a stuck one. A store whose calls could
 * hang forever would hold every caller of current() with them (and /healthz, which asks the cache first).
 * Usage counts (opt-in, `usage`): the cache owns the instance's UsageCounter (usage.ts), which the OFREP endpoints
 * feed, and flushes it from current(): when a flush is due (at most one per flush interval, itself at least the
 * TTL) and none is in flight, current() schedules it without awaiting it, handing the promise to `defer` (the
 * edge's waitUntil); the counts are taken and store.recordUsage called from a timer task, after the request is
 * answered. A flush that fails is dropped: its counts are not put back and it is not retried, so a store that is
 * down costs at most one failed call per interval and never holds up a request.
 */
import type { Eventually } from "../http/message.ts";
import { type CompiledRuleSet, compileRuleSet } from "./evaluate.ts";
import type { FlagStore, RuleSet } from "./types.ts";
import { createUsageCounter, DEFAULT_USAGE_FLUSH_MS, type UsageCounter, type UsageOptions } from "./usage.ts";

export type { UsageOptions };

export interface RuleCacheOptions {
  /** How long a successful check holds before the store is asked again; default 5 s. */
  ttlMs?: number;
  /** How long the last good rules are served while the store cannot be reached; default 10 min. */
  maxStaleMs?: number;
  now?: () => number;
  /** Count OFREP evaluations and flush them to the store (when it has recordUsage); absent: nothing is counted. */
  usage?: UsageOptions;
}

export interface RuleSnapshot {
  readonly set: CompiledRuleSet;
  readonly ruleSet: RuleSet;
  /** When this snapshot was loaded (ms since the epoch, by the cache's clock). */
  readonly loadedAt: number;
}

export interface RuleCacheHealth {
  status: "ok" | "degraded" | "unavailable";
  store: string;
  version?: number;
  /** Time since the rules were last confirmed current by the store. */
  ageMs?: number;
  lastError?: string;
  storeCalls: number;
  /** Present while evaluations are counted. */
  usage?: UsageHealth;
}

export interface UsageHealth {
  /** Flushes the store took. */
  flushes: number;
  /** Flushes that failed: their counts were dropped. */
  failedFlushes: number;
  /** Evaluations left uncounted because the counter was full (usage.ts's maxKeys). */
  droppedEvaluations: number;
  /** Why the last flush failed, until one succeeds. */
  lastFlushError?: string;
}

export interface RuleCache {
  /**
   * The rules to evaluate with, or undefined when there are none fit to serve. At once when no check of the store
   * is due (within the TTL), so the hot path waits for nothing; a promise that never rejects when one is.
   */
  current(): Eventually<RuleSnapshot | undefined>;
  health(): RuleCacheHealth;
  /** The next current() asks the store, even within the TTL (after a write through this process). */
  invalidate(): void;
  /** Every call made to the store, failed ones included. */
  readonly storeCalls: number;
  /** Where the OFREP endpoints count evaluations; absent when this cache does not count. */
  readonly usage?: UsageCounter;
  /**
   * Flushes the counts if a flush is due (or at once with `force`), after any flush in flight; never rejects. For a
   * Node server's idle timer and its shutdown: requests trigger flushes on their own.
   */
  flushUsage?(options?: { force?: boolean }): Promise<void>;
}

export const DEFAULT_CACHE_TTL_MS = 5_000;
export const DEFAULT_MAX_STALE_MS = 600_000;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function createRuleCache(store: FlagStore, options: RuleCacheOptions = {}): RuleCache {
  const ttlMs = options.ttlMs ?? DEFAULT_CACHE_TTL_MS;
  const maxStaleMs = options.maxStaleMs ?? DEFAULT_MAX_STALE_MS;
  const now = options.now ?? Date.now;

  let snapshot: RuleSnapshot | undefined;
  let verifiedAt = 0; // last successful check: the snapshot's age counts from here
  let checkedAt = Number.NEGATIVE_INFINITY; // last check, successful or not: retries wait a TTL from here
  let lastError: string | undefined;
  let storeCalls = 0;
  // invalidate() bumps `generation`; a check only counts as fresh for the generation it started in.
  let generation = 0;
  let checkedGeneration = -1;
  let inflight: { promise: Promise<void>; generation: number } | undefined;

  // Usage: counted only when asked for and when the store can keep it.
  const usage =
    options.usage !== undefined && store.recordUsage !== undefined
      ? createUsageCounter({
          since: now(),
          ...(options.usage.maxKeys === undefined ? {} : { maxKeys: options.usage.maxKeys }),
          ...(options.usage.maxAnswers === undefined ? {} : { maxAnswers: options.usage.maxAnswers }),
        })
      : undefined;
  const flushMs = Math.max(ttlMs, options.usage?.flushIntervalMs ?? DEFAULT_USAGE_FLUSH_MS);
  const defer = options.usage?.defer;
  let flushedAt = now(); // the last flush started (or the counter was created): the next waits flushMs from here
  let flushing: Promise<void> | undefined;
  let flushes = 0;
  let failedFlushes = 0;
  let lastFlushError: string | undefined;

  /**
   * Starts a flush: from a timer task, so the request that started it is answered first (the take, which expands the
   * counts, and the store call both run after it); the promise never rejects and no request awaits it.
   */
  function startFlush(at: number): Promise<void> {
    flushedAt = at;
    const record = store.recordUsage?.bind(store);
    const promise: Promise<void> = new Promise<void>((resolve) => setTimeout(resolve, 0))
      .then(async () => {
        const batch = usage?.take();
        if (batch === undefined || record === undefined) return;
        storeCalls++;
        try {
          await record(batch);
          flushes++;
          lastFlushError = undefined;
        } catch (error) {
          // Dropped: its counts are gone, and nothing retries it.
          failedFlushes++;
          lastFlushError = messageOf(error);
        }
      })
      .finally(() => {
        if (flushing === promise) flushing = undefined;
      });
    flushing = promise;
    defer?.(promise);
    return promise;
  }

  /** Whether the store must be asked before serving at `at`; starts a usage flush when one is due. */
  function checkDue(at: number): boolean {
    if (usage?.pending && flushing === undefined && at - flushedAt >= flushMs) void startFlush(at);
    return checkedGeneration !== generation || at - checkedAt >= ttlMs;
  }

  const servable = (at: number): RuleSnapshot | undefined =>
    snapshot !== undefined && at - verifiedAt <= maxStaleMs ? snapshot : undefined;

  async function check(startedIn: number): Promise<void> {
    try {
      storeCalls++;
      const version = await store.version();
      if (snapshot === undefined || version !== snapshot.ruleSet.version) {
        storeCalls++;
        const ruleSet = await store.load();
        snapshot = { set: compileRuleSet(ruleSet), ruleSet, loadedAt: now() };
      }
      verifiedAt = now();
      lastError = undefined;
    } catch (error) {
      lastError = messageOf(error);
    } finally {
      checkedAt = now();
      checkedGeneration = startedIn;
    }
  }

  /**
   * Single flight: concurrent callers share one check; a check begun before an invalidate() is not reused. The slot
   * is freed when the check settles (check() never rejects), so a failed or timed-out check is never shared again.
   */
  function refresh(): Promise<void> {
    if (inflight && inflight.generation === generation) return inflight.promise;
    const previous = inflight?.promise;
    const startedIn = generation;
    const promise = (previous ? previous.then(() => check(startedIn)) : check(startedIn)).finally(() => {
      if (inflight?.promise === promise) inflight = undefined;
    });
    inflight = { promise, generation: startedIn };
    return promise;
  }

  return {
    current() {
      const at = now();
      return checkDue(at) ? refresh().then(() => servable(now())) : servable(at);
    },
    health() {
      const at = now();
      const served = servable(at);
      const status = served === undefined ? "unavailable" : lastError === undefined ? "ok" : "degraded";
      return {
        status,
        store: store.kind,
        ...(snapshot ? { version: snapshot.ruleSet.version, ageMs: Math.max(0, at - verifiedAt) } : {}),
        ...(lastError === undefined ? {} : { lastError }),
        storeCalls,
        ...(usage === undefined
          ? {}
          : {
              usage: {
                flushes,
                failedFlushes,
                droppedEvaluations: usage.dropped,
                ...(lastFlushError === undefined ? {} : { lastFlushError }),
              },
            }),
      };
    },
    invalidate() {
      generation++;
    },
    get storeCalls() {
      return storeCalls;
    },
    ...(usage === undefined
      ? {}
      : {
          usage,
          async flushUsage(flushOptions: { force?: boolean } = {}) {
            if (flushing) await flushing;
            if (flushOptions.force || now() - flushedAt >= flushMs) await startFlush(now());
          },
        }),
  };
}
