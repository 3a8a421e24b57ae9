// Bundle-size and cold-start budgets: each function bundled as serverless.yml bundles it, then started cold.
/*
 * Sizes: the esbuild options come from serverless.yml's `custom.esbuild` at run time (the keys serverless-esbuild
 * keeps for itself dropped, `exclude` turned into `external`, as the plugin does), so the bundles measured are
 * the ones `osls package` zips. The edge variant is bundled as docs/FLAGS.md says (`--platform=neutral`).
 * Cold starts: `node runner.mjs bundle event.json` in a directory with no node_modules, timed by this process
 * from `spawn` to the answer on the child's stdout. The child also reports, on its own clock (which starts with
 * the process), when its code began (Node's boot), how long `import` of the bundle took and how long the first
 * invocation took. Each function answers one real request: the webhook a POST /mutate, the flag function an OFREP
 * evaluation that loads its rules from real Redis through the Upstash REST bridge of the test suite, the stepper a
 * pass over one canary in the in-process fake API server. The servers they call run in this process.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type BuildOptions, build, type Metafile } from "esbuild";
import { parse } from "yaml";
import { isObject } from "../../functions/contract/objects.ts";
import { upstashStoreFromEnv } from "../../functions/flags/env.ts";
import { seedCanary } from "../fakes/canary-objects.ts";
import { startFakeApiServer } from "../fakes/kube/fake-apiserver.ts";
import { httpApiEvent } from "../fakes/lambda-events.ts";
import { ensureRedisBinary, startRedis } from "../services/redis.ts";
import { startUpstashBridge } from "../services/upstash-bridge.ts";
import { benchUsers, greenlightFlag } from "./flag-rules.ts";
import { median } from "./harness.ts";
import type { BenchContext } from "./index.ts";
import { deploymentReview } from "./webhook.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SERVERLESS_YML = path.join(ROOT, "serverless.yml");

/**
 * Minified bundle budgets in bytes, 1 KB read as 1,000 bytes (the stricter reading). Functions not named: reported.
 * flags was 150 KB until `matches` moved to RE2 (re2js, about 150 KB minified, most of it Unicode class tables) and
 * the abuse limits came (@upstash/ratelimit and its analytics module, about 37 KB): linear-time patterns and shared
 * rate limits on a public API are worth the bytes; the rest of the function keeps its old room.
 */
export const BUNDLE_BUDGETS: Readonly<Record<string, number>> = {
  flags: 360_000,
  webhook: 400_000,
  // Issue 15's target for what serves frontends. The edge bundle is OFREP-only now (no admin API, validator or
  // @upstash/ratelimit), but re2js (~150 KB) and @upstash/redis (~80 KB) alone are over it: reported as not met.
  "flags (edge)": 100_000,
};
/** Measured cold starts per function (odd: the median is one of them), after one unmeasured start of each. */
export const COLD_RUNS = 11;
const CHILD_TIMEOUT_MS = 30_000;
const MARKER = "greenlight-bench-cold:";
const TOP_CONTRIBUTORS = 6;

/** serverless-esbuild's own settings: it strips them before calling esbuild (serverless-esbuild 1.57, bundle.js). */
const PLUGIN_ONLY_KEYS = new Set([
  "concurrency",
  "zipConcurrency",
  "exclude",
  "nativeZip",
  "packager",
  "packagePath",
  "watch",
  "keepOutputDirectory",
  "packagerOptions",
  "installExtraArgs",
  "outputFileExtension",
  "outputBuildFolder",
  "outputWorkFolder",
  "nodeExternals",
  "skipBuild",
  "skipRebuild",
  "skipBuildExcludeFns",
  "stripEntryResolveExtensions",
  "disposeContext",
]);

/** How serverless-esbuild finds a handler's source: the handler's module path plus the first extension that exists. */
const ENTRY_EXTENSIONS = [".ts", ".mts", ".tsx", ".js", ".mjs", ".jsx", ".cjs", ".cts"];

