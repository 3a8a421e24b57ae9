// OFREP answers of a flag under a guarded rollout carry its phase and step in the flag metadata.
import request from "supertest";
import { describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import { decideRollout } from "../../functions/flags/rollout/plan.ts";
import type { Flag } from "../../functions/flags/types.ts";
import { createMemoryStore } from "./memory-store.ts";

const planned: Flag = {
  key: "new-checkout",
  state: "partial",
  percentage: 0,
  rollout: { steps: [10, 50, 100], interval: "1m" },
};

async function app() {
  const store = createMemoryStore({ seed: [{ key: "plain", state: "enabled" }] });
  await store.put(decideRollout(planned, new Date()).next!, { actor: "greenlight-stepper" });
  return createFlagsApp({ store, cache: createRuleCache(store) });
}

describe("OFREP flag metadata", () => {
  it("says the rollout's phase, step and share for a flag under a rollout, nothing for others", async () => {
    const server = await app();
    const one = await request(server)
      .post("/ofrep/v1/evaluate/flags/new-checkout")
      .send({ context: { targetingKey: "u1" } });
    expect(one.status).toBe(200);
    expect(one.body.metadata).toEqual({
      rolloutPhase: "progressing",
      rolloutStep: 1,
      rolloutSteps: 3,
      rolloutShare: 10,
    });
    const bulk = await request(server)
      .post("/ofrep/v1/evaluate/flags")
      .send({ context: { targetingKey: "u1" } });
    const byKey = Object.fromEntries(
      (bulk.body.flags as Array<{ key: string; metadata?: unknown }>).map((f) => [f.key, f]),
    );
    expect(byKey["new-checkout"]?.metadata).toMatchObject({ rolloutPhase: "progressing", rolloutStep: 1 });
    expect(byKey.plain?.metadata).toBeUndefined();
    // The same answer twice: the metadata copy is reused, so the ETag holds.
    const again = await request(server)
      .post("/ofrep/v1/evaluate/flags")
      .set("If-None-Match", bulk.headers.etag as string)
      .send({ context: { targetingKey: "u1" } });
    expect(again.status).toBe(304);
  });
});
