// Drives the fake Kubernetes API server with the real @kubernetes/client-node 1.4, checking what the wire looks like.
/*
 * client-node 1.4 error shapes, each asserted below:
 * - HTTP error: `ApiException` with `.code` (the status), `.body` (the response text, a string: JSON.parse it for the
 *   Status), `.headers`, and a `.message` starting "HTTP-Code: <code>". For 401 only, `.body` is undefined.
 * - Connection refused / dropped: node-fetch `FetchError` with `.code` "ECONNREFUSED" / "ECONNRESET", `.type` "system".
 * - A signal set by a middleware (`ctx.setSignal(AbortSignal.timeout(ms))`) aborting: `AbortError`, `.type` "aborted".
 *   Without one, client-node waits forever on a hung server.
 * Wire facts: typed and custom-object patches default to `application/json-patch+json`; a merge patch needs
 * `setHeaderOptions("Content-Type", PatchStrategy.MergePatch)`; creates/replaces send `application/json`.
 */
import {
  AbortError,
  ApiException,
  ApisApi,
  AppsV1Api,
  type ConfigurationOptions,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  EventsV1Api,
  type EventsV1Event,
  FetchError,
  KubernetesObjectApi,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  V1MicroTime,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type FakeApiServer,
  type JsonObject,
  type KubeStatus,
  startFakeApiServer,
} from "../../scripts/fakes/kube/fake-apiserver.ts";

let fake: FakeApiServer;
let apps: AppsV1Api;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let events: EventsV1Api;

beforeAll(async () => {
  fake = await startFakeApiServer();
  const kc = fake.kubeConfig();
  apps = kc.makeApiClient(AppsV1Api);
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  events = kc.makeApiClient(EventsV1Api);
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.reset();
});

const ns = "default";
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const strategicPatch = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

function deployment(name: string, labels: Record<string, string> = {}, namespace = ns): V1Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace,
      labels: { app: name, ...labels },
      annotations: { "greenlight.dev/strategy": "canary" },
    },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: "app", image: `registry.example.com/${name}:1.0.0`, ports: [{ containerPort: 80 }] }],
        },
      },
    },
  };
}

function virtualService(name: string, stable: number, canary: number, apiVersion = "networking.istio.io/v1") {
  return {
    apiVersion,
    kind: "VirtualService",
    metadata: { name, namespace: ns, annotations: { "greenlight.dev/status": '{"step":0}' } },
    spec: {
      hosts: [name],
      http: [
        {
          route: [
            { destination: { host: name, subset: "stable" }, weight: stable },
            { destination: { host: name, subset: "canary" }, weight: canary },
          ],
        },
      ],
    },
  };
}

/** The ApiException a call rejects with, and its body parsed as a Status. */
async function rejection(call: Promise<unknown>): Promise<{ error: ApiException<unknown>; status: KubeStatus }> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    expect(typeof error.body).toBe("string");
    return { error, status: JSON.parse(error.body as string) as KubeStatus };
  }
  throw new Error("expected the call to be rejected");
}

async function caught(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to be rejected");
}

function lastCall() {
  const call = fake.calls.at(-1);
  if (!call) throw new Error("no call recorded");
  return call;
}

function annotationsOf(obj: JsonObject | undefined): Record<string, string> {
  return ((obj?.metadata as JsonObject | undefined)?.annotations ?? {}) as Record<string, string>;
}

function metadataOf(obj: JsonObject | undefined): JsonObject {
  return (obj?.metadata ?? {}) as JsonObject;
}

