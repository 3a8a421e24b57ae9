// watchRollout in process with an injected clock, sleep and stream: the TTY bar, plain lines, verdicts, retries.
import { describe, expect, it } from "vitest";
import { readProgress } from "../../functions/deployment/progress.ts";
import { KubeError } from "../../functions/kube/errors.ts";
import type { CrashLoop } from "../../functions/rolling/health.ts";
import type { RolloutSnapshot } from "../../functions/rolling/kube.ts";
import type { RollingStatus } from "../../functions/rolling/status.ts";
import type { Revision } from "../../functions/rolling/undo.ts";
import {
  formatSummary,
  parseSeconds,
  progressBar,
  progressLine,
  summarise,
  watchRollout,
} from "../../scripts/cli/rollout.ts";

interface State {
  updated: number;
  ready: number;
  available: number;
  total?: number;
  deadline?: boolean;
  newReady?: number;
  newAvailable?: number;
  crashLoops?: CrashLoop[];
  status?: RollingStatus;
  hash?: string;
}

function snapshot(state: State): RolloutSnapshot {
  const current: Revision = {
    name: "myapp-abc",
    revision: 2,
    hash: state.hash ?? "abc",
    template: {},
    replicas: state.updated,
    ready: state.newReady ?? 0,
    available: state.newAvailable ?? 0,
  };
  const conditions = state.deadline
    ? [
        {
          type: "Progressing",
          reason: "ProgressDeadlineExceeded",
          message: 'ReplicaSet "myapp-abc" has timed out progressing.',
        },
      ]
    : [];
  return {
    namespace: "production",
    name: "myapp",
    deployment: {},
    progress: readProgress({
      metadata: { generation: 3 },
      spec: { replicas: 4 },
      status: {
        observedGeneration: 3,
        replicas: state.total ?? state.updated,
        updatedReplicas: state.updated,
        readyReplicas: state.ready,
        availableReplicas: state.available,
        conditions,
      },
    }),
    revisions: [current],
    current,
    pods: [],
    crashLoops: state.crashLoops ?? [],
    ...(state.status ? { status: state.status } : {}),
  };
}

/** A stream that records writes; a fake clock that moves only when the watch sleeps. */
function harness(states: (State | Error)[], tty: boolean, columns?: number) {
  let now = 0;
  let reads = 0;
  const writes: string[] = [];
  const sleeps: number[] = [];
  return {
    writes,
    sleeps,
    get reads() {
      return reads;
    },
    options: {
      read: async () => {
        const next = states[Math.min(reads, states.length - 1)];
        reads += 1;
        if (next instanceof Error) throw next;
        return snapshot(next as State);
      },
      clock: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
      stream: { isTTY: tty, ...(columns ? { columns } : {}), write: (text: string) => writes.push(text) },
    },
  };
}

const progressing: State = { updated: 1, ready: 4, available: 4, total: 5 };
const done: State = { updated: 4, ready: 4, available: 4, newReady: 4, newAvailable: 4 };