/**
 * The edge variant (OFREP only), bundled as docs/FLAGS.md tells users to for runtimes other than Workers and Vercel.
 * wrangler's build of functions/flags/wrangler.jsonc (what `wrangler deploy` uploads) comes out the same size within
 * a few bytes; the edge part (edge.ts) measures that one and runs it in workerd.
 */
const EDGE = {
  name: "flags (edge)",
  entry: "functions/flags/edge.ts",
  options: {
    bundle: true,
    platform: "neutral",
    mainFields: ["module", "main"],
    format: "esm",
    minify: true,
  } satisfies BuildOptions,
};

export interface ServerlessBuild {
  /** What serverless-esbuild hands to esbuild for every function (entry and output aside). */
  options: BuildOptions;
  /** The bundle's file extension (`outputFileExtension`). */
  extension: string;
  /** Function name and the handler string of serverless.yml, in its order. */
  functions: Array<{ name: string; handler: string }>;
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) {
    throw new Error(`serverless.yml ${field} must be a string or a list of strings, got ${JSON.stringify(value)}`);
  }
  return list;
}

/** Fails on `${...}` left in a value: the bench does not resolve Serverless variables, so it would build wrongly. */
function assertResolved(value: unknown, field: string): void {
  if (typeof value === "string" && value.includes("${")) {
    throw new Error(
      `serverless.yml ${field} is ${JSON.stringify(value)}: the bench reads the file as plain YAML and cannot ` +
        "resolve variables there; use a literal value in custom.esbuild",
    );
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) assertResolved(item, `${field}[${i}]`);
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) assertResolved(item, `${field}.${key}`);
  }
}

/**
 * The build serverless-esbuild would run, from the parsed serverless.yml: its defaults (bundle, platform node,
 * target from the runtime, exclude `aws-sdk`) under `custom.esbuild`, plugin-only keys dropped, `exclude` added to
 * `external` (unless it is `*`). Pure: no file is read.
 */
export function serverlessBuild(document: unknown): ServerlessBuild {
  if (!isObject(document)) throw new Error("serverless.yml does not hold a YAML mapping");
  const custom = isObject(document.custom) ? document.custom : {};
  const esbuild = custom.esbuild === undefined ? {} : custom.esbuild;
  if (!isObject(esbuild)) throw new Error("serverless.yml custom.esbuild must be a mapping of esbuild options");
  if (esbuild.config !== undefined) {
    throw new Error("serverless.yml custom.esbuild.config (a JS config file) is not supported by the budgets bench");
  }
  assertResolved(esbuild, "custom.esbuild");
  const provider = isObject(document.provider) ? document.provider : {};
  const runtime = typeof provider.runtime === "string" ? provider.runtime : "";
  const nodeMajor = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];

  const options: Record<string, unknown> = { bundle: true, platform: "node" };
  if (nodeMajor !== undefined) options.target = `node${nodeMajor}`;
  for (const [key, value] of Object.entries(esbuild)) if (!PLUGIN_ONLY_KEYS.has(key)) options[key] = value;
  const exclude = esbuild.exclude === undefined ? ["aws-sdk"] : stringList(esbuild.exclude, "custom.esbuild.exclude");
  const external = stringList(esbuild.external, "custom.esbuild.external");
  options.external = [...external, ...(exclude.includes("*") ? [] : exclude)];

  const extension = esbuild.outputFileExtension ?? ".js";
  if (typeof extension !== "string")
    throw new Error("serverless.yml custom.esbuild.outputFileExtension must be a string");

  const functions: ServerlessBuild["functions"] = [];
  for (const [name, definition] of Object.entries(isObject(document.functions) ? document.functions : {})) {
    if (isObject(definition) && typeof definition.handler === "string") {
      functions.push({ name, handler: definition.handler });
    }
  }
  return { options: options as BuildOptions, extension, functions };
}

