// The flags Lambda: synthetic API Gateway events without Upstash (503 saying what to set), the Lambda adapter over an
// in-memory store, and the configuration read from the environment.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { flagsConfigFromEnv } from "../../functions/flags/config.ts";
import { flagSettingsFromEnv } from "../../functions/flags/env.ts";
import { createFlagCore } from "../../functions/flags/http/handler.ts";
import { DEFAULT_RATES } from "../../functions/flags/limits.ts";
import type { ApiGatewayEvent, ApiGatewayResult } from "../../functions/http/api-gateway.ts";
import { lambdaHandler } from "../../functions/http/lambda.ts";
import { httpApiEvent, lambdaContext, restApiEvent } from "../../scripts/fakes/lambda-events.ts";
import { createMemoryStore, TEST_FLAGS } from "./memory-store.ts";

const header = (result: ApiGatewayResult, name: string): string | undefined =>
  Object.entries(result.headers ?? {}).find(([key]) => key.toLowerCase() === name)?.[1];

const FLAG_ENV = [
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "GREENLIGHT_ADMIN_TOKEN",
  "GREENLIGHT_FLAGS_API_KEY",
  "GREENLIGHT_FLAGS_CORS_ORIGINS",
  "GREENLIGHT_FLAGS_CACHE_TTL",
  "GREENLIGHT_FLAGS_MAX_STALE",
] as const;

describe("flags Lambda handler without Upstash", () => {
  const saved = new Map(FLAG_ENV.map((name) => [name, process.env[name]]));
  beforeEach(() => {
    for (const name of FLAG_ENV) delete process.env[name];
    vi.resetModules();
  });
  afterEach(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  async function loadHandler() {
    return (await import("../../functions/flags/lambda.ts")).handler;
  }

  it("answers every route 503 saying which variables to set (HTTP API v2 and REST v1 events)", async () => {
    const handler = await loadHandler();
    const events: ApiGatewayEvent[] = [
      httpApiEvent("POST", "/ofrep/v1/evaluate/flags", JSON.stringify({ context: {} })),
      httpApiEvent("POST", "/ofrep/v1/evaluate/flags/banner", "{}", { stage: "prod" }),
      httpApiEvent("GET", "/flags/healthz"),
      restApiEvent("GET", "/admin/flags"),
    ];
    for (const event of events) {
      const result = await handler(event, lambdaContext());
      expect(result.statusCode).toBe(503);
      expect(result.isBase64Encoded).toBe(false);
      expect(header(result, "content-type")).toMatch(/^application\/json/);
      expect(result.body).toMatch(/set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN/);
    }
    const ofrep = JSON.parse((await handler(events[0]!, lambdaContext())).body);
    expect(ofrep).toMatchObject({ errorCode: "GENERAL" });
    const admin = JSON.parse((await handler(events[3]!, lambdaContext())).body);
    expect(admin.error).toMatch(/no durable disk/);
  });

  it("still answers CORS preflights, so a browser sees the 503 rather than a CORS failure", async () => {
    const handler = await loadHandler();
    const event = httpApiEvent("OPTIONS", "/ofrep/v1/evaluate/flags");
    event.headers = { ...event.headers, origin: "https://shop.example.com", "access-control-request-method": "POST" };
    const result = await handler(event, lambdaContext());
    expect(result.statusCode).toBe(204);
    expect(header(result, "access-control-allow-origin")).toBe("*");
  });

  it("answers 503 naming a bad variable", async () => {
    process.env.GREENLIGHT_FLAGS_MAX_STALE = "forever";
    const handler = await loadHandler();
    const result = await handler(httpApiEvent("GET", "/flags/healthz"), lambdaContext());
    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body).error).toMatch(/^flags are misconfigured: GREENLIGHT_FLAGS_MAX_STALE="forever"/);
  });
});

