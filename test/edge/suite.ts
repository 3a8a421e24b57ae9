// The checks every edge runtime must pass, registered by each runtime's test file (workerd, Vercel's edge-runtime).
/*
 * The target is the edge entry running in the runtime and reachable over HTTP on 127.0.0.1, so real clients in this
 * process call it: the OpenFeature web provider (bulk, ETag and 304 while polling), the OpenFeature server provider
 * (single-flag evaluation), and plain fetch for CORS, errors and hostile input. Its rules are in real Redis behind
 * the Upstash REST bridge; the runtime reads them with @upstash/redis, and the bridge counts what it is asked.
 */
import { OFREPProvider } from "@openfeature/ofrep-provider";
import { OFREPWebProvider } from "@openfeature/ofrep-web-provider";
import { OpenFeature as ServerOpenFeature } from "@openfeature/server-sdk";
import { ErrorCode, OpenFeature as WebOpenFeature } from "@openfeature/web-sdk";
import { afterEach, expect, it, vi } from "vitest";
import { DEFAULT_UPSTASH_TIMEOUT_MS } from "../../functions/flags/upstash-store.ts";
import { type EdgeStore, sleep, TTL_MS } from "./support.ts";

export interface EdgeTarget {
  /** The runtime's base URL, `http://127.0.0.1:<port>`. */
  url: string;
  edge: EdgeStore;
}

interface Exchange {
  ifNoneMatch: string | null;
  status: number;
  etag: string | null;
}

const BULK = "/ofrep/v1/evaluate/flags";

