// The import plan (functions/flags/unleash-plan.ts): each Unleash feature against the stored flags, with a prefix.
import { describe, expect, it } from "vitest";
import { compileFlag, evaluateFlag } from "../../functions/flags/evaluate.ts";
import { type Flag, isFailure, type StoredFlag } from "../../functions/flags/types.ts";
import { importUnleashFeatures, unleashContextToEvaluation } from "../../functions/flags/unleash.ts";
import { planUnleashImport, prefixProblem, sameFlag } from "../../functions/flags/unleash-plan.ts";

const NOW = Date.parse("2025-06-01T00:00:00.000Z");

const rollout = (name: string, rollout: number, more: Record<string, unknown> = {}) => ({
  name,
  enabled: true,
  strategies: [{ name: "flexibleRollout", parameters: { rollout: String(rollout), stickiness: "default", ...more } }],
});

const DOCUMENT = {
  version: 2,
  features: [
    { name: "checkout", enabled: true, strategies: [{ name: "default" }], description: "new checkout" },
    rollout("search", 30),
    rollout("by-session", 40, { stickiness: "sessionId", groupId: "shared" }),
    {
      name: "regex",
      enabled: true,
      strategies: [{ name: "default", constraints: [{ contextName: "email", operator: "REGEX", values: [".*"] }] }],
    },
    { name: "child", enabled: true, strategies: [], dependencies: [{ feature: "checkout" }] },
  ],
};

const stored = (flag: Flag, revision: number): StoredFlag => ({
  flag,
  revision,
  updatedAt: "2025-01-01T00:00:00.000Z",
  updatedBy: "tester",
});

const answer = (flag: Flag, userId: string): unknown => {
  const result = evaluateFlag(compileFlag(flag), unleashContextToEvaluation({ userId }), NOW);
  return isFailure(result) ? result.errorCode : result.value;
};

describe("planUnleashImport", () => {
  it("gives one row per feature, sorted: mapped with the adapter's flag, skipped with the adapter's reason", () => {
    const imported = importUnleashFeatures(DOCUMENT);
    const rows = planUnleashImport(imported, new Map());
    expect(rows.map((row) => [row.feature, row.result])).toEqual([
      ["by-session", "mapped"],
      ["checkout", "mapped"],
      ["child", "skipped"],
      ["regex", "skipped"],
      ["search", "mapped"],
    ]);
    for (const flag of imported.flags) {
      expect(rows.find((row) => row.feature === flag.key)).toMatchObject({ key: flag.key, flag });
    }
    for (const skip of imported.skipped) {
      expect(rows.find((row) => row.feature === skip.name)).toEqual({
        feature: skip.name,
        result: "skipped",
        reason: skip.reason,
      });
    }
    expect(rows.find((row) => row.feature === "by-session")?.stickiness).toBe("sessionId");
    expect(rows.find((row) => row.feature === "search")?.stickiness).toBeUndefined();
  });

  it("tells unchanged (same definition) from conflict (another one); overwrite makes a conflict a replacement", () => {
    const imported = importUnleashFeatures(DOCUMENT);
    const checkout = imported.flags.find((flag) => flag.key === "checkout")!;
    // Same fields in another order: still the same flag.
    const reordered: Flag = { state: checkout.state, key: checkout.key, description: "new checkout" } as Flag;
    const existing = new Map([
      ["checkout", stored(reordered, 4)],
      ["search", stored({ key: "search", state: "disabled" }, 7)],
    ]);
    const rows = planUnleashImport(imported, existing);
    expect(rows.find((row) => row.feature === "checkout")).toMatchObject({ result: "unchanged", revision: 4 });
    const conflict = rows.find((row) => row.feature === "search");
    expect(conflict).toMatchObject({ result: "conflict", revision: 7, key: "search" });
    expect(conflict?.reason).toBe(
      `flag "search" exists already (revision 7) with another definition: --overwrite replaces it`,
    );
    const overwrite = planUnleashImport(imported, existing, { overwrite: true });
    expect(overwrite.find((row) => row.feature === "search")).toMatchObject({ result: "mapped", revision: 7 });
    expect(overwrite.find((row) => row.feature === "search")?.reason).toBeUndefined();
    expect(overwrite.find((row) => row.feature === "checkout")?.result).toBe("unchanged");
  });

  it("prefixes keys and keeps the Unleash name as salt, so every user keeps its answer", () => {
    const imported = importUnleashFeatures(DOCUMENT);
    const rows = planUnleashImport(imported, new Map([["search", stored({ key: "search", state: "enabled" }, 2)]]), {
      prefix: "unleash.",
    });
    const search = rows.find((row) => row.feature === "search")!;
    // The stored "search" is another key now: no conflict.
    expect(search).toMatchObject({ result: "mapped", key: "unleash.search" });
    expect(search.flag).toEqual({ key: "unleash.search", state: "partial", percentage: 30, salt: "search" });
    const original = imported.flags.find((flag) => flag.key === "search")!;
    let on = 0;
    for (let user = 0; user < 500; user++) {
      const value = answer(search.flag!, `user-${user}`);
      expect(value).toBe(answer(original, `user-${user}`));
      if (value === true) on++;
    }
    expect(on).toBeGreaterThan(100);
    expect(on).toBeLessThan(200);
    // An explicit groupId was the salt already and stays.
    expect(rows.find((row) => row.feature === "by-session")?.flag?.salt).toBe("shared");
    expect(rows.find((row) => row.feature === "checkout")?.flag).toEqual({
      key: "unleash.checkout",
      description: "new checkout",
      state: "enabled",
    });
  });

  it("validates every flag with its final key: a prefix that makes a key too long skips that feature", () => {
    const long = "f".repeat(125);
    const imported = importUnleashFeatures({ features: [{ name: long, enabled: true, strategies: [] }] });
    expect(imported.flags).toHaveLength(1);
    const [row] = planUnleashImport(imported, new Map(), { prefix: "unleash." });
    expect(row?.result).toBe("skipped");
    expect(row?.reason).toMatch(/^not a valid greenlight flag as "unleash\.f+": \/key: /);
    expect(row?.flag).toBeUndefined();
  });

  it("refuses a prefix that cannot start a key", () => {
    expect(prefixProblem("")).toBeUndefined();
    expect(prefixProblem("unleash.")).toBeUndefined();
    expect(prefixProblem("team-a_")).toBeUndefined();
    expect(prefixProblem("-x")).toMatch(/^--prefix "-x" cannot start a flag key: /);
    expect(prefixProblem("a b")).toMatch(/cannot start a flag key/);
    expect(prefixProblem("p".repeat(128))).toMatch(/cannot start a flag key/);
  });

  it("compares flags field by field, in any order", () => {
    expect(sameFlag({ key: "a", state: "enabled" }, { state: "enabled", key: "a" } as Flag)).toBe(true);
    expect(sameFlag({ key: "a", state: "enabled" }, { key: "a", state: "disabled" })).toBe(false);
    const withConditions: Flag = {
      key: "a",
      state: "partial",
      conditions: [{ attribute: "plan", op: "in", value: ["pro"] }],
    };
    expect(
      sameFlag(withConditions, {
        ...withConditions,
        conditions: [{ value: ["pro"], op: "in", attribute: "plan" }],
      } as Flag),
    ).toBe(true);
    expect(
      sameFlag(withConditions, { ...withConditions, conditions: [{ attribute: "plan", op: "in", value: ["free"] }] }),
    ).toBe(false);
  });
});
