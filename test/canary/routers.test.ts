// The traffic routers through the real client-node against the fake API server: the Gateway API router's list per
// namespace per pass, its v1beta1 fallback, a missing HTTPRoute, and the readers (`canary status`, `canary analyze`)
// on a Gateway API canary.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { analyseDeployment } from "../../functions/canary/analyze.ts";
import type { MetricsReader } from "../../functions/canary/checks.ts";
import { IstioReader } from "../../functions/canary/istio.ts";
import { createRouters, routersFor } from "../../functions/canary/router.ts";
import { readStandings } from "../../functions/canary/standings.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { gatewayCanaryDeployment, healthyReader, httpRoute, NAMESPACE } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";

const at = (minutes: number) => new Date(Date.parse("2026-11-26T10:00:00Z") + minutes * 60_000);

let api: FakeApiServer;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "routers");
});
afterAll(() => api.close());
beforeEach(() => {
  api.reset();
  api.setServed("gateway.networking.k8s.io/v1", true);
});

const routeLists = () =>
  api.calls.filter((call) => call.verb === "list" && call.resource === "httproutes" && call.namespace === NAMESPACE);

/** Two Gateway API canaries (apps shop and cart), each with its own HTTPRoute and canary Service. */
function seedTwo(): void {
  for (const app of ["shop", "cart"]) {
    api.put(
      gatewayCanaryDeployment({
        name: `${app}-v2`,
        annotations: {
          "greenlight.dev/app": app,
          "greenlight.dev/route": app,
          "greenlight.dev/canary-service": `${app}-canary`,
        },
      }),
    );
    const route = httpRoute() as { metadata: object; spec: { rules: { backendRefs: { name: string }[] }[] } };
    for (const ref of route.spec.rules[0]?.backendRefs ?? []) ref.name = ref.name.replace("myapp", app);
    api.put({ ...route, metadata: { name: app, namespace: NAMESPACE } });
  }
}

describe("the Gateway API router in a pass", () => {
  it("lists HTTPRoutes once per namespace per pass, however many canaries live there", async () => {
    seedTwo();
    const report = await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE], now: at(0) });
    expect(report.canaries.map((canary) => [canary.deployment, canary.router, canary.outcome])).toEqual([
      ["cart-v2", "gateway-api", "written"],
      ["shop-v2", "gateway-api", "written"],
    ]);
    expect(routeLists()).toHaveLength(1);
  });

  it("falls back to v1beta1 on a cluster that does not serve v1, and remembers it", async () => {
    api.setServed("gateway.networking.k8s.io/v1", false);
    seedTwo();
    const report = await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE], now: at(0) });
    expect(report.canaries.map((canary) => canary.outcome)).toEqual(["written", "written"]);
    const patches = api.calls.filter((call) => call.verb === "patch" && call.resource === "httproutes");
    expect(patches.map((call) => [call.version, call.status])).toEqual([
      ["v1beta1", 200],
      ["v1beta1", 200],
    ]);
  });

  it("reports a missing HTTPRoute as an error naming it, and a route without the canary Service as skipped", async () => {
    api.put(gatewayCanaryDeployment({ name: "lost", annotations: { "greenlight.dev/route": "absent" } }));
    api.put(gatewayCanaryDeployment({ name: "odd", annotations: { "greenlight.dev/canary-service": "nowhere" } }));
    api.put(httpRoute());
    const report = await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE], now: at(0) });
    const lost = report.canaries.find((canary) => canary.deployment === "lost");
    expect(lost).toMatchObject({ outcome: "error", virtualService: "absent" });
    expect(lost?.problem).toMatch(
      /HTTPRoute production\/absent: httproutes\.gateway\.networking\.k8s\.io "absent" not found/,
    );
    const odd = report.canaries.find((canary) => canary.deployment === "odd");
    expect(odd).toMatchObject({ outcome: "skipped" });
    expect(odd?.problem).toMatch(/no rule that splits traffic between Service nowhere/);
  });

  it("steps neither of two Deployments that claim one HTTPRoute", async () => {
    api.put(gatewayCanaryDeployment({ name: "one", annotations: { "greenlight.dev/app": "one" } }));
    api.put(gatewayCanaryDeployment({ name: "two", annotations: { "greenlight.dev/app": "two" } }));
    api.put(httpRoute());
    const report = await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE], now: at(0) });
    expect(report.canaries.map((canary) => canary.outcome)).toEqual(["skipped", "skipped"]);
    expect(report.canaries[0]?.problem).toMatch(/production\/myapp is claimed by/);
  });

  it("gives one set of routers per IstioReader, so a pass shares them", () => {
    const istio = new IstioReader(clients);
    expect(routersFor({ clients, istio })).toBe(routersFor({ clients, istio }));
    expect(routersFor({ clients, istio: new IstioReader(clients) })).not.toBe(routersFor({ clients, istio }));
    const own = createRouters(clients);
    expect(routersFor({ clients, istio, routers: own })).toBe(own);
  });
});

describe("the readers on a Gateway API canary", () => {
  it("canary status reads the phase and weights from the HTTPRoute", async () => {
    api.put(gatewayCanaryDeployment());
    api.put(httpRoute());
    await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE], now: at(0) });
    await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE], now: at(1) });
    const [row] = await readStandings(clients, [NAMESPACE]);
    expect(row).toMatchObject({
      deployment: "myapp-v2",
      virtualService: "myapp",
      phase: "Progressing",
      weights: { stable: 90, canary: 10 },
      step: { index: 1, of: 2 },
    });
    expect(row?.problem).toBeUndefined();
    // The step was written at at(1); the canary's interval is 1m: the next analysis is due a minute later.
    expect(row?.nextAnalysisAt).toBe(new Date(at(1).getTime() + 60_000).toISOString());
  });

  it("gives no next analysis once the rollout is over", async () => {
    api.put(gatewayCanaryDeployment({ annotations: { "greenlight.dev/steps": "100" } }));
    api.put(httpRoute());
    for (let minute = 0; minute < 6; minute++) {
      await runStep({ clients, reader: healthyReader, namespaces: [NAMESPACE], now: at(minute) });
    }
    const [row] = await readStandings(clients, [NAMESPACE]);
    expect(row?.phase).toBe("Promoted");
    expect(row?.nextAnalysisAt).toBeUndefined();
  });

  it("canary analyze renders {{service}} as the canary backend Service", async () => {
    api.put(
      gatewayCanaryDeployment({
        annotations: { "greenlight.dev/check.svc": JSON.stringify({ query: 'up{service="{{service}}"}', max: 1 }) },
      }),
    );
    api.put(httpRoute());
    const asked: string[] = [];
    const reader: MetricsReader = {
      query: async (promql) => {
        asked.push(promql);
        return healthyReader.query(promql);
      },
    };
    const analysis = await analyseDeployment(clients, reader, NAMESPACE, "myapp-v2");
    expect(analysis).toMatchObject({ service: "myapp-canary", warnings: [] });
    expect(asked).toContain('up{service="myapp-canary"}');
  });
});
