// The flag function in workerd (Cloudflare's runtime, through miniflare), built by wrangler from the config a user
// deploys: OFREP bulk throughput against a minimal worker answering the same bytes, cold starts side by side, and
// the size of what is deployed. Also the helpers test/edge/ uses to build and run the same worker.
/*
 * Build: `wrangler deploy --dry-run --outdir` on functions/flags/wrangler.jsonc, offline: no login, metrics, error
 * reports or update check (WRANGLER_SEND_METRICS=false, WRANGLER_SEND_ERROR_REPORTS=false, WRANGLER_HIDE_BANNER=true),
 * HOME and XDG_CONFIG_HOME in a temporary directory so nothing of the machine's own wrangler login is read, and a
 * preload in NODE_OPTIONS (it reaches wrangler's child process too) that records every TCP connection and DNS
 * lookup wrangler attempts: the build must make none.
 * Run: the built file as a module worker in miniflare 4 (workerd in-process), listening on 127.0.0.1, with the
 * config's vars and the two Upstash secrets as bindings, in front of real Redis through the test suite's Upstash
 * REST bridge. The minimal worker reads and JSON.parses the same request body and answers the bytes and headers the
 * flag worker answered, so the ratio of the two is what greenlight's evaluation costs inside the same runtime.
 * Load: autocannon from harness.ts, in a process of its own; rounds alternate the two workers.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Metafile } from "esbuild";
import type { Miniflare } from "miniflare";
import { createUpstashClient, createUpstashStore } from "../../functions/flags/upstash-store.ts";
import { ensureRedisBinary, startRedis } from "../services/redis.ts";
import { startUpstashBridge } from "../services/upstash-bridge.ts";
import { BULK_FLAGS, benchUsers, bulkScenarios, greenlightFlag } from "./flag-rules.ts";
import { CONNECTIONS, cannon } from "./harness.ts";
import type { BenchContext } from "./index.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const WRANGLER_CONFIG = "functions/flags/wrangler.jsonc";

/** Targets of issue 15: the worker's bulk throughput against the minimal worker's, and the bundle's size. */
export const EDGE_TARGETS = { ratio: 0.8, bundleBytes: 100_000 } as const;
/** The edge bundle before this work, as the budgets part last measured it (the full core: OFREP and the admin API). */
export const FULL_EDGE_BUNDLE_BYTES = 340_200;
/** The edge bundle before re2js and the abuse limits came (docs/FLAGS.md, Pattern syntax). */
export const PRE_RE2_EDGE_BUNDLE_BYTES = 135_000;

const ROUNDS = 3;
const COLD_RUNS = 7;
const BUILD_TIMEOUT_MS = 60_000;

/** A one-line error for a devDependency that is not installed. */
export function missingPackage(name: string, version: string): Error {
  return new Error(
    `${name} is not installed: run \`npm install\` (it is a devDependency: \`npm install -D ${name}@${version}\`)`,
  );
}

/** miniflare's Miniflare class, or a one-line error saying how to install it. */
export async function loadMiniflare(): Promise<typeof Miniflare> {
  try {
    return (await import("miniflare")).Miniflare;
  } catch {
    throw missingPackage("miniflare", "4.20260426.0");
  }
}

/** wrangler's CLI script, or a one-line error saying how to install it. */
function wranglerScript(): string {
  try {
    const manifest = createRequire(import.meta.url).resolve("wrangler/package.json");
    return path.join(path.dirname(manifest), "bin", "wrangler.js");
  } catch {
    throw missingPackage("wrangler", "4.86.0");
  }
}

export interface WranglerConfig {
  name: string;
  main: string;
  compatibility_date: string;
  minify?: boolean;
  vars?: Record<string, string>;
  [field: string]: unknown;
}

