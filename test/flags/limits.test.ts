// The abuse limits: rates from settings, the in-memory sliding window, and the same limits counted in real Redis
// through the Upstash REST bridge with @upstash/ratelimit (shared between instances, open when the store is down).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_RATES,
  type LimitDecision,
  memoryLimiter,
  parseRequestRate,
  ratesFromEnv,
  retryAfterSeconds,
} from "../../functions/flags/limits.ts";
import { upstashLimits } from "../../functions/flags/upstash-limits.ts";
import { createUpstashClient } from "../../functions/flags/upstash-store.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

describe("rates from settings", () => {
  it("reads REQUESTS/WINDOW in seconds, minutes or hours, and off", () => {
    expect(parseRequestRate("X", "600/1m", DEFAULT_RATES.ofrep)).toEqual({
      ok: true,
      rule: { requests: 600, windowMs: 60_000 },
    });
    expect(parseRequestRate("X", "10/30s", DEFAULT_RATES.ofrep)).toEqual({
      ok: true,
      rule: { requests: 10, windowMs: 30_000 },
    });
    expect(parseRequestRate("X", "5000/h", DEFAULT_RATES.ofrep)).toEqual({
      ok: true,
      rule: { requests: 5000, windowMs: 3_600_000 },
    });
    expect(parseRequestRate("X", " OFF ", DEFAULT_RATES.ofrep)).toEqual({ ok: true, rule: undefined });
    expect(parseRequestRate("X", "", DEFAULT_RATES.ofrep)).toEqual({ ok: true, rule: DEFAULT_RATES.ofrep });
  });

  it("refuses anything else, naming the variable and the accepted forms", () => {
    for (const bad of ["600", "0/1m", "10/0s", "10/25h", "ten/1m", "10/1d", "-1/1m"]) {
      const setting = parseRequestRate("GREENLIGHT_RATE_LIMIT_OFREP", bad, DEFAULT_RATES.ofrep);
      expect(setting.ok, bad).toBe(false);
      if (!setting.ok)
        expect(setting.message).toMatch(/^GREENLIGHT_RATE_LIMIT_OFREP=".*" is not a rate; accepted: REQUESTS\/WINDOW/);
    }
  });

  it("turns every limit off with GREENLIGHT_RATE_LIMIT=off and keeps the defaults otherwise", () => {
    expect(ratesFromEnv({ GREENLIGHT_RATE_LIMIT: "off" })).toEqual({ ok: true, rates: {} });
    expect(ratesFromEnv({})).toEqual({ ok: true, rates: DEFAULT_RATES });
    expect(ratesFromEnv({ GREENLIGHT_RATE_LIMIT_ADMIN: "off" })).toEqual({
      ok: true,
      rates: { ofrep: DEFAULT_RATES.ofrep, authFailures: DEFAULT_RATES.authFailures },
    });
    const bad = ratesFromEnv({ GREENLIGHT_RATE_LIMIT: "maybe" });
    expect(bad).toEqual({
      ok: false,
      message: expect.stringMatching(/^GREENLIGHT_RATE_LIMIT="maybe".*accepted: on or off/),
    });
  });
});

