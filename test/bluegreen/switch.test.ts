// Blue/green switch and rollback with the real client-node against the fake API server and its service proxy.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { rollbackBlueGreen, switchBlueGreen } from "../../functions/bluegreen/switch.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { attachProxy, type FakeProxy } from "../../scripts/fakes/kube/fake-proxy.ts";
import {
  colorDeployment,
  controllerSleep,
  MAIN,
  mainService,
  NAMESPACE,
  putPods,
  recordedEvents,
  seedBlueGreen,
  statusOf,
  storedService,
  storedSlices,
  syncEndpoints,
  versionService,
  writes,
} from "./objects.ts";

let api: FakeApiServer;
let proxy: FakeProxy;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  proxy = attachProxy(api);
  clients = createKubeClients(api.kubeConfig(), "bluegreen-test");
});
afterAll(() => api.close());
beforeEach(() => {
  api.reset();
  seedBlueGreen(api);
  proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "ok" }));
  proxy.route(NAMESPACE, "myapp-blue", () => ({ status: 200, body: "ok" }));
});

/** A clock that moves one second per reading, so Events and status times are ordered. */
function clock(start = "2026-11-26T10:00:00Z"): () => Date {
  let ms = Date.parse(start);
  return () => {
    ms += 1000;
    return new Date(ms);
  };
}

const serviceWrites = () => writes(api).filter((call) => call.resource === "services");

