// The rule cache against the in-memory store: store calls per TTL, single flight, stale-while-down and recovery.
import { describe, expect, it } from "vitest";
import { createRuleCache, type RuleCache } from "../../functions/flags/cache.ts";
import type { Flag, FlagStore } from "../../functions/flags/types.ts";
import { createMemoryStore, type MemoryStore } from "./memory-store.ts";

const TTL = 5_000;
const MAX_STALE = 60_000;
const T0 = Date.parse("2026-03-01T12:00:00Z");

const flag = (key: string, state: Flag["state"] = "enabled"): Flag => ({ key, state });

function clock(start = T0) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

function setup(seed: Flag[] = [flag("alpha"), flag("beta", "disabled")]) {
  const time = clock();
  const store = createMemoryStore({ seed, now: time.now });
  const cache = createRuleCache(store, { ttlMs: TTL, maxStaleMs: MAX_STALE, now: time.now });
  return { time, store, cache };
}

/** A store whose version() answers only when released (one release per call): holds a check in flight. */
function gated(store: MemoryStore): { store: FlagStore; release: () => void; started: () => number } {
  const waiting: Array<() => void> = [];
  let credits = 0; // releases given before the call they are for arrived
  let started = 0;
  const wrapper: FlagStore = {
    kind: store.kind,
    async version() {
      const version = await store.version(); // read now, answered later: a slow network round trip
      started++;
      if (credits > 0) credits--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      return version;
    },
    load: () => store.load(),
    get: (key) => store.get(key),
    put: (value, options) => store.put(value, options),
    delete: (key, options) => store.delete(key, options),
    audit: (options) => store.audit(options),
  };
  return {
    store: wrapper,
    release: () => {
      const next = waiting.shift();
      if (next) next();
      else credits++;
    },
    started: () => started,
  };
}

async function currentVersion(cache: RuleCache): Promise<number | undefined> {
  return (await cache.current())?.set.version;
}

describe("rule cache, steady state", () => {
  it("loads once, then makes no store call within the TTL across 10,000 evaluations", async () => {
    const { store, cache, time } = setup();
    const first = await cache.current();
    expect(first?.ruleSet.version).toBe(2);
    expect([...(first?.set.keys ?? [])]).toEqual(["alpha", "beta"]);
    expect(store.calls).toMatchObject({ version: 1, load: 1 });
    for (let i = 0; i < 10_000; i++) {
      if (i % 1000 === 0) time.advance(TTL / 20); // still within the TTL at the end: 10 * 250 ms
      expect(await cache.current()).toBe(first);
    }
    expect(store.totalCalls).toBe(2);
    expect(cache.storeCalls).toBe(2);
  });

  it("answers at once within the TTL, and through a promise when a check of the store is due", async () => {
    const { cache, time } = setup();
    const first = cache.current();
    expect(first).toBeInstanceOf(Promise);
    const snapshot = await first;
    expect(cache.current()).toBe(snapshot);
    time.advance(TTL);
    const due = cache.current();
    expect(due).toBeInstanceOf(Promise);
    expect(await due).toBe(snapshot);
  });

  it("asks for the version once per TTL and loads only when it changed", async () => {
    const { store, cache, time } = setup();
    await cache.current();
    for (let round = 1; round <= 5; round++) {
      time.advance(TTL);
      for (let i = 0; i < 50; i++) await cache.current();
      expect(store.calls.version).toBe(1 + round);
    }
    expect(store.calls.load).toBe(1);

    await store.put(flag("gamma"), { actor: "test" });
    expect(await currentVersion(cache)).toBe(2); // within the TTL: the write is not seen yet, and nothing is asked
    expect(store.calls.version).toBe(6);
    time.advance(TTL);
    const snapshot = await cache.current();
    expect(snapshot?.set.version).toBe(3);
    expect(snapshot?.set.flags.has("gamma")).toBe(true);
    expect(snapshot?.loadedAt).toBe(time.now());
    expect(store.calls).toMatchObject({ version: 7, load: 2 });
    expect(cache.storeCalls).toBe(9);
  });

  it("shares one check among 100 concurrent callers, cold and after the TTL", async () => {
    const { store, cache, time } = setup();
    const cold = await Promise.all(Array.from({ length: 100 }, () => cache.current()));
    expect(new Set(cold).size).toBe(1);
    expect(store.calls).toMatchObject({ version: 1, load: 1 });

    await store.put(flag("gamma"), { actor: "test" });
    time.advance(TTL);
    const warm = await Promise.all(Array.from({ length: 100 }, () => cache.current()));
    expect(new Set(warm.map((snapshot) => snapshot?.set.version))).toEqual(new Set([3]));
    expect(store.calls).toMatchObject({ version: 2, load: 2 });
  });

  it("holds concurrent callers on the check in flight until the store answers", async () => {
    const memory = createMemoryStore({ seed: [flag("alpha")] });
    const held = gated(memory);
    const cache = createRuleCache(held.store, { ttlMs: TTL });
    const pending = Array.from({ length: 100 }, () => cache.current());
    await Promise.resolve();
    expect(held.started()).toBe(1);
    held.release();
    const snapshots = await Promise.all(pending);
    expect(snapshots.every((snapshot) => snapshot?.set.version === 1)).toBe(true);
    expect(memory.calls).toMatchObject({ version: 1, load: 1 });
  });
});

