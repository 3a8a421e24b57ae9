// Server processes the tests own (Prometheus, redis-server): started in their own group, never outliving the run.
/*
 * Each child is its own process group, killed by `stopOwned`, by a process `exit` handler, and, when setpriv is
 * available, by the kernel when this process dies (`--pdeathsig KILL`), so even a SIGKILLed test run leaves none.
 */
import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { createServer } from "node:net";
import { isExecutable } from "./apt.ts";

/** Every child started here and still running, killed synchronously if this process exits first. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find(isExecutable);

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Starts `binary` in a process group of its own, tracked and unref'd (a forgotten one must not hold the run). */
export function spawnOwned(binary: string, args: readonly string[], stdio: StdioOptions): ChildProcess {
  const [command, argv] = SETPRIV ? [SETPRIV, ["--pdeathsig", "KILL", "--", binary, ...args]] : [binary, [...args]];
  const child = spawn(command, argv, { detached: true, stdio });
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const each of running) killGroup(each, "SIGKILL");
    });
  }
  child.unref();
  return child;
}

/** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopOwned(child: ChildProcess, graceMs: number): Promise<void> {
  killGroup(child, "SIGTERM");
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** A port nobody listens on right now (the server gets it a moment later; `launchOnFreePort` retries a lost race). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("could not read the port of a probe socket");
  return address.port;
}

/**
 * Runs `launch` on a free port, again on another one when `portTaken` says the port was taken between choosing and
 * binding it (`stop` cleans up a failed attempt first). Returns the port it started on.
 */
export async function launchOnFreePort(
  launch: (port: number) => Promise<void>,
  stop: () => Promise<void>,
  portTaken: (error: unknown) => boolean,
  attempts = 3,
): Promise<number> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    try {
      await launch(port);
      return port;
    } catch (error) {
      await stop();
      if (!portTaken(error) || attempt >= attempts) throw error;
    }
  }
}
