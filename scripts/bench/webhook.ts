// Benchmarks POST /mutate against the floor (a bare node:http server that reads the same body, JSON.parses it and
// answers fixed bytes) and against a bare express app that echoes the body: the cost greenlight adds.
// Each server runs alone in a child process of its own (serve.ts, bundled with esbuild and run with plain `node`, as
// production runs the webhook), with the Node flags production uses. Load comes
// from autocannon (closed loop: throughput, and its bursty fixed rate) and from pace.ts (open loop, evenly paced:
// the latency target), each also in a child process, so the harness's own work and GC touch no measurement.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BundledServe,
  bundleServe,
  type CannonRun,
  CONNECTIONS,
  cannon,
  cannonRun,
  cpuPerRequest,
  type PairedRatio,
  pairedLine,
  pairedPlan,
  pairedRatio,
  runChild,
  type ServerChild,
  withServer,
} from "./harness.ts";
import type { BenchContext } from "./index.ts";
import {
  BODY_LIMIT,
  FLOOR_ANSWER,
  FLOOR_BUSY_MICROSECONDS,
  type GcPauses,
  type PacedResult,
  type ServerReport,
} from "./protocol.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXED_RATE = 500;
export const TARGETS = { ratio: 0.7, floorRatio: 0.5, p99AtFixedRateMs: 10 } as const;

/**
 * The Node flags production runs the webhook with: none. The Deployment runs `greenlight webhook serve` (plain
 * `node`, tsx registered from scripts/greenlight.mjs) and the Lambda runtime nodejs20.x sets no NODE_OPTIONS.
 * `npm run bench -- --server-node-flag=...` tries others; the section then says so.
 */
export const PRODUCTION_NODE_FLAGS: readonly string[] = [];

/** An open-loop, evenly paced run (pace.ts) against one server. */
export interface PacedRun extends PacedResult {
  label: string;
  server: ServerReport;
}

export interface WebhookBench {
  bodyBytes: number;
  patchOps: number;
  /** The Node flags the server processes ran with. */
  nodeFlags: readonly string[];
  greenlight: CannonRun;
  echo: CannonRun;
  /** The bare node:http server: body read, JSON.parse, fixed answer. */
  floor: CannonRun;
  /** The same floor with FLOOR_BUSY_MICROSECONDS of busy wait per request: what fixed work costs the ratio. */
  floorBusy: CannonRun;
  /** The floor answering greenlight's own answer bytes (floor-same). */
  floorSame: CannonRun;
  /** greenlight's throughput over floorSame's. */
  floorSameRatio: number;
  /** The size of greenlight's answer (what floor-same sends). */
  answerBytes: number;
  /** autocannon at FIXED_RATE over CONNECTIONS connections: each connection's quota goes out back to back. */
  bursty: CannonRun;
  /** Evenly paced at FIXED_RATE over a pool of CONNECTIONS: the run the p99 target is judged on. */
  paced: PacedRun;
  /** The same paced load on the express echo. */
  pacedEcho: PacedRun;
  /** greenlight's throughput over the echo's. */
  ratio: number;
  ratioMet: boolean;
  /** greenlight's throughput over the floor's in the single runs above. */
  floorRatio: number;
  /** greenlight against the floor in alternating rounds: what the floor target is judged on. */
  paired: PairedRatio;
  floorRatioMet: boolean;
  p99Met: boolean;
}

