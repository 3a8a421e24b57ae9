// The local stack in-process on port 0s: CA made once, webhook over HTTPS, flags, the / page, shutdown, the stepper loop.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DestinationStream } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthyReader, NAMESPACE, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { clusterFromEnv } from "../../scripts/local/cluster.ts";
import { createLogger } from "../../scripts/local/log.ts";
import { resolveSettings } from "../../scripts/local/settings.ts";
import { type LocalStack, LocalStackError, startLocalStack, startupLines } from "../../scripts/local/stack.ts";
import { freePort } from "../../scripts/services/children.ts";
import { loadReview } from "../fixtures/load.ts";
import { kubeconfigYaml } from "./kubeconfig.ts";

interface LogRecord {
  level: number;
  msg: string;
  component?: string;
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

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function httpsPost(url: string, body: unknown, ca?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = https.request(
      url,
      {
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
        ...(ca === undefined ? {} : { ca }),
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string): Promise<T> {
  for (let attempt = 0; attempt < 400; attempt += 1) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const ports0 = { port: "0", webhookPort: "0", flagsPort: "0" };

describe("the local stack without a cluster", () => {
  let cwd: string;
  let deadServer: string;
  let env: Record<string, string>;
  let first: LocalStack;
  let firstCaPem: string;
  let stack: LocalStack;
  const logs = collector();
  let probes = 0;

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), "greenlight-local-"));
    deadServer = `http://127.0.0.1:${await freePort()}`;
    const kubeconfig = join(cwd, "kubeconfig");
    await writeFile(kubeconfig, kubeconfigYaml(deadServer));
    env = { KUBECONFIG: kubeconfig };
    const settings = resolveSettings(ports0, env, cwd);
    const firstLogs = collector();
    first = await startLocalStack({
      ...settings,
      cwd,
      env,
      logger: createLogger({ level: "info", destination: firstLogs.destination }),
    });
    firstCaPem = await readFile(first.tls.caCertPath, "utf8");
    await first.close();

    // The second start keeps running for the tests below; its probe of the dead cluster is counted, and retried fast.
    const probe = clusterFromEnv(env, 1_000);
    stack = await startLocalStack({
      ...settings,
      cwd,
      env,
      logger: createLogger({ level: "debug", destination: logs.destination }),
      connect: async () => {
        probes += 1;
        return probe();
      },
      retryMs: 20,
    });
  });

  afterAll(async () => {
    await stack?.close();
    await rm(cwd, { recursive: true, force: true });
  });

  it("creates the CA on the first start and reuses it on the next (same fingerprint, same file)", async () => {
    expect(first.tls.caCreated).toBe(true);
    expect(stack.tls.caCreated).toBe(false);
    expect(stack.tls.servingIssued).toBe(false);
    expect(stack.tls.fingerprint).toBe(first.tls.fingerprint);
    expect(stack.tls.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(await readFile(stack.tls.caCertPath, "utf8")).toBe(firstCaPem);
    expect(stack.tls.caCertPath).toBe(join(cwd, ".greenlight", "tls", "ca.crt"));
    // The bundle is the base64 of the CA PEM, ready for clientConfig.caBundle.
    expect((await readFile(stack.tls.bundlePath, "utf8")).trim()).toBe(Buffer.from(firstCaPem).toString("base64"));
    const configurations = await readFile(stack.webhookConfigurationsPath, "utf8");
    expect(configurations).toContain(`url: ${stack.webhookPublicUrl}/mutate`);
    expect(configurations).toContain(`caBundle: ${stack.tls.caBundle}`);
  });

  it("prints where everything is, how to trust the CA and the generated admin token", () => {
    const text = startupLines(stack).join("\n");
    expect(stack.admin.generated).toBe(true);
    expect(text).toContain(stack.admin.token);
    expect(text).toContain(`curl --cacert ${stack.tls.caCertPath} ${stack.urls.webhook}/healthz`);
    expect(text).toContain(stack.tls.bundlePath);
    expect(text).toContain(`--url ${stack.urls.flags}`);
    expect(text).toContain("GREENLIGHT_ADMIN_TOKEN is unset");
    // The token is said once, to the user: never in the logs, which may be shipped elsewhere.
    expect(JSON.stringify(logs.records)).not.toContain(stack.admin.token);
  });

  it("answers an AdmissionReview over HTTPS for a client that trusts the printed CA, and only for one", async () => {
    const ca = await readFile(stack.tls.caCertPath, "utf8");
    const review = loadReview("create");
    const answer = await httpsPost(`${stack.urls.webhook}/mutate`, review, ca);
    expect(answer.status).toBe(200);
    const body = JSON.parse(answer.body) as { response: { uid: string; allowed: boolean; patch?: string } };
    expect(body.response.uid).toBe(review.request.uid);
    expect(body.response.allowed).toBe(true);
    const patch = JSON.parse(Buffer.from(body.response.patch ?? "", "base64").toString("utf8")) as { path: string }[];
    expect(patch.map((op) => op.path)).toContain("/spec/template/metadata/labels/version");
    // Without the CA the handshake fails: the server really presents a certificate from the local CA.
    await expect(httpsPost(`${stack.urls.webhook}/mutate`, review)).rejects.toThrow(/self-signed|certificate/);
  });

  it("evaluates a seeded example flag over OFREP, and the admin API takes the generated token", async () => {
    const evaluation = await fetch(`${stack.urls.flags}/ofrep/v1/evaluate/flags/payment_feature`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ context: { targetingKey: "user-1" } }),
    });
    expect(evaluation.status).toBe(200);
    expect(await evaluation.json()).toMatchObject({ key: "payment_feature", value: false, reason: "DISABLED" });

