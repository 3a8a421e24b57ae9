// The flag server's configuration from the environment (Node): the store, its rule cache and the HTTP settings.
import { resolve } from "node:path";
import { createRuleCache, type RuleCache } from "./cache.ts";
import { EXAMPLE_FLAGS } from "./examples.ts";
import { createFileStore, DEFAULT_FLAGS_DIR } from "./file-store.ts";
import { ENV, type Env, envValue, flagSettingsFromEnv } from "./http/env.ts";
import type { FlagStore } from "./types.ts";
import { upstashStoreFromEnv } from "./upstash-store.ts";

export interface FlagsConfig {
  store: FlagStore;
  cache: RuleCache;
  adminToken?: string;
  evaluationApiKey?: string;
  corsOrigins: string[];
  ttlMs: number;
  maxStaleMs: number;
  /** Where the flags live (store and place), for messages; never contains a secret. */
  where: string;
  /** `where` plus how they are cached, for a server's startup line. */
  describe: string;
}

const seconds = (ms: number): string => `${ms / 1000}s`;

/** The Upstash store's host, for `describe`: the URL may carry credentials or a path we have no reason to print. */
function hostOf(url: string | undefined): string {
  try {
    return url === undefined ? "?" : new URL(url).host;
  } catch {
    return "?";
  }
}

/**
 * The Upstash store when both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are set, else the embedded file
 * store in GREENLIGHT_FLAGS_DIR (default `<cwd>/.greenlight`), seeded with the example flags on first use.
 * Throws FlagConfigError (one line naming the variable and what is accepted) on a bad value.
 */
export function flagsConfigFromEnv(env: Env, options: { cwd: string }): FlagsConfig {
  const settings = flagSettingsFromEnv(env);
  let store: FlagStore;
  let where: string;
  const upstash = upstashStoreFromEnv(env);
  if (upstash) {
    store = upstash;
    where = `Upstash Redis at ${hostOf(envValue(env, ENV.upstashUrl))}`;
  } else {
    const dir = resolve(options.cwd, envValue(env, ENV.flagsDir) ?? DEFAULT_FLAGS_DIR);
    store = createFileStore({ dir, seed: EXAMPLE_FLAGS });
    where = `files in ${dir}`;
  }
  const cache = createRuleCache(store, { ttlMs: settings.ttlMs, maxStaleMs: settings.maxStaleMs });
  return {
    store,
    cache,
    ...settings,
    where,
    describe: `${where}, rules cached ${seconds(settings.ttlMs)}, served stale up to ${seconds(settings.maxStaleMs)}`,
  };
}
