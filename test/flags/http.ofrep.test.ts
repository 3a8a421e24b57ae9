// The OFREP endpoints through the express app: bodies and status codes of the OFREP spec, ETag/304, auth, CORS, limits.
import type { AddressInfo } from "node:net";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { createRuleCache, type RuleCache } from "../../functions/flags/cache.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import type { FlagHttpOptions } from "../../functions/flags/http/handler.ts";
import { createMemoryStore, LAUNCH_AT, TEST_FLAGS } from "./memory-store.ts";

const T0 = Date.parse("2026-06-01T00:00:00Z");
const ADMIN = "admin-token-for-tests";
const SINGLE = "/ofrep/v1/evaluate/flags";

function setup(options: Partial<FlagHttpOptions> = {}) {
  let now = T0;
  const clock = {
    now: () => now,
    set: (ms: number) => {
      now = ms;
    },
  };
  const store = createMemoryStore({ seed: TEST_FLAGS, now: clock.now });
  const cache = createRuleCache(store, { ttlMs: 60_000, maxStaleMs: 120_000, now: clock.now });
  const app = createFlagsApp({ store, cache, adminToken: ADMIN, now: clock.now, onError: () => undefined, ...options });
  return { store, cache, app, clock };
}

const evaluate = (app: ReturnType<typeof setup>["app"], key: string, body: unknown = { context: {} }) =>
  request(app)
    .post(`${SINGLE}/${key}`)
    .send(body as object);

