// The simulator through the real client-node: for a subset of timelines every pass goes over HTTP to the tests' fake
// API server, which holds a copy of the simulated world for the pass; what the stepper wrote is copied back. Canary
// and rolling timelines: see below.

import fc from "fast-check";
import type { Operation } from "fast-json-patch";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createKubeClients } from "../../functions/kube/clients.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { scenarioArbitrary } from "../../scripts/sim/arbitrary.ts";
import { type Kind, NO_FAULTS, type SimCluster } from "../../scripts/sim/cluster.ts";
import { describeTimeline } from "../../scripts/sim/describe.ts";
import { runTimeline } from "../../scripts/sim/timeline.ts";
import { NAMESPACE } from "../../scripts/sim/world.ts";

const KINDS: { kind: Kind; apiVersion: string }[] = [
  { kind: "Deployment", apiVersion: "apps/v1" },
  { kind: "Service", apiVersion: "v1" },
  { kind: "DestinationRule", apiVersion: "networking.istio.io/v1" },
  { kind: "VirtualService", apiVersion: "networking.istio.io/v1" },
];
const WRITTEN: Record<string, Kind> = {
  deployments: "Deployment",
  services: "Service",
  virtualservices: "VirtualService",
};

let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

/** The world into the API server, as it stands: objects with their generation and status. */
async function copyIn(cluster: SimCluster): Promise<void> {
  api.reset();
  for (const { kind, apiVersion } of KINDS) {
    for (const object of cluster.list<JsonObject>(kind, NAMESPACE)) {
      const { resourceVersion: _rv, ...metadata } = object.metadata as Record<string, unknown>;
      api.put({ ...structuredClone(object), apiVersion, kind, metadata });
    }
  }
  // What the rolling guard reads besides the Deployment: the controller's ReplicaSets and the kubelet's Pods.
  for (const replicaSet of cluster.replicaSets(NAMESPACE)) {
    api.put({ ...JSON.parse(JSON.stringify(replicaSet)), apiVersion: "apps/v1", kind: "ReplicaSet" });
  }
  for (const pod of cluster.pods(NAMESPACE)) {
    api.put({ ...JSON.parse(JSON.stringify(pod)), apiVersion: "v1", kind: "Pod" });
  }
}

/** What the stepper changed, back into the world; its successful writes into the world's write log. */
async function copyOut(cluster: SimCluster): Promise<void> {
  for (const call of api.calls) {
    const kind = call.resource ? WRITTEN[call.resource] : undefined;
    if (call.verb !== "patch" || call.status !== 200 || !kind || !call.name) continue;
    cluster.writes.push({
      kind,
      namespace: call.namespace ?? NAMESPACE,
      name: call.name,
      by: "http",
      patch: call.body as Operation[],
      atMs: Date.now(),
    });
    const { apiVersion } = KINDS.find((entry) => entry.kind === kind) ?? { apiVersion: "v1" };
    const stored = api.get(apiVersion, kind, call.namespace, call.name);
    if (stored) cluster.put(kind, stored);
  }
  for (const event of api.list("events.k8s.io/v1", "Event", NAMESPACE) as { reason?: string; note?: string }[]) {
    cluster.events.push({
      namespace: NAMESPACE,
      reason: event.reason ?? "",
      note: event.note ?? "",
      regarding: "",
      atMs: 0,
    });
  }
}

it("keeps every invariant on 16 timelines stepped through client-node over HTTP", async () => {
  let shown = "";
  const rolling = new Map<string, number>();
  await fc
    .assert(
      fc.asyncProperty(scenarioArbitrary, async (drawn) => {
        // The canary's and the rolling guard's adapters over HTTP; blue/green's smoke check needs the service proxy to
        // reach pods by IP through Endpoints, which the simulated pods do not have, so it runs in-process only.
        const scenario = {
          ...drawn,
          faults: NO_FAULTS,
          minutes: Math.min(drawn.minutes, 25),
          blueGreen: false,
          actions: drawn.actions.filter(({ action }) => action.kind !== "blue-green-release"),
        };
        const result = await runTimeline(scenario, {
          clientsFor: (_cluster, instance) => createKubeClients(api.kubeConfig(), instance),
          beforePass: copyIn,
          afterPass: copyOut,
          stopAtViolation: true,
        });
        if (result.violations.length > 0) shown = describeTimeline(result);
        expect(result.violations).toEqual([]);
        // The passes really went over HTTP: the canary was read and reported on every pass while it existed.
        expect(result.passes.some((pass) => pass.canary?.outcome === "written")).toBe(true);
        for (const pass of result.passes)
          if (pass.rolling) rolling.set(pass.rolling.outcome, (rolling.get(pass.rolling.outcome) ?? 0) + 1);
      }),
      { numRuns: 16, seed: 20261207 },
    )
    .catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n\nshrunk timeline:\n${shown}`);
    });
  // The rolling guard read its ReplicaSets and Pods over HTTP and wrote its status there, never failing to.
  expect(rolling.get("written") ?? 0).toBeGreaterThan(0);
  expect(rolling.get("error") ?? 0).toBe(0);
}, 180_000);
