// The demo's load generator: an open loop of GET requests at a fixed rate, whatever the answers take.
/*
 * Open loop on purpose: a closed loop (next request after the last answer) sends less when the canary gets slow, which
 * hides exactly the latency the stepper is meant to catch. Requests are due at `rps` per second from the start; a
 * timer every few milliseconds sends whatever is due, so the rate holds on average even when timers fire late.
 */
import { Agent, request as httpRequest } from "node:http";
import { performance } from "node:perf_hooks";

export interface LoadOptions {
  /** Where to send the requests (the router). */
  url: string;
  rps: number;
  /** A request not answered by then counts as a timeout. Default 5 s. */
  timeoutMs?: number;
}

export interface LoadStats {
  sent: number;
  /** Answers by status class: `2xx`, `5xx`, ... */
  answered: Record<string, number>;
  timeouts: number;
  /** Requests not sent because the event loop stalled and they would have gone out as one burst. */
  skipped: number;
  /** Connection failures (refused, reset). */
  failed: number;
  inFlight: number;
}

export interface LoadGenerator {
  stats(): LoadStats;
  /** Stops sending, waits for the requests in flight (at most their timeout), and gives the final numbers. */
  stop(): Promise<LoadStats>;
}

const TICK_MS = 5;
/** A stalled event loop must not turn into one burst of seconds' worth of requests. */
const MAX_BURST = 200;

/**
 * What is owed after `elapsedMs` at `rps`, given `scheduled` so far: `send` now, and `skip` (a backlog beyond
 * MAX_BURST after a stall, dropped rather than fired at once).
 */
export function dueRequests(elapsedMs: number, rps: number, scheduled: number): { send: number; skip: number } {
  const owed = Math.max(0, Math.floor((elapsedMs / 1000) * rps) - scheduled);
  const send = Math.min(owed, MAX_BURST);
  return { send, skip: owed - send };
}

export function startLoad(options: LoadOptions): LoadGenerator {
  if (!Number.isFinite(options.rps) || options.rps <= 0) {
    throw new Error(`load rps must be a positive number, got ${options.rps}`);
  }
  const timeoutMs = options.timeoutMs ?? 5_000;
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const stats: LoadStats = { sent: 0, answered: {}, timeouts: 0, skipped: 0, failed: 0, inFlight: 0 };
  const started = performance.now();
  let scheduled = 0;
  let stopping = false;
  let drained: (() => void) | undefined;

  const settle = (): void => {
    stats.inFlight -= 1;
    if (stopping && stats.inFlight === 0) drained?.();
  };

  const send = (): void => {
    stats.sent += 1;
    stats.inFlight += 1;
    let done = false;
    const finish = (record: () => void): void => {
      if (done) return;
      done = true;
      record();
      settle();
    };
    const request = httpRequest(
      new URL(`/?n=${stats.sent}`, options.url),
      { agent, timeout: timeoutMs },
      (response) => {
        response.resume();
        response.once("end", () =>
          finish(() => {
            const bucket = `${Math.floor((response.statusCode ?? 0) / 100)}xx`;
            stats.answered[bucket] = (stats.answered[bucket] ?? 0) + 1;
          }),
        );
        response.once("error", () => finish(() => stats.failed++));
      },
    );
    request.once("timeout", () => {
      finish(() => stats.timeouts++);
      request.destroy();
    });
    request.once("error", () => finish(() => stats.failed++));
    request.end();
  };

  const timer = setInterval(() => {
    const { send: due, skip } = dueRequests(performance.now() - started, options.rps, scheduled);
    scheduled += due + skip;
    stats.skipped += skip;
    for (let i = 0; i < due; i += 1) send();
  }, TICK_MS);

  return {
    stats: () => ({ ...stats, answered: { ...stats.answered } }),
    async stop() {
      stopping = true;
      clearInterval(timer);
      if (stats.inFlight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, timeoutMs).unref();
        });
      }
      agent.destroy();
      return { ...stats, answered: { ...stats.answered } };
    },
  };
}