describe("rule cache, invalidate", () => {
  it("makes the next current() check the store within the TTL", async () => {
    const { store, cache } = setup();
    await cache.current();
    await store.put(flag("gamma"), { actor: "test" });
    cache.invalidate();
    expect(await currentVersion(cache)).toBe(3);
    expect(store.calls).toMatchObject({ version: 2, load: 2 });
    expect(await currentVersion(cache)).toBe(3);
    expect(store.calls.version).toBe(2); // fresh again: back to no calls
  });

  it("does not let a check begun before the write answer for after it", async () => {
    const time = clock();
    const memory = createMemoryStore({ seed: [flag("alpha")] });
    const held = gated(memory);
    const cache = createRuleCache(held.store, { ttlMs: TTL, now: time.now });
    const warm = cache.current();
    held.release();
    expect((await warm)?.set.version).toBe(1);

    time.advance(TTL);
    const before = cache.current(); // has read version 1 and waits for the answer to arrive
    await memory.put(flag("gamma"), { actor: "test" });
    cache.invalidate();
    const after = cache.current();
    held.release();
    expect((await before)?.set.version).toBe(1);
    for (let i = 0; i < 20 && held.started() < 3; i++) await Promise.resolve();
    expect(held.started()).toBe(3); // a second check, begun after the invalidate
    held.release();
    const fresh = await after;
    expect(fresh?.set.version).toBe(2);
    expect(fresh?.set.flags.has("gamma")).toBe(true);
  });
});

describe("rule cache, store down", () => {
  it("serves the last good rules until maxStale, retrying at most once per TTL, then recovers", async () => {
    const { store, cache, time } = setup();
    const good = await cache.current();
    expect(cache.health()).toMatchObject({ status: "ok", version: 2, ageMs: 0, storeCalls: 2 });
    expect(cache.health().lastError).toBeUndefined();

    store.down = true;
    time.advance(TTL);
    expect(await cache.current()).toBe(good);
    const degraded = cache.health();
    expect(degraded).toMatchObject({ status: "degraded", version: 2, ageMs: TTL, storeCalls: 3 });
    expect(degraded.lastError).toMatch(/down/);

    // 1,000 requests at the same instant, then across one TTL: not one more store call until the TTL has passed.
    for (let i = 0; i < 1000; i++) expect(await cache.current()).toBe(good);
    time.advance(TTL - 1);
    for (let i = 0; i < 1000; i++) expect(await cache.current()).toBe(good);
    expect(store.calls.version).toBe(2);
    time.advance(1);
    await cache.current();
    expect(store.calls.version).toBe(3);

    // Across the rest of maxStale: one retry per TTL, the rules still served.
    const retriesBefore = store.calls.version;
    while (time.now() - T0 + TTL <= MAX_STALE) {
      time.advance(TTL);
      for (let i = 0; i < 10; i++) expect(await cache.current()).toBe(good);
    }
    expect(time.now() - T0).toBe(MAX_STALE);
    expect(store.calls.version - retriesBefore).toBe((MAX_STALE - 2 * TTL) / TTL);
    expect(cache.health().status).toBe("degraded");

    // Past maxStale: no rules rather than rules of unknown age.
    time.advance(TTL);
    expect(await cache.current()).toBeUndefined();
    const unavailable = cache.health();
    expect(unavailable.status).toBe("unavailable");
    expect(unavailable.lastError).toMatch(/down/);
    expect(unavailable.ageMs).toBe(MAX_STALE + TTL);
    const callsWhileUnavailable = store.calls.version;
    for (let i = 0; i < 100; i++) expect(await cache.current()).toBeUndefined();
    expect(store.calls.version).toBe(callsWhileUnavailable);

    store.down = false;
    time.advance(TTL);
    const recovered = await cache.current();
    expect(recovered?.set.version).toBe(2);
    expect(cache.health()).toMatchObject({ status: "ok", version: 2, ageMs: 0 });
    expect(cache.health().lastError).toBeUndefined();
    expect(store.calls.load).toBe(1); // the version never changed: the old snapshot is confirmed, not reloaded
  });

  it("has nothing to serve when the store was never reached, and retries once per TTL", async () => {
    const { store, cache, time } = setup();
    store.down = true;
    expect(await cache.current()).toBeUndefined();
    expect(cache.health()).toMatchObject({ status: "unavailable", store: "file", storeCalls: 1 });
    expect(cache.health().version).toBeUndefined();
    for (let i = 0; i < 100; i++) await cache.current();
    expect(store.calls.version).toBe(1);
    time.advance(TTL);
    await cache.current();
    expect(store.calls.version).toBe(2);
    store.down = false;
    time.advance(TTL);
    expect(await currentVersion(cache)).toBe(2);
    expect(cache.health().status).toBe("ok");
  });

  it("never rejects, whatever the store throws, and keeps the old rules when a load fails", async () => {
    const { store, cache, time } = setup();
    await cache.current();
    await store.put(flag("gamma"), { actor: "test" });
    time.advance(TTL);
    // version() answers (3), then load() fails: the version-2 rules stay, and the next check tries the load again.
    const loads = store.calls.load;
    const originalLoad = store.load.bind(store);
    store.load = async () => {
      store.calls.load++;
      throw new TypeError("socket hang up");
    };
    expect(await currentVersion(cache)).toBe(2);
    expect(store.calls.load).toBe(loads + 1);
    expect(cache.health()).toMatchObject({ status: "degraded", lastError: "socket hang up" });
    store.load = originalLoad;
    time.advance(TTL);
    expect(await currentVersion(cache)).toBe(3);
    expect(cache.health().status).toBe("ok");
  });

  it("reports an unreachable store before the first check as unavailable", () => {
    const { cache } = setup();
    expect(cache.health()).toMatchObject({ status: "unavailable", storeCalls: 0 });
  });
});