describe("watchRollout", () => {
  it("on a terminal redraws one line with a bar, ends it with a newline, and reports done", async () => {
    const h = harness([progressing, { updated: 2, ready: 4, available: 4, total: 5, newReady: 1 }, done], true);
    const result = await watchRollout({ ...h.options, timeoutMs: 60_000, intervalMs: 2000 });
    expect(result).toMatchObject({ result: "done", reason: "successfully rolled out", elapsedMs: 4000 });
    expect(h.sleeps).toEqual([2000, 2000]);
    expect(h.writes).toHaveLength(4);
    expect(h.writes.slice(0, 3).every((write) => write.startsWith("\r\x1b[2K") && !write.includes("\n"))).toBe(true);
    // 2 of 4 updated, 1 of them ready: half the bar updated, a quarter of it ready.
    expect(h.writes[1]).toContain(`[${"▓".repeat(5)}${"▒".repeat(5)}${"░".repeat(10)}]`);
    expect(h.writes[2]).toContain(`[${"█".repeat(20)}]`);
    expect(h.writes[2]).toContain("production/myapp revision 2");
    expect(h.writes[3]).toBe("\n");
  });

  it("cuts the terminal line to the terminal's width so \\r can redraw it", async () => {
    const h = harness([done], true, 40);
    await watchRollout({ ...h.options, timeoutMs: 1000, intervalMs: 10 });
    const line = (h.writes[0] ?? "").replace("\r\x1b[2K", "");
    expect(line.length).toBe(39);
    expect(line.endsWith("…")).toBe(true);
  });

  it("without a terminal writes a plain line only when the rollout changes", async () => {
    const h = harness([progressing, progressing, { ...progressing, updated: 2 }, done], false);
    const result = await watchRollout({ ...h.options, timeoutMs: 60_000, intervalMs: 1000 });
    expect(result.result).toBe("done");
    expect(h.reads).toBe(4);
    expect(h.writes).toEqual([
      "production/myapp revision 2: updated 1/4, ready 4/4, available 4/4 - 1 of 4 new replicas have been updated\n",
      "production/myapp revision 2: updated 2/4, ready 4/4, available 4/4 - 2 of 4 new replicas have been updated\n",
      "production/myapp revision 2: updated 4/4, ready 4/4, available 4/4 - successfully rolled out\n",
    ]);
    expect(h.writes.join("")).not.toContain("\r");
    expect(h.writes.join("")).not.toContain("\x1b");
  });

  it("fails on a deadline and on crash-looping new pods, naming them", async () => {
    const deadline = harness([progressing, { ...progressing, deadline: true }], false);
    expect(await watchRollout({ ...deadline.options, timeoutMs: 60_000, intervalMs: 1000 })).toMatchObject({
      result: "failed",
      reason: 'exceeded its progress deadline: ReplicaSet "myapp-abc" has timed out progressing.',
    });
    const loop: CrashLoop = {
      pod: "myapp-abc-1",
      container: "myapp",
      restarts: 4,
      waiting: "CrashLoopBackOff",
      lastExitCode: 1,
    };
    const crashing = harness([{ ...progressing, crashLoops: [loop] }], false);
    const result = await watchRollout({ ...crashing.options, timeoutMs: 60_000, intervalMs: 1000 });
    expect(result).toMatchObject({ result: "failed", reason: "new pods crash-loop: myapp-abc-1/myapp" });
    expect(crashing.writes[0]).toMatch(/; crash-looping: myapp-abc-1\/myapp\n$/);
    const summary = summarise(
      { namespace: "production", name: "myapp" },
      result.result,
      result.reason,
      result.snapshot,
    );
    expect(summary).toMatchObject({ exitCode: 1, revision: 2, desired: 4, crashLoops: [loop] });
    expect(formatSummary(summary)).toBe(
      [
        "deployment production/myapp failed (revision 2, updated 1/4, ready 4/4, available 4/4)",
        "  new pods crash-loop: myapp-abc-1/myapp",
        "  crash-looping myapp-abc-1/myapp: CrashLoopBackOff, 4 restarts, last exit 1",
        "",
      ].join("\n"),
    );
  });

  it("fails when greenlight rolled the watched template back, although the restored one rolls out fine", async () => {
    const status: RollingStatus = {
      strategy: "rolling",
      phase: "RolledBack",
      revision: 1,
      podTemplateHash: "old",
      desired: 4,
      updated: 4,
      ready: 4,
      available: 4,
      message: "exceeded its progress deadline; rolled back from revision 2 to 1",
      rolledBackFrom: { revision: 2, podTemplateHash: "abc" },
      rolledBackTo: { revision: 1, podTemplateHash: "old" },
      updatedAt: "2026-11-26T10:00:00Z",
    };
    const h = harness([progressing, { ...done, hash: "old", status }], false);
    const result = await watchRollout({ ...h.options, timeoutMs: 60_000, intervalMs: 1000 });
    expect(result.result).toBe("failed");
    expect(result.reason).toMatch(/^greenlight rolled revision 2 back to revision 1: /);
    const summary = summarise(
      { namespace: "production", name: "myapp" },
      result.result,
      result.reason,
      result.snapshot,
    );
    expect(summary.rolledBack).toEqual({ from: 2, to: 1 });
  });

  it("times out on the injected clock, polling until the last moment", async () => {
    const h = harness([progressing], false);
    const result = await watchRollout({ ...h.options, timeoutMs: 5000, intervalMs: 2000 });
    expect(result).toMatchObject({ result: "timed-out", elapsedMs: 5000 });
    expect(result.reason).toBe("not finished after 5s: 1 of 4 new replicas have been updated");
    expect(h.sleeps).toEqual([2000, 2000, 1000]);
    expect(h.reads).toBe(4);
    const summary = summarise(
      { namespace: "production", name: "myapp" },
      "timed-out",
      result.reason,
      result.snapshot,
      5000,
    );
    expect(summary).toMatchObject({ exitCode: 2, elapsedSeconds: 5 });
  });

  it("retries a failed read after the first, ends at once on NotFound, and lets the first failure through", async () => {
    const blip = harness(
      [progressing, new KubeError("reading Deployment production/myapp: ECONNRESET", "ECONNRESET"), done],
      true,
    );
    expect((await watchRollout({ ...blip.options, timeoutMs: 60_000, intervalMs: 1000 })).result).toBe("done");
    expect(blip.writes).toContain("warning: reading Deployment production/myapp: ECONNRESET; retrying\n");
    expect(blip.writes[1]).toBe("\n");

    const gone = harness([progressing, new KubeError("reading Deployment production/myapp: not found", 404)], false);
    await expect(watchRollout({ ...gone.options, timeoutMs: 60_000, intervalMs: 1000 })).rejects.toThrow(/not found/);
    const first = harness([new KubeError("reading Deployment production/myapp: Forbidden", 403)], false);
    await expect(watchRollout({ ...first.options, timeoutMs: 60_000, intervalMs: 1000 })).rejects.toThrow(/Forbidden/);
  });
});

describe("rollout CLI helpers", () => {
  it("draws available, ready, updated and missing replicas of the new ReplicaSet", () => {
    const bar = (state: State) => progressBar(snapshot(state), 8);
    expect(bar({ updated: 0, ready: 4, available: 4, total: 4 })).toBe("[░░░░░░░░]");
    expect(bar({ updated: 2, ready: 4, available: 4, total: 5, newReady: 1 })).toBe("[▓▓▒▒░░░░]");
    expect(bar({ updated: 3, ready: 4, available: 4, total: 5, newReady: 2, newAvailable: 1 })).toBe("[██▓▓▒▒░░]");
    expect(bar({ ...done })).toBe("[████████]");
    expect(progressLine(snapshot(progressing))).toBe(
      "production/myapp revision 2: updated 1/4, ready 4/4, available 4/4 - 1 of 4 new replicas have been updated",
    );
  });

  it("reads --timeout and --interval as seconds or durations, and names the flag when they are wrong", () => {
    expect(parseSeconds("--timeout", "600")).toBe(600);
    expect(parseSeconds("--interval", "0.05")).toBe(0.05);
    expect(parseSeconds("--timeout", "10m")).toBe(600);
    expect(() => parseSeconds("--timeout", "0")).toThrow(
      "--timeout 0 is invalid: accepted: seconds above 0 (e.g. 600 or 0.5) or a duration (e.g. 10m)",
    );
    expect(() => parseSeconds("--interval", "soon")).toThrow(/^--interval soon is invalid/);
  });
});
