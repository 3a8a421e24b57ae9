// The flag settings from the environment, read in this one place for the Lambda, the edge entry, `flags serve` and
// the local stack; edge-safe (no Node built-ins), so the Node-only file store is chosen in ./config.ts, not here.
import { type Env, readSetting, readSettingOr, SettingError, settingValue } from "../contract/settings.ts";
import { parseByteSize, parseDuration } from "../contract/values.ts";
import type { HttpCore } from "../http/message.ts";
import { createRuleCache, DEFAULT_CACHE_TTL_MS, DEFAULT_MAX_STALE_MS } from "./cache.ts";
import { createFlagCore, createUnavailableCore, DEFAULT_BODY_LIMIT_BYTES } from "./http/handler.ts";
import { type AdminTokens, adminTokensOf } from "./http/tokens.ts";
import { type FlagLimits, memoryLimits, type Rates, ratesFromEnv } from "./limits.ts";
import type { FlagStore } from "./types.ts";
import { upstashLimits } from "./upstash-limits.ts";
import {
  createUpstashClient,
  createUpstashStore,
  DEFAULT_UPSTASH_TIMEOUT_MS,
  type UpstashStoreOptions,
} from "./upstash-store.ts";

export type { Env };

export const ENV = {
  adminToken: "GREENLIGHT_ADMIN_TOKEN",
  adminTokens: "GREENLIGHT_ADMIN_TOKENS",
  apiKey: "GREENLIGHT_FLAGS_API_KEY",
  corsOrigins: "GREENLIGHT_FLAGS_CORS_ORIGINS",
  cacheTtl: "GREENLIGHT_FLAGS_CACHE_TTL",
  maxStale: "GREENLIGHT_FLAGS_MAX_STALE",
  bodyLimit: "GREENLIGHT_FLAGS_BODY_LIMIT",
  flagsDir: "GREENLIGHT_FLAGS_DIR",
  upstashUrl: "UPSTASH_REDIS_REST_URL",
  upstashToken: "UPSTASH_REDIS_REST_TOKEN",
  upstashTimeout: "GREENLIGHT_UPSTASH_TIMEOUT",
} as const;

/** A bad environment variable: the shared SettingError (one line naming it and what is accepted). */
export const FlagConfigError = SettingError;
export type FlagConfigError = SettingError;

export interface FlagSettings {
  /**
   * GREENLIGHT_ADMIN_TOKEN alone, for a handler given only `adminToken`; `adminTokens` holds it too (labelled "admin"),
   * and a handler given both uses `adminTokens`.
   */
  adminToken?: string;
  /** Every accepted admin token, from GREENLIGHT_ADMIN_TOKEN and GREENLIGHT_ADMIN_TOKENS; absent: admin API off. */
  adminTokens?: AdminTokens;
  evaluationApiKey?: string;
  corsOrigins: string[];
  ttlMs: number;
  maxStaleMs: number;
  /** The largest request body (GREENLIGHT_FLAGS_BODY_LIMIT), default 64 KiB. */
  bodyLimitBytes: number;
  /** The abuse limits' rates (GREENLIGHT_RATE_LIMIT*); each store counts them its own way. */
  rates: Rates;
}

/** An unset or blank variable counts as absent (deployment templates often pass '' for "not configured"). */
export const envValue = settingValue;

function secret(env: Env, name: string): string | undefined {
  const value = envValue(env, name);
  if (value !== undefined && /\s/.test(value)) {
    throw new FlagConfigError(`${name} is invalid; accepted: a token without spaces (it is sent as a bearer token)`);
  }
  return value;
}

const durationMs = (env: Env, name: string, fallbackMs: number): number =>
  readSettingOr(env, name, parseDuration, fallbackMs / 1000) * 1000;

/** The Upstash request deadline: whole milliseconds or seconds (sub-second values matter here), 10 ms to 60 s. */
export function upstashTimeoutMs(env: Env): number {
  const raw = envValue(env, ENV.upstashTimeout);
  if (raw === undefined) return DEFAULT_UPSTASH_TIMEOUT_MS;
  const match = /^(\d{1,6})(ms|s)$/.exec(raw);
  const ms = match ? Number(match[1]) * (match[2] === "s" ? 1000 : 1) : Number.NaN;
  if (!(ms >= 10 && ms <= 60_000)) {
    throw new FlagConfigError(
      `${ENV.upstashTimeout}=${JSON.stringify(raw)} is invalid; accepted: how long one Upstash request may take, ` +
        'from 10ms to 60s, in ms or s, e.g. "500ms", "2s"',
    );
  }
  return ms;
}

