// The rollout scenarios end to end: the real stepper (`runStep`, client-node) against the fake API server, and
// the real Prometheus scraping the Istio-style test exporter.
/*
 * Time: the stepper decides with the `now` it is given, while Prometheus always answers about the real present over
 * the analysis window. Every canary here uses a 10 s `interval` (the window) and the runs pass a `now` that advances
 * by one interval per run (`at(tick)`), so the steps happen as fast as the runs go while every analysis still reads
 * real traffic. The exporter's counters grow linearly, so once a window holds two scrapes its rates are the
 * configured ones and stay so: each scenario first polls `analyse()` until it sees what the stepper will see (no
 * fixed sleeps), then drives the runs.
 *
 * Isolation: every scenario has its own namespace on the fake API server and on the shared exporter; runs list that
 * namespace only.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { analyse, type CheckResult, type CheckTarget, type MetricsReader } from "../../functions/canary/checks.ts";
import { createPrometheusReader } from "../../functions/canary/prometheus.ts";
import { type CanarySettings, readCanarySettings } from "../../functions/canary/settings.ts";
import { type CanaryStatus, parseStatus, STATUS_ANNOTATION } from "../../functions/canary/status.ts";
import type { CanaryReport } from "../../functions/canary/step.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { canaryDeployment, destinationRule, virtualService } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { exporterControl, type Workload } from "../../scripts/services/istio-exporter.ts";
import { type RunningPrometheus, startPrometheus } from "../../scripts/services/prometheus.ts";

const prometheusUrl = inject("prometheusUrl");
const exporterUrl = inject("exporterUrl");
const exporter = exporterControl(exporterUrl);
const reader = createPrometheusReader({ url: prometheusUrl });

const INTERVAL_SECONDS = 10;
const T0 = Date.parse("2026-11-26T10:00:00Z");
/** The `now` of the tick-th run: one analysis interval per tick. */
const at = (tick: number) => new Date(T0 + tick * INTERVAL_SECONDS * 1000);

const CANARY = "myapp-v2";
const STABLE = "myapp-v1";
const VS_NAME = "myapp";
const ISTIO = "networking.istio.io/v1";

/** The annotations every scenario's canary carries on top of objects.ts's (`steps` and `threshold` per scenario). */
const BASE_ANNOTATIONS = {
  "greenlight.dev/interval": `${INTERVAL_SECONDS}s`,
  "greenlight.dev/min-requests": "5",
};

const NS = {
  healthy: "stepper-scenario-healthy",
  failing: "stepper-scenario-failing",
  idle: "stepper-scenario-idle",
  outage: "stepper-scenario-outage",
  race: "stepper-scenario-race",
  drift: "stepper-scenario-drift",
  leftover: "stepper-scenario-leftover",
} as const;

const traffic = (
  namespace: string,
  deployment: string,
  shape: Pick<Workload, "rps" | "errorRate" | "latencyMs">,
): Workload => ({
  namespace,
  deployment,
  version: deployment === STABLE ? "v1.0" : "v2.0",
  service: "myapp",
  ...shape,
});

const HEALTHY = { rps: 20, errorRate: 0, latencyMs: 50 };
const WORKLOADS: Workload[] = [
  traffic(NS.healthy, CANARY, HEALTHY),
  // A sick stable version next to the healthy canary: the checks must read the canary's series, not these.
  traffic(NS.healthy, STABLE, { rps: 40, errorRate: 0.5, latencyMs: 3000 }),
  traffic(NS.failing, CANARY, { rps: 20, errorRate: 0.2, latencyMs: 50 }),
  // The canary's series exist but carry no requests, while the stable version serves traffic.
  traffic(NS.idle, CANARY, { rps: 0, errorRate: 0, latencyMs: 50 }),
  traffic(NS.idle, STABLE, HEALTHY),
  traffic(NS.outage, CANARY, HEALTHY),
  traffic(NS.race, CANARY, HEALTHY),
  traffic(NS.drift, CANARY, HEALTHY),
];

let api: FakeApiServer;
let clients: KubeClients;
/** A Prometheus of its own for the outage scenario, started early so that its first scrapes are in by then. */
let privatePrometheus: RunningPrometheus | undefined;

beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "scenarios");
  await Promise.all(WORKLOADS.map((workload) => exporter.set(workload)));
  privatePrometheus = await startPrometheus({ scrapeTargets: [`${exporterUrl}/metrics`] });
});

