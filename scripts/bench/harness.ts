// The benchmark harness shared by the parts: server children (serve.ts) and load generators (autocannon, pace.ts),
// each in a process of its own so that the harness's own work and GC touch no measurement.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type autocannon from "autocannon";
import { parseLine, type ServerKind, type ServerMessage, type ServerReport } from "./protocol.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
export const CONNECTIONS = 10;

/** A closed-loop autocannon run against one server. Latencies in ms, as autocannon reports them. */
/** Microseconds of server CPU (all its threads) per answered request over a run: what the load generator cannot skew. */
export const cpuPerRequest = (run: CannonRun): number => (run.total > 0 ? (run.server.cpuMs * 1000) / run.total : 0);

export interface CannonRun {
  label: string;
  connections: number;
  rate?: number;
  /** Mean of autocannon's per-second samples. */
  requestsPerSecond: number;
  total: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** Non-2xx answers, connection errors and timeouts: all should be 0. */
  failures: number;
  /** What the server process measured in itself during the run. */
  server: ServerReport;
}

/** A server child as the harness holds it: `mark` starts a measured run, `report` ends it. */
export interface ServerChild {
  pid: number;
  url(route: string): string;
  mark(): Promise<void>;
  report(): Promise<ServerReport>;
  /** `work` between a `mark` and a `report`. */
  measure<T>(work: () => Promise<T>): Promise<[T, ServerReport]>;
  stop(): Promise<void>;
}

/**
 * The banner serverless.yml gives the Lambda's ESM bundle: bundled CommonJS packages (express, body-parser) call
 * `require` for Node built-ins, which an ES module does not have.
 */
const REQUIRE_BANNER =
  "import { createRequire as __greenlightCreateRequire } from 'node:module'; const require = __greenlightCreateRequire(import.meta.url);";

/** serve.ts compiled to one plain JavaScript file, run with `node` alone; `cleanup` removes it. */
export interface BundledServe {
  file: string;
  cleanup(): Promise<void>;
}

/**
 * Bundles serve.ts and all it loads (greenlight's code, express, ...) with esbuild into a temporary directory, the
 * way production runs the servers: the Lambda runs a minified esbuild bundle (serverless.yml, serverless-esbuild),
 * the in-cluster server the compiled CLI (scripts/build-cli.mjs). Under tsx instead, its esbuild transform wraps
 * every function, hot inner ones included, in a `__name(...)` call (keepNames), which production never pays.
 * Platform node, ESM (serve.ts awaits at its top level) with serverless.yml's `require` banner, minified, keepNames off.
 */