describe("core verbs through AppsV1Api and CoreV1Api", () => {
  it("creates and reads a Deployment with server-set fields and defaults", async () => {
    const created = await apps.createNamespacedDeployment({ namespace: ns, body: deployment("web") });
    expect(lastCall()).toMatchObject({
      method: "POST",
      path: "/apis/apps/v1/namespaces/default/deployments",
      contentType: "application/json",
      status: 201,
      verb: "create",
      resource: "deployments",
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.metadata?.generation).toBe(1);
    expect(created.metadata?.resourceVersion).toBe("1");
    expect(created.spec?.replicas).toBe(1);
    expect(created.spec?.strategy?.rollingUpdate?.maxSurge).toBe("25%");
    expect(created.spec?.template.spec?.containers[0]?.imagePullPolicy).toBe("IfNotPresent");
    expect(created.status).toEqual({});

    const read = await apps.readNamespacedDeployment({ name: "web", namespace: ns });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);
    expect(read.kind).toBe("Deployment");
    expect(lastCall()).toMatchObject({ method: "GET", verb: "get", name: "web", namespace: ns, status: 200 });
  });

  it("lists with label and field selectors, namespaced and cluster-wide", async () => {
    fake.put(deployment("a", { tier: "web", track: "stable" }));
    fake.put(deployment("b", { tier: "api", track: "canary", canary: "true" }));
    fake.put(deployment("c", { tier: "db" }, "other"));
    fake.put(deployment("d", { tier: "web" }, "other"));
    const names = (list: { items: V1Deployment[] }) => list.items.map((d) => d.metadata?.name);

    expect(names(await apps.listNamespacedDeployment({ namespace: ns }))).toEqual(["a", "b"]);
    expect(names(await apps.listDeploymentForAllNamespaces({ labelSelector: "tier in (web,api)" }))).toEqual([
      "a",
      "b",
      "d",
    ]);
    expect(lastCall()).toMatchObject({
      path: "/apis/apps/v1/deployments",
      query: { labelSelector: "tier in (web,api)" },
    });
    expect(names(await apps.listDeploymentForAllNamespaces({ labelSelector: "!canary,tier!=db" }))).toEqual(["a", "d"]);
    expect(names(await apps.listDeploymentForAllNamespaces({ labelSelector: "tier notin (web), canary" }))).toEqual([
      "b",
    ]);
    expect(names(await apps.listDeploymentForAllNamespaces({ labelSelector: "track=stable" }))).toEqual(["a"]);
    expect(names(await apps.listDeploymentForAllNamespaces({ fieldSelector: "metadata.namespace=other" }))).toEqual([
      "c",
      "d",
    ]);
    expect(names(await apps.listNamespacedDeployment({ namespace: ns, fieldSelector: "metadata.name!=a" }))).toEqual([
      "b",
    ]);

    const list = await apps.listDeploymentForAllNamespaces({});
    expect(list.kind).toBe("DeploymentList");
    expect(list.apiVersion).toBe("apps/v1");
    expect(list.metadata?.resourceVersion).toBe(fake.resourceVersion());
    // Like a real server, items of a built-in list carry no apiVersion/kind.
    expect(list.items[0]?.kind).toBeUndefined();

    const bad = await rejection(apps.listDeploymentForAllNamespaces({ labelSelector: "tier in web" }));
    expect(bad.error.code).toBe(400);
    const badField = await rejection(apps.listDeploymentForAllNamespaces({ fieldSelector: "spec.replicas=1" }));
    expect(badField.status.message).toBe("field label not supported: spec.replicas");
  });

  it("pages a list with limit and continue", async () => {
    for (const name of ["a", "b", "c"]) fake.put(deployment(name));
    const first = await apps.listNamespacedDeployment({ namespace: ns, limit: 2 });
    expect(first.items.map((d) => d.metadata?.name)).toEqual(["a", "b"]);
    expect(first.metadata?.remainingItemCount).toBe(1);
    const second = await apps.listNamespacedDeployment({
      namespace: ns,
      limit: 2,
      _continue: first.metadata?._continue,
    });
    expect(second.items.map((d) => d.metadata?.name)).toEqual(["c"]);
    expect(second.metadata?._continue).toBeUndefined();
  });

  it("answers 404 and 409 as ApiException with .code and a string .body holding the Status", async () => {
    const missing = await rejection(apps.readNamespacedDeployment({ name: "nope", namespace: ns }));
    expect(missing.error.code).toBe(404);
    expect(missing.error.message).toMatch(/^HTTP-Code: 404/);
    expect(missing.status).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'deployments.apps "nope" not found',
      reason: "NotFound",
      details: { name: "nope", group: "apps", kind: "deployments" },
      code: 404,
    });
    const missingPod = await rejection(core.readNamespacedPod({ name: "p", namespace: ns }));
    expect(missingPod.status.message).toBe('pods "p" not found');
    expect(missingPod.status.details).toEqual({ name: "p", kind: "pods" });

    await apps.createNamespacedDeployment({ namespace: ns, body: deployment("web") });
    const duplicate = await rejection(apps.createNamespacedDeployment({ namespace: ns, body: deployment("web") }));
    expect(duplicate.error.code).toBe(409);
    expect(duplicate.status).toMatchObject({
      reason: "AlreadyExists",
      message: 'deployments.apps "web" already exists',
    });
  });

  it("replaces with optimistic concurrency: 409 Conflict on a stale resourceVersion", async () => {
    const created = await apps.createNamespacedDeployment({ namespace: ns, body: deployment("web") });
    const stale = { ...created, metadata: { ...created.metadata, resourceVersion: created.metadata?.resourceVersion } };
    const replaced = await apps.replaceNamespacedDeployment({
      name: "web",
      namespace: ns,
      body: { ...created, spec: { ...created.spec, replicas: 3 } } as V1Deployment,
    });
    expect(replaced.spec?.replicas).toBe(3);
    expect(replaced.metadata?.generation).toBe(2);
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));

    const conflict = await rejection(apps.replaceNamespacedDeployment({ name: "web", namespace: ns, body: stale }));
    expect(conflict.error.code).toBe(409);
    expect(conflict.status).toMatchObject({
      reason: "Conflict",
      message:
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again',
    });
    expect(fake.get("apps/v1", "Deployment", ns, "web")?.spec).toMatchObject({ replicas: 3 });
  });

  it("bumps one global resourceVersion on every write that changes something, and not on a no-op", async () => {
    const a = await apps.createNamespacedDeployment({ namespace: ns, body: deployment("a") });
    const b = await apps.createNamespacedDeployment({ namespace: ns, body: deployment("b") });
    expect([a.metadata?.resourceVersion, b.metadata?.resourceVersion]).toEqual(["1", "2"]);
    const body = { metadata: { labels: { track: "canary" } } };
    const patched = await apps.patchNamespacedDeployment({ name: "a", namespace: ns, body }, mergePatch);
    expect(patched.metadata?.resourceVersion).toBe("3");
    expect(patched.metadata?.generation).toBe(1); // labels are not spec or annotations
    const again = await apps.patchNamespacedDeployment({ name: "a", namespace: ns, body }, mergePatch);
    expect(again.metadata?.resourceVersion).toBe("3");
    expect(fake.resourceVersion()).toBe("3");
  });

  it("deletes with a Success Status, honours preconditions, and answers 404 afterwards", async () => {
    const created = await apps.createNamespacedDeployment({ namespace: ns, body: deployment("web") });
    const stale = await rejection(
      apps.deleteNamespacedDeployment({
        name: "web",
        namespace: ns,
        body: { preconditions: { resourceVersion: "999" } },
      }),
    );
    expect(stale.error.code).toBe(409);
    const status = await apps.deleteNamespacedDeployment({ name: "web", namespace: ns });
    expect(status).toMatchObject({ status: "Success", details: { name: "web", kind: "deployments" } });
    expect(status.details?.uid).toBe(created.metadata?.uid);
    expect((await rejection(apps.readNamespacedDeployment({ name: "web", namespace: ns }))).error.code).toBe(404);
  });

  it("serves core Services with defaults and an immutable clusterIP", async () => {
    const service = await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: "web" }, spec: { selector: { app: "web", version: "blue" }, ports: [{ port: 80 }] } },
    });
    expect(service.spec?.clusterIP).toMatch(/^10\.96\./);
    expect(service.spec?.ports?.[0]).toMatchObject({ protocol: "TCP", targetPort: 80 });
    const switched = await core.patchNamespacedService({
      name: "web",
      namespace: ns,
      body: [
        { op: "test", path: "/spec/selector/version", value: "blue" },
        { op: "replace", path: "/spec/selector/version", value: "green" },
      ],
    });
    expect(switched.spec?.selector).toEqual({ app: "web", version: "green" });
    const moved = await rejection(
      core.patchNamespacedService(
        { name: "web", namespace: ns, body: { spec: { clusterIP: "10.0.0.1" } } },
        mergePatch,
      ),
    );
    expect(moved.status.message).toContain("spec.clusterIP: Invalid value");
  });
});

