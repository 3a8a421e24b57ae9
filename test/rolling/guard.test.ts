// The rolling guard against the fake API server with the real client-node: undo once, report, race, hold.
import type { V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { guardRollout, isRolling, type RollingContext } from "../../functions/rolling/guard.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { hashOf, NAME, NAMESPACE, replicaSet, rsName, type Scene, seedRollout, template } from "./objects.ts";

let api: FakeApiServer;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "test-guard");
});
afterAll(() => api.close());
beforeEach(() => api.reset());

const start = new Date("2026-11-26T10:00:00Z");
const at = (minutes: number) => new Date(start.getTime() + minutes * 60_000);

const context = (minutes = 0, extra: Partial<RollingContext> = {}): RollingContext => ({
  clients,
  now: at(minutes),
  dryRun: false,
  ...extra,
});

/** One pass as the scheduled function makes it: list, then guard what it found. */
async function pass(minutes = 0, extra: Partial<RollingContext> = {}) {
  const [found] = (await clients.apps.listNamespacedDeployment({ namespace: NAMESPACE })).items.filter(isRolling);
  if (!found) throw new Error("no rolling Deployment");
  return guardRollout(context(minutes, extra), found);
}

const readDeployment = (): Promise<V1Deployment> =>
  clients.apps.readNamespacedDeployment({ namespace: NAMESPACE, name: NAME });

interface RecordedEvent {
  eventTime: string;
  reason: string;
  note: string;
  type: string;
  regarding: { name: string };
}
/** Events greenlight recorded, oldest first (every pass here runs at its own minute). */
const events = () =>
  (api.list("events.k8s.io/v1", "Event", NAMESPACE) as unknown as RecordedEvent[]).sort((a, b) =>
    a.eventTime.localeCompare(b.eventTime),
  );
const reasons = () => events().map((event) => event.reason);
const patches = () => api.calls.filter((call) => call.verb === "patch" && call.resource === "deployments");
const templatePatches = () =>
  patches().filter(
    (call) =>
      call.status === 200 &&
      Array.isArray(call.body) &&
      call.body.some((op: { path?: string }) => op.path === "/spec/template"),
  );
const status = (scene: Scene) =>
  JSON.parse(scene.deployment().metadata.annotations?.["greenlight.dev/status"] ?? "null") as Record<
    string,
    unknown
  > | null;

/** The previous ReplicaSet's template without pod-template-hash: what `kubectl rollout undo` restores. */
function restoredTemplate(scene: Scene, version: string) {
  const template = structuredClone(scene.replicaSet(version).spec.template);
  delete template.metadata.labels["pod-template-hash"];
  return template;
}

