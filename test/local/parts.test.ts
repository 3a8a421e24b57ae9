// The local stack's parts on their own: settings, the CA files, the cluster probe, the stepper loop, the page, the log lines.
import { createHash, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { DestinationStream } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlueGreenReport } from "../../functions/bluegreen/switch.ts";
import { escapeHtml } from "../../functions/http/html.ts";
import type { KubeClients } from "../../functions/kube/clients.ts";
import type { RollingReport } from "../../functions/rolling/guard.ts";
import { ensureLocalTls, LocalCaError } from "../../scripts/local/ca.ts";
import { type Connection, loadLocalKubeConfig, probeCluster } from "../../scripts/local/cluster.ts";
import { createLogger, prettyLine } from "../../scripts/local/log.ts";
import { type LocalState, PAGE_CSP, renderPage, stepperText } from "../../scripts/local/page.ts";
import { createPageApp } from "../../scripts/local/page-server.ts";
import { LocalConfigError, localFlagsDir, resolveSettings } from "../../scripts/local/settings.ts";
import { listenProblem, servingHosts } from "../../scripts/local/stack.ts";
import { type PassReport, startStepperLoop } from "../../scripts/local/stepper-loop.ts";
import { drawnRows, runPageScript } from "./page-script.ts";

interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function collector(): { destination: DestinationStream; records: LogRecord[] } {
  const records: LogRecord[] = [];
  return {
    records,
    destination: {
      write(line: string) {
        for (const part of line.split("\n")) if (part) records.push(JSON.parse(part) as LogRecord);
      },
    },
  };
}

function kubeConfigFor(server: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  return config;
}

