// `greenlight rollout watch|status` as the real binary against the fake API server, the rollout driven between polls.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createKubeClients } from "../../functions/kube/clients.ts";
import { guardRollout } from "../../functions/rolling/guard.ts";
import { type FakeApiServer, type RecordedCall, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { runCli } from "../cli/run.ts";
import { NAME, NAMESPACE, rsName, type Scene, seedRollout } from "./objects.ts";

let api: FakeApiServer;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  api = await startFakeApiServer();
  const dir = await mkdtemp(join(tmpdir(), "greenlight-rollout-"));
  const kubeconfig = join(dir, "config");
  await writeFile(kubeconfig, api.kubeConfig().exportConfig());
  env = { KUBECONFIG: kubeconfig };
});
afterAll(() => api.close());
beforeEach(() => api.reset());

const isDeploymentRead = (call: RecordedCall) => call.verb === "get" && call.resource === "deployments";

/** Resolves once the CLI has read the Deployment `count` times: the rollout changes between two of its polls. */
async function afterReads(count: number): Promise<void> {
  while (api.calls.filter(isDeploymentRead).length < count) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** The new ReplicaSet's pods all ready, and the Deployment done. */
function complete(scene: Scene): void {
  const next = scene.replicaSet("v2.0");
  api.put({ ...next, status: { replicas: 3, readyReplicas: 3, availableReplicas: 3 } });
  scene.setStatus({ updated: 3, ready: 3, available: 3 }, "complete");
}

const watch = (...args: string[]) =>
  runCli(["rollout", "watch", NAME, "-n", NAMESPACE, "--interval", "0.02", ...args], undefined, env);

// Each case starts the real binary (tsx compiles on start), which takes seconds on a busy machine.
describe("greenlight rollout watch", { timeout: 90_000 }, () => {
  it("exits 0 when the rollout completes, with plain progress lines on stderr and the summary on stdout", async () => {
    const scene = seedRollout(api, { counts: { updated: 1, ready: 3, available: 3, total: 4 } });
    const run = watch();
    await afterReads(2);
    scene.setStatus({ updated: 2, ready: 3, available: 3, total: 4 }, "progressing");
    await afterReads(4);
    complete(scene);
    const result = await run;
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      "deployment production/myapp successfully rolled out (revision 2, updated 3/3, ready 3/3, available 3/3)\n",
    );
    expect(result.stderr.split("\n")).toEqual([
      "production/myapp revision 2: updated 1/3, ready 3/3, available 3/3 - 1 of 3 new replicas have been updated",
      "production/myapp revision 2: updated 2/3, ready 3/3, available 3/3 - 2 of 3 new replicas have been updated",
      "production/myapp revision 2: updated 3/3, ready 3/3, available 3/3 - successfully rolled out",
      "",
    ]);
  });

  it("exits 1 when the progress deadline passes", async () => {
    const scene = seedRollout(api);
    const run = watch();
    await afterReads(2);
    scene.setStatus({ updated: 1, ready: 3, available: 3, total: 4 }, "deadline");
    const result = await run;
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^deployment production\/myapp failed \(revision 2, updated 1\/3/);
    expect(result.stderr.trim().split("\n").at(-1)).toBe(
      `greenlight: production/myapp: rollout failed: exceeded its progress deadline: ReplicaSet "${rsName("v2.0")}" has timed out progressing.`,
    );
  });

  it("exits 1 when new pods crash-loop, listing each pod and container", async () => {
    const scene = seedRollout(api, { counts: { updated: 2, ready: 3, available: 3, total: 5 } });
    const run = watch("-o", "json");
    await afterReads(2);
    scene.addPods("v2.0", "crash-loop", 2);
    const result = await run;
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({
      namespace: NAMESPACE,
      deployment: NAME,
      result: "failed",
      exitCode: 1,
      revision: 2,
      desired: 3,
      updated: 2,
      reason: `new pods crash-loop: ${rsName("v2.0")}-0/myapp, ${rsName("v2.0")}-1/myapp`,
    });
    expect(summary.crashLoops).toEqual([
      {
        pod: `${rsName("v2.0")}-0`,
        container: "myapp",
        restarts: 5,
        waiting: "CrashLoopBackOff",
        lastExitCode: 1,
        lastReason: "Error",
      },
      {
        pod: `${rsName("v2.0")}-1`,
        container: "myapp",
        restarts: 5,
        waiting: "CrashLoopBackOff",
        lastExitCode: 1,
        lastReason: "Error",
      },
    ]);
    expect(result.stderr).toMatch(/crash-looping: myapp-\w+-0\/myapp, myapp-\w+-1\/myapp\n/);
  });

  it("exits 1 when the guard rolls the watched rollout back", async () => {
    const scene = seedRollout(api);
    const run = watch();
    await afterReads(2);
    scene.setStatus({ updated: 1, ready: 3, available: 3, total: 4 }, "deadline");
    const clients = createKubeClients(api.kubeConfig(), "test-guard");
    const deployment = await clients.apps.readNamespacedDeployment({ namespace: NAMESPACE, name: NAME });
    // A deadline read by the watch first is fine too: either way the rollout failed.
    await guardRollout({ clients, now: new Date("2026-11-26T10:00:00Z"), dryRun: false }, deployment);
    const result = await run;
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^deployment production\/myapp failed/);
  });

  it("exits 2 when --timeout passes first", async () => {
    seedRollout(api);
    const result = await watch("--timeout", "2");
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^deployment production\/myapp timed out \(revision 2, updated 1\/3/);
    expect(result.stdout).toMatch(/\n {2}not finished after \d+s: 1 of 3 new replicas have been updated\n$/);
    expect(result.stderr.trim().split("\n").at(-1)).toBe("greenlight: production/myapp: rollout timed out");
  });

  it("fails with one line when the Deployment does not exist or a flag is wrong", async () => {
    const missing = await runCli(["rollout", "watch", "nope", "-n", NAMESPACE], undefined, env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^greenlight: reading Deployment production\/nope: .*not found\n$/);
    const bad = await runCli(["rollout", "watch", NAME, "--timeout", "never"], undefined, env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^greenlight: --timeout never is invalid: accepted: seconds above 0/);
  });

  it("documents every exit code in --help, with examples", async () => {
    const help = await runCli(["rollout", "watch", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit status:\n {2}0 {2}the rollout is done\n {2}1 {2}it failed/);
    expect(help.stdout).toMatch(/\n {2}2 {2}it did not finish within --timeout\n/);
    expect(help.stdout).toContain("greenlight rollout watch myapp -n production");
    const status = await runCli(["rollout", "status", "--help"]);
    expect(status.stdout).toMatch(/\n {2}3 {2}it is still progressing\n/);
  });
});

describe("greenlight rollout status", { timeout: 90_000 }, () => {
  it("exits 3 while the rollout is progressing", async () => {
    seedRollout(api);
    const progressing = await runCli(["rollout", "status", NAME, "-n", NAMESPACE], undefined, env);
    expect(progressing.code).toBe(3);
    expect(progressing.stdout).toBe(
      "deployment production/myapp still progressing (revision 2, updated 1/3, ready 3/3, available 3/3)\n  1 of 3 new replicas have been updated\n",
    );
    expect(progressing.stderr).toBe("greenlight: production/myapp: rollout still progressing\n");
  });

  it("exits 0 once it is done, 1 after the deadline", async () => {
    const scene = seedRollout(api);
    complete(scene);
    const done = await runCli(["rollout", "status", NAME, "-n", NAMESPACE, "-o", "json"], undefined, env);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ result: "done", exitCode: 0, available: 3, crashLoops: [] });
    scene.setStatus({ updated: 1, ready: 3, available: 3, total: 4 }, "deadline");
    const failed = await runCli(["rollout", "status", NAME, "-n", NAMESPACE], undefined, env);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^deployment production\/myapp failed/);
  });
});
