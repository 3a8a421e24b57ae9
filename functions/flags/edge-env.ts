// The OFREP-only flag core from the environment, for edge isolates (Cloudflare Workers, Vercel Edge): Upstash store,
// rule cache, the OFREP abuse limit in memory, and every setting of env.ts except the admin API's.
/*
 * The settings every flag core shares are read here, and env.ts (the Lambda, `flags serve`, the local stack) builds
 * on them, never the reverse: env.ts reads the admin tokens (http/tokens.ts), builds the full core (handler.ts, so
 * admin.ts and the validator) and the shared admin limits (@upstash/ratelimit, a CommonJS package a bundler keeps
 * whole once it is imported at all), and importing even one constant from it brings about 40 KB of that into an edge
 * bundle. The admin variables are not read here: at the edge there is no admin API for them to open (ofrep-core.ts
 * says where it is).
 */
import { type Env, readSetting, readSettingOr, SettingError, settingValue } from "../contract/settings.ts";
import { parseByteSize, parseDuration } from "../contract/values.ts";
import type { HttpCore } from "../http/message.ts";
import { createRuleCache, DEFAULT_CACHE_TTL_MS, DEFAULT_MAX_STALE_MS } from "./cache.ts";
import { createUnavailableCore, DEFAULT_BODY_LIMIT_BYTES } from "./http/core.ts";
import { createOfrepCore } from "./http/ofrep-core.ts";
import { memoryLimits, type Rates, ratesFromEnv } from "./limits.ts";
import { createUpstashClient, createUpstashStore, DEFAULT_UPSTASH_TIMEOUT_MS } from "./upstash-store.ts";
import { USAGE_FLUSH_VARIABLE, type UsageOptions, usageOptionsFromEnv } from "./usage.ts";

/** The variables read here; env.ts's ENV adds the admin tokens, the file store's directory and the stale report's. */
export const EDGE_ENV = {
  apiKey: "GREENLIGHT_FLAGS_API_KEY",
  corsOrigins: "GREENLIGHT_FLAGS_CORS_ORIGINS",
  cacheTtl: "GREENLIGHT_FLAGS_CACHE_TTL",
  maxStale: "GREENLIGHT_FLAGS_MAX_STALE",
  bodyLimit: "GREENLIGHT_FLAGS_BODY_LIMIT",
  upstashUrl: "UPSTASH_REDIS_REST_URL",
  upstashToken: "UPSTASH_REDIS_REST_TOKEN",
  upstashTimeout: "GREENLIGHT_UPSTASH_TIMEOUT",
  usageFlush: USAGE_FLUSH_VARIABLE,
} as const;

/** The settings every flag core reads (env.ts adds the admin API's and the file store's to these). */
export interface OfrepSettings {
  evaluationApiKey?: string;
  corsOrigins: string[];
  ttlMs: number;
  maxStaleMs: number;
  bodyLimitBytes: number;
  /** The abuse limits' rates (GREENLIGHT_RATE_LIMIT*); an OFREP-only core uses `ofrep` alone. */
  rates: Rates;
}

/** Why there is no store where a durable one is required (Lambda, edge), with what to set. */
export const MISSING_UPSTASH_MESSAGE =
  `no flag store configured: set ${EDGE_ENV.upstashUrl} and ${EDGE_ENV.upstashToken} ` +
  "(the Upstash Redis REST URL and token); there is no durable disk here for the file store";

/** A token setting: blank is unset; whitespace inside is refused (it is sent as a bearer token). */
export function secret(env: Env, name: string): string | undefined {
  const value = settingValue(env, name);
  if (value !== undefined && /\s/.test(value)) {
    throw new SettingError(`${name} is invalid; accepted: a token without spaces (it is sent as a bearer token)`);
  }
  return value;
}

const durationMs = (env: Env, name: string, fallbackMs: number): number =>
  readSettingOr(env, name, parseDuration, fallbackMs / 1000) * 1000;

/** GREENLIGHT_UPSTASH_TIMEOUT: whole milliseconds or seconds (sub-second values matter here), 10 ms to 60 s. */
export function upstashTimeoutMs(env: Env): number {
  const raw = settingValue(env, EDGE_ENV.upstashTimeout);
  if (raw === undefined) return DEFAULT_UPSTASH_TIMEOUT_MS;
  const match = /^(\d{1,6})(ms|s)$/.exec(raw);
  const ms = match ? Number(match[1]) * (match[2] === "s" ? 1000 : 1) : Number.NaN;
  if (!(ms >= 10 && ms <= 60_000)) {
    throw new SettingError(
      `${EDGE_ENV.upstashTimeout}=${JSON.stringify(raw)} is invalid; accepted: how long one Upstash request may take, ` +
        'from 10ms to 60s, in ms or s, e.g. "500ms", "2s"',
    );
  }
  return ms;
}

