// Peak memory of the real `greenlight` processes the manifests run, for sizing their requests and limits:
//
//   npx tsx test/manifests/memory.ts step [DEPLOYMENTS] [--from-source]     the CronJob's pass (default 500)
//   npx tsx test/manifests/memory.ts webhook [REQUESTS] [--from-source]     the webhook server (default 5000)
//
// Both run the CLI as a container would (scripts/greenlight.mjs: the compiled build in dist/cli, or with
// --from-source the TypeScript through tsx) and report the child's peak resident set size (getrusage maxrss,
// written when it exits) and, on Linux, the largest sum of its and its descendants' RSS seen every 10 ms.
//
// The pass:
// The in-process fake API server (scripts/fakes/kube) holds DEPLOYMENTS Deployments (default 500) spread over 10
// namespaces: 80% canaries with their VirtualService and DestinationRule, 10% blue/green pairs with their Services,
// 10% guarded rolling updates. Each Deployment is padded to the size a real API server returns (env, probes and a
// last-applied-configuration annotation: about 8 KiB of JSON), because the list of Deployments is what grows with the
// cluster. Two passes run in this process first (canaries enter Waiting, then take their first step), so the measured
// pass, in a child process started as the CronJob starts it, analyses every canary against a fake Prometheus.
// The child reports its peak resident set size (getrusage maxrss) when it exits.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { annotationName } from "../../functions/contract/annotations.ts";
import { createKubeClients } from "../../functions/kube/clients.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { canaryAnnotations, healthyReader, istioRouting, rolledOutStatus } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { generateWebhookCertificates } from "../../webhooks/certs/certs.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const NAMESPACES = 10;
const INTERVAL_MS = 60_000;

export interface StepMemory {
  deployments: number;
  /** Peak resident set size of the `greenlight step` process, in MiB. */
  maxRssMiB: number;
  /**
   * Largest sum of the resident set sizes of that process and all its descendants seen by sampling /proc every
   * 10 ms, in MiB: what a container's memory limit counts. Undefined without /proc.
   */
  sampledTreeRssMiB?: number;
  /** Wall time of the measured pass's process, start to exit, in seconds. */
  seconds: number;
  exitCode: number | null;
  /** Counts from the pass's JSON report. */
  canaries: number;
  blueGreen: number;
  rolling: number;
  deferred: number;
  error?: string;
  /** Prometheus queries the pass made. */
  prometheusQueries: number;
  /** Outcome of each canary, tallied. */
  canaryOutcomes: Record<string, number>;
  /** Which CLI ran: the compiled build (dist/cli) or the TypeScript sources through tsx. */
  mode: "build" | "source";
}

/** What a real API server adds to a Deployment that the generator below does not need: env, probes, resources. */
function container(name: string, image: string): Record<string, unknown> {
  return {
    name,
    image,
    ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
    env: Array.from({ length: 24 }, (_, i) => ({ name: `SETTING_${i}`, value: `value-${i}-${"x".repeat(24)}` })),
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
    livenessProbe: { httpGet: { path: "/health", port: 8080 }, initialDelaySeconds: 60, periodSeconds: 30 },
    readinessProbe: { httpGet: { path: "/ready", port: 8080 }, initialDelaySeconds: 30, periodSeconds: 10 },
  };
}

function deployment(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string>,
  image: string,
): Record<string, unknown> {
  const spec = {
    replicas: 2,
    selector: { matchLabels: labels },
    template: { metadata: { labels }, spec: { containers: [container("app", image)] } },
  };
  const applied = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels, annotations },
    spec,
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace,
      labels,
      annotations: { ...annotations, "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(applied) },
    },
    spec,
    status: rolledOutStatus(2),
  };
}

/** Seeds `count` Deployments: 80% canaries, 10% blue/green (in pairs), 10% rolling; returns how many of each. */
export function seedCluster(
  api: FakeApiServer,
  count: number,
): { canaries: number; blueGreen: number; rolling: number } {
  const tally = { canaries: 0, blueGreen: 0, rolling: 0 };
  for (let i = 0; i < count; i++) {
    const namespace = `team-${i % NAMESPACES}`;
    const app = `app-${i}`;
    const kind = i % 20;
    if (kind < 16) {
      const labels = { app, version: "v2" };
      const annotations = canaryAnnotations(app);
      api.put(deployment(namespace, `${app}-v2`, labels, annotations, `registry.example/${app}:v2`));
      for (const object of istioRouting(namespace, app)) api.put(object);
      tally.canaries++;
    } else if (kind === 16) {
      // Two Deployments (blue serving, green idle) behind one main Service and a Service per colour.
      for (const colour of ["blue", "green"]) {
        const labels = { app, version: colour };
        const annotations = { [annotationName("strategy")]: "blue-green", [annotationName("service")]: app };
        api.put(deployment(namespace, `${app}-${colour}`, labels, annotations, `registry.example/${app}:${colour}`));
        api.put({
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: `${app}-${colour}`, namespace },
          spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
        });
      }
      api.put({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: app, namespace },
        spec: { selector: { app, version: "blue" }, ports: [{ port: 80, targetPort: 8080 }] },
      });
      tally.blueGreen += 2;
      i++;
    } else {
      const labels = { app };
      const annotations = { [annotationName("strategy")]: "rolling", [annotationName("auto-rollback")]: "true" };
      api.put(deployment(namespace, app, labels, annotations, `registry.example/${app}:v3`));
      tally.rolling++;
    }
  }
  return tally;
}

