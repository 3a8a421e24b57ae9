// Which new pods crash-loop, read from their container statuses (the seed grepped kubectl output for "error").
//
// API:
// - `findCrashLoops(pods, threshold?) -> CrashLoop[]`: one entry per crash-looping container, init containers
//   included, in pod then container order. A container crash-loops when it waits in CrashLoopBackOff, or when
//   it has restarted `threshold` times (default 3) and its last run terminated: the kubelet's back-off only
//   shows CrashLoopBackOff between restarts, so a poll can land while the container is briefly running again.
//   Pods being deleted are left out: they belong to no rollout any more.
// - `describeCrashLoops(loops) -> string`: "pod/container, pod/container" for messages that must stay the same
//   from one pass to the next (no restart counts, which grow every minute and would rewrite the status).
// - `detailCrashLoop(loop) -> string`: one line with the restarts and the last exit, for people.

export const CRASH_LOOP_BACK_OFF = "CrashLoopBackOff";
export const DEFAULT_RESTART_THRESHOLD = 3;

/** The fields read here; client-node's V1ContainerStatus is assignable to it. */
export interface ContainerStatusShape {
  name: string;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string } };
  lastState?: { terminated?: { exitCode?: number; reason?: string } };
}

/** The fields read here; client-node's V1Pod is assignable to it. */
export interface PodShape {
  metadata?: { name?: string; deletionTimestamp?: unknown };
  status?: { containerStatuses?: ContainerStatusShape[]; initContainerStatuses?: ContainerStatusShape[] };
}

export interface CrashLoop {
  pod: string;
  container: string;
  restarts: number;
  /** CrashLoopBackOff while the kubelet backs off; otherwise the state the container is in now. */
  waiting?: string;
  /** How the last run ended: exit code and the runtime's reason (Error, OOMKilled, ...). */
  lastExitCode?: number;
  lastReason?: string;
}

function crashLoopOf(pod: string, status: ContainerStatusShape, threshold: number): CrashLoop | undefined {
  const restarts = status.restartCount ?? 0;
  const waiting = status.state?.waiting?.reason;
  const terminated = status.lastState?.terminated;
  const backingOff = waiting === CRASH_LOOP_BACK_OFF;
  if (!backingOff && !(restarts >= threshold && terminated)) return undefined;
  const loop: CrashLoop = { pod, container: status.name, restarts };
  if (waiting) loop.waiting = waiting;
  if (terminated?.exitCode !== undefined) loop.lastExitCode = terminated.exitCode;
  if (terminated?.reason) loop.lastReason = terminated.reason;
  return loop;
}

export function findCrashLoops(pods: readonly PodShape[], threshold = DEFAULT_RESTART_THRESHOLD): CrashLoop[] {
  const loops: CrashLoop[] = [];
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const name = pod.metadata?.name ?? "?";
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const status of statuses) {
      const loop = crashLoopOf(name, status, threshold);
      if (loop) loops.push(loop);
    }
  }
  return loops;
}

export const describeCrashLoops = (loops: readonly CrashLoop[]): string =>
  loops.map((loop) => `${loop.pod}/${loop.container}`).join(", ");

export function detailCrashLoop(loop: CrashLoop): string {
  const parts = [`${loop.restarts} ${loop.restarts === 1 ? "restart" : "restarts"}`];
  if (loop.waiting) parts.unshift(loop.waiting);
  if (loop.lastExitCode !== undefined || loop.lastReason) {
    parts.push(`last exit ${[loop.lastExitCode, loop.lastReason].filter((part) => part !== undefined).join(" ")}`);
  }
  return `${loop.pod}/${loop.container}: ${parts.join(", ")}`;
}