    const listed = await fetch(`${stack.urls.flags}/admin/flags`, {
      headers: { authorization: `Bearer ${stack.admin.token}` },
    });
    expect(listed.status).toBe(200);
    expect(JSON.stringify(await listed.json())).toContain("new_recommendation_engine");
    const refusedWrite = await fetch(`${stack.urls.flags}/admin/flags`, { headers: { authorization: "Bearer nope" } });
    expect(refusedWrite.status).toBe(401);
  });

  it("shows the endpoints and the live flags on /status, with user text escaped", async () => {
    const hostile = `<img src=x onerror="alert(1)"> & 'quoted' <script>alert(2)</script>`;
    const put = await fetch(`${stack.urls.flags}/admin/flags/escape_probe`, {
      method: "PUT",
      headers: { authorization: `Bearer ${stack.admin.token}`, "content-type": "application/json" },
      body: JSON.stringify({
        key: "escape_probe",
        state: "partial",
        percentage: 35,
        segments: ["beta"],
        description: hostile,
      }),
    });
    expect(put.status).toBeLessThan(300);

    const page = await fetch(`${stack.urls.page}/status`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    const html = await page.text();
    expect(html).toContain(
      "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;quoted&#39; &lt;script&gt;alert(2)&lt;/script&gt;",
    );
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<script>alert(2)");
    for (const url of [
      `${stack.urls.webhook}/mutate`,
      `${stack.urls.webhook}/validate`,
      `${stack.urls.webhook}/healthz`,
      `${stack.urls.webhook}/metrics`,
      `${stack.urls.flags}/ofrep/v1/evaluate/flags/{key}`,
      `${stack.urls.flags}/admin/flags`,
      `${stack.urls.page}/api/state`,
    ]) {
      expect(html).toContain(url.replaceAll("&", "&amp;"));
    }
    // Every example flag, and the new one with its percentage and segments.
    for (const key of ["new_recommendation_engine", "new_ui_interface", "payment_feature", "escape_probe"]) {
      expect(html).toContain(`<td>${key}</td>`);
    }
    expect(html).toContain("<td>35%</td><td>beta</td>");
    expect(html).toContain(`stepper idle: no cluster at ${deadServer}`);
    // No chart until `npm run demo` writes one.
    expect(html).toMatch(/<div id="demo" hidden>/);
  });

  it("serves the page's data as JSON at /api/state, and the demo chart once it exists", async () => {
    const response = await fetch(`${stack.urls.page}/api/state`);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const state = (await response.json()) as {
      flags: { version: number; items: { key: string; state: string; percentage: number; revision: number }[] };
      stepper: { status: string; message: string; server: string };
      endpoints: { endpoints: { url: string }[] }[];
      demo: { available: boolean; url?: string };
    };
    const byKey = new Map(state.flags.items.map((item) => [item.key, item]));
    expect(byKey.get("new_ui_interface")).toMatchObject({ state: "partial", percentage: 20 });
    expect(byKey.get("payment_feature")?.revision).toBeGreaterThan(0);
    expect(state.flags.version).toBeGreaterThanOrEqual(Math.max(...state.flags.items.map((item) => item.revision)));
    expect(state.stepper).toMatchObject({ status: "idle", server: deadServer });
    expect(state.stepper.message).toMatch(/^no cluster at .*: the stepper stays idle; set KUBECONFIG/);
    expect(state.endpoints.flatMap((group) => group.endpoints.map((e) => e.url))).toContain(
      `${stack.urls.flags}/admin/flags/{key}`,
    );
    expect(state.demo).toEqual({ available: false });
    expect((await fetch(`${stack.urls.page}/demo.svg`)).status).toBe(404);

    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`;
    await writeFile(join(cwd, ".greenlight", "demo.svg"), svg);
    const after = (await (await fetch(`${stack.urls.page}/api/state`)).json()) as {
      demo: { available: boolean; url: string };
    };
    expect(after.demo.available).toBe(true);
    const chart = await fetch(`${stack.urls.page}${after.demo.url}`);
    expect(chart.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
    expect(await chart.text()).toBe(svg);
    const html = await (await fetch(`${stack.urls.page}/status`)).text();
    expect(html).toContain(`<img id="demo-chart"`);
    expect(html).toContain(`src="${after.demo.url}"`);
    expect(html).not.toMatch(/<div id="demo" hidden>/);
  });

  it("says once that there is no cluster, however often it looks again", async () => {
    await until(
      () => probes,
      (count) => count >= 4,
      "four probes",
    );
    const said = logs.records.filter((record) => /no cluster at/.test(record.msg));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 40, component: "stepper" });
    expect(said[0]?.msg).toContain(deadServer);
    expect(logs.records.some((record) => record.msg === "stepper pass")).toBe(false);
  });

  it("logs one debug line per request", async () => {
    await fetch(`${stack.urls.page}/healthz?probe=1`);
    const line = await until(
      () =>
        logs.records.find(
          (record) => record.msg === "request" && record.path === "/healthz" && record.component === "page",
        ),
      (found) => found !== undefined,
      "the request line",
    );
    expect(line).toMatchObject({ level: 20, method: "GET", status: 200 });
  });

  it("refuses to start on a taken port with one line naming the flag, closing what it had opened", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const webhookPort = await freePort();
    try {
      const settings = resolveSettings(
        { port: "0", webhookPort: String(webhookPort), flagsPort: String(taken) },
        env,
        cwd,
      );
      const attempt = startLocalStack({ ...settings, cwd, env, logger: createLogger({ level: "silent" }) });
      await expect(attempt).rejects.toThrow(LocalStackError);
      await expect(attempt).rejects.toThrow(
        `cannot serve the flag API on 127.0.0.1:${taken}: the port is taken; pass --flags-port with a free port (or set GREENLIGHT_FLAGS_PORT)`,
      );
      // The webhook server had started before the flag port failed: it is closed again.
      expect(await refused(webhookPort)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it("closes every server on shutdown: the ports refuse connections afterwards", async () => {
    const ports = Object.values(stack.ports);
    for (const port of ports) expect(await refused(port)).toBe(false);
    await stack.close();
    for (const port of ports) expect(await refused(port)).toBe(true);
    expect(stack.stepper().status).toBe("stopped");
    // A second close is harmless.
    await stack.close();
    const messages = logs.records.map((record) => record.msg);
    expect(messages.slice(-2)).toEqual(["shutting down", "stopped"]);
  });
});

describe("the local stack against the fake Kubernetes API", () => {
  let api: FakeApiServer;
  let cwd: string;

  beforeAll(async () => {
    api = await startFakeApiServer();
    seedCanary(api);
    cwd = await mkdtemp(join(tmpdir(), "greenlight-local-kube-"));
  });
  afterAll(async () => {
    await api.close();
    await rm(cwd, { recursive: true, force: true });
  });

  it("runs stepper passes on its interval and shows the canary's status on the page", async () => {
    const logs = collector();
    const stack = await startLocalStack({
      ...resolveSettings(ports0, {}, cwd),
      stepIntervalMs: 50,
      cwd,
      env: {},
      logger: createLogger({ level: "info", destination: logs.destination }),
      kubeConfig: api.kubeConfig(),
      reader: healthyReader,
    });
    try {
      expect(stack.stepper()).toMatchObject({ status: "active", server: api.url });
      // First pass: Waiting (status written); second: the first step, 90/10.
      const state = await until(
        async () =>
          (await (await fetch(`${stack.urls.page}/api/state`)).json()) as {
            stepper: { passes: number; lastPass?: { canaries: { deployment: string; phase?: string }[] } };
          },
        (s) => s.stepper.lastPass?.canaries[0]?.phase === "Progressing",
        "the canary to progress",
      );
      expect(state.stepper.passes).toBeGreaterThanOrEqual(2);
      expect(state.stepper.lastPass?.canaries[0]).toMatchObject({
        namespace: NAMESPACE,
        deployment: "myapp-v2",
        phase: "Progressing",
        weights: { stable: 90, canary: 10 },
      });
      const vs = api.get("networking.istio.io/v1", "VirtualService", NAMESPACE, "myapp") as {
        spec: { http: { match?: unknown; route: { weight: number }[] }[] };
      };
      expect(vs.spec.http.find((route) => !route.match)?.route.map((r) => r.weight)).toEqual([90, 10]);

      // No blue/green or rolling Deployment is seeded: the state carries the empty lists, the page says so.
      expect(state.stepper.lastPass).toMatchObject({ blueGreen: [], rolling: [] });
      // A later pass under load may defer the canary (its 50 ms deadline passed): wait for a page that shows it.
      const row = `<td>${NAMESPACE}/myapp-v2</td><td>Progressing</td><td>90 / 10</td>`;
      const html = await until(
        async () => (await fetch(`${stack.urls.page}/status`)).text(),
        (page) => page.includes(row),
        "the page to show the canary",
      );
      expect(html).toContain('<td colspan="6" class="empty">no blue/green services found</td>');
      expect(html).toContain(`stepper active every 0.05s against context`);
      const passes = logs.records.filter((record) => record.msg === "stepper pass");
      expect(passes.length).toBeGreaterThanOrEqual(2);
      expect(logs.records.some((record) => /no cluster/.test(record.msg))).toBe(false);
    } finally {
      await stack.close();
    }
    expect(stack.stepper().status).toBe("stopped");
    // After stop, no more passes reach the API server.
    const calls = api.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(api.calls.length).toBe(calls);
  });
});
