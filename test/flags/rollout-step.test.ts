// The rollout stepper's I/O (functions/flags/rollout/step.ts) against real file stores and a fake Prometheus: what
// it reads, what it writes with which actor and precondition, and two passes at once of which only one steps.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { DEFAULT_ROLLOUT_METRICS, rolloutMetricsFromEnv } from "../../functions/flags/rollout/queries.ts";
import { stepFlagRollouts } from "../../functions/flags/rollout/step.ts";
import type { Flag } from "../../functions/flags/types.ts";
import type { MetricsReader } from "../../functions/judge/read.ts";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-rollout-"));
  dirs.push(dir);
  return dir;
}

const T0 = new Date("2026-12-07T12:00:00Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

const planned: Flag = {
  key: "new-checkout",
  state: "partial",
  percentage: 0,
  rollout: { steps: [10, 50, 100], interval: "1m" },
};

interface Side {
  requests: number;
  errors: number;
}

/** A Prometheus with fixed per-window counts per side; every query is kept, and `gate` can hold the answers. */
function fakePrometheus(treatment: Side, control: Side, gate?: () => Promise<void>) {
  const queries: string[] = [];
  const sideOf = (promql: string) => (promql.includes('feature_flag_result_variant!="on"') ? control : treatment);
  const reader: MetricsReader & { queries: string[] } = {
    queries,
    async query(promql) {
      queries.push(promql);
      await gate?.();
      const side = sideOf(promql);
      return [promql.includes("http_response_status_code") ? side.errors : side.requests];
    },
    async querySamples(promql) {
      queries.push(promql);
      await gate?.();
      const side = sideOf(promql);
      const half = Math.floor(side.requests / 2);
      return [
        { labels: { le: "0.05" }, value: half },
        { labels: { le: "0.1" }, value: side.requests },
        { labels: { le: "+Inf" }, value: side.requests },
      ];
    },
  };
  return reader;
}

const even = () => fakePrometheus({ requests: 20_000, errors: 0 }, { requests: 20_000, errors: 0 });

describe("stepFlagRollouts", () => {
  it("starts a plan without reading, then steps up on a judged window, written by greenlight-stepper", async () => {
    const store = createFileStore({ dir: await freshDir(), seed: [planned, { key: "other", state: "enabled" }] });
    const reader = even();
    const first = await stepFlagRollouts({ store, reader, now: T0 });
    expect(first).toEqual([
      expect.objectContaining({ key: "new-checkout", action: "start", phase: "progressing", share: 10 }),
    ]);
    expect(reader.queries).toEqual([]);
    expect((await store.get("new-checkout"))?.flag.percentage).toBe(10);

    expect(await stepFlagRollouts({ store, reader, now: at(0.5) })).toEqual([
      expect.objectContaining({ action: "none", reason: "not due yet" }),
    ]);
    const second = await stepFlagRollouts({ store, reader, now: at(1) });
    expect(second[0]).toMatchObject({ action: "step-up", share: 50 });
    expect(reader.queries).toContain(
      '(sum(increase(http_server_request_duration_seconds_count{feature_flag_key="new-checkout",feature_flag_result_variant="on"}[60s])) or vector(0)) and on() (time() - max(timestamp(http_server_request_duration_seconds_count{feature_flag_key="new-checkout",feature_flag_result_variant="on"})) < 30)',
    );
    const stored = await store.get("new-checkout");
    expect(stored?.flag.percentage).toBe(50);
    expect(stored?.updatedBy).toBe("greenlight-stepper");
    const [entry] = await store.audit({ limit: 1 });
    expect(entry).toMatchObject({ actor: "greenlight-stepper", key: "new-checkout" });
    expect(entry?.before?.percentage).toBe(10);
    expect(entry?.after?.rolloutStatus?.reason).toMatch(/^every check passed at 10%: stepped up to 50%/);
  });

  it("rolls back to the floor with an audit entry whose written status names the check and its values", async () => {
    const store = createFileStore({ dir: await freshDir(), seed: [planned] });
    const reader = fakePrometheus({ requests: 5_000, errors: 500 }, { requests: 5_000, errors: 25 });
    await stepFlagRollouts({ store, reader, now: T0 });
    expect((await stepFlagRollouts({ store, reader, now: at(1) }))[0]?.action).toBe("hold");
    const report = await stepFlagRollouts({ store, reader, now: at(2) });
    expect(report[0]).toMatchObject({ action: "roll-back", phase: "rolled-back", share: 0 });
    const [entry] = await store.audit({ limit: 1 });
    expect(entry?.actor).toBe("greenlight-stepper");
    expect(entry?.before?.percentage).toBe(10);
    expect(entry?.after?.percentage).toBe(0);
    expect(entry?.after?.rolloutStatus?.reason).toMatch(
      /^error-rate regression at 10%: treatment 10% \(1000\/10000\) vs control 0.5% \(50\/10000\)/,
    );
    // Rolled back stays rolled back: later passes neither read nor write.
    const quiet = await stepFlagRollouts({ store, reader, now: at(10) });
    expect(quiet[0]?.action).toBe("none");
  });

  it("holds on an unreadable Prometheus, saying why", async () => {
    const store = createFileStore({ dir: await freshDir(), seed: [planned] });
    await stepFlagRollouts({ store, reader: even(), now: T0 });
    const down: MetricsReader = {
      query: async () => ({ kind: "network", message: "connect ECONNREFUSED 127.0.0.1:9090" }),
      querySamples: async () => ({ kind: "network", message: "connect ECONNREFUSED 127.0.0.1:9090" }),
    };
    const report = await stepFlagRollouts({ store, reader: down, now: at(1) });
    expect(report[0]).toMatchObject({ action: "hold", share: 10 });
    const status = (await store.get("new-checkout"))?.flag.rolloutStatus;
    expect(status?.checks?.[0]?.detail).toMatch(/network error: connect ECONNREFUSED/);
  });

  it("holds, counting nothing, when a side's newest sample is stale (the requests query answers empty)", async () => {
    const store = createFileStore({ dir: await freshDir(), seed: [planned] });
    await stepFlagRollouts({ store, reader: even(), now: T0 });
    const healthy = even();
    const stale: MetricsReader = {
      query: async (promql) => (promql.includes("timestamp(") && !promql.includes("!=") ? [] : healthy.query(promql)),
      querySamples: healthy.querySamples,
    };
    const report = await stepFlagRollouts({ store, reader: stale, now: at(1) });
    expect(report[0]).toMatchObject({ action: "hold", share: 10 });
    const status = (await store.get("new-checkout"))?.flag.rolloutStatus;
    expect(status?.judge?.windows).toBe(0);
    expect(status?.checks?.[0]?.detail).toMatch(/treatment: no request sample newer than the freshness limit/);
  });

  it("writes nothing in a dry run", async () => {
    const store = createFileStore({ dir: await freshDir(), seed: [planned] });
    const report = await stepFlagRollouts({ store, reader: even(), now: T0, dryRun: true });
    expect(report[0]).toMatchObject({ action: "start", reason: expect.stringMatching(/^dry run: /) });
    expect((await store.get("new-checkout"))?.flag.rolloutStatus).toBeUndefined();
  });

  it("lets only one of two concurrent passes step: the other loses the conditional write and writes nothing", async () => {
    const dir = await freshDir();
    const seeded = createFileStore({ dir, seed: [planned] });
    await stepFlagRollouts({ store: seeded, reader: even(), now: T0 });
    const revision = (await seeded.get("new-checkout"))?.revision;
    // Two stepper instances (two Lambdas), each with its own store on the same files. Both have loaded the flag at
    // the same revision before either writes: their reads wait until both passes are reading.
    let reading = 0;
    let release: () => void = () => undefined;
    const bothReading = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gate = async () => {
      reading += 1;
      if (reading === 2 * 6) release();
      await bothReading;
    };
    const reader = fakePrometheus({ requests: 20_000, errors: 0 }, { requests: 20_000, errors: 0 }, gate);
    const passes = await Promise.all([
      stepFlagRollouts({ store: createFileStore({ dir }), reader, now: at(1) }),
      stepFlagRollouts({ store: createFileStore({ dir }), reader, now: at(1) }),
    ]);
    const actions = passes.map((report) => report[0]?.action).sort();
    expect(actions).toEqual(["conflict", "step-up"]);
    const lost = passes.flat().find((report) => report.action === "conflict");
    expect(lost?.reason).toMatch(/another writer changed the flag first/);
    const stored = await seeded.get("new-checkout");
    expect(stored?.revision).toBe((revision ?? 0) + 1);
    expect(stored?.flag.percentage).toBe(50);
    const entries = await seeded.audit({ limit: 10 });
    expect(entries.filter((entry) => entry.after?.rolloutStatus?.step === 1)).toHaveLength(1);
  });

  it("reads its metric names and labels from GREENLIGHT_FLAGS_METRIC_*, refusing bad ones by name", async () => {
    const metrics = rolloutMetricsFromEnv({
      GREENLIGHT_FLAGS_METRIC_REQUESTS: "app_requests_total",
      GREENLIGHT_FLAGS_METRIC_VARIANT_LABEL: "variant",
    });
    expect(metrics).toEqual({ ...DEFAULT_ROLLOUT_METRICS, requests: "app_requests_total", variantLabel: "variant" });
    expect(() => rolloutMetricsFromEnv({ GREENLIGHT_FLAGS_METRIC_KEY_LABEL: "feature.flag.key" })).toThrow(
      /^GREENLIGHT_FLAGS_METRIC_KEY_LABEL="feature.flag.key" is invalid; accepted: a Prometheus label name/,
    );
    const store = createFileStore({ dir: await freshDir(), seed: [planned] });
    const reader = even();
    await stepFlagRollouts({ store, reader, metrics, now: T0 });
    await stepFlagRollouts({ store, reader, metrics, now: at(1) });
    expect(
      reader.queries.some((query) =>
        query.startsWith('(sum(increase(app_requests_total{feature_flag_key="new-checkout",variant="on"}'),
      ),
    ).toBe(true);
  });
});
