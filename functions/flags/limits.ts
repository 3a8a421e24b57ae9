// Abuse limits for the flag API: the rates, how they are written in settings, and an in-memory sliding window.
/*
 * Three limits, each a sliding window (the previous fixed window's count weighted by how much of it still overlaps,
 * plus the current one's: the algorithm @upstash/ratelimit's slidingWindow uses, so both stores count alike):
 *   ofrep          OFREP evaluations per client address
 *   admin          admin API requests per token (by its label, never the token)
 *   authFailures   failed admin authentications per client address: past it, the address gets 429 on every admin
 *                  route until the window lets it through, right token or not (slows token guessing)
 * The embedded store counts in this process's memory; Upstash counts in Redis (upstash-limits.ts), shared by every
 * Lambda instance and edge isolate.
 */
import type { Eventually } from "../http/message.ts";

export interface RateRule {
  requests: number;
  windowMs: number;
}

export interface LimitDecision {
  allowed: boolean;
  /** When the window will let the next request through, in ms since the epoch (for Retry-After). */
  resetAt: number;
}

export interface Limiter {
  /**
   * Counts one request for `identifier` and says whether it may pass: at once where the count is in this process's
   * memory, through a promise where it is elsewhere (Upstash).
   */
  take(identifier: string): Eventually<LimitDecision>;
  /** Whether `identifier` is over the limit now, without counting a request. */
  check(identifier: string): Promise<LimitDecision>;
}

/** The rate of each limit that is on. */
export type Rates = Partial<Record<keyof FlagLimits, RateRule>>;

export interface FlagLimits {
  ofrep?: Limiter;
  admin?: Limiter;
  authFailures?: Limiter;
}

export const DEFAULT_RATES = {
  ofrep: { requests: 1200, windowMs: 60_000 },
  admin: { requests: 300, windowMs: 60_000 },
  authFailures: { requests: 10, windowMs: 300_000 },
} as const satisfies Record<keyof FlagLimits, RateRule>;

export const RATE_VARIABLES = {
  ofrep: "GREENLIGHT_RATE_LIMIT_OFREP",
  admin: "GREENLIGHT_RATE_LIMIT_ADMIN",
  authFailures: "GREENLIGHT_RATE_LIMIT_AUTH_FAILURES",
} as const satisfies Record<keyof FlagLimits, string>;

/** `off` for all three at once. */
export const RATE_LIMIT_SWITCH = "GREENLIGHT_RATE_LIMIT";

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

export type RateSetting = { ok: true; rule: RateRule | undefined } | { ok: false; message: string };

/** `600/1m`, `10/30s`, `5000/1h`, or `off`; blank means the default. */
export function parseRequestRate(name: string, raw: string | undefined, fallback: RateRule): RateSetting {
  const value = raw?.trim() ?? "";
  if (value === "") return { ok: true, rule: fallback };
  if (value.toLowerCase() === "off") return { ok: true, rule: undefined };
  const match = /^(\d{1,9})\s*\/\s*(\d{1,6})?\s*(s|m|h)$/i.exec(value);
  const requests = Number(match?.[1]);
  const windowMs = Number(match?.[2] ?? "1") * (UNITS[match?.[3]?.toLowerCase() ?? ""] ?? Number.NaN);
  if (match === null || requests < 1 || !(windowMs >= 1000) || windowMs > 86_400_000) {
    return {
      ok: false,
      message: `${name}=${JSON.stringify(value)} is not a rate; accepted: REQUESTS/WINDOW with a window from 1s to 24h (e.g. 600/1m, 10/30s, 5000/1h), or off`,
    };
  }
  return { ok: true, rule: { requests, windowMs } };
}

export type LimitsSetting = { ok: true; rates: Rates } | { ok: false; message: string };

