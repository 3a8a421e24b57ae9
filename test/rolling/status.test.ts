// The rolling status annotation: a stable text (the guard's test op compares it), and corrupt ones reported.
import { describe, expect, it } from "vitest";
import {
  formatRollingStatus,
  parseRollingStatus,
  type RollingStatus,
  sameRollingStatus,
} from "../../functions/rolling/status.ts";

const status: RollingStatus = {
  strategy: "rolling",
  phase: "RolledBack",
  revision: 1,
  podTemplateHash: "aaa",
  desired: 3,
  updated: 1,
  ready: 3,
  available: 3,
  message: "exceeded its progress deadline; rolled back from revision 2 to 1",
  rolledBackFrom: { revision: 2, podTemplateHash: "bbb" },
  rolledBackTo: { revision: 1, podTemplateHash: "aaa" },
  updatedAt: "2026-11-26T10:00:00.000Z",
};

describe("rolling status", () => {
  it("formats with a fixed key order and parses back to the same text", () => {
    const text = formatRollingStatus(status);
    expect(Object.keys(JSON.parse(text))).toEqual([
      "strategy",
      "phase",
      "revision",
      "podTemplateHash",
      "desired",
      "updated",
      "ready",
      "available",
      "message",
      "rolledBackFrom",
      "rolledBackTo",
      "updatedAt",
    ]);
    const parsed = parseRollingStatus(text);
    expect(parsed.status).toEqual(status);
    expect(formatRollingStatus(parsed.status as RollingStatus)).toBe(text);
    const { rolledBackFrom: _f, rolledBackTo: _t, revision: _r, podTemplateHash: _h, ...plain } = status;
    expect(parseRollingStatus(formatRollingStatus({ ...plain, phase: "Progressing" })).status).toEqual({
      ...plain,
      phase: "Progressing",
    });
  });

  it("compares statuses without updatedAt", () => {
    expect(sameRollingStatus(status, { ...status, updatedAt: "2027-01-01T00:00:00Z" })).toBe(true);
    expect(sameRollingStatus(status, { ...status, ready: 2 })).toBe(false);
    expect(sameRollingStatus(undefined, status)).toBe(false);
  });

  it("reports a corrupt or foreign status with the field at fault, never throws", () => {
    const problem = (body: unknown) => parseRollingStatus(JSON.stringify(body)).problem;
    expect(parseRollingStatus(undefined)).toEqual({});
    expect(parseRollingStatus("{")).toEqual({ problem: "greenlight.dev/status is not JSON" });
    expect(problem({ ...status, strategy: undefined, version: 1, phase: "Waiting" })).toBe(
      'greenlight.dev/status is corrupt: strategy must be "rolling" (found undefined)',
    );
    expect(problem({ ...status, phase: "Paused" })).toMatch(
      /phase must be one of Progressing, Complete, Failed, RolledBack/,
    );
    expect(problem({ ...status, updated: -1 })).toMatch(/updated must be an integer of 0 or more/);
    expect(problem({ ...status, updatedAt: "yesterday" })).toMatch(/updatedAt must be an ISO 8601 time/);
    expect(problem({ ...status, rolledBackTo: undefined })).toMatch(/rolledBackFrom and rolledBackTo go together/);
    expect(problem({ ...status, rolledBackFrom: { revision: 2 } })).toMatch(
      /rolledBackFrom.podTemplateHash must be a string/,
    );
    expect(problem([status])).toMatch(/not a JSON object/);
  });
});
