// The seed's canary objects, as greenlight expects them: a canary Deployment, its DestinationRule and VirtualService.

import type { MetricsReader } from "../../functions/canary/checks.ts";
import { annotationName } from "../../functions/contract/annotations.ts";
import type { FakeApiServer, JsonObject } from "./kube/fake-apiserver.ts";

export const NAMESPACE = "production";

/** A Deployment's status as its controller reports a finished rollout: every replica updated, ready and available. */
export function rolledOutStatus(replicas: number, available = true): JsonObject {
  return {
    observedGeneration: 1,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: available ? replicas : 0,
    availableReplicas: available ? replicas : 0,
    conditions: [{ type: "Available", status: available ? "True" : "False" }],
  };
}

export function canaryDeployment(
  options: { name?: string; version?: string; annotations?: Record<string, string>; available?: boolean } = {},
): JsonObject {
  const name = options.name ?? "myapp-v2";
  const version = options.version ?? "v2.0";
  const labels = { app: "myapp", version };
  const available = options.available ?? true;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: NAMESPACE,
      labels,
      annotations: {
        "greenlight.dev/strategy": "canary",
        "greenlight.dev/virtual-service": "myapp",
        "greenlight.dev/steps": "10,50",
        "greenlight.dev/interval": "1m",
        "greenlight.dev/header-route": "x-canary-test=true",
        ...options.annotations,
      },
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "myapp", image: `myapp:${version}`, ports: [{ containerPort: 8080 }] }] },
      },
    },
    status: rolledOutStatus(2, available),
  };
}

export function destinationRule(): JsonObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: "myapp", namespace: NAMESPACE },
    spec: {
      host: "myapp",
      subsets: [
        { name: "v1", labels: { version: "v1.0" } },
        { name: "v2", labels: { version: "v2.0" } },
      ],
    },
  };
}

export function virtualService(weights: { stable: number; canary: number } = { stable: 100, canary: 0 }): JsonObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "myapp", namespace: NAMESPACE },
    spec: {
      hosts: ["myapp.example.com"],
      gateways: ["myapp-gateway"],
      http: [
        {
          route: [
            { destination: { host: "myapp", subset: "v1" }, weight: weights.stable },
            { destination: { host: "myapp", subset: "v2" }, weight: weights.canary },
          ],
        },
      ],
    },
  };
}

/** The annotations of a canary Deployment `app` stepped through its VirtualService in two steps, a minute apart. */
export function canaryAnnotations(app: string): Record<string, string> {
  return {
    [annotationName("strategy")]: "canary",
    [annotationName("virtual-service")]: app,
    [annotationName("steps")]: "10,50",
    [annotationName("interval")]: "1m",
  };
}

/**
 * The DestinationRule (subsets `stable`: version v1, `canary`: v2) and the VirtualService (all traffic on stable)
 * of a canary named `app` in `namespace`: what the bench and the sizing runs seed by the hundred.
 */
export function istioRouting(namespace: string, app: string): [JsonObject, JsonObject] {
  return [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: app, namespace },
      spec: {
        host: app,
        subsets: [
          { name: "stable", labels: { version: "v1" } },
          { name: "canary", labels: { version: "v2" } },
        ],
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: app, namespace },
      spec: {
        hosts: [app],
        http: [
          {
            route: [
              { destination: { host: app, subset: "stable" }, weight: 100 },
              { destination: { host: app, subset: "canary" }, weight: 0 },
            ],
          },
        ],
      },
    },
  ];
}

export const GATEWAY_API = "gateway.networking.k8s.io/v1";

/** The canary Deployment on router gateway-api: HTTPRoute `myapp`, canary backend Service `myapp-canary`. */
export function gatewayCanaryDeployment(
  options: { name?: string; version?: string; annotations?: Record<string, string>; available?: boolean } = {},
): JsonObject {
  const deployment = canaryDeployment({
    ...options,
    annotations: {
      "greenlight.dev/router": "gateway-api",
      "greenlight.dev/route": "myapp",
      "greenlight.dev/canary-service": "myapp-canary",
      ...options.annotations,
    },
  });
  const annotations = (deployment.metadata as { annotations: Record<string, string> }).annotations;
  if (!options.annotations?.["greenlight.dev/virtual-service"]) delete annotations["greenlight.dev/virtual-service"];
  return deployment;
}

/** The HTTPRoute splitting myapp.example.com between the Services myapp-stable and myapp-canary. */
export function httpRoute(weights: { stable: number; canary: number } = { stable: 100, canary: 0 }): JsonObject {
  return {
    apiVersion: GATEWAY_API,
    kind: "HTTPRoute",
    metadata: { name: "myapp", namespace: NAMESPACE },
    spec: {
      parentRefs: [{ name: "myapp-gateway" }],
      hostnames: ["myapp.example.com"],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/" } }],
          backendRefs: [
            { name: "myapp-stable", port: 80, weight: weights.stable },
            { name: "myapp-canary", port: 80, weight: weights.canary },
          ],
        },
      ],
    },
  };
}

/** The seed's canary as the API server holds it: Deployment, DestinationRule and VirtualService at 100/0. */
export function seedCanary(api: FakeApiServer): void {
  api.put(canaryDeployment());
  api.put(destinationRule());
  api.put(virtualService());
}

/** A reader answering like Prometheus for a healthy canary: 100 requests, no errors, 100 ms latency. */
export const healthyReader: MetricsReader = {
  async query(promql) {
    if (promql.includes("_bucket")) return [100];
    if (promql.includes("response_code=~")) return [0];
    return [100];
  },
};