async function listening(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

describe("resolveSettings", () => {
  const cwd = "/work/app";

  it("defaults to loopback, the documented ports, a 60 s interval and ./.greenlight", () => {
    expect(resolveSettings({}, {}, cwd)).toEqual({
      host: "127.0.0.1",
      publicHost: "127.0.0.1",
      home: "/work/app/.greenlight",
      ports: { page: 8080, webhook: 8443, flags: 8081 },
      stepIntervalMs: 60_000,
      dryRun: false,
      rateLimit: true,
      onError: "allow",
      logLevel: "info",
      logFormat: "json",
    });
    expect(resolveSettings({}, {}, cwd, true).logFormat).toBe("pretty");
    expect(resolveSettings({ rateLimit: false }, {}, cwd).rateLimit).toBe(false);
  });

  it("takes the environment, and a flag over it", () => {
    const env = {
      GREENLIGHT_PORT: "3000",
      GREENLIGHT_WEBHOOK_PORT: "9443",
      GREENLIGHT_FLAGS_PORT: "9081",
      GREENLIGHT_HOME: "/var/greenlight",
      GREENLIGHT_STEP_INTERVAL: "1m30s",
      GREENLIGHT_LOG_LEVEL: "debug",
    };
    const settings = resolveSettings({ webhookPort: "10443", home: "state" }, env, cwd);
    expect(settings.ports).toEqual({ page: 3000, webhook: 10443, flags: 9081 });
    expect(settings.home).toBe("/work/app/state");
    expect(settings.stepIntervalMs).toBe(90_000);
    expect(settings.logLevel).toBe("debug");
  });

  it("names the variable (and its flag) or the flag in what it refuses", () => {
    const refuse = (flags: object, env: Record<string, string>) => () => resolveSettings(flags, env, cwd);
    expect(refuse({}, { GREENLIGHT_FLAGS_PORT: "80a" })).toThrow(
      'GREENLIGHT_FLAGS_PORT (or --flags-port) "80a" is not a port: use 0..65535 (0 picks a free one)',
    );
    expect(refuse({ port: "70000" }, {})).toThrow('--port "70000" is not a port');
    expect(refuse({ stepInterval: "0s" }, {})).toThrow(
      /^--step-interval "0s" is invalid; accepted: a positive duration/,
    );
    expect(refuse({ host: "not a host" }, {})).toThrow(/--host "not a host" is neither a host name nor an IP address/);
    expect(refuse({ logFormat: "xml" }, {})).toThrow('--log-format "xml" is not supported: use json, pretty');
    expect(refuse({ host: "0.0.0.0", publicHost: "::" }, {})).toThrow(LocalConfigError);
  });

  it("gives a wildcard bind a public host clients can use, and puts every name in the certificate", () => {
    const settings = resolveSettings({ host: "0.0.0.0" }, {}, cwd);
    expect(settings.publicHost).toBe("localhost");
    expect(servingHosts(settings)).toEqual(["localhost", "127.0.0.1", "::1"]);
    expect(servingHosts(resolveSettings({ host: "10.0.0.5", publicHost: "dev.example.test" }, {}, cwd))).toEqual([
      "localhost",
      "127.0.0.1",
      "::1",
      "dev.example.test",
      "10.0.0.5",
    ]);
  });

  it("says which flag to change when a port cannot be had", () => {
    const error = (code: string) => Object.assign(new Error(code), { code });
    expect(listenProblem("webhook", "127.0.0.1", 443, error("EACCES"))).toBe(
      "cannot serve the webhooks on 127.0.0.1:443: ports below 1024 need privileges; pass --webhook-port with a port above 1023",
    );
    expect(listenProblem("page", "192.0.2.1", 8080, error("EADDRNOTAVAIL"))).toBe(
      "cannot listen on 192.0.2.1: it is not an address of this machine; pass --host 127.0.0.1 (or set GREENLIGHT_HOST)",
    );
  });

  it("keeps the flag files in GREENLIGHT_FLAGS_DIR, else in the stack's home", () => {
    expect(localFlagsDir({}, "/p")).toBe("/p/.greenlight");
    expect(localFlagsDir({ GREENLIGHT_HOME: "h" }, "/p")).toBe("/p/h");
    expect(localFlagsDir({ GREENLIGHT_HOME: "h" }, "/p", "/state")).toBe("/state");
    expect(localFlagsDir({ GREENLIGHT_HOME: "h", GREENLIGHT_FLAGS_DIR: "f" }, "/p", "/state")).toBe("/p/f");
  });
});

describe("ensureLocalTls", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "greenlight-ca-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("keeps the CA and issues a new serving certificate when a new host must be covered", async () => {
    const first = await ensureLocalTls({ dir, hosts: ["localhost", "127.0.0.1"] });
    const again = await ensureLocalTls({ dir, hosts: ["localhost", "127.0.0.1"] });
    expect(again).toMatchObject({ caCreated: false, servingIssued: false, fingerprint: first.fingerprint });

    const widened = await ensureLocalTls({ dir, hosts: ["localhost", "127.0.0.1", "host.docker.internal", "::1"] });
    expect(widened).toMatchObject({ caCreated: false, servingIssued: true, fingerprint: first.fingerprint });
    const serving = new X509Certificate(await readFile(widened.certPath, "utf8"));
    expect(serving.checkHost("host.docker.internal")).toBe("host.docker.internal");
    expect(serving.checkIP("::1")).toBe("::1");
    expect(serving.checkIssued(new X509Certificate(widened.caCertPem))).toBe(true);
    // Key files are for this user only.
    const { stat } = await import("node:fs/promises");
    expect((await stat(widened.caKeyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(widened.keyPath)).mode & 0o777).toBe(0o600);
  });

  it("replaces a serving certificate close to its end, but never the CA", async () => {
    const now = new Date();
    const first = await ensureLocalTls({ dir, hosts: ["localhost"], now });
    const later = new Date(first.servingNotAfter.getTime() - 10 * 86_400_000);
    const renewed = await ensureLocalTls({ dir, hosts: ["localhost"], now: later });
    expect(renewed.servingIssued).toBe(true);
    expect(renewed.fingerprint).toBe(first.fingerprint);
    expect(renewed.servingNotAfter.getTime()).toBeGreaterThan(first.servingNotAfter.getTime());
  });

  it("refuses a half CA or a broken one, saying to delete the directory", async () => {
    const half = await mkdtemp(join(tmpdir(), "greenlight-ca-half-"));
    try {
      const made = await ensureLocalTls({ dir: half, hosts: ["localhost"] });
      await unlink(made.caKeyPath);
      const missing = ensureLocalTls({ dir: half, hosts: ["localhost"], settleMs: 200 });
      await expect(missing).rejects.toThrow(LocalCaError);
      await expect(missing).rejects.toThrow(`${made.caKeyPath} is missing but its partner exists: delete ${half}`);
      await writeFile(made.caKeyPath, "not a key");
      await expect(ensureLocalTls({ dir: half, hosts: ["localhost"] })).rejects.toThrow(
        new RegExp(`^the local CA in ${half} is unusable .*: delete ${half} to make a new CA`),
      );
    } finally {
      await rm(half, { recursive: true, force: true });
    }
  });
});

