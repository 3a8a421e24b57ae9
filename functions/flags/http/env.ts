// Reads the flag server's settings from environment variables; pure, so the Node, Lambda and edge entries share it.
import { parseDuration } from "../../contract/values.ts";
import { DEFAULT_CACHE_TTL_MS, DEFAULT_MAX_STALE_MS } from "../cache.ts";

export type Env = Readonly<Record<string, string | undefined>>;

export const ENV = {
  adminToken: "GREENLIGHT_ADMIN_TOKEN",
  apiKey: "GREENLIGHT_FLAGS_API_KEY",
  corsOrigins: "GREENLIGHT_FLAGS_CORS_ORIGINS",
  cacheTtl: "GREENLIGHT_FLAGS_CACHE_TTL",
  maxStale: "GREENLIGHT_FLAGS_MAX_STALE",
  flagsDir: "GREENLIGHT_FLAGS_DIR",
  upstashUrl: "UPSTASH_REDIS_REST_URL",
  upstashToken: "UPSTASH_REDIS_REST_TOKEN",
} as const;

/** A bad environment variable; the message is one line naming it and what is accepted. */
export class FlagConfigError extends Error {
  override readonly name = "FlagConfigError";
}

export interface FlagSettings {
  adminToken?: string;
  evaluationApiKey?: string;
  corsOrigins: string[];
  ttlMs: number;
  maxStaleMs: number;
}

/** An unset or blank variable counts as absent (deployment templates often pass '' for "not configured"). */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

function secret(env: Env, name: string): string | undefined {
  const value = envValue(env, name);
  if (value !== undefined && /\s/.test(value)) {
    throw new FlagConfigError(`${name} is invalid; accepted: a token without spaces (it is sent as a bearer token)`);
  }
  return value;
}

function durationMs(env: Env, name: string, fallbackMs: number): number {
  const raw = envValue(env, name);
  if (raw === undefined) return fallbackMs;
  const parsed = parseDuration(raw);
  if (!parsed.ok) throw new FlagConfigError(`${name}=${JSON.stringify(raw)} is invalid; ${parsed.problem}`);
  return parsed.value * 1000;
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
  return {
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(evaluationApiKey === undefined ? {} : { evaluationApiKey }),
    corsOrigins: corsOrigins(env),
    ttlMs,
    maxStaleMs,
  };
}

/** Why there is no store where a durable one is required (Lambda, edge), with what to set. */
export const MISSING_UPSTASH_MESSAGE =
  `no flag store configured: set ${ENV.upstashUrl} and ${ENV.upstashToken} ` +
  "(the Upstash Redis REST URL and token); there is no durable disk here for the file store";
