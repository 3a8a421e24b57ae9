// The core rollout scenarios of scenarios.test.ts on the Gateway API router: the real stepper (`runStep`, client-node)
// against the fake API server serving gateway.networking.k8s.io/v1 HTTPRoutes, and the real Prometheus scraping the
// Istio-style test exporter. Same timing and isolation as scenarios.test.ts (see there): `now` advances one 10 s
// interval per run, each scenario has its own namespace, and waits for the analysis the runs are about to see.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { analyse, type CheckResult, type CheckTarget } from "../../functions/canary/checks.ts";
import { createPrometheusReader } from "../../functions/canary/prometheus.ts";
import { type CanarySettings, readCanarySettings } from "../../functions/canary/settings.ts";
import { type CanaryStatus, parseStatus, STATUS_ANNOTATION } from "../../functions/canary/status.ts";
import type { CanaryReport } from "../../functions/canary/step.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { GATEWAY_API, gatewayCanaryDeployment, httpRoute } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { exporterControl, type Workload } from "../../scripts/services/istio-exporter.ts";

const reader = createPrometheusReader({ url: inject("prometheusUrl") });
const exporter = exporterControl(inject("exporterUrl"));

const INTERVAL_SECONDS = 10;
const T0 = Date.parse("2026-11-26T10:00:00Z");
const at = (tick: number) => new Date(T0 + tick * INTERVAL_SECONDS * 1000);

const CANARY = "myapp-v2";
const STABLE = "myapp-v1";
const ROUTE = "myapp";
const BASE_ANNOTATIONS = { "greenlight.dev/interval": `${INTERVAL_SECONDS}s`, "greenlight.dev/min-requests": "5" };

const NS = {
  healthy: "gateway-api-scenario-healthy",
  failing: "gateway-api-scenario-failing",
  race: "gateway-api-scenario-race",
  drift: "gateway-api-scenario-drift",
} as const;

const traffic = (namespace: string, deployment: string, shape: Pick<Workload, "rps" | "errorRate" | "latencyMs">) => ({
  namespace,
  deployment,
  version: deployment === STABLE ? "v1.0" : "v2.0",
  service: deployment === STABLE ? "myapp-stable" : "myapp-canary",
  ...shape,
});
const HEALTHY = { rps: 20, errorRate: 0, latencyMs: 50 };
const WORKLOADS: Workload[] = [
  traffic(NS.healthy, CANARY, HEALTHY),
  traffic(NS.healthy, STABLE, { rps: 40, errorRate: 0.5, latencyMs: 3000 }),
  traffic(NS.failing, CANARY, { rps: 20, errorRate: 0.2, latencyMs: 50 }),
  traffic(NS.race, CANARY, HEALTHY),
  traffic(NS.drift, CANARY, HEALTHY),
];

let api: FakeApiServer;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "gateway-api-scenarios");
  await Promise.all(WORKLOADS.map((workload) => exporter.set(workload)));
});

afterAll(async () => {
  await Promise.all(WORKLOADS.map((workload) => exporter.remove(workload)));
  await api?.close();
});

// --- the cluster ------------------------------------------------------------------------------------------------

function inNamespace(object: JsonObject, namespace: string): JsonObject {
  return { ...object, metadata: { ...(object.metadata as JsonObject), namespace } };
}

/** The canary Deployment (router gateway-api) and its HTTPRoute at stable 100 / canary 0. */
function installCanary(namespace: string, annotations: Record<string, string>): void {
  api.put(inNamespace(gatewayCanaryDeployment({ annotations: { ...BASE_ANNOTATIONS, ...annotations } }), namespace));
  api.put(inNamespace(httpRoute(), namespace));
}

type StoredDeployment = JsonObject & { metadata: { annotations: Record<string, string> } };
type StoredRule = {
  matches?: { path?: unknown; headers?: { type?: string; name: string; value: string }[] }[];
  backendRefs: { name: string; weight?: number }[];
};
type StoredRoute = JsonObject & { metadata: { annotations?: Record<string, string> }; spec: { rules: StoredRule[] } };

const deploymentIn = (namespace: string) =>
  api.get("apps/v1", "Deployment", namespace, CANARY) as StoredDeployment | undefined;
