// GET /metrics counts what the webhook answered: requests by path and code, patches and rejections, as prom-client would.
import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { createWebhookApp } from "../../webhooks/http/express.ts";
import { createWebhookMetrics, LATENCY_BUCKETS, METRIC_NAMES } from "../../webhooks/http/metrics.ts";
import { loadReview } from "../fixtures/load.ts";

const sample = (text: string, name: string, labels: string): number => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
};

describe("GET /metrics", () => {
  it("counts requests, patches, rejections and bad bodies per path", async () => {
    const app = createWebhookApp();
    await request(app).post("/mutate").send(loadReview("create")).expect(200);
    await request(app).post("/mutate").send(loadReview("already-injected")).expect(200);
    const invalid = loadReview("create");
    (invalid.request.object as { metadata: { annotations: Record<string, string> } }).metadata.annotations[
      "greenlight.dev/steps"
    ] = "50,10";
    await request(app).post("/validate").send(invalid).expect(200);
    await request(app).post("/validate").send({ kind: "AdmissionReview" }).expect(400);

    const metrics = await request(app).get("/metrics").expect(200);
    expect(metrics.headers["content-type"]).toMatch(/^text\/plain/);
    const text = metrics.text;
    expect(sample(text, "greenlight_webhook_requests_total", 'path="/mutate",code="200"')).toBe(2);
    expect(sample(text, "greenlight_webhook_patches_total", 'path="/mutate"')).toBe(1);
    expect(sample(text, "greenlight_webhook_requests_total", 'path="/validate",code="200"')).toBe(1);
    expect(sample(text, "greenlight_webhook_requests_total", 'path="/validate",code="400"')).toBe(1);
    expect(sample(text, "greenlight_webhook_rejections_total", 'path="/validate"')).toBe(1);
    expect(sample(text, "greenlight_webhook_request_duration_seconds_count", 'path="/mutate"')).toBe(2);
  });
});

const lines = (text: string): string[] => text.split("\n").sort();

/** The same metrics kept by prom-client's own Counter and Histogram: what the exposition must read like. */
function promClientTwin() {
  const registry = new Registry();
  const requests = new Counter({
    name: METRIC_NAMES.requests,
    help: "Admission requests answered, by path and HTTP status code",
    labelNames: ["path", "code"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: METRIC_NAMES.latency,
    help: "Time to answer an admission request",
    labelNames: ["path"],
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  const patches = new Counter({
    name: METRIC_NAMES.patches,
    help: "Admission responses that carried a JSON Patch",
    labelNames: ["path"],
    registers: [registry],
  });
  const rejections = new Counter({
    name: METRIC_NAMES.rejections,
    help: "Admission requests denied",
    labelNames: ["path"],
    registers: [registry],
  });
  return { registry, requests, latency, patches, rejections };
}

describe("the webhook's meters", () => {
  const answer = fc.record({
    path: fc.constantFrom("/mutate", "/mutate/namespace", "/validate"),
    code: fc.constantFrom(200, 400, 413, 500),
    // Bounds themselves, just past them, and anything between (a bucket holds values up to its bound).
    seconds: fc.oneof(fc.constantFrom(...LATENCY_BUCKETS), fc.double({ min: 0, max: 0.5, noNaN: true })),
    patched: fc.boolean(),
    denied: fc.boolean(),
  });

  it("expose the series prom-client's Counter and Histogram expose for the same answers, reset included", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(answer, { maxLength: 40 }), fc.nat({ max: 40 }), async (answers, resetAt) => {
        const ours = createWebhookMetrics();
        const twin = promClientTwin();
        for (const [index, a] of answers.entries()) {
          if (index === resetAt) {
            ours.registry.resetMetrics();
            twin.registry.resetMetrics();
          }
          const meter = ours.path(a.path);
          meter.answered(a.code, a.seconds);
          twin.requests.inc({ path: a.path, code: String(a.code) });
          twin.latency.observe({ path: a.path }, a.seconds);
          if (a.patched) {
            meter.patches++;
            twin.patches.inc({ path: a.path });
          }
          if (a.denied) {
            meter.rejections++;
            twin.rejections.inc({ path: a.path });
          }
        }
        // The same lines; series within a family may come in another order (by path, then first answer), which
        // the exposition format leaves free and Prometheus ignores.
        expect(lines(await ours.registry.metrics())).toEqual(lines(await twin.registry.metrics()));
      }),
      { numRuns: 200 },
    );
  });
});
