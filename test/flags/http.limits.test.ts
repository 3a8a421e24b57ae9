// The abuse limits through the flag core: OFREP per client address, admin per token label, failed authentications
// per address; in memory and, through upstashFlagCore, in real Redis behind the Upstash REST bridge.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { flagsConfigFromEnv } from "../../functions/flags/config.ts";
import { upstashFlagCore } from "../../functions/flags/env.ts";
import { createFlagCore } from "../../functions/flags/http/handler.ts";
import { type FlagLimits, memoryLimits } from "../../functions/flags/limits.ts";
import type { HttpCore, HttpRequest, HttpResponse } from "../../functions/http/message.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";
import { createMemoryStore, TEST_FLAGS } from "./memory-store.ts";

const ADMIN = "5b7a2c9e41d0f38b6a1e7c4d92f05b3e8a6d1c7f40e29b5a3c8d7e1f6a0b4c2d";
const OPS = "ops-token-0123456789abcdef-ops";
const TOKENS = [
  { label: "admin", scope: "admin", token: ADMIN },
  { label: "ops", scope: "admin", token: OPS },
] as const;

function request(
  method: string,
  path: string,
  options: { address?: string; token?: string; body?: unknown } = {},
): HttpRequest {
  const headers = new Map<string, string>([["content-type", "application/json"]]);
  if (options.token !== undefined) headers.set("authorization", `Bearer ${options.token}`);
  return {
    method,
    url: `http://localhost${path}`,
    headers: { get: (name) => headers.get(name.toLowerCase()) ?? null },
    ...(options.body === undefined ? {} : { bodyBytes: new TextEncoder().encode(JSON.stringify(options.body)) }),
    ...(options.address === undefined ? {} : { clientAddress: options.address }),
  };
}

const bodyOf = (response: HttpResponse): Record<string, unknown> => JSON.parse(response.body ?? "{}");

function coreWith(limits: FlagLimits, now: () => number = Date.now): HttpCore {
  const store = createMemoryStore({ seed: TEST_FLAGS });
  return createFlagCore({
    store,
    cache: createRuleCache(store),
    adminTokens: [...TOKENS],
    limits,
    now,
    onError: () => undefined,
  });
}

const evaluate = (core: HttpCore, address?: string) =>
  core(
    request("POST", "/ofrep/v1/evaluate/flags", {
      body: { context: { targetingKey: "u1" } },
      ...(address ? { address } : {}),
    }),
  );

