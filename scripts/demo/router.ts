// The demo's stand-in for the mesh: an HTTP router that follows a VirtualService's weights and counts like Istio.
/*
 * In a cluster, istiod pushes a VirtualService's weights to the Envoy sidecars. Here the router polls the
 * VirtualService through the real @kubernetes/client-node (every `pollMs`, 200 ms by default) against whichever API
 * server the KubeConfig names, so what it routes by is what the stepper wrote over HTTP, with the same lag a mesh
 * has. Each request takes the first matching route and a weighted draw among its destinations (weighted.ts), is
 * forwarded to that subset's backend, and is counted under that destination's Istio labels (metrics.ts), which
 * Prometheus scrapes from `GET /metrics` on the same port (never routed, never counted).
 *
 * A failed poll keeps the last table (a mesh keeps serving its last config when istiod is away) and is reported once
 * per distinct message through `onPollError`.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { KubeConfig } from "@kubernetes/client-node";
import { ISTIO_GROUP } from "../../functions/canary/istio.ts";
import type { VirtualService } from "../../functions/canary/virtual-service.ts";
import { createKubeClients } from "../../functions/kube/clients.ts";
import { toKubeError } from "../../functions/kube/errors.ts";
import { type DestinationLabels, IstioRequestMetrics } from "./metrics.ts";
import { pickDestination, type RouteRule, routeTable, selectRoute } from "./weighted.ts";

export const DEFAULT_POLL_MS = 200;

export interface RouterDestination {
  /** Base URL of the backend serving this subset. */
  url: string;
  labels: DestinationLabels;
}

export interface RouterTarget {
  namespace: string;
  virtualService: string;
  /** Backends by DestinationRule subset name (what the VirtualService's destinations name). */
  destinations: Record<string, RouterDestination>;
}

export interface RouterOptions {
  kubeConfig: KubeConfig;
  pollMs?: number;
  /** Uniform draws in [0, 1) for the weighted choice (default Math.random). */
  random?: () => number;
  onPollError?: (message: string) => void;
}

export interface RouterStats {
  /** Requests answered 503 because no route or no destination took them. */
  noRoute: number;
  /** Requests whose backend could not be reached (answered 503, flag UF). */
  upstreamFailures: number;
  pollErrors: number;
}

export interface Router {
  url: string;
  metricsUrl: string;
  /** Reads the target's VirtualService once (throws a one-line error if it cannot), then routes by it and polls it. */
  follow(target: RouterTarget): Promise<void>;
  /** The route table in force, undefined before the first `follow`. */
  table(): RouteRule[] | undefined;
  /** Requests served per `namespace/workload`. */
  served(): Map<string, number>;
  stats(): RouterStats;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "proxy-connection"]);

function forwardedHeaders(request: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  return headers;
}

export async function startRouter(options: RouterOptions): Promise<Router> {
  const custom = createKubeClients(options.kubeConfig, "greenlight-demo-router").custom;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const random = options.random ?? Math.random;
  const metrics = new IstioRequestMetrics();
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const stats: RouterStats = { noRoute: 0, upstreamFailures: 0, pollErrors: 0 };
  let target: RouterTarget | undefined;
  let table: RouteRule[] | undefined;
  /** Bumped by every `follow` and by `close`: a poll started for an older target must not overwrite the table. */
  let generation = 0;
  let pollTimer: NodeJS.Timeout | undefined;
  let lastPollError = "";
  let closed = false;

  const read = async (wanted: RouterTarget): Promise<RouteRule[]> => {
    try {
      const vs = (await custom.getNamespacedCustomObject({
        group: ISTIO_GROUP,
        version: "v1",
        namespace: wanted.namespace,
        plural: "virtualservices",
        name: wanted.virtualService,
      })) as VirtualService;
      return routeTable(vs);
    } catch (error) {
      throw toKubeError(error, `router reading VirtualService ${wanted.namespace}/${wanted.virtualService}`);
    }
  };

  const schedule = (mine: number): void => {
    if (closed || mine !== generation) return;
    pollTimer = setTimeout(() => {
      const wanted = target;
      if (!wanted) return;
      read(wanted)
        .then((fresh) => {
          if (mine !== generation) return;
          table = fresh;
          lastPollError = "";
        })
        .catch((error: unknown) => {
          if (mine !== generation) return;
          stats.pollErrors += 1;
          const message = error instanceof Error ? error.message : String(error);
          if (message !== lastPollError) options.onPollError?.(`${message} (keeping the last weights)`);
          lastPollError = message;
        })
        .finally(() => schedule(mine));
    }, pollMs);
  };

  const reply = (response: ServerResponse, status: number, text: string): void => {
    response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
    response.end(text);
  };

  const forward = (request: IncomingMessage, response: ServerResponse): void => {
    const started = performance.now();
    const rule = table ? selectRoute(table, request.headers) : undefined;
    const chosen = rule ? pickDestination(rule.destinations, random()) : undefined;
    const destination = chosen ? target?.destinations[chosen.subset] : undefined;
    if (!destination) {
      // Istio answers such requests itself (flag NR); they reach no workload, so no workload series counts them.
      stats.noRoute += 1;
      request.resume();
      reply(response, 503, `no route: ${chosen ? `subset ${chosen.subset} has no backend` : "no route takes it"}\n`);
      return;
    }
    let flags = "-";
    response.once("finish", () => {
      metrics.record({
        destination: destination.labels,
        code: response.statusCode,
        durationMs: performance.now() - started,
        flags,
      });
    });
    const upstream = httpRequest(
      new URL(request.url ?? "/", destination.url),
      { method: request.method, headers: forwardedHeaders(request), agent },
      (answer) => {
        const headers = { ...answer.headers };
        for (const name of HOP_BY_HOP) delete headers[name];
        response.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", (error) => {
      if (response.headersSent) {
        response.destroy(error);
        return;
      }
      stats.upstreamFailures += 1;
      flags = "UF";
      reply(response, 503, `upstream ${destination.labels.workload} unreachable: ${error.message}\n`);
    });
    request.pipe(upstream);
  };

  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/metrics" && request.method === "GET") {
      request.resume();
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      response.end(metrics.render());
      return;
    }
    forward(request, response);
  });
  // Load keeps arriving while the demo winds down: a reset connection is expected then, not worth a crash.
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    metricsUrl: `${url}/metrics`,
    async follow(next) {
      const fresh = await read(next);
      generation += 1;
      if (pollTimer) clearTimeout(pollTimer);
      target = next;
      table = fresh;
      lastPollError = "";
      schedule(generation);
    },
    table: () => table,
    served: () => metrics.served(),
    stats: () => ({ ...stats }),
    async close() {
      closed = true;
      generation += 1;
      if (pollTimer) clearTimeout(pollTimer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
