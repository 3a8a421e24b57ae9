// findStaleFlags: expired and long-unchanged flags, the day boundaries, options and ordering.
import { describe, expect, it } from "vitest";
import { findStaleFlags } from "../../functions/flags/stale.ts";
import type { Flag, RuleSet, StoredFlag } from "../../functions/flags/types.ts";

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
