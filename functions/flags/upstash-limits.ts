// The abuse limits counted in Upstash Redis with @upstash/ratelimit: shared by every Lambda instance and edge isolate.
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis";
import type { FlagLimits, Limiter, RateRule } from "./limits.ts";

export interface UpstashLimitsOptions {
  /** Key prefix in Redis; each limit adds its name. */
  prefix?: string;
  /**
   * How long a limit check may take before the request is let through uncounted (@upstash/ratelimit's `timeout`):
   * a slow store must not stall evaluations, which are served from the rule cache. Default 300 ms.
   */
  timeoutMs?: number;
}

const seconds = (ms: number): `${number} s` => `${Math.max(1, Math.round(ms / 1000))} s`;

function upstashLimiter(redis: Redis, rule: RateRule, prefix: string, timeoutMs: number): Limiter {
  const ratelimit = new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(rule.requests, seconds(rule.windowMs)),
    prefix,
    timeout: timeoutMs,
    analytics: false,
    // Identifiers already over their limit are refused from memory until their reset, without a Redis call.
    ephemeralCache: new Map(),
  });
  return {
    async take(identifier) {
      try {
        const result = await ratelimit.limit(identifier);
        return { allowed: result.success, resetAt: result.reset };
      } catch {
        // Fail open: an unreachable store must not turn every request into an error; evaluations still serve.
        return { allowed: true, resetAt: Date.now() };
      }
    },
    async check(identifier) {
      try {
        const { remaining, reset } = await ratelimit.getRemaining(identifier);
        return { allowed: remaining > 0, resetAt: reset };
      } catch {
        return { allowed: true, resetAt: Date.now() };
      }
    },
  };
}

/** One Upstash limiter per configured rate, under `<prefix>:<limit>` keys. */
export function upstashLimits(
  redis: Redis,
  rates: Partial<Record<keyof FlagLimits, RateRule>>,
  options: UpstashLimitsOptions = {},
): FlagLimits {
  const prefix = options.prefix ?? "greenlight:ratelimit";
  const timeoutMs = options.timeoutMs ?? 300;
  const limits: FlagLimits = {};
  for (const kind of Object.keys(rates) as Array<keyof FlagLimits>) {
    const rule = rates[kind];
    if (rule) limits[kind] = upstashLimiter(redis, rule, `${prefix}:${kind}`, timeoutMs);
  }
  return limits;
}