/** A CREATE review as the API server sends it for `kubectl apply`: defaults filled in, managedFields, last-applied. */
export function deploymentReview(): Record<string, unknown> {
  const labels = { "app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop" };
  const applied = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { annotations: { "greenlight.dev/inject": "true" }, labels, name: "checkout", namespace: "shop" },
    spec: {
      replicas: 3,
      selector: { matchLabels: { "app.kubernetes.io/name": "checkout" } },
      template: { metadata: { labels } },
    },
  };
  const object = {
    kind: "Deployment",
    apiVersion: "apps/v1",
    metadata: {
      name: "checkout",
      namespace: "shop",
      uid: "0b6c5d1e-93a4-4f57-bb0e-6e2f4a81c9d2",
      generation: 1,
      creationTimestamp: "2025-11-26T10:00:00Z",
      labels,
      annotations: {
        "greenlight.dev/inject": "true",
        "greenlight.dev/strategy": "canary",
        "kubectl.kubernetes.io/last-applied-configuration": `${JSON.stringify(applied)}\n`,
      },
      managedFields: [
        {
          manager: "kubectl-client-side-apply",
          operation: "Update",
          apiVersion: "apps/v1",
          time: "2025-11-26T10:00:00Z",
          fieldsType: "FieldsV1",
          fieldsV1: { "f:metadata": { "f:annotations": { ".": {}, "f:greenlight.dev/inject": {} } }, "f:spec": {} },
        },
      ],
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { "app.kubernetes.io/name": "checkout" } },
      template: {
        metadata: { creationTimestamp: null, labels },
        spec: {
          containers: [
            {
              name: "checkout",
              image: "registry.example.com/shop/checkout:v2.4.1",
              ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
              env: [{ name: "LOG_LEVEL", value: "info" }],
              resources: { limits: { memory: "256Mi" }, requests: { cpu: "100m", memory: "128Mi" } },
              terminationMessagePath: "/dev/termination-log",
              terminationMessagePolicy: "File",
              imagePullPolicy: "IfNotPresent",
            },
            {
              name: "envoy",
              image: "envoyproxy/envoy:v1.31.0",
              ports: [{ name: "admin", containerPort: 9901, protocol: "TCP" }],
              readinessProbe: {
                httpGet: { path: "/ready", port: 9901, scheme: "HTTP" },
                timeoutSeconds: 1,
                periodSeconds: 5,
                successThreshold: 1,
                failureThreshold: 3,
              },
              resources: {},
              terminationMessagePath: "/dev/termination-log",
              terminationMessagePolicy: "File",
              imagePullPolicy: "IfNotPresent",
            },
          ],
          restartPolicy: "Always",
          terminationGracePeriodSeconds: 30,
          dnsPolicy: "ClusterFirst",
          securityContext: {},
          schedulerName: "default-scheduler",
        },
      },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {},
  };
  const gvk = { group: "apps", version: "v1", kind: "Deployment" };
  const gvr = { group: "apps", version: "v1", resource: "deployments" };
  return {
    kind: "AdmissionReview",
    apiVersion: "admission.k8s.io/v1",
    request: {
      uid: "5d0c3f8e-2a71-4b9c-8e46-1f7a9b2c6d30",
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      name: "checkout",
      namespace: "shop",
      operation: "CREATE",
      userInfo: { username: "kubernetes-admin", groups: ["kubeadm:cluster-admins", "system:authenticated"] },
      object,
      oldObject: null,
      dryRun: false,
      options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1", fieldManager: "kubectl-client-side-apply" },
    },
  };
}

async function pacedRun(
  server: ServerChild,
  label: string,
  url: string,
  bodyFile: string,
  seconds: number,
): Promise<PacedRun> {
  const args = ["--import", "tsx", path.join(HERE, "pace.ts"), "--url", url, "--body", bodyFile];
  args.push("--rate", String(FIXED_RATE), "--connections", String(CONNECTIONS), "--duration", String(seconds));
  // The server's figures cover the measured window only: pace.ts says when its warm-up is over.
  let marked: Promise<void> | undefined;
  const result = (await runChild("pace.ts", args, (message) => {
    if (message.event === "measuring") marked = server.mark();
  })) as PacedResult;
  if (marked === undefined) throw new Error("pace.ts never started its measured window");
  await marked;
  return { label, ...result, server: await server.report() };
}

