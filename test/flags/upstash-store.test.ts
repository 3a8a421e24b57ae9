// The Upstash flag store beyond the shared contract: keys and TTLs, which commands it sends, failures, env config.
/*
 * Real redis-server, the REST bridge in front of it, the real @upstash/redis client. Commands are checked twice:
 * what the bridge received, and what redis-server ran (MONITOR, which also shows the write script's own calls).
 */
import { Redis } from "@upstash/redis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { upstashStoreFromEnv } from "../../functions/flags/env.ts";
import type { Flag, FlagStore } from "../../functions/flags/types.ts";
import { StoreConflictError, StoreUnavailableError } from "../../functions/flags/types.ts";
import {
  createUpstashClient,
  createUpstashStore,
  DEFAULT_UPSTASH_PREFIX,
} from "../../functions/flags/upstash-store.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { redisCommand, startMonitor } from "../../scripts/services/resp.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

const TOKEN = "upstash-store-token";
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

afterEach(() => {
  vi.restoreAllMocks();
});

const flag = (key: string, extra: Partial<Flag> = {}): Flag => ({ key, state: "enabled", ...extra });
const freshPrefix = () => `upstash-test:${++prefixes}`;
const client = () => createUpstashClient({ url: bridge.url, token: TOKEN, retries: 0 });

/** Exercises every method once (the write script runs for put and delete). */
async function useEverything(store: FlagStore): Promise<void> {
  await store.put(flag("a"), { actor: "t" });
  await store.put(flag("b", { segments: [] }), { actor: "t", ifMatch: 0 });
  await store.put(flag("a", { state: "disabled" }), { actor: "t", ifMatch: 1 });
  await store.delete("b", { actor: "t" });
  await store.version();
  await store.load();
  await store.get("a");
  await store.audit({ limit: 10 });
}

/** The command names the bridge received since `from` (its command log's length then), upper case. */
const commandsSince = (from: number) => bridge.commands.slice(from).map(([name]) => name?.toUpperCase());

describe("keys", () => {
  it("keeps the flags in a hash, the version in a string and the audit in a stream, none with a TTL", async () => {
    const prefix = freshPrefix();
    await useEverything(createUpstashStore(client(), { prefix }));
    const keys = { [prefix]: "hash", [`${prefix}:version`]: "string", [`${prefix}:audit`]: "stream" };
    for (const [key, type] of Object.entries(keys)) {
      expect(await redisCommand(redis.port, "TYPE", key)).toBe(type);
      expect(await redisCommand(redis.port, "TTL", key)).toBe(-1);
    }
    expect(await redisCommand(redis.port, "HKEYS", prefix)).toEqual(["a"]);
    expect(await redisCommand(redis.port, "GET", `${prefix}:version`)).toBe("4");
    expect(await redisCommand(redis.port, "XLEN", `${prefix}:audit`)).toBe(4);
  });

  it('uses "greenlight:flags" unless told otherwise', async () => {
    expect(DEFAULT_UPSTASH_PREFIX).toBe("greenlight:flags");
    await createUpstashStore(client()).put(flag("default-prefix"), { actor: "t" });
    expect(await redisCommand(redis.port, "HEXISTS", "greenlight:flags", "default-prefix")).toBe(1);
  });

  it("trims the audit stream to about auditMaxLen entries", async () => {
    const prefix = freshPrefix();
    const store = createUpstashStore(client(), { prefix, auditMaxLen: 5 });
    for (let i = 0; i < 60; i++) await store.put(flag("a", { description: `${i}` }), { actor: "t" });
    const length = (await redisCommand(redis.port, "XLEN", `${prefix}:audit`)) as number;
    // MAXLEN ~ trims whole stream nodes: at least 5 stay, and far fewer than the 60 written.
    expect(length).toBeGreaterThanOrEqual(5);
    expect(length).toBeLessThan(30);
    expect((await store.audit({ limit: 3 })).map((entry) => entry.version)).toEqual([60, 59, 58]);
  });
});

