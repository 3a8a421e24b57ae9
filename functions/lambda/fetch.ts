// A Web-standard (Request) => Response handler as a Lambda handler behind API Gateway, REST (v1) or HTTP API (v2).
/*
 * The flag function's route: it is the same handler the edge runtimes run, and skipping serverless-http keeps its
 * bundle inside the 150 KB budget. Bodies are text (JSON APIs); a base64 request body is decoded.
 */
import { type ApiGatewayEvent, type ApiGatewayResult, type LambdaContext, normalizeEvent } from "./api-gateway.ts";

type FetchHandler = (request: Request) => Promise<Response>;

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

function headersOf(event: ApiGatewayEvent): Headers {
  const headers = new Headers();
  const multi = event.multiValueHeaders as Record<string, string[] | undefined> | null | undefined;
  if (multi) {
    for (const [name, values] of Object.entries(multi)) for (const value of values ?? []) headers.append(name, value);
  } else {
    for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers.set(name, value);
  }
  // HTTP API (v2) moves cookies out of the headers.
  const cookies = event.cookies;
  if (Array.isArray(cookies) && cookies.length > 0) headers.set("cookie", cookies.join("; "));
  return headers;
}

/** The Request the event stands for; the origin is fixed (only path and query matter, and Host is forgeable). */
export function requestOf(input: ApiGatewayEvent): Request {
  const event = normalizeEvent(input);
  const method = (event.requestContext?.http?.method ?? event.httpMethod ?? "GET").toUpperCase();
  const path = (event.version === "2.0" ? event.rawPath : event.path) ?? "/";
  const query = queryOf(event);
  const body =
    method === "GET" || method === "HEAD" || event.body === undefined || event.body === null
      ? undefined
      : event.isBase64Encoded
        ? Uint8Array.from(atob(event.body), (char) => char.charCodeAt(0))
        : event.body;
  return new Request(`http://localhost${path}${query ? `?${query}` : ""}`, {
    method,
    headers: headersOf(event),
    ...(body === undefined ? {} : { body }),
  });
}

export function fetchLambdaHandler(
  handle: FetchHandler,
): (event: ApiGatewayEvent, context: LambdaContext) => Promise<ApiGatewayResult> {
  return async (event) => {
    let request: Request;
    try {
      request = requestOf(event);
    } catch (error) {
      return {
        statusCode: 400,
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ error: `request could not be read: ${(error as Error).message}` }),
        isBase64Encoded: false,
      };
    }
    const response = await handle(request);
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return { statusCode: response.status, headers, body: await response.text(), isBase64Encoded: false };
  };
}
