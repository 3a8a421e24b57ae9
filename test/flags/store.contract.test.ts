// The FlagStore contract: one suite, run against the Upstash store (real Redis behind the REST bridge) and the file store.
/*
 * The Upstash store runs twice: with the client createUpstashClient builds (no automatic JSON parsing) and with a
 * client left at @upstash/redis's defaults (parsing on, auto-pipelining on), as a caller might construct it.
 * The usage part (recordUsage, readUsage) runs against those three and the memory store the other tests use.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFileStore } from "../../functions/flags/file-store.ts";
import {
  type AuditEntry,
  type Flag,
  type FlagStore,
  StoreConflictError,
  StoreNotFoundError,
  USAGE_DAYS_KEPT,
  type UsageBatch,
} from "../../functions/flags/types.ts";
import { createUpstashClient, createUpstashStore } from "../../functions/flags/upstash-store.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";
import { createMemoryStore } from "./memory-store.ts";

type StoreFactory = () => Promise<FlagStore>;

const flag = (key: string, extra: Partial<Flag> = {}): Flag => ({ key, state: "enabled", ...extra });

/** What a rejected promise rejected with (for checking the fields of a typed store error). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to reject, it resolved");
}

/** Reads the flag and writes it back with `change` applied and If-Match, until no other writer got in between. */
async function updateWithRetry(store: FlagStore, key: string, actor: string, change: (flag: Flag) => Flag) {
  for (let attempt = 1; ; attempt++) {
    const current = await store.get(key);
    if (!current) throw new Error(`flag ${key} vanished`);
    try {
      return await store.put(change(current.flag), { actor, ifMatch: current.revision });
    } catch (error) {
      if (!(error instanceof StoreConflictError) || attempt > 200) throw error;
    }
  }
}

