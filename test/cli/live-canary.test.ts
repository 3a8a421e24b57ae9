// `greenlight canary status --watch` as the real binary against the fake API server: two polls, then Ctrl-C.
//
// Off a terminal (a pipe) it must write one line per canary change and exit 130 on SIGINT. The terminal path is
// run under a pseudo-terminal from `script` (Debian's bsdutils, an essential package, so always there; no npm package
// gives one without a native build); the exact escape sequences are asserted in live.test.ts with a fake stream.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { NAMESPACE, seedCanary, virtualService } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { runCli } from "./run.ts";

const ESCAPE = String.fromCharCode(27);
const BIN = fileURLToPath(new URL("../../scripts/greenlight.mjs", import.meta.url));

let api: FakeApiServer;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  api = await startFakeApiServer();
  const dir = await mkdtemp(join(tmpdir(), "greenlight-kube-"));
  const kubeconfig = join(dir, "config");
  await writeFile(kubeconfig, api.kubeConfig().exportConfig());
  env = { ...process.env, KUBECONFIG: kubeconfig, PROMETHEUS_URL: "http://127.0.0.1:9" };
});
afterAll(() => api.close());
beforeEach(() => {
  api.reset();
  seedCanary(api);
});

/** Output collected from a running child, and a promise of the first time it matches. */
function follow(child: ChildProcess) {
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(stdout)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
    check();
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return {
    output: () => ({ stdout, stderr }),
    exited,
    until: (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} in:\n${stdout}\n${stderr}`)), 15_000);
        waiters.push({
          pattern,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        check();
      }),
  };
}

describe("greenlight canary status --watch", () => {
  it("off a terminal writes one line per canary change, and exits 130 on Ctrl-C", async () => {
    const child = spawn(process.execPath, [BIN, "canary", "status", "-n", NAMESPACE, "--watch", "--interval", "1s"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const run = follow(child);
    await run.until(/myapp-v2 .* weights 100\/0/);
    api.put(virtualService({ stable: 70, canary: 30 }));
    await run.until(/weights 70\/30/);
    child.kill("SIGINT");
    expect(await run.exited).toBe(130);
    const { stdout, stderr } = run.output();
    expect(stdout).toMatch(/^production\/myapp-v2 v2\.0 - weights 100\/0 step -: /);
    expect(stdout.trimEnd().split("\n")).toEqual([
      expect.stringMatching(/^production\/myapp-v2 v2\.0 - weights 100\/0 step -: /),
      expect.stringMatching(/^production\/myapp-v2 v2\.0 - weights 70\/30 step -: /),
    ]);
    expect(stdout).not.toContain("\x1b");
    expect(stderr).toBe("");
  }, 30_000);

  it("with -o json writes one JSON document per change (NDJSON)", async () => {
    const child = spawn(
      process.execPath,
      [BIN, "canary", "status", "-n", NAMESPACE, "--watch", "--interval", "1s", "-o", "json"],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    );
    const run = follow(child);
    await run.until(/"canary":0/);
    api.put(virtualService({ stable: 50, canary: 50 }));
    await run.until(/"canary":50/);
    child.kill("SIGINT");
    expect(await run.exited).toBe(130);
    const documents = run
      .output()
      .stdout.trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(documents.map((document) => document.weights)).toEqual([
      { stable: 100, canary: 0 },
      { stable: 50, canary: 50 },
    ]);
    expect(documents[0]).toMatchObject({ namespace: NAMESPACE, deployment: "myapp-v2" });
  }, 30_000);

  it("rejects a bad --interval, and without --watch prints the table once as before", async () => {
    const bad = await runCli(["canary", "status", "--watch", "--interval", "soon"], undefined, env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^greenlight: --interval soon: /);
    const once = await runCli(["canary", "status", "-n", NAMESPACE], undefined, env);
    expect(once.code).toBe(0);
    expect(once.stdout).toMatch(/^NAMESPACE\s+CANARY\s+VERSION\s+WEIGHTS\s+PHASE/);
  }, 30_000);
});

describe("greenlight canary status --watch on a pseudo-terminal (script)", () => {
  it("redraws the table in place with a weight bar, then shows the cursor and exits 130 on Ctrl-C", async () => {
    const command = `stty cols 120 rows 40; exec '${process.execPath}' '${BIN}' canary status -n ${NAMESPACE} --watch --interval 1s`;
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      env: { ...env, TERM: "xterm-256color", NO_COLOR: "" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const run = follow(child);
    await run.until(/\[░{10}\] 0%/);
    api.put(virtualService({ stable: 70, canary: 30 }));
    await run.until(/\[█{3}░{7}\] 30%/);
    // Ctrl-C typed at the terminal: the pty's line discipline sends SIGINT to the command.
    child.stdin?.write("\x03");
    expect(await run.exited).toBe(130);
    const { stdout } = run.output();
    expect(stdout.startsWith("\x1b[?25l")).toBe(true);
    expect(stdout).toMatch(new RegExp(`${ESCAPE}\\[\\d+A${ESCAPE}\\[J`));
    expect(stdout).toMatch(
      /NAMESPACE\s+CANARY\s+VERSION\s+CANARY WEIGHT\s+PHASE\s+STEP\s+UPDATED\s+NEXT ANALYSIS\s+LAST CHECKS/,
    );
    expect(stdout).toContain("\x1b[?25h");
  }, 30_000);
});