afterAll(async () => {
  await Promise.all(WORKLOADS.map((workload) => exporter.remove(workload)));
  await privatePrometheus?.close();
  await api?.close();
});

// --- the cluster ------------------------------------------------------------------------------------------------

function inNamespace(object: JsonObject, namespace: string): JsonObject {
  const metadata = object.metadata as JsonObject;
  return { ...object, metadata: { ...metadata, namespace } };
}

/** The canary Deployment, its DestinationRule (subsets v1 = v1.0, v2 = v2.0) and a VirtualService at 100/0. */
function installCanary(namespace: string, annotations: Record<string, string>): void {
  api.put(inNamespace(canaryDeployment({ annotations: { ...BASE_ANNOTATIONS, ...annotations } }), namespace));
  api.put(inNamespace(destinationRule(), namespace));
  api.put(inNamespace(virtualService(), namespace));
}

type StoredDeployment = JsonObject & { metadata: { annotations: Record<string, string> } };
type StoredRoute = { match?: unknown; route: { destination: { subset?: string }; weight?: number }[] };
type StoredVirtualService = JsonObject & {
  metadata: { annotations?: Record<string, string> };
  spec: { http: StoredRoute[] };
};

const deploymentIn = (namespace: string) =>
  api.get("apps/v1", "Deployment", namespace, CANARY) as StoredDeployment | undefined;

const virtualServiceIn = (namespace: string) =>
  api.get(ISTIO, "VirtualService", namespace, VS_NAME) as StoredVirtualService | undefined;

/** The settings the stepper reads from the stored Deployment. */
function settingsIn(namespace: string): CanarySettings {
  const { settings, problems } = readCanarySettings(deploymentIn(namespace)?.metadata.annotations, "myapp");
  expect(problems).toEqual([]);
  return settings;
}

/** The weighted route's weights as stored, by subset (v1 stable, v2 canary). */
function weightsIn(namespace: string): { stable?: number; canary?: number } {
  const weighted = virtualServiceIn(namespace)?.spec.http.find((route) => route.match === undefined);
  const weightOf = (subset: string) => weighted?.route.find((entry) => entry.destination.subset === subset)?.weight;
  return { stable: weightOf("v1"), canary: weightOf("v2") };
}

const split = (canary: number) => ({ stable: 100 - canary, canary });

function statusIn(namespace: string): CanaryStatus {
  const parsed = parseStatus(virtualServiceIn(namespace)?.metadata.annotations?.[STATUS_ANNOTATION]);
  if (!parsed.status) throw new Error(`no readable status in ${namespace}: ${parsed.problem ?? "absent"}`);
  return parsed.status;
}

interface RecordedEvent {
  type: string;
  reason: string;
  note: string;
  eventTime: string;
  regarding?: { name?: string };
}

/** The events greenlight recorded in the namespace, oldest first (each run's `now` is later than the last). */
const eventsIn = (namespace: string) =>
  (api.list("events.k8s.io/v1", "Event", namespace) as unknown as RecordedEvent[]).sort((a, b) =>
    a.eventTime.localeCompare(b.eventTime),
  );
const reasonsIn = (namespace: string) => eventsIn(namespace).map((event) => event.reason);
const lastEventIn = (namespace: string) => eventsIn(namespace).at(-1);

/** VirtualService patches sent in the namespace (answered or refused). */
const patchesIn = (namespace: string) =>
  api.calls.filter(
    (call) => call.verb === "patch" && call.resource === "virtualservices" && call.namespace === namespace,
  );

/** Changes the stored canary Deployment's annotations (as `kubectl annotate` would). */
function annotateCanary(namespace: string, annotations: Record<string, string>): void {
  const deployment = deploymentIn(namespace);
  if (!deployment) throw new Error(`no Deployment ${namespace}/${CANARY}`);
  const stored = api.put({
    ...deployment,
    metadata: { ...deployment.metadata, annotations: { ...deployment.metadata.annotations, ...annotations } },
  });
  // The Deployment controller observes an annotation change (a new generation) at once; the fake has none.
  const generation = (stored.metadata as { generation?: number }).generation;
  api.put({ ...stored, status: { ...(stored.status as object), observedGeneration: generation } });
}

// --- the runs ---------------------------------------------------------------------------------------------------

