// The status annotation: format/parse round trip with a stable text, and corrupt values reported, never thrown.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CanaryStatus, formatStatus, PHASES, parseStatus } from "../../functions/canary/status.ts";
import { statusOf } from "./fixtures.ts";

const full: CanaryStatus = statusOf({
  phase: "Paused",
  stepIndex: 3,
  weights: { stable: 65, canary: 35 },
  lastAnalysisAt: "2025-06-01T12:05:00.000Z",
  failures: 1,
  inconclusive: 2,
  lastChecks: [
    { name: "error-rate", query: "q1", value: 0.002, threshold: 0.01, comparison: "max", outcome: "pass" },
    { name: "latency-p95", query: "q2", threshold: 500, comparison: "max", outcome: "no-data", detail: "empty result" },
  ],
  heldControls: ["resume"],
  reason: "paused by hand",
});

describe("formatStatus / parseStatus", () => {
  it("round-trips every field", () => {
    const text = formatStatus(full);
    expect(parseStatus(text)).toEqual({ status: full });
    expect(formatStatus(parseStatus(text).status as CanaryStatus)).toBe(text);
  });

  it("writes keys in a fixed order whatever order the object was built in", () => {
    const shuffled = Object.fromEntries(Object.entries(full).reverse()) as unknown as CanaryStatus;
    expect(formatStatus(shuffled)).toBe(formatStatus(full));
    expect(formatStatus(full)).toMatch(
      /^\{"version":1,"phase":"Paused","canaryVersion":"v2.0","stableVersion":"v1.0",/,
    );
  });

  it("leaves out absent optional fields and empty heldControls", () => {
    const minimal = statusOf({ heldControls: [] });
    delete minimal.stableVersion;
    const parsed = JSON.parse(formatStatus(minimal)) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([
      "version",
      "phase",
      "canaryVersion",
      "stepIndex",
      "weights",
      "lastStepAt",
      "failures",
      "inconclusive",
      "lastChecks",
      "updatedAt",
    ]);
  });

  it("drops a non-finite check value instead of writing null", () => {
    const status = statusOf({
      lastChecks: [{ name: "x", query: "q", value: Number.NaN, threshold: 1, comparison: "max", outcome: "no-data" }],
    });
    const parsed = parseStatus(formatStatus(status)).status;
    expect(parsed?.lastChecks[0]).toEqual({
      name: "x",
      query: "q",
      threshold: 1,
      comparison: "max",
      outcome: "no-data",
    });
  });

  it("round-trips any well-formed status", () => {
    const time = fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString());
    const check = fc.record(
      {
        name: fc.string({ minLength: 1 }),
        query: fc.string(),
        value: fc.double({ noNaN: true, noDefaultInfinity: true }),
        threshold: fc.double({ noNaN: true, noDefaultInfinity: true }),
        comparison: fc.constantFrom("max" as const, "min" as const),
        outcome: fc.constantFrom("pass" as const, "fail" as const, "no-data" as const, "error" as const),
        detail: fc.string({ minLength: 1 }),
      },
      { requiredKeys: ["name", "query", "threshold", "comparison", "outcome"] },
    );
    const status = fc.record(
      {
        version: fc.constant(1 as const),
        phase: fc.constantFrom(...PHASES),
        canaryVersion: fc.string({ minLength: 1 }),
        stableVersion: fc.string({ minLength: 1 }),
        stepIndex: fc.integer({ min: -1, max: 99 }),
        weights: fc.integer({ min: 0, max: 100 }).map((canary) => ({ stable: 100 - canary, canary })),
        lastStepAt: time,
        lastAnalysisAt: time,
        failures: fc.nat(1000),
        inconclusive: fc.nat(1000),
        lastChecks: fc.array(check, { maxLength: 5 }),
        heldControls: fc.subarray(["promote" as const, "abort" as const, "resume" as const], { minLength: 1 }),
        reason: fc.string({ minLength: 1 }),
        updatedAt: time,
      },
      {
        requiredKeys: [
          "version",
          "phase",
          "canaryVersion",
          "stepIndex",
          "weights",
          "lastStepAt",
          "failures",
          "inconclusive",
          "lastChecks",
          "updatedAt",
        ],
      },
    );
    fc.assert(
      fc.property(status, (value) => {
        // -0 is the one number JSON does not keep.
        fc.pre(!value.lastChecks.some((c) => Object.is(c.value, -0) || Object.is(c.threshold, -0)));
        const text = formatStatus(value);
        expect(parseStatus(text).status).toEqual(value);
        expect(formatStatus(parseStatus(text).status as CanaryStatus)).toBe(text);
      }),
    );
  });
});

describe("corrupt annotations are reported, not thrown", () => {
  it("absent is neither a status nor a problem", () => {
    expect(parseStatus(undefined)).toEqual({});
  });

  const good = JSON.parse(formatStatus(full)) as Record<string, unknown>;
  it.each([
    ["{not json", "is not JSON"],
    ["[]", "not a JSON object"],
    ['"Progressing"', "not a JSON object"],
    [JSON.stringify({ ...good, version: 2 }), "version must be 1"],
    [JSON.stringify({ ...good, phase: "Running" }), "phase must be one of Waiting, Progressing, Paused"],
    [JSON.stringify({ ...good, canaryVersion: "" }), "canaryVersion must be a non-empty string"],
    [JSON.stringify({ ...good, stepIndex: -2 }), "stepIndex must be an integer from -1 to 100"],
    [JSON.stringify({ ...good, stepIndex: 1.5 }), "stepIndex must be an integer"],
    [JSON.stringify({ ...good, weights: { stable: 60, canary: 30 } }), "weights must sum to 100"],
    [JSON.stringify({ ...good, weights: { stable: "90", canary: 10 } }), "weights.stable must be an integer"],
    [JSON.stringify({ ...good, weights: null }), "weights must be an object"],
    [JSON.stringify({ ...good, lastStepAt: "yesterday" }), "lastStepAt must be an ISO 8601 time"],
    [JSON.stringify({ ...good, lastAnalysisAt: 5 }), "lastAnalysisAt must be a non-empty string"],
    [JSON.stringify({ ...good, failures: -1 }), "failures must be an integer"],
    [JSON.stringify({ ...good, lastChecks: {} }), "lastChecks must be a list"],
    [JSON.stringify({ ...good, lastChecks: [{ name: "x" }] }), "lastChecks[0].query must be a string"],
    [
      JSON.stringify({ ...good, lastChecks: [{ ...(good.lastChecks as object[])[0], outcome: "ok" }] }),
      "lastChecks[0].outcome must be one of pass, fail, no-data, error",
    ],
    [JSON.stringify({ ...good, heldControls: ["pause"] }), "heldControls[0] must be one of promote, abort, resume"],
    [JSON.stringify({ ...good, reason: 42 }), "reason must be a non-empty string"],
  ])("%s", (raw, problem) => {
    const parsed = parseStatus(raw);
    expect(parsed.status).toBeUndefined();
    expect(parsed.problem).toContain("greenlight.dev/status");
    expect(parsed.problem).toContain(problem);
  });

  it("never throws on any text", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (raw) => {
        const parsed = parseStatus(raw);
        expect(parsed.status !== undefined || parsed.problem !== undefined).toBe(true);
      }),
    );
  });
});