function flagStoreContract(name: string, makeStore: StoreFactory): void {
  describe(`FlagStore contract: ${name}`, () => {
    it("starts empty, and get/load return a written flag exactly, with revision = the write's version", async () => {
      const store = await makeStore();
      expect(await store.version()).toBe(0);
      expect(await store.load()).toEqual({ version: 0, flags: {} });
      expect(await store.get("checkout.v2")).toBeUndefined();
      expect(await store.audit()).toEqual([]);

      const written = flag("checkout.v2", {
        description: 'Neue Kasse ✓ "quoted" 123',
        state: "partial",
        segments: [],
        conditions: [],
        percentage: 25,
        variants: { on: { value: { layout: ["a", 1, null, true] }, weight: 1 }, off: { value: false, weight: 0 } },
        defaultVariant: "off",
      });
      const result = await store.put(written, { actor: "alice@example.com" });
      expect(result.version).toBe(1);
      expect(result.stored).toMatchObject({ flag: written, revision: 1, updatedBy: "alice@example.com" });
      expect(new Date(result.stored?.updatedAt ?? "").toISOString()).toBe(result.stored?.updatedAt);

      expect(await store.get("checkout.v2")).toEqual(result.stored);
      expect(await store.load()).toEqual({ version: 1, flags: { "checkout.v2": result.stored } });
      expect(await store.version()).toBe(1);
    });

    it("goes up one version per write; a flag's revision is the version of its last write", async () => {
      const store = await makeStore();
      expect((await store.put(flag("a"), { actor: "t" })).version).toBe(1);
      expect((await store.put(flag("b"), { actor: "t" })).version).toBe(2);
      expect((await store.put(flag("a", { state: "disabled" }), { actor: "t" })).stored?.revision).toBe(3);
      expect((await store.delete("b", { actor: "t" })).version).toBe(4);
      expect(await store.version()).toBe(4);
      const ruleSet = await store.load();
      expect(ruleSet.version).toBe(4);
      expect(Object.keys(ruleSet.flags)).toEqual(["a"]);
      expect(ruleSet.flags.a).toMatchObject({ revision: 3, flag: { key: "a", state: "disabled" } });
    });

    it("writes when If-Match holds: the current revision, or 0 for a flag that does not exist yet", async () => {
      const store = await makeStore();
      expect((await store.put(flag("a"), { actor: "t", ifMatch: 0 })).version).toBe(1);
      expect((await store.put(flag("a", { state: "disabled" }), { actor: "t", ifMatch: 1 })).stored?.revision).toBe(2);
      expect((await store.delete("a", { actor: "t", ifMatch: 2 })).version).toBe(3);
      expect(await store.get("a")).toBeUndefined();
    });

    it("rejects a write whose If-Match is stale with StoreConflictError carrying the actual revision, writing nothing", async () => {
      const store = await makeStore();
      await store.put(flag("a"), { actor: "t" });
      await store.put(flag("b"), { actor: "t" });
      const current = (await store.put(flag("a", { state: "disabled" }), { actor: "t" })).stored;

      const conflict = await rejection(store.put(flag("a", { state: "partial" }), { actor: "t", ifMatch: 1 }));
      expect(conflict).toBeInstanceOf(StoreConflictError);
      expect(conflict).toMatchObject({ key: "a", expected: 1, actual: 3 });
      expect(await rejection(store.delete("a", { actor: "t", ifMatch: 2 }))).toMatchObject({
        name: "StoreConflictError",
        expected: 2,
        actual: 3,
      });
      expect(await rejection(store.put(flag("new"), { actor: "t", ifMatch: 5 }))).toMatchObject({
        name: "StoreConflictError",
        key: "new",
        expected: 5,
        actual: 0,
      });

      expect(await store.version()).toBe(3);
      expect(await store.get("a")).toEqual(current);
      expect(await store.get("new")).toBeUndefined();
      expect(await store.audit()).toHaveLength(3);
    });

    it("treats If-Match 0 on an existing flag as a conflict", async () => {
      const store = await makeStore();
      await store.put(flag("a"), { actor: "t" });
      await store.put(flag("a"), { actor: "t" });
      const conflict = await rejection(store.put(flag("a", { state: "disabled" }), { actor: "t", ifMatch: 0 }));
      expect(conflict).toBeInstanceOf(StoreConflictError);
      expect(conflict).toMatchObject({ key: "a", expected: 0, actual: 2 });
      expect((await store.get("a"))?.flag.state).toBe("enabled");
    });

    it("says whether a put created the flag: true when it did not exist just before, false when it replaced one", async () => {
      const store = await makeStore();
      expect((await store.put(flag("a"), { actor: "t" })).created).toBe(true);
      expect((await store.put(flag("a", { state: "disabled" }), { actor: "t" })).created).toBe(false);
      await store.delete("a", { actor: "t" });
      expect((await store.put(flag("a"), { actor: "t", ifMatch: 0 })).created).toBe(true);
    });

    it("checks lists of allowed revisions (ifMatch) and ruled-out ones (ifNoneMatch), 0 standing for absent", async () => {
      const store = await makeStore();
      // Absent: ifNoneMatch [0] ("must exist", If-Match: *) fails; ifMatch [0, 9] ("absent or 9") holds.
      expect(await rejection(store.put(flag("a"), { actor: "t", ifNoneMatch: [0] }))).toMatchObject({
        name: "StoreConflictError",
        key: "a",
        actual: 0,
        ifNoneMatch: [0],
        expected: undefined,
      });
      expect((await store.put(flag("a"), { actor: "t", ifMatch: [0, 9] })).version).toBe(1);
      // At revision 1: any listed revision holds, an empty list never does, a ruled-out revision fails.
      expect((await store.put(flag("a", { description: "2" }), { actor: "t", ifMatch: [7, 1] })).version).toBe(2);
      expect(await rejection(store.put(flag("a"), { actor: "t", ifMatch: [] }))).toMatchObject({
        name: "StoreConflictError",
        actual: 2,
        ifMatch: [],
      });
      expect(await rejection(store.delete("a", { actor: "t", ifNoneMatch: [5, 2] }))).toMatchObject({
        name: "StoreConflictError",
        actual: 2,
      });
      expect(await rejection(store.put(flag("a"), { actor: "t", ifMatch: [2], ifNoneMatch: [2] }))).toMatchObject({
        name: "StoreConflictError",
        actual: 2,
      });
      // Big revisions are compared exactly (no rounding to a neighbour).
      expect(
        await rejection(store.put(flag("a"), { actor: "t", ifMatch: [2 ** 53 - 1, 9_007_199_254_740_990] })),
      ).toMatchObject({
        name: "StoreConflictError",
      });
      expect(await store.version()).toBe(2);
      expect(await store.audit()).toHaveLength(2);
      expect((await store.put(flag("a", { description: "3" }), { actor: "t", ifNoneMatch: [0, 1] })).version).toBe(3);
      expect((await store.delete("a", { actor: "t", ifMatch: [3] })).version).toBe(4);
    });

    it("tells exactly one of 20 racing creators that it created the flag, inside the atomic write", async () => {
      const store = await makeStore();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.put(flag("race", { description: `${i}` }), { actor: `w${i}` })),
      );
      expect(results.filter((result) => result.created === true)).toHaveLength(1);
      expect(results.filter((result) => result.created === false)).toHaveLength(19);
      const creator = results.find((result) => result.created);
      // The creator's write is the first one: the version right after the empty store, with no `before`.
      expect(creator?.version).toBe(1);
      const entries = await store.audit();
      expect(entries).toHaveLength(20);
      expect(entries.filter((entry) => entry.before === undefined).map((entry) => entry.version)).toEqual([1]);
    });

    it("lets one of 20 racing create-only writers (ifMatch 0) create the flag and refuses the rest, auditing one", async () => {
      const store = await makeStore();
      const settled = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          store.put(flag("race", { description: `${i}` }), { actor: `w${i}`, ifMatch: 0 }),
        ),
      );
      const written = settled.filter((result) => result.status === "fulfilled");
      const refused = settled.filter((result) => result.status === "rejected");
      expect(written).toHaveLength(1);
      expect(written[0]?.value).toMatchObject({ version: 1, created: true });
      expect(refused).toHaveLength(19);
      for (const result of refused) expect(result.reason).toMatchObject({ name: "StoreConflictError", actual: 1 });
      expect(await store.version()).toBe(1);
      const entries = await store.audit();
      expect(entries).toHaveLength(1);
      expect(entries[0]?.after).toEqual(written[0]?.value.stored?.flag);
    });

    it("deletes a flag; deleting a missing one is StoreNotFoundError and writes nothing", async () => {
      const store = await makeStore();
      await store.put(flag("a"), { actor: "t" });
      expect(await store.delete("a", { actor: "bob" })).toEqual({ version: 2 });
      expect(await store.get("a")).toBeUndefined();
      expect((await store.load()).flags).toEqual({});

      // Not found comes first whatever the preconditions say (RFC 9110 section 13.2.1).
      for (const preconditions of [{}, { ifMatch: 0 }, { ifMatch: 2 }, { ifMatch: [] }, { ifNoneMatch: [0] }]) {
        const missing = await rejection(store.delete("a", { actor: "t", ...preconditions }));
        expect(missing).toBeInstanceOf(StoreNotFoundError);
        expect(missing).toMatchObject({ key: "a" });
      }
      expect(await store.version()).toBe(2);
      expect(await store.audit()).toHaveLength(2);
    });

    it("audits every write newest first, with who, what, the version and the definitions before and after", async () => {
      const store = await makeStore();
      const a1 = flag("a", { description: "first" });
      const a2 = flag("a", { description: "second", segments: ["beta"] });
      const b = flag("b");
      await store.put(a1, { actor: "alice" });
      await store.put(a2, { actor: "bob" });
      await store.put(b, { actor: "carol" });
      await store.delete("a", { actor: "dave" });

      const entries = await store.audit();
      const strip = ({ id: _id, at: _at, ...rest }: AuditEntry) => rest;
      expect(entries.map(strip)).toEqual([
        { actor: "dave", action: "delete", key: "a", version: 4, before: a2 },
        { actor: "carol", action: "put", key: "b", version: 3, after: b },
        { actor: "bob", action: "put", key: "a", version: 2, before: a1, after: a2 },
        { actor: "alice", action: "put", key: "a", version: 1, after: a1 },
      ]);
      expect(new Set(entries.map((entry) => entry.id)).size).toBe(4);
      for (const entry of entries) expect(new Date(entry.at).toISOString()).toBe(entry.at);
      const stored = await store.put(flag("c"), { actor: "erin" });
      expect((await store.audit({ limit: 1 }))[0]?.at).toBe(stored.stored?.updatedAt);
    });

    it("records the label of the admin token a write came with, and none when it came without one", async () => {
      const store = await makeStore();
      await store.put(flag("a"), { actor: "alice@example.com", token: "deploy-2026" });
      await store.delete("a", { actor: "ci", token: "ci" });
      await store.put(flag("b"), { actor: "seed" });
      const entries = await store.audit();
      expect(entries.map(({ actor, token, action }) => ({ actor, token, action }))).toEqual([
        { actor: "seed", token: undefined, action: "put" },
        { actor: "ci", token: "ci", action: "delete" },
        { actor: "alice@example.com", token: "deploy-2026", action: "put" },
      ]);
      expect("token" in (entries[0] as AuditEntry)).toBe(false);
    });

    it("pages the audit back with limit and before", async () => {
      const store = await makeStore();
      for (let i = 1; i <= 7; i++) await store.put(flag(`f${i}`), { actor: "t" });
      const versions = (entries: AuditEntry[]) => entries.map((entry) => entry.version);

      expect(versions(await store.audit())).toEqual([7, 6, 5, 4, 3, 2, 1]);
      const first = await store.audit({ limit: 3 });
      expect(versions(first)).toEqual([7, 6, 5]);
      const second = await store.audit({ limit: 3, before: first.at(-1)?.id });
      expect(versions(second)).toEqual([4, 3, 2]);
      const third = await store.audit({ limit: 3, before: second.at(-1)?.id });
      expect(versions(third)).toEqual([1]);
      expect(await store.audit({ limit: 3, before: third[0]?.id })).toEqual([]);
      // An id this store never issued pages past everything rather than starting over.
      expect(await store.audit({ before: "not-an-id" })).toEqual([]);
      await expect(store.audit({ limit: 0 })).rejects.toThrow("audit limit must be a positive integer, got 0");
    });

    it("rejects arguments no store can write, naming the field", async () => {
      const store = await makeStore();
      await expect(store.put({ state: "enabled" } as unknown as Flag, { actor: "t" })).rejects.toThrow(
        "flag.key must be a non-empty string, got undefined",
      );
      await expect(store.put(flag("a"), { actor: "t", ifMatch: -1 })).rejects.toThrow(
        'options.ifMatch must be a non-negative integer (a revision, or 0 for "must not exist") or a list of them, got -1',
      );
      await expect(store.put(flag("a"), { actor: "t", ifMatch: [3, 1.5] })).rejects.toThrow(
        "options.ifMatch[1] must be a non-negative integer (a revision), got 1.5",
      );
      await expect(
        store.delete("a", { actor: "t", ifNoneMatch: 0 } as unknown as { actor: string; ifNoneMatch: number[] }),
      ).rejects.toThrow(
        'options.ifNoneMatch must be a list of non-negative integers (revisions, 0 for "does not exist"), got 0',
      );
      await expect(store.put(flag("a"), { actor: 7 } as unknown as { actor: string })).rejects.toThrow(
        "options.actor must be a string (who made the change), got 7",
      );
      await expect(store.delete("", { actor: "t" })).rejects.toThrow('key must be a non-empty string, got ""');
      expect(await store.version()).toBe(0);
    });

    it("loads consistent snapshots while writers run: no flag newer than the snapshot's version", async () => {
      const store = await makeStore();
      const keys = ["x", "y", "z"];
      for (const key of keys) await store.put(flag(key), { actor: "t" });
      let writing = true;
      const writers = keys.map(async (key) => {
        for (let i = 0; i < 12; i++) await store.put(flag(key, { description: `${i}` }), { actor: key });
      });
      const all = Promise.all(writers).finally(() => {
        writing = false;
      });
      const snapshots = [];
      let lastVersion = 0;
      while (writing) {
        const ruleSet = await store.load();
        snapshots.push(ruleSet);
        expect(ruleSet.version).toBeGreaterThanOrEqual(lastVersion);
        lastVersion = ruleSet.version;
      }
      await all;
      snapshots.push(await store.load());
      for (const ruleSet of snapshots) {
        const revisions = Object.values(ruleSet.flags).map((stored) => stored.revision);
        // Every write sets its flag's revision to the version it produced, and nothing was deleted: a snapshot
        // taken in one instant has its newest flag at exactly its version.
        expect(Math.max(...revisions)).toBe(ruleSet.version);
      }
      expect(snapshots.at(-1)?.version).toBe(3 + 36);
    });

    // A load test (~1,300 attempts through HTTP for Upstash): a generous limit for a busy machine, not a measurement.
    it("loses no update when 50 writers read-modify-write one flag with If-Match at once", {
      timeout: 120_000,
    }, async () => {
      const store = await makeStore();
      await store.put(flag("unrelated"), { actor: "setup" });
      await store.put(flag("shared", { segments: [] }), { actor: "setup" });
      const initial = await store.version();
      const ids = Array.from({ length: 50 }, (_, i) => `w${i}`);

      await Promise.all(
        ids.map((id) =>
          updateWithRetry(store, "shared", id, (current) => ({
            ...current,
            segments: [...(current.segments ?? []), id],
          })),
        ),
      );

      const final = await store.get("shared");
      expect([...(final?.flag.segments ?? [])].sort()).toEqual([...ids].sort());
      expect(await store.version()).toBe(initial + 50);
      expect(final?.revision).toBe(initial + 50);

      const writes = (await store.audit({ limit: 1000 })).filter((entry) => entry.version > initial).reverse();
      expect(writes.map((entry) => entry.version)).toEqual(ids.map((_, i) => initial + 1 + i));
      expect(new Set(writes.map((entry) => entry.actor))).toEqual(new Set(ids));
      for (const [i, entry] of writes.entries()) {
        // Each write appended its own id to exactly what the previous write left.
        const previous = i === 0 ? [] : writes[i - 1]?.after?.segments;
        expect(entry).toMatchObject({ action: "put", key: "shared" });
        expect(entry.before?.segments).toEqual(previous);
        expect(entry.after?.segments).toEqual([...(previous ?? []), entry.actor]);
      }
    });
  });
}

