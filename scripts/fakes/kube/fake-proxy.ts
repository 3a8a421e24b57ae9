// The API server's service proxy for the fake API server: `/api/v1/namespaces/NS/services/ID/proxy/PATH` answered by
// per-Service handlers that tests register, after resolving the target the way kube-apiserver does.
/*
 * Use: `const proxy = attachProxy(api)` once (it survives `api.reset()`, which forgets its handlers), then
 * `proxy.route("production", "myapp-green", (request) => ({ status: 200, body: "ok" }))`.
 *
 * How the target is resolved (kube-apiserver's service REST `ResourceLocation`, which the fake follows step by step):
 * 1. ID is "name", "name:port" or "scheme:name:port" (scheme "", http or https); anything else is 400
 *    `invalid service request "ID"`.
 * 2. A numeric port is looked up among the Service's ports (the Service missing: 404 `services "name" not found`;
 *    no such port: 503 `no service port N found for service "name"`) and replaced by that port's name ("" when
 *    unnamed). A named or empty port skips this step: the Service itself is not read.
 * 3. The Endpoints object of that name (missing: 404 `endpoints "name" not found`); no subsets: 503
 *    `no endpoints available for service "name"`.
 * 4. The first subset with addresses and a port of that name, and in it the first address whose targetRef is a Pod
 *    of this namespace that exists and has the address among its `status.podIPs` (the real server starts at a
 *    random subset and address; the fake takes them in order). None: 503 `no endpoints available for service "ID"`.
 *    `notReadyAddresses` are never used, as on the real server.
 * 5. The request goes to that pod: the handler registered for the Service gets the backend path (always starting
 *    with "/"), the query, the pod, its IP and the endpoint port, and its status, body and Content-Type are passed
 *    through unchanged. No handler is a backend that refuses connections: 503 ServiceUnavailable
 *    `error trying to reach service: dial tcp IP:PORT: connect: connection refused`; a handler that throws is a
 *    dropped connection, answered the same way with its message.
 * The fake has no Endpoints controller: tests write Endpoints objects (and Pods with podIPs) themselves.
 */
import type { FakeApiServer, JsonObject, RecordedCall, Verb } from "./fake-apiserver.ts";
import { asArray, asObject, asString } from "./fake-json.ts";
import { ApiError, badRequest, failure, notFound } from "./fake-status.ts";

export interface ProxyRequest {
  method: string;
  namespace: string;
  service: string;
  /** The path the backend receives, starting with "/". */
  path: string;
  /** The query string passed to the backend, without "?"; "" when none. */
  query: string;
  /** The Pod the request reached (the Endpoints address's targetRef), its IP and the endpoint's port. */
  pod: string;
  ip: string;
  port: number;
}

export interface ProxyResponse {
  status: number;
  body?: string;
  /** Default text/plain; charset=utf-8. */
  contentType?: string;
}

export type ProxyHandler = (request: ProxyRequest) => ProxyResponse | Promise<ProxyResponse>;

export interface FakeProxy {
  /** Answers requests proxied to this Service with `handler` (replacing an earlier one). */
  route(namespace: string, service: string, handler: ProxyHandler): void;
  unroute(namespace: string, service: string): void;
  /** Every request that reached a handler, in order. */
  readonly requests: ProxyRequest[];
  /** Forgets handlers and requests (the API server's `reset()` does this too). */
  clear(): void;
}