/** `webhooks/lambda.handler` -> `webhooks/lambda.ts` (or whichever extension exists), as serverless-esbuild resolves it. */
export function entryOf(handler: string, exists: (relative: string) => boolean): string {
  const dot = handler.lastIndexOf(".");
  if (dot <= 0) throw new Error(`handler "${handler}" is not "<file>.<export>" (e.g. webhooks/lambda.handler)`);
  const base = handler.slice(0, dot);
  const found = ENTRY_EXTENSIONS.map((extension) => `${base}${extension}`).find(exists);
  if (found === undefined) {
    throw new Error(`handler "${handler}": none of ${base}{${ENTRY_EXTENSIONS.join(",")}} exists`);
  }
  return found;
}

export interface Contributor {
  /** A package (`express`, `@upstash/redis`), a source directory (`functions/flags`), or esbuild's own glue. */
  name: string;
  bytes: number;
}

/** Who an input file belongs to: the innermost package under node_modules, else its first two directories. */
export function ownerOf(input: string): string {
  const parts = input.split("/");
  const last = parts.lastIndexOf("node_modules");
  if (last >= 0) {
    const first = parts[last + 1] ?? input;
    return first.startsWith("@") ? `${first}/${parts[last + 2] ?? ""}` : first;
  }
  return parts.length > 2 ? parts.slice(0, 2).join("/") : (parts[0] ?? input);
}

/** Bytes each owner put into the output, largest first; what no input accounts for (banner, runtime) is "esbuild glue". */
export function contributors(output: Metafile["outputs"][string]): Contributor[] {
  const bytes = new Map<string, number>();
  let accounted = 0;
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const owner = ownerOf(input);
    bytes.set(owner, (bytes.get(owner) ?? 0) + bytesInOutput);
    accounted += bytesInOutput;
  }
  if (output.bytes > accounted) bytes.set("esbuild glue (banner, module wrappers)", output.bytes - accounted);
  return [...bytes.entries()].map(([name, size]) => ({ name, bytes: size })).sort((a, b) => b.bytes - a.bytes);
}

/** HTTP frameworks no Lambda entry should carry (the cores run behind functions/http/lambda.ts): reported if one creeps in. */
export const FRAMEWORK = ["express", "serverless-http"] as const;

/**
 * Bytes in the output that only `packages` bring in: everything not reachable from the entry point once the
 * inputs of those packages are cut out of the import graph. Their own dependencies that other code also imports
 * stay counted against the rest.
 */
export function exclusiveBytes(
  metafile: Metafile,
  output: Metafile["outputs"][string],
  packages: readonly string[],
): number {
  const blocked = (input: string) => packages.includes(ownerOf(input));
  const reached = new Set<string>();
  const queue = output.entryPoint === undefined ? [] : [output.entryPoint];
  for (let input = queue.pop(); input !== undefined; input = queue.pop()) {
    if (reached.has(input) || blocked(input)) continue;
    reached.add(input);
    for (const imported of metafile.inputs[input]?.imports ?? []) if (!imported.external) queue.push(imported.path);
  }
  let bytes = 0;
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs))
    if (!reached.has(input)) bytes += bytesInOutput;
  return bytes;
}

export interface Bundle {
  name: string;
  entry: string;
  file: string;
  bytes: number;
  gzipBytes: number;
  budgetBytes?: number;
  /** The build it came from, in words, for the table. */
  build: "serverless.yml" | "edge (neutral)";
  contributors: Contributor[];
  /** What express and serverless-http bring in alone (see `exclusiveBytes`); 0 when the bundle has neither. */
  frameworkBytes: number;
}

