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
 */
import { type CompiledRuleSet, compileRuleSet } from "./evaluate.ts";
import type { FlagStore, RuleSet } from "./types.ts";

export interface RuleCacheOptions {
  /** How long a successful check holds before the store is asked again; default 5 s. */
  ttlMs?: number;
  /** How long the last good rules are served while the store cannot be reached; default 10 min. */
  maxStaleMs?: number;
  now?: () => number;
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
}

export interface RuleCache {
  /** The rules to evaluate with, or undefined when there are none fit to serve. Never rejects. */
  current(): Promise<RuleSnapshot | undefined>;
  health(): RuleCacheHealth;
  /** The next current() asks the store, even within the TTL (after a write through this process). */
  invalidate(): void;
  /** Every call made to the store, failed ones included. */
  readonly storeCalls: number;
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
    async current() {
      if (checkedGeneration !== generation || now() - checkedAt >= ttlMs) await refresh();
      return servable(now());
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
      };
    },
    invalidate() {
      generation++;
    },
    get storeCalls() {
      return storeCalls;
    },
  };
}
