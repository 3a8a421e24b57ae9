// `greenlight flags rollout status|pause|resume|abort KEY` as the real binary: against the local file store and
// against a running flag server's admin API.
import { mkdtemp } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import { decideRollout } from "../../functions/flags/rollout/plan.ts";
import type { Flag, FlagStore } from "../../functions/flags/types.ts";
import { runCli } from "./run.ts";

const SLOW = { timeout: 120_000 };
const TOKEN = "9d0f4b6e2a1c8f7e5d3b9a0c6e4f2a1b8c7d5e3f1a9b0c2d4e6f8a0b1c3d5e7f";
const CLEAN_ENV: NodeJS.ProcessEnv = {
  UPSTASH_REDIS_REST_URL: "",
  UPSTASH_REDIS_REST_TOKEN: "",
  GREENLIGHT_ADMIN_TOKEN: "",
  USER: "tester",
};

const planned: Flag = {
  key: "new-checkout",
  state: "partial",
  percentage: 0,
  rollout: { steps: [10, 50, 100], interval: "5m" },
};

/** A store in a fresh directory holding the flag as the stepper's first pass leaves it. */
async function startedStore(): Promise<{ dir: string; store: FlagStore }> {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-rollout-cli-"));
  const store = createFileStore({ dir, seed: [] });
  await store.put(decideRollout(planned, new Date()).next!, { actor: "greenlight-stepper" });
  return { dir, store };
}

describe("greenlight flags rollout against the local store", SLOW, () => {
  it("shows the status, pauses with a reason (audited as the user), refuses a second pause, aborts and resumes", async () => {
    const { dir, store } = await startedStore();
    const env = { ...CLEAN_ENV, GREENLIGHT_FLAGS_DIR: dir };
    const status = await runCli(["flags", "rollout", "status", "new-checkout"], undefined, env);
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      /^new-checkout \(revision 1\): rollout of on progressing at 10% \(step 1 of 3: 10, 50, 100\)/,
    );

    const paused = await runCli(
      ["flags", "rollout", "pause", "new-checkout", "--reason", "tickets up", "-o", "json"],
      undefined,
      env,
    );
    expect(paused.code).toBe(0);
    const view = JSON.parse(paused.stdout) as { done: string; status: { phase: string }; revision: number };
    expect(view).toMatchObject({ done: "paused at 10%: tickets up", status: { phase: "paused" }, revision: 2 });
    expect((await store.audit({ limit: 1 }))[0]?.actor).toBe("tester");

    const again = await runCli(["flags", "rollout", "pause", "new-checkout"], undefined, env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/cannot pause the rollout of "new-checkout": it is paused/);

    const aborted = await runCli(["flags", "rollout", "abort", "new-checkout"], undefined, env);
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toMatch(/^aborted at 10%, back to 0%/);
    expect((await store.get("new-checkout"))?.flag.percentage).toBe(0);

    const resumed = await runCli(["flags", "rollout", "resume", "new-checkout", "--if-match", "3"], undefined, env);
    expect(resumed.code).toBe(0);
    expect((await store.get("new-checkout"))?.flag).toMatchObject({
      percentage: 10,
      rolloutStatus: { phase: "progressing" },
    });

    const got = await runCli(["flags", "get", "new-checkout", "-o", "table"], undefined, env);
    expect(got.stdout).toMatch(/\nrollout: rollout of on progressing at 10%/);
  });

  it("says when a flag has no plan, and refuses a stale --if-match", async () => {
    const { dir, store } = await startedStore();
    await store.put({ key: "plain", state: "enabled" }, { actor: "seed" });
    const env = { ...CLEAN_ENV, GREENLIGHT_FLAGS_DIR: dir };
    const plain = await runCli(["flags", "rollout", "status", "plain"], undefined, env);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/flag "plain" has no rollout plan/);
    const stale = await runCli(["flags", "rollout", "pause", "new-checkout", "--if-match", "7"], undefined, env);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toMatch(/is at revision 1, not 7/);
  });
});

describe("greenlight flags rollout against a flag server", SLOW, () => {
  let server: Server;
  let url: string;
  let store: FlagStore;
  beforeAll(async () => {
    ({ store } = await startedStore());
    const app = createFlagsApp({ store, cache: createRuleCache(store), adminToken: TOKEN });
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
    });
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  it("pauses and resumes through the admin API, as the --actor given", async () => {
    const env = { ...CLEAN_ENV, GREENLIGHT_ADMIN_TOKEN: TOKEN };
    const paused = await runCli(
      ["flags", "rollout", "pause", "new-checkout", "--url", url, "--actor", "alice", "--reason", "checking"],
      undefined,
      env,
    );
    expect(paused.stderr).toBe("");
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/^paused at 10%: checking\n/);
    expect((await store.audit({ limit: 1 }))[0]?.actor).toBe("alice");
    const status = await runCli(
      ["flags", "rollout", "status", "new-checkout", "--url", url, "-o", "json"],
      undefined,
      env,
    );
    expect(JSON.parse(status.stdout)).toMatchObject({ status: { phase: "paused", reason: "paused at 10%: checking" } });
    const resumed = await runCli(["flags", "rollout", "resume", "new-checkout", "--url", url], undefined, env);
    expect(resumed.code).toBe(0);
    expect((await store.get("new-checkout"))?.flag.rolloutStatus?.phase).toBe("progressing");
  });
});