describe("patches", () => {
  it("applies a JSON Patch whose test ops pass, escaping / in annotation keys as ~1", async () => {
    const created = await apps.createNamespacedDeployment({ namespace: ns, body: deployment("web") });
    const patched = await apps.patchNamespacedDeployment({
      name: "web",
      namespace: ns,
      body: [
        { op: "test", path: "/metadata/annotations/greenlight.dev~1strategy", value: "canary" },
        { op: "test", path: "/metadata/resourceVersion", value: created.metadata?.resourceVersion },
        { op: "add", path: "/metadata/annotations/greenlight.dev~1status", value: '{"phase":"Progressing"}' },
      ],
    });
    expect(lastCall()).toMatchObject({ method: "PATCH", contentType: "application/json-patch+json", status: 200 });
    expect(patched.metadata?.annotations?.["greenlight.dev/status"]).toBe('{"phase":"Progressing"}');
    // A Deployment's generation follows annotation changes too (kube-apiserver copies them to ReplicaSets).
    expect(patched.metadata?.generation).toBe(2);
    expect(patched.metadata?.resourceVersion).toBe("2");
  });

  it("refuses a JSON Patch whose test op fails with 422 Invalid and writes nothing", async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment("web") });
    const before = fake.get("apps/v1", "Deployment", ns, "web");
    const { error, status } = await rejection(
      apps.patchNamespacedDeployment({
        name: "web",
        namespace: ns,
        body: [
          { op: "test", path: "/metadata/annotations/greenlight.dev~1strategy", value: "blue-green" },
          { op: "add", path: "/metadata/annotations/greenlight.dev~1status", value: "x" },
        ],
      }),
    );
    expect(error.code).toBe(422);
    expect(status).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "the server rejected our request due to an error in our request",
      reason: "Invalid",
      details: {
        causes: [
          {
            reason: "UnexpectedServerResponse",
            message: "testing value /metadata/annotations/greenlight.dev~1strategy failed: test failed",
          },
        ],
      },
      code: 422,
    });
    expect(fake.get("apps/v1", "Deployment", ns, "web")).toEqual(before);
    expect(fake.resourceVersion()).toBe("1");

    const missingParent = await rejection(
      apps.patchNamespacedDeployment({
        name: "web",
        namespace: ns,
        body: [{ op: "replace", path: "/metadata/labels/nope/x", value: "y" }],
      }),
    );
    expect(missingParent.error.code).toBe(422);
  });

  it("lets exactly one of two concurrent guarded patches win", async () => {
    fake.put(virtualService("web", 90, 10));
    const guarded = (weight: number) =>
      custom.patchNamespacedCustomObject({
        group: "networking.istio.io",
        version: "v1",
        namespace: ns,
        plural: "virtualservices",
        name: "web",
        body: [
          { op: "test", path: "/metadata/annotations/greenlight.dev~1status", value: '{"step":0}' },
          { op: "replace", path: "/metadata/annotations/greenlight.dev~1status", value: '{"step":1}' },
          { op: "replace", path: "/spec/http/0/route/1/weight", value: weight },
          { op: "replace", path: "/spec/http/0/route/0/weight", value: 100 - weight },
        ],
      });
    const results = await Promise.allSettled([guarded(20), guarded(20)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const loser = results.find((r) => r.status === "rejected");
    expect(loser?.status === "rejected" && (loser.reason as ApiException<unknown>).code).toBe(422);
    expect(
      fake.calls
        .filter((c) => c.verb === "patch")
        .map((c) => c.status)
        .sort(),
    ).toEqual([200, 422]);
  });

  it("sends a merge patch with setHeaderOptions('Content-Type', PatchStrategy.MergePatch)", async () => {
    fake.put(deployment("web", { track: "canary" }));
    const patched = await apps.patchNamespacedDeployment(
      { name: "web", namespace: ns, body: { metadata: { labels: { track: null, version: "v2" } } } },
      mergePatch,
    );
    expect(lastCall()).toMatchObject({
      contentType: "application/merge-patch+json",
      contentTypes: ["application/merge-patch+json"],
    });
    expect(patched.metadata?.labels).toEqual({ app: "web", version: "v2" });
  });

  it("ignores a lower-case content-type header option: the body goes out as a JSON Patch", async () => {
    fake.put(deployment("web"));
    const { error } = await rejection(
      apps.patchNamespacedDeployment(
        { name: "web", namespace: ns, body: { metadata: { labels: { version: "v2" } } } },
        setHeaderOptions("content-type", PatchStrategy.MergePatch),
      ),
    );
    expect(lastCall().contentTypes).toEqual(["application/json-patch+json", "application/merge-patch+json"]);
    expect(lastCall().contentType).toBe("application/json-patch+json");
    expect(error.code).toBe(400);
  });

  it("treats a strategic merge patch as a merge patch for built-ins and refuses it for custom resources", async () => {
    fake.put(deployment("web"));
    const patched = await apps.patchNamespacedDeployment(
      { name: "web", namespace: ns, body: { spec: { replicas: 4 } } },
      strategicPatch,
    );
    expect(lastCall().contentType).toBe("application/strategic-merge-patch+json");
    expect(patched.spec?.replicas).toBe(4);
    const directive = await rejection(
      apps.patchNamespacedDeployment(
        { name: "web", namespace: ns, body: { spec: { template: { $patch: "replace" } } } },
        strategicPatch,
      ),
    );
    expect(directive.error.code).toBe(400);

    fake.put(virtualService("web", 100, 0));
    const refused = await rejection(
      custom.patchNamespacedCustomObject(
        {
          group: "networking.istio.io",
          version: "v1",
          namespace: ns,
          plural: "virtualservices",
          name: "web",
          body: { spec: { hosts: ["x"] } },
        },
        strategicPatch,
      ),
    );
    expect(refused.error.code).toBe(415);
    expect(refused.status.reason).toBe("UnsupportedMediaType");
  });

  it("writes status only through the /status subresource", async () => {
    fake.put(deployment("web"));
    const ready = await apps.patchNamespacedDeploymentStatus(
      {
        name: "web",
        namespace: ns,
        body: { status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1 } },
      },
      mergePatch,
    );
    expect(lastCall()).toMatchObject({
      path: "/apis/apps/v1/namespaces/default/deployments/web/status",
      verb: "patch",
    });
    expect(ready.status?.readyReplicas).toBe(1);
    expect(ready.metadata?.generation).toBe(1);
    const ignored = await apps.patchNamespacedDeployment(
      { name: "web", namespace: ns, body: { status: { readyReplicas: 0 }, metadata: { labels: { x: "y" } } } },
      mergePatch,
    );
    expect(ignored.status?.readyReplicas).toBe(1);
    expect(ignored.metadata?.labels?.x).toBe("y");
  });
});