const routeIn = (namespace: string) => api.get(GATEWAY_API, "HTTPRoute", namespace, ROUTE) as StoredRoute | undefined;

function settingsIn(namespace: string): CanarySettings {
  const { settings, problems } = readCanarySettings(deploymentIn(namespace)?.metadata.annotations, "myapp");
  expect(problems).toEqual([]);
  expect(settings).toMatchObject({ router: "gateway-api", route: ROUTE, canaryService: "myapp-canary" });
  return settings;
}

/** The weighted rule (the one with two backends) as stored, by Service. */
const weightedRule = (namespace: string) =>
  routeIn(namespace)?.spec.rules.find((rule) => rule.backendRefs.length === 2);

function weightsIn(namespace: string): { stable?: number; canary?: number } {
  const refs = weightedRule(namespace)?.backendRefs ?? [];
  const weightOf = (name: string) => refs.find((ref) => ref.name === name)?.weight;
  return { stable: weightOf("myapp-stable"), canary: weightOf("myapp-canary") };
}

const split = (canary: number) => ({ stable: 100 - canary, canary });

function statusIn(namespace: string): CanaryStatus {
  const parsed = parseStatus(routeIn(namespace)?.metadata.annotations?.[STATUS_ANNOTATION]);
  if (!parsed.status) throw new Error(`no readable status in ${namespace}: ${parsed.problem ?? "absent"}`);
  return parsed.status;
}

interface RecordedEvent {
  reason: string;
  type: string;
  note: string;
  eventTime: string;
  regarding?: { name?: string };
}
const eventsIn = (namespace: string) =>
  (api.list("events.k8s.io/v1", "Event", namespace) as unknown as RecordedEvent[]).sort((a, b) =>
    a.eventTime.localeCompare(b.eventTime),
  );
const reasonsIn = (namespace: string) => eventsIn(namespace).map((event) => event.reason);
const lastEventIn = (namespace: string) => eventsIn(namespace).at(-1);

const patchesIn = (namespace: string) =>
  api.calls.filter((call) => call.verb === "patch" && call.resource === "httproutes" && call.namespace === namespace);

function annotateCanary(namespace: string, annotations: Record<string, string>): void {
  const deployment = deploymentIn(namespace);
  if (!deployment) throw new Error(`no Deployment ${namespace}/${CANARY}`);
  const stored = api.put({
    ...deployment,
    metadata: { ...deployment.metadata, annotations: { ...deployment.metadata.annotations, ...annotations } },
  });
  const generation = (stored.metadata as { generation?: number }).generation;
  api.put({ ...stored, status: { ...(stored.status as object), observedGeneration: generation } });
}

// --- the runs ---------------------------------------------------------------------------------------------------

async function run(namespace: string, tick: number): Promise<CanaryReport> {
  const report = await runStep({ clients, reader, namespaces: [namespace], now: at(tick) });
  expect(report.error).toBeUndefined();
  expect(report.canaries).toHaveLength(1);
  const canary = report.canaries[0] as CanaryReport;
  expect(canary.outcome, canary.problem).not.toMatch(/^(error|skipped)$/);
  expect(canary.warnings).toEqual([]);
  expect(canary).toMatchObject({ router: "gateway-api", virtualService: ROUTE });
  return canary;
}

const outcomes = (checks: readonly CheckResult[] | undefined) =>
  Object.fromEntries((checks ?? []).map((check) => [check.name, check.outcome]));

async function waitForAnalysis(namespace: string, ready: (results: CheckResult[]) => boolean): Promise<void> {
  const target: CheckTarget = { namespace, deployment: CANARY, version: "v2.0", service: "myapp-canary" };
  const settings = settingsIn(namespace);
  const deadline = Date.now() + 45_000;
  for (;;) {
    const results = await analyse(reader, target, settings);
    if (ready(results)) return;
    if (Date.now() >= deadline) {
      throw new Error(`the analysis of ${namespace}/${CANARY} never got ready: ${JSON.stringify(outcomes(results))}`);
    }
    await sleep(250);
  }
}

const allPass = (results: CheckResult[]) => results.length > 0 && results.every((result) => result.outcome === "pass");

// --- the scenarios ----------------------------------------------------------------------------------------------