describe("commands", () => {
  it("never lists keys: no KEYS or SCAN, neither in requests nor inside the write script", async () => {
    const monitor = await startMonitor(redis.port);
    try {
      const from = bridge.commands.length;
      await useEverything(createUpstashStore(client(), { prefix: freshPrefix() }));
      const marker = `done-${Date.now()}`;
      await redisCommand(redis.port, "ECHO", marker);
      for (let i = 0; i < 500 && !monitor.lines.some((line) => line.includes(marker)); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const ran = monitor.commands();
      // The script's own calls show up in MONITOR: the check covers what runs inside it.
      expect(ran).toEqual(expect.arrayContaining(["HGET", "INCR", "HSET", "HDEL", "XADD", "HGETALL", "XREVRANGE"]));
      const listing = /^(KEYS|SCAN|HSCAN|SSCAN|ZSCAN)$/;
      expect(ran.filter((name) => listing.test(name))).toEqual([]);
      expect(commandsSince(from).filter((name) => listing.test(name ?? ""))).toEqual([]);
    } finally {
      monitor.close();
    }
  });

  it("answers version() with one GET, load() with one MULTI/EXEC of GET + HGETALL, get() with one HGET", async () => {
    const store = createUpstashStore(client(), { prefix: freshPrefix() });
    await store.put(flag("a"), { actor: "t" });
    for (const [call, expected] of [
      [() => store.version(), ["GET"]],
      [() => store.load(), ["GET", "HGETALL"]],
      [() => store.get("a"), ["HGET"]],
      [() => store.audit(), ["XREVRANGE"]],
    ] as const) {
      const requests = bridge.requests;
      const from = bridge.commands.length;
      await call();
      expect(bridge.requests - requests).toBe(1);
      expect(commandsSince(from)).toEqual(expected);
    }
  });

  it("writes with one EVALSHA, and falls back to EVAL when Redis lost the script", async () => {
    const store = createUpstashStore(client(), { prefix: freshPrefix() });
    await store.put(flag("warm"), { actor: "t" });
    let from = bridge.commands.length;
    // Whether the put created the flag comes back from the same script call: no read before or after it.
    expect((await store.put(flag("a"), { actor: "t" })).created).toBe(true);
    expect(commandsSince(from)).toEqual(["EVALSHA"]);
    from = bridge.commands.length;
    expect((await store.put(flag("a"), { actor: "t", ifMatch: [2, 7], ifNoneMatch: [0] })).created).toBe(false);
    expect(commandsSince(from)).toEqual(["EVALSHA"]);

    expect(await redisCommand(redis.port, "SCRIPT", "FLUSH")).toBe("OK");
    from = bridge.commands.length;
    expect((await store.put(flag("a", { state: "disabled" }), { actor: "t", ifMatch: 3 })).version).toBe(4);
    expect(commandsSince(from)).toEqual(["EVALSHA", "EVAL"]);
    expect((await store.get("a"))?.flag.state).toBe("disabled");
  });
});

describe("what a client that parses JSON (the @upstash/redis default) would garble", () => {
  it("reads back text that looks like numbers, booleans or null exactly as written", async () => {
    const prefix = freshPrefix();
    const parsing = new Redis({ url: bridge.url, token: TOKEN, enableTelemetry: false, retry: false });
    const store = createUpstashStore(parsing, { prefix });
    const written = flag("1e3", { description: "123", owner: "null", salt: "true", segments: [] });
    await store.put(written, { actor: "007" });
    await store.put({ ...written, description: "4.50" }, { actor: "true" });

    expect((await store.get("1e3"))?.flag).toEqual({ ...written, description: "4.50" });
    expect((await store.load()).flags["1e3"]?.updatedBy).toBe("true");
    const audit = await store.audit();
    expect(audit.map((entry) => [entry.actor, entry.key, entry.after?.description])).toEqual([
      ["true", "1e3", "4.50"],
      ["007", "1e3", "123"],
    ]);
    // The same data through a client that does not parse reads the same.
    expect(await createUpstashStore(client(), { prefix }).audit()).toEqual(audit);
  });
});

describe("bad data in Redis", () => {
  it("leaves a value that is not a stored flag out of load(), with one warning naming the field; get() reports it", async () => {
    const prefix = freshPrefix();
    const store = createUpstashStore(client(), { prefix });
    await store.put(flag("good"), { actor: "t" });
    await redisCommand(redis.port, "HSET", prefix, "broken", "{not json");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);

    const ruleSet = await store.load();
    expect(Object.keys(ruleSet.flags)).toEqual(["good"]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain(`field "broken" of hash ${prefix}`);

    const error = await store.get("broken").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain(`field "broken" of hash ${prefix}`);
    // No If-Match can match a value without a revision, nor can create-only; a write without one replaces it.
    await expect(store.put(flag("broken"), { actor: "t", ifMatch: 0 })).rejects.toBeInstanceOf(StoreConflictError);
    await expect(store.put(flag("broken"), { actor: "t", ifMatch: [1, 2] })).rejects.toMatchObject({
      name: "StoreConflictError",
      actual: -1,
    });
    expect((await store.put(flag("broken"), { actor: "t" })).stored?.revision).toBe(2);
    expect(Object.keys((await store.load()).flags)).toEqual(["broken", "good"]);
  });

  it("reports a version counter that is not a number", async () => {
    const prefix = freshPrefix();
    await redisCommand(redis.port, "SET", `${prefix}:version`, "many");
    await expect(createUpstashStore(client(), { prefix }).version()).rejects.toThrow(
      `${prefix}:version holds "many", not a non-negative integer`,
    );
  });
});

describe("when Upstash cannot be reached", () => {
  it("rejects every call with StoreUnavailableError after its small retry budget, and recovers", async () => {
    const env = { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: TOKEN };
    const store = upstashStoreFromEnv(env, { prefix: freshPrefix() });
    if (!store) throw new Error("expected a store from the env");
    await store.put(flag("a"), { actor: "t" });

    await bridge.stop();
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    try {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ["version", () => store.version()],
        ["load", () => store.load()],
        ["get", () => store.get("a")],
        ["put", () => store.put(flag("a"), { actor: "t" })],
        ["delete", () => store.delete("a", { actor: "t" })],
        ["audit", () => store.audit()],
      ];
      for (const [name, call] of calls) {
        fetchSpy.mockClear();
        const error = await call().catch((caught: unknown) => caught);
        expect(error, name).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message, name).toMatch(/^Upstash Redis .+ failed: fetch failed: .*ECONNREFUSED/);
        // One attempt and 2 retries (the client's default would be 5 retries, ~1.9 s of backoff).
        expect(fetchSpy, name).toHaveBeenCalledTimes(3);
      }
    } finally {
      await bridge.start();
    }
    expect((await store.get("a"))?.revision).toBe(1);
    expect((await store.put(flag("a"), { actor: "t", ifMatch: 1 })).version).toBe(2);
  });

  it("rejects with StoreUnavailableError when the token is wrong, saying so", async () => {
    const store = createUpstashStore(createUpstashClient({ url: bridge.url, token: "wrong", retries: 0 }));
    await expect(store.version()).rejects.toThrow(
      new StoreUnavailableError("Upstash Redis GET version failed: WRONGPASS invalid or missing auth token"),
    );
  });

  it("rejects with StoreUnavailableError when Redis behind Upstash is gone", async () => {
    const store = createUpstashStore(client(), { prefix: freshPrefix() });
    await store.put(flag("a"), { actor: "t" });
    await redis.stop();
    try {
      await expect(store.load()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.put(flag("a"), { actor: "t" })).rejects.toThrow(/redis-server unreachable/);
    } finally {
      await redis.restart();
    }
    // The restarted server is empty: the store starts over rather than failing.
    expect(await store.version()).toBe(0);
  });
});

