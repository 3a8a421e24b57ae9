// Racing creators through the admin API on both real stores: 201 versus 200 (or 412) is decided inside the store's
// atomic write, so exactly one request is told it created the flag, and the audit log agrees with the answers.
/*
 * Two servers share each store (two store instances on one Redis, or on one directory), as two `flags serve`
 * processes or Lambda containers would; requests alternate between them. Upstash runs against real redis-server
 * through the REST bridge.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import type { FlagStore } from "../../functions/flags/types.ts";
import { createUpstashClient, createUpstashStore } from "../../functions/flags/upstash-store.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

const ADMIN = "create-race-admin-token";
const BRIDGE_TOKEN = "create-race-bridge-token";
const WRITERS = 12;

let redis: RunningRedis;
let bridge: RunningUpstashBridge;
const dirs: string[] = [];
let prefixes = 0;

beforeAll(async () => {
  redis = await startRedis();
  bridge = await startUpstashBridge({ redisPort: redis.port, token: BRIDGE_TOKEN });
});

afterAll(async () => {
  await bridge?.close();
  await redis?.close();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Two store instances on one backend. */
type SharedStores = () => Promise<[FlagStore, FlagStore]>;

const upstashStores: SharedStores = async () => {
  const prefix = `create-race:${++prefixes}`;
  const make = () =>
    createUpstashStore(createUpstashClient({ url: bridge.url, token: BRIDGE_TOKEN, retries: 0 }), { prefix });
  return [make(), make()];
};

const fileStores: SharedStores = async () => {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-create-race-"));
  dirs.push(dir);
  return [createFileStore({ dir }), createFileStore({ dir })];
};

const appOf = (store: FlagStore) =>
  createFlagsApp({
    store,
    cache: createRuleCache(store, { ttlMs: 60_000 }),
    adminToken: ADMIN,
    onError: () => undefined,
  });

/** WRITERS concurrent PUTs of one new flag, alternating between the two servers. */
async function race(stores: [FlagStore, FlagStore], headers: Record<string, string>) {
  const apps = [appOf(stores[0]), appOf(stores[1])] as const;
  const responses = await Promise.all(
    Array.from({ length: WRITERS }, (_, i) =>
      request(apps[i % 2 === 0 ? 0 : 1])
        .put("/admin/flags/racing")
        .set({ Authorization: `Bearer ${ADMIN}`, "X-Greenlight-Actor": `writer-${i}`, ...headers })
        .send({ state: "enabled", description: `writer-${i}` }),
    ),
  );
  return responses.map((response) => ({ status: response.status, body: response.body, headers: response.headers }));
}

for (const [name, makeStores] of [
  ["Upstash store", upstashStores],
  ["file store", fileStores],
] as const) {
  describe(`racing creators on the ${name}`, () => {
    it("without preconditions: one 201 (with Location), every other 200; one audit entry has no `before`", async () => {
      const stores = await makeStores();
      const answers = await race(stores, {});
      const created = answers.filter((answer) => answer.status === 201);
      expect(created).toHaveLength(1);
      expect(answers.filter((answer) => answer.status === 200)).toHaveLength(WRITERS - 1);
      expect(created[0]?.headers.location).toBe("/admin/flags/racing");
      expect(answers.filter((answer) => answer.headers.location !== undefined)).toHaveLength(1);

      // The creator's write is the first of the key's writes, and the only one the audit log has without `before`.
      const versions = answers.map((answer) => answer.body.version as number).sort((a, b) => a - b);
      expect(created[0]?.body.version).toBe(versions[0]);
      const entries = (await stores[0].audit({ limit: 100 })).filter((entry) => entry.key === "racing");
      expect(entries).toHaveLength(WRITERS);
      const firsts = entries.filter((entry) => entry.before === undefined);
      expect(firsts.map((entry) => [entry.version, entry.actor])).toEqual([
        [created[0]?.body.version, created[0]?.body.flag.updatedBy],
      ]);
    });

    it("with If-None-Match: *: one 201, every other 412 naming the winner's revision; the loser's writes left no trace", async () => {
      const stores = await makeStores();
      const answers = await race(stores, { "If-None-Match": "*" });
      const created = answers.filter((answer) => answer.status === 201);
      const refused = answers.filter((answer) => answer.status === 412);
      expect(created).toHaveLength(1);
      expect(refused).toHaveLength(WRITERS - 1);
      const revision = created[0]?.body.flag.revision as number;
      for (const answer of refused) {
        expect(answer.body.currentRevision).toBe(revision);
        expect(answer.body.error).toMatch(/If-None-Match: \* writes only a flag that does not exist$/);
      }
      expect(await stores[1].version()).toBe(revision);
      expect(await stores[1].get("racing")).toEqual(created[0]?.body.flag);
      const entries = await stores[1].audit({ limit: 100 });
      expect(entries.map((entry) => [entry.version, entry.actor, entry.key])).toEqual([
        [revision, created[0]?.body.flag.updatedBy, "racing"],
      ]);
    });
  });
}