// ---- usage counts ------------------------------------------------------------------------------------------------

const DAY = 86_400_000;
/** Noon UTC, so that an hour either way stays on the same day. */
const NOON = Date.parse("2026-11-26T12:00:00Z");

const batch = (at: number, counts: Array<[string, string, number]>, countingSince = at - DAY): UsageBatch => ({
  at,
  countingSince,
  counts: counts.map(([key, variant, count]) => ({ key, variant, count })),
});

/** recordUsage and readUsage as every store that counts usage must keep them. */
function usageContract(name: string, makeStore: StoreFactory): void {
  describe(`FlagStore usage contract: ${name}`, () => {
    const usageOf = async (store: FlagStore) => {
      if (!store.recordUsage || !store.readUsage) throw new Error(`${name} does not implement usage`);
      return { record: store.recordUsage.bind(store), read: store.readUsage.bind(store) };
    };

    it("starts with nothing counted and no counting start", async () => {
      const { read } = await usageOf(await makeStore());
      expect(await read()).toEqual({ flags: {} });
      expect(await read({ days: 7, now: NOON })).toEqual({ flags: {} });
    });

    it("adds batches up by flag and variant, keeps the latest evaluation and the earliest counting start", async () => {
      const { record, read } = await usageOf(await makeStore());
      await record(
        batch(
          NOON,
          [
            ["checkout", "on", 3],
            ["checkout", "off", 1],
            ["theme", "dark", 2],
          ],
          NOON - 5 * DAY,
        ),
      );
      // An older batch that lands late (a thawed Lambda) adds its counts but moves no last evaluation back.
      await record(
        batch(
          NOON - 3_600_000,
          [
            ["checkout", "on", 4],
            ["half", "error:TARGETING_KEY_MISSING", 5],
          ],
          NOON - 9 * DAY,
        ),
      );
      await record(batch(NOON + 60_000, [["theme", "dark", 1]], NOON - 2 * DAY));
      const report = await read({ days: 1, now: NOON });
      expect(report.countingSince).toBe(NOON - 9 * DAY);
      expect(JSON.parse(JSON.stringify(report.flags))).toEqual({
        checkout: { lastEvaluatedAt: NOON, variants: { on: 7, off: 1 } },
        half: { lastEvaluatedAt: NOON - 3_600_000, variants: { "error:TARGETING_KEY_MISSING": 5 } },
        theme: { lastEvaluatedAt: NOON + 60_000, variants: { dark: 3 } },
      });
      // Without days: the last evaluations alone.
      expect(JSON.parse(JSON.stringify((await read()).flags.checkout))).toEqual({
        lastEvaluatedAt: NOON,
        variants: {},
      });
    });

    it("keeps counts per UTC day, and adds up the days asked for, ending with now's", async () => {
      const { record, read } = await usageOf(await makeStore());
      await record(batch(NOON - 2 * DAY, [["a", "on", 1]]));
      await record(batch(NOON - DAY, [["a", "on", 10]]));
      await record(
        batch(NOON, [
          ["a", "on", 100],
          ["a", "off", 7],
        ]),
      );
      const variants = async (days: number, now = NOON) => (await read({ days, now })).flags.a?.variants;
      expect({ ...(await variants(1)) }).toEqual({ on: 100, off: 7 });
      expect({ ...(await variants(2)) }).toEqual({ on: 110, off: 7 });
      expect({ ...(await variants(3)) }).toEqual({ on: 111, off: 7 });
      expect({ ...(await variants(1, NOON - DAY)) }).toEqual({ on: 10 });
      expect({ ...(await variants(0)) }).toEqual({});
      // More days than are kept reads what is kept.
      expect({ ...(await variants(USAGE_DAYS_KEPT + 50)) }).toEqual({ on: 111, off: 7 });
      expect((await read({ days: 3, now: NOON })).flags.a?.lastEvaluatedAt).toBe(NOON);
    });

    it("counts every evaluation of 20 flushes racing each other", async () => {
      const { record, read } = await usageOf(await makeStore());
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          record(
            batch(NOON + i, [
              ["race", "on", i + 1],
              ["race", "off", 1],
            ]),
          ),
        ),
      );
      const race = (await read({ days: 1, now: NOON })).flags.race;
      expect({ ...race?.variants }).toEqual({ on: 210, off: 20 });
      expect(race?.lastEvaluatedAt).toBe(NOON + 19);
    });

    it("forgets a deleted flag's last evaluation: made again, it starts as never evaluated", async () => {
      const store = await makeStore();
      const { record, read } = await usageOf(store);
      await store.put(flag("gone"), { actor: "t" });
      await store.put(flag("kept"), { actor: "t" });
      await record(
        batch(NOON, [
          ["gone", "on", 2],
          ["kept", "on", 1],
        ]),
      );
      await store.delete("gone", { actor: "t" });
      await store.put(flag("gone"), { actor: "t" });
      const report = await read({ days: 1, now: NOON });
      expect(Object.keys(report.flags)).toEqual(["kept"]);
      expect(report.countingSince).toBe(NOON - DAY);
    });

    it("keeps any flag key and outcome apart, names like constructor and __proto__ included", async () => {
      const { record, read } = await usageOf(await makeStore());
      await record(
        batch(NOON, [
          ["constructor", "toString", 1],
          ["__proto__", "on", 2],
          ["123", "1e3", 3],
          ["a.b-c_d", "error:GENERAL", 4],
        ]),
      );
      const report = await read({ days: 1, now: NOON });
      expect(JSON.parse(JSON.stringify(report.flags))).toEqual({
        constructor: { lastEvaluatedAt: NOON, variants: { toString: 1 } },
        ["__proto__"]: { lastEvaluatedAt: NOON, variants: { on: 2 } },
        "123": { lastEvaluatedAt: NOON, variants: { "1e3": 3 } },
        "a.b-c_d": { lastEvaluatedAt: NOON, variants: { "error:GENERAL": 4 } },
      });
      expect(Object.hasOwn(report.flags, "toString")).toBe(false);
    });

    it("refuses a batch no store can keep, and takes an empty one without a call", async () => {
      const { record, read } = await usageOf(await makeStore());
      await expect(record(batch(NOON, [["a", "on", 0]]))).rejects.toThrow(
        "batch.counts[0].count must be a positive integer, got 0",
      );
      await expect(record({ at: -1, countingSince: 0, counts: [] })).rejects.toThrow(
        "batch.at must be a time in ms since the epoch, got -1",
      );
      await expect(record(batch(NOON, [["", "on", 1]]))).rejects.toThrow("batch.counts[0] must have a non-empty key");
      await record(batch(NOON, []));
      expect(await read()).toEqual({ flags: {} });
    });
  });
}

