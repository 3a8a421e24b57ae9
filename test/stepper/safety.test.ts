// Named regression tests for the rollout-safety invariants the simulator found or the issue named, one pass at a time
// through the real client-node against the fake API server. Each failed on the code before its fix.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseStatus } from "../../functions/canary/status.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { runStep } from "../../functions/stepper/run.ts";
import {
  canaryDeployment,
  destinationRule,
  healthyReader,
  NAMESPACE,
  virtualService,
} from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";

const MINUTE = 60_000;
const start = new Date("2026-12-01T10:00:00Z");
const at = (minutes: number) => new Date(start.getTime() + minutes * MINUTE);

let api: FakeApiServer;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "safety");
});
afterAll(() => api.close());
beforeEach(() => api.reset());

type Deployment = JsonObject & {
  metadata: { generation?: number; annotations?: Record<string, string> };
  spec: { template: { spec: { containers: { image: string; env?: unknown[] }[] } } };
  status?: Record<string, unknown>;
};
type Vs = JsonObject & {
  metadata: { annotations?: Record<string, string> };
  spec: { http: { match?: unknown; route: { weight: number }[] }[] };
};

const deployment = () => api.get("apps/v1", "Deployment", NAMESPACE, "myapp-v2") as Deployment;
const vs = () => api.get("networking.istio.io/v1", "VirtualService", NAMESPACE, "myapp") as Vs;
const weightsNow = () =>
  vs()
    .spec.http.find((route) => !route.match)
    ?.route.map((r) => r.weight);
const statusNow = () => parseStatus(vs().metadata.annotations?.["greenlight.dev/status"]).status;
const reasons = () =>
  (api.list("events.k8s.io/v1", "Event", NAMESPACE) as unknown as { reason: string }[]).map((e) => e.reason);
const pass = async (minutes: number) =>
  (await runStep({ clients, reader: healthyReader, now: at(minutes) })).canaries[0];

