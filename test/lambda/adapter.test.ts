// The Lambda adapter: API Gateway events become the HttpRequest every core reads, and its answer the Lambda result.
import { describe, expect, it } from "vitest";
import { lambdaHandler, requestOf } from "../../functions/http/lambda.ts";
import type { HttpRequest } from "../../functions/http/message.ts";

const text = (request: HttpRequest): string => new TextDecoder().decode(request.bodyBytes ?? new Uint8Array());

import { httpApiEvent, lambdaContext, restApiEvent } from "../../scripts/fakes/lambda-events.ts";

describe("requestOf", () => {
  it("takes method, path, query, headers and body from an HTTP API (v2) event, without the stage", () => {
    const event = { ...httpApiEvent("POST", "/ofrep/v1/evaluate/flags", '{"context":{}}', { stage: "prod" }) };
    event.rawQueryString = "a=1&b=two";
    event.cookies = ["session=abc", "theme=dark"];
    const request = requestOf(event);
    expect(request.method).toBe("POST");
    expect(new URL(request.url).pathname).toBe("/ofrep/v1/evaluate/flags");
    expect(new URL(request.url).searchParams.get("b")).toBe("two");
    expect(request.headers.get("content-type")).toBe("application/json");
    expect(request.headers.get("cookie")).toBe("session=abc; theme=dark");
    expect(text(request)).toBe('{"context":{}}');
  });

  it("decodes a base64 body", () => {
    const body = JSON.stringify({ context: { targetingKey: "zoë" } });
    const request = requestOf(httpApiEvent("POST", "/ofrep/v1/evaluate/flags/x", body, { base64: true }));
    expect(text(request)).toBe(body);
  });

  it("reads a REST (v1) event's path and multi-value query, and sends no body with GET", async () => {
    const event = { ...restApiEvent("GET", "/admin/audit", "ignored") };
    event.multiValueQueryStringParameters = { limit: ["5"], before: ["7-0"] };
    const request = requestOf(event);
    expect(request.method).toBe("GET");
    const url = new URL(request.url);
    expect(url.pathname).toBe("/admin/audit");
    expect(url.searchParams.get("limit")).toBe("5");
    expect(url.searchParams.get("before")).toBe("7-0");
    expect(request.bodyBytes).toBeUndefined();
  });
});

describe("lambdaHandler", () => {
  it("answers with the core's status, headers and text body", async () => {
    const handler = lambdaHandler(async (request) => ({
      status: 201,
      headers: { "content-type": "application/json", etag: '"3"' },
      body: JSON.stringify({ path: new URL(request.url).pathname }),
    }));
    const result = await handler(httpApiEvent("PUT", "/admin/flags/x", "{}"), lambdaContext());
    expect(result.statusCode).toBe(201);
    expect(result.headers?.etag).toBe('"3"');
    expect(result.isBase64Encoded).toBe(false);
    expect(JSON.parse(result.body)).toEqual({ path: "/admin/flags/x" });
  });

  it("answers a core that answers at once, and a 500 to one that throws or rejects, as the Node adapter does", async () => {
    const atOnce = lambdaHandler(() => ({ status: 200, headers: {}, body: '{"at":"once"}' }));
    expect((await atOnce(httpApiEvent("GET", "/x", ""), lambdaContext())).body).toBe('{"at":"once"}');
    const cores = [
      () => {
        throw new Error("boom");
      },
      () => Promise.reject(new Error("boom")),
    ];
    for (const core of cores) {
      const result = await lambdaHandler(core)(httpApiEvent("GET", "/x", ""), lambdaContext());
      expect(result.statusCode).toBe(500);
      expect(JSON.parse(result.body)).toEqual({ error: "internal error" });
    }
  });
});

describe("requestOf: who is calling", () => {
  it("takes the client address from an HTTP API's http.sourceIp and a REST API's identity.sourceIp", () => {
    expect(requestOf(httpApiEvent("GET", "/healthz")).clientAddress).toBe("203.0.113.7");
    const rest = restApiEvent("GET", "/healthz");
    rest.requestContext = { ...rest.requestContext, identity: { sourceIp: "198.51.100.9" } };
    expect(requestOf(rest).clientAddress).toBe("198.51.100.9");
  });

  it("joins repeated headers of a REST event and looks names up case-insensitively", () => {
    const event = { ...restApiEvent("GET", "/admin/flags") };
    event.multiValueHeaders = { Accept: ["application/json", "text/plain"], "X-Api-Key": ["k"] };
    const request = requestOf(event);
    expect(request.headers.get("accept")).toBe("application/json, text/plain");
    expect(request.headers.get("X-API-KEY")).toBe("k");
    expect(request.headers.get("authorization")).toBeNull();
  });
});
