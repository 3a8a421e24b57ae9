// Usage counts: the in-memory counter, exact counts through the OFREP endpoints, and the cache's flushes: at most one
// per interval, never awaited by a request, dropped when they fail. Memory store and injected clocks; real Redis
// behind the Upstash REST bridge is usage.upstash.test.ts.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createRuleCache, type RuleCache, type UsageOptions } from "../../functions/flags/cache.ts";
import { unusedDaysFromEnv } from "../../functions/flags/env.ts";
import { compileRuleSet, evaluateAll, evaluateKey } from "../../functions/flags/evaluate.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { createFlagCore } from "../../functions/flags/http/handler.ts";
import {
  type EvaluationContext,
  type FlagStore,
  StoreUnavailableError,
  USAGE_DAYS_KEPT,
  type UsageBatch,
} from "../../functions/flags/types.ts";
import { createUsageCounter, errorVariant, usageOptionsFromEnv } from "../../functions/flags/usage.ts";
import type { HttpCore, HttpResponse } from "../../functions/http/message.ts";
import { createMemoryStore, type MemoryStore, TEST_FLAGS } from "./memory-store.ts";
import { BULK, get, post, type Tally, tally } from "./usage-support.ts";

const T0 = Date.parse("2026-06-01T00:00:00Z");
const TTL = 5_000;

function tallyOf(batch: UsageBatch | undefined): Tally {
  const into: Tally = {};
  for (const { key, variant, count } of batch?.counts ?? []) {
    const variants = into[key] ?? {};
    into[key] = variants;
    variants[variant] = (variants[variant] ?? 0) + count;
  }
  return into;
}

/** A clock tests move by hand. */
function manualClock(start = T0) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

// ---- the counter -----------------------------------------------------------------------------------------------

describe("the usage counter", () => {
  const set = compileRuleSet({
    version: 1,
    flags: Object.fromEntries(
      TEST_FLAGS.map((flag, i) => [flag.key, { flag, revision: i + 1, updatedAt: "x", updatedBy: "t" }]),
    ),
  });
  const contexts: EvaluationContext[] = [
    {},
    { segment: "beta" },
    ...Array.from({ length: 40 }, (_, i) => ({ targetingKey: `user-${i}`, segment: i % 3 === 0 ? "beta" : "ga" })),
  ];

  it("counts single and bulk evaluations exactly by flag and outcome, errors as error:<code>, no unknown flag", () => {
    const counter = createUsageCounter({ since: T0 });
    const expected: Tally = {};
    let at = T0;
    for (let round = 0; round < 25; round++) {
      for (const context of contexts) {
        at += 7;
        // The same answer served again (the array ofrep.ts reuses) and a fresh one, interleaved.
        const results = evaluateAll(set, context, at);
        const repeats = 1 + (round % 3);
        for (let r = 0; r < repeats; r++) counter.countAll(results, at);
        for (const result of results) tally(expected, result, repeats);
        for (const key of ["half", "theme", "no-such-flag"]) {
          const result = evaluateKey(set, key, context, at);
          counter.countOne(result, at);
          tally(expected, result);
        }
      }
    }
    const batch = counter.take();
    expect(tallyOf(batch)).toEqual(expected);
    expect(expected.half).toHaveProperty(errorVariant("TARGETING_KEY_MISSING"));
    expect(expected).not.toHaveProperty("no-such-flag");
    expect(batch).toMatchObject({ at, countingSince: T0 });
    expect(counter.dropped).toBe(0);
  });

  it("empties on take: a second take has nothing, and later counts start a new batch", () => {
    const counter = createUsageCounter({ since: T0 });
    expect(counter.take()).toBeUndefined();
    const results = evaluateAll(set, {}, T0);
    counter.countAll(results, T0 + 1);
    counter.countAll(results, T0 + 2);
    expect(counter.pending).toBe(true);
    expect(tallyOf(counter.take()).banner).toEqual({ on: 2 });
    expect(counter.pending).toBe(false);
    expect(counter.take()).toBeUndefined();
    // The same array once more after a take counts once, not with the counts already taken.
    counter.countAll(results, T0 + 3);
    expect(tallyOf(counter.take()).banner).toEqual({ on: 1 });
    counter.countOne(evaluateKey(set, "nope", {}, T0), T0 + 4);
    expect(counter.pending).toBe(false);
  });

  it("keeps at most maxKeys distinct results: past it, new ones are dropped and said so, known ones still count", () => {
    const counter = createUsageCounter({ since: T0, maxKeys: 2 });
    const banner = evaluateKey(set, "banner", {}, T0);
    const theme = evaluateKey(set, "theme", {}, T0);
    const checkout = evaluateKey(set, "checkout", {}, T0);
    counter.countOne(banner, T0);
    counter.countOne(theme, T0);
    counter.countOne(checkout, T0);
    counter.countOne(checkout, T0);
    counter.countOne(banner, T0);
    expect(counter.dropped).toBe(2);
    expect(tallyOf(counter.take())).toEqual({ banner: { on: 2 }, theme: { dark: 1 } });
    // The table is empty again after the take.
    counter.countOne(checkout, T0);
    expect(tallyOf(counter.take())).toEqual({ checkout: { off: 1 } });
    expect(() => createUsageCounter({ since: T0, maxKeys: 0 })).toThrow("maxKeys must be a positive integer");
  });
});

