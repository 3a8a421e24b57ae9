// The admin API through the express app: auth, CRUD with If-Match, validation errors, audit, stale flags, failures.
import request from "supertest";
import { describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import type { FlagHttpOptions } from "../../functions/flags/http/handler.ts";
import type { Flag, StoredFlag } from "../../functions/flags/types.ts";
import { createMemoryStore, TEST_FLAGS } from "./memory-store.ts";

const TOKEN = "s3cret-admin-token";
const AUTH = `Bearer ${TOKEN}`;
const T0 = Date.parse("2026-06-01T00:00:00Z");

function setup(options: Partial<FlagHttpOptions> = {}) {
  let now = T0;
  const clock = {
    now: () => now,
    set: (ms: number) => {
      now = ms;
    },
  };
  const store = createMemoryStore({ seed: TEST_FLAGS, now: clock.now });
  // A long TTL: evaluations see admin writes only because the write invalidates the cache.
  const cache = createRuleCache(store, { ttlMs: 3_600_000, now: clock.now });
  const app = createFlagsApp({ store, cache, adminToken: TOKEN, now: clock.now, onError: () => undefined, ...options });
  return { store, cache, app, clock };
}

type App = ReturnType<typeof setup>["app"];
const put = (app: App, key: string, flag: unknown) =>
  request(app)
    .put(`/admin/flags/${key}`)
    .set("Authorization", AUTH)
    .send(flag as object);

describe("admin auth", () => {
  it("is disabled (403 naming GREENLIGHT_ADMIN_TOKEN) without an admin token", async () => {
    const { app } = setup({ adminToken: undefined });
    for (const call of [
      request(app).get("/admin/flags"),
      request(app).get("/admin/flags").set("Authorization", AUTH),
      request(app).put("/admin/flags/x").send({ state: "enabled" }),
      request(app).get("/admin/audit"),
    ]) {
      const response = await call;
      expect(response.status).toBe(403);
      expect(response.body.error).toMatch(/GREENLIGHT_ADMIN_TOKEN/);
    }
  });

  it("refuses a missing, wrong or non-bearer token with 401 and WWW-Authenticate: Bearer", async () => {
    const { app, store } = setup();
    const attempts = [
      request(app).get("/admin/flags"),
      request(app).get("/admin/flags").set("Authorization", "Bearer wrong"),
      request(app).get("/admin/flags").set("Authorization", `Bearer ${TOKEN}x`),
      request(app).get("/admin/flags").set("Authorization", `Basic ${TOKEN}`),
      request(app).get("/admin/flags").set("Authorization", TOKEN),
      request(app).get("/admin/flags").set("X-API-Key", TOKEN),
    ];
    for (const attempt of attempts) {
      const response = await attempt;
      expect(response.status).toBe(401);
      expect(response.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(response.body.error).toMatch(/token/);
    }
    store.resetCalls();
    const write = await request(app).put("/admin/flags/banner").send("{not json");
    expect(write.status).toBe(401); // refused before the body is read or the store is touched
    expect(store.totalCalls).toBe(0);
  });

  it("lets the right token in", async () => {
    const { app } = setup();
    expect((await request(app).get("/admin/flags").set("Authorization", AUTH)).status).toBe(200);
    expect((await request(app).get("/admin/flags").set("authorization", `bearer ${TOKEN}`)).status).toBe(200);
  });
});

describe("admin reads", () => {
  it("lists every stored flag by key with the rule-set version", async () => {
    const { app } = setup();
    const response = await request(app).get("/admin/flags").set("Authorization", AUTH);
    expect(response.status).toBe(200);
    expect(response.headers["cache-control"]).toBe("no-store");
    expect(response.body.version).toBe(TEST_FLAGS.length);
    const flags = response.body.flags as StoredFlag[];
    expect(flags.map((stored) => stored.flag.key)).toEqual(TEST_FLAGS.map((flag) => flag.key).sort());
    const banner = flags.find((stored) => stored.flag.key === "banner");
    expect(banner).toEqual({
      flag: TEST_FLAGS[0],
      revision: 1,
      updatedAt: new Date(T0).toISOString(),
      updatedBy: "seed",
    });
  });

  it("reads one flag with its revision as ETag, 404 for an unknown one", async () => {
    const { app } = setup();
    const response = await request(app).get("/admin/flags/theme").set("Authorization", AUTH);
    expect(response.status).toBe(200);
    expect(response.headers.etag).toBe('"3"');
    expect(response.body).toMatchObject({ flag: TEST_FLAGS[2], revision: 3 });
    const missing = await request(app).get("/admin/flags/nope").set("Authorization", AUTH);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'no flag "nope"' });
  });
});