describe("configuration", () => {
  it("is off when neither UPSTASH_REDIS_REST_URL nor UPSTASH_REDIS_REST_TOKEN is set (empty counts as unset)", () => {
    expect(upstashStoreFromEnv({})).toBeUndefined();
    expect(upstashStoreFromEnv({ UPSTASH_REDIS_REST_URL: "", UPSTASH_REDIS_REST_TOKEN: " " })).toBeUndefined();
  });

  it("refuses one variable without the other, in one line naming both", () => {
    expect(() => upstashStoreFromEnv({ UPSTASH_REDIS_REST_URL: "https://eu1-x.upstash.io" })).toThrow(
      "UPSTASH_REDIS_REST_URL is set but UPSTASH_REDIS_REST_TOKEN is not: set both (from the Upstash console's REST API section) or neither to use the file store",
    );
    expect(() => upstashStoreFromEnv({ UPSTASH_REDIS_REST_TOKEN: "secret" })).toThrow(
      "UPSTASH_REDIS_REST_TOKEN is set but UPSTASH_REDIS_REST_URL is not",
    );
  });

  it("refuses a URL that is not http(s)", () => {
    expect(() =>
      upstashStoreFromEnv({ UPSTASH_REDIS_REST_URL: "redis://eu1-x.upstash.io:6379", UPSTASH_REDIS_REST_TOKEN: "t" }),
    ).toThrow(
      'UPSTASH_REDIS_REST_URL must be the database\'s REST URL, like https://eu1-example-12345.upstash.io, got "redis://eu1-x.upstash.io:6379"',
    );
  });

  it("builds a working store from the two variables", async () => {
    const prefix = freshPrefix();
    const store = upstashStoreFromEnv(
      { UPSTASH_REDIS_REST_URL: ` ${bridge.url} `, UPSTASH_REDIS_REST_TOKEN: TOKEN },
      { prefix },
    );
    expect(store?.kind).toBe("upstash");
    await store?.put(flag("from-env"), { actor: "t" });
    expect(await redisCommand(redis.port, "HEXISTS", prefix, "from-env")).toBe(1);
  });

  it("rejects options out of range, naming them", () => {
    expect(() => createUpstashStore(client(), { auditMaxLen: 0 })).toThrow(
      "auditMaxLen must be a positive integer, got 0",
    );
    expect(() => createUpstashStore(client(), { prefix: "" })).toThrow('prefix must be a non-empty string, got ""');
  });
});