export async function bundleServe(): Promise<BundledServe> {
  const { build } = await import("esbuild");
  const directory = await mkdtemp(path.join(os.tmpdir(), "greenlight-bench-serve-"));
  const file = path.join(directory, "serve.mjs");
  try {
    await build({
      absWorkingDir: ROOT,
      entryPoints: [path.join(HERE, "serve.ts")],
      outfile: file,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      minify: true,
      keepNames: false,
      sourcemap: false,
      legalComments: "none",
      logLevel: "silent",
      banner: { js: REQUIRE_BANNER },
    });
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  return { file, cleanup: () => rm(directory, { recursive: true, force: true }) };
}

/**
 * Starts `serve.ts <kind>` and waits until it listens. Its stdin stays open: closing it stops the child too.
 * With `bundle` (bundleServe()) the child is `node <bundle> <kind>`, else `node --import tsx serve.ts <kind>`.
 */
export async function startServer(
  kind: ServerKind,
  nodeFlags: readonly string[],
  bundle?: BundledServe,
  /** After the kind on the command line (`floor-same` takes its answer's file). */
  args: readonly string[] = [],
): Promise<ServerChild> {
  // Only the flags given reach the server: a NODE_OPTIONS in the harness's environment would add others.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const entry = bundle === undefined ? ["--import", "tsx", path.join(HERE, "serve.ts")] : [bundle.file];
  const child = spawn(process.execPath, [...nodeFlags, ...entry, kind, ...args], {
    cwd: ROOT,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const waiting: Array<{ resolve: (message: ServerMessage) => void; reject: (error: Error) => void }> = [];
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    for (const waiter of waiting.splice(0)) waiter.reject(failure);
  };
  // A dead child's stdin fails to write; the exit below says why.
  child.stdin.on("error", () => {});
  const exited = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      fail(error);
      resolve();
    });
    child.once("exit", (code, signal) => {
      fail(new Error(`the ${kind} server exited (${signal ?? `code ${code}`}): ${stderr.trim()}`));
      resolve();
    });
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    const message = parseLine(line);
    // The protocol is ours (protocol.ts); anything without an event is a stray print.
    if (message !== undefined && typeof message.event === "string") waiting.shift()?.resolve(message as ServerMessage);
  });
  const next = <E extends ServerMessage["event"]>(event: E, timeoutMs = 30_000) =>
    new Promise<Extract<ServerMessage, { event: E }>>((resolve, reject) => {
      if (failure) {
        reject(failure);
        return;
      }
      const waiter: (typeof waiting)[number] = {
        resolve: (message) => {
          clearTimeout(timer);
          if (message.event === event) resolve(message as Extract<ServerMessage, { event: E }>);
          else reject(new Error(`the ${kind} server sent "${message.event}", expected "${event}"`));
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(waiter), 1);
        reject(new Error(`the ${kind} server sent no "${event}" in time`));
      }, timeoutMs);
      waiting.push(waiter);
    });
  const command = (line: string) => child.stdin.write(`${line}\n`);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  };

  const mark = async () => {
    const marked = next("marked");
    command("mark");
    await marked;
  };
  const report = async () => {
    const reported = next("report");
    command("report");
    return (await reported).report;
  };
  try {
    const listening = await next("listening");
    return {
      pid: listening.pid,
      url: (route) => `http://127.0.0.1:${listening.port}${route}`,
      mark,
      report,
      async measure(work) {
        await mark();
        const result = await work();
        return [result, await report()];
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Runs `work` against a fresh `kind` server, alone on the machine, and stops the server afterwards. `bundle`: see
 * startServer().
 */
export async function withServer<T>(
  kind: ServerKind,
  nodeFlags: readonly string[],
  work: (server: ServerChild) => Promise<T>,
  bundle?: BundledServe,
  args: readonly string[] = [],
): Promise<T> {
  const server = await startServer(kind, nodeFlags, bundle, args);
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

/**
 * Runs a Node script in a child process and returns the last line of its stdout, parsed as JSON. `onMessage` sees
 * every JSON line as it arrives, the last one included.
 */
export function runChild(
  name: string,
  args: string[],
  onMessage: (message: Record<string, unknown>) => void = () => {},
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    let stderr = "";
    createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line);
      const message = parseLine(line);
      if (message !== undefined) onMessage(message);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (code) => {
      const last = lines.filter((line) => line.trim() !== "").at(-1) ?? "";
      const parsed = parseLine(last.trim());
      if (code !== 0 || parsed === undefined) {
        reject(new Error(`${name} exited with ${code}: ${stderr.trim() || lines.join("\n").trim()}`));
        return;
      }
      resolve(parsed);
    });
  });
}

const AUTOCANNON = createRequire(import.meta.url).resolve("autocannon/autocannon.js");

export function cannon(
  url: string,
  bodyFile: string,
  seconds: number,
  { rate, connections = CONNECTIONS }: { rate?: number; connections?: number } = {},
): Promise<autocannon.Result> {
  const args = [AUTOCANNON, "--json", "-c", String(connections), "-d", String(seconds), "-m", "POST"];
  args.push("-H", "content-type=application/json", "-i", bodyFile);
  if (rate !== undefined) args.push("-R", String(rate));
  args.push(url);
  return runChild("autocannon", args) as Promise<autocannon.Result>;
}

export async function cannonRun(
  server: ServerChild,
  label: string,
  url: string,
  bodyFile: string,
  seconds: number,
  rate?: number,
): Promise<CannonRun> {
  const [result, report] = await server.measure(() =>
    cannon(url, bodyFile, seconds, rate === undefined ? {} : { rate }),
  );
  const run: CannonRun = {
    label,
    connections: result.connections,
    requestsPerSecond: result.requests.mean,
    total: result.requests.total,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    max: result.latency.max,
    failures: result.non2xx + result.errors + result.timeouts,
    server: report,
  };
  if (rate !== undefined) run.rate = rate;
  return run;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
};

