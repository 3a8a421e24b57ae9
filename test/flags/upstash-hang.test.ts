// An Upstash that accepts requests and never answers: the flag API keeps answering on its last good rules in time.
/*
 * Real redis-server, the REST bridge in front of it (its `hang()` control holds requests open unanswered), the real
 * @upstash/redis client, and the flag core built from the environment exactly as the Lambda and edge entries build
 * it (upstashFlagCore: default GREENLIGHT_UPSTASH_TIMEOUT of 500 ms, the abuse limits counted in the same Upstash),
 * served over node:http. What the issue asks: with warm rules, an evaluation and GET /healthz each answer within 1 s
 * while Upstash hangs, on the last good rules; every hung request is cancelled rather than left open; each refresh
 * after the TTL is a fresh attempt (no shared refresh stuck on the first hung one); once Upstash answers again, the
 * first refresh after the TTL serves what changed meanwhile. Writes that get no answer are a 503 that says so.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Env, FlagConfigError, upstashFlagCore, upstashTimeoutMs } from "../../functions/flags/env.ts";
import { DEFAULT_BODY_LIMIT_BYTES } from "../../functions/flags/http/handler.ts";
import { type FlagStore, StoreUnavailableError } from "../../functions/flags/types.ts";
import {
  createUpstashClient,
  createUpstashStore,
  DEFAULT_UPSTASH_TIMEOUT_MS,
} from "../../functions/flags/upstash-store.ts";
import { nodeListener } from "../../functions/http/node.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { redisCommand } from "../../scripts/services/resp.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

const ADMIN = "7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a";
const TTL_MS = 1_000;
/** The bound for an evaluation or /healthz while Upstash hangs. */
const ANSWER_WITHIN_MS = 1_000;
/**
 * An admin write waits for the failed-authentication check (no timeout in @upstash/ratelimit's getRemaining: the
 * client's 500 ms abort ends it), the admin limit (300 ms, then let through) and the write (500 ms): about 1.3 s.
 */
const WRITE_WITHIN_MS = 2_500;
/** How long a cancelled request may take to show up as closed at the bridge (one event-loop turn in practice). */
const CANCEL_SLACK_MS = 1_000;

let redis: RunningRedis;
let bridge: RunningUpstashBridge;
let server: Server;
let base = "";