describe("guardRollout: deadline exceeded with auto-rollback", () => {
  it("undoes to the previous ReplicaSet's template exactly once, however many passes follow", async () => {
    const scene = seedRollout(api, {
      counts: { updated: 1, ready: 3, available: 3, total: 4 },
      condition: "deadline",
    });
    const first = await pass(0);
    expect(first).toMatchObject({
      outcome: "rolled-back",
      phase: "RolledBack",
      rolledBackFrom: 2,
      rolledBackTo: 1,
    });
    expect(scene.deployment().spec.template).toEqual(restoredTemplate(scene, "v1.0"));
    expect(scene.deployment().spec.template.metadata.labels).not.toHaveProperty("pod-template-hash");
    // The Deployment's other annotations are kept; only the status is greenlight's to write.
    expect(scene.deployment().metadata.annotations).toMatchObject({
      "greenlight.dev/strategy": "rolling",
      "greenlight.dev/auto-rollback": "true",
      "deployment.kubernetes.io/revision": "2",
    });
    expect(status(scene)).toMatchObject({
      strategy: "rolling",
      phase: "RolledBack",
      revision: 1,
      podTemplateHash: hashOf("v1.0"),
      rolledBackFrom: { revision: 2, podTemplateHash: hashOf("v2.0") },
      rolledBackTo: { revision: 1, podTemplateHash: hashOf("v1.0") },
      updatedAt: at(0).toISOString(),
    });
    expect(events()).toMatchObject([{ reason: "RolledBack", type: "Warning", regarding: { name: NAME } }]);
    expect(events()[0]?.note).toMatch(/exceeded its progress deadline.*rolled back from revision 2 to 1/);

    // Pass 2: the controller has not observed the undo yet (the deadline condition is still there): nothing.
    const second = await pass(1);
    expect(second.outcome).toBe("unchanged");
    expect(second.message).toMatch(/waiting for the Deployment controller to observe generation/);

    // The controller renumbers the restored ReplicaSet to revision 3: now revision 2 (the failed template) is
    // the highest below the current one, which is where a guard without memory would "undo" to.
    scene.reconcile({ updated: 3, ready: 3, available: 3, total: 4 }, "progressing");
    expect(scene.replicaSet("v1.0").metadata.annotations?.["deployment.kubernetes.io/revision"]).toBe("3");
    const third = await pass(2);
    expect(third).toMatchObject({ outcome: "written", phase: "RolledBack", revision: 3 });
    scene.reconcile({ updated: 3, ready: 3, available: 3, total: 3 }, "complete");
    const fourth = await pass(3);
    expect(fourth).toMatchObject({ outcome: "written", phase: "RolledBack" });
    expect(fourth.message).toMatch(/successfully rolled out/);
    const fifth = await pass(4);
    expect(fifth.outcome).toBe("unchanged");

    expect(templatePatches()).toHaveLength(1);
    expect(scene.deployment().spec.template).toEqual(restoredTemplate(scene, "v1.0"));
    expect(reasons().filter((reason) => reason === "RolledBack")).toHaveLength(1);
  });

  it("does not undo a second time when the restored template fails too", async () => {
    const scene = seedRollout(api, { condition: "deadline" });
    expect((await pass(0)).outcome).toBe("rolled-back");
    scene.reconcile({ updated: 0, ready: 0, available: 0, total: 3 }, "deadline");
    const again = await pass(10);
    expect(again).toMatchObject({ outcome: "written", phase: "Failed" });
    expect(again.message).toMatch(/restored from revision 2: greenlight rolls back once/);
    expect(templatePatches()).toHaveLength(1);
    expect(scene.deployment().spec.template.metadata.labels.version).toBe("v1.0");
    expect(reasons()).toEqual(["RolledBack", "RolloutFailed"]);
    expect((await pass(11)).outcome).toBe("unchanged");
  });

  it("does not undo the failed template again when someone re-applies it, but does undo a new one", async () => {
    const scene = seedRollout(api, { condition: "deadline" });
    await pass(0);
    scene.reconcile({ updated: 3, ready: 3, available: 3 }, "complete");
    await pass(1);
    // Someone re-applies v2.0 (a GitOps sync, say); it fails its deadline again.
    const reapplied = scene.deployment();
    reapplied.spec.template = structuredClone(restoredTemplate(scene, "v2.0"));
    api.put(reapplied);
    scene.reconcile({ updated: 1, ready: 3, available: 3, total: 4 }, "deadline");
    const stuck = await pass(2);
    expect(stuck).toMatchObject({ outcome: "written", phase: "Failed" });
    expect(stuck.message).toMatch(/not rolled back again: greenlight rolled this template back once already/);
    expect(templatePatches()).toHaveLength(1);
    expect(scene.deployment().spec.template.metadata.labels.version).toBe("v2.0");

    // A new version is a new rollout: the guard is armed again, and it does not restore v2.0, the template it
    // knows to fail, although v2.0 is now the highest revision below v3.0.
    const next = scene.deployment();
    next.spec.template = template("v3.0");
    api.put(next);
    api.put(replicaSet("v3.0", 5, { uid: next.metadata.uid }, { replicas: 1, ready: 0, available: 0 }));
    scene.reconcile({ updated: 1, ready: 3, available: 3, total: 4 }, "deadline");
    const undone = await pass(3);
    expect(undone).toMatchObject({ outcome: "rolled-back", rolledBackFrom: 5, rolledBackTo: 3 });
    expect(scene.deployment().spec.template).toEqual(restoredTemplate(scene, "v1.0"));
    expect(reasons().filter((reason) => reason === "RolledBack")).toHaveLength(2);
  });
});

