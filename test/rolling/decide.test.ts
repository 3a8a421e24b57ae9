// decideRolling on plain data: when it undoes, when it only reports, and when it emits an event.
import { describe, expect, it } from "vitest";
import { type Progress, readProgress } from "../../functions/deployment/progress.ts";
import { decideRolling, type RollingInput } from "../../functions/rolling/decide.ts";
import type { CrashLoop } from "../../functions/rolling/health.ts";
import type { RollingStatus } from "../../functions/rolling/status.ts";
import type { Revision } from "../../functions/rolling/undo.ts";

const now = new Date("2026-11-26T10:00:00Z");

const revision = (number: number, image: string): Revision => ({
  name: `web-${image}`,
  revision: number,
  hash: `h${image}`,
  template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image }] } },
  replicas: 0,
  ready: 0,
  available: 0,
});
const v1 = revision(1, "v1");
const v2 = revision(2, "v2");
const v3 = revision(3, "v3");

function progress(state: "progressing" | "complete" | "failed" | "observing"): Progress {
  const conditions =
    state === "failed" ? [{ type: "Progressing", reason: "ProgressDeadlineExceeded", message: "timed out" }] : [];
  const updated = state === "complete" ? 3 : 1;
  return readProgress({
    metadata: { generation: 2 },
    spec: { replicas: 3 },
    status: {
      observedGeneration: state === "observing" ? 1 : 2,
      replicas: state === "complete" ? 3 : 4,
      updatedReplicas: updated,
      readyReplicas: 3,
      availableReplicas: 3,
      conditions,
    },
  });
}

const crash: CrashLoop = { pod: "web-v2-0", container: "web", restarts: 4, waiting: "CrashLoopBackOff" };

const input = (overrides: Partial<RollingInput> = {}): RollingInput => ({
  progress: progress("progressing"),
  current: v2,
  revisions: [v2, v1],
  crashLoops: [],
  autoRollback: true,
  now,
  ...overrides,
});

const prior = (overrides: Partial<RollingStatus>): RollingStatus => ({
  strategy: "rolling",
  phase: "Progressing",
  revision: 2,
  podTemplateHash: "hv2",
  desired: 3,
  updated: 1,
  ready: 3,
  available: 3,
  message: "1 of 3 new replicas have been updated",
  updatedAt: "2026-11-26T09:00:00.000Z",
  ...overrides,
});

