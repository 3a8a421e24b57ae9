// The stepper part of `npm run bench`: 10, 100 and 1000 canaries against the fake API server with 20 ms per call.
import { createKubeClients } from "../../functions/kube/clients.ts";
import { DEFAULT_CONCURRENCY, runStep } from "../../functions/stepper/run.ts";
import { canaryAnnotations, healthyReader, istioRouting, rolledOutStatus } from "../fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../fakes/kube/fake-apiserver.ts";
import type { BenchContext } from "./index.ts";

export const STEPPER_TARGET = { canaries: 1000, seconds: 10 } as const;
const SIZES = [10, 100, 1000];
const LATENCY_MS = 20;
const NAMESPACES = 10;

/** Prometheus is not what this measures: a healthy answer, at once, for every query. */
const healthy = healthyReader;

function seed(api: FakeApiServer, count: number): void {
  for (let i = 0; i < count; i++) {
    const namespace = `team-${i % NAMESPACES}`;
    const app = `app-${i}`;
    const labels = { app, version: "v2" };
    api.put({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: `${app}-v2`,
        namespace,
        labels,
        annotations: canaryAnnotations(app),
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: "app", image: `${app}:v2` }] } },
      },
      status: rolledOutStatus(1),
    });
    for (const object of istioRouting(namespace, app)) api.put(object);
  }
}

interface PassResult {
  canaries: number;
  pass: string;
  seconds: number;
  callsPerCanary: number;
  maxWritesPerCanary: number;
  outcomes: string;
}

export async function benchStepper(context: BenchContext): Promise<PassResult[]> {
  const api = await startFakeApiServer();
  const clients = createKubeClients(api.kubeConfig(), "bench");
  const results: PassResult[] = [];
  try {
    for (const count of SIZES) {
      api.reset();
      api.setLatency(0);
      seed(api, count);
      api.setLatency(LATENCY_MS);
      const start = Date.parse("2026-01-01T00:00:00Z");
      const passes = [
        { pass: "start (Waiting)", at: 0 },
        { pass: "first step", at: 1_000 },
        { pass: "analysis + step", at: 61_000 },
      ];
      for (const { pass, at } of passes) {
        const before = api.calls.length;
        const started = performance.now();
        const report = await runStep({ clients, reader: healthy, now: new Date(start + at) });
        const seconds = (performance.now() - started) / 1000;
        const calls = api.calls.slice(before);
        const writes = new Map<string, number>();
        for (const call of calls) {
          if (call.verb === "patch" && call.resource === "virtualservices") {
            const key = `${call.namespace}/${call.name}`;
            writes.set(key, (writes.get(key) ?? 0) + 1);
          }
        }
        const tally = new Map<string, number>();
        for (const canary of report.canaries) tally.set(canary.outcome, (tally.get(canary.outcome) ?? 0) + 1);
        results.push({
          canaries: count,
          pass,
          seconds,
          callsPerCanary: calls.length / count,
          maxWritesPerCanary: Math.max(0, ...writes.values()),
          outcomes: [...tally].map(([outcome, n]) => `${n} ${outcome}`).join(", "),
        });
        context.log(
          `stepper: ${count} canaries, ${pass}: ${seconds.toFixed(2)} s, ${(calls.length / count).toFixed(2)} calls each`,
        );
      }
    }
  } finally {
    await api.close();
  }
  return results;
}

export function renderStepperSection(results: PassResult[], context: BenchContext): string {
  const thousand = results.filter((r) => r.canaries === STEPPER_TARGET.canaries);
  const slowest = Math.max(...thousand.map((r) => r.seconds));
  const writes = Math.max(...results.map((r) => r.maxWritesPerCanary));
  return [
    "## Stepper: one scheduled pass over many canaries",
    "",
    `Measured with \`${context.command}\` on ${context.date}.`,
    `Machine: ${context.machine}.`,
    "",
    ...(context.busy ? ["**The machine was busy when this run started: treat the wall times with care.**", ""] : []),
    `The real stepper (\`runStep\`, real @kubernetes/client-node, ${DEFAULT_CONCURRENCY} canaries at a time) against the in-process fake API ` +
      `server with ${LATENCY_MS} ms added to every call, canaries spread over ${NAMESPACES} namespaces, each with its ` +
      "own Deployment, DestinationRule and VirtualService. Prometheus answers at once (a stub reader): this measures the " +
      "stepper and its API traffic, not PromQL. Three passes per size: the first (every canary enters Waiting), the " +
      "first step, and a pass one interval later (analysis, then the second step). Each pass lists Deployments once, " +
      "lists each namespace's VirtualServices and DestinationRules once, writes each VirtualService at " +
      "most once and records one Event per change.",
    "",
    "| canaries | pass | wall time | API calls per canary | most writes to one VirtualService | outcomes |",
    "| ---: | --- | ---: | ---: | ---: | --- |",
    ...results.map(
      (r) =>
        `| ${r.canaries} | ${r.pass} | ${r.seconds.toFixed(2)} s | ${r.callsPerCanary.toFixed(2)} | ${r.maxWritesPerCanary} | ${r.outcomes} |`,
    ),
    "",
    "### Targets",
    "",
    `- ${STEPPER_TARGET.canaries} canaries in under ${STEPPER_TARGET.seconds} s per pass: slowest pass ${slowest.toFixed(2)} s, ${slowest < STEPPER_TARGET.seconds ? "met" : "**not met**"}`,
    `- at most one write per canary per pass: ${writes}, ${writes <= 1 ? "met" : "**not met**"}`,
  ].join("\n");
}