describe("admin writes", () => {
  const fresh: Flag = { key: "new-checkout", state: "partial", percentage: 10, owner: "payments" };

  it("creates with 201 and replaces with 200, each returning the version, the stored flag and its ETag", async () => {
    const { app } = setup();
    const created = await put(app, "new-checkout", fresh).set("X-Greenlight-Actor", "alice@example.com");
    expect(created.status).toBe(201);
    expect(created.headers.etag).toBe('"9"');
    expect(created.headers.location).toBe("/admin/flags/new-checkout");
    expect(created.body).toEqual({
      version: 9,
      flag: { flag: fresh, revision: 9, updatedAt: new Date(T0).toISOString(), updatedBy: "alice@example.com" },
    });
    const replaced = await put(app, "new-checkout", { ...fresh, percentage: 20 });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ version: 10, flag: { revision: 10, updatedBy: "admin" } });
    expect(replaced.body.flag.flag.percentage).toBe(20);
    const read = await request(app).get("/admin/flags/new-checkout").set("Authorization", AUTH);
    expect(read.headers.etag).toBe('"10"');
  });

  it("takes the key from the URL when the body has none", async () => {
    const { app } = setup();
    const response = await put(app, "keyless", { state: "enabled" });
    expect(response.status).toBe(201);
    expect(response.body.flag.flag.key).toBe("keyless");
  });

  it("makes a write visible to evaluation at once (the cache is invalidated)", async () => {
    const { app } = setup();
    const before = await request(app).post("/ofrep/v1/evaluate/flags/banner").send({});
    expect(before.body.value).toBe(true);
    await put(app, "banner", { key: "banner", state: "disabled" });
    const after = await request(app).post("/ofrep/v1/evaluate/flags/banner").send({});
    expect(after.body).toEqual({ key: "banner", value: false, reason: "DISABLED", variant: "off" });
    await request(app).delete("/admin/flags/banner").set("Authorization", AUTH);
    expect((await request(app).post("/ofrep/v1/evaluate/flags/banner").send({})).status).toBe(404);
  });

  it("honours If-Match: the current revision (quoted or bare) writes, another one is 412 with currentRevision", async () => {
    const { app } = setup();
    const quoted = await put(app, "theme", { key: "theme", state: "disabled" }).set("If-Match", '"3"');
    expect(quoted.status).toBe(200);
    expect(quoted.body.flag.revision).toBe(9);
    const bare = await put(app, "theme", { key: "theme", state: "enabled" }).set("If-Match", "9");
    expect(bare.status).toBe(200);
    const stale = await put(app, "theme", { key: "theme", state: "disabled" }).set("If-Match", '"3"');
    expect(stale.status).toBe(412);
    expect(stale.body.currentRevision).toBe(10);
    expect(stale.body.error).toBe(
      'flag "theme" is at revision 10 (ETag "10"), which If-Match: "3" does not match: re-read it and retry with If-Match: "10"',
    );
  });

  it('creates only with If-Match: "0" (412 when the flag exists) and replaces only with If-Match: *', async () => {
    const { app } = setup();
    const exists = await put(app, "banner", { key: "banner", state: "enabled" }).set("If-Match", '"0"');
    expect(exists.status).toBe(412);
    expect(exists.body.currentRevision).toBe(1);
    const created = await put(app, "brand-new", { state: "enabled" }).set("If-Match", '"0"');
    expect(created.status).toBe(201);
    const anyMissing = await put(app, "absent", { state: "enabled" }).set("If-Match", "*");
    expect(anyMissing.status).toBe(412);
    expect(anyMissing.body.currentRevision).toBe(0);
    const anyPresent = await put(app, "banner", { key: "banner", state: "disabled" }).set("If-Match", "*");
    expect(anyPresent.status).toBe(200);
  });

  it("answers 412, not 400, for an If-Match that is not a list of entity-tags, naming the header and what it accepts", async () => {
    const { app, store } = setup();
    store.resetCalls();
    for (const value of ["abc", '"1', "1.5", "W/1", '"1" "2"']) {
      const response = await put(app, "banner", { key: "banner", state: "disabled" }).set("If-Match", value);
      expect(response.status).toBe(412);
      expect(response.body.currentRevision).toBe(1);
      expect(response.body.error).toMatch(
        /^header If-Match is not \* or a list of entity-tags \(at character \d+: .+\), so it matches no flag; accepted: \*, the flag's ETag such as "7", a comma-separated list of them, "0" for "only if the flag does not exist", or a bare revision such as 7$/,
      );
    }
    expect((await store.get("banner"))?.flag.state).toBe("enabled");
    expect(await store.version()).toBe(TEST_FLAGS.length);
  });

  it("refuses an invalid flag with 400 and every problem's field path", async () => {
    const { app, store } = setup();
    store.resetCalls();
    const response = await put(app, "broken", { key: "broken", state: "on", percentage: 150 });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(/^flag "broken" is invalid: /);
    const paths = (response.body.problems as Array<{ path: string; message: string }>).map((problem) => problem.path);
    expect(paths).toEqual(expect.arrayContaining(["/state", "/percentage"]));
    for (const problem of response.body.problems) expect(problem.message.length).toBeGreaterThan(0);
    expect(store.calls.put).toBe(0);
    const mismatch = await put(app, "one", { key: "two", state: "enabled" });
    expect(mismatch.status).toBe(400);
    expect(JSON.stringify(mismatch.body.problems)).toMatch(/key/);
  });

  it("refuses a body that is not JSON, an empty body and a body over the limit", async () => {
    const { app } = setup({ bodyLimitBytes: 2048 });
    const notJson = await request(app)
      .put("/admin/flags/banner")
      .set("Authorization", AUTH)
      .set("Content-Type", "application/json")
      .send("{state: enabled}");
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatch(/^body is not JSON: .+/);
    const empty = await request(app).put("/admin/flags/banner").set("Authorization", AUTH);
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatch(/body is empty/);
    const huge = await put(app, "banner", { key: "banner", state: "enabled", description: "x".repeat(4096) });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe("body is larger than the 2048 byte limit");
  });

  it("refuses an actor header that is not 1..100 printable characters", async () => {
    const { app } = setup();
    const response = await put(app, "banner", { key: "banner", state: "enabled" }).set(
      "X-Greenlight-Actor",
      "a".repeat(101),
    );
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(/X-Greenlight-Actor/);
  });

  it("deletes with 200 {version}, then 404; a stale If-Match is 412", async () => {
    const { app } = setup();
    const stale = await request(app).delete("/admin/flags/banner").set("Authorization", AUTH).set("If-Match", '"2"');
    expect(stale.status).toBe(412);
    expect(stale.body.currentRevision).toBe(1);
    const deleted = await request(app).delete("/admin/flags/banner").set("Authorization", AUTH).set("If-Match", '"1"');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ version: 9 });
    expect((await request(app).get("/admin/flags/banner").set("Authorization", AUTH)).status).toBe(404);
    const again = await request(app).delete("/admin/flags/banner").set("Authorization", AUTH);
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('no flag "banner"');
  });
});