const ORIGIN = /^https?:\/\/[^/\s?#]+$/;

function corsOrigins(env: Env): string[] {
  const raw = settingValue(env, EDGE_ENV.corsOrigins);
  if (raw === undefined) return ["*"];
  const origins = raw
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  const bad = origins.find((origin) => origin !== "*" && !ORIGIN.test(origin));
  if (bad !== undefined || origins.length === 0) {
    throw new SettingError(
      `${EDGE_ENV.corsOrigins}=${JSON.stringify(raw)} is invalid; accepted: * or a comma-separated list of origins ` +
        `like https://app.example.com,http://localhost:3000 (scheme and host, no path)`,
    );
  }
  return origins;
}

/** The settings of an OFREP core, read in a fixed order (the first bad variable met is the one named). */
export function ofrepSettingsFromEnv(env: Env): OfrepSettings {
  const evaluationApiKey = secret(env, EDGE_ENV.apiKey);
  const ttlMs = durationMs(env, EDGE_ENV.cacheTtl, DEFAULT_CACHE_TTL_MS);
  const maxStaleMs = durationMs(env, EDGE_ENV.maxStale, DEFAULT_MAX_STALE_MS);
  if (maxStaleMs < ttlMs) {
    throw new SettingError(
      `${EDGE_ENV.maxStale} (${maxStaleMs / 1000}s) must be at least ${EDGE_ENV.cacheTtl} (${ttlMs / 1000}s): rules ` +
        "are only re-checked once per TTL, so a shorter bound would refuse healthy rules",
    );
  }
  const rates = ratesFromEnv(env);
  if (!rates.ok) throw new SettingError(rates.message);
  const bodyLimit = readSetting(env, EDGE_ENV.bodyLimit, (raw) => parseByteSize(raw, 1024, 10 * 1024 * 1024));
  const origins = corsOrigins(env);
  return {
    ...(evaluationApiKey === undefined ? {} : { evaluationApiKey }),
    corsOrigins: origins,
    ttlMs,
    maxStaleMs,
    bodyLimitBytes: bodyLimit ?? DEFAULT_BODY_LIMIT_BYTES,
    rates: rates.rates,
  };
}

/** The Upstash URL and token; undefined when neither is set; throws when one alone is or the URL is not one. */
export function upstashCredentials(env: Env): { url: string; token: string } | undefined {
  const url = env[EDGE_ENV.upstashUrl]?.trim() ?? "";
  const token = env[EDGE_ENV.upstashToken]?.trim() ?? "";
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
  return { url, token };
}

/** An OFREP core and the body limit it enforces (the adapter reads a body declared within it in one call). */
export interface EdgeCore {
  core: HttpCore;
  bodyLimitBytes: number;
}

/**
 * The OFREP-only core over Upstash. Without the Upstash variables, or with a bad value, every request answers 503
 * with the reason (as env.ts's upstashFlagCore does), rather than failing the isolate where only logs would say why.
 */
export function edgeCoreFromEnv(env: Env, options: { defer?: UsageOptions["defer"] } = {}): EdgeCore {
  try {
    const settings = ofrepSettingsFromEnv(env);
    const { bodyLimitBytes } = settings;
    const credentials = upstashCredentials(env);
    if (!credentials)
      return { core: createUnavailableCore(MISSING_UPSTASH_MESSAGE, settings.corsOrigins), bodyLimitBytes };
    const client = createUpstashClient({ ...credentials, timeoutMs: upstashTimeoutMs(env) });
    const store = createUpstashStore(client);
    // Usage counts flushed off the request path; an isolate hands the flush to its platform (ctx.waitUntil).
    const usage = usageOptionsFromEnv(env, settings.ttlMs);
    const cache = createRuleCache(store, {
      ttlMs: settings.ttlMs,
      maxStaleMs: settings.maxStaleMs,
      ...(usage === undefined ? {} : { usage: options.defer ? { ...usage, defer: options.defer } : usage }),
    });
    // Counted in the isolate's memory: a store call per evaluation would undo the rule cache.
    const limits = memoryLimits(settings.rates.ofrep === undefined ? {} : { ofrep: settings.rates.ofrep });
    const core = createOfrepCore({
      cache,
      limits,
      corsOrigins: settings.corsOrigins,
      bodyLimitBytes,
      ...(settings.evaluationApiKey === undefined ? {} : { evaluationApiKey: settings.evaluationApiKey }),
    });
    return { core, bodyLimitBytes };
  } catch (error) {
    const core = createUnavailableCore(`flags are misconfigured: ${(error as Error).message}`);
    return { core, bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES };
  }
}

/** edgeCoreFromEnv's core alone. */
export const upstashOfrepCore = (env: Env): HttpCore => edgeCoreFromEnv(env).core;
