// manifests/examples/bluegreen.yaml: valid greenlight annotations, and switchable as it stands.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { stepBlueGreen, switchBlueGreen } from "../../functions/bluegreen/switch.ts";
import { validateAnnotations } from "../../functions/contract/validate.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { attachProxy, type FakeProxy } from "../../scripts/fakes/kube/fake-proxy.ts";
import { controllerSleep, putPods, rolledOut, storedService, syncEndpoints } from "./objects.ts";

interface KubeObject extends JsonObject {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
}

let objects: KubeObject[];
let api: FakeApiServer;
let proxy: FakeProxy;
let clients: KubeClients;

beforeAll(async () => {
  const text = await readFile(new URL("../../manifests/examples/bluegreen.yaml", import.meta.url), "utf8");
  const documents = parseAllDocuments(text);
  if (!Array.isArray(documents)) throw new Error("bluegreen.yaml: empty YAML stream");
  for (const document of documents) expect(document.errors).toEqual([]);
  objects = documents.map((document) => document.toJS() as KubeObject);
  api = await startFakeApiServer();
  proxy = attachProxy(api);
  clients = createKubeClients(api.kubeConfig(), "manifest-test");
});
afterAll(() => api.close());

/** The example applied, with the controllers' work done: Deployments rolled out, pods running, Endpoints filled. */
function apply(): void {
  api.reset();
  for (const object of objects) {
    api.put(object.kind === "Deployment" ? { ...object, status: rolledOut(5) } : object);
  }
  putPods(api, "blue", 5);
  putPods(api, "green", 5);
  syncEndpoints(api);
  proxy.route("production", "myapp-green", () => ({ status: 200, body: "ok" }));
}

describe("manifests/examples/bluegreen.yaml", () => {
  it("is the seed's example: two Deployments, their Services, and the main Service selecting blue", () => {
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual([
      "Deployment/myapp-blue",
      "Deployment/myapp-green",
      "Service/myapp-blue",
      "Service/myapp-green",
      "Service/myapp",
    ]);
    const main = objects.at(-1) as KubeObject & { spec: { selector: Record<string, string>; type: string } };
    expect(main.spec).toMatchObject({ selector: { app: "myapp", version: "blue" }, type: "LoadBalancer" });
  });

  it("annotates both Deployments for blue/green with annotations the validator accepts without a warning", () => {
    const deployments = objects.filter((object) => object.kind === "Deployment");
    for (const deployment of deployments) {
      expect(validateAnnotations(deployment.metadata.annotations), deployment.metadata.name).toEqual({
        errors: [],
        warnings: [],
      });
      expect(deployment.metadata.annotations).toMatchObject({
        "greenlight.dev/strategy": "blue-green",
        "greenlight.dev/service": "myapp",
        "greenlight.dev/smoke-path": "/health",
      });
    }
    expect(deployments.map((d) => d.metadata.annotations?.["greenlight.dev/auto-promote"])).toEqual([
      undefined,
      "true",
    ]);
  });

  it("switches as it stands, by hand and by the scheduled pass", async () => {
    apply();
    const { sleep } = controllerSleep(api);
    const dry = await switchBlueGreen(clients, {
      namespace: "production",
      service: "myapp",
      to: "green",
      dryRun: true,
      sleep,
    });
    expect(dry.outcome).toBe("dry-run");
    const green = await clients.apps.readNamespacedDeployment({ namespace: "production", name: "myapp-green" });
    const report = await stepBlueGreen({ clients, now: new Date("2026-11-26T10:00:00Z"), dryRun: false, sleep }, green);
    expect(report).toMatchObject({ outcome: "switched", from: "blue", to: "green" });
    expect(storedService(api).spec.selector).toEqual({ app: "myapp", version: "green" });
    expect(proxy.requests.map((request) => `${request.service}${request.path}`)).toEqual([
      "myapp-green/health",
      "myapp-green/health",
    ]);
  });
});