async function bundle(
  name: string,
  entry: string,
  options: BuildOptions,
  outfile: string,
  how: Bundle["build"],
): Promise<Bundle> {
  const result = await build({
    ...options,
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outfile,
    write: true,
    metafile: true,
    logLevel: "silent",
  });
  const output = Object.values(result.metafile.outputs)[0];
  if (output === undefined) throw new Error(`esbuild wrote no output for ${entry}`);
  const { size } = await stat(outfile);
  const budgetBytes = BUNDLE_BUDGETS[name];
  return {
    name,
    entry,
    file: outfile,
    bytes: size,
    gzipBytes: gzipSync(await readFile(outfile)).length,
    ...(budgetBytes === undefined ? {} : { budgetBytes }),
    build: how,
    contributors: contributors(output),
    frameworkBytes: exclusiveBytes(result.metafile, output, FRAMEWORK),
  };
}

/** Every function of serverless.yml, bundled as serverless-esbuild bundles it, plus the edge variant. */
async function bundleAll(dir: string, context: BenchContext): Promise<Bundle[]> {
  const plan = serverlessBuild(parse(await readFile(SERVERLESS_YML, "utf8")));
  const bundles: Bundle[] = [];
  for (const { name, handler } of plan.functions) {
    const entry = entryOf(handler, (relative) => existsSync(path.join(ROOT, relative)));
    context.log(`budgets: bundling ${name} (${entry})`);
    bundles.push(await bundle(name, entry, plan.options, path.join(dir, `${name}${plan.extension}`), "serverless.yml"));
  }
  context.log(`budgets: bundling ${EDGE.name} (${EDGE.entry}, --platform=neutral)`);
  bundles.push(await bundle(EDGE.name, EDGE.entry, EDGE.options, path.join(dir, "flags-edge.mjs"), "edge (neutral)"));
  return bundles;
}

/*
 * The cold child. It reads the event before importing (reading it is not the function's work), then imports the
 * bundle and calls its handler once, as the Lambda runtime would. With "-" it imports nothing (Node's own boot);
 * with "fetch" it fetches the URL given instead of an event file (Node 20 loads its fetch, undici, on first use).
 * performance.now() counts from the process's start, so `startedAt` is what Node took before running this code.
 */
const RUNNER = `
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const startedAt = performance.now();
const [bundle, eventFile] = process.argv.slice(2);
let imported = startedAt;
let answered = startedAt;
let result = null;
if (bundle === "fetch") {
  await (await fetch(eventFile)).arrayBuffer();
  answered = performance.now();
} else if (bundle !== "-") {
  const event = JSON.parse(readFileSync(eventFile, "utf8"));
  const module = await import(pathToFileURL(bundle).href);
  imported = performance.now();
  result = await module.handler(event, { awsRequestId: "bench", getRemainingTimeInMillis: () => 55000 });
  answered = performance.now();
}
process.stdout.write(${JSON.stringify(MARKER)} + JSON.stringify({ startedAt, imported, answered, result }) + "\\n", () =>
  process.exit(0),
);
`;

interface ChildReport {
  startedAt: number;
  imported: number;
  answered: number;
  result: unknown;
}

export interface ColdSample {
  /** From `spawn` to the answer on stdout, on this process's clock. */
  totalMs: number;
  /** Node's boot, up to the runner's first line. */
  bootMs: number;
  importMs: number;
  invokeMs: number;
}

/** One cold start: a fresh `node` running the runner; rejects with the child's output when it fails or hangs. */
async function coldStart(dir: string, bundleFile: string, eventFile: string, env: NodeJS.ProcessEnv) {
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(dir, "runner.mjs"), bundleFile, eventFile], {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let answeredAt = 0;
  let report: ChildReport | undefined;
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (!line.startsWith(MARKER)) return; // the function's own logs (the stepper prints one line per pass)
    answeredAt = performance.now();
    report = JSON.parse(line.slice(MARKER.length)) as ChildReport;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
  });
  clearTimeout(timer);
  if (report === undefined || code !== 0) {
    const why = signal === "SIGKILL" ? `no answer within ${CHILD_TIMEOUT_MS} ms` : `exit ${signal ?? code}`;
    throw new Error(`cold start of ${path.basename(bundleFile)} failed (${why}): ${stderr.trim() || "(no stderr)"}`);
  }
  const sample: ColdSample = {
    totalMs: answeredAt - started,
    bootMs: report.startedAt,
    importMs: report.imported - report.startedAt,
    invokeMs: report.answered - report.imported,
  };
  return { sample, result: report.result };
}