/** One pass over the namespace at `at(tick)`; the report of its one canary, which must not be an error. */
async function run(namespace: string, tick: number, using: MetricsReader = reader): Promise<CanaryReport> {
  const report = await runStep({ clients, reader: using, namespaces: [namespace], now: at(tick) });
  expect(report.error).toBeUndefined();
  expect(report.canaries).toHaveLength(1);
  const canary = report.canaries[0] as CanaryReport;
  expect(canary.outcome, canary.problem).not.toMatch(/^(error|skipped)$/);
  expect(canary.warnings).toEqual([]);
  return canary;
}

const outcomes = (checks: readonly CheckResult[] | undefined) =>
  Object.fromEntries((checks ?? []).map((check) => [check.name, check.outcome]));

/**
 * Polls `analyse()` (the stepper's own analysis, through `using`) until `ready` holds for its results: the data the
 * runs are about to judge is in Prometheus. A limit for a broken setup, not a measurement.
 */
async function waitForAnalysis(
  namespace: string,
  ready: (results: CheckResult[]) => boolean,
  using: MetricsReader = reader,
  timeoutMs = 45_000,
): Promise<CheckResult[]> {
  const target: CheckTarget = { namespace, deployment: CANARY, version: "v2.0", service: "myapp" };
  const settings = settingsIn(namespace);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const results = await analyse(using, target, settings);
    if (ready(results)) return results;
    if (Date.now() >= deadline) {
      throw new Error(`the analysis of ${namespace}/${CANARY} never got ready: ${JSON.stringify(outcomes(results))}`);
    }
    await sleep(250);
  }
}

const allPass = (results: CheckResult[]) => results.length > 0 && results.every((result) => result.outcome === "pass");

// --- the scenarios ----------------------------------------------------------------------------------------------

describe("(a) a healthy canary", () => {
  const ns = NS.healthy;

  it("walks every step, one per interval, and is promoted once", async () => {
    installCanary(ns, { "greenlight.dev/steps": "10,25,50,75", "greenlight.dev/threshold": "2" });
    const steps = settingsIn(ns).steps;
    expect(steps).toEqual([10, 25, 50, 75]);
    await waitForAnalysis(ns, allPass);

    expect(await run(ns, 0)).toMatchObject({ outcome: "written", phase: "Waiting" });
    expect(weightsIn(ns)).toEqual(split(0));
    expect(await run(ns, 1)).toMatchObject({ outcome: "written", phase: "Progressing" });
    expect(weightsIn(ns)).toEqual(split(10));

    // Half an interval later nothing is due: no analysis, no write.
    const before = patchesIn(ns).length;
    const early = await run(ns, 1.5);
    expect(early).toMatchObject({ outcome: "unchanged", phase: "Progressing" });
    expect(early.checks).toBeUndefined();
    expect(patchesIn(ns)).toHaveLength(before);

    for (const [index, canary] of steps.slice(1).entries()) {
      const report = await run(ns, index + 2);
      expect(report).toMatchObject({ outcome: "written", phase: "Progressing" });
      expect(outcomes(report.checks)).toEqual({
        "request-count": "pass",
        "error-rate": "pass",
        "latency-p95": "pass",
        "latency-p99": "pass",
      });
      // The canary's own numbers (0 errors, p95 50 ms), not the stable version's 50% errors at 3 s.
      expect(report.checks?.find((check) => check.name === "error-rate")?.value).toBe(0);
      expect(report.checks?.find((check) => check.name === "latency-p95")?.value).toBeCloseTo(50, 3);
      expect(weightsIn(ns)).toEqual(split(canary));
      expect(statusIn(ns)).toMatchObject({ phase: "Progressing", stepIndex: index + 1, weights: split(canary) });
      expect(lastEventIn(ns)).toMatchObject({ reason: "CanaryStep", type: "Normal" });
      expect(lastEventIn(ns)?.note).toContain(
        `step ${index + 2}/${steps.length}: stable ${100 - canary}% / canary ${canary}%`,
      );
    }

    const last = await run(ns, steps.length + 1);
    expect(last).toMatchObject({ outcome: "written", phase: "Promoted" });
    expect(weightsIn(ns)).toEqual(split(100));
    expect(statusIn(ns)).toMatchObject({ phase: "Promoted", weights: split(100) });
    expect(reasonsIn(ns)).toEqual(["CanaryWaiting", ...steps.map(() => "CanaryStep"), "CanaryPromoted"]);
    expect(lastEventIn(ns)?.note).toContain(`all ${steps.length} steps passed`);
    expect(eventsIn(ns).every((event) => event.regarding?.name === CANARY)).toBe(true);
    // The header route (from objects.ts's header-route annotation) stays first, above the weighted route.
    expect(virtualServiceIn(ns)?.spec.http[0]?.match).toEqual([{ headers: { "x-canary-test": { exact: "true" } } }]);

    // A promoted canary is left alone: no write, no event.
    const writes = patchesIn(ns).length;
    expect(await run(ns, steps.length + 5)).toMatchObject({ outcome: "unchanged", phase: "Promoted" });
    expect(patchesIn(ns)).toHaveLength(writes);
    expect(reasonsIn(ns).filter((reason) => reason === "CanaryPromoted")).toHaveLength(1);
  });
});

