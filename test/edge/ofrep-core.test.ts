// The OFREP-only core the edge serves: what its bundle holds, that it reads the environment as env.ts does, and
// how it answers what it does not serve.
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import {
  MISSING_UPSTASH_MESSAGE as EDGE_MISSING,
  ofrepSettingsFromEnv,
  upstashCredentials,
  upstashTimeoutMs,
} from "../../functions/flags/edge-env.ts";
import {
  flagSettingsFromEnv,
  upstashTimeoutMs as lambdaTimeout,
  MISSING_UPSTASH_MESSAGE,
  upstashStoreFromEnv,
} from "../../functions/flags/env.ts";
import { createOfrepCore, OFREP_CORE_ROUTES } from "../../functions/flags/http/ofrep-core.ts";
import { webHandler } from "../../functions/http/web.ts";
import { createMemoryStore } from "../flags/memory-store.ts";

/** Inputs that only the admin API needs: none may be in what serves frontends. */
const ADMIN_ONLY = [
  "functions/flags/http/admin.ts",
  "functions/flags/validate.ts",
  "functions/flags/http/tokens.ts",
  "functions/flags/http/handler.ts",
  "functions/flags/env.ts",
  "functions/flags/upstash-limits.ts",
];

describe("the edge bundle (esbuild, as docs/FLAGS.md builds it)", () => {
  for (const entry of ["functions/flags/edge.ts", "functions/flags/vercel.ts"]) {
    it(`${entry} holds OFREP and the Upstash store, not the admin API, validator, tokens or @upstash/ratelimit`, async () => {
      const result = await build({
        entryPoints: [entry],
        bundle: true,
        platform: "neutral",
        mainFields: ["module", "main"],
        format: "esm",
        minify: true,
        metafile: true,
        write: false,
      });
      const output = Object.values(result.metafile.outputs)[0];
      const inputs = Object.keys(output?.inputs ?? {});
      expect(inputs).toContain("functions/flags/http/ofrep-core.ts");
      expect(inputs).toContain("functions/flags/upstash-store.ts");
      expect(inputs.some((input) => input.startsWith("node_modules/re2js/"))).toBe(true);
      for (const excluded of ADMIN_ONLY) expect(inputs).not.toContain(excluded);
      expect(inputs.filter((input) => input.includes("@upstash/ratelimit"))).toEqual([]);
    });
  }
});

/** A setting's outcome, comparable across the two readers: the value, or the error's message. */
function outcome<T>(read: () => T): { value: T } | { error: string } {
  try {
    return { value: read() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const ENVS: Array<Record<string, string>> = [
  {},
  { GREENLIGHT_FLAGS_CACHE_TTL: "30s", GREENLIGHT_FLAGS_MAX_STALE: "1h", GREENLIGHT_FLAGS_BODY_LIMIT: "16KiB" },
  { GREENLIGHT_FLAGS_CORS_ORIGINS: "https://app.example.com, http://localhost:3000" },
  { GREENLIGHT_FLAGS_CORS_ORIGINS: "app.example.com" },
  { GREENLIGHT_FLAGS_CORS_ORIGINS: " , " },
  { GREENLIGHT_FLAGS_CACHE_TTL: "soon" },
  { GREENLIGHT_FLAGS_CACHE_TTL: "1m", GREENLIGHT_FLAGS_MAX_STALE: "30s" },
  { GREENLIGHT_FLAGS_BODY_LIMIT: "100" },
  { GREENLIGHT_FLAGS_API_KEY: "web key" },
  { GREENLIGHT_FLAGS_API_KEY: "web-public-key" },
  { GREENLIGHT_RATE_LIMIT: "off" },
  { GREENLIGHT_RATE_LIMIT_OFREP: "60/1m" },
  { GREENLIGHT_RATE_LIMIT_OFREP: "often" },
  { GREENLIGHT_RATE_LIMIT: "maybe" },
  { GREENLIGHT_FLAGS_CACHE_TTL: "   " },
];

describe("the edge's settings (edge-env.ts), which env.ts builds on", () => {
  it("read every shared variable alike: the same values, the same one-line refusals", () => {
    for (const env of ENVS) {
      const lambda = outcome(() => {
        const { adminToken, adminTokens, ...shared } = flagSettingsFromEnv(env);
        return shared;
      });
      expect(
        outcome(() => ofrepSettingsFromEnv(env)),
        JSON.stringify(env),
      ).toEqual(lambda);
    }
  });

  it("read the Upstash variables alike", () => {
    const cases: Array<Record<string, string>> = [
      {},
      { UPSTASH_REDIS_REST_URL: "https://eu1-example.upstash.io" },
      { UPSTASH_REDIS_REST_TOKEN: "t" },
      { UPSTASH_REDIS_REST_URL: "eu1-example.upstash.io", UPSTASH_REDIS_REST_TOKEN: "t" },
      { UPSTASH_REDIS_REST_URL: "https://eu1-example.upstash.io", UPSTASH_REDIS_REST_TOKEN: "t" },
    ];
    for (const env of cases) {
      const lambda = outcome(() => upstashStoreFromEnv(env) !== undefined);
      expect(
        outcome(() => upstashCredentials(env) !== undefined),
        JSON.stringify(env),
      ).toEqual(lambda);
    }
    for (const raw of [undefined, "250ms", "2s", "5ms", "61s", "fast"]) {
      const env = raw === undefined ? {} : { GREENLIGHT_UPSTASH_TIMEOUT: raw };
      expect(outcome(() => upstashTimeoutMs(env))).toEqual(outcome(() => lambdaTimeout(env)));
    }
    expect(EDGE_MISSING).toBe(MISSING_UPSTASH_MESSAGE);
  });
});

describe("the OFREP-only core", () => {
  const store = createMemoryStore({ seed: [{ key: "banner", state: "enabled" }] });
  const handle = webHandler(createOfrepCore({ cache: createRuleCache(store) }));
  const BASE = "https://flags.example";

  it("evaluates, and answers the admin API's paths 404 naming where the admin API is, HEAD without a body", async () => {
    const evaluated = await handle(
      new Request(`${BASE}/ofrep/v1/evaluate/flags/banner`, { method: "POST", body: "{}" }),
    );
    expect(await evaluated.json()).toMatchObject({ key: "banner", value: true });
    const admin = await handle(new Request(`${BASE}/admin/flags/`, { method: "PUT", body: "{}" }));
    expect(admin.status).toBe(404);
    expect(admin.headers.get("cache-control")).toBe("no-store");
    const { error } = (await admin.json()) as { error: string };
    expect(error).toBe(
      "PUT /admin/flags/: the admin API is not served at the edge (this deployment answers " +
        "POST /ofrep/v1/evaluate/flags/{key}, POST /ofrep/v1/evaluate/flags, GET /healthz (or /flags/healthz) only); " +
        "manage flags through the admin API of the AWS Lambda (serverless.yml) or of `greenlight flags serve`, or " +
        "with `greenlight flags` on the same Upstash database; see docs/FLAGS.md, Running it",
    );
    const head = await handle(new Request(`${BASE}/admin/audit`, { method: "HEAD" }));
    expect(head.status).toBe(404);
    expect(await head.text()).toBe("");
    expect(store.calls.get).toBe(0);
    expect(store.calls.put).toBe(0);
  });

  it("lists only its own routes in a 404 elsewhere", async () => {
    const elsewhere = await handle(new Request(`${BASE}/nowhere`));
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.json()).toEqual({
      error: `no route for GET /nowhere; routes: ${OFREP_CORE_ROUTES.join(", ")}`,
    });
  });
});