describe("(a) a healthy canary behind an HTTPRoute", () => {
  const ns = NS.healthy;

  it("walks every step, one per interval, and is promoted once", async () => {
    installCanary(ns, { "greenlight.dev/steps": "10,25,50,75", "greenlight.dev/threshold": "2" });
    const steps = settingsIn(ns).steps;
    await waitForAnalysis(ns, allPass);

    expect(await run(ns, 0)).toMatchObject({ outcome: "written", phase: "Waiting" });
    expect(weightsIn(ns)).toEqual(split(0));
    expect(await run(ns, 1)).toMatchObject({ outcome: "written", phase: "Progressing" });
    expect(weightsIn(ns)).toEqual(split(10));

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
      // The canary's own numbers, not the stable version's 50% errors at 3 s.
      expect(report.checks?.find((check) => check.name === "error-rate")?.value).toBe(0);
      expect(weightsIn(ns)).toEqual(split(canary));
      expect(statusIn(ns)).toMatchObject({ phase: "Progressing", stepIndex: index + 1, weights: split(canary) });
      expect(lastEventIn(ns)?.note).toContain(
        `step ${index + 2}/${steps.length}: stable ${100 - canary}% / canary ${canary}%`,
      );
    }

    const last = await run(ns, steps.length + 1);
    expect(last).toMatchObject({ outcome: "written", phase: "Promoted" });
    expect(weightsIn(ns)).toEqual(split(100));
    expect(statusIn(ns)).toMatchObject({ phase: "Promoted", weights: split(100) });
    expect(reasonsIn(ns)).toEqual(["CanaryWaiting", ...steps.map(() => "CanaryStep"), "CanaryPromoted"]);
    expect(eventsIn(ns).every((event) => event.regarding?.name === CANARY)).toBe(true);
    // The header rule (objects.ts's header-route annotation) is first: the weighted rule's path plus the header,
    // to the canary Service alone.
    expect(routeIn(ns)?.spec.rules[0]).toEqual({
      matches: [
        {
          path: { type: "PathPrefix", value: "/" },
          headers: [{ type: "Exact", name: "x-canary-test", value: "true" }],
        },
      ],
      backendRefs: [{ name: "myapp-canary", port: 80 }],
    });
    expect(routeIn(ns)?.spec.rules).toHaveLength(2);

    const writes = patchesIn(ns).length;
    expect(await run(ns, steps.length + 5)).toMatchObject({ outcome: "unchanged", phase: "Promoted" });
    expect(patchesIn(ns)).toHaveLength(writes);
    // Every write went to the HTTPRoute: no Istio object was asked for.
    expect(api.calls.filter((call) => call.namespace === ns && call.group === "networking.istio.io")).toEqual([]);
  });
});

