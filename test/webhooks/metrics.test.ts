// GET /metrics counts what the webhook answered: requests by path and code, patches and rejections.
import request from "supertest";
import { describe, expect, it } from "vitest";
import { createWebhookApp } from "../../webhooks/http/express.ts";
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
