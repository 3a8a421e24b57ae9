// Issue 16, section 4 (the flag half): guarded flag rollouts stepped by the real pass (`stepFlagRollouts`), reading
// Debian's Prometheus, which scrapes the flag test exporter (scripts/services/flag-exporter.ts), and writing a real
// file store. Two flags roll out side by side through the same passes: one whose new variant behaves as the control
// walks 10% -> 50% -> 100%; one whose new variant fails four times as often (2% against 0.5%) is held at 10% by the
// first window and rolled back to 0% by the second.
/*
 * Time: the judge adds up its windows, and a window is the plan's interval (20 s here). So the passes here run
 * an interval apart, on the real clock, and every window the judge counts is traffic it has not counted before (as
 * in test/stepper/judge.test.ts). After each pass the "app" (the exporter) serves the treatment at the share the pass
 * wrote, as an app evaluating the flag would. The traffic is synthetic, so it can be heavy enough (15,000 requests a
 * second) for one 20 s window to decide. This file starts its own exporter and Prometheus (scripts/services) rather than
 * the shared Istio ones.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrometheusReader } from "../../functions/canary/prometheus.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { STEPPER_ACTOR } from "../../functions/flags/rollout/plan.ts";
import { type FlagRolloutReport, stepFlagRollouts } from "../../functions/flags/rollout/step.ts";
import type { Flag, FlagStore } from "../../functions/flags/types.ts";
import {
  FLAG_METRIC,
  type FlagExporter,
  type FlagSide,
  startFlagExporter,
} from "../../scripts/services/flag-exporter.ts";
import { type RunningPrometheus, startPrometheus, waitForSamples } from "../../scripts/services/prometheus.ts";

const TOTAL_RPS = 15_000;
const CONTROL = { errorRate: 0.005, p50Ms: 40, p99Ms: 100 };
const FLAGS = {
  equal: { key: "checkout-equal", treatment: CONTROL },
  failing: { key: "checkout-failing", treatment: { ...CONTROL, errorRate: 0.02 } },
} as const;
const INTERVAL_MS = 20_000;
/** After an interval, one more scrape (1 s) so the window holds its last second. */
const MARGIN_MS = 2_000;

let exporter: FlagExporter;
let prometheus: RunningPrometheus;
let store: FlagStore;
let dir: string;

const planned = (key: string): Flag => ({
  key,
  state: "partial",
  percentage: 0,
  rollout: { steps: [10, 50, 100], interval: "20s" },
});

/** The app: serves `on` to the flag's share of the requests, `off` to the rest. */
async function serve(): Promise<void> {
  for (const { key, treatment } of Object.values(FLAGS)) {
    const percentage = (await store.get(key))?.flag.percentage ?? 0;
    const side = (variant: string, share: number, profile: typeof CONTROL): FlagSide => ({
      key,
      variant,
      rps: TOTAL_RPS * share,
      ...profile,
    });
    exporter.simulation.set(side("on", percentage / 100, treatment));
    exporter.simulation.set(side("off", 1 - percentage / 100, CONTROL));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "greenlight-rollout-prometheus-"));
  store = createFileStore({ dir, seed: [planned(FLAGS.equal.key), planned(FLAGS.failing.key)] });
  exporter = await startFlagExporter();
  await serve();
  prometheus = await startPrometheus({ scrapeTargets: [exporter.metricsUrl], scrapeIntervalSeconds: 1 });
  for (const { key } of Object.values(FLAGS)) {
    await waitForSamples(
      prometheus.url,
      `${FLAG_METRIC}_count{feature_flag_key="${key}",feature_flag_result_variant="off"}`,
    );
  }
});

