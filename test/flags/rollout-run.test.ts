// The scheduled pass (functions/stepper/run.ts) with a flag store: flag rollouts stepped after the Deployments,
// reported in the pass report, and stepped even when the cluster cannot be listed.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MetricsReader } from "../../functions/canary/checks.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import type { Flag } from "../../functions/flags/types.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { stepperSetupFromEnv } from "../../functions/stepper/config.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { healthyReader, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";

const T0 = new Date("2026-12-07T12:00:00Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const planned: Flag = {
  key: "new-checkout",
  state: "partial",
  percentage: 0,
  rollout: { steps: [10, 100], interval: "1m" },
};

/** The canary's healthy Prometheus, and equal flag variants: 20,000 requests a side, no errors, the same latencies. */
const reader: MetricsReader = {
  async query(promql) {
    if (!promql.includes("feature_flag_key")) return healthyReader.query(promql);
    return [promql.includes("http_response_status_code") ? 0 : 20_000];
  },
  async querySamples() {
    return [
      { labels: { le: "0.1" }, value: 10_000 },
      { labels: { le: "+Inf" }, value: 20_000 },
    ];
  },
};

let api: FakeApiServer;
let clients: KubeClients;
const dirs: string[] = [];
beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "test-flags-run");
});
afterAll(async () => {
  api.close();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function store() {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-rollout-run-"));
  dirs.push(dir);
  return createFileStore({ dir, seed: [planned] });
}

describe("runStep with a flag store", () => {
  it("steps the canaries and the flag rollouts in one pass, and reports both", async () => {
    api.reset();
    seedCanary(api);
    const flags = { store: await store() };
    const first = await runStep({ clients, reader, now: T0, flags });
    expect(first.canaries).toHaveLength(1);
    expect(first.flags).toEqual([expect.objectContaining({ key: "new-checkout", action: "start", share: 10 })]);
    const second = await runStep({ clients, reader, now: at(1), flags });
    expect(second.flags?.[0]).toMatchObject({ action: "complete", phase: "completed", share: 100 });
    expect((await flags.store.get("new-checkout"))?.flag.percentage).toBe(100);
  });

  it("steps the flags even when the Deployments cannot be listed", async () => {
    const flags = { store: await store() };
    const unreachable = createKubeClients(
      await startFakeApiServer().then((other) => {
        const config = other.kubeConfig();
        other.close();
        return config;
      }),
      "test-flags-down",
    );
    const report = await runStep({ clients: unreachable, reader, now: T0, flags, callTimeoutMs: 2_000 });
    expect(report.error).toMatch(/listing Deployments/);
    expect(report.flags?.[0]).toMatchObject({ action: "start" });
  });

  it("reports a store it cannot read as flagsError, the Deployments stepped", async () => {
    api.reset();
    seedCanary(api);
    const broken = await store();
    broken.load = async () => {
      throw new Error("disk on fire");
    };
    const report = await runStep({ clients, reader, now: T0, flags: { store: broken } });
    expect(report.canaries).toHaveLength(1);
    expect(report.flagsError).toBe("flag rollouts: disk on fire");
  });
});

describe("the stepper's setup from the environment", () => {
  it("steps flags in Upstash when the flag function's Upstash variables are set, with the metric names of the env", () => {
    const kube = { GREENLIGHT_KUBECONFIG: api.kubeConfig().exportConfig() };
    expect(stepperSetupFromEnv(kube).options.flags).toBeUndefined();
    const options = stepperSetupFromEnv({
      ...kube,
      UPSTASH_REDIS_REST_URL: "https://eu1-example-12345.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "token",
      GREENLIGHT_FLAGS_METRIC_VARIANT_LABEL: "variant",
    }).options;
    expect(options.flags?.store.kind).toBe("upstash");
    expect(options.flags?.metrics?.variantLabel).toBe("variant");
    expect(() =>
      stepperSetupFromEnv({ ...kube, UPSTASH_REDIS_REST_URL: "https://eu1-example-12345.upstash.io" }),
    ).toThrow(/UPSTASH_REDIS_REST_URL is set but UPSTASH_REDIS_REST_TOKEN is not/);
  });
});
