// `greenlight webhook serve` and `greenlight webhook replay`, run as the real binary.
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run.ts";

const review = {
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: {
    uid: "0f4c2a7e-1111-4c8e-9e7a-0123456789ab",
    kind: { group: "apps", version: "v1", kind: "Deployment" },
    resource: { group: "apps", version: "v1", resource: "deployments" },
    operation: "CREATE",
    namespace: "production",
    name: "myapp",
    object: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "myapp", namespace: "production", annotations: { "greenlight.dev/inject": "true" } },
      spec: {
        selector: { matchLabels: { app: "myapp" } },
        template: {
          metadata: { labels: { app: "myapp" } },
          spec: { containers: [{ name: "myapp", image: "myapp:v2.0", ports: [{ containerPort: 8080 }] }] },
        },
      },
    },
  },
};

describe("greenlight webhook replay", () => {
  let file: string;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), "greenlight-replay-"));
    file = join(dir, "review.json");
    await writeFile(file, JSON.stringify(review));
  });

  it("prints the AdmissionReview response, and the decoded patch with --patch", async () => {
    const result = await runCli(["webhook", "replay", "-f", file]);
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout);
    expect(answer).toMatchObject({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" });
    expect(answer.response).toMatchObject({ uid: review.request.uid, allowed: true, patchType: "JSONPatch" });
    const patch = await runCli(["webhook", "replay", "-f", file, "--patch"]);
    const ops = JSON.parse(patch.stdout) as { path: string; value: unknown }[];
    expect(ops).toContainEqual({ op: "add", path: "/spec/template/metadata/labels/version", value: "v2.0" });
  });

  it("replays through /validate", async () => {
    const invalid = structuredClone(review);
    invalid.request.object.metadata.annotations = { "greenlight.dev/strategy": "canery" } as never;
    const result = await runCli(["webhook", "replay", "-f", "-", "--path", "/validate"], JSON.stringify(invalid));
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout);
    expect(answer.response.allowed).toBe(false);
    expect(answer.response.status.message).toContain('greenlight.dev/strategy: "canery" is invalid');
  });

  it("fails with one line on a non-review, bad JSON and an unknown path", async () => {
    const notReview = await runCli(["webhook", "replay", "-f", "-"], '{"kind":"Deployment"}');
    expect(notReview.code).toBe(1);
    expect(notReview.stderr.trim()).toBe(
      'greenlight: <stdin> is not an AdmissionReview: kind must be "AdmissionReview"',
    );
    const notJson = await runCli(["webhook", "replay", "-f", "-"], "{");
    expect(notJson.stderr).toMatch(/^greenlight: <stdin> is not JSON/);
    const path = await runCli(["webhook", "replay", "-f", file, "--path", "/nope"]);
    expect(path.code).toBe(1);
    expect(path.stderr).toContain("use /mutate, /mutate/namespace, /validate");
  });
});

describe("greenlight webhook serve", () => {
  it("serves the webhook over plain HTTP and stops cleanly on SIGTERM", async () => {
    const bin = fileURLToPath(new URL("../../scripts/greenlight.mjs", import.meta.url));
    const child = spawn(process.execPath, [bin, "webhook", "serve", "--port", "0", "--host", "127.0.0.1"]);
    let stderr = "";
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.on("data", (chunk) => {
        stderr += chunk;
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
        if (match) resolve(Number(match[1]));
      });
      child.on("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const response = await fetch(`http://127.0.0.1:${port}/mutate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(review),
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { response: { uid: string } };
    expect(answer.response.uid).toBe(review.request.uid);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("refuses a certificate without its key", async () => {
    const result = await runCli(["webhook", "serve", "--tls-cert", "/tmp/x.crt"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      "greenlight: --tls-cert and --tls-key go together: pass both, or neither for plain HTTP",
    );
  });
});