const ORIGIN = /^https?:\/\/[^/\s?#]+$/;

function corsOrigins(env: Env): string[] {
  const raw = envValue(env, ENV.corsOrigins);
  if (raw === undefined) return ["*"];
  const origins = raw
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  const bad = origins.find((origin) => origin !== "*" && !ORIGIN.test(origin));
  if (bad !== undefined || origins.length === 0) {
    throw new FlagConfigError(
      `${ENV.corsOrigins}=${JSON.stringify(raw)} is invalid; accepted: * or a comma-separated list of origins ` +
        `like https://app.example.com,http://localhost:3000 (scheme and host, no path)`,
    );
  }
  return origins;
}

/** Everything but the store. Throws FlagConfigError on the first bad variable. */
export function flagSettingsFromEnv(env: Env): FlagSettings {
  const adminToken = secret(env, ENV.adminToken);
  const tokens = adminTokensOf(adminToken, envValue(env, ENV.adminTokens));
  if (!tokens.ok) throw new FlagConfigError(tokens.message);
  const evaluationApiKey = secret(env, ENV.apiKey);
  const ttlMs = durationMs(env, ENV.cacheTtl, DEFAULT_CACHE_TTL_MS);
  const maxStaleMs = durationMs(env, ENV.maxStale, DEFAULT_MAX_STALE_MS);
  // Rules are re-checked once per TTL; a shorter staleness bound would expire healthy rules between two checks.
  if (maxStaleMs < ttlMs) {
    throw new FlagConfigError(
      `${ENV.maxStale} (${maxStaleMs / 1000}s) must be at least ${ENV.cacheTtl} (${ttlMs / 1000}s): rules are only ` +
        "re-checked once per TTL, so a shorter bound would refuse healthy rules",
    );
  }
  const rates = ratesFromEnv(env);
  if (!rates.ok) throw new FlagConfigError(rates.message);
  const bodyLimit = readSetting(env, ENV.bodyLimit, (raw) => parseByteSize(raw, 1024, 10 * 1024 * 1024));
  return {
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(tokens.tokens === undefined ? {} : { adminTokens: tokens.tokens }),
    ...(evaluationApiKey === undefined ? {} : { evaluationApiKey }),
    corsOrigins: corsOrigins(env),
    ttlMs,
    maxStaleMs,
    bodyLimitBytes: bodyLimit ?? DEFAULT_BODY_LIMIT_BYTES,
    rates: rates.rates,
  };
}

/** Why there is no store where a durable one is required (Lambda, edge), with what to set. */
export const MISSING_UPSTASH_MESSAGE =
  `no flag store configured: set ${ENV.upstashUrl} and ${ENV.upstashToken} ` +
  "(the Upstash Redis REST URL and token); there is no durable disk here for the file store";

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
  const url = env.UPSTASH_REDIS_REST_URL?.trim() ?? "";
  const token = env.UPSTASH_REDIS_REST_TOKEN?.trim() ?? "";
  if (url === "" && token === "") return undefined;
  if (url === "" || token === "") {
    const [set, missing] = url === "" ? ["TOKEN", "URL"] : ["URL", "TOKEN"];
    throw new Error(
      `UPSTASH_REDIS_REST_${set} is set but UPSTASH_REDIS_REST_${missing} is not: set both (from the Upstash console's REST API section) or neither to use the file store`,
    );
  }
  if (!/^https?:\/\/[^\s/?#]+/.test(url)) {
    throw new Error(
      `UPSTASH_REDIS_REST_URL must be the database's REST URL, like https://eu1-example-12345.upstash.io, got ${JSON.stringify(url)}`,
    );
  }
  const client = createUpstashClient({ url, token, timeoutMs: upstashTimeoutMs(env) });
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
export function upstashFlagCore(env: Env): HttpCore {
  try {
    const { rates, ...settings } = flagSettingsFromEnv(env);
    const upstash = upstashFromEnv(env, {}, rates);
    if (!upstash) return createUnavailableCore(MISSING_UPSTASH_MESSAGE, settings.corsOrigins);
    const { store, limits } = upstash;
    const cache = createRuleCache(store, { ttlMs: settings.ttlMs, maxStaleMs: settings.maxStaleMs });
    return createFlagCore({ store, cache, limits, ...settings });
  } catch (error) {
    return createUnavailableCore(`flags are misconfigured: ${(error as Error).message}`);
  }
}