const post = (target: EdgeTarget, path: string, body: string | null, headers: Record<string, string> = {}) =>
  fetch(`${target.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

async function json(response: Response): Promise<unknown> {
  return JSON.parse(await response.text()) as unknown;
}

/** Store calls the bridge answered for the runtime: its HTTP requests, while nothing else of the test calls it. */
function storeCalls(target: EdgeTarget): number {
  return target.edge.bridge.requests;
}

/** Registers the suite's tests; `target()` is read inside each test, after the file's beforeAll set it up. */
export function edgeSuite(target: () => EdgeTarget): void {
  afterEach(async () => {
    // Both SDKs are process-wide singletons: close the providers (stops polling) before the next test.
    await WebOpenFeature.clearProviders();
    await WebOpenFeature.clearContext();
    await ServerOpenFeature.clearProviders();
  });

  it("serves bulk evaluation to the OpenFeature web provider, and re-evaluates on a new context", async () => {
    const { url } = target();
    await WebOpenFeature.setProviderAndWait(
      new OFREPWebProvider({ baseUrl: url, cacheMode: "disabled", pollInterval: 0 }),
      { targetingKey: "user-1", email: "ada@example.com" },
    );
    const client = WebOpenFeature.getClient();
    expect(client.getBooleanDetails("banner", false)).toMatchObject({ value: true, reason: "STATIC", variant: "on" });
    expect(client.getBooleanDetails("checkout", true)).toMatchObject({ value: false, reason: "DISABLED" });
    expect(client.getStringDetails("theme", "light")).toMatchObject({ value: "dark", variant: "dark" });
    expect(client.getBooleanDetails("company-email", false)).toMatchObject({ value: true, reason: "TARGETING_MATCH" });
    expect(client.getBooleanDetails("nope", true)).toMatchObject({ value: true, errorCode: ErrorCode.FLAG_NOT_FOUND });

    await WebOpenFeature.setContext({ targetingKey: "user-1", email: "mallory@example.net" });
    expect(client.getBooleanDetails("company-email", true)).toMatchObject({ value: false, reason: "DEFAULT" });
  });

  it("serves single-flag evaluation to the OpenFeature server provider", async () => {
    const { url } = target();
    await ServerOpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: url }));
    const client = ServerOpenFeature.getClient();
    expect(await client.getBooleanDetails("banner", false, { targetingKey: "user-2" })).toMatchObject({
      value: true,
      reason: "STATIC",
    });
    expect(await client.getStringValue("theme", "light", { targetingKey: "user-2" })).toBe("dark");
    // A 50% split without a targeting key is OFREP's TARGETING_KEY_MISSING; the caller gets its default.
    expect(await client.getBooleanDetails("half", true, {})).toMatchObject({
      value: true,
      errorCode: ErrorCode.TARGETING_KEY_MISSING,
    });
    const single = await post(target(), "/ofrep/v1/evaluate/flags/banner", JSON.stringify({ context: {} }));
    expect(single.status).toBe(200);
    expect(single.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await json(single)).toEqual({ key: "banner", value: true, reason: "STATIC", variant: "on" });
  });

  it("answers a bulk request with an ETag, 304 to If-None-Match, and the provider's polls get 304", async () => {
    const body = JSON.stringify({ context: { targetingKey: "user-3" } });
    const first = await post(target(), BULK, body);
    expect(first.status).toBe(200);
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"\d+-[0-9a-z]+"$/);
    const again = await post(target(), BULK, body, { "if-none-match": etag ?? "" });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
    expect(await again.text()).toBe("");
    const other = await post(target(), BULK, body, { "if-none-match": '"0-stale"' });
    expect(other.status).toBe(200);

    const exchanges: Exchange[] = [];
    const recordingFetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
      const request = new Request(input, init);
      const response = await fetch(request);
      exchanges.push({
        ifNoneMatch: request.headers.get("if-none-match"),
        status: response.status,
        etag: response.headers.get("etag"),
      });
      return response;
    }) as typeof fetch;
    const provider = new OFREPWebProvider({
      baseUrl: target().url,
      fetchImplementation: recordingFetch,
      cacheMode: "disabled",
      changeDetection: "polling",
      pollInterval: 50,
    });
    await WebOpenFeature.setProviderAndWait(provider, { targetingKey: "user-3" });
    expect(exchanges[0]).toMatchObject({ status: 200, etag });
    await vi.waitFor(
      () => {
        const polls = exchanges.slice(1);
        expect(polls.length).toBeGreaterThanOrEqual(2);
        expect(polls.every((poll) => poll.ifNoneMatch === etag && poll.status === 304)).toBe(true);
      },
      { timeout: 10_000, interval: 20 },
    );
  });

  it("answers CORS preflights and simple requests from any page, exposing the ETag", async () => {
    const origin = "https://app.example.com";
    const preflight = await fetch(`${target().url}${BULK}`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, if-none-match",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/If-None-Match/);
    expect(preflight.headers.get("access-control-max-age")).toBe("86400");

    const simple = await post(target(), BULK, JSON.stringify({ context: { targetingKey: "user-4" } }), { origin });
    expect(simple.status).toBe(200);
    expect(simple.headers.get("access-control-allow-origin")).toBe("*");
    expect(simple.headers.get("access-control-expose-headers")).toBe("ETag");
  });

  it("reads rules written through the Upstash REST API, once per TTL however many requests come", async () => {
    const { edge } = target();
    const evaluate = async () =>
      (await json(await post(target(), "/ofrep/v1/evaluate/flags/fresh", JSON.stringify({ context: {} })))) as {
        value?: unknown;
        errorCode?: string;
      };
    expect(await evaluate()).toMatchObject({ errorCode: "FLAG_NOT_FOUND" });
    await edge.store.put({ key: "fresh", state: "enabled" }, { actor: "edge-suite" });
    await vi.waitFor(async () => expect(await evaluate()).toMatchObject({ value: true }), {
      timeout: TTL_MS * 3,
      interval: 100,
    });

    // Steady state: many requests over several TTLs, and the bridge sees one version GET per TTL, no reload.
    const commandsBefore = edge.bridge.commands.length;
    const before = storeCalls(target());
    const started = performance.now();
    let requests = 0;
    const body = JSON.stringify({ context: { targetingKey: "user-5" } });
    while (performance.now() - started < TTL_MS * 2.5) {
      const batch = await Promise.all(Array.from({ length: 8 }, () => post(target(), BULK, body)));
      for (const response of batch) {
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      }
      requests += batch.length;
    }
    const elapsed = performance.now() - started;
    const calls = storeCalls(target()) - before;
    expect(requests).toBeGreaterThanOrEqual(100);
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls, `${calls} store calls for ${requests} requests in ${Math.round(elapsed)} ms`).toBeLessThanOrEqual(
      Math.ceil(elapsed / TTL_MS) + 1,
    );
    const commands = edge.bridge.commands.slice(commandsBefore).map((command) => command.join(" ").toLowerCase());
    expect(new Set(commands)).toEqual(new Set(["get greenlight:flags:version"]));
  });

  it("serves the last good rules while the bridge is down or hangs, and recovers", async () => {
    const { edge } = target();
    const body = JSON.stringify({ context: { targetingKey: "user-6" } });
    const banner = () => post(target(), "/ofrep/v1/evaluate/flags/banner", body);
    expect(await json(await banner())).toMatchObject({ value: true });

    await edge.bridge.stop();
    try {
      await sleep(TTL_MS);
      const served = await banner();
      expect(served.status).toBe(200);
      expect(await json(served)).toMatchObject({ value: true, reason: "STATIC" });
      const health = await fetch(`${target().url}/healthz`);
      expect(health.status).toBe(200);
      expect(await json(health)).toMatchObject({ status: "degraded", store: "upstash" });
    } finally {
      await edge.bridge.start();
    }
    await sleep(TTL_MS);
    expect(await json(await fetch(`${target().url}/healthz`))).toMatchObject({ status: "ok" });

    edge.bridge.hang(true);
    try {
      await sleep(TTL_MS);
      const started = performance.now();
      const served = await banner();
      const took = performance.now() - started;
      expect(served.status).toBe(200);
      expect(await json(served)).toMatchObject({ value: true });
      expect(took, `an evaluation took ${Math.round(took)} ms while Upstash hung`).toBeLessThan(
        DEFAULT_UPSTASH_TIMEOUT_MS * 3,
      );
    } finally {
      edge.bridge.hang(false);
    }
    await sleep(TTL_MS);
    await vi.waitFor(
      async () => expect(await json(await fetch(`${target().url}/healthz`))).toMatchObject({ status: "ok" }),
      {
        timeout: TTL_MS * 3,
        interval: 100,
      },
    );
  });

  it("refuses a body over the limit with 413 in OFREP's shape, declared or streamed", async () => {
    const big = JSON.stringify({ context: { targetingKey: "user-7", padding: "x".repeat(70 * 1024) } });
    const declared = await post(target(), BULK, big);
    expect(declared.status).toBe(413);
    expect(await json(declared)).toEqual({
      errorCode: "GENERAL",
      errorDetails: "body is larger than the 65536 byte limit",
    });
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 6; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const streamed = await fetch(`${target().url}/ofrep/v1/evaluate/flags/banner`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await json(streamed)).toMatchObject({ key: "banner", errorCode: "GENERAL" });
  });

  it("matches patterns in linear time: a backtracking pattern on a hostile text answers at once", async () => {
    const hostile = `${"a".repeat(1_000)}!`;
    const started = performance.now();
    const answer = await post(
      target(),
      "/ofrep/v1/evaluate/flags/hostile-pattern",
      JSON.stringify({ context: { name: hostile } }),
    );
    const took = performance.now() - started;
    expect(await json(answer)).toMatchObject({ key: "hostile-pattern", value: false, reason: "DEFAULT" });
    expect(took, `the hostile match took ${Math.round(took)} ms`).toBeLessThan(1_000);
    const match = await post(
      target(),
      "/ofrep/v1/evaluate/flags/hostile-pattern",
      JSON.stringify({ context: { name: "a".repeat(1_000) } }),
    );
    expect(await json(match)).toMatchObject({ value: true, reason: "TARGETING_MATCH" });
    // Over 1,024 characters the attribute fails without being matched.
    const long = await post(
      target(),
      "/ofrep/v1/evaluate/flags/hostile-pattern",
      JSON.stringify({ context: { name: "a".repeat(2_000) } }),
    );
    expect(await json(long)).toMatchObject({ value: false, reason: "DEFAULT" });
  });

  it("answers errors in OFREP's shapes", async () => {
    const missing = await post(target(), "/ofrep/v1/evaluate/flags/nope", "{}");
    expect(missing.status).toBe(404);
    expect(await json(missing)).toMatchObject({ key: "nope", errorCode: "FLAG_NOT_FOUND" });
    const notJson = await post(target(), BULK, "{context:");
    expect(notJson.status).toBe(400);
    expect(await json(notJson)).toMatchObject({ errorCode: "PARSE_ERROR", errorDetails: expect.any(String) });
    const badContext = await post(target(), "/ofrep/v1/evaluate/flags/banner", JSON.stringify({ context: [1] }));
    expect(badContext.status).toBe(400);
    expect(await json(badContext)).toMatchObject({ key: "banner", errorCode: "INVALID_CONTEXT" });
    const badKey = await post(target(), "/ofrep/v1/evaluate/flags/%E0%A4%A", "{}");
    expect(badKey.status).toBe(400);
    expect(await json(badKey)).toMatchObject({ errorCode: "GENERAL" });
    const get = await fetch(`${target().url}${BULK}`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST, OPTIONS");
    expect(await json(get)).toMatchObject({ errorCode: "GENERAL", errorDetails: expect.stringMatching(/^GET is not/) });
    const elsewhere = await post(target(), "/ofrep/v2/evaluate/flags", "{}");
    expect(elsewhere.status).toBe(404);
    expect(await json(elsewhere)).toMatchObject({ errorCode: "GENERAL" });
  });

  it("answers the admin API's paths 404, saying it is not served at the edge and where it is", async () => {
    const token = "3e8b1f6a0c4d2e9f7a5b3c1d8e6f4a2b0c9d7e5f3a1b8c6d4e2f0a9b7c5d3e1f";
    for (const [method, path] of [
      ["GET", "/admin/flags"],
      ["PUT", "/admin/flags/banner"],
      ["DELETE", "/admin/flags/banner"],
      ["OPTIONS", "/admin/flags"],
      ["GET", "/admin"],
    ] as const) {
      const response = await fetch(`${target().url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          origin: "https://app.example.com",
        },
        ...(method === "PUT" ? { body: JSON.stringify({ key: "banner", state: "disabled" }) } : {}),
      });
      expect(response.status, `${method} ${path}`).toBe(404);
      const body = (await json(response)) as { error: string };
      expect(body.error).toContain(`${method} ${path}: the admin API is not served at the edge`);
      expect(body.error).toMatch(/Lambda .* `greenlight flags serve`/);
    }
    // Nothing was written: the flag is as it was.
    expect(await json(await post(target(), "/ofrep/v1/evaluate/flags/banner", "{}"))).toMatchObject({ value: true });
  });
}
