// One stepper pass at a time against the fake API server with the real client-node: steps, guards, drift, dry run.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { canaryDeployment, healthyReader, NAMESPACE, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";

const healthy = healthyReader;

const MINUTE = 60_000;
const start = new Date("2026-11-26T10:00:00Z");
const at = (minutes: number) => new Date(start.getTime() + minutes * MINUTE);

let api: FakeApiServer;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "test-run");
});
afterAll(() => api.close());
beforeEach(() => {
  api.reset();
  seedCanary(api);
});

const vs = () =>
  api.get("networking.istio.io/v1", "VirtualService", NAMESPACE, "myapp") as JsonObject & {
    metadata: { annotations?: Record<string, string> };
    spec: { http: { match?: unknown; route: { weight: number }[] }[] };
  };
const weightsNow = () => {
  const weighted = vs().spec.http.find((route) => !route.match);
  return weighted?.route.map((r) => r.weight);
};
const status = () => JSON.parse(vs().metadata.annotations?.["greenlight.dev/status"] ?? "{}");
interface RecordedEvent {
  reason: string;
  note: string;
  eventTime: string;
}
/** The Events greenlight recorded, oldest first. */
const recorded = () =>
  (api.list("events.k8s.io/v1", "Event", NAMESPACE) as unknown as RecordedEvent[]).sort((a, b) =>
    a.eventTime.localeCompare(b.eventTime),
  );
const events = () => recorded().map((e) => e.reason);