/** The answer's text; anything but a 200 is an error. */
export async function postText(url: string, body: string): Promise<string> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${text}`);
  return text;
}

const post = async (url: string, body: string): Promise<unknown> => JSON.parse(await postText(url, body)) as unknown;

/** One request before the load: /mutate must answer 200 and actually inject. Returns the answer and its patch's length. */
async function checkMutate(url: string, body: string): Promise<{ answer: string; patchOps: number }> {
  const text = await postText(url, body);
  const answer = JSON.parse(text) as { response?: { allowed?: boolean; patch?: string } };
  if (answer.response?.allowed !== true || typeof answer.response.patch !== "string") {
    throw new Error(`/mutate did not inject the benchmark Deployment: ${text}`);
  }
  const ops: unknown = JSON.parse(Buffer.from(answer.response.patch, "base64").toString("utf8"));
  return { answer: text, patchOps: Array.isArray(ops) ? ops.length : 0 };
}

async function checkEcho(url: string, body: string): Promise<void> {
  if (JSON.stringify(await post(url, body)) !== body) throw new Error("the echo server did not echo the body");
}

/** One request before the load: the floor must answer 200 with its fixed bytes (`expected`: floor-same's). */
export async function checkFloor(url: string, body: string, expected = FLOOR_ANSWER): Promise<void> {
  if ((await postText(url, body)) !== expected) throw new Error("the floor server did not answer its fixed bytes");
}

/**
 * The floor answering `answer` (what greenlight answered to the same body), measured as the floor is: the share of
 * greenlight's cost that is its work rather than the size of what it must send.
 */
export async function floorSameRun(
  context: Pick<BenchContext, "serverNodeFlags" | "duration" | "log">,
  bundle: BundledServe,
  request: { body: string; bodyFile: string; answer: string; answerFile: string; warmup: number },
): Promise<CannonRun> {
  await writeFile(request.answerFile, request.answer);
  return withServer(
    "floor-same",
    context.serverNodeFlags,
    async (server) => {
      const url = server.url("/floor");
      await checkFloor(url, request.body, request.answer);
      await cannon(url, request.bodyFile, request.warmup);
      context.log(
        `floor answering greenlight's ${Buffer.byteLength(request.answer)} bytes, autocannon, ${context.duration} s`,
      );
      return cannonRun(
        server,
        "floor answering greenlight's answer (same bytes)",
        url,
        request.bodyFile,
        context.duration,
      );
    },
    bundle,
    [request.answerFile],
  );
}

const gcLine = (gc: GcPauses) =>
  `${gc.count} GC pauses (${gc.major} major), ${gc.totalMs.toFixed(0)} ms in all, longest ${gc.longestMs.toFixed(1)} ms`;