describe("(b) a canary answering 20% 5xx", () => {
  const ns = NS.failing;

  it("is rolled back after `threshold` failed analyses, then left alone until its version changes", async () => {
    installCanary(ns, { "greenlight.dev/steps": "20,50", "greenlight.dev/threshold": "2" });
    const { threshold } = settingsIn(ns);
    expect(threshold).toBe(2);
    await waitForAnalysis(ns, (results) => {
      const by = outcomes(results);
      return by["request-count"] === "pass" && by["error-rate"] === "fail" && by["latency-p95"] === "pass";
    });

    await run(ns, 0);
    await run(ns, 1);
    expect(weightsIn(ns)).toEqual(split(20));

    // threshold - 1 failed analyses hold the weight...
    for (let failure = 1; failure < threshold; failure += 1) {
      const report = await run(ns, 1 + failure);
      expect(report).toMatchObject({ outcome: "written", phase: "Progressing" });
      expect(outcomes(report.checks)["error-rate"]).toBe("fail");
      expect(weightsIn(ns)).toEqual(split(20));
      expect(statusIn(ns)).toMatchObject({ failures: failure, stepIndex: 0 });
      expect(lastEventIn(ns)).toMatchObject({ reason: "CanaryHold", type: "Warning" });
      expect(lastEventIn(ns)?.note).toContain(`(${failure} of ${threshold} failures before rollback)`);
      expect(lastEventIn(ns)?.note).toMatch(/error-rate 0\.2 > max 0\.01 \(fail\)/);
    }
    // ...and the threshold-th rolls back.
    const rollback = await run(ns, 1 + threshold);
    expect(rollback).toMatchObject({ outcome: "written", phase: "RolledBack" });
    expect(weightsIn(ns)).toEqual(split(0));
    const status = statusIn(ns);
    expect(status).toMatchObject({ phase: "RolledBack", weights: split(0), failures: threshold });
    expect(status.reason).toContain(`${threshold} consecutive failed analyses`);
    expect(status.reason).toMatch(/error-rate 0\.2 > max 0\.01 \(fail\)/);
    expect(reasonsIn(ns)).toEqual([
      "CanaryWaiting",
      "CanaryStep",
      ...Array.from({ length: threshold - 1 }, () => "CanaryHold"),
      "CanaryRolledBack",
    ]);
    expect(lastEventIn(ns)).toMatchObject({ type: "Warning" });
    expect(lastEventIn(ns)?.note).toMatch(/^rolled back v2\.0: .*error-rate 0\.2 > max 0\.01/);

    // Later runs do nothing: no analysis, no write, no event.
    const writes = patchesIn(ns).length;
    const events = eventsIn(ns).length;
    for (const tick of [2 + threshold, 3 + threshold, 10 + threshold]) {
      const later = await run(ns, tick);
      expect(later).toMatchObject({ outcome: "unchanged", phase: "RolledBack" });
      expect(later.checks).toBeUndefined();
    }
    expect(patchesIn(ns)).toHaveLength(writes);
    expect(eventsIn(ns)).toHaveLength(events);
    expect(weightsIn(ns)).toEqual(split(0));

    // A new version (the Deployment's label, and the DestinationRule subset that selects it): a new rollout.
    api.put(
      inNamespace(
        canaryDeployment({
          version: "v2.1",
          annotations: { ...BASE_ANNOTATIONS, "greenlight.dev/steps": "20,50", "greenlight.dev/threshold": "2" },
        }),
        ns,
      ),
    );
    const rule = destinationRule() as { spec: { subsets: { name: string; labels: Record<string, string> }[] } };
    for (const subset of rule.spec.subsets) if (subset.name === "v2") subset.labels = { version: "v2.1" };
    api.put(inNamespace(rule as unknown as JsonObject, ns));
    const fresh = await run(ns, 11 + threshold);
    expect(fresh).toMatchObject({ outcome: "written", phase: "Waiting", version: "v2.1" });
    expect(statusIn(ns)).toMatchObject({ phase: "Waiting", canaryVersion: "v2.1", stepIndex: -1, failures: 0 });
    expect(weightsIn(ns)).toEqual(split(0));
    expect(lastEventIn(ns)?.reason).toBe("CanaryWaiting");
    expect(lastEventIn(ns)?.note).toContain("(replaces v2.0, RolledBack)");
  });
});

