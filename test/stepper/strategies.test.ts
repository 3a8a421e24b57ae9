// One scheduled pass handles all three strategies: a canary stepped, a blue/green Service switched, a rolling update
// rolled back, from one list of Deployments, against the fake API server through the real client-node.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { runStep } from "../../functions/stepper/run.ts";
import {
  gatewayCanaryDeployment,
  healthyReader,
  httpRoute,
  NAMESPACE,
  seedCanary,
} from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { attachProxy, type FakeProxy } from "../../scripts/fakes/kube/fake-proxy.ts";
import { seedBlueGreen, storedService, syncEndpoints } from "../bluegreen/objects.ts";
import { seedRollout } from "../rolling/objects.ts";

let api: FakeApiServer;
let proxy: FakeProxy;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  proxy = attachProxy(api);
  clients = createKubeClients(api.kubeConfig(), "strategies");
});
afterAll(() => api.close());

beforeEach(() => {
  api.reset();
  seedCanary(api);
  seedBlueGreen(api, { green: { annotations: { "greenlight.dev/auto-promote": "true" } } });
  proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "ok" }));
  proxy.route(NAMESPACE, "myapp-blue", () => ({ status: 200, body: "ok" }));
  seedRollout(api, { condition: "deadline", counts: { updated: 1, ready: 3, available: 3, total: 4 } });
});

/** The cluster's endpoint controllers, which the fake does not run: keep the Services' EndpointSlices current. */
function endpointsController(): () => void {
  const timer = setInterval(() => syncEndpoints(api), 20);
  return () => clearInterval(timer);
}

describe("runStep", () => {
  it("steps the canary, switches the blue/green Service and undoes the failed rolling update in one pass", async () => {
    const stop = endpointsController();
    try {
      const report = await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE] });
      expect(report.error).toBeUndefined();
      expect(report.canaries.map(({ deployment, outcome }) => ({ deployment, outcome }))).toEqual([
        { deployment: "myapp-v2", outcome: "written" },
      ]);
      expect(report.blueGreen.map(({ deployment, outcome, to }) => ({ deployment, outcome, to }))).toEqual([
        { deployment: "myapp-blue", outcome: "unchanged", to: "blue" },
        { deployment: "myapp-green", outcome: "switched", to: "green" },
      ]);
      expect(report.rolling.map(({ deployment, outcome }) => ({ deployment, outcome }))).toEqual([
        { deployment: "myapp", outcome: "rolled-back" },
      ]);
      expect(storedService(api).spec.selector.version).toBe("green");
      // One list of Deployments serves the three strategies, the promotion included.
      const lists = api.calls.filter((call) => call.verb === "list" && call.resource === "deployments");
      expect(lists).toHaveLength(1);
    } finally {
      stop();
    }
  });

  it("makes only calls the stepper's ClusterRole allows (manifests/stepper/clusterrole.yaml)", async () => {
    const role = parse(readFileSync(new URL("../../manifests/stepper/clusterrole.yaml", import.meta.url), "utf8")) as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    // A second canary on the Gateway API router (its own app and HTTPRoute), so its calls are checked too.
    const shop = gatewayCanaryDeployment({
      name: "shop-v2",
      annotations: {
        "greenlight.dev/app": "shop",
        "greenlight.dev/route": "shop",
        "greenlight.dev/canary-service": "myapp-canary",
      },
    });
    api.put(shop);
    api.put({ ...httpRoute(), metadata: { name: "shop", namespace: NAMESPACE } });
    const stop = endpointsController();
    try {
      const report = await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE] });
      expect(report.canaries.map(({ deployment, outcome }) => ({ deployment, outcome }))).toEqual([
        { deployment: "myapp-v2", outcome: "written" },
        { deployment: "shop-v2", outcome: "written" },
      ]);
    } finally {
      stop();
    }
    const made = new Set(
      api.calls
        .filter((call) => call.resource !== undefined)
        .map((call) => {
          const resource = call.subresource ? `${call.resource}/${call.subresource}` : call.resource;
          return `${call.verb} ${call.group ?? ""}/${resource}`;
        }),
    );
    const allowed = (entry: string) => {
      const [verb = "", target = ""] = entry.split(" ");
      const [group, resource] = [target.slice(0, target.indexOf("/")), target.slice(target.indexOf("/") + 1)];
      return role.rules.some(
        (rule) => rule.apiGroups.includes(group) && rule.resources.includes(resource) && rule.verbs.includes(verb),
      );
    };
    expect([...made].filter((entry) => !allowed(entry))).toEqual([]);
    // The pass did exercise the new rules: the proxy, Services, EndpointSlices, ReplicaSets and a Deployment patch.
    expect([...made]).toEqual(
      expect.arrayContaining([
        "get /services/proxy",
        "patch /services",
        "list discovery.k8s.io/endpointslices",
        "list apps/replicasets",
        "patch apps/deployments",
        "list gateway.networking.k8s.io/httproutes",
        "patch gateway.networking.k8s.io/httproutes",
      ]),
    );
  });

  it("defers what the deadline leaves no time for, whatever its strategy", async () => {
    const report = await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE], deadline: new Date(0) });
    expect(report.canaries).toEqual([]);
    expect(report.blueGreen).toEqual([]);
    expect(report.rolling).toEqual([]);
    expect(report.deferred.map(({ deployment }) => deployment).sort()).toEqual([
      "myapp",
      "myapp-blue",
      "myapp-green",
      "myapp-v2",
    ]);
  });
});