afterAll(async () => {
  await prometheus?.close();
  await exporter?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("guarded flag rollouts against a real Prometheus", () => {
  it("walk an equal variant to 100% and roll a variant failing 4x as often back to 0%", async () => {
    const reader = createPrometheusReader({ url: prometheus.url });
    const passes: Record<string, FlagRolloutReport>[] = [];
    let last = 0;
    const pass = async () => {
      // Each judgement's window is a full interval of traffic at the share written by the pass before.
      if (last > 0) await sleep(Math.max(0, last + INTERVAL_MS + MARGIN_MS - Date.now()));
      const now = new Date();
      last = now.getTime();
      const reports = await stepFlagRollouts({ store, reader, now });
      await serve();
      const byKey = Object.fromEntries(reports.map((report) => [report.key, report]));
      passes.push(byKey);
      return byKey;
    };

    const started = await pass();
    for (const { key } of Object.values(FLAGS)) {
      expect(started[key]).toMatchObject({ action: "start", phase: "progressing", share: 10 });
    }

    const first = await pass();
    expect(first[FLAGS.equal.key]).toMatchObject({ action: "step-up", phase: "progressing", share: 50 });
    // The error-rate test bets predictably: its first window only sets the estimate it bets with from the second on.
    expect(first[FLAGS.failing.key]).toMatchObject({ action: "hold", phase: "progressing", share: 10 });
    expect(first[FLAGS.failing.key]?.reason).toMatch(/error-rate inconclusive/);

    const second = await pass();
    expect(second[FLAGS.equal.key]).toMatchObject({ action: "complete", phase: "completed", share: 100 });
    expect(second[FLAGS.failing.key]).toMatchObject({ action: "roll-back", phase: "rolled-back", share: 0 });

    // The equal flag: at 100%, both comparisons passed on the real counts of the last window and the ones before.
    const equal = (await store.get(FLAGS.equal.key))?.flag;
    expect(equal?.percentage).toBe(100);
    const equalChecks = Object.fromEntries((equal?.rolloutStatus?.checks ?? []).map((check) => [check.name, check]));
    expect(equalChecks["error-rate"]).toMatchObject({ outcome: "pass" });
    expect(equalChecks["error-rate"]?.value).toBeCloseTo(0, 3);
    // Two windows: about 20 s at 10% and 20 s at 50% of 15,000 requests a second.
    expect(equalChecks["error-rate"]?.treatment?.requests).toBeGreaterThan(100_000);
    expect(equalChecks.latency).toMatchObject({ outcome: "pass" });
    expect(equalChecks.latency?.value).toBeCloseTo(0.5, 2);

    // The failing flag: back at 0%, and the status says which check, with the real rates.
    const failing = (await store.get(FLAGS.failing.key))?.flag;
    expect(failing?.percentage).toBe(0);
    expect(failing?.rolloutStatus?.reason).toMatch(
      /^error-rate regression at 10%: treatment 2% \(\d+\/\d+\) vs control 0\.5% \(\d+\/\d+\)/,
    );
    const failed = failing?.rolloutStatus?.checks?.find((check) => check.name === "error-rate");
    expect(failed?.outcome).toBe("regression");
    expect(failed?.value).toBeCloseTo(0.015, 3);
    expect(failed?.lower).toBeGreaterThanOrEqual(0.005);

    // Every write is the stepper's, in the audit log, with the share it set.
    const audit = (await store.audit({ limit: 50 })).reverse();
    const shares = (key: string) =>
      audit
        .filter((entry) => entry.key === key && entry.actor === STEPPER_ACTOR)
        .map((entry) => entry.after?.percentage);
    expect(shares(FLAGS.equal.key)).toEqual([10, 50, 100]);
    // A hold is written too (the checks it read, in the status): 10% twice, then the rollback.
    expect(shares(FLAGS.failing.key)).toEqual([10, 10, 0]);
    const rollback = audit.find(
      (entry) => entry.key === FLAGS.failing.key && entry.actor === STEPPER_ACTOR && entry.after?.percentage === 0,
    );
    expect(rollback?.after?.rolloutStatus?.reason).toMatch(/^error-rate regression/);
  }, 240_000);
});