/** Prometheus's instant-query API, answering every query as a healthy canary would (see healthyReader). */
async function startFakePrometheus(): Promise<{ url: string; queries: () => number; close: () => Promise<void> }> {
  let queries = 0;
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://localhost");
      const query = url.searchParams.get("query") ?? new URLSearchParams(body).get("query") ?? "";
      queries++;
      const value = query.includes("_bucket") ? "0.1" : query.includes("response_code=~") ? "0" : "100";
      response.setHeader("content-type", "application/json");
      response.end(
        JSON.stringify({
          status: "success",
          data: { resultType: "vector", result: [{ metric: {}, value: [Date.now() / 1000, value] }] },
        }),
      );
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    queries: () => queries,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

// Loaded into the child with --require: writes getrusage's peak RSS (KiB on Linux) when the process exits.
const PRELOAD = `process.on("exit", () => {
  require("node:fs").writeFileSync(process.env.GREENLIGHT_MEASURE_OUT, String(process.resourceUsage().maxRSS));
});
`;

/** The resident set size of `pid` and every process below it, in KiB; 0 once it is gone. */
function treeRssKiB(pid: number): number {
  let total = 0;
  try {
    total = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      for (const child of children ? children.split(/\s+/) : []) total += treeRssKiB(Number(child));
    }
  } catch {
    // The process ended between two reads.
  }
  return total;
}

interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  maxRssMiB: number;
  sampledTreeRssMiB?: number;
}

/**
 * Runs `greenlight ARGS` in a child with a clean environment plus `env`; `drive` gets the child once it has started
 * and may talk to it (and stop it) before it exits.
 */
