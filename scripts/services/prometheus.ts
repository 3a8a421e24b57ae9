// Finds (or installs) Debian's Prometheus and runs private instances of it for the tests, on their own ports.
/*
 * - `ensurePrometheusBinary()`: the path of `prometheus` on PATH or /usr/bin. When it is missing, root installs it
 *   with apt-get (an `apt-get update` only when apt knows no candidate); anyone else gets one line saying what to run.
 * - `startPrometheus({ scrapeTargets })`: a fresh config and TSDB under a temp dir, 127.0.0.1 on a free port,
 *   resolved once `/-/ready` answers. `stop()` / `restart()` keep the port and the data (the "Prometheus went away"
 *   tests), `close()` stops it for good and removes the temp dir.
 * - No stray Prometheus survives the run: each one is its own process group, killed by `stop()`, by a process
 *   `exit` handler, and, when setpriv is available, by the kernel when this process dies (`--pdeathsig KILL`), so
 *   even a SIGKILLed test run leaves none behind. Its temp dir is then removed by the next run's `startPrometheus`.
 * - `waitForSamples(url, query)`: polls an instant query until it has samples. The first scraped sample shows up
 *   about 6 s after start even with a 1 s scrape interval (the discovery manager batches target updates).
 * The Debian package may start a system Prometheus on :9090 when installed; nothing here uses or touches it.
 */
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type EnsureOptions, ensureBinary, findBinary } from "./apt.ts";
import { launchOnFreePort, spawnOwned, stopOwned } from "./children.ts";

export { freePort } from "./children.ts";

export const INSTALL_HINT =
  "prometheus not found: run `sudo apt-get install -y prometheus` (Debian) and re-run npm test";
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

/** An executable `prometheus` in one of `path`'s directories, else `fallback` if executable, else undefined. */
export function findPrometheusBinary(
  path = process.env.PATH ?? "",
  fallback = "/usr/bin/prometheus",
): string | undefined {
  return findBinary("prometheus", path, fallback);
}

export type { EnsureOptions };

/** The Prometheus binary, installed with apt-get when missing and running as root; otherwise a one-line error. */
export function ensurePrometheusBinary(options: EnsureOptions = {}): string {
  return ensureBinary(
    { binary: "prometheus", packageName: "prometheus", hint: INSTALL_HINT },
    { ...options, fallback: options.fallback ?? "/usr/bin/prometheus" },
  );
}

export interface PrometheusOptions {
  /** Full URLs of the metrics endpoints to scrape, e.g. `http://127.0.0.1:4000/metrics`. */
  scrapeTargets: string[];
  scrapeIntervalSeconds?: number;
}

export interface RunningPrometheus {
  /** `http://127.0.0.1:<port>`, the same across restarts. */
  url: string;
  /** The temp dir holding the config, the TSDB and `prometheus.log`. */
  dir: string;
  /** Stops the process (SIGTERM, then SIGKILL after a grace period); the data and the port stay reserved. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data; resolves when ready. */
  restart(): Promise<void>;
  /** Stops it and removes its temp dir. */
  close(): Promise<void>;
}

/** The config: one job a target, so that each keeps its own scheme and metrics path. */
export function prometheusConfig(targets: readonly string[], intervalSeconds: number): string {
  const jobs = targets.map((target, index) => {
    const url = new URL(target);
    return [
      `  - job_name: target-${index}`,
      `    scheme: ${url.protocol.replace(":", "")}`,
      `    metrics_path: ${JSON.stringify(url.pathname || "/metrics")}`,
      "    static_configs:",
      `      - targets: [${JSON.stringify(url.host)}]`,
    ].join("\n");
  });
  return [
    "global:",
    `  scrape_interval: ${intervalSeconds}s`,
    `  scrape_timeout: ${intervalSeconds}s`,
    `  evaluation_interval: ${intervalSeconds}s`,
    jobs.length > 0 ? "scrape_configs:" : "scrape_configs: []",
    ...jobs,
    "",
  ].join("\n");
}

