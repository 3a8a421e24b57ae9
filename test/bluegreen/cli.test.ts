// `greenlight bluegreen switch|rollback` as the real binary, against the fake API server and its service proxy.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { attachProxy, type FakeProxy } from "../../scripts/fakes/kube/fake-proxy.ts";
import { runCli } from "../cli/run.ts";
import {
  colorDeployment,
  MAIN,
  NAMESPACE,
  recordedEvents,
  seedBlueGreen,
  storedService,
  syncEndpoints,
  writes,
} from "./objects.ts";

let api: FakeApiServer;
let proxy: FakeProxy;
let env: NodeJS.ProcessEnv;
let controller: NodeJS.Timeout | undefined;

beforeAll(async () => {
  api = await startFakeApiServer();
  proxy = attachProxy(api);
  const dir = await mkdtemp(join(tmpdir(), "greenlight-bluegreen-"));
  const kubeconfig = join(dir, "config");
  await writeFile(kubeconfig, api.kubeConfig().exportConfig());
  env = { KUBECONFIG: kubeconfig };
});
afterAll(() => api.close());
beforeEach(() => {
  api.reset();
  seedBlueGreen(api);
  proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "ok" }));
  // The CLI runs in another process and waits for real: the endpoint controllers keep up here meanwhile.
  controller = setInterval(() => syncEndpoints(api), 50);
});
afterEach(() => clearInterval(controller));

const lastLine = (text: string) => text.trim().split("\n").at(-1);

describe("greenlight bluegreen switch", { timeout: 60_000 }, () => {
  it("switches, verifies and prints the report as JSON; progress goes to stderr", async () => {
    const result = await runCli(
      ["bluegreen", "switch", MAIN, "--to", "green", "-n", NAMESPACE, "-o", "json"],
      undefined,
      env,
    );
    expect(result.stderr).not.toMatch(/^greenlight:/m);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      namespace: NAMESPACE,
      service: MAIN,
      from: "blue",
      to: "green",
      outcome: "switched",
      phase: "Switched",
      smoke: [{ attempt: 1, ok: true, status: 200, detail: "HTTP 200" }],
    });
    expect(result.stderr).toMatch(/^ {2}smoke 1\/5: GET production\/myapp-green:80\/health -> HTTP 200$/m);
    expect(result.stderr).toMatch(/^ {2}switched production\/myapp: version blue -> green$/m);
    expect(storedService(api).spec.selector.version).toBe("green");
    expect(recordedEvents(api).map((event) => event.reason)).toEqual(["BlueGreenSwitched"]);
  });

  it("exits 1 with the short counts as the one-line reason when the new version is not rolled out", async () => {
    api.put(colorDeployment("green", { status: { readyReplicas: 2, availableReplicas: 2 } }));
    const result = await runCli(["bluegreen", "switch", MAIN, "--to", "green", "-n", NAMESPACE], undefined, env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^NAMESPACE\s+SERVICE\s+FROM\s+TO\s+OUTCOME\s+MESSAGE$/m);
    expect(result.stdout).toMatch(/^production\s+myapp\s+blue\s+green\s+waiting\s+/m);
    expect(lastLine(result.stderr)).toBe(
      "greenlight: production/myapp-green (version green) is not ready: not fully rolled out: 2 of 3 ready, 2 of 3 available; Service production/myapp still selects version blue",
    );
    expect(writes(api)).toHaveLength(0);
  });

  it("--dry-run prints the guarded patch and changes nothing", async () => {
    const result = await runCli(
      ["bluegreen", "switch", MAIN, "--to", "green", "-n", NAMESPACE, "--dry-run"],
      undefined,
      env,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^production\s+myapp\s+blue\s+green\s+dry-run\s+would switch production\/myapp from blue to green$/m,
    );
    expect(result.stdout).toContain('"op": "test"');
    expect(writes(api)).toHaveLength(0);
    expect(storedService(api).spec.selector.version).toBe("blue");
  });

  it("rejects bad arguments with one line naming the argument and what is accepted", async () => {
    const format = await runCli(["bluegreen", "switch", MAIN, "--to", "green", "-o", "yaml"], undefined, env);
    expect(format.code).toBe(1);
    expect(format.stderr.trim()).toBe("greenlight: -o yaml is not supported: use -o table or -o json");
    const version = await runCli(["bluegreen", "switch", MAIN, "--to", "-green-"], undefined, env);
    expect(version.code).toBe(1);
    expect(version.stderr.trim()).toMatch(/^greenlight: --to "-green-" is invalid: accepted: a label value/);
    const missing = await runCli(["bluegreen", "switch", MAIN], undefined, env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/required option '--to <version>' not specified/);
    expect(api.calls).toHaveLength(0);
  });

  it("documents the steps, exit codes and examples in --help", async () => {
    const result = await runCli(["bluegreen", "switch", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: greenlight bluegreen switch \[options\] <service>/);
    expect(result.stdout).toContain("--to <version>");
    expect(result.stdout).toContain("--dry-run");
    expect(result.stdout).toMatch(/Exit status: 0 when switched/);
    expect(result.stdout).toContain("greenlight bluegreen switch myapp --to green -n production");
    const group = await runCli(["bluegreen", "--help"]);
    expect(group.stdout).toMatch(/switch \[options\] <service>/);
    expect(group.stdout).toMatch(/rollback \[options\] <service>/);
    const rollback = await runCli(["bluegreen", "rollback", "--help"]);
    expect(rollback.stdout).toMatch(/Exit status: 0 when rolled back/);
    expect(rollback.stdout).toContain("greenlight bluegreen rollback myapp -n production");
    const top = await runCli(["--help"]);
    expect(top.stdout).toMatch(/^ {2}bluegreen\s+Switch a blue\/green Service/m);
  });
});

describe("greenlight bluegreen rollback", { timeout: 60_000 }, () => {
  it("exits 1 with a clear reason when greenlight never switched the Service", async () => {
    const none = await runCli(["bluegreen", "rollback", MAIN, "-n", NAMESPACE], undefined, env);
    expect(none.code).toBe(1);
    expect(lastLine(none.stderr)).toBe(
      "greenlight: no previous version recorded for production/myapp: it has no greenlight.dev/status annotation (greenlight has not switched it); switch explicitly with greenlight bluegreen switch myapp --to VERSION",
    );
    expect(writes(api)).toHaveLength(0);
  });

  it("rolls back to the version the last switch left", async () => {
    const switched = await runCli(["bluegreen", "switch", MAIN, "--to", "green", "-n", NAMESPACE], undefined, env);
    expect(switched.code).toBe(0);
    const rolled = await runCli(["bluegreen", "rollback", MAIN, "-n", NAMESPACE], undefined, env);
    expect(rolled.code).toBe(0);
    expect(rolled.stdout).toMatch(/^production\s+myapp\s+green\s+blue\s+rolled-back\s+rolled production\/myapp back/m);
    expect(storedService(api).spec.selector.version).toBe("blue");
  });
});