describe("guardRollout: other failures and holds", () => {
  it("undoes a rollout whose new pods crash-loop before any deadline", async () => {
    const scene = seedRollout(api, { counts: { updated: 2, ready: 2, available: 2, total: 4 } });
    scene.addPods("v2.0", "crash-loop", 2);
    const report = await pass(0);
    expect(report).toMatchObject({ outcome: "rolled-back", rolledBackFrom: 2, rolledBackTo: 1 });
    expect(report.crashLoops.map((loop) => loop.pod)).toEqual([`${rsName("v2.0")}-0`, `${rsName("v2.0")}-1`]);
    expect(report.message).toMatch(/new pods crash-loop: myapp-\w+-0\/myapp, myapp-\w+-1\/myapp; rolled back/);
    expect(scene.deployment().spec.template).toEqual(restoredTemplate(scene, "v1.0"));
    expect(reasons()).toEqual(["RolledBack"]);
  });

  it("looks only at the new ReplicaSet's pods: old pods crash-looping are no reason to undo", async () => {
    const scene = seedRollout(api);
    scene.addPods("v1.0", "crash-loop", 2);
    scene.addPods("v2.0", "running");
    const report = await pass(0);
    expect(report).toMatchObject({ outcome: "written", phase: "Progressing", crashLoops: [] });
    expect(templatePatches()).toHaveLength(0);
  });

  it("counts a container restarting past the threshold even while it runs between back-offs", async () => {
    const scene = seedRollout(api);
    scene.addPods("v2.0", "restarting");
    expect((await pass(0, { restartThreshold: 6 })).outcome).toBe("written");
    expect(templatePatches()).toHaveLength(0);
    scene.setStatus({ updated: 1, ready: 3, available: 3, total: 4 }, "progressing");
    const report = await pass(1, { restartThreshold: 5 });
    expect(report.outcome).toBe("rolled-back");
    expect(report.crashLoops).toEqual([
      { pod: `${rsName("v2.0")}-0`, container: "myapp", restarts: 5, lastExitCode: 1, lastReason: "Error" },
    ]);
  });

  it("reports an API failure as outcome failed, naming the call, and writes nothing", async () => {
    seedRollout(api, { condition: "deadline" });
    api.failNext({ verb: "list", resource: "replicasets" }, 503);
    const report = await pass(0);
    expect(report).toMatchObject({ outcome: "failed", events: [] });
    expect(report.problem).toMatch(/^listing ReplicaSets of production\/myapp: /);
    expect(patches()).toHaveLength(0);
  });

  it("with auto-rollback off writes Failed with an event and leaves the template alone", async () => {
    const scene = seedRollout(api, { annotations: { "greenlight.dev/auto-rollback": "false" }, condition: "deadline" });
    const report = await pass(0);
    expect(report).toMatchObject({ outcome: "written", phase: "Failed" });
    expect(report.message).toMatch(/not rolled back: greenlight.dev\/auto-rollback is not "true"/);
    expect(scene.deployment().spec.template.metadata.labels.version).toBe("v2.0");
    expect(events()).toMatchObject([{ reason: "RolloutFailed", type: "Warning" }]);
    // The status write bumped the generation; once the controller observes it, the next pass has nothing to say.
    scene.setStatus({ updated: 1, ready: 3, available: 3, total: 4 }, "deadline");
    const writes = patches().length;
    expect((await pass(1)).outcome).toBe("unchanged");
    expect(patches()).toHaveLength(writes);
    expect(templatePatches()).toHaveLength(0);
  });

  it("reads an invalid auto-rollback as off, with the validator's warning", async () => {
    seedRollout(api, { annotations: { "greenlight.dev/auto-rollback": "yes" }, condition: "deadline" });
    const report = await pass(0);
    expect(report.phase).toBe("Failed");
    expect(report.warnings).toEqual(['greenlight.dev/auto-rollback ignored: accepted: "true" or "false"']);
    expect(templatePatches()).toHaveLength(0);
  });

  it("holds the undo while greenlight.dev/paused is true, and says so", async () => {
    const scene = seedRollout(api, { annotations: { "greenlight.dev/paused": "true" }, condition: "deadline" });
    const report = await pass(0);
    expect(report).toMatchObject({ outcome: "written", phase: "Failed" });
    expect(report.message).toMatch(/not rolled back: greenlight.dev\/paused is "true"/);
    expect(scene.deployment().spec.template.metadata.labels.version).toBe("v2.0");
  });

  it("with no previous ReplicaSet reports the failure and changes nothing else", async () => {
    const scene = seedRollout(api, {
      versions: ["v2.0"],
      counts: { updated: 3, ready: 0, available: 0 },
      condition: "deadline",
    });
    const report = await pass(0);
    expect(report).toMatchObject({ outcome: "written", phase: "Failed", revision: 1 });
    expect(report.message).toMatch(/not rolled back: no ReplicaSet older than revision 1 to roll back to/);
    expect(templatePatches()).toHaveLength(0);
    expect(scene.deployment().spec.template.metadata.labels.version).toBe("v2.0");
    expect(reasons()).toEqual(["RolloutFailed"]);
  });
});

