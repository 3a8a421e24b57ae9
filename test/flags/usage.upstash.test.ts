// Usage counts against real Redis behind the Upstash REST bridge: exact counts through OFREP, at most one extra request
// per TTL (counted at the bridge), the keys and their TTLs, and the Lambda core reading its settings.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { upstashFlagCore } from "../../functions/flags/env.ts";
import { compileRuleSet, evaluateAll, evaluateKey } from "../../functions/flags/evaluate.ts";
import { createFlagCore } from "../../functions/flags/http/handler.ts";
import { USAGE_DAYS_KEPT } from "../../functions/flags/types.ts";
import { createUpstashClient, createUpstashStore } from "../../functions/flags/upstash-store.ts";
import { usageDay } from "../../functions/flags/usage.ts";
import type { HttpCore } from "../../functions/http/message.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { redisCommand } from "../../scripts/services/resp.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";
import { TEST_FLAGS } from "./memory-store.ts";
import { BULK, get, post, type Tally, tally } from "./usage-support.ts";

const TOKEN = "usage-upstash-token";
const TTL = 5_000;
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

/** A store over the bridge with its own prefix, seeded with the HTTP tests' flags. */
async function seededStore() {
  const prefix = `usage:${++prefixes}`;
  const store = createUpstashStore(
    createUpstashClient({ url: bridge.url, token: TOKEN, retries: 0, timeoutMs: 10_000 }),
    { prefix },
  );
  for (const flag of TEST_FLAGS) await store.put(flag, { actor: "seed" });
  return { store, prefix };
}

