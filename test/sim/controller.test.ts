// The simulated Deployment controller and kubelet: rolling-update arithmetic, revisions, conditions and crash loops,
// checked against what the stepper reads (readProgress, the revisions of undo.ts, the crash loops of health.ts).
import type { V1Deployment, V1DeploymentStatus, V1Pod } from "@kubernetes/client-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readProgress } from "../../functions/deployment/progress.ts";
import { findCrashLoops } from "../../functions/rolling/health.ts";
import { findNewRevision, revisionsOf } from "../../functions/rolling/undo.ts";
import { type BehaviourOf, DeploymentController } from "../../scripts/sim/controller.ts";
import { createRandom } from "../../scripts/sim/random.ts";

const T0 = Date.UTC(2026, 0, 1);
const NAMESPACE = "production";
const NAME = "myapp";
const KEY = `${NAMESPACE}/${NAME}`;

interface Shape {
  version: string;
  replicas?: number;
  maxSurge?: number | string;
  maxUnavailable?: number | string;
  deadlineSeconds?: number;
  paused?: boolean;
  minReadySeconds?: number;
  recreate?: boolean;
}

function deploymentOf(shape: Shape, generation: number): V1Deployment {
  const labels = { app: NAME };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: NAME, namespace: NAMESPACE, uid: "deploy-uid", generation },
    spec: {
      replicas: shape.replicas ?? 3,
      selector: { matchLabels: labels },
      strategy: shape.recreate
        ? { type: "Recreate" }
        : {
            type: "RollingUpdate",
            rollingUpdate: { maxSurge: shape.maxSurge ?? "25%", maxUnavailable: shape.maxUnavailable ?? "25%" },
          },
      ...(shape.deadlineSeconds !== undefined ? { progressDeadlineSeconds: shape.deadlineSeconds } : {}),
      ...(shape.paused ? { paused: true } : {}),
      ...(shape.minReadySeconds !== undefined ? { minReadySeconds: shape.minReadySeconds } : {}),
      template: {
        metadata: { labels: { ...labels, version: shape.version } },
        spec: { containers: [{ name: NAME, image: `${NAME}:${shape.version}` }] },
      },
    },
  };
}

/** Startup seconds per version (negative: drawn up to that many; "crash" crash-loops), found from the template hash. */
function behaviourBy(controller: DeploymentController, startups: Record<string, number>, fallback = 5): BehaviourOf {
  const versions = new Map(
    ["v1", "v2", "v3", "v4", "crash", "slow"].map((v) => [
      controller.templateHash(deploymentOf({ version: v }, 1).spec!.template),
      v,
    ]),
  );
  return (_deployment, hash, random) => {
    const version = versions.get(hash) ?? "";
    if (version === "crash") return { startupSeconds: 0, crashLoop: true };
    const startup = startups[version] ?? fallback;
    return { startupSeconds: startup < 0 ? random.int(0, -startup) : startup, crashLoop: false };
  };
}

class Harness {
  readonly controller: DeploymentController;
  deployment: V1Deployment;
  nowMs = T0;
  private shape: Shape;
  private generation = 1;
  private readonly behaviour: BehaviourOf;

  constructor(shape: Shape, options: { seed?: number; lagMs?: number; startups?: Record<string, number> } = {}) {
    this.controller = new DeploymentController(createRandom(options.seed ?? 1), {
      ...(options.lagMs !== undefined ? { observationLagMs: options.lagMs } : {}),
    });
    this.behaviour = behaviourBy(this.controller, options.startups ?? {});
    this.shape = shape;
    this.deployment = deploymentOf(shape, 1);
  }

  change(patch: Partial<Shape>): void {
    this.shape = { ...this.shape, ...patch };
    this.generation++;
    this.deployment = { ...deploymentOf(this.shape, this.generation), status: this.deployment.status ?? {} };
  }

  tick(ms = 5000): V1DeploymentStatus {
    this.nowMs += ms;
    const status = this.controller.reconcile([this.deployment], this.nowMs, this.behaviour).get(KEY);
    if (!status) throw new Error("no status");
    this.deployment = { ...this.deployment, status };
    return status;
  }

  /** Ticks until `done` holds (or the time runs out); returns the ticks taken. */
  until(done: (h: Harness) => boolean, limitMs = 3_600_000, stepMs = 5000): number {
    let ticks = 0;
    while (!done(this)) {
      if (ticks * stepMs > limitMs) throw new Error(`not done after ${limitMs} ms: ${this.progress().message}`);
      this.tick(stepMs);
      ticks++;
    }
    return ticks;
  }