/** The wrangler config as wrangler reads it (JSON with whole-line `//` comments, the only comments it uses). */
export async function readWranglerConfig(file = path.join(ROOT, WRANGLER_CONFIG)): Promise<WranglerConfig> {
  const text = await readFile(file, "utf8");
  const json = text
    .split("\n")
    .filter((line) => !/^\s*\/\//.test(line))
    .join("\n");
  return JSON.parse(json) as WranglerConfig;
}

/*
 * Loaded with --require into wrangler and every Node process it starts: appends each TCP connection (host:port)
 * and DNS lookup to the file named by GREENLIGHT_NETWORK_LOG. Pipes (a `path`) are local and not recorded.
 */
const NETWORK_RECORDER = `
const fs = require("node:fs");
const net = require("node:net");
const dns = require("node:dns");
const log = process.env.GREENLIGHT_NETWORK_LOG;
const note = (line) => { try { fs.appendFileSync(log, line + "\\n"); } catch {} };
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0];
  if (typeof options !== "object" || options === null) options = { port: args[0], host: typeof args[1] === "string" ? args[1] : undefined };
  if (options.path === undefined) note("connect " + (options.host ?? "localhost") + ":" + options.port);
  return connect.apply(this, args);
};
for (const name of ["lookup", "resolve", "resolve4", "resolve6", "resolveAny"]) {
  const original = dns[name];
  dns[name] = function (host, ...rest) { note("dns " + name + " " + host); return original.call(this, host, ...rest); };
  const promised = dns.promises[name];
  if (promised) dns.promises[name] = function (host, ...rest) { note("dns " + name + " " + host); return promised.call(this, host, ...rest); };
}
`;

export interface WranglerBuild {
  /** The worker wrangler would upload. */
  file: string;
  bytes: number;
  gzipBytes: number;
  /** esbuild's metafile of the build (`--metafile`): which inputs landed in the worker. */
  metafile: Metafile;
  /** Every TCP connection or DNS lookup wrangler attempted (should be none). */
  network: string[];
  /** What wrangler printed, stdout and stderr. */
  output: string;
  ms: number;
  cleanup(): Promise<void>;
}

/** Empty directories wrangler leaves beside the config (`.wrangler/tmp`); anything with content stays. */
async function removeEmptyWranglerDirs(configDir: string): Promise<void> {
  const hidden = path.join(configDir, ".wrangler");
  for (const dir of [path.join(hidden, "tmp"), hidden]) {
    try {
      await rmdir(dir);
    } catch {
      // Not there, or not empty (another build running): left alone.
    }
  }
}

/** `wrangler deploy --dry-run --outdir` on the config, offline; rejects with wrangler's output when it fails or hangs. */
export async function wranglerBuild(config = path.join(ROOT, WRANGLER_CONFIG)): Promise<WranglerBuild> {
  const script = wranglerScript();
  const dir = await mkdtemp(path.join(os.tmpdir(), "greenlight-wrangler-"));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const outdir = path.join(dir, "out");
    const home = path.join(dir, "home");
    await mkdir(home);
    const recorder = path.join(dir, "network-recorder.cjs");
    const networkLog = path.join(dir, "network.log");
    await writeFile(recorder, NETWORK_RECORDER);
    await writeFile(networkLog, "");
    const metafilePath = path.join(dir, "meta.json");
    const args = [script, "deploy", "--dry-run", "--outdir", outdir, "--metafile", metafilePath, "--config", config];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "",
      LANG: "C.UTF-8",
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, ".config"),
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_SEND_ERROR_REPORTS: "false",
      WRANGLER_HIDE_BANNER: "true",
      NO_COLOR: "1",
      NODE_OPTIONS: `--require ${recorder}`,
      GREENLIGHT_NETWORK_LOG: networkLog,
    };
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-20_000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => child.kill("SIGKILL"), BUILD_TIMEOUT_MS);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
    }).finally(() => clearTimeout(timer));
    const ms = performance.now() - started;
    await removeEmptyWranglerDirs(path.dirname(config));
    if (code !== 0) {
      const why =
        signal === "SIGKILL" ? `did not finish within ${BUILD_TIMEOUT_MS / 1000} s` : `exit ${signal ?? code}`;
      throw new Error(`wrangler deploy --dry-run ${why}: ${output.trim()}`);
    }
    const built = (await readdir(outdir)).filter((name) => name.endsWith(".js"));
    if (built.length !== 1) throw new Error(`wrangler wrote ${built.join(", ") || "no .js file"} to ${outdir}`);
    const file = path.join(outdir, built[0] as string);
    const bytes = (await stat(file)).size;
    const network = (await readFile(networkLog, "utf8")).split("\n").filter((line) => line !== "");
    return {
      file,
      bytes,
      gzipBytes: gzipSync(await readFile(file)).length,
      metafile: JSON.parse(await readFile(metafilePath, "utf8")) as Metafile,
      network,
      output,
      ms,
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export interface WorkerdWorker {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  miniflare: Miniflare;
  /** From `new Miniflare` to `ready`: workerd started and the script loaded. */
  startMs: number;
  dispose(): Promise<void>;
}

export type WorkerSource = { scriptPath: string } | { script: string };

/** A module worker in workerd (miniflare 4), listening on a free port of 127.0.0.1. */
export async function startWorkerd(
  source: WorkerSource,
  bindings: Record<string, string>,
  compatibilityDate: string,
): Promise<WorkerdWorker> {
  const MiniflareClass = await loadMiniflare();
  const started = performance.now();
  const miniflare = new MiniflareClass({
    modules: true,
    ...source,
    // Module names are paths relative to this root: the built file's own directory (a root above it is refused).
    ...("scriptPath" in source ? { modulesRoot: path.dirname(source.scriptPath) } : {}),
    bindings,
    compatibilityDate,
    host: "127.0.0.1",
    port: 0,
  });
  const ready = await miniflare.ready;
  const startMs = performance.now() - started;
  return {
    url: ready.origin,
    miniflare,
    startMs,
    dispose: () => miniflare.dispose(),
  };
}

/** The bindings a deployment has: the config's vars, then the two secrets (`wrangler secret put`), then overrides. */
export function deployedBindings(
  config: WranglerConfig,
  secrets: { UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string },
  overrides: Record<string, string> = {},
): Record<string, string> {
  return { ...(config.vars ?? {}), ...secrets, ...overrides };
}

/** A worker that reads and parses the body as the flag worker does, then answers fixed bytes with fixed headers. */
export function minimalWorker(body: string, headers: Record<string, string>): string {
  return [
    `const BODY = ${JSON.stringify(body)};`,
    `const HEADERS = ${JSON.stringify(headers)};`,
    "export default {",
    "  async fetch(request) {",
    "    JSON.parse(await request.text());",
    "    return new Response(BODY, { status: 200, headers: HEADERS });",
    "  },",
    "};",
  ].join("\n");
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

export interface ThroughputRun {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  failures: number;
}

export interface ColdStartSample {
  /** `new Miniflare` to ready: workerd's process start and the script's load. */
  startMs: number;
  /** The first request after load, sent over HTTP, to its answer's end. */
  firstMs: number;
  /** The second request, for comparison: a warm isolate. */
  secondMs: number;
}

export interface EdgeBench {
  build: { bytes: number; gzipBytes: number; ms: number; network: string[]; compatibilityDate: string };
  /** Bytes of the bulk answer both workers sent. */
  answerBytes: number;
  flags: ThroughputRun[];
  minimal: ThroughputRun[];
  ratio: number;
  coldFlags: ColdStartSample[];
  coldMinimal: ColdStartSample[];
  seconds: number;
}

async function timedPost(url: string, body: string): Promise<{ ms: number; status: number; text: string }> {
  const started = performance.now();
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  const text = await response.text();
  return { ms: performance.now() - started, status: response.status, text };
}

async function coldStart(
  source: WorkerSource,
  bindings: Record<string, string>,
  compatibilityDate: string,
  body: string,
): Promise<ColdStartSample> {
  const worker = await startWorkerd(source, bindings, compatibilityDate);
  try {
    const url = `${worker.url}/ofrep/v1/evaluate/flags`;
    const first = await timedPost(url, body);
    const second = await timedPost(url, body);
    if (first.status !== 200 || second.status !== 200) {
      throw new Error(`a cold worker answered ${first.status}/${second.status}: ${first.text.slice(0, 300)}`);
    }
    return { startMs: worker.startMs, firstMs: first.ms, secondMs: second.ms };
  } finally {
    await worker.dispose();
  }
}

async function throughput(url: string, bodyFile: string, seconds: number): Promise<ThroughputRun> {
  const result = await cannon(url, bodyFile, seconds);
  return {
    requestsPerSecond: result.requests.mean,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

export async function benchEdge(context: BenchContext): Promise<EdgeBench> {
  ensureRedisBinary();
  const config = await readWranglerConfig();
  context.log(`edge: wrangler deploy --dry-run of ${WRANGLER_CONFIG}`);
  const build = await wranglerBuild();
  const redis = await startRedis();
  const bridge = await startUpstashBridge({ redisPort: redis.port, token: "bench-edge-token" });
  const dir = await mkdtemp(path.join(os.tmpdir(), "greenlight-bench-edge-"));
  try {
    const store = createUpstashStore(createUpstashClient({ url: bridge.url, token: bridge.token, timeoutMs: 5000 }));
    for (const { key, scenario } of bulkScenarios(BULK_FLAGS)) {
      await store.put(greenlightFlag(key, scenario), { actor: "bench" });
    }
    // No CF-Connecting-IP reaches the worker here, so the per-address limit would not count; set high all the same.
    const bindings = deployedBindings(
      config,
      { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token },
      { GREENLIGHT_RATE_LIMIT_OFREP: "999999999/1s" },
    );
    const body = JSON.stringify({ context: benchUsers(1)[0]?.greenlight });
    const bodyFile = path.join(dir, "bulk.json");
    await writeFile(bodyFile, body);

    const flagsWorker = await startWorkerd({ scriptPath: build.file }, bindings, config.compatibility_date);
    let minimalWorkerd: WorkerdWorker | undefined;
    const flagsRuns: ThroughputRun[] = [];
    const minimalRuns: ThroughputRun[] = [];
    let answer = "";
    let minimal = "";
    try {
      // The flag worker's answer, bytes and headers, for the minimal worker to send back.
      const flagsUrl = `${flagsWorker.url}/ofrep/v1/evaluate/flags`;
      const response = await fetch(flagsUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
      answer = await response.text();
      const flags = (JSON.parse(answer) as { flags?: unknown[] }).flags;
      if (response.status !== 200 || flags?.length !== BULK_FLAGS) {
        throw new Error(`the flag worker did not evaluate ${BULK_FLAGS} flags: ${answer.slice(0, 300)}`);
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of response.headers) if (name !== "content-encoding") headers[name] = value;
      minimal = minimalWorker(answer, headers);
      minimalWorkerd = await startWorkerd({ script: minimal }, {}, config.compatibility_date);
      const minimalUrl = `${minimalWorkerd.url}/ofrep/v1/evaluate/flags`;
      const same = await timedPost(minimalUrl, body);
      if (same.text !== answer) throw new Error("the minimal worker does not answer the flag worker's bytes");
      context.log("edge: warming both workers (2 s each)");
      await cannon(flagsUrl, bodyFile, 2);
      await cannon(minimalUrl, bodyFile, 2);
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? (["flags", "minimal"] as const) : (["minimal", "flags"] as const);
        for (const which of order) {
          context.log(
            `edge: round ${round + 1}/${ROUNDS}, ${which} worker, autocannon ${CONNECTIONS} connections, ${context.duration} s`,
          );
          const run = await throughput(which === "flags" ? flagsUrl : minimalUrl, bodyFile, context.duration);
          (which === "flags" ? flagsRuns : minimalRuns).push(run);
        }
      }
    } finally {
      await flagsWorker.dispose();
      await minimalWorkerd?.dispose();
    }

    context.log(`edge: cold starts, ${COLD_RUNS} of each worker, alternating (+1 unmeasured each)`);
    const coldFlags: ColdStartSample[] = [];
    const coldMinimal: ColdStartSample[] = [];
    for (let run = 0; run <= COLD_RUNS; run++) {
      const flagsSample = await coldStart({ scriptPath: build.file }, bindings, config.compatibility_date, body);
      const minimalSample = await coldStart({ script: minimal }, {}, config.compatibility_date, body);
      if (run > 0) {
        coldFlags.push(flagsSample);
        coldMinimal.push(minimalSample);
      }
    }
    const ratio =
      median(flagsRuns.map((r) => r.requestsPerSecond)) / median(minimalRuns.map((r) => r.requestsPerSecond));
    context.log(`edge: flag worker / minimal worker = ${ratio.toFixed(2)}`);
    return {
      build: {
        bytes: build.bytes,
        gzipBytes: build.gzipBytes,
        ms: build.ms,
        network: build.network,
        compatibilityDate: config.compatibility_date,
      },
      answerBytes: Buffer.byteLength(answer),
      flags: flagsRuns,
      minimal: minimalRuns,
      ratio,
      coldFlags,
      coldMinimal,
      seconds: context.duration,
    };
  } finally {
    await build.cleanup();
    await bridge.close();
    await redis.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
const ms = (value: number) => (value < 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(0)} ms`);
const spread = (values: readonly number[]) => `${ms(Math.min(...values))}–${ms(Math.max(...values))}`;
const met = (ok: boolean) => (ok ? "met" : "**not met**");

export function renderEdgeSection(result: EdgeBench, context: BenchContext): string {
  const count = (value: number) => Math.round(value).toLocaleString("en");
  const rps = (runs: readonly ThroughputRun[]) => median(runs.map((r) => r.requestsPerSecond));
  const row = (label: string, runs: readonly ThroughputRun[]) =>
    `| ${label} | ${count(rps(runs))} | ${runs.map((r) => count(r.requestsPerSecond)).join(", ")} | ` +
    `${median(runs.map((r) => r.p50))} ms | ${median(runs.map((r) => r.p99))} ms | ` +
    `${runs.reduce((sum, r) => sum + r.failures, 0)} |`;
  const coldRow = (label: string, samples: readonly ColdStartSample[]) =>
    `| ${label} | ${ms(median(samples.map((s) => s.startMs)))} (${spread(samples.map((s) => s.startMs))}) | ` +
    `${ms(median(samples.map((s) => s.firstMs)))} (${spread(samples.map((s) => s.firstMs))}) | ` +
    `${ms(median(samples.map((s) => s.secondMs)))} |`;
  const { build } = result;
  const network =
    build.network.length === 0
      ? "no network connection or DNS lookup attempted"
      : `network attempted: ${build.network.join(", ")}`;
  return [
    "## Edge: the flag worker in workerd",
    "",
    `Command: \`${context.command}\` (alone: \`npx tsx scripts/bench/index.ts --only edge\`), ${context.date}. ` +
      `Machine: ${context.machine}.`,
    ...(context.busy ? ["", "**The machine was busy when this run started: treat the figures with care.**"] : []),
    "",
    `What is deployed is what is measured: \`wrangler deploy --dry-run --outdir\` builds \`${WRANGLER_CONFIG}\` ` +
      `offline (${ms(build.ms)}; ${network}), and miniflare 4 runs the built file as a module worker in workerd, on ` +
      `127.0.0.1, with the config's vars, the two Upstash secrets and compatibility date ${build.compatibilityDate}. ` +
      `Its rules (${BULK_FLAGS} flags) are in real Redis behind the test suite's Upstash REST bridge, read by the ` +
      "worker with @upstash/redis. The minimal worker reads and JSON.parses the same request body and answers the flag " +
      `worker's bulk answer, the same ${result.answerBytes.toLocaleString("en")} bytes with the same headers (ETag ` +
      "included): what any worker taking this request costs in workerd at the least.",
    "",
    `### OFREP bulk (${BULK_FLAGS} flags, one user's context, warm isolate), ${CONNECTIONS} connections, autocannon`,
    "",
    `${ROUNDS} rounds of ${result.seconds} s per worker, alternating which goes first, after 2 s of warm-up each; the ` +
      "median round counts. Both run in workerd behind miniflare's own entry worker, on the same two cores as " +
      "autocannon, the bridge and Redis.",
    "",
    "| worker | req/s (median) | rounds | p50 | p99 | failures |",
    "| --- | ---: | --- | ---: | ---: | ---: |",
    row("greenlight flag worker `POST /ofrep/v1/evaluate/flags`", result.flags),
    row("minimal worker (body read and parsed, same bytes answered)", result.minimal),
    "",
    `Ratio, flag worker to minimal worker: **${result.ratio.toFixed(2)}**.`,
    "",
    "### Cold start: the first request after load",
    "",
    "Each start is a new miniflare (a new workerd process loading the script), then two requests over HTTP; median " +
      `of ${result.coldFlags.length} starts of each (fastest–slowest in brackets), alternating, after one unmeasured ` +
      "start of each. Load includes workerd's own start, the same for both: the difference is the script's. The flag " +
      "worker's first request includes building its handler and loading and compiling the rules from Upstash (a " +
      "version `GET` and a `/multi-exec`, two round trips to the bridge); on Cloudflare a cold isolate pays those " +
      "round trips to a real Upstash region instead.",
    "",
    "| worker | load (new → ready) | first request | second request |",
    "| --- | ---: | ---: | ---: |",
    coldRow("greenlight flag worker", result.coldFlags),
    coldRow("minimal worker", result.coldMinimal),
    "",
    "### Bundle",
    "",
    "| bundle | minified | gzip |",
    "| --- | ---: | ---: |",
    `| the OFREP-only worker wrangler builds (what \`wrangler deploy\` uploads) | ${kb(build.bytes)} | ${kb(build.gzipBytes)} |`,
    `| before: the edge bundle with the admin API and validator (budgets part, 2026-12-07) | ${kb(FULL_EDGE_BUNDLE_BYTES)} | 100.7 KB |`,
    `| before re2js and the abuse limits (docs/FLAGS.md, Pattern syntax) | about ${kb(PRE_RE2_EDGE_BUNDLE_BYTES)} | — |`,
    "",
    "The admin API, the validator and the token parser are not in it (test/edge/ofrep-core.test.ts and " +
      "test/edge/workerd.test.ts check esbuild's and wrangler's metafiles), nor @upstash/ratelimit (the edge counts " +
      "its one limit, OFREP per address, in memory). What remains is mostly two packages the worker cannot do " +
      "without: re2js (about 150 KB, linear-time `matches` patterns) and @upstash/redis (about 80 KB); the budgets " +
      "part lists every input.",
    "",
    "### Targets",
    "",
    `- flag worker at least ${EDGE_TARGETS.ratio} of the minimal worker's requests per second: ${result.ratio.toFixed(2)}, ` +
      met(result.ratio >= EDGE_TARGETS.ratio),
    `- bundle at most ${kb(EDGE_TARGETS.bundleBytes)} minified: ${kb(build.bytes)}, ${met(build.bytes <= EDGE_TARGETS.bundleBytes)}` +
      (build.bytes > EDGE_TARGETS.bundleBytes
        ? " (re2js and @upstash/redis alone are about 230 KB; the target would need a smaller pattern engine or Upstash client)"
        : ""),
  ].join("\n");
}
