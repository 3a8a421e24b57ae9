// Finds (or installs) Debian's redis-server and runs private, throwaway instances of it for the tests.
/*
 * - `ensureRedisBinary()`: redis-server on PATH or /usr/bin; installed with apt-get when missing and running as
 *   root (scripts/services/apt.ts), otherwise one line saying what to run. The run's global setup calls it once.
 * - `startRedis()`: `redis-server --port PORT --bind 127.0.0.1 --save "" --appendonly no` on a free port, in the
 *   foreground (not daemonized, so we own the process), resolved once it answers PING. It keeps nothing on disk:
 *   `restart()` brings back an empty server on the same port (the "Redis went away" tests), `close()` ends it.
 * - No stray redis-server survives the run: each one is its own process group, killed by `stop()`, by a process
 *   `exit` handler and, when setpriv is available, by the kernel when this process dies (`--pdeathsig KILL`).
 * Starting one takes milliseconds, so each test file starts its own. The Debian package may also run a system
 * redis on :6379; nothing here uses or touches it.
 */
import type { ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { type EnsureOptions, ensureBinary, findBinary } from "./apt.ts";
import { launchOnFreePort, spawnOwned, stopOwned } from "./children.ts";
import { RespConnection } from "./resp.ts";

export const REDIS_INSTALL_HINT =
  "redis-server not found: run `sudo apt-get install -y redis-server` (Debian) and re-run npm test";
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

/** An executable `redis-server` in one of `path`'s directories, else `fallback` if executable, else undefined. */
export function findRedisBinary(path = process.env.PATH ?? "", fallback = "/usr/bin/redis-server"): string | undefined {
  return findBinary("redis-server", path, fallback);
}

/** The redis-server binary, installed with apt-get when missing and running as root; otherwise a one-line error. */
export function ensureRedisBinary(options: EnsureOptions = {}): string {
  return ensureBinary(
    { binary: "redis-server", packageName: "redis-server", hint: REDIS_INSTALL_HINT },
    { ...options, fallback: options.fallback ?? "/usr/bin/redis-server" },
  );
}

export interface RunningRedis {
  /** The TCP port on 127.0.0.1, the same across restarts. */
  port: number;
  /** Stops the process (SIGTERM, then SIGKILL after a grace period); the port stays this instance's. */
  stop(): Promise<void>;
  /** Starts it again, empty, on the same port; resolves when it answers PING. */
  restart(): Promise<void>;
  /** Stops it for good. */
  close(): Promise<void>;
}

/** Keeps the last lines the server printed (its startup errors), without letting the pipes hold the event loop. */
function captureOutput(child: ChildProcess): () => string {
  const lines: string[] = [];
  const collect = (stream: Readable | null) => {
    if (!stream) return;
    stream.on("data", (chunk: Buffer) => {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      lines.splice(0, Math.max(0, lines.length - 20));
    });
    // The pipe is a net.Socket: unref'd so that a forgotten server does not keep the test process alive.
    (stream as Readable & { unref?: () => void }).unref?.();
  };
  collect(child.stdout);
  collect(child.stderr);
  return () => lines.slice(-5).join(" | ") || "(no output)";
}

/**
 * Whether the redis-server with this pid answers on the port. The pid check matters: when another process took
 * the port first (a parallel test file's redis), its PONG must not pass for ours.
 */
async function answersPing(port: number, pid: number | undefined): Promise<boolean> {
  try {
    const connection = await RespConnection.connect(port, "127.0.0.1", 500);
    try {
      const [pong, info] = await connection.sendMany([["PING"], ["INFO", "server"]]);
      if (pong?.kind !== "simple" || pong.value !== "PONG" || info?.kind !== "bulk") return false;
      return /^process_id:(\d+)\r?$/m.exec(info.value.toString("utf8"))?.[1] === String(pid);
    } finally {
      connection.close();
    }
  } catch {
    return false;
  }
}

/** Starts a private redis-server on a free port; resolves once it answers PING. */
export async function startRedis(): Promise<RunningRedis> {
  const binary = ensureRedisBinary();
  let port = 0;
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    // Logs go to our pipe (never a file); warnings only, so the pipe stays quiet once it runs.
    args.push("--loglevel", "warning", "--logfile", "");
    const started = spawnOwned(binary, args, ["ignore", "pipe", "pipe"]);
    child = started;
    const output = captureOutput(started);
    let gone = false;
    // "close" (not "exit"): by then the pipes are drained, so the error below has the server's last words.
    started.once("close", () => {
      gone = true;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!gone && Date.now() < deadline) {
      if (await answersPing(port, started.pid)) return;
      await sleep(10);
    }
    const why = gone ? `exited with ${started.exitCode ?? started.signalCode}` : "did not answer PING within 10 s";
    throw new Error(`redis-server on 127.0.0.1:${port} ${why}: ${output()}`);
  };

  const stop = async (): Promise<void> => {
    const current = child;
    if (!current) return;
    child = undefined;
    await stopOwned(current, STOP_GRACE_MS);
  };

  // A port that was free a moment ago can be taken before redis-server binds it: try a few.
  port = await launchOnFreePort(
    async (chosen) => {
      port = chosen;
      await launch();
    },
    stop,
    (error) => /address already in use/i.test((error as Error).message),
  );

  return {
    port,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    close: stop,
  };
}