function logTail(file: string, lines = 5): string {
  try {
    const text = readFileSync(file, "utf8").trim().split("\n");
    return text.slice(-lines).join(" | ");
  } catch {
    return "(no log)";
  }
}

const DIR_PREFIX = "greenlight-prometheus-";
const OWNER_FILE = "owner.pid";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the temp dirs of earlier runs that were killed before they could clean up (their owner is gone). */
async function pruneOrphanDirs(): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => []);
  for (const name of names.filter((entry) => entry.startsWith(DIR_PREFIX))) {
    const dir = join(tmpdir(), name);
    const owner = Number(await readFile(join(dir, OWNER_FILE), "utf8").catch(() => ""));
    if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) await rm(dir, { recursive: true, force: true });
  }
}

/** Starts a private Prometheus scraping `scrapeTargets`; resolves once it answers `/-/ready`. */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const binary = ensurePrometheusBinary();
  const interval = options.scrapeIntervalSeconds ?? 1;
  await pruneOrphanDirs();
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  const configFile = join(dir, "prometheus.yml");
  const dataDir = join(dir, "data");
  const logFile = join(dir, "prometheus.log");
  await mkdir(dataDir);
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  await writeFile(configFile, prometheusConfig(options.scrapeTargets, interval));

  let port = 0;
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--web.enable-lifecycle",
      "--log.level=warn",
    ];
    const log = openSync(logFile, "a");
    const started = spawnOwned(binary, args, ["ignore", log, log]);
    closeSync(log);
    child = started;
    await waitForReady(`http://127.0.0.1:${port}`, started, logFile);
  };

  const stop = async (): Promise<void> => {
    const current = child;
    if (!current) return;
    child = undefined;
    await stopOwned(current, STOP_GRACE_MS);
  };

  // A port that was free a moment ago can be taken before Prometheus binds it: try a few.
  try {
    port = await launchOnFreePort(
      async (chosen) => {
        port = chosen;
        await launch();
      },
      stop,
      () => /address already in use/i.test(logTail(logFile, 20)),
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForReady(url: string, child: ChildProcess, logFile: string): Promise<void> {
  let gone = false;
  child.once("exit", () => {
    gone = true;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!gone && Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  const why = gone ? `exited with ${child.exitCode ?? child.signalCode}` : "not ready after 30 s";
  throw new Error(`prometheus on ${url} ${why}: ${logTail(logFile)}`);
}

export interface WaitOptions {
  /** Done when this holds for the values; default: at least one sample. */
  until?: (values: number[]) => boolean;
  /** Give up after this long; a limit for a broken setup, not a measurement. */
  timeoutMs?: number;
}

/** Polls an instant query until Prometheus has samples for it (the first scrape lands ~6 s after start). */
export async function waitForSamples(
  prometheusUrl: string,
  query: string,
  options: WaitOptions = {},
): Promise<number[]> {
  const until = options.until ?? ((values: number[]) => values.length > 0);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    try {
      const values = await instantValues(prometheusUrl, query);
      if (until(values)) return values;
      last = `last values [${values.join(", ")}]`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) {
      throw new Error(`no samples for ${query} from ${prometheusUrl} within ${timeoutMs / 1000} s (${last})`);
    }
    await sleep(250);
  }
}

interface InstantAnswer {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

/** A raw instant query over fetch (independent of the adapter under test): the sample values. */
async function instantValues(prometheusUrl: string, query: string): Promise<number[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`, {
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as InstantAnswer;
  if (body.status !== "success") throw new Error(body.error ?? `HTTP ${response.status}`);
  const { resultType, result } = body.data ?? {};
  const number = (text: unknown): number =>
    text === "+Inf" ? Number.POSITIVE_INFINITY : text === "-Inf" ? Number.NEGATIVE_INFINITY : Number(text);
  if (resultType === "scalar" && Array.isArray(result)) return [number(result[1])];
  if (resultType === "vector" && Array.isArray(result)) {
    return result.map((sample: { value?: unknown[] }) => number(sample.value?.[1]));
  }
  throw new Error(`unexpected result type ${resultType}`);
}