describe("finding the cluster", () => {
  it("says there is no kubeconfig instead of probing client-node's localhost:8080 fallback", () => {
    const loaded = loadLocalKubeConfig({}, "/nonexistent-home");
    expect(loaded).toEqual({
      reason: "no cluster configured (KUBECONFIG is unset and /nonexistent-home/.kube/config does not exist)",
      fix: "set KUBECONFIG to the kubeconfig of a running cluster",
    });
    const unreadable = loadLocalKubeConfig({ KUBECONFIG: "/nonexistent/kubeconfig" }, "/nonexistent-home");
    expect("reason" in unreadable && unreadable.reason).toMatch(/^the kubeconfig from KUBECONFIG cannot be read/);
  });

  it("gives up on a server that accepts but never answers, within its timeout", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    const port = await listening(silent);
    try {
      const result = await probeCluster(kubeConfigFor(`http://127.0.0.1:${port}`), 200);
      expect(result).toMatchObject({
        ok: false,
        reason: `no cluster at http://127.0.0.1:${port} (no answer within 0.2s)`,
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("tells a Kubernetes answer from any other HTTP server, and a refused login from a missing cluster", async () => {
    let answer: { status: number; body: unknown } = { status: 404, body: { error: "no route" } };
    const server = http.createServer((_req, res) => {
      res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body));
    });
    const port = await listening(server);
    const url = `http://127.0.0.1:${port}`;
    try {
      expect(await probeCluster(kubeConfigFor(url), 2_000)).toMatchObject({
        ok: false,
        reason: `${url} answered HTTP 404 but not as a Kubernetes API server`,
      });
      answer = { status: 401, body: { kind: "Status", apiVersion: "v1", status: "Failure", message: "Unauthorized" } };
      expect(await probeCluster(kubeConfigFor(url), 2_000)).toMatchObject({
        ok: false,
        reason: `the server at ${url} refused the kubeconfig's credentials (401 Unauthorized)`,
      });
      answer = { status: 403, body: { kind: "Status", apiVersion: "v1", status: "Failure", message: "forbidden" } };
      expect(await probeCluster(kubeConfigFor(url), 2_000)).toMatchObject({ ok: true, server: url, context: "ctx" });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("the stepper loop", () => {
  const clients = { instance: "test" } as unknown as KubeClients;
  const report = (startedAt: string): PassReport => ({
    startedAt,
    canaries: [],
    blueGreen: [],
    rolling: [],
    deferred: [],
  });

  it("goes idle once, then active when the cluster appears, and lets a pass in flight finish on stop", async () => {
    const logs = collector();
    const answers: Connection[] = [
      {
        ok: false,
        server: "https://k8s:6443",
        reason: "no cluster at https://k8s:6443 (ECONNREFUSED)",
        fix: "start it",
      },
      {
        ok: false,
        server: "https://k8s:6443",
        reason: "no cluster at https://k8s:6443 (ECONNREFUSED)",
        fix: "start it",
      },
      { ok: true, clients, server: "https://k8s:6443", context: "dev" },
    ];
    let releasePass: () => void = () => undefined;
    const deadlines: Date[] = [];
    let finished = 0;
    const loop = startStepperLoop({
      intervalMs: 60_000,
      retryMs: 10,
      logger: createLogger({ level: "debug", destination: logs.destination }),
      connect: async () => answers.shift() ?? { ok: true, clients, server: "https://k8s:6443", context: "dev" },
      runPass: async (_clients, deadline) => {
        deadlines.push(deadline);
        await new Promise<void>((resolve) => {
          releasePass = resolve;
        });
        finished += 1;
        return report(new Date().toISOString());
      },
    });
    await loop.ready;
    expect(loop.view()).toMatchObject({
      status: "idle",
      message:
        "no cluster at https://k8s:6443 (ECONNREFUSED): the stepper stays idle; start it; looking again every 0.01s",
    });
    for (let i = 0; i < 200 && deadlines.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(loop.view()).toMatchObject({ status: "active", context: "dev" });
    expect(logs.records.filter((r) => r.msg.startsWith("no cluster"))).toHaveLength(1);
    expect(logs.records.filter((r) => r.msg.startsWith("cluster answered"))).toHaveLength(1);

    // A pass is in flight: stop() moves its deadline to now (no new canary starts) and waits for it.
    const stopping = loop.stop();
    const deadline = deadlines[0];
    expect(deadline && deadline.getTime() <= Date.now()).toBe(true);
    expect(finished).toBe(0);
    releasePass();
    await stopping;
    expect(finished).toBe(1);
    expect(loop.view()).toMatchObject({ status: "stopped", passes: 1 });
  });

  it("stops without a pass that never ends once its bound is up, and says so", async () => {
    const logs = collector();
    let started = false;
    const loop = startStepperLoop({
      intervalMs: 60_000,
      stopTimeoutMs: 50,
      logger: createLogger({ level: "info", destination: logs.destination }),
      connect: async () => ({ ok: true, clients, server: "https://k8s:6443", context: "dev" }),
      runPass: () => {
        started = true;
        return new Promise<PassReport>(() => undefined);
      },
    });
    await loop.ready;
    for (let i = 0; i < 200 && !started; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    await loop.stop();
    expect(loop.view().status).toBe("stopped");
    expect(logs.records.some((r) => r.msg === "stopping without waiting longer for the stepper pass")).toBe(true);
  });
});

describe("blue/green and rolling updates in the stepper loop", () => {
  const clients = { instance: "test" } as unknown as KubeClients;
  const hostile = `"><script>alert(1)</script>&'`;
  const blueGreen: BlueGreenReport[] = [
    {
      namespace: "shop",
      service: hostile,
      deployment: "web-green",
      from: "blue",
      to: "green",
      outcome: "switched",
      message: hostile,
      events: [],
      warnings: [],
    },
    { namespace: "shop", service: "api", outcome: "failed", message: "smoke test failed", events: [], warnings: [] },
  ];
  const rolling: RollingReport[] = [
    {
      namespace: "shop",
      deployment: "worker",
      phase: "Failed",
      outcome: "rolled-back",
      message: hostile,
      problem: hostile,
      crashLoops: [],
      events: [],
      warnings: [],
    },
  ];

  it("keeps them in its view, logs their counts once per pass, and serves them at /api/state and on /", async () => {
    const logs = collector();
    let passes = 0;
    const loop = startStepperLoop({
      intervalMs: 60_000,
      logger: createLogger({ level: "info", destination: logs.destination }),
      connect: async () => ({ ok: true, clients, server: "https://k8s:6443", context: "dev" }),
      runPass: async () => {
        passes += 1;
        return { startedAt: "2026-11-26T09:59:00.000Z", canaries: [], blueGreen, rolling, deferred: [] };
      },
    });
    await loop.ready;
    for (let i = 0; i < 200 && loop.view().passes === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await loop.stop();
    expect(passes).toBe(1);
    const view = loop.view();
    expect(view.lastPass?.blueGreen).toEqual([
      {
        namespace: "shop",
        service: hostile,
        deployment: "web-green",
        from: "blue",
        to: "green",
        outcome: "switched",
        message: hostile,
      },
      { namespace: "shop", service: "api", outcome: "failed", message: "smoke test failed" },
    ]);
    expect(view.lastPass?.rolling).toEqual([
      {
        namespace: "shop",
        deployment: "worker",
        phase: "Failed",
        outcome: "rolled-back",
        message: hostile,
        problem: hostile,
      },
    ]);
    const passLines = logs.records.filter((r) => r.msg === "stepper pass");
    expect(passLines).toHaveLength(1);
    expect(passLines[0]).toMatchObject({ canaries: 0, blueGreen: 2, blueGreenFailed: 1, rolling: 1, rollingFailed: 0 });
    expect(logs.records.find((r) => r.msg === "blue/green switched")).toMatchObject({ service: hostile, to: "green" });
    expect(logs.records.find((r) => r.msg === "blue/green not switched")).toMatchObject({ level: 40, service: "api" });
    expect(logs.records.find((r) => r.msg === "rolling update rolled-back")).toMatchObject({ deployment: "worker" });

    // The page app serves that view as the state JSON, and escapes it on the page.
    const state: LocalState = {
      generatedAt: "2026-11-26T10:00:00.000Z",
      endpoints: [],
      flags: { where: "memory", items: [] },
      stepper: view,
      tls: { caCertPath: "/tmp/ca.crt", fingerprint: "AA", bundlePath: "/tmp/ca.bundle" },
      demo: { available: false },
    };
    const server = http.createServer(createPageApp({ state: async () => state, demoPath: "/nonexistent/demo.svg" }));
    const port = await listening(server);
    try {
      const json = (await (await fetch(`http://127.0.0.1:${port}/api/state`)).json()) as LocalState;
      expect(json.stepper.lastPass?.blueGreen).toEqual(view.lastPass?.blueGreen);
      expect(json.stepper.lastPass?.rolling).toEqual(view.lastPass?.rolling);
      const html = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(html).not.toContain("<script>alert(1)");
      expect(html).toContain(
        "<td>shop/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;</td><td>web-green</td>",
      );
      expect(html).toContain(
        "<td>shop/api</td><td>-</td><td>-</td><td>-</td><td>failed</td><td>smoke test failed</td>",
      );
      expect(html).toContain("<td>shop/worker</td><td>Failed</td><td>rolled-back</td><td>&quot;&gt;&lt;script&gt;");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("the / page", () => {
  const hostile = `"><script>alert(1)</script>&'`;
  const state: LocalState = {
    generatedAt: "2026-11-26T10:00:00.000Z",
    endpoints: [
      {
        name: "Flags <admin>",
        base: "http://127.0.0.1:8081",
        endpoints: [
          { method: "GET", path: "/admin/flags", url: "http://127.0.0.1:8081/admin/flags?a=1&b=2", note: hostile },
        ],
      },
    ],
    flags: {
      where: "files in /tmp/<dir>",
      version: 7,
      items: [
        {
          key: "k1",
          description: hostile,
          state: "partial",
          percentage: 20,
          segments: ["beta", hostile],
          revision: 7,
          updatedAt: "2026-11-26T09:00:00.000Z",
          updatedBy: "seed",
        },
      ],
    },
    stepper: {
      status: "active",
      intervalSeconds: 60,
      dryRun: false,
      server: "https://k8s:6443",
      context: "dev",
      passes: 3,
      lastPass: {
        startedAt: "2026-11-26T09:59:00.000Z",
        finishedAt: "2026-11-26T09:59:01.000Z",
        deferred: 0,
        canaries: [
          {
            namespace: "shop",
            deployment: "checkout-v2",
            phase: "RolledBack",
            weights: { stable: 100, canary: 0 },
            outcome: "written",
            problem: hostile,
          },
        ],
        blueGreen: [
          {
            namespace: "shop",
            service: hostile,
            deployment: "web-green",
            from: "blue",
            to: "green",
            outcome: "switched",
            message: hostile,
          },
        ],
        rolling: [
          { namespace: "shop", deployment: "worker", phase: "Progressing", outcome: "written", message: hostile },
        ],
      },
    },
    tls: { caCertPath: "/tmp/<ca>.crt", fingerprint: "AA:BB", bundlePath: "/tmp/ca.bundle" },
    demo: { available: false },
  };

  it("escapes every piece of user data it shows", () => {
    const html = renderPage(state);
    expect(html).not.toContain("<script>alert(1)");
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html).toContain("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;");
    expect(html).toContain("<td>beta, &quot;&gt;&lt;script&gt;");
    expect(html).toContain('href="http://127.0.0.1:8081/admin/flags?a=1&amp;b=2"');
    expect(html).toContain("Flags &lt;admin&gt;");
    expect(html).toContain("files in /tmp/&lt;dir&gt;");
    expect(html).toContain("<td>shop/checkout-v2</td><td>RolledBack</td><td>100 / 0</td><td>written</td>");
    const escaped = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;";
    expect(html).toContain(
      `<tbody id="bluegreen-rows"><tr><td>shop/${escaped}</td><td>web-green</td><td>blue</td><td>green</td><td>switched</td><td>${escaped}</td></tr></tbody>`,
    );
    expect(html).toContain(
      `<tbody id="rolling-rows"><tr><td>shop/worker</td><td>Progressing</td><td>written</td><td>${escaped}</td><td>-</td></tr></tbody>`,
    );
    const idle = renderPage({ ...state, stepper: { status: "idle", intervalSeconds: 60, dryRun: false, passes: 0 } });
    expect(idle).toContain('<td colspan="6" class="empty">no blue/green services: the stepper is idle</td>');
    expect(idle).toContain('<td colspan="5" class="empty">no rolling updates: the stepper is idle</td>');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("allows exactly its own inline script and style through the Content-Security-Policy", () => {
    const html = renderPage(state);
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "";
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
    const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
    expect(PAGE_CSP).toContain(`script-src ${hash(script)}`);
    expect(PAGE_CSP).toContain(`style-src ${hash(style)}`);
    expect(script).toContain('fetch("/api/state"');
    // The script writes data with textContent only.
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it("refreshes the tables from /api/state with text only, when its inline script runs", async () => {
    const ids = [
      "flag-rows",
      "canary-rows",
      "bluegreen-rows",
      "rolling-rows",
      "stepper",
      "flags-version",
      "demo",
      "demo-chart",
      "updated",
    ];
    const fresh: LocalState = {
      ...state,
      generatedAt: "2026-11-26T10:00:05.000Z",
      demo: { available: true, url: "/demo.svg?v=42" },
      stepper: { ...state.stepper, status: "idle", message: "no cluster at https://k8s" },
    };
    const run = await runPageScript(renderPage(state), fresh, ids);
    const { elements, body } = run;
    expect(run.polled).toBe(true);
    const text = (id: string) => drawnRows(run, id);
    expect(text("flag-rows")).toEqual([["k1", "partial", "20%", `beta, ${hostile}`, "7", hostile]]);
    // The last pass stays on show while the stepper is idle.
    expect(text("canary-rows")).toEqual([["shop/checkout-v2", "RolledBack", "100 / 0", "written", hostile]]);
    expect(text("bluegreen-rows")).toEqual([[`shop/${hostile}`, "web-green", "blue", "green", "switched", hostile]]);
    expect(text("rolling-rows")).toEqual([["shop/worker", "Progressing", "written", hostile, "-"]]);
    expect(elements.get("stepper")?.textContent).toBe("stepper idle: no cluster at https://k8s");
    expect(elements.get("demo")?.hidden).toBe(false);
    expect(elements.get("demo-chart")?.getAttribute("src")).toBe("/demo.svg?v=42");
    expect(elements.get("updated")?.textContent).toBe("2026-11-26T10:00:05.000Z");
    expect(body.classes.has("stale")).toBe(false);
  });

  it("says what the stepper does in one sentence", () => {
    expect(
      stepperText({ status: "idle", intervalSeconds: 60, dryRun: false, passes: 0, message: "no cluster at x" }),
    ).toBe("stepper idle: no cluster at x");
    expect(stepperText({ ...state.stepper, dryRun: true })).toBe(
      "stepper active every 60s against context dev at https://k8s:6443 (dry run: nothing is written); last pass 2026-11-26T09:59:01.000Z",
    );
  });
});

describe("log lines", () => {
  it("prints a pino record as one readable line with its fields", () => {
    const time = new Date(2026, 10, 26, 9, 5, 7).getTime();
    const line = prettyLine(
      JSON.stringify({
        level: 40,
        time,
        name: "greenlight",
        component: "stepper",
        msg: "no cluster",
        server: "http://x y",
      }),
    );
    expect(line).toBe('09:05:07 WARN  [stepper] no cluster server="http://x y"\n');
    expect(prettyLine("not json")).toBe("not json\n");
  });
});
