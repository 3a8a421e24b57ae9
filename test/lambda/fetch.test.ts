// The Web-standard Lambda adapter: API Gateway events become the Request the flag handler would get from a browser.
import { describe, expect, it } from "vitest";
import { fetchLambdaHandler, requestOf } from "../../functions/lambda/fetch.ts";
import { httpApiEvent, lambdaContext, restApiEvent } from "../../scripts/fakes/lambda-events.ts";

describe("requestOf", () => {
  it("takes method, path, query, headers and body from an HTTP API (v2) event, without the stage", async () => {
    const event = { ...httpApiEvent("POST", "/ofrep/v1/evaluate/flags", '{"context":{}}', { stage: "prod" }) };
    event.rawQueryString = "a=1&b=two";
    event.cookies = ["session=abc", "theme=dark"];
    const request = requestOf(event);
    expect(request.method).toBe("POST");
    expect(new URL(request.url).pathname).toBe("/ofrep/v1/evaluate/flags");
    expect(new URL(request.url).searchParams.get("b")).toBe("two");
    expect(request.headers.get("content-type")).toBe("application/json");
    expect(request.headers.get("cookie")).toBe("session=abc; theme=dark");
    expect(await request.text()).toBe('{"context":{}}');
  });

  it("decodes a base64 body", async () => {
    const body = JSON.stringify({ context: { targetingKey: "zoë" } });
    const request = requestOf(httpApiEvent("POST", "/ofrep/v1/evaluate/flags/x", body, { base64: true }));
    expect(await request.text()).toBe(body);
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
    expect(request.body).toBeNull();
  });
});

describe("fetchLambdaHandler", () => {
  it("answers with the handler's status, headers and text body", async () => {
    const handler = fetchLambdaHandler(async (request) =>
      Response.json({ path: new URL(request.url).pathname }, { status: 201, headers: { etag: '"3"' } }),
    );
    const result = await handler(httpApiEvent("PUT", "/admin/flags/x", "{}"), lambdaContext());
    expect(result.statusCode).toBe(201);
    expect(result.headers?.etag).toBe('"3"');
    expect(result.isBase64Encoded).toBe(false);
    expect(JSON.parse(result.body)).toEqual({ path: "/admin/flags/x" });
  });
});