describe("validation with kubernetes-models and the API server's rules", () => {
  it("answers 422 Invalid with causes for missing fields and rule violations", async () => {
    const invalid = deployment("web");
    delete invalid.spec?.template.metadata;
    const mismatch = await rejection(apps.createNamespacedDeployment({ namespace: ns, body: invalid }));
    expect(mismatch.error.code).toBe(422);
    expect(mismatch.status.message).toContain('Deployment.apps "web" is invalid: ');
    expect(mismatch.status.message).toContain("`selector` does not match template `labels`");

    const noImage = deployment("web");
    noImage.spec!.template.spec!.containers = [{ name: "app" }];
    const image = await rejection(apps.createNamespacedDeployment({ namespace: ns, body: noImage }));
    expect(image.status.details?.causes).toContainEqual({
      reason: "FieldValueRequired",
      message: "Required value",
      field: "spec.template.spec.containers[0].image",
    });

    const badLabel = await rejection(
      apps.createNamespacedDeployment({ namespace: ns, body: deployment("web", { version: "1.0+build" }) }),
    );
    expect(badLabel.status.message).toContain('metadata.labels: Invalid value: "1.0+build"');

    const badName = await rejection(apps.createNamespacedDeployment({ namespace: ns, body: deployment("Web_1") }));
    expect(badName.status.message).toContain("a lowercase RFC 1123 subdomain");

    const missingSelector = await rejection(
      custom.createNamespacedCustomObject({
        group: "apps",
        version: "v1",
        namespace: ns,
        plural: "deployments",
        body: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { template: {} } },
      }),
    );
    expect(missingSelector.status.details?.causes).toContainEqual({
      reason: "FieldValueRequired",
      message: "Required value",
      field: "spec.selector",
    });
    expect(fake.list("apps/v1", "Deployment")).toEqual([]);
  });

  it("answers 400 for a wrong JSON type, as the real decoder does", async () => {
    const wrong = await rejection(
      custom.createNamespacedCustomObject({
        group: "apps",
        version: "v1",
        namespace: ns,
        plural: "deployments",
        body: { ...deployment("web"), spec: { ...deployment("web").spec, replicas: "two" } },
      }),
    );
    expect(wrong.error.code).toBe(400);
    expect(wrong.status.message).toContain("cannot be handled as a Deployment");
  });

  it("validates patched objects too and keeps the old one", async () => {
    fake.put(deployment("web"));
    const { error, status } = await rejection(
      apps.patchNamespacedDeployment(
        { name: "web", namespace: ns, body: { spec: { selector: { matchLabels: { app: "other" } } } } },
        mergePatch,
      ),
    );
    expect(error.code).toBe(422);
    expect(status.message).toContain("spec.selector");
    expect(fake.get("apps/v1", "Deployment", ns, "web")?.spec).toMatchObject({
      selector: { matchLabels: { app: "web" } },
    });
  });
});