describe("switchBlueGreen", () => {
  it("switches the selector and records the status in one guarded patch, verifies endpoints, records an Event", async () => {
    const { sleep, waits } = controllerSleep(api);
    const progress: string[] = [];
    const report = await switchBlueGreen(clients, {
      namespace: NAMESPACE,
      service: MAIN,
      to: "green",
      sleep,
      now: clock(),
      onProgress: (line) => progress.push(line),
    });
    expect(report).toMatchObject({
      outcome: "switched",
      from: "blue",
      to: "green",
      deployment: "myapp-green",
      phase: "Switched",
    });
    expect(report.message).toBe("switched production/myapp from blue to green: 3 ready endpoints, all version green");
    expect(storedService(api).spec.selector).toEqual({ app: "myapp", version: "green" });
    expect(statusOf(api)).toMatchObject({
      strategy: "blue-green",
      phase: "Switched",
      previous: "blue",
      current: "green",
      switchedAt: expect.stringMatching(/^2026-11-26T10:00:\d\d\.000Z$/),
      message: expect.stringContaining("smoke check myapp-green:80/health answered HTTP 200 on attempt 1"),
    });
    // One write to the Service, carrying the guard, the selector and the status together.
    const [patch, ...more] = serviceWrites();
    expect(more).toHaveLength(0);
    expect(patch?.contentType).toBe("application/json-patch+json");
    expect(patch?.body).toEqual([
      { op: "test", path: "/spec/selector/version", value: "blue" },
      { op: "replace", path: "/spec/selector/version", value: "green" },
      { op: "add", path: "/metadata/annotations", value: { "greenlight.dev/status": expect.any(String) } },
    ]);
    // The smoke check went through the API server's service proxy to a green pod.
    expect(proxy.requests).toHaveLength(1);
    expect(proxy.requests[0]).toMatchObject({ service: "myapp-green", path: "/health", pod: "myapp-green-0" });
    // On the wire: the Service and port as client-node encodes them, the path as the API server joins it.
    expect(api.calls.filter((call) => call.subresource === "proxy").map((call) => call.path)).toEqual([
      "/api/v1/namespaces/production/services/myapp-green%3A80/proxy/health",
    ]);
    expect(recordedEvents(api).map((event) => [event.reason, event.regarding.name])).toEqual([
      ["BlueGreenSwitched", "myapp-green"],
    ]);
    expect(report.events).toEqual([
      expect.objectContaining({ reason: "BlueGreenSwitched", deployment: "myapp-green", type: "Normal" }),
    ]);
    // The first endpoint check comes after a short settle; the controller had run by then.
    expect(waits).toEqual([500]);
    expect(progress.join("\n")).toMatch(/smoke 1\/5: GET production\/myapp-green:80\/health -> HTTP 200/);
  });

  it("retries the smoke check with exponential backoff and switches on the first 2xx", async () => {
    let calls = 0;
    proxy.route(NAMESPACE, "myapp-green", () => (++calls < 3 ? { status: 503, body: "warming up" } : { status: 204 }));
    const { sleep, waits } = controllerSleep(api);
    const report = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep });
    expect(report.outcome).toBe("switched");
    expect(report.smoke?.map((attempt) => attempt.detail)).toEqual([
      "HTTP 503: warming up",
      "HTTP 503: warming up",
      "HTTP 204",
    ]);
    expect(waits.slice(0, 2)).toEqual([1000, 2000]);
  });

  it("does not switch when the smoke check fails after every retry: the Service is untouched, an Event says why", async () => {
    proxy.route(NAMESPACE, "myapp-green", () => ({ status: 500, body: "database unreachable" }));
    const before = storedService(api).metadata.resourceVersion;
    const { sleep, waits } = controllerSleep(api);
    const report = await switchBlueGreen(clients, {
      namespace: NAMESPACE,
      service: MAIN,
      to: "green",
      sleep,
      now: clock(),
    });
    expect(report.outcome).toBe("failed");
    expect(report.message).toBe(
      "smoke check of version green failed 5 times (GET myapp-green:80/health, last: HTTP 500: database unreachable); Service production/myapp still selects version blue",
    );
    expect(waits).toEqual([1000, 2000, 4000, 8000]);
    expect(proxy.requests).toHaveLength(5);
    expect(storedService(api).metadata.resourceVersion).toBe(before);
    expect(storedService(api).spec.selector.version).toBe("blue");
    expect(serviceWrites()).toHaveLength(0);
    expect(recordedEvents(api).map((event) => [event.reason, event.regarding.name])).toEqual([
      ["BlueGreenSmokeFailed", "myapp-green"],
    ]);
  });

  it("counts the API server's own refusals (no endpoints, unreachable pods) as failed smoke checks", async () => {
    proxy.unroute(NAMESPACE, "myapp-green");
    const { sleep } = controllerSleep(api);
    const refused = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep });
    expect(refused.outcome).toBe("failed");
    expect(refused.smoke?.[0]?.detail).toMatch(
      /^HTTP 503: error trying to reach service: dial tcp 10\.2\.0\.10:8080: connect: connection refused$/,
    );
    api.put({ apiVersion: "v1", kind: "Endpoints", metadata: { name: "myapp-green", namespace: NAMESPACE } });
    const none = await switchBlueGreen(clients, {
      namespace: NAMESPACE,
      service: MAIN,
      to: "green",
      sleep: async () => {},
    });
    expect(none.smoke?.[0]?.detail).toBe('HTTP 503: no endpoints available for service "myapp-green"');
    expect(storedService(api).spec.selector.version).toBe("blue");
  });

  it("verifies across every EndpointSlice of the Service, a pod listed in two of them counted once", async () => {
    // Slices of 2 endpoints, and a third slice repeating one green pod, as while the controller moves it.
    const sleep = async () => {
      syncEndpoints(api, { maxEndpointsPerSlice: 2 });
      const [first] = storedSlices(api);
      if (first)
        api.put({ ...first, metadata: { name: "myapp-moving", namespace: NAMESPACE, labels: first.metadata.labels } });
    };
    const report = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep });
    expect(storedSlices(api).map((slice) => [slice.metadata.name, slice.endpoints.length])).toEqual([
      ["myapp-0", 2],
      ["myapp-1", 1],
      ["myapp-moving", 2],
    ]);
    expect(report.outcome).toBe("switched");
    expect(report.message).toBe("switched production/myapp from blue to green: 3 ready endpoints, all version green");
    const lists = api.calls.filter((call) => call.verb === "list" && call.resource === "endpointslices");
    expect(lists[0]).toMatchObject({
      group: "discovery.k8s.io",
      namespace: NAMESPACE,
      query: { labelSelector: "kubernetes.io/service-name=myapp" },
    });
  });

  it("switches back when the endpoints do not follow the switch, and reports it as a failure", async () => {
    // The endpoint controllers are broken: nothing updates the main Service's EndpointSlices after the switch.
    const { sleep, waits } = controllerSleep(api, false);
    const report = await switchBlueGreen(clients, {
      namespace: NAMESPACE,
      service: MAIN,
      to: "green",
      sleep,
      now: clock(),
    });
    expect(report.outcome).toBe("switched-back");
    expect(report.phase).toBe("SwitchedBack");
    expect(report.message).toMatch(
      /^production\/myapp: Service myapp switched back from green to blue: its endpoints did not follow the switch to green \(3 of 3 endpoints are not pods of version green: myapp-blue-0 \(version blue\), /,
    );
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000]);
    expect(report.verification).toHaveLength(5);
    expect(storedService(api).spec.selector.version).toBe("blue");
    expect(statusOf(api)).toMatchObject({ phase: "SwitchedBack", previous: "green", current: "blue" });
    const [first, second] = serviceWrites();
    expect(serviceWrites()).toHaveLength(2);
    // The switch back is guarded by the version this run set.
    expect((second?.body as unknown[] | undefined)?.[0]).toEqual({
      op: "test",
      path: "/spec/selector/version",
      value: "green",
    });
    expect(first?.status).toBe(200);
    expect(recordedEvents(api).map((event) => event.reason)).toEqual(["BlueGreenSwitched", "BlueGreenSwitchedBack"]);
  });

  it("switches back when the endpoints still mix versions, and not when someone else changed the selector meanwhile", async () => {
    // Half-broken controllers: green pods join, a second slice keeps the blue pods.
    const [blue] = storedSlices(api);
    const mixed = async () => {
      syncEndpoints(api);
      api.put({ ...blue, metadata: { name: "myapp-stale", namespace: NAMESPACE, labels: blue?.metadata.labels } });
    };
    const report = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep: mixed });
    expect(report.outcome).toBe("switched-back");
    expect(report.verification?.at(-1)).toMatch(/^3 of 6 endpoints are not pods of version green/);

    // Now a human switches to green by hand while the verification runs: the switch back must not undo it.
    api.reset();
    seedBlueGreen(api);
    proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "ok" }));
    api.put(colorDeployment("red", { annotations: {} }));
    putPods(api, "red");
    let waited = 0;
    const humanMeanwhile = async () => {
      if (++waited === 2) {
        const service = storedService(api);
        api.put({ ...service, spec: { ...service.spec, selector: { app: "myapp", version: "red" } } });
      }
    };
    const raced = await switchBlueGreen(clients, {
      namespace: NAMESPACE,
      service: MAIN,
      to: "green",
      sleep: humanMeanwhile,
    });
    expect(raced.outcome).toBe("failed");
    expect(raced.message).toMatch(/could not switch it back to blue: someone changed its selector meanwhile/);
    expect(storedService(api).spec.selector.version).toBe("red");
  });

  it("lets exactly one of two concurrent switches win; the other reports the lost race and records no Event", async () => {
    api.setLatency(25);
    const { sleep } = controllerSleep(api);
    const run = () => switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep });
    const [a, b] = await Promise.all([run(), run()]);
    api.setLatency(0);
    const outcomes = [a.outcome, b.outcome].sort();
    expect(outcomes).toEqual(["lost-race", "switched"]);
    const loser = a.outcome === "lost-race" ? a : b;
    expect(loser.message).toMatch(
      /^another writer changed Service production\/myapp first \(its selector no longer has version: blue\); this run wrote nothing: .*testing value \/spec\/selector\/version failed/,
    );
    expect(loser.events).toEqual([]);
    const patches = api.calls.filter((call) => call.verb === "patch" && call.resource === "services");
    expect(patches.map((call) => call.status).sort()).toEqual([200, 422]);
    expect(recordedEvents(api).map((event) => event.reason)).toEqual(["BlueGreenSwitched"]);
    expect(storedService(api).spec.selector.version).toBe("green");
  });

  it("reads the Service back when the answer to its switch is lost, so a write that happened is still verified", async () => {
    api.failNext({ resource: "services", verb: "patch" }, "reset", undefined, { afterApply: true });
    const { sleep } = controllerSleep(api);
    const lost = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep });
    expect(lost).toMatchObject({ outcome: "switched", phase: "Switched" });
    expect(serviceWrites()).toHaveLength(1);

    // A dropped connection before the write: nothing happened, and the report says so.
    api.reset();
    seedBlueGreen(api);
    proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "ok" }));
    api.failNext({ resource: "services", verb: "patch" }, "reset");
    const dropped = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep });
    expect(dropped.outcome).toBe("failed");
    expect(dropped.message).toMatch(/^patching Service production\/myapp: .*(socket hang up|ECONNRESET)/);
    expect(storedService(api).spec.selector.version).toBe("blue");
    expect(recordedEvents(api)).toHaveLength(0);
  });

  it("does not switch to a Deployment that is not fully rolled out, and names the counts that are short", async () => {
    api.put(
      colorDeployment("green", { status: { updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1, replicas: 3 } }),
    );
    const before = storedService(api).metadata.resourceVersion;
    const report = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green" });
    expect(report.outcome).toBe("waiting");
    expect(report.message).toBe(
      "production/myapp-green (version green) is not ready: not fully rolled out: 2 of 3 updated, 1 of 3 ready, 1 of 3 available, 1 old replica still running; Service production/myapp still selects version blue",
    );
    expect(proxy.requests).toHaveLength(0);
    expect(storedService(api).metadata.resourceVersion).toBe(before);
    expect(writes(api)).toHaveLength(0);
  });

  it("does not switch to a rollout that exceeded its progress deadline", async () => {
    api.put(
      colorDeployment("green", {
        status: {
          updatedReplicas: 1,
          conditions: [
            {
              type: "Progressing",
              status: "False",
              reason: "ProgressDeadlineExceeded",
              message: 'ReplicaSet "myapp-green-7d9f" has timed out progressing.',
            },
          ],
        },
      }),
    );
    const report = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green" });
    expect(report.outcome).toBe("failed");
    expect(report.message).toContain(
      'the rollout exceeded its progress deadline (ProgressDeadlineExceeded: ReplicaSet "myapp-green-7d9f" has timed out progressing.)',
    );
    expect(writes(api)).toHaveLength(0);
    expect(proxy.requests).toHaveLength(0);
  });

  it("does nothing when the Service already serves the version", async () => {
    const report = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "blue" });
    expect(report).toMatchObject({
      outcome: "unchanged",
      message: "production/myapp already serves version blue: nothing to switch",
    });
    expect(writes(api)).toHaveLength(0);
  });

  it("--dry-run checks everything and returns the patch, writing nothing and recording no Event", async () => {
    const before = api.resourceVersion();
    const report = await switchBlueGreen(clients, {
      namespace: NAMESPACE,
      service: MAIN,
      to: "green",
      dryRun: true,
      sleep: async () => {},
    });
    expect(report.outcome).toBe("dry-run");
    expect(report.message).toBe("would switch production/myapp from blue to green");
    expect(report.patch?.[0]).toEqual({ op: "test", path: "/spec/selector/version", value: "blue" });
    expect(proxy.requests).toHaveLength(1);
    expect(writes(api)).toHaveLength(0);
    expect(api.resourceVersion()).toBe(before);
    expect(recordedEvents(api)).toHaveLength(0);
  });

  it("names what is missing: the Deployment, the per-version Service, the version label of the main Service", async () => {
    const nothing = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "purple" });
    expect(nothing).toMatchObject({ outcome: "failed" });
    expect(nothing.message).toBe(
      "no Deployment in production is annotated greenlight.dev/service: myapp with pod template label version: purple (found: myapp-blue (version blue), myapp-green (version green))",
    );

    api.remove("v1", "Service", NAMESPACE, "myapp-green");
    const noSmokeService = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green" });
    expect(noSmokeService.message).toMatch(
      /^no Service besides myapp selects version green of production\/myapp-green: the smoke check goes through a per-version Service/,
    );

    api.put(versionService("green"));
    api.put({ ...versionService("green"), metadata: { name: "myapp-green-2", namespace: NAMESPACE } });
    const several = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green" });
    expect(several.message).toMatch(
      /^several Services select version green of production\/myapp-green \(myapp-green, myapp-green-2\)/,
    );

    api.put({ ...mainService("blue"), spec: { selector: { app: "myapp" }, ports: [{ port: 80 }] } });
    const noVersion = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green" });
    expect(noVersion.message).toBe(
      "Service production/myapp has no version in spec.selector: greenlight switches that label; add version: <the version it serves> to its selector",
    );

    const missing = await switchBlueGreen(clients, { namespace: NAMESPACE, service: "shop", to: "green" });
    expect(missing.message).toBe("Service production/shop not found");
    expect(writes(api)).toHaveLength(0);
  });

  it("refuses a switch whose selector would select none of the new pods", async () => {
    const green = colorDeployment("green") as { spec: { template: { metadata: { labels: Record<string, string> } } } };
    const labels = { "app.kubernetes.io/name": "myapp", version: "green" };
    green.spec.template.metadata.labels = labels;
    (green.spec as unknown as { selector: unknown }).selector = { matchLabels: labels };
    api.remove("apps/v1", "Deployment", NAMESPACE, "myapp-green");
    api.put(green);
    const report = await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green" });
    expect(report.outcome).toBe("failed");
    expect(report.message).toBe(
      "with version=green the selector of Service myapp (app=myapp,version=green) would not select its pods (pod template lacks app=myapp); Service production/myapp still selects version blue",
    );
  });
});