describe("usage counts in Upstash", () => {
  it("are exact through OFREP, with at most one extra request per TTL (the bridge's count)", async () => {
    const { store } = await seededStore();
    let now = Date.parse("2026-11-26T08:00:00Z");
    const clock = () => now;
    const flushes: Promise<void>[] = [];
    const cache = createRuleCache(store, {
      ttlMs: TTL,
      now: clock,
      usage: { flushIntervalMs: TTL, defer: (flush) => flushes.push(flush) },
    });
    const core: HttpCore = createFlagCore({ store, cache, now: clock, onError: () => undefined });
    const set = compileRuleSet(await store.load());
    const expected: Tally = {};
    const evaluate = async (i: number) => {
      const context = i % 3 === 0 ? {} : { targetingKey: `user-${i % 11}`, segment: i % 2 ? "beta" : "ga" };
      expect((await core(post(BULK, { context }))).status).toBe(200);
      for (const result of evaluateAll(set, context, now)) tally(expected, result);
      const key = ["half", "theme", "beta-tools", "missing"][i % 4] as string;
      await core(post(`${BULK}/${key}`, { context }));
      tally(expected, evaluateKey(set, key, context, now));
    };

    await evaluate(0); // the first request loads the rules: GET version, then the load
    const perTtl: number[] = [];
    let i = 1;
    for (let window = 0; window < 8; window++) {
      now += TTL;
      const before = bridge.requests;
      for (let n = 0; n < 40; n++, i++) {
        now += 10;
        await evaluate(i);
      }
      await Promise.all(flushes);
      perTtl.push(bridge.requests - before);
    }
    // Each TTL: the version check, and the flush of what the TTL before counted; nothing per request.
    expect(perTtl).toEqual(Array(8).fill(2));
    expect(flushes).toHaveLength(8);

    await cache.flushUsage?.({ force: true });
    const report = await store.readUsage?.({ days: 1, now });
    const stored: Tally = {};
    for (const [key, usage] of Object.entries(report?.flags ?? {})) stored[key] = { ...usage.variants };
    expect(stored).toEqual(expected);
    expect(report?.flags.banner?.lastEvaluatedAt).toBe(now);
    expect(cache.health().usage).toEqual({ flushes: 9, failedFlushes: 0, droppedEvaluations: 0 });
  });

  it("flush as one /multi-exec request of HINCRBY, EXPIREAT and ZADD; only the day's hash expires", async () => {
    const { store, prefix } = await seededStore();
    const at = Date.parse("2026-11-26T08:00:00Z");
    const requests = bridge.requests;
    const from = bridge.commands.length;
    await store.recordUsage?.({
      at,
      countingSince: at - 60_000,
      counts: [
        { key: "banner", variant: "on", count: 5 },
        { key: "half", variant: "error:TARGETING_KEY_MISSING", count: 2 },
      ],
    });
    expect(bridge.requests - requests).toBe(1);
    expect(bridge.commands.slice(from).map(([name]) => name?.toUpperCase())).toEqual([
      "HINCRBY",
      "HINCRBY",
      "EXPIREAT",
      "ZADD",
      "ZADD",
    ]);
    const day = `${prefix}:usage:${usageDay(at)}`;
    expect(await redisCommand(redis.port, "TYPE", day)).toBe("hash");
    expect(await redisCommand(redis.port, "HGET", day, JSON.stringify(["banner", "on"]))).toBe("5");
    const expiresAt = (await redisCommand(redis.port, "EXPIRETIME", day)) as number;
    expect(expiresAt).toBe(Date.parse("2026-11-26T00:00:00Z") / 1000 + USAGE_DAYS_KEPT * 86_400);
    for (const key of [`${prefix}:usage:seen`, `${prefix}:usage:meta`]) {
      expect(await redisCommand(redis.port, "TYPE", key)).toBe("zset");
      expect(await redisCommand(redis.port, "TTL", key)).toBe(-1);
    }
    expect(await redisCommand(redis.port, "ZSCORE", `${prefix}:usage:seen`, "banner")).toBe(String(at));
    expect(await redisCommand(redis.port, "ZSCORE", `${prefix}:usage:meta`, "countingSince")).toBe(String(at - 60_000));
    // A delete forgets the last evaluation inside the write script.
    await store.delete("banner", { actor: "t" });
    expect(await redisCommand(redis.port, "ZSCORE", `${prefix}:usage:seen`, "banner")).toBeNull();
  });

  it("are counted by the Lambda's core from its environment (GREENLIGHT_FLAGS_USAGE_FLUSH), and off with off", async () => {
    const env = {
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: TOKEN,
      GREENLIGHT_FLAGS_CACHE_TTL: "1s",
      GREENLIGHT_FLAGS_USAGE_FLUSH: "1s",
    };
    // The default prefix, "greenlight:flags", which no other test here uses.
    const store = createUpstashStore(createUpstashClient({ url: bridge.url, token: TOKEN, timeoutMs: 10_000 }));
    await store.put({ key: "lambda-flag", state: "enabled" }, { actor: "seed" });
    const core = upstashFlagCore(env);
    const off = upstashFlagCore({ ...env, GREENLIGHT_FLAGS_USAGE_FLUSH: "off" });
    for (let n = 0; n < 3; n++) {
      expect((await core(post(`${BULK}/lambda-flag`, {}))).status).toBe(200);
      expect((await off(post(`${BULK}/lambda-flag`, {}))).status).toBe(200);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // Due now: this request starts the flush of the three before it, and does not wait for it.
    await core(post(`${BULK}/lambda-flag`, {}));
    await off(post(`${BULK}/lambda-flag`, {}));
    let report = await store.readUsage?.({ days: 1 });
    for (let tries = 0; report?.flags["lambda-flag"] === undefined && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      report = await store.readUsage?.({ days: 1 });
    }
    expect({ ...report?.flags["lambda-flag"]?.variants }).toEqual({ on: 3 });
    // Health tells the two apart: only the counting core reports its flushes.
    expect(JSON.parse((await core(get("/healthz"))).body ?? "{}").usage).toMatchObject({ failedFlushes: 0 });
    expect(JSON.parse((await off(get("/healthz"))).body ?? "{}")).not.toHaveProperty("usage");
    const misconfigured = await upstashFlagCore({ ...env, GREENLIGHT_FLAGS_USAGE_FLUSH: "500ms" })(get("/healthz"));
    expect(misconfigured.status).toBe(503);
    expect(JSON.parse(misconfigured.body ?? "{}").error).toMatch(
      /^flags are misconfigured: GREENLIGHT_FLAGS_USAGE_FLUSH="500ms" is invalid; accepted: off, or /,
    );
  });
});