/**
 * The bounded wait, as decide.ts counts it: every inconclusive analysis (no data or error) adds one to `inconclusive`;
 * from the `maxInconclusive`-th in a row on, each also counts as a failure, and `threshold` failures roll back. So the
 * first `maxInconclusive - 1` inconclusive analyses only hold, and the rollback comes with analysis number
 * `maxInconclusive - 1 + threshold`.
 */
const analysesUntilRollback = (settings: CanarySettings) => settings.maxInconclusive - 1 + settings.threshold;

describe("(c) a canary without traffic", () => {
  const ns = NS.idle;

  it("holds while there is no data, then rolls back after the bounded wait", async () => {
    // max-inconclusive is left at its default (three intervals).
    installCanary(ns, { "greenlight.dev/steps": "20,50", "greenlight.dev/threshold": "2" });
    const settings = settingsIn(ns);
    expect(settings.maxInconclusive).toBe(3);
    const analyses = analysesUntilRollback(settings);
    expect(analyses).toBe(4);
    // Ready once the idle series are scraped twice: Prometheus counts 0 requests in the window (not "no series").
    await waitForAnalysis(ns, (results) => results.find((r) => r.name === "request-count")?.value === 0);

    await run(ns, 0);
    await run(ns, 1);
    expect(weightsIn(ns)).toEqual(split(20));

    for (let analysis = 1; analysis < analyses; analysis += 1) {
      const report = await run(ns, 1 + analysis);
      expect(report).toMatchObject({ outcome: "written", phase: "Progressing" });
      expect(Object.values(outcomes(report.checks))).toEqual(["no-data", "no-data", "no-data", "no-data"]);
      expect(weightsIn(ns)).toEqual(split(20));
      expect(statusIn(ns)).toMatchObject({
        inconclusive: analysis,
        failures: Math.max(0, analysis - settings.maxInconclusive + 1),
      });
      const hold = lastEventIn(ns);
      expect(hold).toMatchObject({ reason: "CanaryHold", type: "Warning" });
      expect(hold?.note).toContain(`analysis inconclusive ${analysis} time(s) in a row`);
      expect(hold?.note).toContain("request-count 0 vs min 5 (no-data: fewer than 5 requests in the window)");
      expect(hold?.note).toMatch(/error-rate no-data/);
    }
    const rollback = await run(ns, 1 + analyses);
    expect(rollback).toMatchObject({ outcome: "written", phase: "RolledBack" });
    expect(weightsIn(ns)).toEqual(split(0));
    expect(statusIn(ns).reason).toMatch(
      new RegExp(`^${settings.threshold} consecutive failed analyses .*inconclusive ${analyses} time\\(s\\) in a row`),
    );
    expect(reasonsIn(ns)).toEqual([
      "CanaryWaiting",
      "CanaryStep",
      ...Array.from({ length: analyses - 1 }, () => "CanaryHold"),
      "CanaryRolledBack",
    ]);
  });
});

