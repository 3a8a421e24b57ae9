// The Node flag server (`flags serve`, the local stack): its store, rule cache and HTTP settings, as ./env.ts reads
// them from the environment; Node-only (the file store), so the Lambda and edge entries use ./env.ts alone.
import { resolve } from "node:path";
import { notifierFromEnv } from "../notify/env.ts";
import { notifyingStore } from "../notify/flags.ts";
import { createRuleCache, type RuleCache } from "./cache.ts";
import { type Env, flagPlaceFromEnv, flagSettingsFromEnv, unusedDaysFromEnv } from "./env.ts";
import { EXAMPLE_FLAGS } from "./examples.ts";
import { createFileStore, DEFAULT_FLAGS_DIR } from "./file-store.ts";
import type { FlagHttpOptions } from "./http/handler.ts";
import type { AdminTokens } from "./http/tokens.ts";
import { type FlagLimits, memoryLimits } from "./limits.ts";
import { isRolloutHold } from "./rollout/plan.ts";
import type { FlagStore } from "./types.ts";
import { usageOptionsFromEnv } from "./usage.ts";

export interface FlagsConfig {
  store: FlagStore;
  cache: RuleCache;
  /** GREENLIGHT_ADMIN_TOKEN alone; `adminTokens` has it too, with GREENLIGHT_ADMIN_TOKENS' (see FlagSettings). */
  adminToken?: string;
  adminTokens?: AdminTokens;
  evaluationApiKey?: string;
  corsOrigins: string[];
  bodyLimitBytes: number;
  /** Counted in Upstash with the Upstash store, else in this process's memory. */
  limits: FlagLimits;
  ttlMs: number;
  maxStaleMs: number;
  /** The stale report's default for "not evaluated for N days" (GREENLIGHT_FLAGS_UNUSED_DAYS). */
  unusedDays: number;
  /** Where the flags live (store and place), for messages; never contains a secret. */
  where: string;
  /** `where` plus how they are cached, for a server's startup line. */
  describe: string;
}

const seconds = (ms: number): string => `${ms / 1000}s`;

/**
 * The Upstash store when both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are set, else the embedded file
 * store in GREENLIGHT_FLAGS_DIR (default `<cwd>/.greenlight`), seeded with the example flags on first use.
 * Throws FlagConfigError (one line naming the variable and what is accepted) on a bad value.
 */
export function flagsConfigFromEnv(env: Env, options: { cwd: string }): FlagsConfig {
  const { rates, ...settings } = flagSettingsFromEnv(env);
  let store: FlagStore;
  let limits: FlagLimits;
  let where: string;
  const place = flagPlaceFromEnv(env, rates);
  if (place.kind === "upstash") {
    store = place.store;
    limits = place.limits;
    where = `Upstash Redis at ${place.host}`;
  } else {
    const dir = resolve(options.cwd, place.dir ?? DEFAULT_FLAGS_DIR);
    store = createFileStore({ dir, seed: EXAMPLE_FLAGS });
    limits = memoryLimits(rates);
    where = `files in ${dir}`;
  }
  // Every successful put and delete is told to the receivers the environment names (functions/notify), if any.
  const notifier = notifierFromEnv(env);
  if (notifier) store = notifyingStore(store, notifier, { quiet: isRolloutHold });
  // Usage counts flushed off the request path (cache.ts); `flags serve` also flushes on an idle timer and at exit.
  const usage = usageOptionsFromEnv(env, settings.ttlMs);
  const cache = createRuleCache(store, {
    ttlMs: settings.ttlMs,
    maxStaleMs: settings.maxStaleMs,
    ...(usage === undefined ? {} : { usage }),
  });
  return {
    store,
    cache,
    limits,
    ...settings,
    unusedDays: unusedDaysFromEnv(env),
    where,
    describe: `${where}, rules cached ${seconds(settings.ttlMs)}, served stale up to ${seconds(settings.maxStaleMs)}`,
  };
}

/** The flag core's options from the config: what `flags serve` and the local stack both run. */
export function flagHttpOptions(config: FlagsConfig, extra: Partial<FlagHttpOptions> = {}): FlagHttpOptions {
  return {
    store: config.store,
    cache: config.cache,
    ...(config.adminTokens ? { adminTokens: config.adminTokens } : {}),
    limits: config.limits,
    bodyLimitBytes: config.bodyLimitBytes,
    ...(config.evaluationApiKey ? { evaluationApiKey: config.evaluationApiKey } : {}),
    corsOrigins: config.corsOrigins,
    unusedDays: config.unusedDays,
    ...extra,
  };
}
