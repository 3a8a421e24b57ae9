// The validating webhook through the express app: POST /validate with real-shaped AdmissionReviews.
import request from "supertest";
import { describe, expect, it } from "vitest";
import type { AdmissionReviewResponse } from "../../webhooks/admission/review.ts";
import { createWebhookApp } from "../../webhooks/http/express.ts";
import { loadReview, REVIEW_FIXTURES, type ReviewFixture, type ReviewFixtureName } from "../fixtures/load.ts";

const app = createWebhookApp();

async function validate(review: ReviewFixture): Promise<AdmissionReviewResponse["response"]> {
  const res = await request(app).post("/validate").send(review);
  expect(res.status).toBe(200);
  const body = res.body as AdmissionReviewResponse;
  expect(body.apiVersion).toBe("admission.k8s.io/v1");
  expect(body.kind).toBe("AdmissionReview");
  expect(body.response.uid).toBe(review.request.uid);
  expect(body.response.patch).toBeUndefined();
  for (const warning of body.response.warnings ?? []) expect(warning.length).toBeLessThanOrEqual(120);
  return body.response;
}

type Annotated = { metadata: { annotations?: Record<string, string> } };

/** A fixture with greenlight annotations set (or removed, for undefined) on its object. */
function withAnnotations(name: ReviewFixtureName, set: Record<string, string | undefined>): ReviewFixture {
  const review = loadReview(name);
  const object = review.request.object as Annotated;
  const annotations = { ...object.metadata.annotations };
  for (const [key, value] of Object.entries(set)) {
    if (value === undefined) delete annotations[`greenlight.dev/${key}`];
    else annotations[`greenlight.dev/${key}`] = value;
  }
  object.metadata.annotations = annotations;
  return review;
}

describe("POST /validate rejects bad greenlight annotations", () => {
  it.each([
    ["strategy", "bluegreen", '"canary", "blue-green", "rolling"'],
    ["steps", "5,3", "strictly increasing"],
    ["interval", "0s", '"1m30s"'],
    ["max-error-rate", "101%", '"1%"'],
    ["header-route", "X-Canary=1", "x-canary-test=true"],
    ["probe-port", "HTTP", "port name"],
    ["inject", "yes", '"true" or "false"'],
    ["router", "nginx", '"istio", "gateway-api"'],
    ["route", "My_Route", "a Kubernetes object name"],
    ["canary-service", "myapp.canary", "a Service name"],
    ["judge", "bayes", '"threshold", "compare"'],
    ["judge-alpha", "50%", "at most 20%"],
    ["judge-alpha", "0", "above 0"],
    ["judge-tolerance", "0%", "a difference of error rates above 0"],
    ["judge-latency-tolerance", "0.5", "below 50%"],
  ])("greenlight.dev/%s: %j -> 422 naming it", async (key, raw, accepted) => {
    const response = await validate(withAnnotations("create", { [key]: raw }));
    expect(response.allowed).toBe(false);
    expect(response.status?.code).toBe(422);
    expect(response.status?.reason).toBe("Invalid");
    expect(response.status?.message).toMatch(new RegExp(`^greenlight\\.dev/${key}: `));
    expect(response.status?.message).toContain(JSON.stringify(raw));
    expect(response.status?.message).toContain(accepted);
  });

  it("admits a Gateway API canary, warning that the VirtualService name is ignored", async () => {
    const response = await validate(
      withAnnotations("create", {
        strategy: "canary",
        router: "gateway-api",
        route: "myapp",
        "canary-service": "myapp-canary",
        "virtual-service": "myapp",
      }),
    );
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([
      "greenlight.dev/virtual-service has no effect with greenlight.dev/router: gateway-api; it is ignored",
    ]);
  });

  it("admits a comparative judge, warning about the ceilings it does not use (and the other way round)", async () => {
    const compare = await validate(
      withAnnotations("create", {
        strategy: "canary",
        judge: "compare",
        "judge-alpha": "1%",
        "judge-tolerance": "0.25%",
        "judge-latency-tolerance": "0.1",
        "max-error-rate": "1%",
      }),
    );
    expect(compare.allowed).toBe(true);
    expect(compare.warnings).toEqual([
      "greenlight.dev/max-error-rate has no effect with greenlight.dev/judge: compare; it is ignored",
    ]);
    const threshold = await validate(withAnnotations("create", { strategy: "canary", "judge-tolerance": "1%" }));
    expect(threshold.allowed).toBe(true);
    expect(threshold.warnings).toEqual([
      "greenlight.dev/judge-tolerance has no effect without greenlight.dev/judge: compare; it is ignored",
    ]);
  });

  it("names every bad annotation in one message", async () => {
    const response = await validate(withAnnotations("create", { strategy: "canary", steps: "5,3", interval: "5d" }));
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain("greenlight.dev/steps: ");
    expect(response.status?.message).toContain("; greenlight.dev/interval: ");
  });

  it("rejects blue-green without a Service, steps with step-weight, promote with abort", async () => {
    for (const [set, text] of [
      [{ strategy: "blue-green" }, "greenlight.dev/service is required"],
      [{ strategy: "canary", steps: "5,10", "step-weight": "5" }, "conflict"],
      [{ promote: "true", abort: "true" }, 'are both "true"'],
    ] as const) {
      const response = await validate(withAnnotations("create", set));
      expect(response.allowed).toBe(false);
      expect(response.status?.message).toContain(text);
    }
  });

  it("rejects a bad custom check, naming it", async () => {
    const response = await validate(
      withAnnotations("create", { strategy: "canary", "check.errors": '{"query":"rate(x[{{window}}])","max":1}' }),
    );
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toMatch(
      /^greenlight\.dev\/check\.errors: .*unknown template variable \{\{window\}\}/,
    );
  });

  it("sends warnings along with a rejection", async () => {
    const response = await validate(withAnnotations("create", { strategy: "canary", steps: "5,3", stategy: "x" }));
    expect(response.allowed).toBe(false);
    expect(response.warnings).toEqual([
      "greenlight.dev/stategy is not a greenlight annotation; did you mean greenlight.dev/strategy?",
    ]);
  });
});

