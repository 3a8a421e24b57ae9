// The Web-standard handler called directly with Request objects (no port), and the edge entry's default export.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { upstashFlagCore } from "../../functions/flags/env.ts";
import { createFlagHandler, type FlagHttpOptions } from "../../functions/flags/http/handler.ts";
import { DISCARD_BYTES } from "../../functions/http/body.ts";
import { webHandler } from "../../functions/http/web.ts";
import { createMemoryStore, TEST_FLAGS } from "./memory-store.ts";

const BASE = "https://flags.example.com";
const TOKEN = "fetch-admin-token";

function handler(options: Partial<FlagHttpOptions> = {}) {
  const store = createMemoryStore({ seed: TEST_FLAGS });
  const cache = createRuleCache(store, { ttlMs: 60_000 });
  return {
    store,
    handle: createFlagHandler({ store, cache, adminToken: TOKEN, onError: () => undefined, ...options }),
  };
}

const post = (path: string, body?: RequestInit["body"], headers: Record<string, string> = {}) =>
  new Request(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

describe("createFlagHandler with Web Requests", () => {
  it("evaluates one flag and all flags, with 304 on a matching If-None-Match", async () => {
    const { handle } = handler();
    const one = await handle(post("/ofrep/v1/evaluate/flags/theme", JSON.stringify({ context: {} })));
    expect(one.status).toBe(200);
    expect(one.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await one.json()).toEqual({ key: "theme", value: "dark", reason: "STATIC", variant: "dark" });

    const body = JSON.stringify({ context: { targetingKey: "user-9", segment: "beta" } });
    const all = await handle(post("/ofrep/v1/evaluate/flags", body));
    expect(all.status).toBe(200);
    const etag = all.headers.get("etag");
    expect(etag).toMatch(/^"8-[0-9a-f]{1,14}"$/);
    const { flags } = (await all.json()) as { flags: Array<{ key: string }> };
    expect(flags).toHaveLength(TEST_FLAGS.length);

    const unchanged = await handle(post("/ofrep/v1/evaluate/flags", body, { "if-none-match": etag ?? "" }));
    expect(unchanged.status).toBe(304);
    expect(unchanged.body).toBeNull();
    expect(unchanged.headers.get("access-control-expose-headers")).toBe("ETag");
  });

  it("counts the bytes of a streamed body without Content-Length against the limit", async () => {
    const { handle } = handler({ bodyLimitBytes: 100 });
    const piece = new TextEncoder().encode(`{"context": {"pad": "${"y".repeat(60)}`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // A body of 8 MB: the handler keeps nothing past the limit, drops at most DISCARD_BYTES more (so the
        // client is not reset before it reads the 413), and cancels the rest unread (a piece or two beyond: the
        // stream pulls ahead of the reader).
        sent++;
        controller.enqueue(piece);
        if (sent > 100_000) controller.close();
      },
    });
    const request = new Request(`${BASE}/ofrep/v1/evaluate/flags`, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    const response = await handle(request);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      errorCode: "GENERAL",
      errorDetails: "body is larger than the 100 byte limit",
    });
    expect(sent * piece.length).toBeLessThanOrEqual(100 + DISCARD_BYTES + 4 * piece.length);
  });

  it("refuses a declared Content-Length over the limit without reading the body", async () => {
    const { handle } = handler({ bodyLimitBytes: 100 });
    const request = post("/ofrep/v1/evaluate/flags/banner", JSON.stringify({ context: { pad: "z".repeat(200) } }), {
      "content-length": "230",
    });
    const response = await handle(request);
    expect(response.status).toBe(413);
  });

  it("answers 400 PARSE_ERROR for a body that is not UTF-8", async () => {
    const { handle } = handler();
    const response = await handle(post("/ofrep/v1/evaluate/flags/banner", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      errorCode: "PARSE_ERROR",
      errorDetails: expect.stringMatching(/UTF-8/),
    });
  });

  it("answers HEAD like GET without a body, and a malformed percent-encoded key with 400", async () => {
    const { handle } = handler();
    const head = await handle(new Request(`${BASE}/healthz`, { method: "HEAD" }));
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    const bad = await handle(
      new Request(`${BASE}/admin/flags/%E0%A4%A`, { headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/percent-encoding/);
  });

  it("answers preflights on any path, with the CORS headers", async () => {
    const { handle } = handler({ corsOrigins: ["https://app.example.com"] });
    const response = await handle(
      new Request(`${BASE}/admin/flags/banner`, { method: "OPTIONS", headers: { origin: "https://app.example.com" } }),
    );
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(response.headers.get("vary")).toBe("Origin");
    expect(response.headers.get("access-control-allow-methods")).toMatch(/PUT/);
  });

  it("runs the admin API: a PUT then a GET of the flag", async () => {
    const { handle } = handler();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const created = await handle(
      new Request(`${BASE}/admin/flags/web-only`, {
        method: "PUT",
        headers: auth,
        body: JSON.stringify({ state: "partial", segments: ["web"] }),
      }),
    );
    expect(created.status).toBe(201);
    const read = await handle(new Request(`${BASE}/admin/flags/web-only`, { headers: auth }));
    expect(read.headers.get("etag")).toBe('"9"');
    const evaluated = await handle(
      post("/ofrep/v1/evaluate/flags/web-only", JSON.stringify({ context: { segment: "web" } })),
    );
    expect(await evaluated.json()).toMatchObject({ value: true, reason: "TARGETING_MATCH" });
  });
});

