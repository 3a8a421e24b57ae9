// The Upstash hang of upstash-hang.test.ts, in an edge runtime: the edge bundle in Vercel's `edge-runtime` VM.
/*
 * functions/flags/edge.ts bundled as docs/FLAGS.md bundles it (esbuild, --platform=neutral), run in `edge-runtime`
 * (the VM behind Vercel Edge: web globals only, no `process`, its own fetch), in front of the REST bridge and a real
 * redis-server. It shows that what the deadline relies on exists and works there: AbortSignal.timeout cancels the
 * isolate's fetch, setTimeout bounds each store call, the rule cache serves its last good rules within 1 s.
 */

// A regular dev dependency (the edge suites of test/edge/ need it too): its absence fails the file.
import { EdgeRuntime } from "edge-runtime";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upstashStoreFromEnv } from "../../functions/flags/env.ts";
import { DEFAULT_UPSTASH_TIMEOUT_MS } from "../../functions/flags/upstash-store.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { redisCommand } from "../../scripts/services/resp.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

const TTL_MS = 1_000;
const ANSWER_WITHIN_MS = 1_000;
const CLIENT = { "x-real-ip": "192.0.2.7" }; // Vercel's client address header: the abuse limits count it

let redis: RunningRedis;
let bridge: RunningUpstashBridge;
let vm: EdgeRuntime;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed(path: string, init: RequestInit = {}): Promise<{ ms: number; status: number; body: unknown }> {
  const started = performance.now();
  const response = await vm.dispatchFetch(`https://flags.example${path}`, init);
  const body: unknown = await response.json();
  return { ms: performance.now() - started, status: response.status, body };
}

const evaluate = () =>
  timed("/ofrep/v1/evaluate/flags/banner", {
    method: "POST",
    headers: { "content-type": "application/json", ...CLIENT },
    body: JSON.stringify({ context: { targetingKey: "user-1" } }),
  });

describe("an Upstash that never answers, in the edge runtime", () => {
  beforeAll(async () => {
    redis = await startRedis();
    bridge = await startUpstashBridge({ redisPort: redis.port, token: "edge-hang-token" });
    const bundle = await build({
      entryPoints: ["functions/flags/edge.ts"],
      bundle: true,
      platform: "neutral",
      mainFields: ["module", "main"],
      format: "iife",
      globalName: "greenlightEdge",
      write: false,
    });
    // Workers-style bindings, as a Cloudflare deployment passes them to fetch(request, env).
    const bindings = {
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: bridge.token,
      GREENLIGHT_FLAGS_CACHE_TTL: `${TTL_MS / 1000}s`,
      GREENLIGHT_FLAGS_MAX_STALE: "1m",
    };
    const initialCode =
      `${bundle.outputFiles[0]?.text ?? ""}\n` +
      `const bindings = ${JSON.stringify(bindings)};\n` +
      "addEventListener('fetch', (event) => event.respondWith(greenlightEdge.default.fetch(event.request, bindings)));";
    vm = new EdgeRuntime({ initialCode });
  });

  afterAll(async () => {
    await bridge?.close();
    await redis?.close();
  });

  it("answers evaluations and /healthz within 1 s on the last good rules, cancels, and recovers", async () => {
    // The edge serves OFREP only: the flag is written through the store, as the Lambda's admin API would.
    const store = upstashStoreFromEnv({ UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token });
    await store?.put({ key: "banner", state: "enabled" }, { actor: "edge-hang" });
    expect(await evaluate()).toMatchObject({ status: 200, body: { value: true } });

    bridge.hang(true);
    try {
      const version = (await redisCommand(redis.port, "INCR", "greenlight:flags:version")) as number;
      const stored = { flag: { key: "banner", state: "disabled" }, revision: version, updatedAt: "", updatedBy: "x" };
      await redisCommand(redis.port, "HSET", "greenlight:flags", "banner", JSON.stringify(stored));

      await sleep(TTL_MS);
      const evaluation = await evaluate();
      expect(evaluation).toMatchObject({ status: 200, body: { value: true } });
      expect(evaluation.ms, `evaluation took ${Math.round(evaluation.ms)} ms`).toBeLessThan(ANSWER_WITHIN_MS);

      await sleep(TTL_MS);
      const health = await timed("/flags/healthz");
      expect(health).toMatchObject({
        status: 200,
        body: {
          status: "degraded",
          lastError: `Upstash Redis did not answer GET version within ${DEFAULT_UPSTASH_TIMEOUT_MS} ms`,
        },
      });
      expect(health.ms, `/healthz took ${Math.round(health.ms)} ms`).toBeLessThan(ANSWER_WITHIN_MS);

      // The isolate's fetches were aborted: the bridge sees every held request closed by its client.
      for (let waited = 0; bridge.held > 0 && waited < 2_000; waited += 20) await sleep(20);
      expect(bridge.held).toBe(0);
      expect(bridge.hung).toBeGreaterThanOrEqual(2);
    } finally {
      bridge.hang(false);
    }

    await sleep(TTL_MS);
    expect(await evaluate()).toMatchObject({ status: 200, body: { value: false } });
    expect(await timed("/flags/healthz")).toMatchObject({ status: 200, body: { status: "ok" } });
  }, 30_000);
});