describe("(d) Prometheus stopped mid-rollout", () => {
  const ns = NS.outage;

  it("holds with error checks, never promotes, and rolls back after the bounded wait", async () => {
    const own = privatePrometheus;
    if (!own) throw new Error("the private Prometheus did not start");
    const ownReader = createPrometheusReader({ url: own.url, timeoutMs: 2_000 });
    // Two steps: had an unreachable Prometheus counted as a pass, the first analysis after the stop would promote.
    installCanary(ns, { "greenlight.dev/steps": "20,50", "greenlight.dev/threshold": "2" });
    const settings = settingsIn(ns);
    await waitForAnalysis(ns, allPass, ownReader);

    await run(ns, 0, ownReader);
    await run(ns, 1, ownReader);
    const stepped = await run(ns, 2, ownReader);
    expect(Object.values(outcomes(stepped.checks))).toEqual(["pass", "pass", "pass", "pass"]);
    expect(weightsIn(ns)).toEqual(split(50));

    await own.stop();
    const analyses = analysesUntilRollback(settings);
    const reports: CanaryReport[] = [];
    for (let analysis = 1; analysis < analyses; analysis += 1) {
      const report = await run(ns, 2 + analysis, ownReader);
      reports.push(report);
      expect(report).toMatchObject({ outcome: "written", phase: "Progressing" });
      expect(Object.values(outcomes(report.checks))).toEqual(["error", "error", "error", "error"]);
      expect(report.checks?.[0]?.detail).toMatch(/^network error: Prometheus at .* unreachable/);
      expect(weightsIn(ns)).toEqual(split(50));
      expect(statusIn(ns)).toMatchObject({ stepIndex: 1, inconclusive: analysis });
      expect(lastEventIn(ns)).toMatchObject({ reason: "CanaryHold" });
      expect(lastEventIn(ns)?.note).toMatch(/error-rate error: network error/);
    }
    const rollback = await run(ns, 2 + analyses, ownReader);
    reports.push(rollback);
    expect(rollback).toMatchObject({ outcome: "written", phase: "RolledBack" });
    expect(weightsIn(ns)).toEqual(split(0));

    expect(reports.some((report) => report.phase === "Promoted")).toBe(false);
    expect(reasonsIn(ns)).not.toContain("CanaryPromoted");
    expect(reasonsIn(ns)).toEqual([
      "CanaryWaiting",
      "CanaryStep",
      "CanaryStep",
      ...Array.from({ length: analyses - 1 }, () => "CanaryHold"),
      "CanaryRolledBack",
    ]);
  });
});

describe("(e) two runs at once", () => {
  const ns = NS.race;

  it("step exactly once: the second guarded patch is refused", async () => {
    installCanary(ns, { "greenlight.dev/steps": "20,50,80", "greenlight.dev/threshold": "2" });
    await waitForAnalysis(ns, allPass);
    await run(ns, 0);
    await run(ns, 1);
    expect(weightsIn(ns)).toEqual(split(20));
    const stepsBefore = reasonsIn(ns).filter((reason) => reason === "CanaryStep").length;

    // 30 ms on every API call: both runs have read the VirtualService before either patch arrives.
    api.setLatency(30);
    let reports: CanaryReport[];
    try {
      const both = await Promise.all([
        runStep({ clients, reader, namespaces: [ns], now: at(2) }),
        runStep({ clients, reader, namespaces: [ns], now: at(2) }),
      ]);
      reports = both.flatMap((report) => report.canaries);
    } finally {
      api.setLatency(0);
    }
    expect(reports.map((report) => report.outcome).sort()).toEqual(["conflict", "written"]);
    expect(weightsIn(ns)).toEqual(split(50));
    expect(statusIn(ns)).toMatchObject({ stepIndex: 1 });
    expect(reasonsIn(ns).filter((reason) => reason === "CanaryStep")).toHaveLength(stepsBefore + 1);
    const refused = patchesIn(ns).filter((call) => call.status === 422);
    expect(refused).toHaveLength(1);
    expect(patchesIn(ns).filter((call) => call.status !== 200 && call.status !== 422)).toEqual([]);
  });
});

