// Issue 16, section 4 (the canary half): the real stepper (`runStep`, client-node, the fake API server) against the
// real Prometheus scraping the Istio-style test exporter. A canary failing four times as often as its stable version
// (0.8% against 0.2%), yet under the threshold judge's default ceiling (1%), is rolled back by `judge: compare` and
// promoted by the threshold judge.
/*
 * Time: as in scenarios.test.ts the stepper's `now` advances one interval per run while Prometheus answers about the
 * real present. The comparative judge adds up its windows, so here the runs that analyse are a real interval apart:
 * every window it counts is traffic it has not counted before. The exporter's traffic is synthetic, so it can be as
 * heavy as the test needs to decide within a window or two (50,000 requests a second per version).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { CheckResult } from "../../functions/canary/checks.ts";
import { analyseCanary, ERROR_RATE_VS_STABLE, LATENCY_VS_STABLE } from "../../functions/canary/compare.ts";
import { createPrometheusReader } from "../../functions/canary/prometheus.ts";
import { readCanarySettings } from "../../functions/canary/settings.ts";
import { parseStatus, STATUS_ANNOTATION } from "../../functions/canary/status.ts";
import type { CanaryReport } from "../../functions/canary/step.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { canaryDeployment, destinationRule, virtualService } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { exporterControl, type Workload } from "../../scripts/services/istio-exporter.ts";

const reader = createPrometheusReader({ url: inject("prometheusUrl") });
const exporter = exporterControl(inject("exporterUrl"));

const INTERVAL_SECONDS = 5;
const T0 = Date.parse("2026-11-26T10:00:00Z");
const at = (tick: number) => new Date(T0 + tick * INTERVAL_SECONDS * 1000);

const NS = { compare: "stepper-judge-compare", threshold: "stepper-judge-threshold" } as const;
const RPS = 50_000;

const workloads = (namespace: string): Workload[] => [
  { namespace, deployment: "myapp-v2", version: "v2.0", service: "myapp", rps: RPS, errorRate: 0.008, latencyMs: 50 },
  { namespace, deployment: "myapp-v1", version: "v1.0", service: "myapp", rps: RPS, errorRate: 0.002, latencyMs: 50 },
];

let api: FakeApiServer;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "judge");
  await Promise.all(
    Object.values(NS)
      .flatMap(workloads)
      .map((workload) => exporter.set(workload)),
  );
});

afterAll(async () => {
  await Promise.all(
    Object.values(NS)
      .flatMap(workloads)
      .map((workload) => exporter.remove(workload)),
  );
  await api?.close();
});

function inNamespace(object: JsonObject, namespace: string): JsonObject {
  return { ...object, metadata: { ...(object.metadata as JsonObject), namespace } };
}

function install(namespace: string, annotations: Record<string, string>): void {
  const base = {
    "greenlight.dev/interval": `${INTERVAL_SECONDS}s`,
    "greenlight.dev/min-requests": "5",
    "greenlight.dev/steps": "50",
  };
  api.put(inNamespace(canaryDeployment({ annotations: { ...base, ...annotations } }), namespace));
  api.put(inNamespace(destinationRule(), namespace));
  api.put(inNamespace(virtualService(), namespace));
}

function statusIn(namespace: string) {
  const vs = api.get("networking.istio.io/v1", "VirtualService", namespace, "myapp") as
    | { metadata: { annotations?: Record<string, string> } }
    | undefined;
  return parseStatus(vs?.metadata.annotations?.[STATUS_ANNOTATION]).status;
}

async function run(namespace: string, tick: number): Promise<CanaryReport> {
  const report = await runStep({ clients, reader, namespaces: [namespace], now: at(tick) });
  expect(report.error).toBeUndefined();
  const [canary] = report.canaries;
  expect(canary?.outcome, canary?.problem).not.toMatch(/^(error|skipped)$/);
  return canary as CanaryReport;
}

const byName = (checks: readonly CheckResult[] | undefined) =>
  Object.fromEntries((checks ?? []).map((check) => [check.name, check]));

/** Waits until a one-off analysis reads both versions' traffic (Prometheus's first scrapes take a few seconds). */
async function waitForTraffic(namespace: string, judge: "compare" | "threshold"): Promise<void> {
  const annotations: Record<string, string> = judge === "compare" ? { "greenlight.dev/judge": "compare" } : {};
  const { settings } = readCanarySettings(
    { "greenlight.dev/interval": `${INTERVAL_SECONDS}s`, "greenlight.dev/min-requests": "5", ...annotations },
    "myapp",
  );
  const target = {
    namespace,
    deployment: "myapp-v2",
    version: "v2.0",
    service: "myapp",
    app: "myapp",
    stableVersion: "v1.0",
  };
  const deadline = Date.now() + 45_000;
  for (;;) {
    const { checks } = await analyseCanary(reader, target, settings);
    const ready = checks.every((check) => check.outcome !== "error" && check.outcome !== "no-data");
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`no traffic for ${namespace}: ${JSON.stringify(checks)}`);
    await sleep(250);
  }
}

