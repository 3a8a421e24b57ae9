// The flag server end to end on Upstash: HTTP in front, the real @upstash/redis client, the REST bridge, real Redis.
/*
 * What the issue asks of the whole path rather than of one part: 50 admin writers racing with If-Match lose no
 * update and leave one audit entry each; Upstash going away mid-run leaves evaluations on the last good rules;
 * unauthorized and malformed writes change nothing.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import type { AuditEntry, Flag, FlagStore, StoredFlag } from "../../functions/flags/types.ts";
import { createUpstashClient, createUpstashStore } from "../../functions/flags/upstash-store.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

const ADMIN = "end-to-end-admin-token";
const WRITERS = 50;
/** Short enough that the outage test sees the cache go back to Upstash within a few polls. */
const TTL_MS = 100;

let redis: RunningRedis;
let bridge: RunningUpstashBridge;
let store: FlagStore;
let server: Server;
let base = "";

beforeAll(async () => {
  redis = await startRedis();
  bridge = await startUpstashBridge({ redisPort: redis.port, token: "bridge-token" });
  store = createUpstashStore(
    createUpstashClient({ url: bridge.url, token: bridge.token, retries: 0, timeoutMs: 10_000 }),
    {
      prefix: "e2e:flags",
    },
  );
  const cache = createRuleCache(store, { ttlMs: TTL_MS, maxStaleMs: 600_000 });
  server = createFlagsApp({ store, cache, adminToken: ADMIN }).listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await bridge?.close();
  await redis?.close();
});

const admin = (actor = "tests") => ({ authorization: `Bearer ${ADMIN}`, "x-greenlight-actor": actor });

async function putFlag(flag: Flag, headers: Record<string, string> = admin()): Promise<Response> {
  return fetch(`${base}/admin/flags/${flag.key}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(flag),
  });
}

async function evaluate(key: string, context: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}/ofrep/v1/evaluate/flags/${key}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ context }),
  });
  return { status: response.status, ...((await response.json()) as Record<string, unknown>) };
}

async function health(): Promise<{ status: number; body: { status: string; lastError?: string } }> {
  const response = await fetch(`${base}/healthz`);
  return { status: response.status, body: (await response.json()) as { status: string; lastError?: string } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const value = await read();
    if (done(value)) return value;
    await sleep(TTL_MS / 2);
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe("50 admin writers with If-Match", () => {
  it("lose no update, and the audit log holds every write", async () => {
    const created = await putFlag({ key: "crowded", state: "partial", segments: ["seed"] });
    expect(created.status).toBe(201);
    let conflicts = 0;

    /** Read, add this writer's segment, write back with If-Match; on 412 start over, as a client should. */
    const writer = async (id: number) => {
      for (let attempt = 0; attempt < 500; attempt++) {
        const read = await fetch(`${base}/admin/flags/crowded`, { headers: admin() });
        const stored = (await read.json()) as StoredFlag;
        const etag = read.headers.get("etag");
        expect(etag).toBe(`"${stored.revision}"`);
        const segments = [...(stored.flag.segments ?? []), `writer-${id}`];
        const write = await putFlag({ ...stored.flag, segments }, { ...admin(`writer-${id}`), "if-match": etag ?? "" });
        if (write.status === 200) return;
        expect(write.status).toBe(412);
        conflicts++;
      }
      throw new Error(`writer ${id} never got its write in`);
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, id) => writer(id)));

    const final = (await (await fetch(`${base}/admin/flags/crowded`, { headers: admin() })).json()) as StoredFlag;
    const expected = ["seed", ...Array.from({ length: WRITERS }, (_, id) => `writer-${id}`)];
    expect([...(final.flag.segments ?? [])].sort()).toEqual(expected.sort());
    // 50 writers on one flag cannot all read the same revision and win: some must have been refused.
    expect(conflicts).toBeGreaterThan(0);

    const audit = (await (await fetch(`${base}/admin/audit?limit=1000`, { headers: admin() })).json()) as {
      entries: AuditEntry[];
    };
    const writes = audit.entries.filter((entry) => entry.key === "crowded");
    expect(writes).toHaveLength(WRITERS + 1);
    expect(new Set(writes.map((entry) => entry.actor))).toEqual(
      new Set(["tests", ...Array.from({ length: WRITERS }, (_, id) => `writer-${id}`)]),
    );
    // Each write produced the next version, and each one's "before" is the one before it: a chain with no gap.
    const chronological = [...writes].reverse();
    for (let i = 1; i < chronological.length; i++) {
      expect(chronological[i]?.before).toEqual(chronological[i - 1]?.after);
      expect(chronological[i]?.version).toBeGreaterThan(chronological[i - 1]?.version ?? Number.POSITIVE_INFINITY);
    }
    expect(chronological.at(-1)?.version).toBe(final.revision);
  }, 180_000);
});

describe("writes that must change nothing", () => {
  it("refuses writes without the admin token or with a wrong one", async () => {
    const before = await store.version();
    const flag: Flag = { key: "sneaky", state: "enabled" };
    expect((await putFlag(flag, {})).status).toBe(401);
    expect((await putFlag(flag, { authorization: "Bearer nope" })).status).toBe(401);
    const deleted = await fetch(`${base}/admin/flags/crowded`, { method: "DELETE" });
    expect(deleted.status).toBe(401);
    expect(await store.version()).toBe(before);
    expect(await store.get("sneaky")).toBeUndefined();
  });

  it("answers malformed JSON and invalid rules with 400 and the field paths", async () => {
    const before = await store.version();
    const malformed = await fetch(`${base}/admin/flags/broken`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...admin() },
      body: '{"state": "enabled",',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: string }).error).toMatch(/JSON/);

    const invalid = await putFlag({
      key: "broken",
      state: "partial",
      percentage: 120,
      conditions: [{ attribute: "plan", op: "greater" as "gt", value: 3 }],
    });
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { problems: { path: string; message: string }[] };
    expect(body.problems.map((problem) => problem.path).sort()).toEqual(["/conditions/0/op", "/percentage"]);
    expect(await store.version()).toBe(before);
  });
});

describe("Upstash going away", () => {
  it("keeps evaluations on the last good rules, says so in /healthz, and recovers", async () => {
    expect((await putFlag({ key: "beta-banner", state: "partial", segments: ["beta"] })).status).toBe(201);
    await until(
      () => evaluate("beta-banner", { segment: "beta" }),
      (answer) => answer.value === true,
      "the new flag to be served",
    );
    const callsBefore = bridge.requests;

    await bridge.stop();
    try {
      // Past several TTLs: the cache has tried Upstash, failed, and kept the rules it had.
      const degraded = await until(health, (answer) => answer.body.status === "degraded", "/healthz to say degraded");
      expect(degraded.status).toBe(200);
      expect(degraded.body.lastError).toBeTruthy();
      for (const segment of ["beta", "qa"]) {
        const answer = await evaluate("beta-banner", { segment });
        expect(answer).toMatchObject({ status: 200, key: "beta-banner", value: segment === "beta" });
      }
      // A write cannot reach the store: the client is told, nothing is pretended.
      const write = await putFlag({ key: "while-down", state: "enabled" });
      expect(write.status).toBe(503);
    } finally {
      await bridge.start();
    }

    const recovered = await until(health, (answer) => answer.body.status === "ok", "/healthz to recover");
    expect(recovered.status).toBe(200);
    expect(bridge.requests).toBeGreaterThan(callsBefore);
    expect(await store.get("while-down")).toBeUndefined();
    expect(await evaluate("beta-banner", { segment: "beta" })).toMatchObject({ status: 200, value: true });
  }, 60_000);
});