describe("audit and stale flags", () => {
  it("lists audit entries newest first with the actor, pages with limit and before", async () => {
    const { app } = setup();
    await put(app, "banner", { key: "banner", state: "disabled" }).set("X-Greenlight-Actor", "alice");
    await request(app).delete("/admin/flags/theme").set("Authorization", AUTH).set("X-Greenlight-Actor", "bob");
    const all = await request(app).get("/admin/audit").set("Authorization", AUTH);
    expect(all.status).toBe(200);
    const entries = all.body.entries as Array<{ id: string; actor: string; action: string; key: string }>;
    expect(entries).toHaveLength(TEST_FLAGS.length + 2);
    expect(entries[0]).toMatchObject({ actor: "bob", action: "delete", key: "theme", version: 10 });
    expect(entries[1]).toMatchObject({ actor: "alice", action: "put", key: "banner", version: 9 });
    expect(entries[1]).toMatchObject({ before: TEST_FLAGS[0], after: { key: "banner", state: "disabled" } });

    const first = await request(app).get("/admin/audit?limit=1").set("Authorization", AUTH);
    expect(first.body.entries).toHaveLength(1);
    const next = await request(app)
      .get(`/admin/audit?limit=2&before=${encodeURIComponent(first.body.entries[0].id)}`)
      .set("Authorization", AUTH);
    expect(next.body.entries.map((entry: { key: string }) => entry.key)).toEqual(["banner", "launch"]);
  });

  it("refuses a limit outside 1..1000 with 400 naming limit", async () => {
    const { app } = setup();
    for (const limit of ["0", "1001", "ten", "-5", "2.5"]) {
      const response = await request(app).get(`/admin/audit?limit=${limit}`).set("Authorization", AUTH);
      expect(response.status).toBe(400);
      expect(response.body.error).toMatch(
        /^query parameter limit=".*" is invalid; accepted: an integer from 1 to 1000$/,
      );
    }
    expect((await request(app).get("/admin/audit?limit=1000").set("Authorization", AUTH)).status).toBe(200);
  });

  it("lists stale flags: expired ones, and unchanged ones by days", async () => {
    const { app, clock } = setup();
    clock.set(T0 + 10 * 86_400_000);
    const expired = await request(app).get("/admin/stale").set("Authorization", AUTH);
    expect(expired.status).toBe(200);
    expect(expired.body).toEqual({
      flags: [
        {
          key: "checkout",
          owner: "payments",
          reasons: ["expired"],
          expires: "2026-01-31",
          updatedAt: new Date(T0).toISOString(),
        },
      ],
    });
    const unchanged = await request(app).get("/admin/stale?days=7").set("Authorization", AUTH);
    expect(unchanged.body.flags).toHaveLength(TEST_FLAGS.length);
    expect(unchanged.body.flags[0]).toMatchObject({ key: "banner", reasons: ["unchanged"] });
    const bad = await request(app).get("/admin/stale?days=0").set("Authorization", AUTH);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/days/);
  });
});