/** One function's cold-start scenario: its event, its environment, and what a right answer looks like. */
interface Scenario {
  name: string;
  /** The request, in words, for the table. */
  request: string;
  /** Runs before each start, untimed (a fresh cluster for the stepper); returns the child's environment. */
  prepare(): Promise<NodeJS.ProcessEnv>;
  /** Throws when the answer is not the one this request must get: a fast wrong answer is no cold start. */
  check(result: unknown): void;
  event: unknown;
  close(): Promise<void>;
}

const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? "", LANG: "C.UTF-8" });

interface LambdaAnswer {
  statusCode?: number;
  body?: string;
}

function answerOf(result: unknown, name: string, status: number): unknown {
  const answer = (result ?? {}) as LambdaAnswer;
  if (answer.statusCode !== status) {
    throw new Error(`${name} answered ${answer.statusCode} instead of ${status}: ${String(answer.body).slice(0, 300)}`);
  }
  return JSON.parse(answer.body ?? "null") as unknown;
}

function webhookScenario(): Scenario {
  return {
    name: "webhook",
    request: "POST /mutate (API Gateway v2 event, a CREATE review)",
    event: httpApiEvent("POST", "/mutate", JSON.stringify(deploymentReview())),
    prepare: async () => ({ ...baseEnv(), GREENLIGHT_ON_ERROR: "allow" }),
    check(result) {
      const body = answerOf(result, "webhook", 200) as { response?: { allowed?: boolean; patch?: string } };
      if (body.response?.allowed !== true || !body.response.patch) {
        throw new Error(`webhook answered without an allowed patch: ${JSON.stringify(body).slice(0, 300)}`);
      }
    },
    close: async () => {},
  };
}

const FLAG_KEY = "bench-cold-flag";

/** The flag function on real Redis behind the Upstash bridge; without redis-server, on no store (it answers 503). */
async function flagsScenario(context: BenchContext): Promise<Scenario> {
  const user = benchUsers(1)[0]?.greenlight ?? {};
  const event = httpApiEvent("POST", `/ofrep/v1/evaluate/flags/${FLAG_KEY}`, JSON.stringify({ context: user }));
  try {
    ensureRedisBinary();
  } catch (error) {
    context.log(`budgets: ${(error as Error).message}; the flag function's cold start is measured without a store`);
    return {
      name: "flags",
      request: "POST /ofrep/v1/evaluate/flags/{key}, **no store** (no redis-server here): answers 503",
      event,
      prepare: async () => baseEnv(),
      check: (result) => void answerOf(result, "flags", 503),
      close: async () => {},
    };
  }
  const redis = await startRedis();
  const bridge = await startUpstashBridge({ redisPort: redis.port, token: "bench-cold-token" });
  const env = { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token };
  try {
    const store = upstashStoreFromEnv(env);
    if (!store) throw new Error("the Upstash store did not accept the bridge's URL and token");
    await store.put(greenlightFlag(FLAG_KEY, "3-condition targeting"), { actor: "bench" });
  } catch (error) {
    await bridge.close();
    await redis.close();
    throw error;
  }
  return {
    name: "flags",
    request: "POST /ofrep/v1/evaluate/flags/{key} (rules loaded from Redis through the Upstash REST API)",
    event,
    prepare: async () => ({ ...baseEnv(), ...env }),
    check(result) {
      const body = answerOf(result, "flags", 200) as { key?: string; value?: unknown };
      if (body.key !== FLAG_KEY || typeof body.value !== "boolean") {
        throw new Error(`flags answered something else than the flag: ${JSON.stringify(body).slice(0, 300)}`);
      }
    },
    async close() {
      await bridge.close();
      await redis.close();
    },
  };
}

