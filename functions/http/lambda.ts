// The Lambda adapter: an HttpCore behind API Gateway, REST API (payload v1) or HTTP API (v2), for every HTTP function.
/*
 * The event becomes a light HttpRequest directly (no Web Request, no Node request emulation as serverless-http
 * does): headers looked up in a lower-cased map, the body decoded once. The answer is text (JSON, the metrics
 * exposition); `isBase64Encoded` is always false, since the API server would not decode a base64 admission answer.
 */
import { type ApiGatewayEvent, type ApiGatewayResult, type LambdaContext, normalizeEvent } from "./api-gateway.ts";
import {
  ADAPTER_ORIGIN,
  type HeaderReader,
  type HttpCore,
  type HttpRequest,
  type HttpResponse,
  internalError,
  settle,
  unreadableRequest,
} from "./message.ts";

export type LambdaHttpHandler = (event: ApiGatewayEvent, context: LambdaContext) => Promise<ApiGatewayResult>;

function queryOf(event: ApiGatewayEvent): string {
  if (typeof event.rawQueryString === "string") return event.rawQueryString;
  const params = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters as Record<string, string[] | undefined> | null | undefined;
  const single = event.queryStringParameters as Record<string, string | undefined> | null | undefined;
  if (multi) {
    for (const [name, values] of Object.entries(multi)) for (const value of values ?? []) params.append(name, value);
  } else if (single) {
    for (const [name, value] of Object.entries(single)) if (value !== undefined) params.append(name, value);
  }
  return params.toString();
}

/** Lower-cased names; repeated fields (v1's multiValueHeaders) joined by ", ", v2's cookies joined by "; ". */
function headersOf(event: ApiGatewayEvent): HeaderReader {
  const headers = new Map<string, string>();
  const add = (name: string, value: string): void => {
    const key = name.toLowerCase();
    const existing = headers.get(key);
    headers.set(key, existing === undefined ? value : `${existing}, ${value}`);
  };
  const multi = event.multiValueHeaders as Record<string, string[] | undefined> | null | undefined;
  if (multi) {
    for (const [name, values] of Object.entries(multi)) for (const value of values ?? []) add(name, value);
  } else {
    for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) add(name, value);
  }
  const cookies = event.cookies;
  if (Array.isArray(cookies) && cookies.length > 0) headers.set("cookie", cookies.join("; "));
  return { get: (name) => headers.get(name.toLowerCase()) ?? null };
}

function sourceIpOf(event: ApiGatewayEvent): string | undefined {
  const context = event.requestContext;
  const v2 = context?.http?.sourceIp;
  if (typeof v2 === "string") return v2;
  const identity = context?.identity as { sourceIp?: unknown } | undefined;
  return typeof identity?.sourceIp === "string" ? identity.sourceIp : undefined;
}

/** The HttpRequest the event stands for; the origin is fixed (only path and query matter, and Host is forgeable). */
export function requestOf(input: ApiGatewayEvent): HttpRequest {
  const event = normalizeEvent(input);
  const method = (event.requestContext?.http?.method ?? event.httpMethod ?? "GET").toUpperCase();
  const path = (event.version === "2.0" ? event.rawPath : event.path) ?? "/";
  const query = queryOf(event);
  const text = method === "GET" || method === "HEAD" ? undefined : (event.body ?? undefined);
  const bodyBytes =
    text === undefined || text === "" ? undefined : Buffer.from(text, event.isBase64Encoded ? "base64" : "utf8");
  const clientAddress = sourceIpOf(event);
  return {
    method,
    url: `${ADAPTER_ORIGIN}${path}${query ? `?${query}` : ""}`,
    headers: headersOf(event),
    ...(bodyBytes === undefined ? {} : { bodyBytes }),
    ...(clientAddress === undefined ? {} : { clientAddress }),
  };
}

/** The core as a Lambda handler; built once per container, so warm invocations reuse whatever the core keeps. */
export function lambdaHandler(core: HttpCore): LambdaHttpHandler {
  const result = (response: HttpResponse): ApiGatewayResult => ({
    statusCode: response.status,
    headers: response.headers,
    body: response.body ?? "",
    isBase64Encoded: false,
  });
  return async (event) => {
    let request: HttpRequest;
    try {
      request = requestOf(event);
    } catch (error) {
      return result(unreadableRequest(error));
    }
    // As in the Node adapter: a core that throws or rejects all the same gets a 500, not a failed invocation.
    return result(await settle(() => core(request), internalError));
  };
}