/** One server of a paired measurement: its kind, the route measured, a label and serve.ts's extra arguments. */
export interface PairedSide {
  kind: ServerKind;
  route: string;
  label: string;
  args?: readonly string[];
}

export interface PairedRatio {
  rounds: number;
  /** Seconds per side per round. */
  seconds: number;
  /** Each round's throughput of `a` over `b`'s, in the order measured. */
  ratios: number[];
  /** The median of `ratios`. */
  median: number;
  /** The median server CPU per request of each side over the rounds, µs. */
  cpuA: number;
  cpuB: number;
}

/** Rounds and seconds a paired measurement takes for a bench of `duration` seconds per run. */
export const pairedPlan = (duration: number): { rounds: number; seconds: number } => ({
  rounds: 5,
  seconds: Math.max(2, Math.round(duration / 2)),
});

/**
 * `a`'s throughput over `b`'s, measured in alternating rounds with both servers up throughout: each round runs one
 * then the other for `seconds` (a first in even rounds, b first in odd ones), and the figure is the median of the
 * rounds' ratios. A shared VM's speed drifts by a fifth within minutes; two runs minutes apart drift apart, the two
 * halves of a round drift alike.
 */
export async function pairedRatio(options: {
  nodeFlags: readonly string[];
  bundle: BundledServe;
  a: PairedSide;
  b: PairedSide;
  bodyFile: string;
  rounds: number;
  seconds: number;
  warmup: number;
  log: (line: string) => void;
}): Promise<PairedRatio> {
  const { nodeFlags, bundle, a, b, bodyFile, rounds, seconds, warmup, log } = options;
  return withServer(
    a.kind,
    nodeFlags,
    (serverA) =>
      withServer(
        b.kind,
        nodeFlags,
        async (serverB) => {
          const sides = [
            { side: a, server: serverA },
            { side: b, server: serverB },
          ] as const;
          for (const { side, server } of sides) await cannon(server.url(side.route), bodyFile, warmup);
          const ratios: number[] = [];
          const cpu: [number[], number[]] = [[], []];
          for (let round = 0; round < rounds; round++) {
            const order = round % 2 === 0 ? [0, 1] : [1, 0];
            const runs: CannonRun[] = [];
            for (const index of order) {
              const { side, server } = sides[index as 0 | 1];
              const run = await cannonRun(server, side.label, server.url(side.route), bodyFile, seconds);
              runs[index] = run;
              cpu[index as 0 | 1].push(cpuPerRequest(run));
            }
            const [runA, runB] = runs as [CannonRun, CannonRun];
            const ratio = runB.requestsPerSecond > 0 ? runA.requestsPerSecond / runB.requestsPerSecond : 0;
            ratios.push(ratio);
            log(
              `  round ${round + 1}/${rounds}: ${a.label} ${runA.requestsPerSecond.toFixed(0)} req/s, ` +
                `${b.label} ${runB.requestsPerSecond.toFixed(0)} req/s, ratio ${ratio.toFixed(2)}`,
            );
          }
          return { rounds, seconds, ratios, median: median(ratios), cpuA: median(cpu[0]), cpuB: median(cpu[1]) };
        },
        bundle,
        b.args,
      ),
    bundle,
    a.args,
  );
}

/** A paired measurement as the targets state it: the median, then every round's ratio. */
export const pairedLine = (paired: PairedRatio): string =>
  `${paired.median.toFixed(2)}, the median of ${paired.rounds} alternating rounds of ${paired.seconds} s each, so ` +
  "that the machine's drift in speed (a fifth within minutes on a shared VM) moves both sides of a ratio alike " +
  `(${paired.ratios.map((ratio) => ratio.toFixed(2)).join(", ")}; server CPU per request ${paired.cpuA.toFixed(0)} µs ` +
  `against ${paired.cpuB.toFixed(0)} µs)`;
