// The flag settings from the environment, read in this one place for the Lambda, the edge entry, `flags serve` and
// the local stack; edge-safe (no Node built-ins), so the Node-only file store is chosen in ./config.ts, not here.
import { type Env, readSettingOr, SettingError, settingValue } from "../contract/settings.ts";
import { parseInteger } from "../contract/values.ts";
import type { HttpCore } from "../http/message.ts";
import { createRuleCache } from "./cache.ts";
import {
  EDGE_ENV,
  MISSING_UPSTASH_MESSAGE,
  type OfrepSettings,
  ofrepSettingsFromEnv,
  secret,
  upstashCredentials,
  upstashTimeoutMs,
} from "./edge-env.ts";
import { createFlagCore, createUnavailableCore, type FlagHttpOptions } from "./http/handler.ts";
import { type AdminTokens, adminTokensOf } from "./http/tokens.ts";
import { type FlagLimits, memoryLimits, type Rates } from "./limits.ts";
import { DEFAULT_UNUSED_DAYS, MAX_STALE_DAYS } from "./stale.ts";
import type { FlagStore } from "./types.ts";
import { upstashLimits } from "./upstash-limits.ts";
import { createUpstashClient, createUpstashStore, type UpstashStoreOptions } from "./upstash-store.ts";
import { usageOptionsFromEnv } from "./usage.ts";

export type { Env };
export { MISSING_UPSTASH_MESSAGE, upstashTimeoutMs };

export const ENV = {
  adminToken: "GREENLIGHT_ADMIN_TOKEN",
  adminTokens: "GREENLIGHT_ADMIN_TOKENS",
  ...EDGE_ENV,
  flagsDir: "GREENLIGHT_FLAGS_DIR",
  unusedDays: "GREENLIGHT_FLAGS_UNUSED_DAYS",
} as const;

/** A bad environment variable: the shared SettingError (one line naming it and what is accepted). */
export const FlagConfigError = SettingError;
export type FlagConfigError = SettingError;

export interface FlagSettings extends OfrepSettings {
  /**
   * GREENLIGHT_ADMIN_TOKEN alone, for a handler given only `adminToken`; `adminTokens` holds it too (labelled "admin"),
   * and a handler given both uses `adminTokens`.
   */
  adminToken?: string;
  /** Every accepted admin token, from GREENLIGHT_ADMIN_TOKEN and GREENLIGHT_ADMIN_TOKENS; absent: admin API off. */
  adminTokens?: AdminTokens;
}

/** An unset or blank variable counts as absent (deployment templates often pass '' for "not configured"). */
export const envValue = settingValue;

/** Everything but the store: the admin tokens first, then what every flag core reads (edge-env.ts). */
export function flagSettingsFromEnv(env: Env): FlagSettings {
  const adminToken = secret(env, ENV.adminToken);
  const tokens = adminTokensOf(adminToken, envValue(env, ENV.adminTokens));
  if (!tokens.ok) throw new FlagConfigError(tokens.message);
  const shared = ofrepSettingsFromEnv(env);
  return {
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(tokens.tokens === undefined ? {} : { adminTokens: tokens.tokens }),
    ...shared,
  };
}

/**
 * GREENLIGHT_FLAGS_UNUSED_DAYS: the stale report's default for "not evaluated for N days", 1 to 3650 (default 30).
 * Read apart from flagSettingsFromEnv (whose answer other code compares whole), as GREENLIGHT_FLAGS_USAGE_FLUSH is
 * (usage.ts's usageOptionsFromEnv, which the edge shares).
 */
export function unusedDaysFromEnv(env: Env): number {
  return readSettingOr(env, ENV.unusedDays, (raw) => parseInteger(raw, 1, MAX_STALE_DAYS), DEFAULT_UNUSED_DAYS);
}

/**
 * The Upstash store when UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are both set, undefined when neither
 * is (the caller falls back to the file store); one of them alone is a configuration error.
 */
export function upstashStoreFromEnv(
  env: Record<string, string | undefined>,
  options: UpstashStoreOptions = {},
): FlagStore | undefined {
  return upstashFromEnv(env, options)?.store;
}

/** The Upstash store and the abuse limits counted in the same database (see upstashStoreFromEnv). */
function upstashFromEnv(
  env: Record<string, string | undefined>,
  options: UpstashStoreOptions = {},
  rates: Rates = {},
): { store: FlagStore; limits: FlagLimits } | undefined {
  const credentials = upstashCredentials(env);
  if (credentials === undefined) return undefined;
  const client = createUpstashClient({ ...credentials, timeoutMs: upstashTimeoutMs(env) });
  // OFREP is counted in the instance's memory even here: a Redis call per evaluation would undo the rule cache (one
  // store call per TTL, none per evaluation). Admin requests and failed logins are few and worth sharing across
  // instances, so token guessing spread over instances is still counted as one.
  const { ofrep, ...shared } = rates;
  const limits = { ...upstashLimits(client, shared), ...memoryLimits(ofrep ? { ofrep } : {}) };
  return { store: createUpstashStore(client, options), limits };
}

/** The Upstash store's host, for messages: the URL may carry credentials or a path we have no reason to print. */
function hostOf(url: string | undefined): string {
  try {
    return url === undefined ? "?" : new URL(url).host;
  } catch {
    return "?";
  }
}

/** Where the flags live: Upstash when configured, else the file store's directory as set (undefined: the default). */
export type FlagPlace =
  | { kind: "upstash"; store: FlagStore; limits: FlagLimits; host: string }
  | { kind: "files"; dir: string | undefined };

/** Throws (one line naming the variable) when only one of the Upstash variables is set or the URL is not one. */
export function flagPlaceFromEnv(env: Env, rates: Rates = {}): FlagPlace {
  const upstash = upstashFromEnv(env, {}, rates);
  if (upstash) return { kind: "upstash", ...upstash, host: hostOf(envValue(env, ENV.upstashUrl)) };
  return { kind: "files", dir: envValue(env, ENV.flagsDir) };
}

/**
 * The flags core where there is no disk (Lambda, edge): the Upstash store and the settings, no file-store fallback.
 * Without the Upstash variables, or with a bad value, every request answers 503 with the reason, rather than
 * failing the cold start where only the platform's logs would say why.
 */
export function upstashFlagCore(env: Env, wrap: { wrapStore?: (store: FlagStore) => FlagStore } = {}): HttpCore {
  try {
    const { rates, ...settings } = flagSettingsFromEnv(env);
    const upstash = upstashFromEnv(env, {}, rates);
    if (!upstash) return createUnavailableCore(MISSING_UPSTASH_MESSAGE, settings.corsOrigins);
    const { limits } = upstash;
    // The Lambda entry wraps the store to notify flag writes (functions/notify); the edge passes nothing.
    const store = wrap.wrapStore ? wrap.wrapStore(upstash.store) : upstash.store;
    // Counted per instance and flushed off the request path (cache.ts); a frozen Lambda's flush in flight finishes
    // when the instance thaws, or times out then and is dropped (docs/FLAGS.md, Usage counts).
    const usage = usageOptionsFromEnv(env, settings.ttlMs);
    const cache = createRuleCache(store, {
      ttlMs: settings.ttlMs,
      maxStaleMs: settings.maxStaleMs,
      ...(usage === undefined ? {} : { usage }),
    });
    const options: FlagHttpOptions = {
      store,
      cache,
      limits,
      ...settings,
      unusedDays: unusedDaysFromEnv(env),
    };
    return createFlagCore(options);
  } catch (error) {
    return createUnavailableCore(`flags are misconfigured: ${(error as Error).message}`);
  }
}
