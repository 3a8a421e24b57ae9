// `greenlight canary status` and `canary analyze` under greenlight.dev/judge: compare, as the real binary.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatStatus, STATUS_ANNOTATION } from "../../functions/canary/status.ts";
import { canaryDeployment, destinationRule, NAMESPACE, virtualService } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { fakeClusterEnv } from "./fake-cluster-env.ts";
import { runCli } from "./run.ts";

let api: FakeApiServer;
let env: NodeJS.ProcessEnv;

/** A status as the stepper writes it after an inconclusive comparison at step 1 (counts after four windows). */
const status = formatStatus({
  version: 1,
  phase: "Progressing",
  canaryVersion: "v2.0",
  stableVersion: "v1.0",
  stepIndex: 0,
  weights: { stable: 90, canary: 10 },
  lastStepAt: "2026-11-26T10:00:00.000Z",
  lastAnalysisAt: "2026-11-26T10:04:00.000Z",
  failures: 0,
  inconclusive: 0,
  lastChecks: [
    {
      name: "error-rate-vs-stable",
      query: "q",
      value: 0.0014,
      threshold: 0.005,
      comparison: "max",
      outcome: "inconclusive",
      judge: {
        estimate: 0.0014,
        lower: -0.005,
        upper: 0.015,
        canary: { requests: 1200, errors: 8 },
        stable: { requests: 10800, errors: 57 },
        windows: 4,
      },
    },
    {
      name: "latency-vs-stable",
      query: "q",
      value: 0.502,
      threshold: 0.55,
      comparison: "max",
      outcome: "pass",
      judge: {
        estimate: 0.502,
        lower: 0.47,
        upper: 0.53,
        canary: { requests: 1200 },
        stable: { requests: 10800 },
        windows: 4,
      },
    },
  ],
  reason: "holding step 1/4",
  updatedAt: "2026-11-26T10:04:00.000Z",
});

beforeAll(async () => {
  api = await startFakeApiServer();
  env = await fakeClusterEnv(api);
  api.put(
    canaryDeployment({ annotations: { "greenlight.dev/judge": "compare", "greenlight.dev/steps": "10,20,50,100" } }),
  );
  api.put(destinationRule());
  const vs = virtualService({ stable: 90, canary: 10 });
  const metadata = vs.metadata as JsonObject;
  api.put({ ...vs, metadata: { ...metadata, annotations: { [STATUS_ANNOTATION]: status } } });
});
afterAll(() => api.close());

describe("greenlight canary status, judge: compare", () => {
  it("shows each comparison's estimate, interval and sample sizes", async () => {
    const table = await runCli(["canary", "status", "-n", NAMESPACE], undefined, env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(
      "error-rate-vs-stable inconclusive (+0.14% in [-0.5%, +1.5%], canary 8/1200, stable 57/10800), " +
        "latency-vs-stable pass (0.502 in [0.47, 0.53], canary 1200, stable 10800)",
    );
    const json = await runCli(["canary", "status", "-n", NAMESPACE, "-o", "json"], undefined, env);
    expect(JSON.parse(json.stdout)[0].lastChecks[0].judge).toEqual({
      estimate: 0.0014,
      lower: -0.005,
      upper: 0.015,
      canary: { requests: 1200, errors: 8 },
      stable: { requests: 10800, errors: 57 },
      windows: 4,
    });
  });
});

describe("greenlight canary analyze, judge: compare", () => {
  it("lists the comparisons instead of the ceilings, and exits 2 when Prometheus cannot answer", async () => {
    const result = await runCli(["canary", "analyze", "myapp-v2", "-n", NAMESPACE, "-o", "json"], undefined, env);
    expect(result.code).toBe(2);
    const analysis = JSON.parse(result.stdout);
    expect(analysis.judge).toBe("compare");
    expect(analysis.checks.map((check: { name: string; outcome: string }) => [check.name, check.outcome])).toEqual([
      ["request-count", "error"],
      ["error-rate-vs-stable", "error"],
      ["latency-vs-stable", "error"],
    ]);
    expect(analysis.checks[1].detail).toMatch(/^window not counted: canary: network error: /);
  });
});