describe("runStep against the fake API server", () => {
  it("walks a healthy canary through every step to promotion, one step per interval", async () => {
    const run = (minutes: number) => runStep({ clients, reader: healthy, now: at(minutes) });
    expect((await run(0)).canaries[0]).toMatchObject({ outcome: "written", phase: "Waiting" });
    expect((await run(0.1)).canaries[0]).toMatchObject({ outcome: "written", phase: "Progressing" });
    expect(weightsNow()).toEqual([90, 10]);
    // The header route is kept first, above the weighted route.
    expect(vs().spec.http[0]?.match).toEqual([{ headers: { "x-canary-test": { exact: "true" } } }]);
    expect((await run(0.5)).canaries[0]?.outcome).toBe("unchanged");
    expect(weightsNow()).toEqual([90, 10]);
    await run(1.2);
    expect(weightsNow()).toEqual([50, 50]);
    const last = await run(2.3);
    expect(last.canaries[0]).toMatchObject({ outcome: "written", phase: "Promoted" });
    expect(weightsNow()).toEqual([0, 100]);
    expect(events()).toEqual(["CanaryWaiting", "CanaryStep", "CanaryStep", "CanaryPromoted"]);
    // Later runs leave a promoted canary alone: no write, no event.
    const writesBefore = api.calls.filter((c) => c.verb === "patch").length;
    expect((await run(10)).canaries[0]?.outcome).toBe("unchanged");
    expect(api.calls.filter((c) => c.verb === "patch").length).toBe(writesBefore);
  });

  it("lets exactly one of two overlapping runs step: the other's guarded patch fails and it backs off", async () => {
    await runStep({ clients, reader: healthy, now: at(0) });
    await runStep({ clients, reader: healthy, now: at(0.1) });
    api.setLatency(30);
    const [a, b] = await Promise.all([
      runStep({ clients, reader: healthy, now: at(1.5) }),
      runStep({ clients, reader: healthy, now: at(1.5) }),
    ]);
    api.setLatency(0);
    const outcomes = [a.canaries[0]?.outcome, b.canaries[0]?.outcome].sort();
    expect(outcomes).toEqual(["conflict", "written"]);
    expect(weightsNow()).toEqual([50, 50]);
    expect(events().filter((reason) => reason === "CanaryStep")).toHaveLength(2);
    const rejected = api.calls.filter((c) => c.verb === "patch" && c.status === 422);
    expect(rejected).toHaveLength(1);
  });

  it("pauses with an event naming the difference when the weights were edited by hand", async () => {
    await runStep({ clients, reader: healthy, now: at(0) });
    await runStep({ clients, reader: healthy, now: at(0.1) });
    const edited = vs();
    const weighted = edited.spec.http.find((route) => !route.match);
    if (weighted) weighted.route = weighted.route.map((r, i) => ({ ...r, weight: i === 0 ? 63 : 37 }));
    api.put(edited);
    const report = await runStep({ clients, reader: healthy, now: at(1.5) });
    expect(report.canaries[0]).toMatchObject({ outcome: "written", phase: "Paused" });
    expect(weightsNow()).toEqual([63, 37]);
    const note = recorded().at(-1);
    expect(note?.reason).toBe("CanaryPaused");
    expect(note?.note).toMatch(/37/);
    // Still paused, and still at 37, on the next runs.
    await runStep({ clients, reader: healthy, now: at(3) });
    expect(weightsNow()).toEqual([63, 37]);
    expect(status().phase).toBe("Paused");
  });

  it("falls back to networking.istio.io/v1beta1 when v1 is not served", async () => {
    api.setServed("networking.istio.io/v1", false);
    try {
      const report = await runStep({ clients, reader: healthy, now: at(0) });
      expect(report.canaries[0]).toMatchObject({ outcome: "written", phase: "Waiting" });
      expect(api.calls.some((c) => c.version === "v1beta1" && c.verb === "patch" && c.status === 200)).toBe(true);
    } finally {
      api.setServed("networking.istio.io/v1", true);
    }
  });

  it("with dryRun returns the guarded patch and writes nothing", async () => {
    const report = await runStep({ clients, reader: healthy, now: at(0), dryRun: true });
    const canary = report.canaries[0];
    expect(canary?.outcome).toBe("dry-run");
    expect(canary?.patch?.[0]).toMatchObject({ op: "test", path: "/metadata/resourceVersion" });
    expect(api.calls.filter((c) => c.verb === "patch" || c.verb === "create")).toHaveLength(0);
  });

  it("skips a Deployment without a version label and one whose VirtualService is missing, saying why", async () => {
    api.put(canaryDeployment({ name: "other", annotations: { "greenlight.dev/virtual-service": "absent" } }));
    const report = await runStep({ clients, reader: healthy, now: at(0) });
    const other = report.canaries.find((c) => c.deployment === "other");
    expect(other).toMatchObject({ outcome: "error" });
    expect(other?.problem).toMatch(/absent.*not found/);
    expect(report.canaries.find((c) => c.deployment === "myapp-v2")?.outcome).toBe("written");
  });

  it("starts no canary after its deadline and defers them to the next run", async () => {
    api.put(canaryDeployment({ name: "second", annotations: { "greenlight.dev/virtual-service": "other" } }));
    const report = await runStep({ clients, reader: healthy, now: at(0), deadline: new Date(Date.now() - 1) });
    expect(report.canaries).toEqual([]);
    expect(report.deferred.map((d) => d.deployment).sort()).toEqual(["myapp-v2", "second"]);
    expect(api.calls.filter((c) => c.verb !== "list")).toEqual([]);
  });

  it("answers a failed listing with a run error and touches no canary", async () => {
    api.failNext({ verb: "list", resource: "deployments" }, 500);
    const report = await runStep({ clients, reader: healthy, now: at(0) });
    expect(report.error).toMatch(/^listing Deployments: /);
    expect(report.canaries).toEqual([]);
  });

  it("makes at most one write to the VirtualService per canary per run", async () => {
    for (let minute = 0; minute < 5; minute += 0.6) {
      const before = api.calls.length;
      await runStep({ clients, reader: healthy, now: at(minute) });
      const writes = api.calls.slice(before).filter((c) => c.verb === "patch" && c.resource === "virtualservices");
      expect(writes.length).toBeLessThanOrEqual(1);
    }
  });
});