beforeAll(async () => {
  redis = await startRedis();
  bridge = await startUpstashBridge({ redisPort: redis.port, token: "hang-token" });
  const env: Env = {
    UPSTASH_REDIS_REST_URL: bridge.url,
    UPSTASH_REDIS_REST_TOKEN: bridge.token,
    GREENLIGHT_ADMIN_TOKEN: ADMIN,
    GREENLIGHT_FLAGS_CACHE_TTL: `${TTL_MS / 1000}s`,
    GREENLIGHT_FLAGS_MAX_STALE: "1m",
  };
  server = createServer(nodeListener(upstashFlagCore(env), { bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await bridge?.close();
  await redis?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed<T>(work: () => T | Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

async function evaluate(key: string): Promise<{ status: number; value?: unknown; reason?: string }> {
  const response = await fetch(`${base}/ofrep/v1/evaluate/flags/${key}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ context: { targetingKey: "user-1" } }),
  });
  return { status: response.status, ...((await response.json()) as { value?: unknown; reason?: string }) };
}

interface Health {
  status: number;
  body: { status: string; version?: number; lastError?: string };
}

async function health(): Promise<Health> {
  const response = await fetch(`${base}/healthz`);
  return { status: response.status, body: (await response.json()) as Health["body"] };
}

async function put(key: string, flag: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/admin/flags/${key}`, {
    method: "PUT",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}`, ...headers },
    body: JSON.stringify({ key, ...flag }),
  });
}

/** Waits until every request the bridge holds has been closed by its client: none was left pending. */
async function allCancelled(): Promise<void> {
  const deadline = performance.now() + DEFAULT_UPSTASH_TIMEOUT_MS + CANCEL_SLACK_MS;
  while (bridge.held > 0 && performance.now() < deadline) await sleep(20);
  expect(bridge.held, "requests still held open at the bridge: a fetch was not cancelled").toBe(0);
}

/** A flag write made straight in Redis, as another instance's admin write would land (the script's format). */
async function writeBehindTheBridge(key: string, flag: object): Promise<number> {
  const version = (await redisCommand(redis.port, "INCR", "greenlight:flags:version")) as number;
  const stored = { flag: { key, ...flag }, revision: version, updatedAt: new Date().toISOString(), updatedBy: "other" };
  await redisCommand(redis.port, "HSET", "greenlight:flags", key, JSON.stringify(stored));
  return version;
}

describe("an Upstash that accepts requests and never answers", () => {
  it("leaves evaluations and /healthz answering within 1 s on the last good rules, and recovers after the TTL", async () => {
    expect((await put("banner", { state: "enabled" })).status).toBe(201);
    expect(await evaluate("banner")).toMatchObject({ status: 200, value: true });
    expect((await health()).body.status).toBe("ok");

    bridge.hang(true);
    const changedTo = await writeBehindTheBridge("banner", { state: "disabled" });
    const hungBefore = bridge.hung;
    try {
      // Three rounds, each of two TTLs: after one TTL an evaluation alone meets the refresh (after its limit check,
      // which lets it through after 300 ms), after the next /healthz alone. Each refresh is a new attempt that
      // times out, none waits on an earlier one.
      for (let round = 1; round <= 3; round++) {
        await sleep(TTL_MS);
        const evaluation = await timed(() => evaluate("banner"));
        expect(evaluation.value, `round ${round}`).toMatchObject({ status: 200, value: true });
        expect(evaluation.ms, `round ${round}: evaluation took ${Math.round(evaluation.ms)} ms`).toBeLessThan(
          ANSWER_WITHIN_MS,
        );
        await sleep(TTL_MS);
        const checked = await timed(health);
        expect(checked.value.status).toBe(200);
        expect(checked.value.body).toMatchObject({ status: "degraded", version: changedTo - 1 });
        expect(checked.value.body.lastError).toBe(
          `Upstash Redis did not answer GET version within ${DEFAULT_UPSTASH_TIMEOUT_MS} ms`,
        );
        expect(checked.ms, `round ${round}: /healthz took ${Math.round(checked.ms)} ms`).toBeLessThan(ANSWER_WITHIN_MS);
        // This round's refresh reached the bridge as a request of its own, and was cancelled, not left open.
        expect(bridge.hung).toBeGreaterThanOrEqual(hungBefore + 2 * round);
        await allCancelled();
      }
    } finally {
      bridge.hang(false);
    }

    const recovering = performance.now();
    let answer = await evaluate("banner");
    while (answer.value !== false && performance.now() - recovering < TTL_MS + 5_000) {
      await sleep(50);
      answer = await evaluate("banner");
    }
    const recoveredMs = performance.now() - recovering;
    expect(answer).toMatchObject({ status: 200, value: false });
    // The next refresh after the TTL got the change: not held up by anything left from the hang.
    expect(recoveredMs, `recovered after ${Math.round(recoveredMs)} ms`).toBeLessThan(TTL_MS + ANSWER_WITHIN_MS);
    expect((await health()).body).toMatchObject({ status: "ok", version: changedTo });
  }, 30_000);

  it("answers a write it got no answer for with 503 saying so; the If-Match retry tells whether it was applied", async () => {
    const created = await put("w", { state: "enabled" });
    expect(created.status).toBe(201);
    const revision = Number(JSON.parse(created.headers.get("etag") ?? "0"));

    // Redis runs the write, the answer never comes: the client cannot know it happened.
    bridge.hang("after-running");
    let write: { ms: number; value: Response };
    try {
      write = await timed(() => put("w", { state: "disabled" }, { "if-match": `"${revision}"` }));
    } finally {
      bridge.hang(false);
    }
    expect(write.value.status).toBe(503);
    expect(((await write.value.json()) as { error: string }).error).toBe(
      `the flag store is unavailable: Upstash Redis did not answer put of flag "w" within ${DEFAULT_UPSTASH_TIMEOUT_MS} ` +
        "ms: the write may or may not have been applied; read the flag (its revision) before retrying, or retry " +
        "with If-Match so that it applies only once",
    );
    expect(write.ms, `the write took ${Math.round(write.ms)} ms`).toBeLessThan(WRITE_WITHIN_MS);
    const retried = await put("w", { state: "disabled" }, { "if-match": `"${revision}"` });
    expect(retried.status).toBe(412);
    expect(await retried.json()).toMatchObject({ currentRevision: revision + 1 });

    // Not run at all this time: the same retry goes through.
    bridge.hang(true);
    let lost: Response;
    try {
      lost = await put("w", { state: "enabled" }, { "if-match": `"${revision + 1}"` });
    } finally {
      bridge.hang(false);
    }
    expect(lost.status).toBe(503);
    expect((await put("w", { state: "enabled" }, { "if-match": `"${revision + 1}"` })).status).toBe(200);
    await allCancelled();
  }, 30_000);
});

describe("the store's deadline", () => {
  const prefix = "deadline-test";
  const flag = { key: "a", state: "enabled" } as const;

  const everyCall = (store: FlagStore): Array<[string, () => Promise<unknown>]> => [
    ["version", () => store.version()],
    ["load", () => store.load()],
    ["get", () => store.get("a")],
    ["put", () => store.put(flag, { actor: "t" })],
    ["delete", () => store.delete("a", { actor: "t" })],
    ["audit", () => store.audit()],
  ];

  it("fails every call within its timeout, retries included, and cancels the request", async () => {
    // Set up with the default deadline: the first write also loads the script into Redis (EVALSHA, then EVAL).
    await createUpstashStore(createUpstashClient({ url: bridge.url, token: bridge.token }), { prefix }).put(flag, {
      actor: "t",
    });
    const store = createUpstashStore(createUpstashClient({ url: bridge.url, token: bridge.token, timeoutMs: 200 }), {
      prefix,
    });
    bridge.hang(true);
    try {
      for (const [name, call] of everyCall(store)) {
        const { ms, value } = await timed(() => call().catch((error: unknown) => error));
        expect(value, name).toBeInstanceOf(StoreUnavailableError);
        expect((value as Error).message, name).toMatch(/^Upstash Redis did not answer .+ within 200 ms/);
        expect(ms, `${name} took ${Math.round(ms)} ms`).toBeLessThan(200 + 300);
        await allCancelled();
      }
    } finally {
      bridge.hang(false);
    }
    expect(await store.version()).toBeGreaterThan(0);
  });

  it("still answers in time through a client without the signal, which cannot cancel its request", async () => {
    // A plain client (the library's defaults but retries): the store's own timer is all there is.
    const plain = new Redis({ url: bridge.url, token: bridge.token, retry: false, enableTelemetry: false });
    const store = createUpstashStore(plain, { prefix, timeoutMs: 200 });
    bridge.hang(true);
    try {
      const { ms, value } = await timed(() => store.version().catch((error: unknown) => error));
      expect((value as Error).message).toBe("Upstash Redis did not answer GET version within 200 ms");
      expect(ms).toBeLessThan(200 + 300);
      await sleep(200);
      // Nothing aborted it: that request stays open until the bridge closes. Why createUpstashClient sets a signal.
      expect(bridge.held).toBe(1);
    } finally {
      bridge.hang(false);
      await bridge.stop();
      await bridge.start();
      await allCancelled();
    }
  });
});

describe("timeout options", () => {
  it("refuses a timeout that is not a positive number of milliseconds, and takes fractions", async () => {
    expect(() => createUpstashClient({ url: bridge.url, token: bridge.token, timeoutMs: 0 })).toThrow(
      "timeoutMs must be a positive number of milliseconds, got 0",
    );
    const client = createUpstashClient({ url: bridge.url, token: bridge.token });
    expect(() => createUpstashStore(client, { timeoutMs: Number.NaN })).toThrow(
      "timeoutMs must be a positive number of milliseconds, got NaN",
    );
    const fractional = createUpstashStore(
      createUpstashClient({ url: bridge.url, token: bridge.token, timeoutMs: 150.5 }),
    );
    expect(await fractional.version()).toBeGreaterThanOrEqual(0);
  });
});

describe("GREENLIGHT_UPSTASH_TIMEOUT", () => {
  it("defaults to 500 ms and takes ms or s", () => {
    expect(upstashTimeoutMs({})).toBe(500);
    expect(upstashTimeoutMs({ GREENLIGHT_UPSTASH_TIMEOUT: " " })).toBe(500);
    expect(upstashTimeoutMs({ GREENLIGHT_UPSTASH_TIMEOUT: "250ms" })).toBe(250);
    expect(upstashTimeoutMs({ GREENLIGHT_UPSTASH_TIMEOUT: "2s" })).toBe(2000);
  });

  it.each(["500", "0ms", "5ms", "1.5s", "2m", "61s", "fast"])("refuses %j in one line naming it", (raw) => {
    expect(() => upstashTimeoutMs({ GREENLIGHT_UPSTASH_TIMEOUT: raw })).toThrow(
      new FlagConfigError(
        `GREENLIGHT_UPSTASH_TIMEOUT=${JSON.stringify(raw)} is invalid; accepted: how long one Upstash request may ` +
          'take, from 10ms to 60s, in ms or s, e.g. "500ms", "2s"',
      ),
    );
  });

  it("is the deadline of the store built from the environment; a bad value makes every request a 503 saying so", async () => {
    const env: Env = {
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: bridge.token,
      GREENLIGHT_UPSTASH_TIMEOUT: "150ms",
    };
    const core = upstashFlagCore(env);
    const request = { method: "GET", url: "http://localhost/healthz", headers: new Headers() };
    bridge.hang(true);
    try {
      const { ms, value } = await timed(() => core(request));
      expect(value.status).toBe(503); // a cold instance: no rules to fall back on
      expect(JSON.parse(value.body ?? "{}")).toMatchObject({
        status: "unavailable",
        lastError: "Upstash Redis did not answer GET version within 150 ms",
      });
      expect(ms).toBeLessThan(150 + 300);
      await allCancelled();
    } finally {
      bridge.hang(false);
    }

    const misconfigured = upstashFlagCore({ ...env, GREENLIGHT_UPSTASH_TIMEOUT: "half a second" });
    const refused = await misconfigured(request);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body ?? "{}")).toEqual({
      error:
        'flags are misconfigured: GREENLIGHT_UPSTASH_TIMEOUT="half a second" is invalid; accepted: how long one ' +
        'Upstash request may take, from 10ms to 60s, in ms or s, e.g. "500ms", "2s"',
    });
  });
});