/** The Deployment as its controller reports it mid-rollout: `updated` of 3 pods new, the old ones still ready. */
function rollingOut(updated: number): Record<string, unknown> {
  const generation = deployment().metadata.generation;
  return {
    observedGeneration: generation,
    replicas: 3 + (updated < 3 ? 1 : 0),
    updatedReplicas: updated,
    readyReplicas: 3,
    availableReplicas: 3,
    unavailableReplicas: 0,
    conditions: [
      { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
      { type: "Progressing", status: "True", reason: updated < 3 ? "ReplicaSetUpdated" : "NewReplicaSetAvailable" },
    ],
  };
}

function seed(weights = { stable: 100, canary: 0 }): void {
  const object = canaryDeployment({ annotations: { "greenlight.dev/steps": "10,50,100" } }) as Deployment;
  object.spec = { ...object.spec, replicas: 3 } as Deployment["spec"];
  api.put(object);
  api.put({ ...deployment(), status: rollingOut(3) });
  api.put(destinationRule());
  api.put(virtualService(weights));
}

describe("invariant 1: no weight to a canary whose new ReplicaSet is not fully rolled out", () => {
  it("holds at 0% while 1 of 3 replicas is updated, though Available=True on the old pods", async () => {
    seed();
    api.put({ ...deployment(), status: rollingOut(1) });
    expect(await pass(0)).toMatchObject({ outcome: "written", phase: "Waiting" });
    for (const minutes of [0.1, 1, 2, 5]) {
      expect(await pass(minutes)).toMatchObject({ phase: "Waiting" });
      expect(weightsNow()).toEqual([100, 0]);
    }
    api.put({ ...deployment(), status: rollingOut(3) });
    expect(await pass(6)).toMatchObject({ outcome: "written", phase: "Progressing" });
    expect(weightsNow()).toEqual([90, 10]);
  });

  it("holds the weight already given, with no step, while a new generation is not observed yet", async () => {
    seed();
    await pass(0);
    await pass(0.1);
    expect(weightsNow()).toEqual([90, 10]);
    // A scale-up (as an HPA does) bumps the generation; until the controller observes it nothing steps.
    api.put({ ...deployment(), spec: { ...deployment().spec, replicas: 5 } });
    const report = await pass(1.2);
    expect(report?.checks).toBeUndefined();
    expect(weightsNow()).toEqual([90, 10]);
    expect(statusNow()?.reason).toMatch(/not ready \(.*generation/);
  });

  it("counts a rollout past its progress deadline as a failed check, and rolls back at the threshold", async () => {
    seed();
    await pass(0);
    await pass(0.1);
    const stalled = rollingOut(1);
    stalled.conditions = [
      { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
      {
        type: "Progressing",
        status: "False",
        reason: "ProgressDeadlineExceeded",
        message: 'ReplicaSet "myapp-v2-abc" has timed out progressing.',
      },
    ];
    api.put({ ...deployment(), status: stalled });
    expect(await pass(1.2)).toMatchObject({ phase: "Progressing" });
    expect(statusNow()).toMatchObject({ failures: 1 });
    expect(statusNow()?.reason).toMatch(/analysis failed: .*progress deadline/);
    expect(await pass(2.4)).toMatchObject({ phase: "RolledBack" });
    expect(weightsNow()).toEqual([100, 0]);
  });
});

describe("invariant 1, on resume", () => {
  it("re-writes more canary weight than the route holds only once the canary is ready again", async () => {
    seed();
    await pass(0);
    await pass(0.1);
    await pass(1.2);
    expect(weightsNow()).toEqual([50, 50]);
    const edited = vs();
    const weighted = edited.spec.http.find((route) => !route.match);
    if (weighted)
      [weighted.route[0], weighted.route[1]] = [
        { ...weighted.route[0], weight: 100 } as never,
        { ...weighted.route[1], weight: 0 } as never,
      ];
    api.put(edited);
    expect(await pass(1.5)).toMatchObject({ phase: "Paused" });
    const annotated = deployment();
    annotated.metadata.annotations = { ...annotated.metadata.annotations, "greenlight.dev/paused": "false" };
    api.put(annotated);
    api.put({ ...deployment(), status: rollingOut(1) });
    expect(await pass(2)).toMatchObject({ phase: "Paused" });
    expect(weightsNow()).toEqual([100, 0]);
    api.put({ ...deployment(), status: rollingOut(3) });
    expect(await pass(3)).toMatchObject({ outcome: "written", phase: "Progressing" });
    expect(weightsNow()).toEqual([50, 50]);
  });
});

describe("invariant 3: a new revision of the canary restarts its analysis from 0%", () => {
  it("goes back to Waiting at stable 100% when the pod template changes under the same version", async () => {
    seed();
    await pass(0);
    await pass(0.1);
    await pass(1.2);
    expect(weightsNow()).toEqual([50, 50]);
    const before = statusNow()?.canaryRevision;
    const edited = deployment();
    edited.spec.template.spec.containers[0] = {
      ...edited.spec.template.spec.containers[0],
      env: [{ name: "X", value: "1" }],
    } as never;
    api.put(edited);
    api.put({ ...deployment(), status: rollingOut(1) });
    expect(await pass(1.5)).toMatchObject({ outcome: "written", phase: "Waiting" });
    expect(weightsNow()).toEqual([100, 0]);
    expect(statusNow()?.canaryRevision).not.toBe(before);
    expect(statusNow()).toMatchObject({ stepIndex: -1, failures: 0 });
    // The new revision starts at step 1 once rolled out, never where the old one stood.
    api.put({ ...deployment(), status: rollingOut(3) });
    await pass(3);
    expect(weightsNow()).toEqual([90, 10]);
  });

  it("leaves a promoted canary alone when its template is edited in place (stable may be gone)", async () => {
    seed();
    await pass(0);
    for (const minutes of [0.1, 1.2, 2.4, 3.6]) await pass(minutes);
    expect(statusNow()?.phase).toBe("Promoted");
    const edited = deployment();
    edited.spec.template.spec.containers[0] = {
      ...edited.spec.template.spec.containers[0],
      env: [{ name: "X", value: "2" }],
    } as never;
    api.put(edited);
    expect(await pass(5)).toMatchObject({ outcome: "unchanged", phase: "Promoted" });
    expect(weightsNow()).toEqual([0, 100]);
  });
});

describe("invariant 10: an unreadable status pauses where the route stands, with an Event", () => {
  it("keeps canary 100% on a corrupt status instead of restarting at stable 100%", async () => {
    seed({ stable: 0, canary: 100 });
    api.put({ ...vs(), metadata: { ...vs().metadata, annotations: { "greenlight.dev/status": "{not json" } } });
    expect(await pass(0)).toMatchObject({ outcome: "written", phase: "Paused" });
    expect(weightsNow()).toEqual([0, 100]);
    expect(reasons()).toEqual(["CanaryPaused"]);
    expect(statusNow()).toMatchObject({ phase: "Paused", awaitingResume: true, stepIndex: 2 });
    // It stays paused, without more writes or events, however many passes go by.
    for (const minutes of [1, 2, 3])
      expect(await pass(minutes)).toMatchObject({ outcome: "unchanged", phase: "Paused" });
    expect(reasons()).toEqual(["CanaryPaused"]);
  });

  it("resumes from the step the weights stand at on an explicit paused: false", async () => {
    seed({ stable: 90, canary: 10 });
    api.put({ ...vs(), metadata: { ...vs().metadata, annotations: { "greenlight.dev/status": '{"version":9}' } } });
    await pass(0);
    expect(statusNow()).toMatchObject({ phase: "Paused", stepIndex: 0 });
    const annotated = deployment();
    annotated.metadata.annotations = { ...annotated.metadata.annotations, "greenlight.dev/paused": "false" };
    const stored = api.put(annotated) as Deployment;
    api.put({ ...stored, status: { ...stored.status, observedGeneration: stored.metadata.generation } });
    expect(await pass(1)).toMatchObject({ outcome: "written", phase: "Progressing" });
    expect(weightsNow()).toEqual([90, 10]);
    await pass(2.1);
    expect(weightsNow()).toEqual([50, 50]);
  });

  // Found by the simulator (seed 7 of the first campaign): a promote set while the canary was RolledBack, ignored
  // there, promoted it to 100% the moment the status annotation became unreadable.
  it("does not let a control left over from before the status was lost act by itself", async () => {
    seed();
    const annotated = deployment();
    annotated.metadata.annotations = { ...annotated.metadata.annotations, "greenlight.dev/promote": "true" };
    const stored = api.put(annotated) as Deployment;
    api.put({ ...stored, status: { ...rollingOut(3), observedGeneration: stored.metadata.generation } });
    api.put({ ...vs(), metadata: { ...vs().metadata, annotations: { "greenlight.dev/status": "{broken" } } });
    expect(await pass(0)).toMatchObject({ outcome: "written", phase: "Paused" });
    expect(statusNow()?.heldControls).toEqual(["promote"]);
    for (const minutes of [1, 2]) expect(await pass(minutes)).toMatchObject({ phase: "Paused" });
    expect(weightsNow()).toEqual([100, 0]);
  });
});