export async function benchWebhook(context: BenchContext): Promise<WebhookBench> {
  const { log, duration } = context;
  const nodeFlags = context.serverNodeFlags;
  const body = JSON.stringify(deploymentReview());
  const directory = await mkdtemp(path.join(os.tmpdir(), "greenlight-bench-"));
  const bodyFile = path.join(directory, "review.json");
  await writeFile(bodyFile, body);
  const bundle = await bundleServe().catch(async (error: unknown) => {
    await rm(directory, { recursive: true, force: true });
    throw error;
  });
  const warmup = Math.min(3, Math.max(1, Math.round(duration / 3)));
  const logCannon = (run: CannonRun) =>
    log(
      `webhook:   ${run.requestsPerSecond.toFixed(0)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, max ${run.max} ms; ` +
        `server: ${gcLine(run.server.gc)}, event loop ${(run.server.eventLoopUtilization * 100).toFixed(0)}% busy`,
    );
  const logPaced = (run: PacedRun) =>
    log(
      `webhook:   ${run.achievedRate.toFixed(0)} req/s, p50 ${run.latency.p50.toFixed(2)} ms, p99 ` +
        `${run.latency.p99.toFixed(2)} ms, p99.9 ${run.latency.p999.toFixed(2)} ms, max ${run.latency.max.toFixed(2)} ms; ` +
        `send lag p99 ${run.sendLag.p99.toFixed(2)} ms; from send p99 ${run.fromSend.p99.toFixed(2)} ms; failures ${run.non2xx + run.errors + run.timeouts}; ` +
        `server: ${gcLine(run.server.gc)}`,
    );
  try {
    log(`webhook: server Node flags: ${nodeFlags.length > 0 ? nodeFlags.join(" ") : "none (as in production)"}`);
    log(`webhook: servers run as \`node ${bundle.file} <kind>\` (serve.ts bundled with esbuild, minified)`);
    const mutate = await withServer(
      "greenlight",
      nodeFlags,
      async (server) => {
        const url = server.url("/mutate");
        const { answer, patchOps } = await checkMutate(url, body);
        log(`webhook: ${body.length}-byte review, ${patchOps}-op patch; greenlight at ${url}, pid ${server.pid}`);
        log(`webhook: warming up greenlight (${warmup} s)`);
        await cannon(url, bodyFile, warmup);
        log(`webhook: greenlight POST /mutate, autocannon, ${CONNECTIONS} connections, ${duration} s`);
        const throughput = await cannonRun(server, "greenlight POST /mutate", url, bodyFile, duration);
        logCannon(throughput);
        log(`webhook: greenlight, autocannon -R ${FIXED_RATE} -c ${CONNECTIONS} (bursty), ${duration} s`);
        const bursty = await cannonRun(server, "greenlight POST /mutate", url, bodyFile, duration, FIXED_RATE);
        logCannon(bursty);
        log(`webhook: greenlight, paced ${FIXED_RATE} req/s over ${CONNECTIONS} connections, ${duration} s`);
        const paced = await pacedRun(server, "greenlight POST /mutate", url, bodyFile, duration);
        logPaced(paced);
        return { answer, patchOps, throughput, bursty, paced };
      },
      bundle,
    );
    const echo = await withServer(
      "echo",
      nodeFlags,
      async (server) => {
        const url = server.url("/echo");
        await checkEcho(url, body);
        log(`webhook: echo at ${url}, pid ${server.pid}; warming up (${warmup} s)`);
        await cannon(url, bodyFile, warmup);
        log(`webhook: echo, autocannon, ${CONNECTIONS} connections, ${duration} s`);
        const throughput = await cannonRun(server, "express echo of the same body", url, bodyFile, duration);
        logCannon(throughput);
        log(`webhook: echo, paced ${FIXED_RATE} req/s over ${CONNECTIONS} connections, ${duration} s`);
        const paced = await pacedRun(server, "express echo of the same body", url, bodyFile, duration);
        logPaced(paced);
        return { throughput, paced };
      },
      bundle,
    );

    const floor = await withServer(
      "floor",
      nodeFlags,
      async (server) => {
        const url = server.url("/floor");
        await checkFloor(url, body);
        log(`webhook: floor (bare node:http) at ${url}, pid ${server.pid}; warming up (${warmup} s)`);
        await cannon(url, bodyFile, warmup);
        log(`webhook: floor, autocannon, ${CONNECTIONS} connections, ${duration} s`);
        const throughput = await cannonRun(server, "bare node:http floor", url, bodyFile, duration);
        logCannon(throughput);
        return throughput;
      },
      bundle,
    );

    const floorBusy = await withServer(
      "floor-busy",
      nodeFlags,
      async (server) => {
        const url = server.url("/floor");
        await checkFloor(url, body);
        await cannon(url, bodyFile, warmup);
        log(`webhook: floor + ${FLOOR_BUSY_MICROSECONDS} µs busy per request, autocannon, ${duration} s`);
        const label = `floor + ${FLOOR_BUSY_MICROSECONDS} µs busy wait per request (calibration)`;
        const throughput = await cannonRun(server, label, url, bodyFile, duration);
        logCannon(throughput);
        return throughput;
      },
      bundle,
    );

    const floorSame = await floorSameRun(context, bundle, {
      body,
      bodyFile,
      answer: mutate.answer,
      answerFile: path.join(directory, "answer.json"),
      warmup,
    });
    logCannon(floorSame);

    const plan = pairedPlan(duration);
    log(`webhook: greenlight and the floor in ${plan.rounds} alternating rounds of ${plan.seconds} s each`);
    const paired = await pairedRatio({
      nodeFlags,
      bundle,
      a: { kind: "greenlight", route: "/mutate", label: "greenlight" },
      b: { kind: "floor", route: "/floor", label: "floor" },
      bodyFile,
      ...plan,
      warmup,
      log,
    });

    const over = (run: CannonRun) =>
      run.requestsPerSecond > 0 ? mutate.throughput.requestsPerSecond / run.requestsPerSecond : 0;
    const ratio = over(echo.throughput);
    const floorRatio = over(floor);
    return {
      bodyBytes: Buffer.byteLength(body),
      patchOps: mutate.patchOps,
      nodeFlags,
      greenlight: mutate.throughput,
      echo: echo.throughput,
      floor,
      floorBusy,
      floorSame,
      floorSameRatio: over(floorSame),
      answerBytes: Buffer.byteLength(mutate.answer),
      bursty: mutate.bursty,
      paced: mutate.paced,
      pacedEcho: echo.paced,
      ratio,
      ratioMet: ratio >= TARGETS.ratio,
      floorRatio,
      paired,
      floorRatioMet: paired.median >= TARGETS.floorRatio,
      p99Met: mutate.paced.latency.p99 < TARGETS.p99AtFixedRateMs && mutate.paced.achievedRate >= FIXED_RATE * 0.98,
    };
  } finally {
    await bundle.cleanup();
    await rm(directory, { recursive: true, force: true });
  }
}

