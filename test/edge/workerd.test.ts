// The Cloudflare Worker as a user deploys it: functions/flags/wrangler.jsonc built offline by `wrangler deploy
// --dry-run`, and the file wrangler would upload run in workerd (miniflare 4) with the config's vars and the two
// Upstash secrets, against real Redis behind the Upstash REST bridge. One build, one workerd for the file.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deployedBindings,
  readWranglerConfig,
  startWorkerd,
  type WorkerdWorker,
  type WranglerBuild,
  type WranglerConfig,
  wranglerBuild,
} from "../../scripts/bench/edge.ts";
import { edgeSuite } from "./suite.ts";
import { type EdgeStore, SUITE_SETTINGS, startEdgeStore } from "./support.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

let config: WranglerConfig;
let build: WranglerBuild;
let edge: EdgeStore;
let worker: WorkerdWorker;

/** Inputs of the worker that must stay out of what serves frontends. */
const ADMIN_ONLY = [
  "functions/flags/http/admin.ts",
  "functions/flags/validate.ts",
  "functions/flags/http/tokens.ts",
  "functions/flags/http/handler.ts",
  "functions/flags/env.ts",
  "@upstash/ratelimit",
];

beforeAll(async () => {
  config = await readWranglerConfig();
  build = await wranglerBuild();
  edge = await startEdgeStore("edge-workerd-token");
  worker = await startWorkerd(
    { scriptPath: build.file },
    deployedBindings(config, edge.secrets, SUITE_SETTINGS),
    config.compatibility_date,
  );
});

afterAll(async () => {
  await worker?.dispose();
  await edge?.close();
  await build?.cleanup();
});

describe("the wrangler config (functions/flags/wrangler.jsonc)", () => {
  it("deploys the edge entry, minified, with a compatibility date @upstash/redis works on", () => {
    expect(config.name).toBe("greenlight-flags");
    expect(config.main).toBe("edge.ts");
    expect(config.minify).toBe(true);
    // @upstash/redis passes `cache: "no-store"` to fetch, which Workers accept from 2024-11-11 on.
    expect(config.compatibility_date >= "2024-11-11").toBe(true);
    expect(config.compatibility_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("keeps secrets out of vars: the Upstash URL and token, the API key and admin tokens go in with `wrangler secret put`", () => {
    const vars = Object.keys(config.vars ?? {});
    for (const name of [
      "UPSTASH_REDIS_REST_URL",
      "UPSTASH_REDIS_REST_TOKEN",
      "GREENLIGHT_FLAGS_API_KEY",
      "GREENLIGHT_ADMIN_TOKEN",
      "GREENLIGHT_ADMIN_TOKENS",
    ]) {
      expect(vars).not.toContain(name);
    }
    for (const name of vars) expect(name).toMatch(/^GREENLIGHT_/);
  });

  it("builds offline with `wrangler deploy --dry-run`: no connection, no DNS lookup, an OFREP-only worker", () => {
    expect(build.network).toEqual([]);
    expect(build.output).toContain("--dry-run: exiting now.");
    for (const name of Object.keys(config.vars ?? {})) expect(build.output).toContain(`env.${name}`);
    const output = Object.values(build.metafile.outputs).find((out) => out.entryPoint !== undefined);
    // wrangler's metafile names inputs relative to the config's directory.
    const inputs = Object.keys(output?.inputs ?? {}).map((input) =>
      path
        .relative(ROOT, path.resolve(ROOT, "functions/flags", input))
        .split(path.sep)
        .join("/"),
    );
    expect(inputs).toContain("functions/flags/edge.ts");
    expect(inputs).toContain("functions/flags/http/ofrep-core.ts");
    expect(inputs.some((input) => input.startsWith("node_modules/@upstash/redis/"))).toBe(true);
    expect(inputs.some((input) => input.startsWith("node_modules/re2js/"))).toBe(true);
    for (const excluded of ADMIN_ONLY) {
      const found = inputs.filter((input) =>
        excluded.startsWith("@") ? input.startsWith(`node_modules/${excluded}/`) : input === excluded,
      );
      expect(found, excluded).toEqual([]);
    }
    expect(build.bytes).toBeGreaterThan(0);
  });
});

describe("the built worker in workerd", () => {
  edgeSuite(() => ({ url: worker.url, edge }));

  it("answers /healthz with the Upstash store's state", async () => {
    const health = await fetch(`${worker.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", store: "upstash" });
  });
});

describe("usage counts in workerd", () => {
  it("flushes an isolate's evaluation counts to Upstash after the answer, through ctx.waitUntil", async () => {
    // A worker of its own, flushing at least a TTL apart; the suite's worker has usage off.
    const counting = await startWorkerd(
      { scriptPath: build.file },
      deployedBindings(config, edge.secrets, { ...SUITE_SETTINGS, GREENLIGHT_FLAGS_USAGE_FLUSH: "1s" }),
      config.compatibility_date,
    );
    try {
      const evaluate = () =>
        fetch(`${counting.url}/ofrep/v1/evaluate/flags/banner`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ context: { targetingKey: "user-1" } }),
        });
      for (let i = 0; i < 5; i++) expect((await evaluate()).status).toBe(200);
      // The next evaluation past the flush interval starts the flush; the answer does not wait for it, and the
      // isolate keeps running it (waitUntil) until the counts are in Redis.
      let banner: number | undefined;
      for (let attempt = 0; attempt < 40 && banner === undefined; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        expect((await evaluate()).status).toBe(200);
        const report = await edge.store.readUsage?.({ days: 1 });
        banner = report?.flags.banner?.variants.on;
      }
      expect(banner).toBeGreaterThanOrEqual(5);
    } finally {
      await counting.dispose();
    }
  });
});