describe("(b) a canary answering 20% 5xx behind an HTTPRoute", () => {
  const ns = NS.failing;

  it("is rolled back after `threshold` failed analyses, then left alone until its version changes", async () => {
    installCanary(ns, { "greenlight.dev/steps": "20,50", "greenlight.dev/threshold": "2" });
    const { threshold } = settingsIn(ns);
    await waitForAnalysis(ns, (results) => {
      const by = outcomes(results);
      return by["request-count"] === "pass" && by["error-rate"] === "fail" && by["latency-p95"] === "pass";
    });

    await run(ns, 0);
    await run(ns, 1);
    expect(weightsIn(ns)).toEqual(split(20));
    for (let failure = 1; failure < threshold; failure += 1) {
      const report = await run(ns, 1 + failure);
      expect(report).toMatchObject({ outcome: "written", phase: "Progressing" });
      expect(weightsIn(ns)).toEqual(split(20));
      expect(statusIn(ns)).toMatchObject({ failures: failure, stepIndex: 0 });
      expect(lastEventIn(ns)).toMatchObject({ reason: "CanaryHold", type: "Warning" });
    }
    const rollback = await run(ns, 1 + threshold);
    expect(rollback).toMatchObject({ outcome: "written", phase: "RolledBack" });
    expect(weightsIn(ns)).toEqual(split(0));
    expect(statusIn(ns)).toMatchObject({ phase: "RolledBack", weights: split(0), failures: threshold });
    expect(statusIn(ns).reason).toMatch(/error-rate 0\.2 > max 0\.01 \(fail\)/);
    expect(reasonsIn(ns)).toEqual([
      "CanaryWaiting",
      "CanaryStep",
      ...Array.from({ length: threshold - 1 }, () => "CanaryHold"),
      "CanaryRolledBack",
    ]);

    const writes = patchesIn(ns).length;
    for (const tick of [2 + threshold, 3 + threshold]) {
      const later = await run(ns, tick);
      expect(later).toMatchObject({ outcome: "unchanged", phase: "RolledBack" });
      expect(later.checks).toBeUndefined();
    }
    expect(patchesIn(ns)).toHaveLength(writes);
    expect(weightsIn(ns)).toEqual(split(0));

    // A new version behind the same canary Service (no subset to edit, unlike Istio): a new rollout.
    api.put(
      inNamespace(
        gatewayCanaryDeployment({
          version: "v2.1",
          annotations: { ...BASE_ANNOTATIONS, "greenlight.dev/steps": "20,50", "greenlight.dev/threshold": "2" },
        }),
        ns,
      ),
    );
    const fresh = await run(ns, 11 + threshold);
    expect(fresh).toMatchObject({ outcome: "written", phase: "Waiting", version: "v2.1" });
    expect(statusIn(ns)).toMatchObject({ phase: "Waiting", canaryVersion: "v2.1", stepIndex: -1, failures: 0 });
    expect(lastEventIn(ns)?.note).toContain("(replaces v2.0, RolledBack)");
  });
});

describe("(e) two runs at once on an HTTPRoute", () => {
  const ns = NS.race;

  it("step exactly once: the second guarded patch is refused", async () => {
    installCanary(ns, { "greenlight.dev/steps": "20,50,80", "greenlight.dev/threshold": "2" });
    await waitForAnalysis(ns, allPass);
    await run(ns, 0);
    await run(ns, 1);
    expect(weightsIn(ns)).toEqual(split(20));

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
    expect(patchesIn(ns).filter((call) => call.status === 422)).toHaveLength(1);
  });
});

describe("(f) HTTPRoute weights edited by hand", () => {
  it('pause the canary; a fresh paused: "false" resumes at the stored step', async () => {
    const ns = NS.drift;
    installCanary(ns, { "greenlight.dev/steps": "20,50", "greenlight.dev/threshold": "2" });
    await waitForAnalysis(ns, allPass);
    await run(ns, 0);
    await run(ns, 1);
    expect(weightsIn(ns)).toEqual(split(20));

    const route = routeIn(ns);
    if (!route) throw new Error(`no HTTPRoute in ${ns}`);
    for (const ref of route.spec.rules.find((rule) => rule.backendRefs.length === 2)?.backendRefs ?? []) {
      ref.weight = ref.name === "myapp-canary" ? 37 : 63;
    }
    api.put(route);

    const paused = await run(ns, 2);
    expect(paused).toMatchObject({ outcome: "written", phase: "Paused" });
    expect(paused.checks).toBeUndefined();
    expect(weightsIn(ns)).toEqual(split(37));
    expect(lastEventIn(ns)).toMatchObject({ reason: "CanaryPaused", type: "Warning" });
    expect(lastEventIn(ns)?.note).toContain("found stable 63% / canary 37%, greenlight wrote stable 80% / canary 20%");

    const writes = patchesIn(ns).length;
    for (const tick of [3, 4]) {
      expect(await run(ns, tick)).toMatchObject({ outcome: "unchanged", phase: "Paused" });
      expect(weightsIn(ns)).toEqual(split(37));
    }
    expect(patchesIn(ns)).toHaveLength(writes);

    annotateCanary(ns, { "greenlight.dev/paused": "false" });
    expect(await run(ns, 5)).toMatchObject({ outcome: "written", phase: "Progressing" });
    expect(weightsIn(ns)).toEqual(split(20));
    expect((await run(ns, 6)).checks?.every((check) => check.outcome === "pass")).toBe(true);
    expect(weightsIn(ns)).toEqual(split(50));
    expect(reasonsIn(ns)).toEqual(["CanaryWaiting", "CanaryStep", "CanaryPaused", "CanaryResumed", "CanaryStep"]);
  });
});