describe("the Upstash-only handler (Lambda and edge)", () => {
  it("answers 503 naming both Upstash variables when they are not set", async () => {
    const handle = webHandler(upstashFlagCore({}));
    const response = await handle(post("/ofrep/v1/evaluate/flags", "{}"));
    expect(response.status).toBe(503);
    const body = (await response.json()) as { errorDetails: string };
    expect(body.errorDetails).toMatch(/UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN/);
    const admin = await handle(new Request(`${BASE}/admin/flags`));
    expect(admin.status).toBe(503);
    expect(((await admin.json()) as { error: string }).error).toMatch(/UPSTASH_REDIS_REST_URL/);
  });

  it("answers 503 naming a bad variable and what is accepted", async () => {
    const ttl = webHandler(upstashFlagCore({ GREENLIGHT_FLAGS_CACHE_TTL: "soon" }));
    const body = (await (await ttl(new Request(`${BASE}/healthz`))).json()) as { error: string };
    expect(body.error).toMatch(/GREENLIGHT_FLAGS_CACHE_TTL="soon" is invalid; accepted: a positive duration/);
    const half = webHandler(upstashFlagCore({ UPSTASH_REDIS_REST_URL: "https://eu1-example.upstash.io" }));
    const message = ((await (await half(new Request(`${BASE}/healthz`))).json()) as { error: string }).error;
    expect(message).toMatch(/UPSTASH_REDIS_REST_TOKEN/);
  });

  it("evaluates against Upstash when configured: an unreachable one is a 500 naming the store, health 503", async () => {
    // Port 1 on loopback refuses at once: this checks the wiring (the Upstash store is used), not Upstash itself.
    const handle = webHandler(
      upstashFlagCore({ UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1", UPSTASH_REDIS_REST_TOKEN: "t" }),
    );
    const response = await handle(post("/ofrep/v1/evaluate/flags/banner", "{}"));
    expect(response.status).toBe(500);
    expect(((await response.json()) as { errorDetails: string }).errorDetails).toMatch(/upstash flag store/);
    const health = await handle(new Request(`${BASE}/healthz`));
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "unavailable", store: "upstash" });
  });
});

describe("edge entry (default export)", () => {
  const saved = { url: process.env.UPSTASH_REDIS_REST_URL, token: process.env.UPSTASH_REDIS_REST_TOKEN };
  beforeEach(() => {
    delete process.env.UPSTASH_REDIS_REST_URL;
    delete process.env.UPSTASH_REDIS_REST_TOKEN;
    vi.resetModules();
  });
  afterEach(() => {
    if (saved.url !== undefined) process.env.UPSTASH_REDIS_REST_URL = saved.url;
    if (saved.token !== undefined) process.env.UPSTASH_REDIS_REST_TOKEN = saved.token;
  });

  it("answers a clear 503 with an env that lacks the Upstash variables, and still answers preflights", async () => {
    const edge = (await import("../../functions/flags/edge.ts")).default;
    const env = {
      GREENLIGHT_ADMIN_TOKEN: "86f65e28a754e1a71b2df9403615a6c436c32c42a75a10d02813961b86f1e428",
      SOME_KV_BINDING: { get: () => null },
    };
    const response = await edge.fetch(
      post("/ofrep/v1/evaluate/flags", "{}", { origin: "https://app.example.com" }),
      env,
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    const body = (await response.json()) as { errorDetails: string };
    expect(body.errorDetails).toBe(
      "no flag store configured: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (the Upstash Redis REST URL " +
        "and token); there is no durable disk here for the file store",
    );
    const preflight = await edge.fetch(new Request(`${BASE}/ofrep/v1/evaluate/flags`, { method: "OPTIONS" }), env);
    expect(preflight.status).toBe(204);
  });

  it("reads process.env when called without bindings (Vercel Edge)", async () => {
    process.env.GREENLIGHT_FLAGS_CORS_ORIGINS = "not-an-origin";
    try {
      const edge = (await import("../../functions/flags/edge.ts")).default;
      const response = await edge.fetch(new Request(`${BASE}/healthz`));
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: string }).error).toMatch(/GREENLIGHT_FLAGS_CORS_ORIGINS/);
    } finally {
      delete process.env.GREENLIGHT_FLAGS_CORS_ORIGINS;
    }
  });
});