describe("the Istio canary example in manifests/examples", () => {
  it("is understood by the stepper as it stands: one canary, routes located, header route kept first", async () => {
    const { readFile } = await import("node:fs/promises");
    const { parseAllDocuments } = await import("yaml");
    const text = await readFile(new URL("../../manifests/examples/istio-canary.yaml", import.meta.url), "utf8");
    api.reset();
    for (const document of parseAllDocuments(text)) {
      const object = (Array.isArray(document) ? {} : document.toJS()) as JsonObject & { kind?: string };
      if (object.kind === "Deployment") {
        const replicas = (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
        object.status = {
          observedGeneration: 1,
          replicas,
          updatedReplicas: replicas,
          readyReplicas: replicas,
          availableReplicas: replicas,
          conditions: [{ type: "Available", status: "True" }],
        };
      }
      api.put(object);
    }
    await runStep({ clients, reader: healthy, now: at(0) });
    const report = await runStep({ clients, reader: healthy, now: at(0.1) });
    expect(report.canaries).toHaveLength(1);
    expect(report.canaries[0]).toMatchObject({ deployment: "myapp-v2", outcome: "written", phase: "Progressing" });
    expect(vs().spec.http[0]?.match).toBeDefined();
    expect(weightsNow()).toEqual([90, 10]);
  });
});

describe("the Gateway API canary example in manifests/examples", () => {
  it("is valid for the webhook and understood by the stepper: HTTPRoute located, header rule kept first", async () => {
    const { readFile } = await import("node:fs/promises");
    const { parseAllDocuments } = await import("yaml");
    const { validateAnnotations } = await import("../../functions/contract/validate.ts");
    const text = await readFile(new URL("../../manifests/examples/gateway-api-canary.yaml", import.meta.url), "utf8");
    api.reset();
    const kinds: string[] = [];
    for (const document of parseAllDocuments(text)) {
      const object = (Array.isArray(document) ? {} : document.toJS()) as JsonObject & { kind?: string };
      kinds.push(object.kind ?? "?");
      if (object.kind === "Deployment") {
        const annotations = (object.metadata as { annotations?: Record<string, string> }).annotations;
        expect(validateAnnotations(annotations)).toEqual({ errors: [], warnings: [] });
        const replicas = (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
        object.status = {
          observedGeneration: 1,
          replicas,
          updatedReplicas: replicas,
          readyReplicas: replicas,
          availableReplicas: replicas,
          conditions: [{ type: "Available", status: "True" }],
        };
      }
      api.put(object);
    }
    expect(kinds).toEqual(["Deployment", "Deployment", "Service", "Service", "Gateway", "HTTPRoute"]);
    await runStep({ clients, reader: healthy, now: at(0) });
    const report = await runStep({ clients, reader: healthy, now: at(0.1) });
    expect(report.canaries).toHaveLength(1);
    expect(report.canaries[0]).toMatchObject({
      deployment: "myapp-v2",
      router: "gateway-api",
      virtualService: "myapp",
      outcome: "written",
      phase: "Progressing",
      warnings: [],
    });
    const route = api.get("gateway.networking.k8s.io/v1", "HTTPRoute", NAMESPACE, "myapp") as JsonObject & {
      metadata: { annotations?: Record<string, string> };
      spec: { rules: { matches?: { headers?: unknown[] }[]; backendRefs: { name: string; weight?: number }[] }[] };
    };
    expect(route.spec.rules[0]?.matches?.[0]?.headers).toEqual([
      { type: "Exact", name: "x-canary-test", value: "true" },
    ]);
    expect(route.spec.rules[0]?.backendRefs).toEqual([{ name: "myapp-canary", port: 80 }]);
    expect(route.spec.rules[1]?.backendRefs.map((ref) => [ref.name, ref.weight])).toEqual([
      ["myapp-stable", 90],
      ["myapp-canary", 10],
    ]);
    expect(JSON.parse(route.metadata.annotations?.["greenlight.dev/status"] ?? "{}")).toMatchObject({
      phase: "Progressing",
      weights: { stable: 90, canary: 10 },
    });
    // No Istio object exists or was asked for.
    expect(api.calls.filter((call) => call.group === "networking.istio.io")).toEqual([]);
  });
});