describe("OFREP single flag evaluation", () => {
  it("answers 200 with key, value, reason and variant for each kind of value", async () => {
    const { app } = setup();
    const cases: Array<[string, unknown, string, string]> = [
      ["banner", true, "STATIC", "on"],
      ["checkout", false, "DISABLED", "off"],
      ["theme", "dark", "STATIC", "dark"],
      ["max-items", 10, "STATIC", "ten"],
      ["layout", { columns: 3, dense: true }, "STATIC", "grid"],
    ];
    for (const [key, value, reason, variant] of cases) {
      const response = await evaluate(app, key);
      expect(response.status).toBe(200);
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
      expect(response.body).toEqual({ key, value, reason, variant });
    }
  });

  it("targets by segment: TARGETING_MATCH inside it, DEFAULT (off) outside", async () => {
    const { app } = setup();
    const inside = await evaluate(app, "beta-tools", { context: { segment: "beta" } });
    expect(inside.body).toEqual({ key: "beta-tools", value: true, reason: "TARGETING_MATCH", variant: "on" });
    const outside = await evaluate(app, "beta-tools", { context: { segment: "internal" } });
    expect(outside.body).toEqual({ key: "beta-tools", value: false, reason: "DEFAULT", variant: "off" });
  });

  it("splits by targeting key (SPLIT, both sides seen over 200 users, stable per user)", async () => {
    const { app } = setup();
    const seen = new Set<boolean>();
    for (let user = 0; user < 200; user++) {
      const response = await evaluate(app, "half", { context: { targetingKey: `user-${user}` } });
      expect(response.status).toBe(200);
      expect(response.body.reason).toBe("SPLIT");
      seen.add(response.body.value);
      if (user < 5) {
        const again = await evaluate(app, "half", { context: { targetingKey: `user-${user}` } });
        expect(again.body).toEqual(response.body);
      }
    }
    expect(seen).toEqual(new Set([true, false]));
  });

  it("answers 400 TARGETING_KEY_MISSING when a split has no targeting key", async () => {
    const { app } = setup();
    const response = await evaluate(app, "half", { context: { segment: "beta" } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ key: "half", errorCode: "TARGETING_KEY_MISSING" });
    expect(response.body.errorDetails).toMatch(/targetingKey/);
  });

  it("answers 404 FLAG_NOT_FOUND with the key for an unknown flag", async () => {
    const { app } = setup();
    const response = await evaluate(app, "no-such-flag");
    expect(response.status).toBe(404);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    expect(response.body).toMatchObject({ key: "no-such-flag", errorCode: "FLAG_NOT_FOUND" });
    expect(typeof response.body.errorDetails).toBe("string");
  });

  it("answers 400 PARSE_ERROR for a body that is not JSON, with the parser's message", async () => {
    const { app } = setup();
    const response = await request(app)
      .post(`${SINGLE}/banner`)
      .set("Content-Type", "application/json")
      .send('{"context": ');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ key: "banner", errorCode: "PARSE_ERROR" });
    expect(response.body.errorDetails).toMatch(/^body is not JSON: .+/);
  });

  it("answers 400 PARSE_ERROR for JSON that is not an evaluation request object", async () => {
    const { app } = setup();
    const response = await request(app).post(`${SINGLE}/banner`).set("Content-Type", "application/json").send("[1]");
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ key: "banner", errorCode: "PARSE_ERROR" });
    expect(response.body.errorDetails).toMatch(/not an array/);
  });

  it("answers 400 INVALID_CONTEXT for a context that is not an object or a targetingKey that is not a string", async () => {
    const { app } = setup();
    for (const context of ["user-1", [], null, 7]) {
      const response = await evaluate(app, "banner", { context });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ key: "banner", errorCode: "INVALID_CONTEXT" });
      expect(response.body.errorDetails).toMatch(/^context must be a JSON object/);
    }
    const response = await evaluate(app, "banner", { context: { targetingKey: 42 } });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      key: "banner",
      errorCode: "INVALID_CONTEXT",
      errorDetails: "context.targetingKey must be a string, not a number",
    });
  });

  it("treats an empty body or a body without context as the empty context", async () => {
    const { app } = setup();
    const empty = await request(app).post(`${SINGLE}/banner`);
    expect(empty.status).toBe(200);
    expect(empty.body.value).toBe(true);
    const noContext = await evaluate(app, "beta-tools", {});
    expect(noContext.body).toMatchObject({ value: false, reason: "DEFAULT" });
  });

  it("answers 500 when no rules can be served, without the store's own error (that is for /healthz)", async () => {
    const { app, store } = setup();
    store.down = true;
    const single = await evaluate(app, "banner");
    expect(single.status).toBe(500);
    expect(single.headers["content-type"]).toMatch(/^application\/json/);
    expect(single.body).toMatchObject({ key: "banner", errorCode: "GENERAL" });
    expect(single.body.errorDetails).toMatch(/no flag rules available: the file flag store cannot be read/);
    expect(single.body.errorDetails).not.toMatch(/is down/);
    const bulk = await request(app).post(SINGLE).send({ context: {} });
    expect(bulk.status).toBe(500);
    expect(bulk.body).toMatchObject({ errorCode: "GENERAL" });
    expect(bulk.body.errorDetails).toMatch(/no flag rules available/);
  });

  it("keeps serving the last good rules while the store is down, within maxStale", async () => {
    const { app, store, clock } = setup();
    expect((await evaluate(app, "banner")).status).toBe(200);
    store.down = true;
    clock.set(T0 + 90_000);
    expect((await evaluate(app, "banner")).body.value).toBe(true);
    clock.set(T0 + 200_000);
    expect((await evaluate(app, "banner")).status).toBe(500);
  });
});

