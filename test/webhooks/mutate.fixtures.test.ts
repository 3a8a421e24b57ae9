// The mutating webhook end to end: real-shaped AdmissionReviews POSTed through the express app.
import request from "supertest";
import { describe, expect, it } from "vitest";
import type { AdmissionReviewResponse } from "../../webhooks/admission/review.ts";
import { createWebhookApp } from "../../webhooks/http/express.ts";
import {
  loadReview,
  REVIEW_FIXTURES,
  type ReviewFixture,
  type ReviewFixtureName,
  reviewFilesOnDisk,
} from "../fixtures/load.ts";
import { applyOps, at, LABEL_VALUE, patchOf, validateDeployment } from "./support.ts";

const app = createWebhookApp();
type MutatePath = "/mutate" | "/mutate/namespace";

async function post(review: unknown, path: MutatePath = "/mutate", target = app): Promise<AdmissionReviewResponse> {
  const res = await request(target).post(path).set("content-type", "application/json").send(JSON.stringify(review));
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  return res.body as AdmissionReviewResponse;
}

function expectEcho(body: AdmissionReviewResponse, review: ReviewFixture): void {
  expect(body.apiVersion).toBe("admission.k8s.io/v1");
  expect(body.kind).toBe("AdmissionReview");
  expect(body.response.uid).toBe(review.request.uid);
}

const liveness = (path: string, port: number | string) => ({
  httpGet: { path, port },
  initialDelaySeconds: 60,
  periodSeconds: 30,
  failureThreshold: 3,
});
const readiness = (path: string, port: number | string) => ({
  httpGet: { path, port },
  initialDelaySeconds: 30,
  periodSeconds: 10,
  failureThreshold: 3,
});

/** Per container: the probe greenlight adds, "kept" for a probe the input already had, "none" for no probe. */
type ProbeExpectation = ReturnType<typeof liveness> | "kept" | "none";

interface Injected {
  fixture: ReviewFixtureName;
  path: MutatePath;
  labels: Record<string, string>;
  templateLabels: Record<string, string>;
  marker: string;
  probes: Record<string, { liveness: ProbeExpectation; readiness: ProbeExpectation }>;
  warnings: string[];
}

