// The abuse limits counted in Upstash Redis with @upstash/ratelimit: shared by every Lambda instance and edge isolate.
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis";
import { type FlagLimits, type Limiter, limitsOf, type RateRule, type Rates } from "./limits.ts";

export interface UpstashLimitsOptions {
  /** Key prefix in Redis; each limit adds its name. */
  prefix?: string;
  /**
   * How long a limit check may take before the request is let through uncounted (@upstash/ratelimit's `timeout`):
   * a slow store must not stall evaluations, which are served from the rule cache. Default 300 ms.
   * @upstash/ratelimit only stops waiting: it cannot cancel the request behind a timed-out check, nor does it
   * bound `check()` (getRemaining has no timeout). The client's own deadline does both: createUpstashClient aborts
   * every request still unanswered after GREENLIGHT_UPSTASH_TIMEOUT (500 ms by default), so a hung Upstash holds
   * a check at most that long and leaves no fetch pending behind it.
   */
  timeoutMs?: number;
  /** After a check that timed out or failed, how long limits are skipped without asking Upstash; default 10 s. */
  pauseMs?: number;
  now?: () => number;
}

/**
 * Trips when the store is slow or down: while open, every check lets the request through at once instead of
 * waiting out the timeout again, so an Upstash outage costs one wait per pause, not one per request. Shared by the
 * three limits of an instance, since they share the store.
 */
interface Breaker {
  open(): boolean;
  trip(): void;
}

function breaker(pauseMs: number, now: () => number): Breaker {
  let until = 0;
  return {
    open: () => now() < until,
    trip: () => {
      until = now() + pauseMs;
    },
  };
}

const seconds = (ms: number): `${number} s` => `${Math.max(1, Math.round(ms / 1000))} s`;

function upstashLimiter(redis: Redis, rule: RateRule, prefix: string, timeoutMs: number, store: Breaker): Limiter {
  const pass = () => ({ allowed: true, resetAt: Date.now() });
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
      if (store.open()) return pass();
      try {
        const result = await ratelimit.limit(identifier);
        if (result.reason === "timeout") store.trip();
        return { allowed: result.success, resetAt: result.reset };
      } catch {
        // Fail open: an unreachable store must not turn every request into an error; evaluations still serve.
        store.trip();
        return pass();
      }
    },
    async check(identifier) {
      if (store.open()) return pass();
      try {
        const { remaining, reset } = await ratelimit.getRemaining(identifier);
        return { allowed: remaining > 0, resetAt: reset };
      } catch {
        store.trip();
        return pass();
      }
    },
  };
}

/** One Upstash limiter per configured rate, under `<prefix>:<limit>` keys. */
export function upstashLimits(redis: Redis, rates: Rates, options: UpstashLimitsOptions = {}): FlagLimits {
  const prefix = options.prefix ?? "greenlight:ratelimit";
  const timeoutMs = options.timeoutMs ?? 300;
  const store = breaker(options.pauseMs ?? 10_000, options.now ?? Date.now);
  return limitsOf(rates, (kind, rule) => upstashLimiter(redis, rule, `${prefix}:${kind}`, timeoutMs, store));
}
