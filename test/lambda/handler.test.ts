// The Lambda handler driven with synthetic API Gateway REST (v1) and HTTP API (v2) events, as AWS would invoke it.
import jsonPatch from "fast-json-patch";
import { describe, expect, it } from "vitest";
import { type ApiGatewayEvent, normalizeEvent, stripStage } from "../../functions/http/api-gateway.ts";
import {
  deploymentReview,
  httpApiEvent,
  lambdaContext,
  type Operation,
  restApiEvent,
} from "../../scripts/fakes/lambda-events.ts";
import { handler } from "../../webhooks/lambda.ts";

const INJECT = { "greenlight.dev/inject": "true" };

interface ReviewAnswer {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    patchType?: string;
    patch?: string;
    status?: { code: number; message: string };
    warnings?: string[];
  };
}

const invoke = (event: ApiGatewayEvent) => handler(event, lambdaContext());

const contentType = (headers: Record<string, string> | undefined): string =>
  Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === "content-type")?.[1] ?? "";

function decodePatch(answer: ReviewAnswer): Operation[] {
  expect(answer.response.patchType).toBe("JSONPatch");
  expect(typeof answer.response.patch).toBe("string");
  return JSON.parse(Buffer.from(answer.response.patch ?? "", "base64").toString("utf8")) as Operation[];
}

interface PatchedDeployment {
  metadata: { labels: Record<string, string> };
  spec: {
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        containers: Array<{
          livenessProbe?: { httpGet: { path: string; port: number | string } };
          readinessProbe?: { httpGet: { path: string; port: number | string } };
        }>;
      };
    };
  };
}

/** The patch must do what the API server will do with it: applied to the sent object, it injects label and probes. */
function expectInjected(review: Record<string, unknown>, answer: ReviewAnswer): void {
  expect(answer.response.allowed).toBe(true);
  const patch = decodePatch(answer);
  expect(patch.some((op) => op.value === "v2.0" || JSON.stringify(op.value).includes('"version":"v2.0"'))).toBe(true);
  expect(patch.some((op) => /Probe/.test(op.path) || JSON.stringify(op.value ?? "").includes("Probe"))).toBe(true);

  const request = review.request as { object: object };
  const patched = jsonPatch.applyPatch(structuredClone(request.object), patch as jsonPatch.Operation[], true, false)
    .newDocument as unknown as PatchedDeployment;
  expect(patched.metadata.labels.version).toBe("v2.0");
  expect(patched.spec.template.metadata.labels.version).toBe("v2.0");
  const container = patched.spec.template.spec.containers[0];
  expect(container?.livenessProbe?.httpGet).toMatchObject({ path: "/health", port: 8080 });
  expect(container?.readinessProbe?.httpGet).toMatchObject({ path: "/ready", port: 8080 });
}

function parseAnswer(result: { statusCode: number; headers?: Record<string, string>; body: string }): ReviewAnswer {
  expect(result.statusCode).toBe(200);
  expect(contentType(result.headers)).toMatch(/^application\/json/);
  return JSON.parse(result.body) as ReviewAnswer;
}

describe("lambda handler, HTTP API (payload v2)", () => {
  it("mutates an opted-in Deployment and echoes the uid", async () => {
    const review = deploymentReview("0b3d6b36-7c5e-4a41-9a41-1b0e7e1f0001", INJECT);
    const result = await invoke(httpApiEvent("POST", "/mutate", JSON.stringify(review)));
    expect(result.isBase64Encoded).toBe(false);
    const answer = parseAnswer(result);
    expect(answer).toMatchObject({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" });
    expect(answer.response.uid).toBe("0b3d6b36-7c5e-4a41-9a41-1b0e7e1f0001");
    expectInjected(review, answer);
  });

  it("decodes a base64-encoded body", async () => {
    const review = deploymentReview("uid-v2-base64", INJECT);
    const result = await invoke(httpApiEvent("POST", "/mutate", JSON.stringify(review), { base64: true }));
    const answer = parseAnswer(result);
    expect(answer.response.uid).toBe("uid-v2-base64");
    expectInjected(review, answer);
  });

  it("routes past a named stage in rawPath", async () => {
    const review = deploymentReview("uid-v2-stage", INJECT);
    const result = await invoke(httpApiEvent("POST", "/mutate", JSON.stringify(review), { stage: "prod" }));
    expect(parseAnswer(result).response.uid).toBe("uid-v2-stage");
    const health = await invoke(httpApiEvent("GET", "/healthz", undefined, { stage: "prod" }));
    expect(health.statusCode).toBe(200);
  });

  it("answers 400 with a reason to malformed JSON", async () => {
    const result = await invoke(httpApiEvent("POST", "/mutate", '{"apiVersion": "admission.k8s.io/v1", "kind": '));
    expect(result.statusCode).toBe(400);
    expect(contentType(result.headers)).toMatch(/^application\/json/);
    const body = JSON.parse(result.body) as { error: string };
    expect(body.error).toMatch(/not valid JSON/);
  });

  it("answers 400 to JSON that is not an AdmissionReview", async () => {
    const result = await invoke(httpApiEvent("POST", "/validate", JSON.stringify({ kind: "Deployment" })));
    expect(result.statusCode).toBe(400);
    expect((JSON.parse(result.body) as { error: string }).error).toMatch(/AdmissionReview/);
  });

  it("rejects decreasing steps on /validate, naming the annotation", async () => {
    const review = deploymentReview("uid-v2-validate", { ...INJECT, "greenlight.dev/steps": "5,3" });
    const answer = parseAnswer(await invoke(httpApiEvent("POST", "/validate", JSON.stringify(review))));
    expect(answer.response.uid).toBe("uid-v2-validate");
    expect(answer.response.allowed).toBe(false);
    expect(answer.response.status?.message).toContain("greenlight.dev/steps");
  });

  it("answers /healthz and /metrics", async () => {
    const health = await invoke(httpApiEvent("GET", "/healthz"));
    expect(health.statusCode).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: "ok" });
    const metrics = await invoke(httpApiEvent("GET", "/metrics"));
    expect(metrics.statusCode).toBe(200);
    expect(metrics.isBase64Encoded).toBe(false);
    expect(metrics.body).toContain("greenlight_webhook_requests_total");
  });

  it("answers 404 with the routes it has for an unknown path", async () => {
    const result = await invoke(httpApiEvent("GET", "/nope"));
    expect(result.statusCode).toBe(404);
    expect(result.body).toContain("/mutate");
  });
});