const INJECTED: Injected[] = [
  {
    fixture: "create",
    path: "/mutate",
    labels: { team: "payments", app: "checkout", version: "1.4.2" },
    templateLabels: { app: "checkout", version: "1.4.2" },
    marker: "app=checkout,version=1.4.2",
    probes: { checkout: { liveness: liveness("/health", 8080), readiness: readiness("/ready", 8080) } },
    warnings: [],
  },
  {
    fixture: "update-image-bump",
    path: "/mutate",
    labels: { app: "orders", team: "fulfilment", version: "v2" },
    templateLabels: { app: "orders", version: "v2" },
    marker: "app=orders,version=v2",
    probes: { orders: { liveness: "kept", readiness: "kept" } },
    warnings: [],
  },
  {
    fixture: "label-slash-keys",
    path: "/mutate",
    labels: {
      "app.kubernetes.io/name": "storefront",
      "app.kubernetes.io/part-of": "shop",
      "app.kubernetes.io/managed-by": "Helm",
      app: "storefront",
      version: "2.0.1",
    },
    templateLabels: {
      "app.kubernetes.io/name": "storefront",
      "app.kubernetes.io/component": "web",
      "app.kubernetes.io/version": "2.0.1",
      app: "storefront",
      version: "2.0.1",
    },
    marker: "app=storefront,version=2.0.1",
    probes: { web: { liveness: liveness("/health", 3000), readiness: readiness("/ready", 3000) } },
    warnings: [],
  },
  {
    fixture: "multi-container",
    path: "/mutate",
    labels: { app: "api", version: "2024.11.3" },
    templateLabels: { app: "api", version: "2024.11.3" },
    marker: "app=api,version=2024.11.3",
    probes: {
      api: { liveness: liveness("/health", 8080), readiness: readiness("/ready", 8080) },
      "metrics-exporter": { liveness: "kept", readiness: "kept" },
      worker: { liveness: liveness("/health", 9000), readiness: "kept" },
    },
    warnings: [],
  },
  {
    fixture: "named-port",
    path: "/mutate",
    labels: { app: "search", version: "7.3.0-alpine" },
    templateLabels: { app: "search", version: "7.3.0-alpine" },
    marker: "app=search,version=7.3.0-alpine",
    probes: {
      search: { liveness: liveness("/livez", "http"), readiness: readiness("/readyz", "http") },
      "cache-warmer": { liveness: "none", readiness: "none" },
    },
    warnings: ['container cache-warmer has no port named "http": probes not added (set greenlight.dev/probe-port)'],
  },
  {
    fixture: "digest-image",
    path: "/mutate",
    labels: { app: "payments", version: "sha-9b2f8a4c1d3e" },
    templateLabels: { app: "payments", version: "sha-9b2f8a4c1d3e" },
    marker: "app=payments,version=sha-9b2f8a4c1d3e",
    probes: { payments: { liveness: liveness("/health", 8443), readiness: readiness("/ready", 8443) } },
    warnings: [],
  },
  {
    fixture: "registry-port-no-tag",
    path: "/mutate",
    labels: { app: "myapp", version: "latest" },
    templateLabels: { app: "myapp", version: "latest" },
    marker: "app=myapp,version=latest",
    probes: { myapp: { liveness: liveness("/health", 3000), readiness: readiness("/ready", 3000) } },
    warnings: ['image "localhost:5000/myapp" has no tag; version set to latest'],
  },
  {
    fixture: "no-ports",
    path: "/mutate",
    labels: { app: "invoice-worker", version: "3.2.0" },
    templateLabels: { app: "invoice-worker", version: "3.2.0" },
    marker: "app=invoice-worker,version=3.2.0",
    probes: { "invoice-worker": { liveness: "none", readiness: "none" } },
    warnings: ["container invoice-worker has no containerPort: probes not added (set greenlight.dev/probe-port)"],
  },
  {
    fixture: "selector-pinned-version",
    path: "/mutate",
    labels: { app: "myapp", version: "blue" },
    templateLabels: { app: "myapp", version: "blue" },
    marker: "app=myapp",
    probes: { myapp: { liveness: liveness("/health", 8080), readiness: readiness("/ready", 8080) } },
    warnings: [
      "spec.selector pins version=blue; template version label left as is",
      "label version=blue kept; greenlight would set 1.0.0",
    ],
  },
  {
    fixture: "namespace-scope",
    path: "/mutate/namespace",
    labels: { app: "catalog", version: "5.1" },
    templateLabels: { app: "catalog", version: "5.1" },
    marker: "app=catalog,version=5.1",
    probes: { catalog: { liveness: liveness("/health", 8080), readiness: readiness("/ready", 8080) } },
    warnings: [],
  },
];

/** Fixtures the webhook must answer with allowed, no patch and no warnings. */
const UNTOUCHED: { fixture: ReviewFixtureName; path: MutatePath; why: string }[] = [
  { fixture: "already-injected", path: "/mutate", why: "already injected" },
  { fixture: "already-injected", path: "/mutate/namespace", why: "already injected" },
  { fixture: "namespace-scope", path: "/mutate", why: "no opt-in annotation" },
  { fixture: "inject-false", path: "/mutate", why: 'inject "false"' },
  { fixture: "inject-false", path: "/mutate/namespace", why: 'inject "false" beats the namespace label' },
  { fixture: "scale-subresource", path: "/mutate", why: "scale subresource" },
  { fixture: "scale-subresource", path: "/mutate/namespace", why: "scale subresource" },
  { fixture: "delete", path: "/mutate", why: "DELETE" },
  { fixture: "delete", path: "/mutate/namespace", why: "DELETE" },
];

const containersOf = (object: unknown): Record<string, unknown>[] =>
  (at(object, "spec", "template", "spec", "containers") as Record<string, unknown>[] | undefined) ?? [];