describe("admin failures and routing", () => {
  it("answers 503 naming the cause when the store is down", async () => {
    const { app, store } = setup();
    store.down = true;
    for (const call of [
      request(app).get("/admin/flags").set("Authorization", AUTH),
      request(app).get("/admin/flags/banner").set("Authorization", AUTH),
      put(app, "banner", { key: "banner", state: "enabled" }),
      request(app).delete("/admin/flags/banner").set("Authorization", AUTH),
      request(app).get("/admin/audit").set("Authorization", AUTH),
      request(app).get("/admin/stale").set("Authorization", AUTH),
    ]) {
      const response = await call;
      expect(response.status).toBe(503);
      expect(response.body.error).toBe("the flag store is unavailable: memory store is down (test switch)");
    }
  });

  it("answers 500 without detail for an unexpected store error", async () => {
    const { app, store } = setup();
    store.failNext(1, new TypeError("Cannot read properties of undefined (reading 'hgetall')"));
    const response = await request(app).get("/admin/flags").set("Authorization", AUTH);
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: "internal error" });
  });

  it("answers 405 with Allow, and 404 for unknown admin paths", async () => {
    const { app } = setup();
    const list = await request(app).post("/admin/flags").set("Authorization", AUTH);
    expect(list.status).toBe(405);
    expect(list.headers.allow).toBe("GET, HEAD, OPTIONS");
    const one = await request(app).patch("/admin/flags/banner").set("Authorization", AUTH);
    expect(one.status).toBe(405);
    expect(one.headers.allow).toBe("GET, PUT, DELETE, HEAD, OPTIONS");
    const unknown = await request(app).get("/admin/things").set("Authorization", AUTH);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/routes: /);
  });

  it("decodes percent-encoded keys and forgives one trailing slash", async () => {
    const { app } = setup();
    const created = await put(app, "v2.checkout_flow", { state: "enabled" });
    expect(created.status).toBe(201);
    const read = await request(app).get("/admin/flags/v2%2Echeckout%5Fflow/").set("Authorization", AUTH);
    expect(read.status).toBe(200);
    expect(read.body.flag.key).toBe("v2.checkout_flow");
  });
});
