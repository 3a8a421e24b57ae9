// The demo's sample app: one in-process HTTP server per version, healthy or failing by a configured share.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface AppBehaviour {
  /** The version it reports (the pods' `version` label). */
  version: string;
  /** Share of requests answered 500, in [0, 1]. */
  errorRate: number;
  /** Share of requests that are slow, in [0, 1]. */
  slowRate: number;
  /** Usual latency range in milliseconds, [min, max]. */
  latencyMs: readonly [number, number];
  /** Latency range of the slow requests. */
  slowMs: readonly [number, number];
}

export const HEALTHY: Omit<AppBehaviour, "version"> = {
  errorRate: 0,
  slowRate: 0,
  latencyMs: [2, 20],
  slowMs: [0, 0],
};

/** The bad canary: one request in five fails, and one in ten takes 0.7 to 1.4 s (its p95 and p99 exceed the gates). */
export const FAULTY: Omit<AppBehaviour, "version"> = {
  errorRate: 0.2,
  slowRate: 0.1,
  latencyMs: [2, 20],
  slowMs: [700, 1400],
};

export interface PlannedResponse {
  status: 200 | 500;
  delayMs: number;
}

const within = ([min, max]: readonly [number, number], draw: number): number => min + (max - min) * draw;

/** How one request is answered, from three independent uniform draws (pure, so tests can feed fixed draws). */
export function planResponse(behaviour: AppBehaviour, random: () => number): PlannedResponse {
  const status = random() < behaviour.errorRate ? 500 : 200;
  const slow = random() < behaviour.slowRate;
  const delayMs = within(slow ? behaviour.slowMs : behaviour.latencyMs, random());
  return { status, delayMs };
}

export interface SampleApp {
  url: string;
  version: string;
  close(): Promise<void>;
}

/** An HTTP server on a free loopback port, answering through `later` (after a delay); close() drops what is pending. */
export interface DelayedServer {
  url: string;
  close(): Promise<void>;
}

/** `handle` answers each request by calling `later(delayMs, send)`; the sends still pending when closed never run. */
export async function startDelayedServer(
  handle: (
    request: IncomingMessage,
    response: ServerResponse,
    later: (delayMs: number, send: () => void) => void,
  ) => void,
): Promise<DelayedServer> {
  const timers = new Set<NodeJS.Timeout>();
  const later = (delayMs: number, send: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      send();
    }, delayMs);
    timers.add(timer);
  };
  const server: Server = createServer((request, response) => handle(request, response, later));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function startSampleApp(behaviour: AppBehaviour, random: () => number = Math.random): Promise<SampleApp> {
  const server = await startDelayedServer((request, response, later) => {
    // The body is not used, but it must be read for the connection to be reused.
    request.resume();
    const plan = planResponse(behaviour, random);
    later(plan.delayMs, () => {
      const body =
        plan.status === 200
          ? JSON.stringify({ version: behaviour.version, ok: true })
          : JSON.stringify({ version: behaviour.version, error: "simulated failure" });
      response.writeHead(plan.status, { "content-type": "application/json", "x-app-version": behaviour.version });
      response.end(body);
    });
  });
  return { url: server.url, version: behaviour.version, close: server.close };
}