describe("lambda handler, REST API (payload v1)", () => {
  it("mutates an opted-in Deployment and echoes the uid", async () => {
    const review = deploymentReview("uid-v1-plain", INJECT);
    const answer = parseAnswer(await invoke(restApiEvent("POST", "/mutate", JSON.stringify(review))));
    expect(answer.response.uid).toBe("uid-v1-plain");
    expectInjected(review, answer);
  });

  it("decodes a base64-encoded body", async () => {
    const review = deploymentReview("uid-v1-base64", INJECT);
    const result = await invoke(restApiEvent("POST", "/mutate", JSON.stringify(review), { base64: true }));
    const answer = parseAnswer(result);
    expect(answer.response.uid).toBe("uid-v1-base64");
    expectInjected(review, answer);
  });

  it("mutates by namespace opt-in without the annotation", async () => {
    const review = deploymentReview("uid-v1-namespace", {});
    const answer = parseAnswer(await invoke(restApiEvent("POST", "/mutate/namespace", JSON.stringify(review))));
    expect(answer.response.uid).toBe("uid-v1-namespace");
    expectInjected(review, answer);
  });

  it("leaves a Deployment without the annotation alone on /mutate", async () => {
    const review = deploymentReview("uid-v1-untouched", {});
    const answer = parseAnswer(await invoke(restApiEvent("POST", "/mutate", JSON.stringify(review))));
    expect(answer.response).toMatchObject({ uid: "uid-v1-untouched", allowed: true });
    expect(answer.response.patch).toBeUndefined();
  });

  it("answers 400 with a reason to malformed JSON", async () => {
    const result = await invoke(restApiEvent("POST", "/mutate", "{not json"));
    expect(result.statusCode).toBe(400);
    expect((JSON.parse(result.body) as { error: string }).error).toMatch(/not valid JSON/);
  });

  it("rejects decreasing steps on /validate, naming the annotation", async () => {
    const review = deploymentReview("uid-v1-validate", { "greenlight.dev/steps": "5,3" });
    const answer = parseAnswer(await invoke(restApiEvent("POST", "/validate", JSON.stringify(review))));
    expect(answer.response.allowed).toBe(false);
    expect(answer.response.status?.message).toContain("greenlight.dev/steps");
  });

  it("answers /healthz", async () => {
    const result = await invoke(restApiEvent("GET", "/healthz"));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ status: "ok" });
  });
});

describe("stage handling", () => {
  it("strips only a whole leading stage segment", () => {
    expect(stripStage("/prod/mutate", "prod")).toBe("/mutate");
    expect(stripStage("/prod", "prod")).toBe("/");
    expect(stripStage("/production/mutate", "prod")).toBe("/production/mutate");
    expect(stripStage("/mutate", "prod")).toBe("/mutate");
    expect(stripStage("/mutate", "$default")).toBe("/mutate");
    expect(stripStage("/mutate", undefined)).toBe("/mutate");
  });

  it("leaves a REST path alone: it never carries the stage, even when a route shares the stage's name", () => {
    const event = restApiEvent("GET", "/healthz/healthz", undefined, { stage: "healthz" });
    expect(normalizeEvent(event).path).toBe("/healthz/healthz");
  });

  it("strips the stage from a v1 payload of an HTTP API, where path repeats requestContext.path", () => {
    const event = restApiEvent("POST", "/mutate", "{}", { stage: "prod" });
    const fromHttpApi: ApiGatewayEvent = { ...event, path: "/prod/mutate" };
    expect(normalizeEvent(fromHttpApi).path).toBe("/mutate");
  });

  it("does not change the event it was given", () => {
    const event = httpApiEvent("GET", "/healthz", undefined, { stage: "prod" });
    expect(normalizeEvent(event).rawPath).toBe("/healthz");
    expect(event.rawPath).toBe("/prod/healthz");
  });
});
