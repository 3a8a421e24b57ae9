// Synthetic API Gateway events and AdmissionReviews shared by the Lambda handler and bundle tests.
import type { ApiGatewayEvent, LambdaContext } from "../../functions/http/api-gateway.ts";
import { reviewOf } from "./admission-review.ts";

/** The handler reads nothing from the context; an empty one stands in for what Lambda passes. */
export const lambdaContext = (): LambdaContext => ({}) as LambdaContext;

export interface Operation {
  op: string;
  path: string;
  value?: unknown;
}

/** An AdmissionReview v1 as the API server sends it for `kubectl apply` of a new apps/v1 Deployment. */
export function deploymentReview(uid: string, annotations: Record<string, string>): Record<string, unknown> {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "myapp", namespace: "shop", annotations, labels: { "app.kubernetes.io/name": "myapp" } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { "app.kubernetes.io/name": "myapp" } },
      template: {
        metadata: { labels: { "app.kubernetes.io/name": "myapp" } },
        spec: { containers: [{ name: "myapp", image: "myapp:v2.0", ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
  return reviewOf(deployment, { uid }) as unknown as Record<string, unknown>;
}

/** HTTP API (payload v2). `stage` other than `$default` puts `/<stage>` in front of rawPath, as AWS does. */
export function httpApiEvent(
  method: string,
  path: string,
  body?: string,
  options: { base64?: boolean; stage?: string } = {},
): ApiGatewayEvent {
  const stage = options.stage ?? "$default";
  const rawPath = stage === "$default" ? path : `/${stage}${path}`;
  const encoded = options.base64 && body !== undefined ? Buffer.from(body).toString("base64") : body;
  return {
    version: "2.0",
    routeKey: `${method} ${path}`,
    rawPath,
    rawQueryString: "",
    headers: {
      "content-type": "application/json",
      "user-agent": "kube-apiserver-admission",
      host: "abc123.execute-api.eu-west-1.amazonaws.com",
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.eu-west-1.amazonaws.com",
      http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "203.0.113.7", userAgent: "kube-apiserver" },
      requestId: "req-v2",
      routeKey: `${method} ${path}`,
      stage,
      time: "26/Nov/2026:11:00:00 +0000",
      timeEpoch: 1_795_690_800_000,
    },
    body: encoded,
    isBase64Encoded: options.base64 === true,
  };
}

/** REST API (payload v1): `path` is the resource path without the stage; `requestContext.path` has it. */
export function restApiEvent(
  method: string,
  path: string,
  body?: string,
  options: { base64?: boolean; stage?: string } = {},
): ApiGatewayEvent {
  const stage = options.stage ?? "prod";
  const encoded = options.base64 && body !== undefined ? Buffer.from(body).toString("base64") : body;
  return {
    resource: path,
    path,
    httpMethod: method,
    headers: { "Content-Type": "application/json", Host: "abc123.execute-api.eu-west-1.amazonaws.com" },
    multiValueHeaders: {
      "Content-Type": ["application/json"],
      Host: ["abc123.execute-api.eu-west-1.amazonaws.com"],
    },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      httpMethod: method,
      identity: { sourceIp: "203.0.113.7" },
      path: `/${stage}${path}`,
      protocol: "HTTP/1.1",
      requestId: "req-v1",
      resourcePath: path,
      stage,
    },
    body: encoded ?? null,
    isBase64Encoded: options.base64 === true,
  };
}