describe("Istio custom resources through CustomObjectsApi", () => {
  const vsPath = { group: "networking.istio.io", namespace: ns, plural: "virtualservices" };

  it("serves the same VirtualService under v1 and v1beta1", async () => {
    const created = (await custom.createNamespacedCustomObject({
      ...vsPath,
      version: "v1",
      body: virtualService("web", 100, 0),
    })) as JsonObject;
    expect(created.apiVersion).toBe("networking.istio.io/v1");
    expect(metadataOf(created).generation).toBe(1);
    expect(created.status).toBeUndefined();

    const beta = (await custom.getNamespacedCustomObject({ ...vsPath, version: "v1beta1", name: "web" })) as JsonObject;
    expect(beta.apiVersion).toBe("networking.istio.io/v1beta1");
    expect(metadataOf(beta).uid).toBe(metadataOf(created).uid);

    const patched = (await custom.patchNamespacedCustomObject({
      ...vsPath,
      version: "v1beta1",
      name: "web",
      body: [
        { op: "test", path: "/spec/http/0/route/1/weight", value: 0 },
        { op: "replace", path: "/spec/http/0/route/1/weight", value: 10 },
        { op: "replace", path: "/spec/http/0/route/0/weight", value: 90 },
      ],
    })) as JsonObject;
    expect(lastCall().contentType).toBe("application/json-patch+json");
    expect(metadataOf(patched).generation).toBe(2);
    const v1 = fake.get("networking.istio.io/v1", "VirtualService", ns, "web");
    expect(v1?.spec).toEqual(virtualService("web", 90, 10).spec);

    const annotated = (await custom.patchNamespacedCustomObject(
      { ...vsPath, version: "v1", name: "web", body: { metadata: { annotations: { "greenlight.dev/status": "{}" } } } },
      mergePatch,
    )) as JsonObject;
    expect(metadataOf(annotated).generation).toBe(2); // custom resources: annotations do not bump generation

    const list = (await custom.listClusterCustomObject({
      group: "networking.istio.io",
      version: "v1",
      plural: "virtualservices",
    })) as { kind: string; items: JsonObject[] };
    expect(list.kind).toBe("VirtualServiceList");
    expect(list.items.map((item) => item.apiVersion)).toEqual(["networking.istio.io/v1"]);
  });

  it("can stop serving v1 so a fallback to v1beta1 can be tested", async () => {
    fake.put(virtualService("web", 100, 0));
    fake.setServed("networking.istio.io/v1", false);
    const unserved = await rejection(custom.getNamespacedCustomObject({ ...vsPath, version: "v1", name: "web" }));
    expect(unserved.error.code).toBe(404);
    expect(unserved.status).toMatchObject({
      reason: "NotFound",
      message: "the server could not find the requested resource",
      details: {},
    });
    const missing = await rejection(custom.getNamespacedCustomObject({ ...vsPath, version: "v1beta1", name: "nope" }));
    expect(missing.status).toMatchObject({
      message: 'virtualservices.networking.istio.io "nope" not found',
      details: { name: "nope", group: "networking.istio.io", kind: "virtualservices" },
    });
    const beta = (await custom.getNamespacedCustomObject({ ...vsPath, version: "v1beta1", name: "web" })) as JsonObject;
    expect(annotationsOf(beta)["greenlight.dev/status"]).toBe('{"step":0}');

    const groups = await fake.kubeConfig().makeApiClient(ApisApi).getAPIVersions();
    const istio = groups.groups.find((group) => group.name === "networking.istio.io");
    expect(istio?.versions.map((v) => v.version)).toEqual(["v1beta1", "v1alpha3"]);
    expect(istio?.preferredVersion?.version).toBe("v1beta1");

    const started = await startFakeApiServer({ unservedVersions: ["networking.istio.io/v1"] });
    try {
      const client = started.kubeConfig().makeApiClient(CustomObjectsApi);
      const refused = await rejection(client.listClusterCustomObject({ ...vsPath, version: "v1" }));
      expect(refused.error.code).toBe(404);
    } finally {
      await started.close();
    }
  });

  it("requires a resourceVersion to replace a custom object, and integer weights", async () => {
    fake.put(virtualService("web", 100, 0));
    const noVersion = await rejection(
      custom.replaceNamespacedCustomObject({
        ...vsPath,
        version: "v1",
        name: "web",
        body: virtualService("web", 50, 50),
      }),
    );
    expect(noVersion.error.code).toBe(422);
    expect(noVersion.status.message).toContain("metadata.resourceVersion");

    const fractional = await rejection(
      custom.patchNamespacedCustomObject({
        ...vsPath,
        version: "v1",
        name: "web",
        body: [{ op: "replace", path: "/spec/http/0/route/0/weight", value: 99.5 }],
      }),
    );
    expect(fractional.error.code).toBe(422);
    expect(fractional.status.message).toContain("spec.http[0].route[0].weight in body must be of type integer");
  });
});