describe("OFREP bulk evaluation", () => {
  it("answers 200 {flags} in key order, successes and per-flag failures, with an ETag", async () => {
    const { app } = setup();
    const response = await request(app)
      .post(SINGLE)
      .send({ context: { segment: "beta" } });
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    expect(response.headers.etag).toMatch(/^"8-[0-9a-f]{1,14}"$/);
    const flags = response.body.flags as Array<{ key: string }>;
    expect(flags.map((flag) => flag.key)).toEqual([
      "banner",
      "beta-tools",
      "checkout",
      "half",
      "launch",
      "layout",
      "max-items",
      "theme",
    ]);
    expect(flags).toContainEqual({ key: "banner", value: true, reason: "STATIC", variant: "on" });
    expect(flags).toContainEqual({ key: "beta-tools", value: true, reason: "TARGETING_MATCH", variant: "on" });
    expect(flags).toContainEqual({ key: "launch", value: false, reason: "DISABLED", variant: "off" });
    expect(flags.find((flag) => flag.key === "half")).toMatchObject({ errorCode: "TARGETING_KEY_MISSING" });
  });

  it("answers 304 with no body when If-None-Match holds the current ETag (strong, weak or in a list)", async () => {
    const { app } = setup();
    const first = await request(app)
      .post(SINGLE)
      .send({ context: { targetingKey: "user-1" } });
    const etag = first.headers.etag as string;
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const again = await request(app)
        .post(SINGLE)
        .set("If-None-Match", header)
        .send({ context: { targetingKey: "user-1" } });
      expect(again.status).toBe(304);
      expect(again.text).toBe("");
      expect(again.headers.etag).toBe(etag);
    }
    const stale = await request(app)
      .post(SINGLE)
      .set("If-None-Match", '"7-00000000"')
      .send({ context: { targetingKey: "user-1" } });
    expect(stale.status).toBe(200);
    expect(stale.body).toEqual(first.body);
  });

  it("gives the same ETag for the same answer and a different one for a different context", async () => {
    const { app } = setup();
    const a = await request(app)
      .post(SINGLE)
      .send({ context: { segment: "beta" } });
    const b = await request(app)
      .post(SINGLE)
      .send({ context: { segment: "beta" } });
    const c = await request(app)
      .post(SINGLE)
      .send({ context: { segment: "internal" } });
    expect(b.headers.etag).toBe(a.headers.etag);
    expect(c.headers.etag).not.toBe(a.headers.etag);
  });

  it("changes the ETag when the rules change through the admin API", async () => {
    const { app } = setup();
    const before = await request(app).post(SINGLE).send({ context: {} });
    const write = await request(app)
      .put("/admin/flags/banner")
      .set("Authorization", `Bearer ${ADMIN}`)
      .send({ key: "banner", state: "disabled" });
    expect(write.status).toBe(200);
    const after = await request(app)
      .post(SINGLE)
      .set("If-None-Match", String(before.headers.etag))
      .send({ context: {} });
    expect(after.status).toBe(200);
    expect(after.headers.etag).toMatch(/^"9-/);
    expect(after.body.flags[0]).toEqual({ key: "banner", value: false, reason: "DISABLED", variant: "off" });
  });

  it("changes the ETag when a time window opens, at the same rule-set version", async () => {
    const { app, clock } = setup();
    const before = await request(app).post(SINGLE).send({ context: {} });
    clock.set(Date.parse(LAUNCH_AT) - 1);
    const still = await request(app)
      .post(SINGLE)
      .set("If-None-Match", String(before.headers.etag))
      .send({ context: {} });
    expect(still.status).toBe(304);
    clock.set(Date.parse(LAUNCH_AT));
    const opened = await request(app)
      .post(SINGLE)
      .set("If-None-Match", String(before.headers.etag))
      .send({ context: {} });
    expect(opened.status).toBe(200);
    expect(opened.headers.etag).not.toBe(before.headers.etag);
    expect(opened.headers.etag).toMatch(/^"8-/);
    expect(opened.body.flags).toContainEqual({ key: "launch", value: true, reason: "STATIC", variant: "on" });
  });

  it("answers 400 with errorCode and errorDetails (no key) for a bad request", async () => {
    const { app } = setup();
    const parse = await request(app).post(SINGLE).set("Content-Type", "application/json").send("{nope");
    expect(parse.status).toBe(400);
    expect(parse.body.key).toBeUndefined();
    expect(parse.body).toMatchObject({ errorCode: "PARSE_ERROR" });
    const context = await request(app).post(SINGLE).send({ context: "user-1" });
    expect(context.status).toBe(400);
    expect(context.body).toEqual({
      errorCode: "INVALID_CONTEXT",
      errorDetails: "context must be a JSON object of attributes, not a string",
    });
  });
});

describe("OFREP API key", () => {
  const KEY = "ofrep-key-123";

  it("refuses a missing or wrong key with 401 and WWW-Authenticate, on both endpoints", async () => {
    const { app } = setup({ evaluationApiKey: KEY });
    for (const path of [SINGLE, `${SINGLE}/banner`]) {
      const missing = await request(app).post(path).send({});
      expect(missing.status).toBe(401);
      expect(missing.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(missing.body.errorDetails).toMatch(/X-API-Key/);
      expect((await request(app).post(path).set("Authorization", "Bearer nope").send({})).status).toBe(401);
      expect((await request(app).post(path).set("X-API-Key", `${KEY}x`).send({})).status).toBe(401);
      expect((await request(app).post(path).set("Authorization", `Bearer ${ADMIN}`).send({})).status).toBe(401);
    }
  });

  it("accepts the key as a bearer token or in X-API-Key", async () => {
    const { app } = setup({ evaluationApiKey: KEY });
    expect(
      (await request(app).post(`${SINGLE}/banner`).set("Authorization", `Bearer ${KEY}`).send({})).body.value,
    ).toBe(true);
    expect((await request(app).post(`${SINGLE}/banner`).set("X-API-Key", KEY).send({})).body.value).toBe(true);
    expect((await request(app).post(SINGLE).set("authorization", `bearer ${KEY}`).send({})).status).toBe(200);
  });

  it("needs no key when none is configured", async () => {
    const { app } = setup();
    expect((await request(app).post(`${SINGLE}/banner`).send({})).status).toBe(200);
  });
});

describe("CORS", () => {
  it("answers a preflight with 204, the allowed methods and headers and a max age", async () => {
    const { app } = setup();
    const response = await request(app)
      .options(`${SINGLE}/banner`)
      .set("Origin", "https://shop.example.com")
      .set("Access-Control-Request-Method", "POST")
      .set("Access-Control-Request-Headers", "content-type, if-none-match");
    expect(response.status).toBe(204);
    expect(response.headers["access-control-allow-origin"]).toBe("*");
    expect(response.headers["access-control-allow-methods"]).toMatch(/POST/);
    const allowed = (response.headers["access-control-allow-headers"] as string).toLowerCase();
    for (const header of ["content-type", "authorization", "if-none-match", "if-match", "x-api-key"]) {
      expect(allowed).toContain(header);
    }
    expect(Number(response.headers["access-control-max-age"])).toBeGreaterThan(0);
  });

  it("echoes an allowed origin with Vary: Origin and leaves a disallowed one without Allow-Origin", async () => {
    const { app } = setup({ corsOrigins: ["https://shop.example.com", "http://localhost:3000"] });
    const allowed = await request(app).post(SINGLE).set("Origin", "http://localhost:3000").send({});
    expect(allowed.headers["access-control-allow-origin"]).toBe("http://localhost:3000");
    expect(allowed.headers.vary).toMatch(/Origin/);
    const refused = await request(app).post(SINGLE).set("Origin", "https://evil.example.com").send({});
    expect(refused.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await request(app).options(SINGLE).set("Origin", "https://shop.example.com");
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("https://shop.example.com");
  });

  it("puts Expose-Headers: ETag on every response, and a * Allow-Origin on the OFREP ones, errors included", async () => {
    const { app, store } = setup({ evaluationApiKey: "k" });
    const responses = [
      await request(app).post(SINGLE).set("X-API-Key", "k").send({}),
      await request(app).post(`${SINGLE}/nope`).set("X-API-Key", "k").send({}),
      await request(app).post(SINGLE).send({}),
      await request(app).get("/nowhere"),
      await request(app).get(SINGLE),
    ];
    store.down = true;
    responses.push(await request(app).get("/admin/flags").set("Authorization", `Bearer ${ADMIN}`));
    expect(responses.map((response) => response.status)).toEqual([200, 404, 401, 404, 405, 503]);
    // A * covers the OFREP and health paths only: /nowhere and the admin API need an origin listed by name.
    expect(responses.map((response) => response.headers["access-control-allow-origin"])).toEqual([
      "*",
      "*",
      "*",
      undefined,
      "*",
      undefined,
    ]);
    for (const response of responses) expect(response.headers["access-control-expose-headers"]).toBe("ETag");
  });
});

describe("routing, limits and failures", () => {
  it("answers 404 listing the routes for an unknown path, in OFREP's error shape under /ofrep/", async () => {
    const { app } = setup();
    const response = await request(app).post("/ofrep/v2/evaluate");
    expect(response.status).toBe(404);
    expect(response.body.errorCode).toBe("GENERAL");
    expect(response.body.errorDetails).toMatch(/no route for POST \/ofrep\/v2\/evaluate/);
    expect(response.body.errorDetails).toContain("POST /ofrep/v1/evaluate/flags/{key}");
    expect(response.body.errorDetails).toContain("GET /admin/audit");
    const elsewhere = await request(app).get("/nowhere");
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.body).toEqual({ error: expect.stringMatching(/^no route for GET \/nowhere; routes: /) });
  });

  it("answers 405 with Allow for a wrong method", async () => {
    const { app } = setup();
    const response = await request(app).get(`${SINGLE}/banner`);
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe("POST, OPTIONS");
    expect(response.body).toEqual({ errorCode: "GENERAL", errorDetails: expect.stringMatching(/GET is not allowed/) });
    expect((await request(app).delete(SINGLE)).headers.allow).toBe("POST, OPTIONS");
    const admin = await request(app).post("/admin/audit");
    expect(admin.status).toBe(405);
    expect(admin.body.error).toMatch(/^POST is not allowed on \/admin\/audit; allowed: GET/);
  });

  it("answers 413 naming the limit, by Content-Length", async () => {
    const { app } = setup({ bodyLimitBytes: 1024 });
    const body = { context: { targetingKey: "u", padding: "x".repeat(2000) } };
    const response = await request(app).post(`${SINGLE}/banner`).send(body);
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ key: "banner", errorCode: "GENERAL" });
    expect(response.body.errorDetails).toBe("body is larger than the 1024 byte limit");
    const small = await request(app)
      .post(`${SINGLE}/banner`)
      .send({ context: { padding: "x".repeat(900) } });
    expect(small.status).toBe(200);
  });

  it("answers 413 by the bytes read for a chunked body without Content-Length", async () => {
    const { app } = setup({ bodyLimitBytes: 1024 });
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const chunk = new TextEncoder().encode(`{"context": {"pad": "${"x".repeat(600)}`);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(chunk);
          controller.enqueue(chunk);
          controller.close();
        },
      });
      const response = await fetch(`http://127.0.0.1:${port}${SINGLE}/banner`, {
        method: "POST",
        body: stream,
        headers: { "content-type": "application/json" },
        duplex: "half",
      } as RequestInit);
      expect(response.status).toBe(413);
      expect(((await response.json()) as { errorDetails: string }).errorDetails).toMatch(/1024 byte limit/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("answers 500 without detail when something unexpected throws, and reports it to onError", async () => {
    const store = createMemoryStore({ seed: TEST_FLAGS });
    const broken: RuleCache = {
      current: () => Promise.reject(new Error("secret internals at /srv/app.js:12")),
      health: () => ({ status: "ok", store: "file", storeCalls: 0 }),
      invalidate: () => undefined,
      storeCalls: 0,
    };
    const errors: unknown[] = [];
    const app = createFlagsApp({ store, cache: broken, onError: (error) => errors.push(error) });
    const response = await request(app).post(`${SINGLE}/banner`).send({});
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ errorCode: "GENERAL", errorDetails: "internal error" });
    expect(response.text).not.toMatch(/secret|srv/);
    expect(errors).toHaveLength(1);
  });
});

describe("GET /healthz", () => {
  it("is 200 ok with the version when the store answers", async () => {
    const { app } = setup();
    const response = await request(app).get("/healthz");
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: "ok", store: "file", version: 8, ageMs: 0 });
    expect(response.body.storeCalls).toBe(2);
    expect((await request(app).get("/flags/healthz")).body.status).toBe("ok");
  });

  it("is 200 degraded while stale rules are served, and 503 unavailable past maxStale", async () => {
    const { app, store, clock } = setup();
    await request(app).get("/healthz");
    store.down = true;
    clock.set(T0 + 60_000);
    const degraded = await request(app).get("/healthz");
    expect(degraded.status).toBe(200);
    expect(degraded.body).toMatchObject({ status: "degraded", version: 8, ageMs: 60_000 });
    expect(degraded.body.lastError).toMatch(/down/);
    clock.set(T0 + 180_000);
    const unavailable = await request(app).get("/healthz");
    expect(unavailable.status).toBe(503);
    expect(unavailable.body).toMatchObject({ status: "unavailable" });
    store.down = false;
    clock.set(T0 + 240_000);
    expect((await request(app).get("/healthz")).status).toBe(200);
  });
});