describe("the Lambda adapter over the memory store", () => {
  function lambda() {
    const store = createMemoryStore({ seed: TEST_FLAGS });
    const core = createFlagCore({ store, cache: createRuleCache(store), adminToken: "t", bodyLimitBytes: 512 });
    const handler = lambdaHandler(core);
    return (event: ApiGatewayEvent) => handler(event, lambdaContext());
  }

  it("evaluates from a plain and a base64 body, and answers 304 on a matching If-None-Match", async () => {
    const invoke = lambda();
    const body = JSON.stringify({ context: { segment: "beta" } });
    const plain = await invoke(httpApiEvent("POST", "/ofrep/v1/evaluate/flags/beta-tools", body));
    expect(plain.statusCode).toBe(200);
    expect(JSON.parse(plain.body)).toEqual({
      key: "beta-tools",
      value: true,
      reason: "TARGETING_MATCH",
      variant: "on",
    });
    const encoded = await invoke(httpApiEvent("POST", "/ofrep/v1/evaluate/flags/beta-tools", body, { base64: true }));
    expect(JSON.parse(encoded.body)).toEqual(JSON.parse(plain.body));

    const bulk = await invoke(restApiEvent("POST", "/ofrep/v1/evaluate/flags", body));
    expect(bulk.statusCode).toBe(200);
    const etag = header(bulk, "etag");
    expect(etag).toMatch(/^"8-[0-9a-f]{1,14}"$/);
    const event = httpApiEvent("POST", "/ofrep/v1/evaluate/flags", body);
    event.headers = { ...event.headers, "if-none-match": etag };
    const again = await invoke(event);
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe("");
  });

  it("writes through the admin API and refuses a body over the limit with 413", async () => {
    const invoke = lambda();
    const put = httpApiEvent("PUT", "/admin/flags/lambda-flag", JSON.stringify({ state: "enabled" }));
    put.headers = { ...put.headers, authorization: "Bearer t" };
    const created = await invoke(put);
    expect(created.statusCode).toBe(201);
    expect(JSON.parse(created.body).flag).toMatchObject({ flag: { key: "lambda-flag" }, revision: 9 });

    const big = httpApiEvent("POST", "/ofrep/v1/evaluate/flags", JSON.stringify({ context: { pad: "p".repeat(600) } }));
    const refused = await invoke(big);
    expect(refused.statusCode).toBe(413);
    expect(JSON.parse(refused.body).errorDetails).toBe("body is larger than the 512 byte limit");
  });
});

