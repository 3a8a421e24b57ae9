// findStaleFlags: expired, long-unchanged and unused flags, the day boundaries, options and ordering; and the stale
// report of GET /admin/stale with usage counted through OFREP, on an injected clock.
import { describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { type AdminDeps, listStale } from "../../functions/flags/http/admin.ts";
import { createFlagCore } from "../../functions/flags/http/handler.ts";
import { findStaleFlags, staleReport } from "../../functions/flags/stale.ts";
import type { Flag, RuleSet, StoredFlag, UsageReport } from "../../functions/flags/types.ts";
import type { HttpRequest } from "../../functions/http/message.ts";
import { createMemoryStore, TEST_FLAGS } from "./memory-store.ts";

const NOW = Date.parse("2026-06-15T12:00:00Z");
const DAY = 86_400_000;

const daysAgo = (days: number): string => new Date(NOW - days * DAY).toISOString();

function ruleSet(entries: Array<{ flag: Flag; updatedAt: string }>): RuleSet {
  const flags: Record<string, StoredFlag> = {};
  entries.forEach(({ flag, updatedAt }, index) => {
    flags[flag.key] = { flag, revision: index + 1, updatedAt, updatedBy: "test" };
  });
  return { version: entries.length, flags };
}

describe("findStaleFlags", () => {
  it("reports expired flags (expires in the past) with owner and expiry", () => {
    const set = ruleSet([
      { flag: { key: "old", state: "enabled", owner: "web", expires: "2026-06-01" }, updatedAt: daysAgo(1) },
      { flag: { key: "future", state: "enabled", expires: "2026-07-01" }, updatedAt: daysAgo(1) },
      { flag: { key: "forever", state: "enabled" }, updatedAt: daysAgo(1) },
    ]);
    expect(findStaleFlags(set, NOW)).toEqual([
      { key: "old", owner: "web", reasons: ["expired"], expires: "2026-06-01", updatedAt: daysAgo(1) },
    ]);
  });

  it("treats a date-only expiry as due from the start of that day (UTC), and honours instants", () => {
    const set = ruleSet([
      { flag: { key: "today", state: "enabled", expires: "2026-06-15" }, updatedAt: daysAgo(0) },
      { flag: { key: "tomorrow", state: "enabled", expires: "2026-06-16" }, updatedAt: daysAgo(0) },
      { flag: { key: "in-an-hour", state: "enabled", expires: "2026-06-15T13:00:00Z" }, updatedAt: daysAgo(0) },
      { flag: { key: "an-hour-ago", state: "enabled", expires: "2026-06-15T11:00:00Z" }, updatedAt: daysAgo(0) },
    ]);
    expect(findStaleFlags(set, NOW).map((flag) => flag.key)).toEqual(["an-hour-ago", "today"]);
  });

  it("reports flags not written for 90 days (by default) as unchanged", () => {
    const set = ruleSet([
      { flag: { key: "ninety", state: "enabled" }, updatedAt: daysAgo(90) },
      { flag: { key: "eighty-nine", state: "enabled" }, updatedAt: daysAgo(89) },
      { flag: { key: "year", state: "disabled", owner: "payments" }, updatedAt: daysAgo(365) },
    ]);
    expect(findStaleFlags(set, NOW)).toEqual([
      { key: "ninety", reasons: ["unchanged"], updatedAt: daysAgo(90) },
      { key: "year", owner: "payments", reasons: ["unchanged"], updatedAt: daysAgo(365) },
    ]);
  });

  it("takes the unchanged threshold from unchangedDays", () => {
    const set = ruleSet([
      { flag: { key: "a", state: "enabled" }, updatedAt: daysAgo(8) },
      { flag: { key: "b", state: "enabled" }, updatedAt: daysAgo(6) },
    ]);
    expect(findStaleFlags(set, NOW, { unchangedDays: 7 }).map((flag) => flag.key)).toEqual(["a"]);
    expect(findStaleFlags(set, NOW, { unchangedDays: 1 }).map((flag) => flag.key)).toEqual(["a", "b"]);
    expect(findStaleFlags(set, NOW, { unchangedDays: 30 })).toEqual([]);
  });

  it("gives both reasons when both hold, and sorts by key whatever the stored order", () => {
    const set = ruleSet([
      { flag: { key: "zeta", state: "enabled", expires: "2020-01-01" }, updatedAt: daysAgo(400) },
      { flag: { key: "Alpha", state: "enabled" }, updatedAt: daysAgo(100) },
      { flag: { key: "mid", state: "enabled", expires: "2021-01-01" }, updatedAt: daysAgo(2) },
    ]);
    const stale = findStaleFlags(set, NOW);
    expect(stale.map((flag) => flag.key)).toEqual(["Alpha", "mid", "zeta"]);
    expect(stale[2]?.reasons).toEqual(["expired", "unchanged"]);
  });

  it("never calls a flag stale for a date it cannot read", () => {
    const set = ruleSet([{ flag: { key: "odd", state: "enabled", expires: "someday" }, updatedAt: "not a date" }]);
    expect(findStaleFlags(set, NOW)).toEqual([]);
  });

  it("finds nothing in an empty rule set", () => {
    expect(findStaleFlags({ version: 0, flags: {} }, NOW)).toEqual([]);
  });
});

describe("findStaleFlags with usage", () => {
  const usage = (countingSinceDaysAgo: number | undefined, lastEvaluated: Record<string, number>): UsageReport => ({
    ...(countingSinceDaysAgo === undefined ? {} : { countingSince: NOW - countingSinceDaysAgo * DAY }),
    flags: Object.fromEntries(
      Object.entries(lastEvaluated).map(([key, days]) => [key, { lastEvaluatedAt: NOW - days * DAY, variants: {} }]),
    ),
  });
  const set = ruleSet([
    { flag: { key: "recent", state: "enabled" }, updatedAt: daysAgo(100) },
    { flag: { key: "thirty", state: "enabled", owner: "web" }, updatedAt: daysAgo(100) },
    { flag: { key: "old-seen", state: "enabled" }, updatedAt: daysAgo(10) },
    { flag: { key: "never", state: "enabled" }, updatedAt: daysAgo(40) },
    { flag: { key: "never-new", state: "enabled" }, updatedAt: daysAgo(29) },
  ]);

  it("reports a flag not evaluated for 30 days (by default) as unused, with its last evaluation", () => {
    const found = findStaleFlags(set, NOW, {
      unchangedDays: 3650,
      usage: usage(60, { recent: 29, thirty: 30, "old-seen": 45 }),
    });
    expect(found).toEqual([
      { key: "never", reasons: ["unused"], updatedAt: daysAgo(40), lastEvaluated: null },
      { key: "old-seen", reasons: ["unused"], updatedAt: daysAgo(10), lastEvaluated: daysAgo(45) },
      { key: "thirty", owner: "web", reasons: ["unused"], updatedAt: daysAgo(100), lastEvaluated: daysAgo(30) },
    ]);
  });

  it("reports a flag never evaluated only once counting has run N days and the flag was written N days ago", () => {
    const never = (countingSince: number | undefined, unusedDays = 30) =>
      findStaleFlags(set, NOW, {
        unchangedDays: 3650,
        unusedDays,
        usage: usage(countingSince, { recent: 1, thirty: 1, "old-seen": 1 }),
      }).map((flag) => flag.key);
    // Counting began 29 days ago: "never evaluated" may only mean "not since deployment". Nothing reported.
    expect(never(29)).toEqual([]);
    expect(never(30)).toEqual(["never"]);
    // Nothing recorded at all: no counting start, nothing to go on.
    expect(never(undefined)).toEqual([]);
    // never-new was written 29 days ago: like LaunchDarkly's "new" flag, not unused yet.
    expect(never(400, 29)).toEqual(["never", "never-new"]);
  });

  it("adds unused to the other reasons, and lastEvaluated to every flag reported while usage is counted", () => {
    const both = ruleSet([
      { flag: { key: "gone", state: "enabled", expires: "2026-01-01" }, updatedAt: daysAgo(200) },
      { flag: { key: "busy", state: "enabled", expires: "2026-01-01" }, updatedAt: daysAgo(200) },
    ]);
    const found = findStaleFlags(both, NOW, { usage: usage(300, { busy: 0 }) });
    expect(found).toEqual([
      {
        key: "busy",
        reasons: ["expired", "unchanged"],
        expires: "2026-01-01",
        updatedAt: daysAgo(200),
        lastEvaluated: daysAgo(0),
      },
      {
        key: "gone",
        reasons: ["expired", "unchanged", "unused"],
        expires: "2026-01-01",
        updatedAt: daysAgo(200),
        lastEvaluated: null,
      },
    ]);
    // Without usage: as before, no unused reason and no lastEvaluated.
    expect(findStaleFlags(both, NOW)[0]).not.toHaveProperty("lastEvaluated");
  });

  it("says in the report how usage was counted", () => {
    expect(staleReport(set, NOW, { usage: usage(60, {}), unusedDays: 14 }).usage).toEqual({
      unusedDays: 14,
      countingSince: daysAgo(60),
    });
    expect(staleReport(set, NOW, { usage: { flags: {} } }).usage).toEqual({ unusedDays: 30, countingSince: null });
    expect(staleReport(set, NOW)).not.toHaveProperty("usage");
  });
});

describe("GET /admin/stale with usage counted through OFREP", () => {
  const TOKEN = "stale-admin-token";
  const T0 = Date.parse("2026-06-01T00:00:00Z");

  const request = (method: string, path: string, body?: unknown): HttpRequest => {
    const headers = new Map([
      ["authorization", `Bearer ${TOKEN}`],
      ["content-type", "application/json"],
    ]);
    return {
      method,
      url: `http://localhost${path}`,
      headers: { get: (name) => headers.get(name.toLowerCase()) ?? null },
      ...(body === undefined ? {} : { bodyBytes: new TextEncoder().encode(JSON.stringify(body)) }),
    };
  };

  function setup() {
    let now = T0;
    const clock = { now: () => now, set: (ms: number) => (now = ms) };
    const store = createMemoryStore({ seed: TEST_FLAGS, now: clock.now, usage: true });
    const cache = createRuleCache(store, { ttlMs: 5_000, now: clock.now, usage: {} });
    const core = createFlagCore({ store, cache, adminToken: TOKEN, now: clock.now, onError: () => undefined });
    const stale = async (query = "") => {
      const response = await core(request("GET", `/admin/stale${query}`));
      return { status: response.status, body: JSON.parse(response.body ?? "{}") };
    };
    const evaluate = (key: string) => core(request("POST", `/ofrep/v1/evaluate/flags/${key}`, { context: {} }));
    return { store, cache, core, clock, stale, evaluate };
  }

  it("lists flags not evaluated for unusedDays beside the expired and unchanged ones, each with its last evaluation", async () => {
    const { store, cache, clock, stale, evaluate } = setup();
    // Before anything was counted: no unused flag, and the report says counting has not begun.
    expect((await stale()).body.usage).toEqual({ unusedDays: 30, countingSince: null });

    clock.set(T0 + DAY);
    await evaluate("banner");
    await evaluate("theme");
    await cache.flushUsage?.({ force: true });
    clock.set(T0 + 20 * DAY);
    await store.put({ key: "fresh", state: "enabled" }, { actor: "t" });
    clock.set(T0 + 35 * DAY);
    await evaluate("theme");
    await cache.flushUsage?.({ force: true });
    clock.set(T0 + 40 * DAY);

    const report = await stale("?unusedDays=30&days=3650");
    expect(report.status).toBe(200);
    expect(report.body.usage).toEqual({ unusedDays: 30, countingSince: new Date(T0).toISOString() });
    const byKey = Object.fromEntries(
      (report.body.flags as Array<{ key: string; reasons: string[]; lastEvaluated: string | null }>).map((flag) => [
        flag.key,
        flag,
      ]),
    );
    // banner: last evaluated 39 days ago; theme 5 days ago; fresh never, but written 20 days ago; the rest never.
    expect(byKey.banner).toMatchObject({ reasons: ["unused"], lastEvaluated: new Date(T0 + DAY).toISOString() });
    expect(byKey).not.toHaveProperty("theme");
    expect(byKey).not.toHaveProperty("fresh");
    expect(byKey.checkout).toMatchObject({ reasons: ["expired", "unused"], lastEvaluated: null });
    expect(Object.keys(byKey).sort()).toEqual(
      TEST_FLAGS.map((flag) => flag.key)
        .filter((key) => key !== "theme")
        .sort(),
    );

    // 45 days: counting has run 40, so flags never evaluated are not reported yet; banner's 39 days are not enough.
    expect((await stale("?unusedDays=45")).body.flags.map((flag: { key: string }) => flag.key)).toEqual(["checkout"]);
    // Without the parameter: 30 days, the default.
    expect((await stale()).body.flags).toEqual((await stale("?unusedDays=30")).body.flags);
  });

  it("refuses an unusedDays that is not a whole number of days from 1 to 3650, naming the parameter", async () => {
    const { stale } = setup();
    for (const raw of ["0", "3651", "abc", "1.5", "", "-3"]) {
      const answer = await stale(`?unusedDays=${raw}`);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe(
        `query parameter unusedDays=${JSON.stringify(raw)} is invalid; accepted: an integer from 1 to 3650`,
      );
    }
    expect((await stale("?unusedDays=3650")).status).toBe(200);
  });

  it("takes its default from the deployment's setting (AdminDeps.unusedDays)", async () => {
    const { store, cache, clock, evaluate } = setup();
    await evaluate("banner");
    await cache.flushUsage?.({ force: true });
    clock.set(T0 + 10 * DAY);
    const deps: AdminDeps = { store, cache, now: clock.now, bodyLimitBytes: 65_536, unusedDays: 7 };
    const answer = await listStale(new URL("http://localhost/admin/stale"), deps);
    const body = JSON.parse(answer.body ?? "{}");
    expect(body.usage).toEqual({ unusedDays: 7, countingSince: new Date(T0).toISOString() });
    expect(body.flags.map((flag: { key: string }) => flag.key)).toContain("banner");
  });

  it("has no unused reason and no usage part for a store that does not count", async () => {
    const store = createMemoryStore({ seed: TEST_FLAGS, now: () => T0 });
    const deps: AdminDeps = { store, cache: createRuleCache(store), now: () => T0 + 400 * DAY, bodyLimitBytes: 65_536 };
    const body = JSON.parse((await listStale(new URL("http://localhost/admin/stale"), deps)).body ?? "{}");
    expect(body).not.toHaveProperty("usage");
    for (const flag of body.flags) expect(flag.reasons).not.toContain("unused");
  });
});