describe("decideRolling", () => {
  it("judges nothing while the controller has not observed the latest spec", () => {
    const before = prior({});
    const decision = decideRolling(input({ progress: progress("observing"), crashLoops: [crash], prior: before }));
    expect(decision).toMatchObject({ changed: false, events: [], status: before });
    expect(decision.rollback).toBeUndefined();
    expect(decideRolling(input({ progress: progress("observing") })).status).toBeUndefined();
  });

  it("starts reporting a rollout with one event, then writes counts without events", () => {
    const first = decideRolling(input());
    expect(first).toMatchObject({
      changed: true,
      status: { phase: "Progressing", revision: 2, updatedAt: now.toISOString() },
    });
    expect(first.events).toEqual([
      { type: "Normal", reason: "RolloutProgressing", message: "revision 2: 1 of 3 new replicas have been updated" },
    ]);
    const same = decideRolling(input({ prior: prior({}) }));
    expect(same).toMatchObject({ changed: false, events: [] });
    expect(same.status?.updatedAt).toBe("2026-11-26T09:00:00.000Z");
    const moved = decideRolling(
      input({ prior: prior({ updated: 0, message: "0 of 3 new replicas have been updated" }) }),
    );
    expect(moved).toMatchObject({ changed: true, events: [] });
  });

  it("emits an event for a new template even when the phase stays the same", () => {
    const decision = decideRolling(input({ current: v3, revisions: [v3, v2, v1], prior: prior({}) }));
    expect(decision.events.map((event) => event.reason)).toEqual(["RolloutProgressing"]);
  });

  it("undoes a failed rollout to the previous revision, recording both revisions and hashes", () => {
    const decision = decideRolling(input({ progress: progress("failed"), prior: prior({}) }));
    expect(decision.rollback).toEqual({ from: v2, to: v1 });
    expect(decision.status).toMatchObject({
      phase: "RolledBack",
      revision: 1,
      podTemplateHash: "hv1",
      rolledBackFrom: { revision: 2, podTemplateHash: "hv2" },
      rolledBackTo: { revision: 1, podTemplateHash: "hv1" },
    });
    expect(decision.events).toEqual([
      {
        type: "Warning",
        reason: "RolledBack",
        message: "exceeded its progress deadline: timed out; rolled back from revision 2 to 1",
      },
    ]);
  });

  it("undoes crash-looping new pods, naming them", () => {
    const decision = decideRolling(input({ crashLoops: [crash] }));
    expect(decision.rollback?.to).toBe(v1);
    expect(decision.status?.message).toBe("new pods crash-loop: web-v2-0/web; rolled back from revision 2 to 1");
  });

  it("says why it does not undo: auto-rollback off, paused, no ReplicaSet yet, no history", () => {
    const failed = { progress: progress("failed") };
    const message = (overrides: Partial<RollingInput>) => {
      const decision = decideRolling(input({ ...failed, ...overrides }));
      expect(decision.rollback).toBeUndefined();
      expect(decision.status?.phase).toBe("Failed");
      expect(decision.events.map((event) => event.reason)).toEqual(["RolloutFailed"]);
      return decision.status?.message;
    };
    expect(message({ autoRollback: false })).toMatch(/not rolled back: greenlight.dev\/auto-rollback is not "true"$/);
    expect(message({ held: "the Deployment is paused (spec.paused); resume it first" })).toMatch(/spec.paused/);
    const { current: _current, ...noCurrent } = input(failed);
    expect(decideRolling(noCurrent).status?.message).toMatch(/no ReplicaSet matches the current pod template$/);
    expect(message({ revisions: [v2] })).toMatch(/no ReplicaSet older than revision 2 to roll back to$/);
  });

  it("does not undo again from the restored template, nor restore a template it rolled back before", () => {
    const record = {
      rolledBackFrom: { revision: 2, podTemplateHash: "hv2" },
      rolledBackTo: { revision: 1, podTemplateHash: "hv1" },
    };
    const restored = { ...v1, revision: 3 };
    const again = decideRolling(
      input({
        progress: progress("failed"),
        current: restored,
        revisions: [restored, v2],
        prior: prior({ phase: "RolledBack", revision: 1, podTemplateHash: "hv1", ...record }),
      }),
    );
    expect(again.rollback).toBeUndefined();
    expect(again.status).toMatchObject({ phase: "Failed", ...record });
    expect(again.status?.message).toMatch(/restored from revision 2: greenlight rolls back once/);

    const fine = decideRolling(
      input({
        current: restored,
        revisions: [restored, v2],
        prior: prior({ phase: "RolledBack", revision: 1, podTemplateHash: "hv1", ...record }),
      }),
    );
    expect(fine.status).toMatchObject({ phase: "RolledBack", revision: 3, ...record });
    expect(fine.events).toEqual([]);

    // v3 fails after that: v2 is the highest revision below it, but it is the template greenlight rolled back.
    const next = decideRolling(
      input({
        progress: progress("failed"),
        current: { ...v3, revision: 4 },
        revisions: [{ ...v3, revision: 4 }, restored, v2],
        prior: prior({ phase: "RolledBack", revision: 3, podTemplateHash: "hv1", ...record }),
      }),
    );
    expect(next.rollback?.to).toBe(restored);
    expect(next.events.map((event) => event.reason)).toEqual(["RolledBack"]);
    const stuck = decideRolling(
      input({
        progress: progress("failed"),
        current: { ...v3, revision: 4 },
        revisions: [{ ...v3, revision: 4 }, v2],
        prior: prior({ phase: "Failed", revision: 2, podTemplateHash: "hv2", ...record }),
      }),
    );
    expect(stuck.status?.message).toMatch(
      /no ReplicaSet older than revision 4 to roll back to but the template greenlight rolled back before \(revision 2\)$/,
    );
  });

  it("keeps a completed template Complete: later trouble is reported, not undone", () => {
    const done = prior({ phase: "Complete", updated: 3, message: "successfully rolled out" });
    const later = decideRolling(input({ progress: progress("failed"), crashLoops: [crash], prior: done }));
    expect(later.rollback).toBeUndefined();
    expect(later.status?.phase).toBe("Complete");
    expect(later.status?.message).toMatch(/^rolled out; since then exceeded its progress deadline/);
    expect(later.events).toEqual([]);
  });
});