describe("rollbackBlueGreen", () => {
  it("goes back to the recorded previous version, guarded by the selector and the status it read", async () => {
    const { sleep } = controllerSleep(api);
    const now = clock();
    expect(
      (await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep, now })).outcome,
    ).toBe("switched");
    const statusText = storedService(api).metadata.annotations?.["greenlight.dev/status"];
    const report = await rollbackBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, sleep, now });
    expect(report).toMatchObject({ outcome: "rolled-back", from: "green", to: "blue", phase: "RolledBack" });
    expect(report.message).toBe("rolled production/myapp back from green to blue: 3 ready endpoints, all version blue");
    expect(storedService(api).spec.selector.version).toBe("blue");
    expect(statusOf(api)).toMatchObject({ phase: "RolledBack", previous: "green", current: "blue" });
    const rollback = serviceWrites().at(-1);
    expect((rollback?.body as unknown[] | undefined)?.slice(0, 2)).toEqual([
      { op: "test", path: "/spec/selector/version", value: "green" },
      { op: "test", path: "/metadata/annotations/greenlight.dev~1status", value: statusText },
    ]);
    expect(proxy.requests).toHaveLength(1); // the switch's smoke check only: no smoke check on the way back
    expect(recordedEvents(api).map((event) => [event.reason, event.regarding.name])).toEqual([
      ["BlueGreenSwitched", "myapp-green"],
      ["BlueGreenRolledBack", "myapp-green"],
    ]);

    // A second rollback has nothing to undo.
    const again = await rollbackBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, sleep });
    expect(again.outcome).toBe("failed");
    expect(again.message).toMatch(/^nothing to roll back on production\/myapp: its last change \(RolledBack at /);
  });

  it("says clearly that there is no previous version when greenlight never switched the Service", async () => {
    const before = storedService(api).metadata.resourceVersion;
    const report = await rollbackBlueGreen(clients, { namespace: NAMESPACE, service: MAIN });
    expect(report.outcome).toBe("failed");
    expect(report.message).toBe(
      "no previous version recorded for production/myapp: it has no greenlight.dev/status annotation (greenlight has not switched it); switch explicitly with greenlight bluegreen switch myapp --to VERSION",
    );
    expect(storedService(api).metadata.resourceVersion).toBe(before);
  });

  it("refuses when the selector was changed by hand after the recorded switch, or the status is corrupt", async () => {
    const { sleep } = controllerSleep(api);
    await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep });
    const service = storedService(api);
    api.put({ ...service, spec: { ...service.spec, selector: { app: "myapp", version: "blue" } } });
    const hand = await rollbackBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, sleep });
    expect(hand.message).toMatch(/^production\/myapp selects version blue, but greenlight.dev\/status records green/);

    api.put(mainService("green", { "greenlight.dev/status": "{not json" }));
    const corrupt = await rollbackBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, sleep });
    expect(corrupt.message).toBe("cannot roll back production/myapp: greenlight.dev/status is not JSON");
  });

  it("dry-run returns the rollback patch and writes nothing", async () => {
    const { sleep } = controllerSleep(api);
    await switchBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, to: "green", sleep });
    const before = api.resourceVersion();
    const eventsBefore = recordedEvents(api).length;
    const report = await rollbackBlueGreen(clients, { namespace: NAMESPACE, service: MAIN, dryRun: true });
    expect(report).toMatchObject({
      outcome: "dry-run",
      message: "would roll production/myapp back from green to blue",
    });
    expect(report.patch?.[2]).toEqual({ op: "replace", path: "/spec/selector/version", value: "blue" });
    expect(api.resourceVersion()).toBe(before);
    expect(recordedEvents(api)).toHaveLength(eventsBefore);
  });
});