/** autocannon reports latencies in whole milliseconds: 0 means under one. */
const ms = (value: number) => (value === 0 ? "< 1 ms" : `${Number.isInteger(value) ? value : value.toFixed(2)} ms`);
/** pace.ts measures to the microsecond. */
const fine = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
const count = (value: number) => Math.round(value).toLocaleString("en-US");
const mark = (met: boolean) => (met ? "met" : "**not met**");
const gcCell = (gc: GcPauses) =>
  `${gc.count} (${gc.major} major), ${gc.totalMs.toFixed(0)} ms, longest ${gc.longestMs.toFixed(1)} ms`;
const busy = (report: ServerReport) => `${(report.eventLoopUtilization * 100).toFixed(0)}%`;
/** Requests that came due while the server was paused for GC, roughly: pause time over the interval. */
const dueInGc = (run: PacedRun) => run.server.gc.totalMs / (1000 / run.rate);
const share = (run: PacedRun) => `${((100 * dueInGc(run)) / Math.max(1, run.scheduled)).toFixed(1)} %`;
const pacedFailures = (run: PacedRun) => run.non2xx + run.errors + run.timeouts;

export function renderWebhookSection(result: WebhookBench, context: BenchContext): string {
  const { greenlight, echo, floor, floorBusy, floorSame, bursty, paced, pacedEcho } = result;
  const failures = [
    ...[greenlight, echo, floor, floorBusy, floorSame, bursty].map(
      (run) => [`${run.label}${run.rate ? " (bursty)" : ""}`, run.failures] as const,
    ),
    ...[paced, pacedEcho].map((run) => [`${run.label} (paced)`, pacedFailures(run)] as const),
  ].filter(([, failed]) => failed > 0);
  const errorSamples = [...new Set([...paced.errorSamples, ...pacedEcho.errorSamples])];
  const flags = result.nodeFlags.length > 0 ? result.nodeFlags.map((flag) => `\`${flag}\``).join(" ") : "none";
  const ratioTo = (run: CannonRun, base: CannonRun) =>
    base.requestsPerSecond > 0 ? (run.requestsPerSecond / base.requestsPerSecond).toFixed(2) : "—";
  const throughputRow = (run: CannonRun) =>
    `| ${run.label} | ${count(run.requestsPerSecond)} | ${ms(run.p50)} | ${ms(run.p99)} | ${ratioTo(run, floor)} | ` +
    `${ratioTo(run, echo)} | ${cpuPerRequest(run).toFixed(0)} µs | ${gcCell(run.server.gc)} | ${busy(run.server)} |`;
  const pacedRow = (load: string, run: PacedRun) =>
    `| ${load} | ${count(run.achievedRate)} | ${fine(run.latency.p50)} | ${fine(run.latency.p90)} | ` +
    `${fine(run.latency.p99)} | ${fine(run.latency.p999)} | ${fine(run.latency.max)} | ${gcCell(run.server.gc)} |`;
  const burstyRow = (load: string, run: CannonRun) =>
    `| ${load} | ${count(run.requestsPerSecond)} | ${ms(run.p50)} | ${ms(run.p90)} | ${ms(run.p99)} | ` +
    `${ms(run.p999)} | ${ms(run.max)} | ${gcCell(run.server.gc)} |`;
  return [
    "## Webhook: POST /mutate against the floor (bare node:http) and a bare express echo",
    "",
    `Measured with \`${context.command}\` on ${context.date}: ${context.duration} s per run after a warm-up.`,
    `Machine: ${context.machine}.`,
    ...(context.busy
      ? [
          "",
          "The load average was high at the start (other work on the machine, or a run that had just ended): the " +
            "servers and the load generators may have had only part of its cores, which lowers throughput and " +
            "lengthens tail latencies. Rerun on a quiet machine before reading much into a missed target.",
        ]
      : []),
    ...(result.nodeFlags.length > 0
      ? [
          "",
          `**The servers ran with the Node flags ${flags}, which production does not use:** these numbers are an ` +
            "experiment, not the webhook as shipped.",
        ]
      : []),
    "",
    `The body is a ${count(result.bodyBytes)}-byte CREATE review of a Deployment annotated ` +
      '`greenlight.dev/inject: "true"` with two containers (the app without probes, an Envoy sidecar with a ' +
      "readiness probe), with the defaults, managedFields and last-applied annotation an API server request carries. " +
      `Every answer carries a JSON Patch of ${result.patchOps} operations (labels, probes, marker). The floor is a ` +
      "bare node:http server (`serve.ts floor`) that reads the same body, JSON.parses it and answers the fixed " +
      `${Buffer.byteLength(FLOOR_ANSWER)} bytes \`${FLOOR_ANSWER}\`: what any Node server taking this body costs at ` +
      "the least, so the ratio to it is the share of the machine's HTTP capacity greenlight keeps. The echo is " +
      `express with the same JSON body parser (limit ${BODY_LIMIT}) answering with the parsed body: the floor for ` +
      "any express webhook. greenlight's webhook is a plain Node request listener (no express, which also keeps " +
      "the Lambda bundle small), so a ratio to the echo above 1 is the framework it does without, less its own work.",
    "",
    "Each server runs alone, in a process of its own. All three run as production runs the webhook, compiled " +
      "JavaScript under plain `node`, not TypeScript through tsx: at the start the bench bundles " +
      "`scripts/bench/serve.ts` and all it loads (greenlight's code, express) with esbuild into a temporary " +
      "directory (platform node, ESM with the `require` banner serverless.yml gives the Lambda bundle, minified, " +
      "keepNames off, like the Lambda's serverless-esbuild bundle and the CLI's scripts/build-cli.mjs bundle), " +
      "then starts `node <bundle> greenlight` (then `echo`, then `floor`), with the Node flags production uses " +
      `(${flags}); the other servers are not running meanwhile. ` +
      "The harness and each load generator run in processes of their own as well, so none of " +
      "their work or garbage collection lands in the server. The server process counts its own GC pauses " +
      "(perf_hooks `gc` entries: count, of which major mark-compacts, total and longest pause) and its event-loop " +
      "use over each run (for the paced runs, over exactly the measured window), and reports them to the harness " +
      "at the end of the run.",
    "",
    `### Throughput, ${CONNECTIONS} connections (autocannon, closed loop)`,
    "",
    "| target | req/s (mean) | p50 | p99 | ratio to floor | ratio to echo | server CPU per request | server GC pauses | server event loop busy |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    throughputRow(greenlight),
    throughputRow(floor),
    throughputRow(floorSame),
    throughputRow(floorBusy),
    throughputRow(echo),
    "",
    "Each of the connections sends its next request as soon as the last one is answered, so this is the most " +
      "each server answers on this machine (it shares the cores with autocannon). *Server CPU per request* is the " +
      "server process's CPU time over the run (user and system, every thread, the GC's helpers included) divided by " +
      "the requests answered: unlike req/s it does not depend on how much of the two cores the load generator " +
      "takes, so the two figures together say whether a ratio is the server's cost or the contention. The floor " +
      `answering greenlight's answer (\`serve.ts floor-same\`, ${count(result.answerBytes)} ` +
      "bytes) separates what greenlight computes from what any server sending that answer pays to send it and " +
      "what autocannon pays to read it.",
    "",
    `### Latency at ${FIXED_RATE} req/s`,
    "",
    "| load | req/s achieved | p50 | p90 | p99 | p99.9 | max | server GC pauses |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    pacedRow(`**paced**, ${CONNECTIONS} connections: greenlight POST /mutate`, paced),
    pacedRow(`paced, ${CONNECTIONS} connections: express echo`, pacedEcho),
    burstyRow(`autocannon \`-R ${FIXED_RATE} -c ${CONNECTIONS}\`, **bursty**: greenlight POST /mutate`, bursty),
    "",
    `**Paced** (\`scripts/bench/pace.ts\`, open loop, in the manner of wrk2): one request is due every ` +
      `${(1000 / FIXED_RATE).toFixed(0)} ms whatever happened to the ones before, sent over a keep-alive pool of ` +
      `${CONNECTIONS} connections (node:http Agent, \`maxSockets: ${CONNECTIONS}\`, idle sockets taken in turn). ` +
      "Latency runs from each request's *scheduled* send time to the end of its answer, so a stall is charged for " +
      "every request it held up (no coordinated omission), and so is any wait for a free connection. A 1 s paced " +
      `warm-up precedes the measured ${context.duration} s (${count(paced.scheduled)} requests). The generator's own ` +
      `lateness (actual minus scheduled send time) is part of those latencies: p50 ${fine(paced.sendLag.p50)}, ` +
      `p99 ${fine(paced.sendLag.p99)}, max ${fine(paced.sendLag.max)} on the greenlight run (Node timers fire up ` +
      "to about 1 ms late, more when the generator is descheduled or collecting), with " +
      `${gcLine(paced.generatorGc)} in the generator. Measured from the actual send instead, as a closed-loop ` +
      `tool would, the greenlight run's p99 is ${fine(paced.fromSend.p99)} and its max ${fine(paced.fromSend.max)}.`,
    "",
    `At this rate the tail follows the server's garbage collection. In the measured window greenlight paused for ` +
      `GC ${paced.server.gc.count} times, ${paced.server.gc.totalMs.toFixed(0)} ms in all (longest ` +
      `${paced.server.gc.longestMs.toFixed(1)} ms): with a request due every ${(1000 / FIXED_RATE).toFixed(0)} ms, ` +
      `about ${count(dueInGc(paced))} of the ${count(paced.scheduled)} requests (${share(paced)}) came due during a ` +
      `pause and waited at least for its end (the echo: about ${count(dueInGc(pacedEcho))}, ${share(pacedEcho)}). ` +
      (dueInGc(paced) > paced.scheduled / 100
        ? "That is more than the 1 % a p99 leaves out: GC pauses alone can account for the p99."
        : "That is less than the 1 % a p99 leaves out, so GC pauses alone do not set the p99.") +
      ` The p99 of a ${context.duration} s run rests on its ${count(paced.scheduled / 100)} slowest requests, that ` +
      "is on a handful of pauses and scheduling stalls: on a small shared machine it moves by a few milliseconds " +
      "from run to run, so read it beside the echo's from the same run.",
    "",
    `**Bursty** (autocannon \`-R ${FIXED_RATE} -c ${CONNECTIONS}\`): autocannon's \`overallRate\` is not an even ` +
      `pace. Each connection gets a quota of ${FIXED_RATE / CONNECTIONS} requests per second and spends it back to ` +
      `back at the start of the second, then idles, so the load arrives as bursts of ${CONNECTIONS} requests in ` +
      "flight, each waiting behind the others. Its latency runs from the actual send, and its coordinated-omission " +
      "correction (on by default) assumes an interval of ceil(1 / per-connection rate) = 1 ms, so every answer that " +
      "took L ms also records synthetic samples of L - 1, L - 2, ... 1 ms, which thickens the tail. The row shows " +
      "what a plain `autocannon -R` run says; it is not the load shape the target describes.",
    "",
    "### Targets",
    "",
    `- throughput at least ${TARGETS.floorRatio.toFixed(2)} of the floor: ${pairedLine(result.paired)}, ` +
      `${mark(result.floorRatioMet)} (the single runs above: ${result.floorRatio.toFixed(2)})`,
    `  (against the floor answering the same ${count(result.answerBytes)} bytes: ${result.floorSameRatio.toFixed(2)}; ` +
      `server CPU per request ${cpuPerRequest(greenlight).toFixed(0)} µs against the floor's ${cpuPerRequest(floor).toFixed(0)} µs, ` +
      `${(cpuPerRequest(floor) / Math.max(1, cpuPerRequest(greenlight))).toFixed(2)} of it)`,
    `  (calibration: the floor plus ${FLOOR_BUSY_MICROSECONDS} µs of pure computation per request keeps ` +
      `${(floorBusy.requestsPerSecond / Math.max(1, floor.requestsPerSecond)).toFixed(2)} of it: on this machine, where ` +
      "the load generator shares the two cores, a few microseconds of work per request cost the floor ratio far more " +
      "than their share of the floor's own time)",
    `- throughput at least ${TARGETS.ratio.toFixed(2)} of the echo: ${result.ratio.toFixed(2)}, ${mark(result.ratioMet)}`,
    `- p99 under ${TARGETS.p99AtFixedRateMs} ms at ${FIXED_RATE} req/s, judged on the paced run: ` +
      `${fine(paced.latency.p99)} at ${count(paced.achievedRate)} req/s achieved, ${mark(result.p99Met)} ` +
      `(the bursty autocannon run, for comparison: p99 ${ms(bursty.p99)})`,
    failures.length === 0
      ? "- every request answered 200 (no non-2xx, errors or timeouts)"
      : `- **failed requests** (non-2xx, errors or timeouts): ${failures.map(([label, failed]) => `${label}: ${failed}`).join(", ")}` +
        (errorSamples.length > 0 ? `; first errors: ${errorSamples.join("; ")}` : ""),
    "",
    "All processes bind or connect to 127.0.0.1 and share the machine's " +
      `${os.cpus().length} cores (one server, one load generator and the idle harness at a time): absolute numbers ` +
      "are lower than on a dedicated server, and the ratio is the figure to compare.",
  ].join("\n");
}
