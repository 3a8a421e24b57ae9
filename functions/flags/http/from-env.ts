// The flags handler of a deployment without a disk (Lambda, edge): the Upstash store and the settings from env.
import { createRuleCache } from "../cache.ts";
import { upstashStoreFromEnv } from "../upstash-store.ts";
import { type Env, flagSettingsFromEnv, MISSING_UPSTASH_MESSAGE } from "./env.ts";
import { createFlagHandler, createUnavailableHandler, type FlagHandler } from "./handler.ts";

/**
 * There is no file-store fallback here: without the Upstash variables, or with a bad value, every request answers
 * 503 with the reason, rather than failing the cold start where only the platform's logs would say why.
 */
export function upstashFlagHandler(env: Env): FlagHandler {
  try {
    const settings = flagSettingsFromEnv(env);
    const store = upstashStoreFromEnv(env);
    if (!store) return createUnavailableHandler(MISSING_UPSTASH_MESSAGE, settings.corsOrigins);
    const cache = createRuleCache(store, { ttlMs: settings.ttlMs, maxStaleMs: settings.maxStaleMs });
    return createFlagHandler({ store, cache, ...settings });
  } catch (error) {
    return createUnavailableHandler(`flags are misconfigured: ${(error as Error).message}`);
  }
}