describe("fixtures", () => {
  it("lists every review file on disk", () => {
    expect([...REVIEW_FIXTURES].sort()).toEqual(reviewFilesOnDisk());
  });

  it("hands out a fresh deep copy per call", () => {
    const first = loadReview("create");
    first.request.uid = "changed";
    (first.request.object as { metadata: { name: string } }).metadata.name = "changed";
    const second = loadReview("create");
    expect(second.request.uid).toBe("3f1c2a9e-7b4d-4e0a-9c61-2d8e5f7a1b03");
    expect(at(second.request.object, "metadata", "name")).toBe("checkout");
  });

  it.each(REVIEW_FIXTURES)("%s is shaped like what the API server sends", (name) => {
    const { apiVersion, kind, request: req } = loadReview(name);
    expect(apiVersion).toBe("admission.k8s.io/v1");
    expect(kind).toBe("AdmissionReview");
    expect(req.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(req.resource).toEqual({ group: "apps", version: "v1", resource: "deployments" });
    expect(req.requestResource).toEqual(req.resource);
    expect(req.requestKind).toEqual(req.kind);
    expect(typeof req.userInfo.username).toBe("string");
    expect(typeof req.dryRun).toBe("boolean");
    const expectedOptions = { CREATE: "CreateOptions", UPDATE: "UpdateOptions", DELETE: "DeleteOptions" } as const;
    if (req.operation !== "CONNECT") expect(req.options?.kind).toBe(expectedOptions[req.operation]);
    for (const object of [req.object, req.oldObject]) {
      expect(at(object, "metadata", "managedFields")).toBeUndefined();
      if (at(object, "kind") === "Deployment") validateDeployment(object);
    }
    if (req.operation === "CREATE") {
      expect(req.oldObject).toBeNull();
      expect(at(req.object, "metadata", "uid")).toBeUndefined();
    }
    if (req.operation === "UPDATE") {
      expect(at(req.object, "metadata", "uid")).toBe(at(req.oldObject, "metadata", "uid"));
      expect(at(req.object, "metadata", "creationTimestamp")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    if (req.operation === "DELETE") expect(req.object).toBeNull();
  });
});

describe.each(INJECTED)("POST $path with $fixture", (expected) => {
  it("patches labels, probes and the marker exactly, and leaves the selector alone", async () => {
    const review = loadReview(expected.fixture);
    const input = review.request.object;
    const body = await post(review, expected.path);
    expectEcho(body, review);
    expect(body.response.allowed).toBe(true);
    expect(body.response.status).toBeUndefined();
    expect(body.response.warnings ?? []).toEqual(expected.warnings);

    const ops = patchOf(body.response);
    expect(ops.length).toBeGreaterThan(0);
    const patched = applyOps(input, ops);
    validateDeployment(patched);

    expect(at(patched, "spec", "selector")).toEqual(at(input, "spec", "selector"));
    expect(at(patched, "metadata", "labels")).toEqual(expected.labels);
    expect(at(patched, "spec", "template", "metadata", "labels")).toEqual(expected.templateLabels);
    expect(at(patched, "metadata", "annotations", "greenlight.dev/injected")).toBe(expected.marker);
    for (const value of [...Object.values(expected.labels), ...Object.values(expected.templateLabels)]) {
      expect(value).toMatch(LABEL_VALUE);
    }

    const before = containersOf(input);
    const after = containersOf(patched);
    expect(after.map((c) => c.name)).toEqual(Object.keys(expected.probes));
    after.forEach((container, index) => {
      const want = expected.probes[container.name as string];
      const original = before[index] ?? {};
      for (const [field, probe] of [
        ["livenessProbe", want?.liveness],
        ["readinessProbe", want?.readiness],
      ] as const) {
        if (probe === "kept") expect(container[field]).toEqual(original[field]);
        else if (probe === "none") expect(container[field]).toBeUndefined();
        else expect(container[field]).toEqual(probe);
      }
      // Nothing but the probes changes on a container.
      const { livenessProbe: _l, readinessProbe: _r, ...rest } = container;
      const { livenessProbe: _ol, readinessProbe: _or, ...originalRest } = original;
      expect(rest).toEqual(originalRest);
    });

    // Outside labels, the marker annotation and probes, the object is unchanged.
    for (const op of ops) {
      expect(op.path).toMatch(
        /^\/(metadata\/labels|spec\/template\/metadata\/labels|metadata\/annotations)(\/|$)|^\/spec\/template\/spec\/containers\/\d+\/(liveness|readiness)Probe$/,
      );
      if (op.path.startsWith("/metadata/annotations"))
        expect(op.path).toBe("/metadata/annotations/greenlight.dev~1injected");
    }
  });

  it("answers the patched object again with no patch (idempotent)", async () => {
    const review = loadReview(expected.fixture);
    const first = await post(review, expected.path);
    review.request.object = applyOps(review.request.object, patchOf(first.response));
    const second = await post(review, expected.path);
    expectEcho(second, review);
    expect(second.response.allowed).toBe(true);
    expect(second.response.patch).toBeUndefined();
    expect(second.response.patchType).toBeUndefined();
    expect(second.response.warnings ?? []).toEqual(expected.warnings);
  });

  it("gives the same answer on a dry run", async () => {
    const review = loadReview(expected.fixture);
    const wet = await post({ ...review, request: { ...review.request, dryRun: false } }, expected.path);
    const dry = await post({ ...review, request: { ...review.request, dryRun: true } }, expected.path);
    expect(dry).toEqual(wet);
  });
});

describe.each(UNTOUCHED)("POST $path with $fixture ($why)", ({ fixture, path }) => {
  it("allows it without a patch or warnings", async () => {
    const review = loadReview(fixture);
    const body = await post(review, path);
    expectEcho(body, review);
    expect(body.response).toEqual({ uid: review.request.uid, allowed: true });
  });
});

describe("details of single fixtures", () => {
  it("escapes '/' in patch paths as ~1 and leaves the app.kubernetes.io labels alone", async () => {
    const review = loadReview("label-slash-keys");
    const ops = patchOf((await post(review)).response);
    const paths = ops.map((op) => op.path);
    expect(paths).toContain("/metadata/annotations/greenlight.dev~1injected");
    expect(paths).toContain("/metadata/labels/app");
    expect(paths).toContain("/spec/template/metadata/labels/version");
    for (const path of paths) {
      // After unescaping, each segment may hold a '/', but the raw path never splits a key in two.
      expect(
        path
          .split("/")
          .slice(1)
          .every((segment) => !segment.includes("kubernetes.io")),
      ).toBe(true);
    }
    expect(ops.every((op) => op.op === "add")).toBe(true);
  });

  it("moves only the owned version label on an image bump: three replace operations", async () => {
    const review = loadReview("update-image-bump");
    const ops = patchOf((await post(review)).response);
    const sorted = [...ops].sort((a, b) => a.path.localeCompare(b.path));
    expect(sorted).toEqual([
      { op: "replace", path: "/metadata/annotations/greenlight.dev~1injected", value: "app=orders,version=v2" },
      { op: "replace", path: "/metadata/labels/version", value: "v2" },
      { op: "replace", path: "/spec/template/metadata/labels/version", value: "v2" },
    ]);
  });

  it("keeps a user-set version label on an image bump, with a warning", async () => {
    const review = loadReview("update-image-bump");
    const object = review.request.object as { metadata: { labels: Record<string, string> } };
    object.metadata.labels.version = "stable";
    const body = await post(review);
    const patched = applyOps(review.request.object, patchOf(body.response));
    expect(at(patched, "metadata", "labels", "version")).toBe("stable");
    expect(at(patched, "spec", "template", "metadata", "labels", "version")).toBe("v2");
    expect(body.response.warnings).toEqual(["label version=stable kept; greenlight would set v2"]);
  });

  it("labels the seed's blue Deployment cleanly when greenlight.dev/version agrees with the selector", async () => {
    const review = loadReview("selector-pinned-version");
    const object = review.request.object as { metadata: { annotations: Record<string, string> } };
    object.metadata.annotations["greenlight.dev/version"] = "blue";
    const body = await post(review);
    expect(body.response.warnings).toBeUndefined();
    const patched = applyOps(review.request.object, patchOf(body.response));
    expect(at(patched, "spec", "template", "metadata", "labels")).toEqual({ app: "myapp", version: "blue" });
    expect(at(patched, "metadata", "annotations", "greenlight.dev/injected")).toBe("app=myapp,version=blue");
  });

  it("leaves a template label pinned by a matchExpressions selector alone", async () => {
    const review = loadReview("selector-pinned-version");
    const object = review.request.object as { spec: { selector: Record<string, unknown> } };
    object.spec.selector = {
      matchLabels: { app: "myapp" },
      matchExpressions: [{ key: "version", operator: "In", values: ["blue", "green"] }],
    };
    const body = await post(review);
    expect(body.response.warnings).toContain("spec.selector pins version; template version label left as is");
    const patched = applyOps(review.request.object, patchOf(body.response));
    expect(at(patched, "spec", "template", "metadata", "labels", "version")).toBe("blue");
    expect(at(patched, "spec", "selector")).toEqual(object.spec.selector);
  });

  it("derives sha-<12 hex> from a digest on a dry-run CREATE", async () => {
    const review = loadReview("digest-image");
    expect(review.request.dryRun).toBe(true);
    const ops = patchOf((await post(review)).response);
    expect(ops).toContainEqual({
      op: "add",
      path: "/metadata/labels",
      value: { app: "payments", version: "sha-9b2f8a4c1d3e" },
    });
  });

  it("ignores an invalid inject value on /mutate and injects anyway on /mutate/namespace, warning both times", async () => {
    const review = loadReview("inject-false");
    const object = review.request.object as { metadata: { annotations: Record<string, string> } };
    object.metadata.annotations["greenlight.dev/inject"] = "yes";
    const warning = 'greenlight.dev/inject ignored: accepted: "true" or "false"';
    const perAnnotation = await post(review, "/mutate");
    expect(perAnnotation.response).toEqual({ uid: review.request.uid, allowed: true, warnings: [warning] });
    const perNamespace = await post(review, "/mutate/namespace");
    expect(perNamespace.response.warnings).toEqual([warning]);
    expect(patchOf(perNamespace.response).length).toBeGreaterThan(0);
  });

  it("sends every warning at most 120 characters long", async () => {
    const review = loadReview("no-ports");
    const object = review.request.object as { spec: { template: { spec: { containers: { name: string }[] } } } };
    const container = object.spec.template.spec.containers[0];
    if (container) container.name = `c${"x".repeat(61)}z`;
    const body = await post(review);
    expect(body.response.warnings).toHaveLength(1);
    for (const warning of body.response.warnings ?? []) expect(warning.length).toBeLessThanOrEqual(120);
    expect(body.response.warnings?.[0]).toMatch(/^container cx+/);
  });
});

describe("greenlight-owned labels", () => {
  // When the selector pins `version`, greenlight still owns metadata.labels.version, and the marker says so.
  it("moves a metadata version label greenlight wrote itself, even when the template one is pinned", async () => {
    const review = loadReview("selector-pinned-version");
    const object = review.request.object as { metadata: { labels: Record<string, string> } };
    delete object.metadata.labels.version;
    const first = await post(review);
    const injected = applyOps(review.request.object, patchOf(first.response));
    expect(at(injected, "metadata", "labels", "version")).toBe("1.0.0");

    const bump = loadReview("selector-pinned-version");
    bump.request.operation = "UPDATE";
    bump.request.options = { kind: "UpdateOptions", apiVersion: "meta.k8s.io/v1" };
    bump.request.oldObject = injected;
    const next = structuredClone(injected) as { spec: { template: { spec: { containers: { image: string }[] } } } };
    const container = next.spec.template.spec.containers[0];
    if (container) container.image = "myapp:1.1.0";
    bump.request.object = next;
    const second = await post(bump);
    const patched = applyOps(next, patchOf(second.response));
    expect(at(patched, "metadata", "labels", "version")).toBe("1.1.0");
    expect(second.response.warnings).toEqual(["spec.selector pins version=blue; template version label left as is"]);
  });
});

describe("requests that are not AdmissionReviews, and failures inside a mutation", () => {
  it.each([
    ["an empty object", {}, 'not an AdmissionReview: kind must be "AdmissionReview"'],
    ["a JSON array", [], "not an AdmissionReview: body must be a JSON object: an AdmissionReview"],
    [
      "an admission.k8s.io/v1beta1 review",
      { ...loadReview("create"), apiVersion: "admission.k8s.io/v1beta1" },
      'not an AdmissionReview: apiVersion must be "admission.k8s.io/v1" (set admissionReviewVersions: ["v1"] in the webhook)',
    ],
    [
      "a review without a uid",
      { ...loadReview("create"), request: { ...loadReview("create").request, uid: "" } },
      "not an AdmissionReview: request.uid must be a non-empty string",
    ],
    [
      "a review with an unknown operation",
      { ...loadReview("create"), request: { ...loadReview("create").request, operation: "PATCH" } },
      "not an AdmissionReview: request.operation must be one of CREATE, UPDATE, DELETE, CONNECT",
    ],
    [
      "a response instead of a request",
      { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "x", allowed: true } },
      "not an AdmissionReview: request must be an object",
    ],
  ])("answers %s with 400 and the reason", async (_what, body, message) => {
    for (const path of ["/mutate", "/mutate/namespace", "/validate"]) {
      const res = await request(app)
        .post(path)
        .send(body as object);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: message });
    }
  });

  it("answers a body that is not JSON with 400", async () => {
    const res = await request(app).post("/mutate").set("content-type", "application/json").send("{not json");
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/^body is not valid JSON/);
  });

  it("admits a Deployment it cannot mutate, with a warning naming the field", async () => {
    const review = loadReview("create");
    const object = review.request.object as { spec: { template: { spec: Record<string, unknown> } } };
    object.spec.template.spec.containers = "checkout";
    const body = await post(review);
    expectEcho(body, review);
    expect(body.response).toEqual({
      uid: review.request.uid,
      allowed: true,
      warnings: ["greenlight: not injected: spec.template.spec.containers is not a list"],
    });
  });

  it('rejects a Deployment it cannot mutate with onError "deny"', async () => {
    const strict = createWebhookApp({ onError: "deny" });
    const review = loadReview("create");
    const object = review.request.object as { metadata: Record<string, unknown> };
    object.metadata.labels = { team: 7 };
    const body = await post(review, "/mutate", strict);
    expectEcho(body, review);
    expect(body.response.allowed).toBe(false);
    expect(body.response.patch).toBeUndefined();
    expect(body.response.status?.code).toBe(422);
    expect(body.response.status?.message).toBe(
      'greenlight could not inject this Deployment: metadata.labels["team"] is not a string',
    );
  });

  it("admits a CREATE without an object, with a warning", async () => {
    const review = loadReview("create");
    const { object: _dropped, ...rest } = review.request;
    const body = await post({ ...review, request: rest });
    expect(body.response.allowed).toBe(true);
    expect(body.response.warnings).toEqual(["greenlight: not injected: object is not an object"]);
  });
});

describe("greenlight-owned labels after the marker is dropped", () => {
  it("reads the marker from oldObject when an UPDATE (kubectl replace, GitOps re-apply) dropped it", async () => {
    const review = loadReview("update-image-bump");
    const object = review.request.object as { metadata: { annotations: Record<string, string> } };
    delete object.metadata.annotations["greenlight.dev/injected"];
    const response = await post(review);
    const patched = applyOps(review.request.object, patchOf(response.response));
    expect(response.response.warnings ?? []).toEqual([]);
    const version = at(patched, "metadata", "labels", "version");
    expect(version).not.toBe(at(review.request.oldObject, "metadata", "labels", "version"));
    expect(at(patched, "spec", "template", "metadata", "labels", "version")).toBe(version);
    expect(at(patched, "metadata", "annotations", "greenlight.dev/injected")).toBe(`app=orders,version=${version}`);
  });
});