describe("events", () => {
  const event = (name: string, eventTime: Date): EventsV1Event => ({
    metadata: { name, namespace: ns },
    eventTime,
    type: "Normal",
    reason: "CanaryStep",
    action: "Step",
    note: "weight 10",
    reportingController: "greenlight.dev/stepper",
    reportingInstance: "stepper-1",
    regarding: { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: ns },
  });

  it("creates events.k8s.io/v1 Events (eventTime as V1MicroTime) that core v1 lists with its own field names", async () => {
    const created = await events.createNamespacedEvent({
      namespace: ns,
      body: event("web.step1", new V1MicroTime("2024-05-01T10:00:00.123Z")),
    });
    expect(lastCall()).toMatchObject({
      path: "/apis/events.k8s.io/v1/namespaces/default/events",
      status: 201,
      body: expect.objectContaining({ eventTime: "2024-05-01T10:00:00.123000Z" }),
    });
    expect(created.regarding?.name).toBe("web");

    const coreList = await core.listNamespacedEvent({ namespace: ns, fieldSelector: "involvedObject.name=web" });
    expect(coreList.items).toHaveLength(1);
    expect(coreList.items[0]?.message).toBe("weight 10");
    expect(coreList.items[0]?.reportingComponent).toBe("greenlight.dev/stepper");
    const v1List = await events.listNamespacedEvent({ namespace: ns, fieldSelector: "regarding.kind=Deployment" });
    expect(v1List.items.map((e) => e.note)).toEqual(["weight 10"]);
  });

  it("refuses a plain Date eventTime (three fractional digits) with 400, like the real server", async () => {
    const { error } = await rejection(
      events.createNamespacedEvent({ namespace: ns, body: event("web.step2", new Date("2024-05-01T10:00:00Z")) }),
    );
    expect(lastCall().body).toMatchObject({ eventTime: "2024-05-01T10:00:00.000Z" });
    expect(error.code).toBe(400);
  });

  it("requires the events.k8s.io/v1 fields", async () => {
    const body = event("web.step3", new V1MicroTime());
    delete body.reportingController;
    delete body.action;
    const { status } = await rejection(events.createNamespacedEvent({ namespace: ns, body }));
    expect(status.code).toBe(422);
    expect(status.details?.causes?.map((c) => c.field)).toEqual(["reportingController", "action"]);
  });

  it("names events from generateName", async () => {
    const body = event("", new V1MicroTime());
    body.metadata = { generateName: "web.", namespace: ns };
    const created = await events.createNamespacedEvent({ namespace: ns, body });
    expect(created.metadata?.name).toMatch(/^web\.[a-z0-9]{5}$/);
  });
});