/** The stepper's pass over one canary (it enters Waiting: reads, one guarded write, one Event), on a fresh cluster each time. */
function stepperScenario(): Scenario {
  let api: Awaited<ReturnType<typeof startFakeApiServer>> | undefined;
  return {
    name: "stepper",
    request: "a scheduled pass over one canary (fake API server)",
    event: { source: "aws.events", "detail-type": "Scheduled Event" },
    async prepare() {
      await api?.close();
      api = await startFakeApiServer();
      seedCanary(api);
      return {
        ...baseEnv(),
        GREENLIGHT_KUBECONFIG: Buffer.from(api.kubeConfig().exportConfig()).toString("base64"),
        // The first pass reads no metric; a port nobody listens on makes sure none is read by accident.
        PROMETHEUS_URL: "http://127.0.0.1:9",
      };
    },
    check(result) {
      const report = result as { canaries?: Array<{ outcome?: string }>; error?: string } | null;
      if (report?.canaries?.length !== 1 || report.canaries[0]?.outcome !== "written") {
        throw new Error(`the stepper pass did not write its one canary: ${JSON.stringify(report).slice(0, 300)}`);
      }
    },
    async close() {
      await api?.close();
      api = undefined;
    },
  };
}

export interface ColdStart {
  name: string;
  request: string;
  samples: ColdSample[];
}

export interface BudgetsBench {
  bundles: Bundle[];
  /** Node alone: the same runner importing nothing. */
  baseline: ColdSample[];
  /** Node and one `fetch()` to a local server: the first fetch of a process loads undici. */
  fetchBaseline: ColdSample[];
  coldStarts: ColdStart[];
  runs: number;
  /** Functions of serverless.yml with no cold-start scenario here. */
  unmeasured: string[];
}