describe("a canary failing 0.8% of requests against its stable version's 0.2% (max-error-rate 1%)", () => {
  it("judge: compare rolls it back", async () => {
    const ns = NS.compare;
    install(ns, { "greenlight.dev/judge": "compare", "greenlight.dev/threshold": "1" });
    await waitForTraffic(ns, "compare");
    expect(await run(ns, 0)).toMatchObject({ phase: "Waiting" });
    expect(await run(ns, 1)).toMatchObject({ phase: "Progressing", weights: { stable: 50, canary: 50 } });

    // One analysis an interval, each over traffic the judge has not counted yet, until it decides.
    let report: CanaryReport | undefined;
    for (let tick = 2; tick <= 8; tick++) {
      await sleep(INTERVAL_SECONDS * 1000);
      report = await run(ns, tick);
      if (report.phase !== "Progressing") break;
      expect(byName(report.checks)[ERROR_RATE_VS_STABLE]?.outcome).toBe("inconclusive");
    }
    expect(report).toMatchObject({ outcome: "written", phase: "RolledBack", weights: { stable: 100, canary: 0 } });
    const errors = byName(report?.checks)[ERROR_RATE_VS_STABLE];
    expect(errors).toMatchObject({ outcome: "fail", threshold: 0.005 });
    // The estimate reads the two versions' real rates; the interval lies above the tolerance.
    expect(errors?.value).toBeCloseTo(0.006, 3);
    expect(errors?.judge?.lower).toBeGreaterThanOrEqual(0.005);
    expect(errors?.judge?.canary.requests).toBeGreaterThan(100_000);
    expect(byName(report?.checks)[LATENCY_VS_STABLE]?.outcome).toBe("pass");
    // The status annotation keeps the counts and the evidence, and says why.
    const status = statusIn(ns);
    expect(status).toMatchObject({ phase: "RolledBack", weights: { stable: 100, canary: 0 } });
    expect(status?.judge?.windows).toBeGreaterThanOrEqual(2);
    // The rates are counted from scraped series, so 0.8% may read 0.7999% or 0.8001% (4000 of 500,060 or 499,956).
    expect(status?.reason).toMatch(/error-rate-vs-stable 0\.00\d+ > max 0\.005 \(fail: canary 0\.(?:8|79\d*|80\d*)%/);
  }, 90_000);

  it("the threshold judge lets it through: 0.8% is within max-error-rate 1%", async () => {
    const ns = NS.threshold;
    install(ns, {});
    await waitForTraffic(ns, "threshold");
    await run(ns, 0);
    expect(await run(ns, 1)).toMatchObject({ phase: "Progressing", weights: { stable: 50, canary: 50 } });
    const report = await run(ns, 2);
    expect(report).toMatchObject({ outcome: "written", phase: "Promoted", weights: { stable: 0, canary: 100 } });
    expect(byName(report.checks)["error-rate"]).toMatchObject({ outcome: "pass" });
    expect(byName(report.checks)["error-rate"]?.value).toBeCloseTo(0.008, 4);
    expect(statusIn(ns)?.judge).toBeUndefined();
  }, 90_000);
});