async function runMeasured(
  dir: string,
  args: string[],
  env: Record<string, string>,
  fromSource: boolean,
  drive?: (child: ChildProcessByStdio<null, Readable, Readable>, stderr: () => string) => Promise<void>,
): Promise<Measured> {
  const preload = join(dir, "preload.cjs");
  await writeFile(preload, PRELOAD);
  const out = join(dir, "maxrss");
  const procAvailable = readdirSafe("/proc/self/task").length > 0;
  let peakTreeKiB = 0;
  const started = performance.now();
  const child = spawn(process.execPath, [join(ROOT, "scripts/greenlight.mjs"), ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      // A fresh /tmp, as every Job's emptyDir is: tsx's compile cache starts cold, as it does in the cluster.
      TMPDIR: dir,
      NODE_OPTIONS: `--require ${preload}`,
      GREENLIGHT_MEASURE_OUT: out,
      GREENLIGHT_FROM_SOURCE: fromSource ? "1" : "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const pid = child.pid;
  const sampler =
    pid !== undefined && procAvailable
      ? setInterval(() => {
          peakTreeKiB = Math.max(peakTreeKiB, treeRssKiB(pid));
        }, 10)
      : undefined;
  const closed = new Promise<number | null>((done, fail) => {
    child.on("error", fail);
    child.on("close", (code) => done(code));
  });
  try {
    await drive?.(child, () => stderr);
  } catch (error) {
    child.kill("SIGKILL");
    await closed.catch(() => null);
    throw error;
  }
  const code = await closed.finally(() => clearInterval(sampler));
  return {
    code,
    stdout,
    stderr,
    seconds: (performance.now() - started) / 1000,
    maxRssMiB: Number(await readFile(out, "utf8").catch(() => "NaN")) / 1024,
    ...(procAvailable ? { sampledTreeRssMiB: peakTreeKiB / 1024 } : {}),
  };
}

interface PassReport {
  canaries?: Array<{ outcome: string }>;
  blueGreen?: unknown[];
  rolling?: unknown[];
  deferred?: unknown[];
  error?: string;
}

/** Runs the measured pass; `fromSource` runs the TypeScript through tsx instead of the compiled CLI. */
export async function measureStepPass(count = 500, options: { fromSource?: boolean } = {}): Promise<StepMemory> {
  const api = await startFakeApiServer();
  const prometheus = await startFakePrometheus();
  const dir = await mkdtemp(join(tmpdir(), "greenlight-memory-"));
  try {
    seedCluster(api, count);
    // Two passes in this process: every canary enters Waiting, then takes its first step; the measured pass,
    // one interval later, analyses each one and would take the next step.
    const clients = createKubeClients(api.kubeConfig(), "measure");
    const now = Date.now();
    await runStep({ clients, reader: healthyReader, now: new Date(now - 2 * INTERVAL_MS - 5_000) });
    await runStep({ clients, reader: healthyReader, now: new Date(now - INTERVAL_MS - 5_000) });

    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, api.kubeConfig().exportConfig());
    const run = await runMeasured(
      dir,
      ["step", "--once", "--dry-run", "-A", "--deadline", "25s", "-o", "json"],
      { KUBECONFIG: kubeconfig, PROMETHEUS_URL: prometheus.url },
      options.fromSource ?? false,
    );
    let report: PassReport;
    try {
      report = JSON.parse(run.stdout) as PassReport;
    } catch {
      throw new Error(`greenlight step printed no JSON report (exit ${run.code}): ${run.stderr.slice(0, 2000)}`);
    }
    const canaryOutcomes: Record<string, number> = {};
    for (const { outcome } of report.canaries ?? []) canaryOutcomes[outcome] = (canaryOutcomes[outcome] ?? 0) + 1;
    return {
      deployments: count,
      maxRssMiB: run.maxRssMiB,
      ...(run.sampledTreeRssMiB === undefined ? {} : { sampledTreeRssMiB: run.sampledTreeRssMiB }),
      seconds: run.seconds,
      exitCode: run.code,
      canaries: report.canaries?.length ?? 0,
      blueGreen: report.blueGreen?.length ?? 0,
      rolling: report.rolling?.length ?? 0,
      deferred: report.deferred?.length ?? 0,
      ...(report.error ? { error: report.error } : {}),
      prometheusQueries: prometheus.queries(),
      canaryOutcomes,
      mode: options.fromSource ? "source" : "build",
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await prometheus.close();
    await api.close();
  }
}

export interface WebhookMemory {
  requests: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  maxRssMiB: number;
  sampledTreeRssMiB?: number;
  seconds: number;
  exitCode: number | null;
  mode: "build" | "source";
}

const REVIEWS = ["create.json", "update-image-bump.json", "multi-container.json", "inject-false.json"];
const PATHS = ["/mutate", "/mutate/namespace", "/validate"];
const WEBHOOK_CONCURRENCY = 32;

/** `greenlight webhook serve` over TLS, as the Deployment runs it, answering `requests` AdmissionReviews. */
export async function measureWebhookServe(
  requests = 5000,
  options: { fromSource?: boolean } = {},
): Promise<WebhookMemory> {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-memory-"));
  try {
    const certs = generateWebhookCertificates({ service: "greenlight-webhook", namespace: "greenlight-system" });
    await writeFile(join(dir, "tls.crt"), certs.serving.certPem);
    await writeFile(join(dir, "tls.key"), certs.serving.keyPem);
    const bodies = await Promise.all(
      REVIEWS.map((name) => readFile(join(ROOT, "test/fixtures/reviews", name), "utf8")),
    );
    const statuses: Record<string, number> = {};
    const run = await runMeasured(
      dir,
      ["webhook", "serve", "--host", "127.0.0.1", "--port", "0", "--tls-cert", join(dir, "tls.crt")].concat([
        "--tls-key",
        join(dir, "tls.key"),
      ]),
      { NODE_ENV: "production" },
      options.fromSource ?? false,
      async (child, stderr) => {
        const port = await listeningPort(stderr, 30_000);
        const agent = new https.Agent({ keepAlive: true, maxSockets: WEBHOOK_CONCURRENCY, ca: certs.ca.certPem });
        let next = 0;
        const worker = async () => {
          while (next < requests) {
            const i = next++;
            const status = await post(
              agent,
              port,
              PATHS[i % PATHS.length] ?? "/mutate",
              bodies[i % bodies.length] ?? "",
            );
            statuses[status] = (statuses[status] ?? 0) + 1;
          }
        };
        await Promise.all(Array.from({ length: WEBHOOK_CONCURRENCY }, worker));
        agent.destroy();
        child.kill("SIGTERM");
      },
    );
    return {
      requests,
      statuses,
      maxRssMiB: run.maxRssMiB,
      ...(run.sampledTreeRssMiB === undefined ? {} : { sampledTreeRssMiB: run.sampledTreeRssMiB }),
      seconds: run.seconds,
      exitCode: run.code,
      mode: options.fromSource ? "source" : "build",
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function listeningPort(stderr: () => string, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const match = /listening on https:\/\/[^:]+:(\d+)/.exec(stderr());
    if (match) return Number(match[1]);
    if (Date.now() > until) throw new Error(`webhook serve did not start: ${stderr().slice(0, 2000)}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

function post(agent: https.Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((done, fail) => {
    const request = https.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        servername: "greenlight-webhook.greenlight-system.svc",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (response) => {
        response.resume();
        response.on("end", () => done(response.statusCode ?? 0));
      },
    );
    request.on("error", fail);
    request.end(body);
  });
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [what = "step", ...rest] = process.argv.slice(2);
  const count = rest.find((a) => /^\d+$/.test(a));
  const fromSource = rest.includes("--from-source");
  const result =
    what === "webhook"
      ? await measureWebhookServe(Number(count ?? 5000), { fromSource })
      : await measureStepPass(Number(count ?? 500), { fromSource });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