export async function benchBudgets(context: BenchContext): Promise<BudgetsBench> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "greenlight-bench-budgets-"));
  const scenarios: Scenario[] = [];
  // Answers the fetch baseline's one request.
  const empty = createServer((_request, response) => response.writeHead(204).end());
  try {
    await new Promise<void>((resolve) => empty.listen(0, "127.0.0.1", resolve));
    const emptyUrl = `http://127.0.0.1:${(empty.address() as AddressInfo).port}/`;
    const bundles = await bundleAll(dir, context);
    await writeFile(path.join(dir, "runner.mjs"), RUNNER);
    scenarios.push(webhookScenario(), await flagsScenario(context), stepperScenario());
    const runnable = scenarios.flatMap((scenario) => {
      const built = bundles.find((b) => b.name === scenario.name && b.build === "serverless.yml");
      return built ? [{ scenario, bundle: built }] : [];
    });
    const events = new Map<string, string>();
    for (const { scenario } of runnable) {
      const file = path.join(dir, `${scenario.name}-event.json`);
      await writeFile(file, JSON.stringify(scenario.event));
      events.set(scenario.name, file);
    }
    const baseline: ColdSample[] = [];
    const fetchBaseline: ColdSample[] = [];
    const samples = new Map<string, ColdSample[]>(runnable.map(({ scenario }) => [scenario.name, []]));
    context.log(`budgets: cold starts, ${COLD_RUNS} rounds (+1 unmeasured) over ${runnable.length} functions`);
    // Round-robin, so a noisy moment on the machine spreads over every function instead of one.
    for (let round = 0; round <= COLD_RUNS; round++) {
      const measured = round > 0;
      const node = await coldStart(dir, "-", "-", baseEnv());
      if (measured) baseline.push(node.sample);
      const fetched = await coldStart(dir, "fetch", emptyUrl, baseEnv());
      if (measured) fetchBaseline.push(fetched.sample);
      for (const { scenario, bundle: built } of runnable) {
        const env = await scenario.prepare();
        const { sample, result } = await coldStart(dir, built.file, events.get(scenario.name) ?? "", env);
        scenario.check(result);
        if (measured) samples.get(scenario.name)?.push(sample);
      }
    }
    const measuredNames = new Set(runnable.map(({ scenario }) => scenario.name));
    return {
      bundles,
      baseline,
      fetchBaseline,
      coldStarts: runnable.map(({ scenario }) => ({
        name: scenario.name,
        request: scenario.request,
        samples: samples.get(scenario.name) ?? [],
      })),
      runs: COLD_RUNS,
      unmeasured: bundles.filter((b) => b.build === "serverless.yml" && !measuredNames.has(b.name)).map((b) => b.name),
    };
  } finally {
    for (const scenario of scenarios) await scenario.close();
    await new Promise<void>((resolve) => empty.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
const ms = (value: number) => `${value.toFixed(0)} ms`;
const spread = (values: readonly number[]) => `${ms(Math.min(...values))}–${ms(Math.max(...values))}`;

/** Met, not met, or reported: the budget column for one bundle. */
export function verdict(bundle: Pick<Bundle, "bytes" | "budgetBytes">): string {
  if (bundle.budgetBytes === undefined) return "reported";
  return bundle.bytes <= bundle.budgetBytes ? "met" : "**not met**";
}

function contributorLine(bundle: Bundle): string {
  const top = bundle.contributors.slice(0, TOP_CONTRIBUTORS).map((c) => `${c.name} ${kb(c.bytes)}`);
  const rest = bundle.contributors.slice(TOP_CONTRIBUTORS).reduce((sum, c) => sum + c.bytes, 0);
  const framework =
    bundle.frameworkBytes > 0
      ? `; ${FRAMEWORK.join(" + ")} and what only they import: ${kb(bundle.frameworkBytes)}`
      : "";
  return (
    `- **${bundle.name}** (${kb(bundle.bytes)}): ${top.join(", ")}${rest > 0 ? `, the rest ${kb(rest)}` : ""}` +
    framework
  );
}

/** For a bundle over budget: how far over, and whether leaving out the HTTP framework would be enough. */
function overBudgetNote(bundle: Bundle): string[] {
  if (bundle.budgetBytes === undefined || bundle.bytes <= bundle.budgetBytes) return [];
  const over = bundle.bytes - bundle.budgetBytes;
  const lines = [
    "",
    `**${bundle.name} is ${kb(over)} over its ${kb(bundle.budgetBytes)} budget.** Its largest inputs are listed above.`,
  ];
  if (bundle.frameworkBytes > 0) {
    lines.push(
      `${FRAMEWORK.join(" and ")}, with everything only they import, account for ${kb(bundle.frameworkBytes)}. ` +
        (bundle.frameworkBytes >= over
          ? "Serving the core through functions/http/lambda.ts instead, which builds the request from the API " +
            "Gateway event itself, would bring it under budget."
          : "Leaving them out alone would not bring the bundle under budget; the next largest inputs must shrink too."),
    );
  }
  return lines;
}

export function renderBudgetsSection(result: BudgetsBench, context: BenchContext): string {
  const { bundles, baseline, fetchBaseline, coldStarts } = result;
  const cold = (name: string) => coldStarts.find((c) => c.name === name);
  const sizeRow = (b: Bundle) => {
    const measured = cold(b.name);
    const coldCells = measured
      ? [
          `${ms(median(measured.samples.map((s) => s.totalMs)))} (${spread(measured.samples.map((s) => s.totalMs))})`,
          ms(median(measured.samples.map((s) => s.importMs))),
          ms(median(measured.samples.map((s) => s.invokeMs))),
        ]
      : ["— (size only)", "—", "—"];
    return (
      `| ${b.name} | \`${b.entry}\` | ${b.build} | ${kb(b.bytes)} | ${kb(b.gzipBytes)} | ` +
      `${b.budgetBytes === undefined ? "—" : kb(b.budgetBytes)} | ${verdict(b)} | ${coldCells.join(" | ")} |`
    );
  };
  const failed = bundles.filter((b) => b.budgetBytes !== undefined && b.bytes > b.budgetBytes);
  return [
    "## Budgets: bundle sizes and cold starts",
    "",
    `Command: \`${context.command}\`, ${context.date}. Machine: ${context.machine}.`,
    ...(context.busy ? ["", "**The machine was busy when this run started: treat the cold starts with care.**"] : []),
    "",
    "Each function of serverless.yml is bundled with esbuild using the options serverless.yml gives",
    "serverless-esbuild (read from the file at run time: minified ESM for its `target` with the `createRequire` banner,",
    "`@aws-sdk/*` external), which is what `osls package` zips; the edge variant is bundled as docs/FLAGS.md says",
    "(`--platform=neutral --main-fields=module,main --format=esm --minify`). Sizes are of the minified file (1 KB = 1,000 bytes); gzip is",
    "for reference.",
    "",
    `Cold start: a fresh \`node\` (${process.version}) in a directory with no node_modules imports the bundle and`,
    "calls its handler with one event, as the Lambda runtime would; the time runs from `spawn` to the answer on",
    `the child's stdout. Median of ${result.runs} starts per function (fastest–slowest in brackets), after one`,
    "unmeasured start of each, in rounds that take each function in turn. Import and first invocation are",
    "measured inside the child; the rest is Node's own boot and process creation. Not included: what Lambda adds",
    "(fetching the code, starting the runtime), so a deployed cold start is longer.",
    "",
    "| function | entry | build | minified | gzip | budget | status | cold start | import | first invocation |",
    "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ...bundles.map(sizeRow),
    `| node alone | — | — | — | — | — | — | ${ms(median(baseline.map((s) => s.totalMs)))} ` +
      `(${spread(baseline.map((s) => s.totalMs))}) | — | — |`,
    `| node + one \`fetch()\` | — | — | — | — | — | — | ${ms(median(fetchBaseline.map((s) => s.totalMs)))} ` +
      `(${spread(fetchBaseline.map((s) => s.totalMs))}) | — | ${ms(median(fetchBaseline.map((s) => s.invokeMs)))} |`,
    "",
    "The request each function answered:",
    "",
    ...coldStarts.map((c) => `- ${c.name}: ${c.request}`),
    ...(result.unmeasured.length > 0
      ? [`- ${result.unmeasured.join(", ")}: no cold-start scenario in scripts/bench/budgets.ts yet`]
      : []),
    "- the edge variant: not started here (an isolate's start is not Node's): its cold start in workerd is in the",
    "  edge section (`--only edge`)",
    "",
    "The flag function's first request includes loading its rules from Redis through the Upstash REST bridge, a",
    "local HTTP server in the bench process; the stepper's includes its Kubernetes API calls to the in-process",
    "fake API server. Over a real network each of those calls adds its round trip. The flag function's first",
    "invocation also pays for Node's first `fetch()` (Node 20 loads its fetch implementation, undici, on first",
    "use; @upstash/redis calls `fetch`): the `node + one fetch()` row is that cost alone, a process fetching once",
    "from a local server that answers 204.",
    "",
    "### What the bundles hold (bytes in the minified output, largest first)",
    "",
    ...bundles.map(contributorLine),
    ...failed.flatMap(overBudgetNote),
    "",
    "### Targets",
    "",
    ...bundles
      .filter((b) => b.budgetBytes !== undefined)
      .map((b) => `- ${b.name} bundle at most ${kb(b.budgetBytes ?? 0)}: ${kb(b.bytes)}, ${verdict(b)}`),
  ].join("\n");
}