  progress() {
    return readProgress(this.deployment);
  }

  pods(): V1Pod[] {
    return this.controller.pods(NAMESPACE);
  }

  setsByVersion(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const rs of this.controller.replicaSets(NAMESPACE)) {
      out[rs.spec?.template?.metadata?.labels?.version ?? "?"] = rs.spec?.replicas ?? 0;
    }
    return out;
  }

  hashOf(version: string): string {
    return this.controller.templateHash(deploymentOf({ version }, 1).spec!.template);
  }
}

const complete = (h: Harness): boolean => h.progress().state === "complete";
const isReady = (pod: V1Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
const condition = (status: V1DeploymentStatus, type: string) => status.conditions?.find((c) => c.type === type);

describe("DeploymentController: first rollout", () => {
  it("creates one ReplicaSet and Ready pods shaped as the API server lists them, then reports complete", () => {
    const h = new Harness({ version: "v1" });
    expect(h.tick(0)).toEqual({});
    expect(h.progress().state).toBe("observing");
    h.until(complete);
    const hash = h.hashOf("v1");
    const [rs, ...others] = h.controller.replicaSets(NAMESPACE);
    expect(others).toEqual([]);
    expect(rs?.metadata).toMatchObject({
      name: `${NAME}-${hash}`,
      labels: { app: NAME, version: "v1", "pod-template-hash": hash },
      annotations: { "deployment.kubernetes.io/revision": "1" },
      ownerReferences: [{ kind: "Deployment", name: NAME, uid: "deploy-uid", controller: true }],
    });
    expect(rs?.spec?.selector.matchLabels).toEqual({ app: NAME, "pod-template-hash": hash });
    expect(rs?.status).toMatchObject({ replicas: 3, readyReplicas: 3, availableReplicas: 3 });
    const pods = h.pods();
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.metadata?.name).toMatch(new RegExp(`^${NAME}-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(pod.metadata?.labels).toEqual({ app: NAME, version: "v1", "pod-template-hash": hash });
      expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "ReplicaSet", name: rs?.metadata?.name });
      expect(pod.metadata?.ownerReferences?.[0]?.uid).toBe(rs?.metadata?.uid);
      expect(String(pod.metadata?.creationTimestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(pod.status?.phase).toBe("Running");
      expect(isReady(pod)).toBe(true);
      expect(pod.status?.containerStatuses?.[0]).toMatchObject({
        name: NAME,
        ready: true,
        restartCount: 0,
        state: { running: {} },
      });
    }
    const status = h.deployment.status!;
    expect(status).toMatchObject({
      observedGeneration: 1,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    });
    expect(status.unavailableReplicas).toBeUndefined();
    expect(condition(status, "Available")).toMatchObject({ status: "True", reason: "MinimumReplicasAvailable" });
    expect(condition(status, "Progressing")).toMatchObject({
      status: "True",
      reason: "NewReplicaSetAvailable",
      message: `ReplicaSet "${NAME}-${hash}" has successfully progressed.`,
    });
    expect(String(condition(status, "Progressing")?.lastUpdateTime)).toMatch(/Z$/);
    // The stepper's own reading of the revisions finds the same ReplicaSet.
    const revisions = revisionsOf({ uid: "deploy-uid" }, h.controller.replicaSets(NAMESPACE));
    expect(findNewRevision(h.deployment.spec?.template, revisions)?.hash).toBe(hash);
    expect(h.controller.deploymentRevision(NAMESPACE, NAME)).toBe("1");
  });

  it("reports the minimum availability only once enough pods are available", () => {
    const h = new Harness({ version: "v1", replicas: 4 }, { lagMs: 0, startups: { v1: 20 } });
    const status = h.tick(0);
    expect(status).toMatchObject({ observedGeneration: 1, replicas: 4, updatedReplicas: 4, unavailableReplicas: 4 });
    expect(condition(status, "Available")).toMatchObject({ status: "False", reason: "MinimumReplicasUnavailable" });
    expect(condition(status, "Progressing")?.status).toBe("True");
    h.tick(20_000);
    expect(condition(h.deployment.status!, "Available")).toMatchObject({ status: "True" });
    const available = condition(h.deployment.status!, "Available")!;
    expect(available.lastTransitionTime).toBe(available.lastUpdateTime);
  });
});

describe("DeploymentController: observation lag", () => {
  it.each([
    { lagMs: undefined, observedAfterTicks: 1 },
    { lagMs: 0, observedAfterTicks: 0 },
    { lagMs: 12_000, observedAfterTicks: 3 },
  ])(
    "observes a new generation $observedAfterTicks ticks after listing it (lag $lagMs)",
    ({ lagMs, observedAfterTicks }) => {
      const h = new Harness({ version: "v1" }, lagMs === undefined ? {} : { lagMs });
      h.until(complete);
      h.change({ version: "v2" });
      let ticks = 0;
      h.tick();
      while (h.deployment.status?.observedGeneration !== 2) {
        expect(h.progress().state).toBe("observing");
        h.tick();
        ticks++;
      }
      expect(ticks).toBe(observedAfterTicks);
    },
  );
});

describe("DeploymentController: rolling update arithmetic", () => {
  it.each([
    { replicas: 10, maxSurge: "25%", maxUnavailable: "25%", first: { v1: 8, v2: 5 }, surge: 3, unavailable: 2 },
    { replicas: 3, maxSurge: 1, maxUnavailable: 0, first: { v1: 3, v2: 1 }, surge: 1, unavailable: 0 },
    { replicas: 3, maxSurge: 0, maxUnavailable: 1, first: { v1: 2, v2: 1 }, surge: 0, unavailable: 1 },
    { replicas: 4, maxSurge: 0, maxUnavailable: 0, first: { v1: 3, v2: 1 }, surge: 0, unavailable: 1 },
    { replicas: 10, maxSurge: "50%", maxUnavailable: 0, first: { v1: 10, v2: 5 }, surge: 5, unavailable: 0 },
    { replicas: 1, maxSurge: "25%", maxUnavailable: "25%", first: { v1: 1, v2: 1 }, surge: 1, unavailable: 0 },
    { replicas: 5, maxSurge: "30%", maxUnavailable: "30%", first: { v1: 4, v2: 3 }, surge: 2, unavailable: 1 },
  ])("replicas $replicas, maxSurge $maxSurge, maxUnavailable $maxUnavailable", (row) => {
    const h = new Harness(
      { version: "v1", replicas: row.replicas, maxSurge: row.maxSurge, maxUnavailable: row.maxUnavailable },
      { lagMs: 0, startups: { v1: 3, v2: 12 } },
    );
    h.until(complete);
    h.change({ version: "v2" });
    h.tick(1);
    expect(h.setsByVersion()).toEqual(row.first);
    let steps = 0;
    while (!complete(h)) {
      const pods = h.pods();
      expect(pods.length).toBeLessThanOrEqual(row.replicas + row.surge);
      expect(pods.filter(isReady).length).toBeGreaterThanOrEqual(row.replicas - row.unavailable);
      expect(h.deployment.status?.replicas ?? 0).toBe(pods.length);
      h.tick(1000);
      steps++;
    }
    expect(steps).toBeGreaterThan(5);
    expect(h.setsByVersion()).toEqual({ v1: 0, v2: row.replicas });
  });

  it("takes unhealthy old pods down first when the new template changes mid-rollout", () => {
    const h = new Harness({ version: "v1", replicas: 4 }, { lagMs: 0, startups: { slow: 300, v3: 5 } });
    h.until(complete);
    h.change({ version: "slow" });
    h.tick(5000);
    expect(h.setsByVersion()).toEqual({ v1: 3, slow: 2 });
    h.change({ version: "v3" });
    h.tick(1);
    // The slow pods are not available: they go first, and the new ReplicaSet takes their room.
    expect(h.setsByVersion()).toEqual({ v1: 3, slow: 0, v3: 2 });
    h.until(complete);
    expect(h.setsByVersion()).toEqual({ v1: 0, slow: 0, v3: 4 });
    const revisions = revisionsOf({ uid: "deploy-uid" }, h.controller.replicaSets(NAMESPACE));
    expect(revisions.map((r) => [r.template.metadata?.labels?.version, r.revision])).toEqual([
      ["v3", 3],
      ["slow", 2],
      ["v1", 1],
    ]);
  });

  it("re-uses the old ReplicaSet on a rollback and gives it the next revision", () => {
    const h = new Harness({ version: "v1" }, { lagMs: 0 });
    h.until(complete);
    const firstName = h.controller.replicaSets(NAMESPACE)[0]?.metadata?.name;
    h.change({ version: "v2" });
    h.until(complete);
    h.change({ version: "v1" });
    h.until(complete);
    const sets = h.controller.replicaSets(NAMESPACE);
    expect(sets).toHaveLength(2);
    const byVersion = Object.fromEntries(
      sets.map((rs) => [rs.spec?.template?.metadata?.labels?.version, rs.metadata?.annotations]),
    );
    expect(byVersion.v1?.["deployment.kubernetes.io/revision"]).toBe("3");
    expect(byVersion.v2?.["deployment.kubernetes.io/revision"]).toBe("2");
    expect(sets.find((rs) => rs.metadata?.name === firstName)?.spec?.replicas).toBe(3);
    expect(h.controller.deploymentRevision(NAMESPACE, NAME)).toBe("3");
  });

  it("follows spec.replicas changes, also in the middle of a rollout (proportionally)", () => {
    const h = new Harness({ version: "v1", replicas: 3 }, { lagMs: 0, startups: { v2: 60 } });
    h.until(complete);
    h.change({ replicas: 6 });
    h.until(complete);
    expect(h.pods()).toHaveLength(6);
    h.change({ replicas: 2 });
    h.tick(1);
    expect(h.pods()).toHaveLength(2);
    h.change({ replicas: 10 });
    h.until(complete);
    h.change({ version: "v2" });
    h.tick(1);
    expect(h.setsByVersion()).toEqual({ v1: 8, v2: 5 });
    h.change({ replicas: 20 });
    h.tick(1);
    // 25 pods allowed (20 + 25% surge), shared in proportion to the sizes before (8 and 5 of 13).
    expect(h.setsByVersion()).toEqual({ v1: 15, v2: 10 });
    h.until(complete);
    expect(h.setsByVersion()).toEqual({ v1: 0, v2: 20 });
  });

  it("holds a paused rollout and resumes it", () => {
    const h = new Harness({ version: "v1" }, { lagMs: 0 });
    h.until(complete);
    h.change({ version: "v2", paused: true });
    h.tick(60_000);
    expect(h.setsByVersion()).toEqual({ v1: 3 });
    expect(h.deployment.status).toMatchObject({ observedGeneration: 2, replicas: 3 });
    expect(h.deployment.status?.updatedReplicas).toBeUndefined();
    expect(condition(h.deployment.status!, "Progressing")).toMatchObject({
      status: "Unknown",
      reason: "DeploymentPaused",
    });
    expect(h.progress().state).toBe("progressing");
    h.change({ paused: false });
    h.tick(1);
    expect(h.setsByVersion()).toEqual({ v1: 3, v2: 1 });
    h.until(complete);
    expect(h.setsByVersion()).toEqual({ v1: 0, v2: 3 });
  });

  it("counts pods available only after minReadySeconds", () => {
    const h = new Harness({ version: "v1", minReadySeconds: 20 }, { lagMs: 0, startups: { v1: 5 } });
    h.tick(0);
    h.tick(10_000);
    expect(h.deployment.status).toMatchObject({ readyReplicas: 3, unavailableReplicas: 3 });
    expect(h.deployment.status?.availableReplicas).toBeUndefined();
    h.tick(15_000);
    expect(h.deployment.status).toMatchObject({ readyReplicas: 3, availableReplicas: 3 });
    expect(complete(h)).toBe(true);
  });

  it("recreates: every old pod is gone before the new ReplicaSet starts", () => {
    const h = new Harness({ version: "v1", recreate: true }, { lagMs: 0 });
    h.until(complete);
    h.change({ version: "v2" });
    h.tick(1);
    expect(h.setsByVersion()).toEqual({ v1: 0, v2: 3 });
    expect(h.pods().every((pod) => pod.metadata?.labels?.version === "v2")).toBe(true);
    h.until(complete);
  });

  it("replaces a deleted pod and forgets Deployments no longer listed", () => {
    const h = new Harness({ version: "v1" }, { lagMs: 0 });
    h.until(complete);
    const victim = h.pods()[0]!.metadata!.name!;
    expect(h.controller.deletePod(NAMESPACE, victim)).toBe(true);
    expect(h.pods()).toHaveLength(2);
    h.tick(1);
    expect(h.pods()).toHaveLength(3);
    expect(h.pods().map((pod) => pod.metadata?.name)).not.toContain(victim);
    h.until(complete);
    h.controller.reconcile([], h.nowMs + 1000, () => ({ startupSeconds: 0, crashLoop: false }));
    expect(h.pods()).toEqual([]);
    expect(h.controller.replicaSets(NAMESPACE)).toEqual([]);
  });

  it("leaves zero counts out of the status when scaled to zero", () => {
    const h = new Harness({ version: "v1" }, { lagMs: 0 });
    h.until(complete);
    h.change({ replicas: 0 });
    const status = h.tick(1);
    expect(status.replicas).toBeUndefined();
    expect(status.updatedReplicas).toBeUndefined();
    expect(h.pods()).toEqual([]);
    expect(complete(h)).toBe(true);
  });
});

describe("DeploymentController: crash loops and the progress deadline", () => {
  it("ends a crash-looping rollout in ProgressDeadlineExceeded after the default 600 s", () => {
    const h = new Harness({ version: "v1" }, { lagMs: 0 });
    h.until(complete);
    h.change({ version: "crash" });
    const changedAt = h.nowMs;
    h.until((x) => x.progress().state === "failed", 3_600_000, 10_000);
    const elapsed = h.nowMs - changedAt;
    expect(elapsed).toBeGreaterThan(600_000);
    expect(elapsed).toBeLessThanOrEqual(620_000);
    const hash = h.hashOf("crash");
    expect(condition(h.deployment.status!, "Progressing")).toMatchObject({
      status: "False",
      reason: "ProgressDeadlineExceeded",
      message: `ReplicaSet "${NAME}-${hash}" has timed out progressing.`,
    });
    expect(h.progress().message).toContain("has timed out progressing");
    // 25% of 3 rounds down to 0 unavailable: the old pods all stay and keep the Deployment available.
    expect(condition(h.deployment.status!, "Available")?.status).toBe("True");
    expect(h.setsByVersion()).toEqual({ v1: 3, crash: 1 });
    const crashPods = h.pods().filter((pod) => pod.metadata?.labels?.version === "crash");
    const loops = findCrashLoops(crashPods);
    expect(loops).toHaveLength(1);
    expect(loops[0]?.restarts).toBeGreaterThanOrEqual(4);
    expect(loops[0]).toMatchObject({ lastExitCode: 1, lastReason: "Error" });
    // A rollback recovers: progress replaces the failed condition.
    h.change({ version: "v1" });
    h.until(complete);
    expect(h.setsByVersion()).toEqual({ v1: 3, crash: 0 });
  });

  it("honours a short progressDeadlineSeconds", () => {
    const h = new Harness({ version: "v1", deadlineSeconds: 60 }, { lagMs: 0 });
    h.until(complete);
    h.change({ version: "crash" });
    h.tick(1000);
    // Lag 0: the controller observes the change at the reconcile that lists it, and times out 1 s after the deadline.
    const seenAt = h.nowMs;
    h.until((x) => x.progress().state === "failed", 600_000, 1000);
    expect(h.nowMs - seenAt).toBe(61_000);
  });

  it("backs a crashing container off 10s, 20s, 40s ... capped at 5 minutes", () => {
    const h = new Harness({ version: "crash", replicas: 1 }, { lagMs: 0 });
    h.tick(0);
    const waits: number[] = [];
    let waitingSince: number | undefined;
    let lastRestarts = 0;
    for (let i = 0; i < 1500; i++) {
      h.tick(1000);
      const status = h.pods()[0]?.status?.containerStatuses?.[0];
      expect(status?.ready).toBe(false);
      const waiting = status?.state?.waiting?.reason === "CrashLoopBackOff";
      if (waiting && waitingSince === undefined) waitingSince = h.nowMs;
      if (!waiting && waitingSince !== undefined) {
        waits.push((h.nowMs - waitingSince) / 1000);
        waitingSince = undefined;
        expect(status?.restartCount).toBe(lastRestarts + 1);
        expect(status?.lastState?.terminated).toMatchObject({ exitCode: 1, reason: "Error" });
      }
      lastRestarts = status?.restartCount ?? 0;
    }
    expect(waits.slice(0, 7)).toEqual([10, 20, 40, 80, 160, 300, 300]);
  });
});

describe("DeploymentController: hashes and determinism", () => {
  it("hashes equal templates equally, whatever the key order or a pod-template-hash label", () => {
    const controller = new DeploymentController(createRandom(1));
    const a = controller.templateHash({
      metadata: { labels: { app: "x", version: "v1" } },
      spec: { containers: [{ name: "x", image: "x:1" }] },
    });
    const b = controller.templateHash({
      spec: { containers: [{ image: "x:1", name: "x" }] },
      metadata: { labels: { version: "v1", "pod-template-hash": a, app: "x" } },
    });
    const c = controller.templateHash({
      metadata: { labels: { app: "x", version: "v1" } },
      spec: { containers: [{ name: "x", image: "x:2" }] },
    });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(a).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
  });

  it("replays the same timeline from the same seed", () => {
    const run = (seed: number) => {
      const h = new Harness({ version: "v1", replicas: 5 }, { seed, startups: { v1: -30, v2: -30 } });
      const trace: unknown[] = [];
      for (let i = 0; i < 40; i++) {
        if (i === 10) h.change({ version: "v2" });
        trace.push(
          h.tick(),
          h.pods().map((pod) => [pod.metadata?.name, isReady(pod)]),
        );
      }
      return JSON.stringify(trace);
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
  });
});

describe("DeploymentController: properties", () => {
  type Op = { kind: "image"; version: string } | { kind: "scale"; replicas: number } | { kind: "wait"; ticks: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant("image" as const), version: fc.constantFrom("v1", "v2", "v3", "crash") }),
    fc.record({ kind: fc.constant("scale" as const), replicas: fc.integer({ min: 1, max: 10 }) }),
    fc.record({ kind: fc.constant("wait" as const), ticks: fc.integer({ min: 1, max: 30 }) }),
  );
  const intOrPercent = fc.constantFrom<number | string>(0, 1, 2, "10%", "25%", "50%", "100%");

  it("never surges past maxSurge, keeps availability while rolling; 'complete' means all pods new and Ready", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 10 }),
        intOrPercent,
        intOrPercent,
        fc.constantFrom(0, 1000, 3000),
        fc.array(op, { minLength: 1, maxLength: 25 }),
        (seed, replicas, maxSurge, maxUnavailable, lagMs, ops) => {
          const h = new Harness(
            { version: "v1", replicas, maxSurge, maxUnavailable, deadlineSeconds: 120 },
            { seed, lagMs, startups: { v1: -20, v2: -20, v3: -20 } },
          );
          const resolve = (value: number | string, total: number, up: boolean) => {
            if (typeof value === "number") return value;
            const scaled = (Number.parseInt(value, 10) * total) / 100;
            return up ? Math.ceil(scaled) : Math.floor(scaled);
          };
          const limits = new Map<number, { replicas: number; surge: number; unavailable: number }>();
          const remember = (generation: number, total: number) => {
            const surge = resolve(maxSurge, total, true);
            let unavailable = resolve(maxUnavailable, total, false);
            if (surge === 0 && unavailable === 0) unavailable = 1;
            limits.set(generation, { replicas: total, surge, unavailable });
          };
          let generation = 1;
          let current = replicas;
          remember(1, replicas);
          /** Set once a rollout completes; a replicas change clears it (availability then follows the new size). */
          let guard: { replicas: number; unavailable: number } | undefined;
          let crashedSinceComplete = false;
          const check = () => {
            const status = h.deployment.status ?? {};
            const pods = h.pods();
            expect(status.replicas ?? 0).toBe(pods.length);
            const observed = limits.get(status.observedGeneration ?? 0);
            if (observed) expect(pods.length).toBeLessThanOrEqual(observed.replicas + observed.surge);
            const available = status.availableReplicas ?? 0;
            if (guard)
              expect(available).toBeGreaterThanOrEqual(guard.replicas - Math.min(guard.unavailable, guard.replicas));
            const progress = h.progress();
            if (progress.state === "complete") {
              const hash = h.controller.templateHash(h.deployment.spec!.template);
              expect(pods).toHaveLength(current);
              for (const pod of pods) {
                expect(isReady(pod)).toBe(true);
                expect(pod.metadata?.labels?.["pod-template-hash"]).toBe(hash);
              }
              const limit = limits.get(generation)!;
              guard = { replicas: limit.replicas, unavailable: limit.unavailable };
            }
            // A deadline needs a stall: only a crash-looping template (now or since the last completion) stalls.
            if (progress.state === "failed") expect(crashedSinceComplete).toBe(true);
            if (progress.state === "complete") crashedSinceComplete = false;
          };
          h.tick(0);
          check();
          for (const step of ops) {
            if (step.kind === "wait") {
              for (let i = 0; i < step.ticks; i++) {
                h.tick(5000);
                check();
              }
              continue;
            }
            if (step.kind === "image") {
              h.change({ version: step.version });
              if (step.version === "crash") crashedSinceComplete = true;
            } else {
              h.change({ replicas: step.replicas });
              current = step.replicas;
              guard = undefined;
            }
            generation++;
            remember(generation, current);
            h.tick(5000);
            check();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