describe("guardRollout: healthy rollouts", () => {
  it("reports progress, then completion, and writes nothing while nothing changes", async () => {
    const scene = seedRollout(api, { counts: { updated: 1, ready: 3, available: 3, total: 4 } });
    expect(await pass(0)).toMatchObject({
      outcome: "written",
      phase: "Progressing",
      revision: 2,
      progress: { desired: 3, updated: 1, ready: 3, available: 3 },
    });
    expect(status(scene)).toMatchObject({
      phase: "Progressing",
      updated: 1,
      desired: 3,
      message: "1 of 3 new replicas have been updated",
    });
    scene.setStatus({ updated: 1, ready: 3, available: 3, total: 4 }, "progressing");
    const writes = patches().length;
    expect((await pass(1)).outcome).toBe("unchanged");
    expect(patches()).toHaveLength(writes);

    scene.setStatus({ updated: 3, ready: 3, available: 3 }, "complete");
    expect(await pass(2)).toMatchObject({ outcome: "written", phase: "Complete" });
    scene.setStatus({ updated: 3, ready: 3, available: 3 }, "complete");
    expect((await pass(3)).outcome).toBe("unchanged");
    expect(reasons()).toEqual(["RolloutProgressing", "RolloutComplete"]);
    expect(templatePatches()).toHaveLength(0);
  });

  it("keeps a completed revision Complete when its pods crash later: no undo of a finished rollout", async () => {
    const scene = seedRollout(api, { counts: { updated: 3, ready: 3, available: 3 }, condition: "complete" });
    expect((await pass(0)).phase).toBe("Complete");
    scene.setStatus({ updated: 3, ready: 2, available: 2 }, "complete");
    scene.addPods("v2.0", "crash-loop");
    const later = await pass(1);
    expect(later).toMatchObject({ outcome: "written", phase: "Complete" });
    expect(later.message).toMatch(/^rolled out; since then new pods crash-loop/);
    expect(templatePatches()).toHaveLength(0);
  });

  it("with dryRun returns the guarded undo patch and writes nothing", async () => {
    const scene = seedRollout(api, { condition: "deadline" });
    const report = await pass(0, { dryRun: true });
    expect(report.outcome).toBe("dry-run");
    expect(report.patch?.[0]).toEqual({
      op: "test",
      path: "/metadata/resourceVersion",
      value: scene.deployment().metadata.resourceVersion,
    });
    expect(report.patch?.map((op) => `${op.op} ${op.path}`)).toEqual([
      "test /metadata/resourceVersion",
      "replace /spec/template",
      "add /metadata/annotations/greenlight.dev~1status",
    ]);
    expect(patches()).toHaveLength(0);
    expect(events()).toHaveLength(0);
  });
});

describe("guardRollout: two guards at once", () => {
  it("lets exactly one undo win; the other backs off without an event", async () => {
    const scene = seedRollout(api, { condition: "deadline" });
    const [found] = (await clients.apps.listNamespacedDeployment({ namespace: NAMESPACE })).items;
    if (!found) throw new Error("no Deployment");
    api.setLatency(30);
    const reports = await Promise.all([guardRollout(context(0), found), guardRollout(context(0), found)]);
    api.setLatency(0);
    expect(reports.map((report) => report.outcome).sort()).toEqual(["lost-race", "rolled-back"]);
    expect(reports.find((report) => report.outcome === "lost-race")?.problem).toMatch(/test failed/);
    expect(templatePatches()).toHaveLength(1);
    expect(patches().filter((call) => call.status === 422)).toHaveLength(1);
    expect(reasons()).toEqual(["RolledBack"]);
    expect(scene.deployment().spec.template.metadata.labels.version).toBe("v1.0");
  });

  it("lets exactly one status write win when both read the same status", async () => {
    const scene = seedRollout(api);
    await pass(0);
    // The controller observed greenlight's write and made progress since.
    scene.setStatus({ updated: 2, ready: 3, available: 3, total: 4 }, "progressing");
    const fresh = await readDeployment();
    const reports = await Promise.all([guardRollout(context(1), fresh), guardRollout(context(1), fresh)]);
    expect(reports.map((report) => report.outcome).sort()).toEqual(["lost-race", "written"]);
    expect(patches().filter((call) => call.status === 422)).toHaveLength(1);
  });
});