/** The three rates from the environment (defaults where unset; none with GREENLIGHT_RATE_LIMIT=off). */
export function ratesFromEnv(env: Readonly<Record<string, string | undefined>>): LimitsSetting {
  const all = env[RATE_LIMIT_SWITCH]?.trim().toLowerCase() ?? "";
  if (all === "off") return { ok: true, rates: {} };
  if (all !== "" && all !== "on") {
    return { ok: false, message: `${RATE_LIMIT_SWITCH}=${JSON.stringify(all)} is not a switch; accepted: on or off` };
  }
  const rates: Rates = {};
  for (const kind of Object.keys(RATE_VARIABLES) as Array<keyof FlagLimits>) {
    const setting = parseRequestRate(RATE_VARIABLES[kind], env[RATE_VARIABLES[kind]], DEFAULT_RATES[kind]);
    if (!setting.ok) return setting;
    if (setting.rule) rates[kind] = setting.rule;
  }
  return { ok: true, rates };
}

interface Windows {
  /** Start of the current fixed window. */
  start: number;
  current: number;
  previous: number;
}

/**
 * The sliding window in this process's memory. At most `maxKeys` identifiers are tracked; past that the ones whose
 * windows have both ended are dropped first, then the oldest, so a flood of addresses cannot grow memory unbounded.
 */
export function memoryLimiter(rule: RateRule, now: () => number = Date.now, maxKeys = 10_000): Limiter {
  const windows = new Map<string, Windows>();
  const advance = (identifier: string, at: number): Windows => {
    const start = at - (at % rule.windowMs);
    const known = windows.get(identifier);
    if (known === undefined) return { start, current: 0, previous: 0 };
    if (known.start === start) return known;
    const previous = known.start === start - rule.windowMs ? known.current : 0;
    return { start, current: 0, previous };
  };
  const weighted = (state: Windows, at: number): number =>
    state.previous * ((rule.windowMs - (at - state.start)) / rule.windowMs) + state.current;
  /** `taking`: may one more pass; otherwise: is the count still under the limit. */
  const decide = (state: Windows, at: number, taking: boolean): LimitDecision => {
    const count = weighted(state, at);
    const allowed = taking ? count + 1 <= rule.requests : count < rule.requests;
    // When over: the previous window's weight falls as time passes; by the next window's start at the latest.
    return { allowed, resetAt: allowed ? at : state.start + rule.windowMs };
  };
  const evict = (at: number): void => {
    for (const [identifier, state] of windows) {
      if (windows.size < maxKeys) return;
      if (state.start + 2 * rule.windowMs <= at) windows.delete(identifier);
    }
    const oldest = windows.keys().next();
    if (windows.size >= maxKeys && !oldest.done) windows.delete(oldest.value);
  };
  // The identifier counted last: the last in the map's order already, so its entry needs no moving.
  let newest: string | undefined;
  const take = (identifier: string): LimitDecision => {
    const at = now();
    const state = advance(identifier, at);
    const decision = decide(state, at, true);
    if (decision.allowed) state.current += 1;
    if (identifier === newest) {
      windows.set(identifier, state); // in place: a new window may have made a new state
      return decision;
    }
    if (!windows.has(identifier) && windows.size >= maxKeys) evict(at);
    // Re-inserted so the map's order is least recently used first.
    windows.delete(identifier);
    windows.set(identifier, state);
    newest = identifier;
    return decision;
  };
  return {
    take,
    async check(identifier) {
      const at = now();
      return decide(advance(identifier, at), at, false);
    },
  };
}

/** Seconds until `resetAt`, at least 1: the Retry-After of a 429. */
export const retryAfterSeconds = (decision: LimitDecision, now: number): number =>
  Math.max(1, Math.ceil((decision.resetAt - now) / 1000));

/** One limiter per configured rate, made by `make` (in memory here, in Upstash in upstash-limits.ts). */
export function limitsOf(rates: Rates, make: (kind: keyof FlagLimits, rule: RateRule) => Limiter): FlagLimits {
  const limits: FlagLimits = {};
  for (const kind of Object.keys(rates) as Array<keyof FlagLimits>) {
    const rule = rates[kind];
    if (rule) limits[kind] = make(kind, rule);
  }
  return limits;
}

/** The configured rates counted in this process's memory (the embedded store: `flags serve`, `npm start`). */
export const memoryLimits = (rates: Rates, now: () => number = Date.now): FlagLimits =>
  limitsOf(rates, (_kind, rule) => memoryLimiter(rule, now));
