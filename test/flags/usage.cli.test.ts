// `greenlight flags stale --unused-days` as the real binary: against the local file store and a running flag server,
// with usage a flag server recorded before (usage.json, written through the store's own recordUsage).

import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { EXAMPLE_FLAGS } from "../../functions/flags/examples.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import type { StaleReport } from "../../functions/flags/stale.ts";
import type { FlagStore } from "../../functions/flags/types.ts";
import { runCli } from "../cli/run.ts";

const DAY = 86_400_000;
const TOKEN = "c1a5e0f4b8d24e7f9a3c6b1d5e8f2a4c7b0d3e6f9a2c5b8d1e4f7a0c3b6d9e2f";
// Each step spawns the CLI (about a second, more on a busy machine).
const SLOW = { timeout: 120_000 };

const CLEAN_ENV: NodeJS.ProcessEnv = {
  UPSTASH_REDIS_REST_URL: "",
  UPSTASH_REDIS_REST_TOKEN: "",
  GREENLIGHT_ADMIN_TOKEN: "",
  GREENLIGHT_FLAGS_API_KEY: "",
  GREENLIGHT_FLAGS_UNUSED_DAYS: "",
  USER: "tester",
};

let dir: string;
let store: FlagStore;
let countingSince: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "greenlight-flags-usage-cli-"));
  store = createFileStore({ dir, seed: EXAMPLE_FLAGS });
  await store.load(); // seeds the example flags, written now
  const now = Date.now();
  countingSince = now - 60 * DAY;
  // payment_feature was last evaluated 40 days ago, new_ui_interface yesterday; the third example never since
  // counting began, but it was written just now.
  await store.recordUsage?.({
    at: now - 40 * DAY,
    countingSince,
    counts: [{ key: "payment_feature", variant: "off", count: 12 }],
  });
  await store.recordUsage?.({
    at: now - DAY,
    countingSince,
    counts: [{ key: "new_ui_interface", variant: "on", count: 3 }],
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({ ...CLEAN_ENV, GREENLIGHT_FLAGS_DIR: dir });

const reportOf = (stdout: string) => JSON.parse(stdout) as StaleReport;

describe("greenlight flags stale --unused-days", SLOW, () => {
  it("lists flags not evaluated for the days given, with their last evaluation, as JSON and as a table", async () => {
    const json = await runCli(["flags", "stale", "--unused-days", "30", "-o", "json"], undefined, env());
    expect(json.stderr).toBe("");
    expect(json.code).toBe(0);
    const report = reportOf(json.stdout);
    expect(report.usage).toEqual({ unusedDays: 30, countingSince: new Date(countingSince).toISOString() });
    expect(report.flags).toEqual([
      expect.objectContaining({
        key: "payment_feature",
        reasons: ["unused"],
        lastEvaluated: new Date(countingSince + 20 * DAY).toISOString(),
      }),
    ]);

    const table = await runCli(["flags", "stale", "--unused-days", "30"], undefined, env());
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^KEY\s+OWNER\s+EXPIRES\s+UPDATED\s+LAST EVALUATED\s+REASONS\n/);
    expect(table.stdout).toMatch(/\npayment_feature\s+\S+\s+\S+\s+\S+\s+\d{4}-\d{2}-\d{2}T\S+\s+unused\n/);

    // 50 days: none evaluated that long ago; GREENLIGHT_FLAGS_UNUSED_DAYS is the default without the option.
    const fifty = await runCli(["flags", "stale", "-o", "json"], undefined, {
      ...env(),
      GREENLIGHT_FLAGS_UNUSED_DAYS: "50",
    });
    expect(reportOf(fifty.stdout)).toEqual({
      flags: [],
      usage: { unusedDays: 50, countingSince: new Date(countingSince).toISOString() },
    });
  });

  it("says when counting has not run long enough to call a flag never evaluated unused", async () => {
    const table = await runCli(["flags", "stale", "--unused-days", "90"], undefined, env());
    expect(table.code).toBe(0);
    expect(table.stderr).toContain(`no stale flags in files in ${dir}`);
    expect(table.stderr).toContain(
      `evaluations are counted since ${new Date(countingSince).toISOString()}: flags evaluated since are reported ` +
        "unused 90 days after their last evaluation, flags never evaluated from",
    );
  });

  it("refuses a number of days out of range, naming the option", async () => {
    const zero = await runCli(["flags", "stale", "--unused-days", "0"], undefined, env());
    expect(zero.code).toBe(1);
    expect(zero.stderr.trim()).toBe("greenlight: --unused-days 0 is not accepted: use a whole number from 1 to 3650");
    const setting = await runCli(["flags", "stale"], undefined, { ...env(), GREENLIGHT_FLAGS_UNUSED_DAYS: "often" });
    expect(setting.code).toBe(1);
    expect(setting.stderr.trim()).toBe(
      'greenlight: GREENLIGHT_FLAGS_UNUSED_DAYS="often" is invalid; accepted: an integer from 1 to 3650',
    );
  });

  it("passes --unused-days to a running server's GET /admin/stale", async () => {
    const app = createFlagsApp({ store, cache: createRuleCache(store), adminToken: TOKEN });
    const server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
    });
    try {
      const address = server.address();
      const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
      const remote = ["--url", url, "--token", TOKEN, "-o", "json"];
      const thirty = reportOf(
        (await runCli(["flags", "stale", "--unused-days", "30", ...remote], undefined, env())).stdout,
      );
      expect(thirty.flags.map((flag) => flag.key)).toEqual(["payment_feature"]);
      expect(thirty.usage?.unusedDays).toBe(30);
      const two = reportOf(
        (await runCli(["flags", "stale", "--unused-days", "2", ...remote], undefined, env())).stdout,
      );
      expect(two.flags.map((flag) => flag.key)).toEqual(["payment_feature"]);
      const one = reportOf(
        (await runCli(["flags", "stale", "--unused-days", "1", ...remote], undefined, env())).stdout,
      );
      expect(one.flags.map((flag) => flag.key)).toEqual(["new_ui_interface", "payment_feature"]);
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });

  it("documents the option in its help", async () => {
    const help = await runCli(["flags", "stale", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--unused-days <n>");
    expect(help.stdout).toContain("GREENLIGHT_FLAGS_UNUSED_DAYS");
    expect(help.stdout).toMatch(/Examples:\n {2}greenlight flags stale\n {2}greenlight flags stale --unused-days 14/);
  });
});