describe("failures, latency and the call record", () => {
  it("injects a status for the next matching call only", async () => {
    fake.put(virtualService("web", 100, 0));
    fake.failNext({ verb: "patch", resource: "virtualservices" }, 409);
    const body = [{ op: "replace", path: "/spec/http/0/route/1/weight", value: 5 }];
    const patch = () =>
      custom.patchNamespacedCustomObject({
        group: "networking.istio.io",
        version: "v1",
        namespace: ns,
        plural: "virtualservices",
        name: "web",
        body,
      });
    const conflict = await rejection(patch());
    expect(conflict.error.code).toBe(409);
    expect(conflict.status.reason).toBe("Conflict");
    expect(lastCall()).toMatchObject({ status: 409, injected: true });
    expect(fake.get("networking.istio.io/v1", "VirtualService", ns, "web")?.spec).toEqual(
      virtualService("web", 100, 0).spec,
    );
    await patch();

    fake.failNext({ method: "GET", path: /\/deployments$/ }, 500, undefined, { times: 2 });
    expect((await rejection(apps.listDeploymentForAllNamespaces({}))).status.reason).toBe("InternalError");
    expect((await rejection(apps.listDeploymentForAllNamespaces({}))).error.code).toBe(500);
    await apps.listDeploymentForAllNamespaces({});

    fake.failNext((call) => call.verb === "get", 503, { kind: "Status", code: 503, message: "custom" });
    expect((await rejection(apps.readNamespacedDeployment({ name: "x", namespace: ns }))).status.message).toBe(
      "custom",
    );
  });

  it("can fail a write after applying it (a lost response)", async () => {
    fake.put(deployment("web"));
    fake.failNext({ verb: "patch" }, 504, undefined, { afterApply: true });
    const lost = await rejection(
      apps.patchNamespacedDeployment({ name: "web", namespace: ns, body: { spec: { replicas: 2 } } }, mergePatch),
    );
    expect(lost.status.reason).toBe("Timeout");
    expect(fake.get("apps/v1", "Deployment", ns, "web")?.spec).toMatchObject({ replicas: 2 });
  });

  it("hangs a call for a timeout (client-node needs a signal to give up) and drops one for a reset", async () => {
    fake.put(deployment("web"));
    const withTimeout = (ms: number): ConfigurationOptions => ({
      middleware: [
        {
          pre: (ctx) => {
            ctx.setSignal(AbortSignal.timeout(ms));
            return new Observable(Promise.resolve(ctx));
          },
          post: (response) => new Observable(Promise.resolve(response)),
        },
      ],
      middlewareMergeStrategy: "append",
    });
    fake.failNext({ verb: "get" }, "timeout");
    const aborted = await caught(apps.readNamespacedDeployment({ name: "web", namespace: ns }, withTimeout(100)));
    expect(aborted).toBeInstanceOf(AbortError);
    expect(aborted).toMatchObject({ name: "AbortError", type: "aborted" });
    expect(lastCall()).toMatchObject({ status: 0, injected: true });

    fake.failNext({ verb: "get" }, "timeout", undefined, { hangMs: 20 });
    const dropped = await caught(apps.readNamespacedDeployment({ name: "web", namespace: ns }));
    expect(dropped).toBeInstanceOf(FetchError);
    expect(dropped).toMatchObject({ code: "ECONNRESET" });

    fake.failNext({ verb: "get" }, "reset");
    expect(await caught(apps.readNamespacedDeployment({ name: "web", namespace: ns }))).toMatchObject({
      name: "FetchError",
      code: "ECONNRESET",
    });
    expect((await apps.readNamespacedDeployment({ name: "web", namespace: ns })).metadata?.name).toBe("web");
  });

  it("adds latency to every call", async () => {
    const slow = await startFakeApiServer({ latencyMs: 20 });
    try {
      const client = slow.kubeConfig().makeApiClient(AppsV1Api);
      const started = performance.now();
      for (let i = 0; i < 3; i++) await client.listDeploymentForAllNamespaces({});
      expect(performance.now() - started).toBeGreaterThanOrEqual(60);
      const parallel = performance.now();
      await Promise.all(Array.from({ length: 10 }, () => client.listDeploymentForAllNamespaces({})));
      // Ten calls in parallel overlap: far less than ten times the latency.
      expect(performance.now() - parallel).toBeLessThan(200);
      expect(slow.calls).toHaveLength(13);
    } finally {
      await slow.close();
    }
  });

  it("rejects a wrong token with 401, and a closed server with FetchError ECONNREFUSED", async () => {
    const kc = fake.kubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: fake.url, skipTLSVerify: true }],
      users: [{ name: "u", token: "wrong" }],
      contexts: [{ name: "c", cluster: "fake", user: "u", namespace: ns }],
      currentContext: "c",
    });
    // The generated code special-cases 401: the ApiException carries no body at all.
    const unauthorized = await caught(kc.makeApiClient(CoreV1Api).listNamespace({}));
    expect(unauthorized).toBeInstanceOf(ApiException);
    expect(unauthorized).toMatchObject({ code: 401, body: undefined });
    expect((unauthorized as Error).message).toMatch(/^HTTP-Code: 401\nMessage: Unauthorized/);
    expect(lastCall().status).toBe(401);

    const gone = await startFakeApiServer();
    const client = gone.kubeConfig().makeApiClient(CoreV1Api);
    await gone.close();
    const error = await caught(client.listNamespace({}));
    expect(error).toBeInstanceOf(FetchError);
    expect(error).toMatchObject({ code: "ECONNREFUSED", type: "system" });
  });

  it("records method, path, query, content type and status for every call", async () => {
    fake.put(deployment("web"));
    await apps.listNamespacedDeployment({ namespace: ns, labelSelector: "app=web" });
    await apps.patchNamespacedDeployment({
      name: "web",
      namespace: ns,
      body: [{ op: "add", path: "/spec/paused", value: true }],
    });
    await rejection(apps.readNamespacedDeployment({ name: "nope", namespace: ns }));
    expect(
      fake.calls.map(({ method, path, query, contentType, status, verb }) => ({
        method,
        path,
        query,
        contentType,
        status,
        verb,
      })),
    ).toEqual([
      {
        method: "GET",
        path: "/apis/apps/v1/namespaces/default/deployments",
        query: { labelSelector: "app=web" },
        contentType: undefined,
        status: 200,
        verb: "list",
      },
      {
        method: "PATCH",
        path: "/apis/apps/v1/namespaces/default/deployments/web",
        query: {},
        contentType: "application/json-patch+json",
        status: 200,
        verb: "patch",
      },
      {
        method: "GET",
        path: "/apis/apps/v1/namespaces/default/deployments/nope",
        query: {},
        contentType: undefined,
        status: 404,
        verb: "get",
      },
    ]);
  });
});

