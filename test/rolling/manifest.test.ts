// manifests/examples/rolling.yaml: the seed's rolling Deployment, opted in to the guard, valid for greenlight and
// for the API server.
import { readFile } from "node:fs/promises";
import type { V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { validateAnnotations } from "../../functions/contract/validate.ts";
import { createKubeClients } from "../../functions/kube/clients.ts";
import { guardRollout, isRolling } from "../../functions/rolling/guard.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";

type Example = V1Deployment & {
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  spec: { progressDeadlineSeconds?: number; revisionHistoryLimit?: number; replicas: number };
};

const load = async (): Promise<Example> =>
  parse(await readFile(new URL("../../manifests/examples/rolling.yaml", import.meta.url), "utf8")) as Example;

let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

describe("manifests/examples/rolling.yaml", () => {
  it("carries the rolling annotations, valid and without warnings", async () => {
    const example = await load();
    expect(example.metadata.annotations).toEqual({
      "greenlight.dev/strategy": "rolling",
      "greenlight.dev/auto-rollback": "true",
    });
    expect(validateAnnotations(example.metadata.annotations)).toEqual({ errors: [], warnings: [] });
    expect(isRolling(example)).toBe(true);
  });

  it("sets the deadline the guard acts on and keeps history to undo to", async () => {
    const example = await load();
    expect(example.spec.progressDeadlineSeconds).toBe(300);
    expect(example.spec.revisionHistoryLimit).toBeGreaterThan(0);
    expect(example.spec.template?.metadata?.labels).toEqual({ app: "myapp", version: "v2.0" });
  });

  it("is accepted by the API server, and the guard waits for the controller before judging it", async () => {
    const example = await load();
    api.put(example);
    const clients = createKubeClients(api.kubeConfig(), "test-manifest");
    const stored = await clients.apps.readNamespacedDeployment({
      namespace: example.metadata.namespace,
      name: example.metadata.name,
    });
    const report = await guardRollout({ clients, now: new Date("2026-11-26T10:00:00Z"), dryRun: true }, stored);
    expect(report).toMatchObject({ outcome: "unchanged", progress: { desired: 10, updated: 0 } });
    expect(report.message).toBe("waiting for the Deployment controller to observe generation 1 (observed 0)");
    // Once observed, with no ReplicaSet made yet, it is a rollout that has not started.
    api.put({ ...api.get("apps/v1", "Deployment", "production", "myapp"), status: { observedGeneration: 1 } });
    const observed = await clients.apps.readNamespacedDeployment({ namespace: "production", name: "myapp" });
    const next = await guardRollout({ clients, now: new Date("2026-11-26T10:01:00Z"), dryRun: true }, observed);
    expect(next).toMatchObject({ outcome: "dry-run", phase: "Progressing" });
    expect(next.message).toBe("0 of 10 new replicas have been updated; waiting for the new ReplicaSet");
  });
});