const VERBS: Record<string, Verb> = { GET: "get", POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete" };
const SCHEMES = new Set(["", "http", "https"]);

const serviceUnavailable = (message: string): ApiError => new ApiError(failure(503, "ServiceUnavailable", message));

/** Go's utilnet.SplitSchemeNamePort. */
function splitSchemeNamePort(id: string): { name: string; port: string } | undefined {
  const parts = id.split(":");
  const [first = "", second = "", third = ""] = parts;
  const split =
    parts.length === 1
      ? { scheme: "", name: first, port: "" }
      : parts.length === 2
        ? { scheme: "", name: first, port: second }
        : parts.length === 3
          ? { scheme: first, name: second, port: third }
          : undefined;
  return split && split.name !== "" && SCHEMES.has(split.scheme) ? { name: split.name, port: split.port } : undefined;
}

/** The segments of a proxy path: namespace, service ID and the encoded rest, or undefined for other paths. */
function parseProxyPath(path: string): { namespace: string; id: string; rest: string[] } | undefined {
  const segments = path.split("/");
  const [empty, api, v1, namespaces, namespace, services, id, proxy, ...rest] = segments;
  if (empty !== "" || api !== "api" || v1 !== "v1" || namespaces !== "namespaces" || services !== "services") {
    return undefined;
  }
  if (proxy !== "proxy" || !namespace || !id) return undefined;
  return { namespace: decodeURIComponent(namespace), id: decodeURIComponent(id), rest };
}

export function attachProxy(api: FakeApiServer): FakeProxy {
  const handlers = new Map<string, ProxyHandler>();
  const requests: ProxyRequest[] = [];
  const key = (namespace: string, service: string) => `${namespace}/${service}`;

  const get = (kind: string, namespace: string, name: string): JsonObject | undefined =>
    api.get("v1", kind, namespace, name);

  /** Steps 2-4 of the resolution: the pod, its IP and the endpoint port, or the API server's error. */
  const resolve = (namespace: string, id: string): { name: string; pod: string; ip: string; port: number } => {
    const split = splitSchemeNamePort(id);
    if (!split) throw badRequest(`invalid service request "${id}"`);
    const { name } = split;
    let portName = split.port;
    if (/^[+-]?\d+$/.test(portName)) {
      const number = Number(portName);
      const service = get("Service", namespace, name);
      if (!service) throw notFound({ group: "", resource: "services" }, name);
      const port = asArray(asObject(service.spec)?.ports)
        .map(asObject)
        .find((candidate) => candidate?.port === number);
      if (!port) throw serviceUnavailable(`no service port ${number} found for service "${name}"`);
      portName = asString(port.name) ?? "";
    }
    const endpoints = get("Endpoints", namespace, name);
    if (!endpoints) throw notFound({ group: "", resource: "endpoints" }, name);
    const subsets = asArray(endpoints.subsets).map((subset) => asObject(subset) ?? {});
    if (subsets.length === 0) throw serviceUnavailable(`no endpoints available for service "${name}"`);
    for (const subset of subsets) {
      const addresses = asArray(subset.addresses).map((address) => asObject(address) ?? {});
      const port = asArray(subset.ports)
        .map((candidate) => asObject(candidate) ?? {})
        .find((candidate) => (asString(candidate.name) ?? "") === portName);
      if (addresses.length === 0 || !port || typeof port.port !== "number") continue;
      for (const address of addresses) {
        const ip = asString(address.ip) ?? "";
        const targetRef = asObject(address.targetRef);
        const podName = asString(targetRef?.name);
        if (!targetRef || asString(targetRef.namespace) !== namespace || !podName) continue;
        const pod = get("Pod", namespace, podName);
        const podIPs = asArray(asObject(pod?.status)?.podIPs).map((entry) => asString(asObject(entry)?.ip));
        if (podIPs.includes(ip)) return { name, pod: podName, ip, port: port.port };
      }
    }
    throw serviceUnavailable(`no endpoints available for service "${id}"`);
  };

  api.addRoute({
    claims(call: RecordedCall) {
      const parsed = parseProxyPath(call.path);
      if (!parsed) return false;
      Object.assign(call, {
        verb: VERBS[call.method] ?? "other",
        group: "",
        version: "v1",
        resource: "services",
        subresource: "proxy",
        namespace: parsed.namespace,
        name: parsed.id,
      });
      return true;
    },
    async answer(call: RecordedCall) {
      const parsed = parseProxyPath(call.path);
      if (!parsed) throw new Error("fake-proxy: answer() for a path it did not claim");
      const target = resolve(parsed.namespace, parsed.id);
      // The API server decodes the whole path before splitting it; a leading "%2F" thus becomes an empty segment.
      const subpath = parsed.rest.map((segment) => decodeURIComponent(segment)).join("/");
      const request: ProxyRequest = {
        method: call.method,
        namespace: parsed.namespace,
        service: target.name,
        path: `/${subpath.replace(/^\/+/, "")}`,
        query: new URLSearchParams(call.query).toString(),
        pod: target.pod,
        ip: target.ip,
        port: target.port,
      };
      const handler = handlers.get(key(parsed.namespace, target.name));
      const dial = `dial tcp ${target.ip}:${target.port}`;
      if (!handler) throw serviceUnavailable(`error trying to reach service: ${dial}: connect: connection refused`);
      requests.push(request);
      let response: ProxyResponse;
      try {
        response = await handler(request);
      } catch (error) {
        throw serviceUnavailable(`error trying to reach service: ${(error as Error).message}`);
      }
      return {
        code: response.status,
        body: response.body ?? "",
        headers: { "content-type": response.contentType ?? "text/plain; charset=utf-8" },
      };
    },
    reset() {
      handlers.clear();
      requests.length = 0;
    },
  });

  return {
    route(namespace, service, handler) {
      handlers.set(key(namespace, service), handler);
    },
    unroute(namespace, service) {
      handlers.delete(key(namespace, service));
    },
    requests,
    clear() {
      handlers.clear();
      requests.length = 0;
    },
  };
}