describe("the in-memory sliding window", () => {
  it("lets the rate through, refuses the next with the window's end, and counts each identifier apart", async () => {
    let now = 60_000;
    const limiter = memoryLimiter({ requests: 3, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 3; i++) expect((await limiter.take("a")).allowed).toBe(true);
    const refused = await limiter.take("a");
    expect(refused).toEqual({ allowed: false, resetAt: 70_000 });
    expect(retryAfterSeconds(refused, now)).toBe(10);
    expect((await limiter.take("b")).allowed).toBe(true);
    now = 69_999;
    expect((await limiter.take("a")).allowed).toBe(false);
  });

  it("weighs the previous window by how much of it still overlaps", async () => {
    let now = 0;
    const limiter = memoryLimiter({ requests: 4, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 4; i++) await limiter.take("a");
    // Half-way into the next window, half of the previous four still count: two more may pass, not three.
    now = 15_000;
    expect((await limiter.take("a")).allowed).toBe(true);
    expect((await limiter.take("a")).allowed).toBe(true);
    expect((await limiter.take("a")).allowed).toBe(false);
    // Two windows later nothing of them counts.
    now = 30_000;
    for (let i = 0; i < 4; i++) expect((await limiter.take("a")).allowed).toBe(true);
  });

  it("checks without counting", async () => {
    const limiter = memoryLimiter({ requests: 2, windowMs: 10_000 }, () => 0);
    expect((await limiter.check("a")).allowed).toBe(true);
    await limiter.take("a");
    expect((await limiter.check("a")).allowed).toBe(true);
    await limiter.take("a");
    expect((await limiter.check("a")).allowed).toBe(false);
  });

  it("tracks at most maxKeys identifiers, dropping the least recently seen", async () => {
    const limiter = memoryLimiter({ requests: 1, windowMs: 10_000 }, () => 0, 3);
    for (const id of ["a", "b", "c"]) await limiter.take(id);
    expect((await limiter.take("a")).allowed).toBe(false);
    await limiter.take("d");
    // b was the least recently seen: forgotten, so it passes again; a, c and d are still counted.
    expect((await limiter.take("b")).allowed).toBe(true);
    expect((await limiter.take("a")).allowed).toBe(false);
  });

  it("counts and forgets like a least-recently-used table, answering at once", () => {
    // The model: within one window, a count per identifier, the least recently counted one forgotten when a new
    // identifier finds the table full.
    const ids = fc.constantFrom("a", "b", "c", "d", "e");
    fc.assert(
      fc.property(fc.array(ids, { maxLength: 60 }), (steps) => {
        const limiter = memoryLimiter({ requests: 2, windowMs: 10_000 }, () => 0, 3);
        const model = new Map<string, number>();
        for (const id of steps) {
          const count = model.get(id) ?? 0;
          if (!model.has(id) && model.size >= 3) model.delete(model.keys().next().value as string);
          model.delete(id);
          model.set(id, count + 1 <= 2 ? count + 1 : count);
          const decision = limiter.take(id);
          expect(decision).not.toBeInstanceOf(Promise);
          expect((decision as LimitDecision).allowed, `${id} after ${JSON.stringify(steps)}`).toBe(count + 1 <= 2);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("the limits in Upstash (real Redis through the REST bridge)", () => {
  const TOKEN = "limits-token";
  let redis: RunningRedis;
  let bridge: RunningUpstashBridge;
  let prefixes = 0;

  beforeAll(async () => {
    redis = await startRedis();
    bridge = await startUpstashBridge({ redisPort: redis.port, token: TOKEN });
  });
  afterAll(async () => {
    await bridge?.close();
    await redis?.close();
  });

  const limitsFor = (prefix: string, url = bridge.url) =>
    upstashLimits(
      createUpstashClient({ url, token: TOKEN, retries: 0 }),
      { ofrep: { requests: 3, windowMs: 60_000 } },
      { prefix },
    );

  it("counts in Redis, so two instances share one window", async () => {
    const prefix = `limits-test:${++prefixes}`;
    const first = limitsFor(prefix).ofrep;
    const second = limitsFor(prefix).ofrep;
    expect(first && second).toBeTruthy();
    expect((await first?.take("203.0.113.7"))?.allowed).toBe(true);
    expect((await second?.take("203.0.113.7"))?.allowed).toBe(true);
    expect((await first?.take("203.0.113.7"))?.allowed).toBe(true);
    const refused = await second?.take("203.0.113.7");
    expect(refused?.allowed).toBe(false);
    expect(refused?.resetAt).toBeGreaterThan(Date.now());
    expect((await second?.check("203.0.113.7"))?.allowed).toBe(false);
    expect((await second?.take("198.51.100.1"))?.allowed).toBe(true);
  });

  it("stops asking a hung store for a while after one check timed out, letting requests through meanwhile", async () => {
    let now = 0;
    const client = createUpstashClient({ url: bridge.url, token: TOKEN, retries: 0, timeoutMs: 2_000 });
    const limiter = upstashLimits(
      client,
      { ofrep: { requests: 3, windowMs: 60_000 } },
      {
        prefix: `limits-test:${++prefixes}`,
        timeoutMs: 100,
        pauseMs: 10_000,
        now: () => now,
      },
    ).ofrep;
    bridge.hang(true);
    try {
      expect((await limiter?.take("203.0.113.9"))?.allowed).toBe(true);
      const asked = bridge.requests;
      for (let i = 0; i < 5; i++) expect((await limiter?.take("203.0.113.9"))?.allowed).toBe(true);
      expect(bridge.requests).toBe(asked);
    } finally {
      bridge.hang(false);
    }
    // Past the pause it asks again, and counts.
    now = 10_001;
    for (let i = 0; i < 3; i++) expect((await limiter?.take("203.0.113.10"))?.allowed).toBe(true);
    expect((await limiter?.take("203.0.113.10"))?.allowed).toBe(false);
  });

  it("lets requests through when the store cannot be reached", async () => {
    const limiter = limitsFor(`limits-test:${++prefixes}`, "http://127.0.0.1:9").ofrep;
    for (let i = 0; i < 5; i++) expect((await limiter?.take("203.0.113.7"))?.allowed).toBe(true);
  });
});