// ---- the stores under contract -----------------------------------------------------------------------------------

const TOKEN = "contract-token";
let redis: RunningRedis;
let bridge: RunningUpstashBridge;
const dirs: string[] = [];
let prefixes = 0;

beforeAll(async () => {
  redis = await startRedis();
  bridge = await startUpstashBridge({ redisPort: redis.port, token: TOKEN });
});

afterAll(async () => {
  await bridge?.close();
  await redis?.close();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

flagStoreContract("Upstash store, client from createUpstashClient", async () =>
  // A generous deadline: 50 writers racing open 50 connections to the bridge at once, which takes longer than the
  // production default (500 ms) on a loaded machine.
  createUpstashStore(createUpstashClient({ url: bridge.url, token: TOKEN, retries: 0, timeoutMs: 10_000 }), {
    prefix: `contract:${++prefixes}`,
  }),
);

flagStoreContract("Upstash store, @upstash/redis client with its defaults", async () =>
  createUpstashStore(new Redis({ url: bridge.url, token: TOKEN, enableTelemetry: false, retry: false }), {
    prefix: `contract:${++prefixes}`,
  }),
);

const fileStore = async () => {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-flags-contract-"));
  dirs.push(dir);
  return createFileStore({ dir: join(dir, "state") });
};

flagStoreContract("file store", fileStore);

usageContract("Upstash store, client from createUpstashClient", async () =>
  createUpstashStore(createUpstashClient({ url: bridge.url, token: TOKEN, retries: 0, timeoutMs: 10_000 }), {
    prefix: `contract:${++prefixes}`,
  }),
);

usageContract("Upstash store, @upstash/redis client with its defaults", async () =>
  createUpstashStore(new Redis({ url: bridge.url, token: TOKEN, enableTelemetry: false, retry: false }), {
    prefix: `contract:${++prefixes}`,
  }),
);

usageContract("file store", fileStore);

usageContract("memory store (the test double)", async () => createMemoryStore({ usage: true }));