describe("(f) weights edited by hand", () => {
  /** Puts the VirtualService back with the weighted route at `canary` / 100 - `canary`, status untouched. */
  function editWeights(namespace: string, canary: number): void {
    const vs = virtualServiceIn(namespace);
    if (!vs) throw new Error(`no VirtualService in ${namespace}`);
    for (const route of vs.spec.http) {
      if (route.match !== undefined) continue;
      for (const entry of route.route) entry.weight = entry.destination.subset === "v2" ? canary : 100 - canary;
    }
    api.put(vs);
  }

  it('pause the canary with an event naming both weights; a fresh paused: "false" resumes at the stored step', async () => {
    const ns = NS.drift;
    installCanary(ns, { "greenlight.dev/steps": "20,50", "greenlight.dev/threshold": "2" });
    await waitForAnalysis(ns, allPass);
    await run(ns, 0);
    await run(ns, 1);
    expect(weightsIn(ns)).toEqual(split(20));

    editWeights(ns, 37);
    const paused = await run(ns, 2);
    expect(paused).toMatchObject({ outcome: "written", phase: "Paused" });
    // Drift is decided before any analysis: nothing was judged at the edited weights.
    expect(paused.checks).toBeUndefined();
    expect(weightsIn(ns)).toEqual(split(37));
    const event = lastEventIn(ns);
    expect(event).toMatchObject({ reason: "CanaryPaused", type: "Warning" });
    expect(event?.note).toContain("found stable 63% / canary 37%, greenlight wrote stable 80% / canary 20%");
    expect(event?.note).toContain('set greenlight.dev/paused: "false" to resume at stable 80% / canary 20%');

    // Still paused at 37 on the following runs, with no write and no new event.
    const writes = patchesIn(ns).length;
    const events = eventsIn(ns).length;
    for (const tick of [3, 4, 5]) {
      expect(await run(ns, tick)).toMatchObject({ outcome: "unchanged", phase: "Paused" });
      expect(weightsIn(ns)).toEqual(split(37));
    }
    expect(patchesIn(ns)).toHaveLength(writes);
    expect(eventsIn(ns)).toHaveLength(events);

    // No paused annotation was there when the pause began, so a "false" now is fresh: it resumes.
    annotateCanary(ns, { "greenlight.dev/paused": "false" });
    const resumed = await run(ns, 6);
    expect(resumed).toMatchObject({ outcome: "written", phase: "Progressing" });
    expect(weightsIn(ns)).toEqual(split(20));
    expect(statusIn(ns)).toMatchObject({ phase: "Progressing", stepIndex: 0, weights: split(20) });
    expect(lastEventIn(ns)).toMatchObject({ reason: "CanaryResumed" });
    expect(lastEventIn(ns)?.note).toContain(
      "re-wrote stable 80% / canary 20% over the hand-edited stable 63% / canary 37%",
    );
    // The stored step goes on: the next passing analysis moves to step 2 (50), not to anything derived from 37.
    expect((await run(ns, 7)).checks?.every((check) => check.outcome === "pass")).toBe(true);
    expect(weightsIn(ns)).toEqual(split(50));
    expect(reasonsIn(ns)).toEqual(["CanaryWaiting", "CanaryStep", "CanaryPaused", "CanaryResumed", "CanaryStep"]);
  });

  it('ignore a paused: "false" left over from before the edit until it is set to "true" and back', async () => {
    const ns = NS.leftover;
    // No traffic needed: no analysis is due in this scenario (Waiting -> step 1 needs none, drift precedes analysis).
    installCanary(ns, {
      "greenlight.dev/steps": "20,50",
      "greenlight.dev/threshold": "2",
      "greenlight.dev/paused": "false",
    });
    // Counts queries instead of answering them: none may be made here.
    const asked: string[] = [];
    const counting: MetricsReader = {
      query: async (promql) => {
        asked.push(promql);
        return [];
      },
    };
    await run(ns, 0, counting);
    await run(ns, 1, counting);
    expect(weightsIn(ns)).toEqual(split(20));

    editWeights(ns, 37);
    expect(await run(ns, 2, counting)).toMatchObject({ outcome: "written", phase: "Paused" });
    expect(lastEventIn(ns)?.note).toContain(
      'greenlight.dev/paused already reads "false" from before: set it to "true", then "false"',
    );
    expect(statusIn(ns).heldControls).toEqual(["resume"]);
    for (const tick of [3, 4]) {
      expect(await run(ns, tick, counting)).toMatchObject({ outcome: "unchanged", phase: "Paused" });
      expect(weightsIn(ns)).toEqual(split(37));
    }

    annotateCanary(ns, { "greenlight.dev/paused": "true" });
    expect(await run(ns, 5, counting)).toMatchObject({ outcome: "written", phase: "Paused" });
    expect(weightsIn(ns)).toEqual(split(37));
    annotateCanary(ns, { "greenlight.dev/paused": "false" });
    expect(await run(ns, 6, counting)).toMatchObject({ outcome: "written", phase: "Progressing" });
    expect(weightsIn(ns)).toEqual(split(20));
    expect(reasonsIn(ns)).toEqual(["CanaryWaiting", "CanaryStep", "CanaryPaused", "CanaryPaused", "CanaryResumed"]);
    expect(asked).toEqual([]);
  });
});