describe("flag settings from the environment", () => {
  it("defaults to no tokens, any origin, a 5 s cache and 10 min of staleness", () => {
    expect(flagSettingsFromEnv({})).toEqual({
      corsOrigins: ["*"],
      ttlMs: 5_000,
      maxStaleMs: 600_000,
      bodyLimitBytes: 65_536,
      rates: DEFAULT_RATES,
    });
    // Blank values count as unset: deployment templates pass '' for "not configured".
    expect(flagSettingsFromEnv({ GREENLIGHT_ADMIN_TOKEN: "", GREENLIGHT_FLAGS_CACHE_TTL: " " })).toEqual({
      corsOrigins: ["*"],
      ttlMs: 5_000,
      maxStaleMs: 600_000,
      bodyLimitBytes: 65_536,
      rates: DEFAULT_RATES,
    });
  });

  it("refuses a staleness bound shorter than the cache TTL, naming both variables", () => {
    expect(() => flagSettingsFromEnv({ GREENLIGHT_FLAGS_CACHE_TTL: "10m", GREENLIGHT_FLAGS_MAX_STALE: "1m" })).toThrow(
      /GREENLIGHT_FLAGS_MAX_STALE \(60s\) must be at least GREENLIGHT_FLAGS_CACHE_TTL \(600s\)/,
    );
  });

  it("reads tokens, origins, durations and rates", () => {
    const settings = flagSettingsFromEnv({
      GREENLIGHT_ADMIN_TOKEN: "86f65e28a754e1a71b2df9403615a6c436c32c42a75a10d02813961b86f1e428",
      GREENLIGHT_FLAGS_API_KEY: "key",
      GREENLIGHT_FLAGS_CORS_ORIGINS: "https://shop.example.com, http://localhost:3000",
      GREENLIGHT_FLAGS_CACHE_TTL: "30s",
      GREENLIGHT_FLAGS_MAX_STALE: "1h",
      GREENLIGHT_RATE_LIMIT_OFREP: "100/10s",
      GREENLIGHT_RATE_LIMIT_ADMIN: "off",
      GREENLIGHT_FLAGS_BODY_LIMIT: "256KiB",
    });
    expect(settings).toEqual({
      adminToken: "86f65e28a754e1a71b2df9403615a6c436c32c42a75a10d02813961b86f1e428",
      adminTokens: [
        { label: "admin", scope: "admin", token: "86f65e28a754e1a71b2df9403615a6c436c32c42a75a10d02813961b86f1e428" },
      ],
      evaluationApiKey: "key",
      corsOrigins: ["https://shop.example.com", "http://localhost:3000"],
      ttlMs: 30_000,
      maxStaleMs: 3_600_000,
      bodyLimitBytes: 262_144,
      rates: { ofrep: { requests: 100, windowMs: 10_000 }, authFailures: DEFAULT_RATES.authFailures },
    });
  });

  it("refuses bad values with one line naming the variable and what is accepted", () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ GREENLIGHT_FLAGS_CACHE_TTL: "5 seconds" }, /^GREENLIGHT_FLAGS_CACHE_TTL="5 seconds" is invalid; accepted: /],
      [{ GREENLIGHT_FLAGS_MAX_STALE: "0s" }, /^GREENLIGHT_FLAGS_MAX_STALE="0s" is invalid; accepted: a positive/],
      [{ GREENLIGHT_FLAGS_CORS_ORIGINS: "shop.example.com" }, /^GREENLIGHT_FLAGS_CORS_ORIGINS=.* accepted: \* or/],
      [{ GREENLIGHT_FLAGS_CORS_ORIGINS: "https://a.example.com/app" }, /GREENLIGHT_FLAGS_CORS_ORIGINS/],
      [{ GREENLIGHT_ADMIN_TOKEN: "two words" }, /^GREENLIGHT_ADMIN_TOKEN is invalid; accepted: a token without/],
      [{ GREENLIGHT_RATE_LIMIT_AUTH_FAILURES: "lots" }, /^GREENLIGHT_RATE_LIMIT_AUTH_FAILURES="lots" is not a rate/],
      [
        { GREENLIGHT_FLAGS_BODY_LIMIT: "1GiB" },
        /^GREENLIGHT_FLAGS_BODY_LIMIT="1GiB" is invalid; accepted: a size from 1024/,
      ],
    ];
    for (const [env, message] of cases) {
      expect(() => flagSettingsFromEnv(env)).toThrow(message);
      try {
        flagSettingsFromEnv(env);
      } catch (error) {
        expect((error as Error).message).not.toContain("\n");
      }
    }
  });
});

describe("flagsConfigFromEnv (Node: the file store unless Upstash is configured)", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "greenlight-flags-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("uses the file store in GREENLIGHT_FLAGS_DIR, seeded with the example flags", async () => {
    const config = flagsConfigFromEnv(
      { GREENLIGHT_FLAGS_DIR: join(dir, "a"), GREENLIGHT_FLAGS_CACHE_TTL: "2s" },
      { cwd: "/" },
    );
    expect(config.store.kind).toBe("file");
    expect(config.describe).toContain(join(dir, "a"));
    expect(config.describe).toContain("2s");
    const snapshot = await config.cache.current();
    expect(snapshot?.set.keys).toEqual(["new_recommendation_engine", "new_ui_interface", "payment_feature"]);
  });

  it("defaults the directory to .greenlight under cwd", async () => {
    const config = flagsConfigFromEnv({}, { cwd: join(dir, "project") });
    expect(config.describe).toContain(join(dir, "project", ".greenlight"));
    expect(config.corsOrigins).toEqual(["*"]);
    expect(config.adminToken).toBeUndefined();
  });

  it("uses Upstash when both variables are set, and never prints the token", () => {
    const config = flagsConfigFromEnv(
      { UPSTASH_REDIS_REST_URL: "https://eu1-example-12345.upstash.io", UPSTASH_REDIS_REST_TOKEN: "tok-SECRET" },
      { cwd: dir },
    );
    expect(config.store.kind).toBe("upstash");
    expect(config.describe).toMatch(/^Upstash Redis at eu1-example-12345\.upstash\.io/);
    expect(config.describe).not.toContain("SECRET");
  });

  it("refuses one Upstash variable alone, naming the other", () => {
    expect(() => flagsConfigFromEnv({ UPSTASH_REDIS_REST_TOKEN: "t" }, { cwd: dir })).toThrow(/UPSTASH_REDIS_REST_URL/);
  });
});
