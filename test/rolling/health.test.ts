// findCrashLoops reads container statuses, init containers too; it never greps text for "error".
import { describe, expect, it } from "vitest";
import {
  type ContainerStatusShape,
  describeCrashLoops,
  detailCrashLoop,
  findCrashLoops,
  type PodShape,
} from "../../functions/rolling/health.ts";

const pod = (name: string, statuses: ContainerStatusShape[], extra: Partial<PodShape> = {}): PodShape => ({
  metadata: { name },
  status: { containerStatuses: statuses },
  ...extra,
});

const backOff = { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" } };
const lastExit = { terminated: { exitCode: 137, reason: "OOMKilled" } };

describe("findCrashLoops", () => {
  it("finds containers waiting in CrashLoopBackOff, with restarts and the last exit", () => {
    const loops = findCrashLoops([
      pod("web-1", [
        { name: "app", restartCount: 2, state: backOff, lastState: lastExit },
        { name: "sidecar", restartCount: 0, state: {} },
      ]),
    ]);
    expect(loops).toEqual([
      {
        pod: "web-1",
        container: "app",
        restarts: 2,
        waiting: "CrashLoopBackOff",
        lastExitCode: 137,
        lastReason: "OOMKilled",
      },
    ]);
    expect(detailCrashLoop(loops[0] ?? { pod: "", container: "", restarts: 0 })).toBe(
      "web-1/app: CrashLoopBackOff, 2 restarts, last exit 137 OOMKilled",
    );
  });

  it("counts a container that is running again between back-offs once it has restarted threshold times", () => {
    const running = (restartCount: number): ContainerStatusShape => ({
      name: "app",
      restartCount,
      state: {},
      lastState: { terminated: { exitCode: 1, reason: "Error" } },
    });
    expect(findCrashLoops([pod("web-1", [running(2)])])).toEqual([]);
    expect(findCrashLoops([pod("web-1", [running(3)])])).toHaveLength(1);
    expect(findCrashLoops([pod("web-1", [running(3)])], 5)).toEqual([]);
    // Restarts without a terminated last state (e.g. a status from before the kubelet recorded it) do not count.
    expect(findCrashLoops([pod("web-1", [{ name: "app", restartCount: 9 }])])).toEqual([]);
  });

  it("looks at init containers, and leaves out pods being deleted", () => {
    const loops = findCrashLoops([
      {
        metadata: { name: "web-1" },
        status: { initContainerStatuses: [{ name: "migrate", restartCount: 1, state: backOff }] },
      },
      pod("web-2", [{ name: "app", restartCount: 4, state: backOff }], {
        metadata: { name: "web-2", deletionTimestamp: new Date() },
      }),
    ]);
    expect(loops.map((loop) => `${loop.pod}/${loop.container}`)).toEqual(["web-1/migrate"]);
    expect(describeCrashLoops(loops)).toBe("web-1/migrate");
    expect(detailCrashLoop({ pod: "p", container: "c", restarts: 1 })).toBe("p/c: 1 restart");
  });

  it("does not treat other waiting reasons as crash loops", () => {
    const pull = { waiting: { reason: "ImagePullBackOff" } };
    expect(findCrashLoops([pod("web-1", [{ name: "app", restartCount: 0, state: pull }])])).toEqual([]);
  });
});
