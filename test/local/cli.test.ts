// `greenlight start` as a user runs it: startup lines on stderr, JSON logs on stdout, a clean exit on SIGTERM.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLocalTls, TLS_DIR } from "../../scripts/local/ca.ts";
import { resolveSettings } from "../../scripts/local/settings.ts";
import { servingHosts } from "../../scripts/local/stack.ts";
import { freePort } from "../../scripts/services/children.ts";

const BIN = fileURLToPath(new URL("../../scripts/greenlight.mjs", import.meta.url));

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: "pipe" });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  child.stdin.end();
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

describe("greenlight start", () => {
  let cwd: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), "greenlight-start-"));
    // The CA and serving certificate are made here, so the child only reads them (key generation is the slow part).
    const settings = resolveSettings({}, {}, cwd);
    await ensureLocalTls({ dir: join(settings.home, TLS_DIR), hosts: servingHosts(settings) });
    env = {
      GREENLIGHT_HOME: settings.home,
      KUBECONFIG: join(cwd, "no-such-kubeconfig"),
      GREENLIGHT_PORT: "0",
      GREENLIGHT_WEBHOOK_PORT: "0",
      GREENLIGHT_FLAGS_PORT: "0",
      GREENLIGHT_ADMIN_TOKEN: "",
    };
  });
  afterAll(() => rm(cwd, { recursive: true, force: true }));

  it("serves until SIGTERM, then closes and exits 0", async () => {
    const started = run(["start"], env);
    try {
      for (let i = 0; i < 1200 && !started.stderr().includes("Ctrl-C to stop"); i += 1) {
        if (started.child.exitCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const banner = started.stderr();
      expect(banner).toContain("greenlight local stack (Ctrl-C to stop)");
      expect(banner).toContain("Webhook CA (reused):");
      expect(banner).toMatch(/Flag admin token, generated for this run/);
      const page = /page {6}(http:\/\/127\.0\.0\.1:\d+)\//.exec(banner)?.[1];
      expect(page).toBeDefined();
      expect(await (await fetch(`${page}/healthz`)).json()).toEqual({ status: "ok" });
    } finally {
      started.child.kill("SIGTERM");
    }
    expect(await started.exited).toBe(0);
    // Not a terminal: JSON lines, ending with the shutdown.
    const records = started
      .stdout()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { msg: string; level: number });
    const messages = records.map((record) => record.msg);
    expect(messages).toContain("local stack started");
    expect(messages.filter((message) => /^the kubeconfig from KUBECONFIG cannot be read/.test(message))).toHaveLength(
      1,
    );
    expect(messages.slice(-3)).toEqual(["signal received", "shutting down", "stopped"]);
  }, 60_000);

  it("fails with one line naming the flag when a port is taken", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const attempt = run(["start", "--port", String(taken)], env);
      expect(await attempt.exited).toBe(1);
      expect(attempt.stderr()).toBe(
        `greenlight: cannot serve the / page on 127.0.0.1:${taken}: the port is taken; pass --port with a free port (or set GREENLIGHT_PORT)\n`,
      );
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, 60_000);

  it("refuses a bad setting before opening anything", async () => {
    const port = await freePort();
    const attempt = run(["start", "--step-interval", "soon", "--port", String(port)], env);
    expect(await attempt.exited).toBe(1);
    expect(attempt.stderr()).toMatch(/^greenlight: --step-interval "soon" is invalid; accepted: a positive duration/);
    expect(attempt.stderr().trim().split("\n")).toHaveLength(1);
  }, 60_000);
});