// ---- through the OFREP endpoints and the cache ----------------------------------------------------------------------

interface Rig {
  core: HttpCore;
  cache: RuleCache;
  store: MemoryStore;
  clock: ReturnType<typeof manualClock>;
  /** Every flush handed to `defer`, in order. */
  flushes: Promise<void>[];
}

function rig(options: { usage?: UsageOptions; store?: FlagStore } = {}): Rig {
  const clock = manualClock();
  const store = createMemoryStore({ seed: TEST_FLAGS, now: clock.now, usage: true });
  const flushes: Promise<void>[] = [];
  const cache = createRuleCache(options.store ?? store, {
    ttlMs: TTL,
    now: clock.now,
    usage: { flushIntervalMs: TTL, defer: (flush) => flushes.push(flush), ...options.usage },
  });
  const core = createFlagCore({ store: options.store ?? store, cache, now: clock.now, onError: () => undefined });
  return { core, cache, store, clock, flushes };
}

const status = async (response: HttpResponse | Promise<HttpResponse>) => (await response).status;

/** One turn of the event loop: a flush starts from a timer task, after the request that started it. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("usage counted through OFREP", () => {
  it("counts every evaluation answered, single and bulk, 304s included, and flushes them whole in one call", async () => {
    const { core, store, clock, flushes } = rig();
    const set = compileRuleSet(await store.load());
    const expected: Tally = {};
    let etag = "";
    for (let i = 0; i < 300; i++) {
      clock.advance(10); // 3 s in all: within one interval
      const context = i % 4 === 0 ? {} : { targetingKey: `user-${i % 17}`, segment: i % 2 ? "beta" : "ga" };
      const bulk = await core(post(BULK, { context }, i % 5 === 0 && etag ? { "if-none-match": etag } : {}));
      expect([200, 304]).toContain(bulk.status);
      if (bulk.status === 200) etag = bulk.headers.ETag ?? "";
      for (const result of evaluateAll(set, context, clock.now())) tally(expected, result);
      const key = ["half", "theme", "launch", "missing"][i % 4] as string;
      const single = await core(post(`${BULK}/${key}`, { context }));
      expect(single.status).toBe(key === "missing" ? 404 : key === "half" && i % 4 === 0 ? 400 : 200);
      tally(expected, evaluateKey(set, key, context, clock.now()));
    }
    expect(store.calls.recordUsage).toBe(0);
    clock.advance(TTL);
    // Health asks the cache too, and evaluates nothing: it starts the due flush, which adds no count of its own.
    expect(await status(core(get("/healthz")))).toBe(200);
    expect(flushes).toHaveLength(1);
    await Promise.all(flushes);
    expect(store.calls.recordUsage).toBe(1);
    const report = await store.readUsage?.({ days: 1, now: clock.now() });
    const stored: Tally = {};
    for (const [key, usage] of Object.entries(report?.flags ?? {})) stored[key] = { ...usage.variants };
    expect(stored).toEqual(expected);
    expect(report?.countingSince).toBe(T0);
  });

  it("flushes at most once per interval whatever the traffic: one store call beside the version check per TTL", async () => {
    const { core, store, clock, flushes } = rig();
    const flushedAt: number[] = [];
    const record = store.recordUsage?.bind(store);
    store.recordUsage = async (batch) => {
      flushedAt.push(clock.now());
      return record?.(batch);
    };
    store.resetCalls();
    // 20 TTLs of traffic, a request every 50 ms; a flush started runs before the next request comes (as it would
    // between requests of a live server: it starts from a timer task).
    for (let t = 0; t < 20 * TTL; t += 50) {
      clock.advance(50);
      expect(await status(core(post(BULK, { context: { targetingKey: `u${t % 7}` } })))).toBe(200);
      await flushes.at(-1);
    }
    await Promise.all(flushes);
    expect(flushedAt.length).toBeGreaterThanOrEqual(18);
    for (let i = 1; i < flushedAt.length; i++) {
      expect((flushedAt[i] as number) - (flushedAt[i - 1] as number)).toBeGreaterThanOrEqual(TTL);
    }
    // Per TTL: the version check and at most one flush; the rules never changed, so one load, the first.
    expect(store.calls.version).toBeLessThanOrEqual(21);
    expect(store.calls.load).toBe(1);
    expect(store.calls.recordUsage).toBe(flushedAt.length);
  });

  it("flushes once per minute by default, even with a shorter TTL", async () => {
    const { core, store, clock, flushes } = rig({ usage: { flushIntervalMs: undefined } });
    for (let t = 0; t < 185_000; t += 500) {
      clock.advance(500);
      await core(post(`${BULK}/banner`, {}));
      await flushes.at(-1);
    }
    await Promise.all(flushes);
    expect(store.calls.recordUsage).toBe(3);
  });

  it("never flushes on the request path: with the store hung on a flush, evaluations answer and it stays pending", async () => {
    const base = createMemoryStore({ seed: TEST_FLAGS, usage: true });
    let release: () => void = () => undefined;
    let started = 0;
    const hung: FlagStore = {
      kind: base.kind,
      version: () => base.version(),
      load: () => base.load(),
      get: (key) => base.get(key),
      put: (flag, options) => base.put(flag, options),
      delete: (key, options) => base.delete(key, options),
      audit: (options) => base.audit(options),
      recordUsage: (batch) => {
        started++;
        return new Promise<void>((resolve) => {
          release = () => {
            void base.recordUsage?.(batch).then(resolve);
          };
        });
      },
      readUsage: (query) => base.readUsage?.(query) ?? Promise.resolve({ flags: {} }),
    };
    const { core, cache, clock, flushes } = rig({ store: hung });
    expect(await status(core(post(`${BULK}/banner`, {})))).toBe(200);
    clock.advance(TTL);
    let settled = false;
    // This request starts the flush; it is answered before the flush even reaches the store.
    expect(await status(core(post(BULK, {})))).toBe(200);
    expect(flushes).toHaveLength(1);
    expect(started).toBe(0);
    void flushes[0]?.then(() => {
      settled = true;
    });
    await tick();
    expect(started).toBe(1);
    for (let i = 0; i < 3; i++) {
      clock.advance(TTL);
      expect(await status(core(post(BULK, {})))).toBe(200);
      expect(await status(core(post(`${BULK}/theme`, {})))).toBe(200);
      await tick();
    }
    // Still pending after three more intervals of answers, and never a second flush beside it.
    expect(settled).toBe(false);
    expect(started).toBe(1);
    expect(cache.health().usage).toMatchObject({ flushes: 0, failedFlushes: 0 });
    release();
    await flushes[0];
    expect(settled).toBe(true);
    // Once it settled, the next due flush goes, with what was counted meanwhile.
    clock.advance(TTL);
    await core(get("/healthz"));
    await tick();
    expect(started).toBe(2);
    release();
    await Promise.all(flushes);
    const report = await base.readUsage?.({ days: 1, now: clock.now() });
    // banner: the first single evaluation, then four bulk answers; theme: four bulk answers and three single ones.
    expect({ ...report?.flags.banner?.variants }).toEqual({ on: 1 + 4 });
    expect({ ...report?.flags.theme?.variants }).toEqual({ dark: 4 + 3 });
  });

  it("drops a flush that fails: its counts are never sent again, and health says why until one succeeds", async () => {
    const { core, cache, store, clock, flushes } = rig();
    const record = store.recordUsage?.bind(store);
    const sent: UsageBatch[] = [];
    let fail = true;
    store.recordUsage = async (batch) => {
      sent.push(batch);
      if (fail) throw new StoreUnavailableError("Upstash Redis did not answer usage flush within 500 ms");
      return record?.(batch);
    };
    for (let i = 0; i < 3; i++) await core(post(`${BULK}/checkout`, {}));
    clock.advance(TTL);
    await core(get("/healthz"));
    await Promise.all(flushes);
    expect(sent).toHaveLength(1);
    expect(tallyOf(sent[0])).toEqual({ checkout: { off: 3 } });
    expect(cache.health().usage).toEqual({
      flushes: 0,
      failedFlushes: 1,
      droppedEvaluations: 0,
      lastFlushError: "Upstash Redis did not answer usage flush within 500 ms",
    });
    // Not retried: no flush at all until the next interval, and that one holds only what was counted since.
    fail = false;
    for (let i = 0; i < 2; i++) await core(post(`${BULK}/banner`, {}));
    await core(get("/healthz"));
    expect(sent).toHaveLength(1);
    clock.advance(TTL);
    await core(get("/healthz"));
    await Promise.all(flushes);
    expect(sent).toHaveLength(2);
    expect(tallyOf(sent[1])).toEqual({ banner: { on: 2 } });
    const report = await store.readUsage?.({ days: 1, now: clock.now() });
    expect(Object.keys(report?.flags ?? {})).toEqual(["banner"]);
    expect(cache.health().usage).toEqual({ flushes: 1, failedFlushes: 1, droppedEvaluations: 0 });
  });

  it("flushes on demand: flushUsage when due or forced, never two at once", async () => {
    const { core, cache, store, clock } = rig({ usage: { defer: undefined } });
    await core(post(`${BULK}/banner`, {}));
    await cache.flushUsage?.();
    expect(store.calls.recordUsage).toBe(0); // not due yet
    await cache.flushUsage?.({ force: true });
    expect(store.calls.recordUsage).toBe(1);
    await cache.flushUsage?.({ force: true });
    expect(store.calls.recordUsage).toBe(1); // nothing counted since: no call
    await core(post(`${BULK}/banner`, {}));
    clock.advance(TTL);
    await Promise.all([cache.flushUsage?.(), cache.flushUsage?.()]);
    expect(store.calls.recordUsage).toBe(2);
  });

  it("counts nothing unless asked to, or when the store cannot keep usage", async () => {
    const plain = createMemoryStore({ seed: TEST_FLAGS });
    const off = createRuleCache(plain, { usage: {} });
    expect(off.usage).toBeUndefined();
    expect(off.flushUsage).toBeUndefined();
    const counting = createMemoryStore({ seed: TEST_FLAGS, usage: true });
    const notAsked = createRuleCache(counting);
    expect(notAsked.usage).toBeUndefined();
    const core = createFlagCore({ store: counting, cache: notAsked });
    await core(post(BULK, {}));
    expect(notAsked.health()).not.toHaveProperty("usage");
    expect(counting.calls.recordUsage).toBe(0);
  });
});

describe("usage settings", () => {
  it("GREENLIGHT_FLAGS_USAGE_FLUSH: on by default (1 min, or the TTL), off, or a duration of at least the TTL", () => {
    expect(usageOptionsFromEnv({}, 5_000)).toEqual({});
    expect(usageOptionsFromEnv({ GREENLIGHT_FLAGS_USAGE_FLUSH: " " }, 5_000)).toEqual({});
    expect(usageOptionsFromEnv({ GREENLIGHT_FLAGS_USAGE_FLUSH: "off" }, 5_000)).toBeUndefined();
    expect(usageOptionsFromEnv({ GREENLIGHT_FLAGS_USAGE_FLUSH: "2m" }, 5_000)).toEqual({ flushIntervalMs: 120_000 });
    expect(usageOptionsFromEnv({ GREENLIGHT_FLAGS_USAGE_FLUSH: "5s" }, 5_000)).toEqual({ flushIntervalMs: 5_000 });
    expect(() => usageOptionsFromEnv({ GREENLIGHT_FLAGS_USAGE_FLUSH: "1s" }, 5_000)).toThrow(
      "GREENLIGHT_FLAGS_USAGE_FLUSH (1s) must be at least GREENLIGHT_FLAGS_CACHE_TTL (5s): usage is flushed at most " +
        "once per TTL",
    );
    expect(() => usageOptionsFromEnv({ GREENLIGHT_FLAGS_USAGE_FLUSH: "soon" }, 5_000)).toThrow(
      'GREENLIGHT_FLAGS_USAGE_FLUSH="soon" is invalid; accepted: off, or a positive duration in s, m or h',
    );
    // The default interval never undercuts the TTL.
    const cache = createRuleCache(createMemoryStore({ usage: true }), { ttlMs: 120_000, usage: {} });
    expect(cache.usage).toBeDefined();
  });

  it("GREENLIGHT_FLAGS_UNUSED_DAYS: 30 by default, else a whole number of days from 1 to 3650", () => {
    expect(unusedDaysFromEnv({})).toBe(30);
    expect(unusedDaysFromEnv({ GREENLIGHT_FLAGS_UNUSED_DAYS: "14" })).toBe(14);
    for (const raw of ["0", "3651", "2w", "1.5"]) {
      expect(() => unusedDaysFromEnv({ GREENLIGHT_FLAGS_UNUSED_DAYS: raw })).toThrow(
        `GREENLIGHT_FLAGS_UNUSED_DAYS=${JSON.stringify(raw)} is invalid; accepted: an integer from 1 to 3650`,
      );
    }
  });
});

describe("the file store's usage.json", () => {
  const DAY = 86_400_000;
  const NOON = Date.parse("2026-11-26T12:00:00Z");

  it("holds the counting start, the last evaluations and the kept days; older days go with the next flush", async () => {
    const dir = await mkdtemp(join(tmpdir(), "greenlight-usage-file-"));
    try {
      const store = createFileStore({ dir });
      const old = NOON - USAGE_DAYS_KEPT * DAY;
      await store.recordUsage?.({ at: old, countingSince: old - DAY, counts: [{ key: "a", variant: "on", count: 2 }] });
      await store.recordUsage?.({
        at: NOON,
        countingSince: NOON - DAY,
        counts: [{ key: "b", variant: "off", count: 1 }],
      });
      expect(JSON.parse(await readFile(join(dir, "usage.json"), "utf8"))).toEqual({
        countingSince: old - DAY,
        lastEvaluated: { a: old, b: NOON },
        days: { "2026-11-26": { b: { off: 1 } } },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fails usage calls on a usage.json that is not usage data, naming the file and the fix; flags work on", async () => {
    const dir = await mkdtemp(join(tmpdir(), "greenlight-usage-file-"));
    try {
      const store = createFileStore({ dir, seed: TEST_FLAGS });
      await writeFile(join(dir, "usage.json"), "{not json");
      const fix =
        /usage\.json is not valid JSON .*: delete it to start counting afresh \(the flags are not affected\)$/;
      await expect(store.readUsage?.()).rejects.toThrow(fix);
      await expect(
        store.recordUsage?.({ at: NOON, countingSince: NOON, counts: [{ key: "banner", variant: "on", count: 1 }] }),
      ).rejects.toThrow(fix);
      await writeFile(join(dir, "usage.json"), JSON.stringify({ lastEvaluated: { a: "yesterday" }, days: {} }));
      await expect(store.readUsage?.()).rejects.toThrow('has lastEvaluated["a"] that is not a time in ms');
      expect(Object.keys((await store.load()).flags)).toHaveLength(TEST_FLAGS.length);
      expect((await store.put({ key: "more", state: "enabled" }, { actor: "t" })).created).toBe(true);
      await expect(store.delete("more", { actor: "t" })).resolves.toMatchObject({ version: TEST_FLAGS.length + 2 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
