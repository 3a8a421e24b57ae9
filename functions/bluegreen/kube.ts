// Blue/green's Kubernetes calls (client-node 1.4): Services, EndpointSlices, Pods, the guarded Service patch and the
// API server's service proxy. Every failure becomes a KubeError saying what failed where; nothing here decides.
import {
  Observable,
  type ObservableMiddleware,
  ResponseContext,
  type V1EndpointSlice,
  type V1Pod,
  type V1Service,
} from "@kubernetes/client-node";
import type { Operation } from "fast-json-patch";
import type { KubeClients } from "../kube/clients.ts";
import { toKubeError } from "../kube/errors.ts";

export async function readService(clients: KubeClients, namespace: string, name: string): Promise<V1Service> {
  try {
    return await clients.core.readNamespacedService({ namespace, name });
  } catch (error) {
    throw toKubeError(error, `reading Service ${namespace}/${name}`);
  }
}

export async function listServices(clients: KubeClients, namespace: string): Promise<V1Service[]> {
  try {
    return (await clients.core.listNamespacedService({ namespace })).items;
  } catch (error) {
    throw toKubeError(error, `listing Services in ${namespace}`);
  }
}

/** The label the EndpointSlice controller puts on every slice of a Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/**
 * The Service's `discovery.k8s.io/v1` EndpointSlices (core/v1 Endpoints are deprecated since Kubernetes 1.33); none
 * when the controller has not written one yet. A Service has several: one per address family, and more past 100
 * endpoints.
 */
export async function listEndpointSlices(
  clients: KubeClients,
  namespace: string,
  service: string,
): Promise<V1EndpointSlice[]> {
  const labelSelector = `${SERVICE_NAME_LABEL}=${service}`;
  try {
    return (await clients.discovery.listNamespacedEndpointSlice({ namespace, labelSelector })).items;
  } catch (error) {
    throw toKubeError(error, `listing EndpointSlices of Service ${namespace}/${service} (${labelSelector})`);
  }
}

export async function listPods(clients: KubeClients, namespace: string, labelSelector: string): Promise<V1Pod[]> {
  try {
    return (await clients.core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) })).items;
  } catch (error) {
    throw toKubeError(error, `listing Pods in ${namespace}${labelSelector ? ` (${labelSelector})` : ""}`);
  }
}

/** Sends a JSON Patch (client-node's default patch type); a failed `test` op comes back as a 422 KubeError. */
export async function patchService(
  clients: KubeClients,
  namespace: string,
  name: string,
  patch: Operation[],
): Promise<V1Service> {
  try {
    return await clients.core.patchNamespacedService({ namespace, name, body: patch });
  } catch (error) {
    throw toKubeError(error, `patching Service ${namespace}/${name}`);
  }
}

export interface ProxyAnswer {
  /** The HTTP status the backend (or the API server, when it could not reach one) answered. */
  status: number;
  body: string;
}

/**
 * GET `path` (query included) on a Service through the API server's proxy:
 * `/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`. Resolves with whatever HTTP answer came back, 2xx or not;
 * rejects only when there was none (connection failure, `timeoutMs` passed).
 *
 * Why a middleware: client-node parses a proxied 2xx body by its Content-Type and throws on anything but text or
 * JSON (a health check answering `application/octet-stream`, or invalid JSON, would count as down), and it
 * percent-encodes the whole path argument, so a query would reach the backend as part of the path. The middleware
 * adds the query as real query parameters, sets the timeout, records status and body, and hands client-node a
 * plain-text answer it cannot fail to parse.
 */
export async function proxyGet(
  clients: KubeClients,
  target: { namespace: string; service: string; port: number | string; path: string; timeoutMs: number },
): Promise<ProxyAnswer> {
  const queryAt = target.path.indexOf("?");
  const pathname = queryAt < 0 ? target.path : target.path.slice(0, queryAt);
  const query = queryAt < 0 ? "" : target.path.slice(queryAt + 1);
  let answer: ProxyAnswer | undefined;
  const capture: ObservableMiddleware = {
    pre(context) {
      for (const [key, value] of new URLSearchParams(query)) context.appendQueryParam(key, value);
      context.setSignal(AbortSignal.timeout(target.timeoutMs));
      return new Observable(Promise.resolve(context));
    },
    post(response) {
      return new Observable(
        response.body.text().then((body) => {
          answer = { status: response.httpStatusCode, body };
          return new ResponseContext(
            200,
            { "content-type": "text/plain" },
            { text: async () => body, binary: async () => Buffer.from(body) },
          );
        }),
      );
    },
  };
  const where = `GET ${target.namespace}/${target.service}:${target.port}${target.path} through the API server proxy`;
  try {
    await clients.core.connectGetNamespacedServiceProxyWithPath(
      // The API server joins this to the backend path with a slash; leading slashes would be sent as %2F.
      { namespace: target.namespace, name: `${target.service}:${target.port}`, path: pathname.replace(/^\/+/, "") },
      { middleware: [capture], middlewareMergeStrategy: "append" },
    );
  } catch (error) {
    throw toKubeError(error, where);
  }
  if (!answer) throw toKubeError(new Error("no answer recorded"), where);
  return answer;
}
