// The flags core of a deployment without a disk (Lambda, edge): the Upstash store and the settings from env.
import { createRuleCache } from "../cache.ts";
import { upstashStoreFromEnv } from "../upstash-store.ts";
import { type Env, flagSettingsFromEnv, MISSING_UPSTASH_MESSAGE } from "./env.ts";
import { createFlagCore, createUnavailableCore, type FlagCore } from "./handler.ts";

/**
 * There is no file-store fallback here: without the Upstash variables, or with a bad value, every request answers
 * 503 with the reason, rather than failing the cold start where only the platform's logs would say why.
 */
export function upstashFlagCore(env: Env): FlagCore {
  try {
    const settings = flagSettingsFromEnv(env);
    const store = upstashStoreFromEnv(env);
    if (!store) return createUnavailableCore(MISSING_UPSTASH_MESSAGE, settings.corsOrigins);
    const cache = createRuleCache(store, { ttlMs: settings.ttlMs, maxStaleMs: settings.maxStaleMs });
    return createFlagCore({ store, cache, ...settings });
  } catch (error) {
    return createUnavailableCore(`flags are misconfigured: ${(error as Error).message}`);
  }
}
