// The admin API's rollout routes: GET /admin/flags/{key}/rollout and POST .../rollout/pause|resume|abort, with the
// admin scope, If-Match, the token's actor in the audit entry, and a write that loses to the stepper read again.
import request from "supertest";
import { describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import { decideRollout } from "../../functions/flags/rollout/plan.ts";
import type { Flag, FlagStore } from "../../functions/flags/types.ts";
import { createMemoryStore } from "./memory-store.ts";

const ADMIN = "admin-token-0123456789abcdef0123456789";
const READER = "read-token-0123456789abcdef0123456789ab";
const T0 = Date.parse("2026-12-07T12:00:00Z");

const planned: Flag = {
  key: "new-checkout",
  state: "partial",
  percentage: 0,
  rollout: { steps: [10, 50, 100], interval: "1m", floor: 1 },
};

/** A store whose flag already started its rollout (as the stepper's first pass leaves it). */
async function setup(options: { beforePut?: (store: FlagStore) => Promise<void> } = {}) {
  const base = createMemoryStore({ seed: [], now: () => T0 });
  await base.put(decideRollout(planned, new Date(T0)).next!, { actor: "greenlight-stepper" });
  await base.put({ key: "plain", state: "enabled" }, { actor: "seed" });
  let hook = options.beforePut;
  const store: FlagStore = {
    ...base,
    kind: base.kind,
    version: () => base.version(),
    load: () => base.load(),
    get: (key) => base.get(key),
    delete: (key, write) => base.delete(key, write),
    audit: (query) => base.audit(query),
    async put(flag, write) {
      const once = hook;
      hook = undefined;
      await once?.(base);
      return base.put(flag, write);
    },
  };
  const cache = createRuleCache(store, { ttlMs: 3_600_000, now: () => T0 });
  const adminTokens = [
    { label: "ops", token: ADMIN, scope: "admin" as const },
    { label: "viewer", token: READER, scope: "read" as const },
  ];
  const app = createFlagsApp({ store, cache, adminTokens, now: () => T0 + 30_000, onError: () => undefined });
  return { app, store: base };
}

describe("GET /admin/flags/{key}/rollout", () => {
  it("shows the plan, the status and a summary, with the revision as ETag; a read token may", async () => {
    const { app } = await setup();
    const response = await request(app)
      .get("/admin/flags/new-checkout/rollout")
      .set("Authorization", `Bearer ${READER}`);
    expect(response.status).toBe(200);
    expect(response.headers.etag).toBe('"1"');
    expect(response.body).toMatchObject({
      key: "new-checkout",
      revision: 1,
      plan: planned.rollout,
      status: { phase: "progressing", step: 0, share: 10 },
      summary: expect.stringMatching(/^rollout of on progressing at 10% \(step 1 of 3: 10, 50, 100\)/),
    });
  });

  it("answers 404 for a flag without a plan, or no flag", async () => {
    const { app } = await setup();
    const plain = await request(app).get("/admin/flags/plain/rollout").set("Authorization", `Bearer ${ADMIN}`);
    expect(plain.status).toBe(404);
    expect(plain.body.error).toMatch(/has no rollout plan/);
    const none = await request(app).get("/admin/flags/nope/rollout").set("Authorization", `Bearer ${ADMIN}`);
    expect(none.status).toBe(404);
  });
});

describe("POST /admin/flags/{key}/rollout/pause|resume|abort", () => {
  it("pauses with the token's actor and the reason, and refuses a read token", async () => {
    const { app, store } = await setup();
    const refused = await request(app)
      .post("/admin/flags/new-checkout/rollout/pause")
      .set("Authorization", `Bearer ${READER}`);
    expect(refused.status).toBe(403);
    const response = await request(app)
      .post("/admin/flags/new-checkout/rollout/pause")
      .set("Authorization", `Bearer ${ADMIN}`)
      .send({ reason: "support tickets up" });
    expect(response.status).toBe(200);
    expect(response.body.summary).toBe("paused at 10%: support tickets up");
    expect(response.body.flag.flag.rolloutStatus).toMatchObject({ phase: "paused" });
    const [entry] = await store.audit({ limit: 1 });
    expect(entry).toMatchObject({ actor: "ops", token: "ops", key: "new-checkout" });
    expect(entry?.after?.rolloutStatus?.reason).toBe("paused at 10%: support tickets up");
    const again = await request(app)
      .post("/admin/flags/new-checkout/rollout/pause")
      .set("Authorization", `Bearer ${ADMIN}`);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/cannot pause the rollout of "new-checkout": it is paused/);
  });

  it("aborts to the floor and resumes from the first step", async () => {
    const { app, store } = await setup();
    const aborted = await request(app)
      .post("/admin/flags/new-checkout/rollout/abort")
      .set("Authorization", `Bearer ${ADMIN}`);
    expect(aborted.status).toBe(200);
    expect((await store.get("new-checkout"))?.flag.percentage).toBe(1);
    const resumed = await request(app)
      .post("/admin/flags/new-checkout/rollout/resume")
      .set("Authorization", `Bearer ${ADMIN}`);
    expect(resumed.status).toBe(200);
    expect((await store.get("new-checkout"))?.flag).toMatchObject({
      percentage: 10,
      rolloutStatus: { phase: "progressing", step: 0 },
    });
  });

  it("honours If-Match: 412 with the current revision when the flag moved on", async () => {
    const { app } = await setup();
    const stale = await request(app)
      .post("/admin/flags/new-checkout/rollout/pause")
      .set("Authorization", `Bearer ${ADMIN}`)
      .set("If-Match", '"7"');
    expect(stale.status).toBe(412);
    expect(stale.body.currentRevision).toBe(1);
    const current = await request(app)
      .post("/admin/flags/new-checkout/rollout/pause")
      .set("Authorization", `Bearer ${ADMIN}`)
      .set("If-Match", '"1"');
    expect(current.status).toBe(200);
    expect(current.headers.etag).toBe('"3"');
  });

  it("without If-Match, reads again when the stepper wrote between its read and its write", async () => {
    const { app, store } = await setup({
      beforePut: async (base) => {
        const stored = await base.get("new-checkout");
        const stepped = decideRollout(stored!.flag, new Date(T0 + 60_000), {
          window: { error: "no data" },
          custom: {},
        }).next!;
        await base.put(stepped, { actor: "greenlight-stepper", ifMatch: stored!.revision });
      },
    });
    const response = await request(app)
      .post("/admin/flags/new-checkout/rollout/pause")
      .set("Authorization", `Bearer ${ADMIN}`);
    expect(response.status).toBe(200);
    const entries = await store.audit({ limit: 2 });
    expect(entries.map((entry) => entry.actor)).toEqual(["ops", "greenlight-stepper"]);
    expect(entries[0]?.before?.rolloutStatus?.checkedAt).toBeDefined();
    expect(entries[0]?.after?.rolloutStatus?.phase).toBe("paused");
  });

  it("says what a body may hold, and which controls exist", async () => {
    const { app } = await setup();
    const bad = await request(app)
      .post("/admin/flags/new-checkout/rollout/pause")
      .set("Authorization", `Bearer ${ADMIN}`)
      .send({ why: "x" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/accepted: no body, or \{"reason"/);
    const unknown = await request(app)
      .post("/admin/flags/new-checkout/rollout/promote")
      .set("Authorization", `Bearer ${ADMIN}`);
    expect(unknown.status).toBe(404);
    const noPlan = await request(app).post("/admin/flags/plain/rollout/pause").set("Authorization", `Bearer ${ADMIN}`);
    expect(noPlan.status).toBe(404);
    expect(noPlan.body.error).toMatch(/has no rollout plan/);
  });
});