describe("POST /validate allows", () => {
  it.each(REVIEW_FIXTURES.filter((name) => name !== "scale-subresource" && name !== "delete"))(
    "the %s fixture as it is",
    async (name) => {
      const review = loadReview(name);
      expect(await validate(review)).toEqual({ uid: review.request.uid, allowed: true });
    },
  );

  it("a full canary", async () => {
    const response = await validate(
      withAnnotations("create", {
        strategy: "canary",
        steps: "5,10,20,50,100",
        interval: "1m30s",
        "max-error-rate": "0.01",
        "max-latency-p95": "500ms",
        "header-route": "x-canary-test=true",
        "check.saturation": '{"query":"max(rate(cpu{ns=\\"{{namespace}}\\"}[{{interval}}]))","max":0.8}',
      }),
    );
    expect(response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it("with a warning naming the closest key for a typo", async () => {
    const response = await validate(withAnnotations("create", { stategy: "canary" }));
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([
      "greenlight.dev/stategy is not a greenlight annotation; did you mean greenlight.dev/strategy?",
    ]);
  });

  it("with a warning for a key that has no effect under the chosen strategy", async () => {
    const response = await validate(withAnnotations("create", { strategy: "rolling", interval: "5m" }));
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([
      "greenlight.dev/interval has no effect without greenlight.dev/strategy: canary; it is ignored",
    ]);
  });

  it("an UPDATE that keeps an invalid value unchanged, with a warning", async () => {
    const review = loadReview("update-image-bump");
    for (const object of [review.request.object, review.request.oldObject] as Annotated[]) {
      object.metadata.annotations = {
        ...object.metadata.annotations,
        "greenlight.dev/strategy": "canary",
        "greenlight.dev/interval": "5d",
      };
    }
    const response = await validate(review);
    expect(response.allowed).toBe(true);
    expect(response.warnings).toHaveLength(1);
    expect(response.warnings?.[0]).toMatch(/^unchanged, so not rejected: greenlight\.dev\/interval: "5d" is invalid: /);
  });

  it("but rejects an UPDATE that changes a value to an invalid one", async () => {
    const review = loadReview("update-image-bump");
    const object = review.request.object as Annotated;
    object.metadata.annotations = { ...object.metadata.annotations, "greenlight.dev/interval": "5d" };
    const response = await validate(review);
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toMatch(/^greenlight\.dev\/interval: "5d" is invalid/);
  });

  it("an UPDATE without an oldObject judges every value as new", async () => {
    const review = withAnnotations("update-image-bump", { interval: "5d" });
    review.request.oldObject = null;
    const response = await validate(review);
    expect(response.allowed).toBe(false);
  });

  it.each(["delete", "scale-subresource"] as const)("the %s fixture, whatever the annotations", async (name) => {
    const review = loadReview(name);
    for (const object of [review.request.object, review.request.oldObject]) {
      if (object && typeof object === "object") {
        (object as Annotated).metadata.annotations = { "greenlight.dev/steps": "5,3", "greenlight.dev/strategy": "x" };
      }
    }
    expect(await validate(review)).toEqual({ uid: review.request.uid, allowed: true });
  });

  it.each([
    ["a Pod", { group: "", version: "v1", kind: "Pod" }],
    ["a Service", { group: "", version: "v1", kind: "Service" }],
    ["a StatefulSet", { group: "apps", version: "v1", kind: "StatefulSet" }],
    ["a Deployment of another group", { group: "example.com", version: "v1", kind: "Deployment" }],
  ])("%s with bad greenlight annotations", async (_what, kind) => {
    const review = withAnnotations("create", { steps: "5,3", strategy: "x" });
    review.request.kind = kind;
    review.request.requestKind = kind;
    expect(await validate(review)).toEqual({ uid: review.request.uid, allowed: true });
  });

  it("a Deployment whose annotations are not strings, ignoring those values", async () => {
    const review = loadReview("create");
    (review.request.object as { metadata: { annotations: unknown } }).metadata.annotations = {
      "greenlight.dev/steps": 5,
      "greenlight.dev/inject": "true",
    };
    expect(await validate(review)).toEqual({ uid: review.request.uid, allowed: true });
  });
});

// Combination rules on UPDATE: changing either annotation of a bad pair is rejected.
describe("POST /validate on UPDATE", () => {
  it("rejects removing greenlight.dev/service from a running blue-green Deployment", async () => {
    const review = loadReview("update-image-bump");
    const [object, oldObject] = [review.request.object, review.request.oldObject] as Annotated[];
    if (oldObject) {
      oldObject.metadata.annotations = {
        ...oldObject.metadata.annotations,
        "greenlight.dev/strategy": "blue-green",
        "greenlight.dev/service": "orders",
      };
    }
    if (object) {
      object.metadata.annotations = { ...object.metadata.annotations, "greenlight.dev/strategy": "blue-green" };
    }
    const response = await validate(review);
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain("greenlight.dev/service is required");
  });
});