describe("namespaces, discovery and dry run", () => {
  it("refuses creates in a missing namespace when asked to, and deleting a namespace empties it", async () => {
    const strict = await startFakeApiServer({ requireNamespace: true });
    try {
      const kc = strict.kubeConfig();
      const client = kc.makeApiClient(AppsV1Api);
      const refused = await rejection(
        client.createNamespacedDeployment({ namespace: "prod", body: deployment("web", {}, "prod") }),
      );
      expect(refused.status).toMatchObject({ code: 404, message: 'namespaces "prod" not found' });
      const namespace = await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: "prod" } } });
      expect(namespace.metadata?.labels).toEqual({ "kubernetes.io/metadata.name": "prod" });
      expect(namespace.status?.phase).toBe("Active");
      await client.createNamespacedDeployment({ namespace: "prod", body: deployment("web", {}, "prod") });
      await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: "prod" });
      expect(strict.list("apps/v1", "Deployment")).toEqual([]);
    } finally {
      await strict.close();
    }
  });

  it("serves discovery, so KubernetesObjectApi works", async () => {
    fake.put(deployment("web"));
    const objects = KubernetesObjectApi.makeApiClient(fake.kubeConfig());
    const read = await objects.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
    });
    expect(read.metadata?.name).toBe("web");
    const groups = await fake.kubeConfig().makeApiClient(CoreV1Api).getAPIResources();
    expect(groups.resources.map((r) => r.name)).toContain("pods/status");
  });

  it("serves discovery.k8s.io/v1 EndpointSlices, listed by their Service's label and validated", async () => {
    const discovery = fake.kubeConfig().makeApiClient(DiscoveryV1Api);
    const slice = (name: string, service: string, address: string) => ({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name, namespace: ns, labels: { "kubernetes.io/service-name": service } },
      addressType: "IPv4",
      endpoints: [
        { addresses: [address], conditions: { ready: true }, targetRef: { kind: "Pod", name: `${name}-pod` } },
      ],
      ports: [{ port: 8080, protocol: "TCP" }],
    });
    fake.put(slice("web-a", "web", "10.0.0.1"));
    fake.put(slice("web-b", "web", "10.0.0.2"));
    fake.put(slice("api-a", "api", "10.0.0.3"));
    const list = await discovery.listNamespacedEndpointSlice({
      namespace: ns,
      labelSelector: "kubernetes.io/service-name=web",
    });
    expect(lastCall()).toMatchObject({
      path: `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      status: 200,
    });
    expect(list.items.map((item) => [item.metadata?.name, item.endpoints[0]?.targetRef?.name])).toEqual([
      ["web-a", "web-a-pod"],
      ["web-b", "web-b-pod"],
    ]);
    const invalid = await rejection(
      discovery.createNamespacedEndpointSlice({ namespace: ns, body: slice("web-c", "web", "10.0.0") }),
    );
    expect(invalid.status).toMatchObject({ code: 422, reason: "Invalid" });
    expect(JSON.stringify(invalid.status)).toContain("must be a valid IPv4 address");
  });

  it("validates but stores nothing on dryRun=All", async () => {
    const dry = await apps.createNamespacedDeployment({ namespace: ns, body: deployment("web"), dryRun: "All" });
    expect(dry.metadata?.uid).toBeDefined();
    expect(fake.get("apps/v1", "Deployment", ns, "web")).toBeUndefined();
  });

  it("answers watch with 405, server-side apply with 415, and the other verbs like the real server", async () => {
    fake.put(deployment("a", { track: "canary" }));
    fake.put(deployment("b"));
    const watch = await rejection(apps.listNamespacedDeployment({ namespace: ns, watch: true }));
    expect(watch.error.code).toBe(405);
    const apply = await rejection(
      apps.patchNamespacedDeployment(
        { name: "a", namespace: ns, body: { spec: { replicas: 2 } }, fieldManager: "test" },
        setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
      ),
    );
    expect(apply.error.code).toBe(415);

    const removed = await apps.deleteCollectionNamespacedDeployment({ namespace: ns, labelSelector: "track=canary" });
    expect(removed).toBeDefined();
    expect(fake.list("apps/v1", "Deployment").map((d) => metadataOf(d).name)).toEqual(["b"]);

    // Endpoints allow create-on-update; Deployments do not.
    const endpoints = await core.replaceNamespacedEndpoints({
      name: "web",
      namespace: ns,
      body: { metadata: { name: "web" }, subsets: [{ addresses: [{ ip: "10.0.0.7" }], ports: [{ port: 80 }] }] },
    });
    expect(lastCall().status).toBe(201);
    expect(endpoints.metadata?.resourceVersion).toBeDefined();
    const absent = await rejection(
      apps.replaceNamespacedDeployment({ name: "zz", namespace: ns, body: deployment("zz") }),
    );
    expect(absent.error.code).toBe(404);

    // Pods come back from DELETE as the object, Deployments as a Status.
    await core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox" }] } },
    });
    const pod = await core.deleteNamespacedPod({ name: "p", namespace: ns });
    expect(pod.kind).toBe("Pod");
    expect(pod.spec?.containers[0]?.imagePullPolicy).toBe("Always");

    const dryPatch = await apps.patchNamespacedDeployment(
      { name: "b", namespace: ns, body: { spec: { replicas: 9 } }, dryRun: "All" },
      mergePatch,
    );
    expect(dryPatch.spec?.replicas).toBe(9);
    expect(fake.get("apps/v1", "Deployment", ns, "b")?.spec).toMatchObject({ replicas: 1 });
  });
});
