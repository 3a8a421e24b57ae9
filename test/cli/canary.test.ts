// `greenlight step`, `canary status` and `canary analyze` as the real binary, against the fake API server.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { NAMESPACE, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { fakeClusterEnv } from "./fake-cluster-env.ts";
import { runCli } from "./run.ts";

let api: FakeApiServer;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  api = await startFakeApiServer();
  env = await fakeClusterEnv(api);
});
afterAll(() => api.close());
beforeEach(() => {
  api.reset();
  seedCanary(api);
});

const writes = () => api.calls.filter((call) => call.verb === "patch" || call.verb === "create");

describe("greenlight step", () => {
  it("--dry-run prints the guarded patch and writes nothing", async () => {
    const result = await runCli(["step", "--once", "--dry-run", "-n", NAMESPACE], undefined, env);
    expect(result.stderr).not.toMatch(/^greenlight:/m);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/myapp-v2\s+Waiting\s+100\/0\s+dry-run/);
    expect(result.stdout).toContain('"op": "test"');
    expect(writes()).toHaveLength(0);
  });

  it("looks in GREENLIGHT_NAMESPACES over -A, and defers everything past --deadline", async () => {
    const elsewhere = await runCli(["step", "--once", "-A", "-o", "json"], undefined, {
      ...env,
      GREENLIGHT_NAMESPACES: "staging",
    });
    expect(elsewhere.code).toBe(0);
    expect(JSON.parse(elsewhere.stdout).canaries).toEqual([]);

    // Listing takes longer than the deadline: the pass may start nothing after it.
    api.setLatency(1500);
    const late = await runCli(["step", "--once", "-A", "--deadline", "1s", "-o", "json"], undefined, {
      ...env,
      GREENLIGHT_NAMESPACES: NAMESPACE,
    }).finally(() => api.setLatency(0));
    expect(late.code).toBe(0);
    const report = JSON.parse(late.stdout);
    expect(report.canaries).toEqual([]);
    expect(report.deferred).toEqual([{ namespace: NAMESPACE, deployment: "myapp-v2" }]);
    expect(writes()).toHaveLength(0);

    const bad = await runCli(["step", "--once", "--deadline", "soon"], undefined, env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^greenlight: --deadline soon: /m);
  });

  it("bounds every API call with --call-timeout, and names a bad value", async () => {
    const bounded = await runCli(
      ["step", "--once", "-n", NAMESPACE, "--call-timeout", "5s", "-o", "json"],
      undefined,
      env,
    );
    expect(bounded.code).toBe(0);
    expect(JSON.parse(bounded.stdout).canaries[0]).toMatchObject({ outcome: "written", phase: "Waiting" });
    for (const value of ["0s", "quick"]) {
      const bad = await runCli(["step", "--once", "--call-timeout", value], undefined, env);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(new RegExp(`^greenlight: --call-timeout ${value}: `, "m"));
    }
  });

  it("steps for real and reports JSON with -o json; canary status then shows it", async () => {
    const result = await runCli(["step", "--once", "-n", NAMESPACE, "-o", "json"], undefined, env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.canaries[0]).toMatchObject({ deployment: "myapp-v2", outcome: "written", phase: "Waiting" });
    const status = await runCli(["canary", "status", "-A", "-o", "json"], undefined, env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)[0]).toMatchObject({
      namespace: NAMESPACE,
      deployment: "myapp-v2",
      phase: "Waiting",
      weights: { stable: 100, canary: 0 },
    });
    const table = await runCli(["canary", "status", "-n", NAMESPACE], undefined, env);
    expect(table.stdout).toMatch(/^NAMESPACE\s+CANARY\s+VERSION\s+WEIGHTS\s+PHASE/);
    expect(table.stdout).toMatch(/production\s+myapp-v2\s+v2\.0\s+100\/0\s+Waiting/);
  });

  it("fails with one line when there is no cluster", async () => {
    const result = await runCli(["step", "--once", "-n", NAMESPACE], undefined, {
      KUBECONFIG: "/nonexistent/kubeconfig",
      HOME: "/nonexistent",
      KUBERNETES_SERVICE_HOST: "",
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^greenlight: /);
  });
});

describe("greenlight canary analyze", () => {
  it("prints every check and exits 2 when Prometheus cannot answer", async () => {
    const result = await runCli(["canary", "analyze", "myapp-v2", "-n", NAMESPACE], undefined, env);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^CHECK\s+VALUE\s+THRESHOLD\s+OUTCOME/);
    expect(result.stdout).toMatch(/error-rate\s+-\s+<= 0\.01\s+error/);
    expect(result.stdout).toMatch(/unreachable|ECONNREFUSED/);
    expect(result.stderr.trim()).toBe("greenlight: production/myapp-v2: inconclusive (no data or errors)");
  });

  it("names a missing Deployment", async () => {
    const result = await runCli(["canary", "analyze", "nope", "-n", NAMESPACE], undefined, env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^greenlight: reading Deployment production\/nope: .*not found/);
  });
});
