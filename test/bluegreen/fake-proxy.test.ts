// The fake API server's service proxy answers as kube-apiserver does, and proxyGet reads any answer through client-node.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { proxyGet } from "../../functions/bluegreen/kube.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { attachProxy, type FakeProxy } from "../../scripts/fakes/kube/fake-proxy.ts";
import { NAMESPACE, putPods, seedBlueGreen, syncEndpoints, versionService } from "./objects.ts";

let api: FakeApiServer;
let proxy: FakeProxy;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  proxy = attachProxy(api);
  clients = createKubeClients(api.kubeConfig(), "proxy-test");
});
afterAll(() => api.close());
beforeEach(() => {
  api.reset();
  seedBlueGreen(api);
  proxy.route(NAMESPACE, "myapp-green", (request) => ({ status: 200, body: `green ${request.path}` }));
});

const base = () => `${api.url}/api/v1/namespaces/${NAMESPACE}/services`;

async function get(path: string, token = api.token) {
  const response = await fetch(`${base()}/${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  let status: { message?: string; reason?: string; code?: number } = {};
  try {
    status = JSON.parse(text);
  } catch {
    // a backend's own body
  }
  return { code: response.status, text, status, type: response.headers.get("content-type") };
}

describe("the fake service proxy", () => {
  it("reaches a pod behind the Service's Endpoints with the backend path, query and pod", async () => {
    const answer = await get("myapp-green:80/proxy/health?full=1&x=a%20b");
    expect(answer).toMatchObject({ code: 200, text: "green /health", type: "text/plain; charset=utf-8" });
    expect(proxy.requests).toEqual([
      {
        method: "GET",
        namespace: NAMESPACE,
        service: "myapp-green",
        path: "/health",
        query: "full=1&x=a+b",
        pod: "myapp-green-0",
        ip: "10.2.0.10",
        port: 8080,
      },
    ]);
    const call = api.calls.at(-1);
    expect(call).toMatchObject({ verb: "get", resource: "services", subresource: "proxy", name: "myapp-green:80" });
  });

  it("decodes the path as the API server does: %2F is a slash, no subpath is /", async () => {
    expect((await get("myapp-green%3A80/proxy/api%2Fv1%2Fhealth")).text).toBe("green /api/v1/health");
    expect((await get("myapp-green:80/proxy/%2Fhealth")).text).toBe("green /health");
    expect((await get("myapp-green:80/proxy")).text).toBe("green /");
    expect((await get("http:myapp-green:80/proxy/")).text).toBe("green /");
  });

  it("passes the backend's status, body and Content-Type through", async () => {
    proxy.route(NAMESPACE, "myapp-green", () => ({
      status: 503,
      body: "draining",
      contentType: "application/x-custom",
    }));
    expect(await get("myapp-green:80/proxy/health")).toMatchObject({
      code: 503,
      text: "draining",
      type: "application/x-custom",
    });
  });

  it("answers what kube-apiserver answers when it cannot resolve a backend", async () => {
    expect((await get("nope:80/proxy/health")).status).toMatchObject({
      code: 404,
      reason: "NotFound",
      message: 'services "nope" not found',
    });
    // Without a numeric port the Service is not read at all: only its Endpoints.
    expect((await get("nope/proxy/health")).status).toMatchObject({ code: 404, message: 'endpoints "nope" not found' });
    expect((await get("myapp-green:81/proxy/health")).status).toMatchObject({
      code: 503,
      reason: "ServiceUnavailable",
      message: 'no service port 81 found for service "myapp-green"',
    });
    expect((await get("a:b:c:d/proxy/health")).status).toMatchObject({
      code: 400,
      message: 'invalid service request "a:b:c:d"',
    });
    expect((await get("ftp:myapp-green:80/proxy/")).status.code).toBe(400);
    proxy.unroute(NAMESPACE, "myapp-green");
    expect((await get("myapp-green:80/proxy/health")).status).toMatchObject({
      code: 503,
      reason: "ServiceUnavailable",
      message: "error trying to reach service: dial tcp 10.2.0.10:8080: connect: connection refused",
    });
  });

  it("uses only ready addresses of existing pods whose IP matches, like the real resolver", async () => {
    api.put({ apiVersion: "v1", kind: "Endpoints", metadata: { name: "myapp-green", namespace: NAMESPACE } });
    expect((await get("myapp-green:80/proxy/health")).status.message).toBe(
      'no endpoints available for service "myapp-green"',
    );
    for (let index = 0; index < 3; index++) api.remove("v1", "Pod", NAMESPACE, `myapp-green-${index}`);
    putPods(api, "green", 2, false);
    syncEndpoints(api);
    expect((await get("myapp-green:80/proxy/health")).status.message).toBe(
      'no endpoints available for service "myapp-green:80"',
    );
    putPods(api, "green", 1, true);
    syncEndpoints(api);
    api.remove("v1", "Pod", NAMESPACE, "myapp-green-0");
    expect((await get("myapp-green:80/proxy/health")).code).toBe(503);
  });

  it("matches a named port by name on the Endpoints", async () => {
    api.put({
      ...versionService("green"),
      spec: { selector: { app: "myapp", version: "green" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
    });
    syncEndpoints(api);
    expect((await get("myapp-green:http/proxy/health")).text).toBe("green /health");
    expect((await get("myapp-green:80/proxy/health")).text).toBe("green /health");
    expect((await get("myapp-green/proxy/health")).code).toBe(503);
  });

  it("is authenticated, recorded and subject to failNext like every other call", async () => {
    expect((await get("myapp-green:80/proxy/health", "wrong")).code).toBe(401);
    api.failNext({ subresource: "proxy" }, 500);
    expect((await get("myapp-green:80/proxy/health")).code).toBe(500);
    expect((await get("myapp-green:80/proxy/health")).code).toBe(200);
    expect(proxy.requests).toHaveLength(1);
  });
});

describe("proxyGet through client-node", () => {
  const target = { namespace: NAMESPACE, service: "myapp-green", port: 80, path: "/health", timeoutMs: 2000 };

  it("reads any 2xx body, whatever its Content-Type; client-node alone throws on some of them", async () => {
    proxy.route(NAMESPACE, "myapp-green", () => ({
      status: 200,
      body: "\u0001",
      contentType: "application/octet-stream",
    }));
    expect(await proxyGet(clients, target)).toEqual({ status: 200, body: "\u0001" });
    await expect(
      clients.core.connectGetNamespacedServiceProxyWithPath({
        namespace: NAMESPACE,
        name: "myapp-green:80",
        path: "health",
      }),
    ).rejects.toThrow(/application\/octet-stream is not supported/);
    proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "OK", contentType: "application/json" }));
    expect(await proxyGet(clients, target)).toEqual({ status: 200, body: "OK" });
  });

  it("resolves with non-2xx answers, from the backend or from the API server itself", async () => {
    proxy.route(NAMESPACE, "myapp-green", () => ({ status: 500, body: "boom" }));
    expect(await proxyGet(clients, target)).toEqual({ status: 500, body: "boom" });
    const missing = await proxyGet(clients, { ...target, service: "nope" });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ message: 'services "nope" not found' });
  });

  it("sends the smoke path's query as a query, not as part of the path", async () => {
    await proxyGet(clients, { ...target, path: "/health/deep?full=1" });
    expect(proxy.requests.at(-1)).toMatchObject({ path: "/health/deep", query: "full=1" });
  });

  it("gives up after timeoutMs and rejects with what it was doing", async () => {
    proxy.route(
      NAMESPACE,
      "myapp-green",
      () => new Promise((resolve) => setTimeout(() => resolve({ status: 200 }), 500)),
    );
    await expect(proxyGet(clients, { ...target, timeoutMs: 50 })).rejects.toThrow(
      /^GET production\/myapp-green:80\/health through the API server proxy: .*abort/i,
    );
  });
});