describe("limits in memory", () => {
  it("answers the evaluation past the rate 429 in OFREP's shape with Retry-After, per client address", async () => {
    let now = 1_000_000;
    const clock = () => now;
    const core = coreWith(memoryLimits({ ofrep: { requests: 3, windowMs: 60_000 } }, clock), clock);
    for (let i = 0; i < 3; i++) expect((await evaluate(core, "203.0.113.7")).status).toBe(200);
    const refused = await evaluate(core, "203.0.113.7");
    expect(refused.status).toBe(429);
    expect(refused.headers["Retry-After"]).toBe("20");
    expect(bodyOf(refused)).toEqual({
      errorCode: "GENERAL",
      errorDetails: "too many evaluations from 203.0.113.7; retry after 20 s",
    });
    expect((await evaluate(core, "198.51.100.1")).status).toBe(200);
    // A request no adapter put an address on (a test harness, an in-process call) is not metered.
    expect((await evaluate(core)).status).toBe(200);
    now += 120_000;
    expect((await evaluate(core, "203.0.113.7")).status).toBe(200);
  });

  it("counts admin requests per token label, never mixing two tokens", async () => {
    const core = coreWith(memoryLimits({ admin: { requests: 2, windowMs: 60_000 } }));
    const list = (token: string) => core(request("GET", "/admin/flags", { token, address: "203.0.113.7" }));
    expect((await list(ADMIN)).status).toBe(200);
    expect((await list(ADMIN)).status).toBe(200);
    const refused = await list(ADMIN);
    expect(refused.status).toBe(429);
    expect(bodyOf(refused).error).toMatch(/^too many admin requests with the token "admin"; retry after \d+ s$/);
    expect(Number(refused.headers["Retry-After"])).toBeGreaterThan(0);
    expect((await list(OPS)).status).toBe(200);
    // OFREP is not the admin API's budget.
    expect((await evaluate(core, "203.0.113.7")).status).toBe(200);
  });

  it("refuses an address past its failed authentications even with the right token, and no other address", async () => {
    const core = coreWith(memoryLimits({ authFailures: { requests: 2, windowMs: 300_000 } }));
    const list = (token: string, address: string) => core(request("GET", "/admin/flags", { token, address }));
    expect((await list("guess-one-0123456789", "203.0.113.7")).status).toBe(401);
    expect((await list("guess-two-0123456789", "203.0.113.7")).status).toBe(401);
    const blocked = await list(ADMIN, "203.0.113.7");
    expect(blocked.status).toBe(429);
    expect(bodyOf(blocked).error).toMatch(
      /^too many failed admin authentications from 203\.0\.113\.7; retry after \d+ s$/,
    );
    expect((await list(ADMIN, "198.51.100.1")).status).toBe(200);
    // Right tokens do not count as failures.
    for (let i = 0; i < 5; i++) expect((await list(ADMIN, "198.51.100.1")).status).toBe(200);
  });

  it("has the embedded store count in memory by default, and none with GREENLIGHT_RATE_LIMIT=off", () => {
    const on = flagsConfigFromEnv({ GREENLIGHT_FLAGS_DIR: "/nonexistent-greenlight-dir" }, { cwd: "/" });
    expect(Object.keys(on.limits).sort()).toEqual(["admin", "authFailures", "ofrep"]);
    const off = flagsConfigFromEnv(
      { GREENLIGHT_FLAGS_DIR: "/nonexistent-greenlight-dir", GREENLIGHT_RATE_LIMIT: "off" },
      { cwd: "/" },
    );
    expect(off.limits).toEqual({});
  });
});

describe("limits in Upstash, shared by every instance", () => {
  const TOKEN = "limits-http-token";
  let redis: RunningRedis;
  let bridge: RunningUpstashBridge;

  beforeAll(async () => {
    redis = await startRedis();
    bridge = await startUpstashBridge({ redisPort: redis.port, token: TOKEN });
  });
  afterAll(async () => {
    await bridge?.close();
    await redis?.close();
  });

  it("counts OFREP in each instance's memory, with no Upstash call per evaluation", async () => {
    const env = {
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: TOKEN,
      GREENLIGHT_RATE_LIMIT_OFREP: "4/1m",
    };
    const first = upstashFlagCore(env);
    const second = upstashFlagCore(env);
    await evaluate(first, "192.0.2.44");
    await evaluate(second, "192.0.2.44");
    const before = bridge.commands.length;
    const statuses: number[] = [];
    for (const core of [first, second, first, second, first, second, first, second]) {
      statuses.push((await evaluate(core, "192.0.2.44")).status);
    }
    // Each instance lets its own four through (one each already spent above).
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    expect((await evaluate(second, "192.0.2.45")).status).toBe(200);
    // Rules come from the instance's cache (TTL 5 s) and the limit from its memory: Upstash is not asked.
    expect(bridge.commands.slice(before).filter(([name]) => /^eval/i.test(name ?? ""))).toEqual([]);
  });

  it("shares failed admin logins across instances, in Upstash", async () => {
    const env = {
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: TOKEN,
      GREENLIGHT_ADMIN_TOKEN: ADMIN,
      GREENLIGHT_RATE_LIMIT_AUTH_FAILURES: "2/5m",
    };
    const first = upstashFlagCore(env);
    const second = upstashFlagCore(env);
    const list = (core: HttpCore, token: string) =>
      core(request("GET", "/admin/flags", { token, address: "192.0.2.77" }));
    expect((await list(first, "guess-one-0123456789")).status).toBe(401);
    expect((await list(second, "guess-two-0123456789")).status).toBe(401);
    expect((await list(first, ADMIN)).status).toBe(429);
    const script = bridge.commands.find(([name]) => /^eval/i.test(name ?? ""));
    expect(script?.join(" ")).toContain("greenlight:ratelimit:authFailures");
  });
});
