// The demo's weighted router: the choice, the route table, Istio-style accounting, and the router over HTTP following
// a VirtualService on the fake API server through client-node.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VirtualService } from "../../functions/canary/virtual-service.ts";
import { HEALTHY, planResponse, type SampleApp, startSampleApp } from "../../scripts/demo/app.ts";
import { APP, CANARY, demoObjects, STABLE } from "../../scripts/demo/cluster.ts";
import { dueRequests } from "../../scripts/demo/load.ts";
import { bucketIndex, IstioRequestMetrics } from "../../scripts/demo/metrics.ts";
import { type Router, type RouterTarget, startRouter } from "../../scripts/demo/router.ts";
import {
  defaultShares,
  pickDestination,
  routeTable,
  seededRandom,
  selectRoute,
  type WeightedDestination,
} from "../../scripts/demo/weighted.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";

const split = (stable: number, canary: number): WeightedDestination[] => [
  { subset: "v1", weight: stable },
  { subset: "v2", weight: canary },
];

function draw(destinations: WeightedDestination[], count: number, seed: number): Record<string, number> {
  const random = seededRandom(seed);
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i += 1) {
    const subset = pickDestination(destinations, random())?.subset ?? "none";
    counts[subset] = (counts[subset] ?? 0) + 1;
  }
  return counts;
}

describe("pickDestination", () => {
  it("follows the weights within a few tenths of a percent over many draws", () => {
    const n = 40_000;
    for (const [stable, canary] of [
      [90, 10],
      [70, 30],
      [50, 50],
      [5, 95],
    ] as const) {
      const counts = draw(split(stable, canary), n, stable * 101 + canary);
      // Binomial standard deviation at n = 40,000 is at most 0.25%: 1% is four of them.
      expect(Math.abs(((counts.v2 ?? 0) / n) * 100 - canary)).toBeLessThan(1);
      expect((counts.v1 ?? 0) + (counts.v2 ?? 0)).toBe(n);
    }
  });

  it("never picks a weight of 0 and always picks a weight of 100, at the extremes of the draw too", () => {
    for (const random of [0, 1e-12, 0.5, 0.999_999_999, 1 - Number.EPSILON, 1]) {
      expect(pickDestination(split(100, 0), random)?.subset).toBe("v1");
      expect(pickDestination(split(0, 100), random)?.subset).toBe("v2");
      expect(
        pickDestination([{ subset: "a", weight: 0 }, ...split(0, 100), { subset: "z", weight: 0 }], random)?.subset,
      ).toBe("v2");
    }
    expect(draw(split(100, 0), 10_000, 1)).toEqual({ v1: 10_000 });
    expect(draw(split(0, 100), 10_000, 2)).toEqual({ v2: 10_000 });
  });

  it("picks nothing when every weight is 0 or the route is empty", () => {
    expect(pickDestination(split(0, 0), 0.3)).toBeUndefined();
    expect(pickDestination([], 0.3)).toBeUndefined();
  });

  it("splits at the exact boundary: a draw below stable/total is stable, at or above is canary", () => {
    expect(pickDestination(split(30, 70), 0.2999)?.subset).toBe("v1");
    expect(pickDestination(split(30, 70), 0.3)?.subset).toBe("v2");
  });
});

const vsWithHeaderRoute: VirtualService = {
  spec: {
    http: [
      {
        match: [{ headers: { "x-canary-test": { exact: "true" } } }, { headers: { "x-tester": { prefix: "qa-" } } }],
        route: [{ destination: { host: "myapp", subset: "v2" } }],
      },
      {
        route: [
          { destination: { host: "myapp", subset: "v1" }, weight: 80 },
          { destination: { host: "myapp", subset: "v2" }, weight: 20 },
        ],
      },
    ],
  },
};

describe("routeTable / selectRoute", () => {
  const table = routeTable(vsWithHeaderRoute);

  it("reads routes in order; a lone destination without a weight takes the whole route", () => {
    expect(table).toEqual([
      {
        matches: [[{ header: "x-canary-test", exact: "true" }], [{ header: "x-tester", prefix: "qa-" }]],
        destinations: [{ subset: "v2", weight: 100 }],
      },
      { matches: [], destinations: split(80, 20) },
    ]);
    expect(defaultShares(table)).toEqual({ v1: 80, v2: 20 });
  });

  it("sends a request to the first route whose match holds, else to the weighted route", () => {
    expect(selectRoute(table, { "x-canary-test": "true" })).toBe(table[0]);
    expect(selectRoute(table, { "x-tester": "qa-anna" })).toBe(table[0]);
    expect(selectRoute(table, { "x-canary-test": "false" })).toBe(table[1]);
    expect(selectRoute(table, { "x-tester": "dev-anna" })).toBe(table[1]);
    expect(selectRoute(table, {})).toBe(table[1]);
    // Without a catch-all route, a request no match takes has no route at all.
    const headerOnly = routeTable({ spec: { http: vsWithHeaderRoute.spec?.http?.slice(0, 1) ?? [] } });
    expect(headerOnly).toHaveLength(1);
    expect(selectRoute(headerOnly, {})).toBeUndefined();
  });
});

describe("IstioRequestMetrics", () => {
  const canary = { namespace: "demo-x", workload: "myapp-v2", version: "v2.0", service: "myapp" };
  const stable = { namespace: "demo-x", workload: "myapp-v1", version: "v1.0", service: "myapp" };

  it("puts a duration in the first bucket whose bound holds it", () => {
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(0.5)).toBe(0);
    expect(bucketIndex(7)).toBe(3); // le="10"
    expect(bucketIndex(250)).toBe(7); // le="250"
    expect(bucketIndex(250.1)).toBe(8); // le="500"
    expect(bucketIndex(10_000_000)).toBe(19); // past the last bound: +Inf only
  });

  it("renders istio_requests_total and the duration histogram with the labels the stepper selects on", () => {
    const metrics = new IstioRequestMetrics();
    for (const ms of [3, 7, 40, 700]) metrics.record({ destination: canary, code: 200, durationMs: ms });
    metrics.record({ destination: canary, code: 500, durationMs: 12 });
    metrics.record({ destination: stable, code: 200, durationMs: 4 });
    metrics.record({ destination: stable, code: 503, durationMs: 1, flags: "UF" });
    const text = metrics.render();
    const lines = text.split("\n").filter((line) => line && !line.startsWith("#"));
    // Every sample line is `name{labels} value` in the text format.
    for (const line of lines) expect(line).toMatch(/^[a-z_]+\{([a-z_]+="[^"\\]*",)*[a-z_]+="[^"\\]*"\} [0-9.e+-]+$/);
    expect(text).toContain("# TYPE istio_requests_total counter");
    expect(text).toContain("# TYPE istio_request_duration_milliseconds histogram");

    const sampleOf = (name: string, labels: Record<string, string>) => {
      const hits = lines.filter(
        (line) =>
          line.startsWith(`${name}{`) &&
          Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)),
      );
      expect(hits, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
      return Number(hits[0]?.split(" ").at(-1));
    };
    const canaryOk = {
      reporter: "destination",
      destination_workload_namespace: "demo-x",
      destination_workload: "myapp-v2",
      destination_version: "v2.0",
      destination_service_name: "myapp",
      destination_service: "myapp.demo-x.svc.cluster.local",
      response_code: "200",
    };
    expect(sampleOf("istio_requests_total", canaryOk)).toBe(4);
    expect(sampleOf("istio_requests_total", { ...canaryOk, response_code: "500" })).toBe(1);
    expect(
      sampleOf("istio_requests_total", {
        destination_workload: "myapp-v1",
        response_code: "503",
        response_flags: "UF",
      }),
    ).toBe(1);
    // Cumulative buckets: 3 and 7 ms are within 10 ms, 40 ms within 50, 700 ms only within 1000 and above.
    expect(sampleOf("istio_request_duration_milliseconds_bucket", { ...canaryOk, le: "5" })).toBe(1);
    expect(sampleOf("istio_request_duration_milliseconds_bucket", { ...canaryOk, le: "10" })).toBe(2);
    expect(sampleOf("istio_request_duration_milliseconds_bucket", { ...canaryOk, le: "50" })).toBe(3);
    expect(sampleOf("istio_request_duration_milliseconds_bucket", { ...canaryOk, le: "500" })).toBe(3);
    expect(sampleOf("istio_request_duration_milliseconds_bucket", { ...canaryOk, le: "1000" })).toBe(4);
    expect(sampleOf("istio_request_duration_milliseconds_bucket", { ...canaryOk, le: "+Inf" })).toBe(4);
    expect(sampleOf("istio_request_duration_milliseconds_count", canaryOk)).toBe(4);
    expect(sampleOf("istio_request_duration_milliseconds_sum", canaryOk)).toBe(750);
    expect(metrics.served()).toEqual(
      new Map([
        ["demo-x/myapp-v2", 5],
        ["demo-x/myapp-v1", 2],
      ]),
    );
  });

  it("escapes label values, so a quote cannot end a label early", () => {
    const metrics = new IstioRequestMetrics();
    metrics.record({ destination: { ...canary, version: 'v"2\\x' }, code: 200, durationMs: 1 });
    expect(metrics.render()).toContain('destination_version="v\\"2\\\\x"');
  });
});

describe("sample app and load pacing", () => {
  it("plans a 500 for a draw under the error rate and a slow answer for a draw under the slow rate", () => {
    const behaviour = {
      version: "v",
      errorRate: 0.2,
      slowRate: 0.1,
      latencyMs: [2, 20] as const,
      slowMs: [700, 1400] as const,
    };
    const fixed =
      (...draws: number[]) =>
      () =>
        draws.shift() ?? 0;
    expect(planResponse(behaviour, fixed(0.1, 0.5, 0))).toEqual({ status: 500, delayMs: 2 });
    expect(planResponse(behaviour, fixed(0.3, 0.05, 1))).toEqual({ status: 200, delayMs: 1400 });
    expect(planResponse(behaviour, fixed(0.3, 0.5, 0.5))).toEqual({ status: 200, delayMs: 11 });
  });

  it("owes requests at the rate since the start, and drops a stall's backlog beyond one burst", () => {
    expect(dueRequests(1_000, 200, 0)).toEqual({ send: 200, skip: 0 });
    expect(dueRequests(1_004, 200, 200)).toEqual({ send: 0, skip: 0 });
    expect(dueRequests(1_010, 200, 200)).toEqual({ send: 2, skip: 0 });
    expect(dueRequests(500, 200, 400)).toEqual({ send: 0, skip: 0 });
    expect(dueRequests(10_000, 200, 0)).toEqual({ send: 200, skip: 1_800 });
  });
});

// --- the router over HTTP ---------------------------------------------------------------------------------------

const NS = "demo-router-test";
let api: FakeApiServer;
let apps: SampleApp[] = [];
let router: Router;
const pollErrors: string[] = [];

function putWeights(stable: number, canary: number, headerRoute = false): void {
  const vs = demoObjects(NS, { steps: [50], intervalSeconds: 5, threshold: 2, minRequests: 1 }).find(
    (object) => object.kind === "VirtualService",
  ) as JsonObject & { spec: { http: { route: { weight: number }[] }[] } };
  const weighted = vs.spec.http[0];
  if (!weighted) throw new Error("no route in the demo VirtualService");
  weighted.route.forEach((entry, index) => {
    entry.weight = index === 0 ? stable : canary;
  });
  if (headerRoute) {
    vs.spec.http.unshift({
      match: [{ headers: { "x-canary-test": { exact: "true" } } }],
      route: [{ destination: { host: APP, subset: CANARY.subset } }],
    } as never);
  }
  api.put(vs);
}

/** Waits until the router has polled the given canary share (a limit for a broken setup, not a measurement). */
async function routerShows(canary: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (defaultShares(router.table() ?? [])[CANARY.subset] !== canary) {
    if (Date.now() > deadline) throw new Error(`the router never showed canary ${canary}%`);
    await sleep(20);
  }
}

async function send(count: number, headers: Record<string, string> = {}): Promise<Record<number, number>> {
  const codes: Record<number, number> = {};
  for (let sent = 0; sent < count; sent += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - sent) }, async () => {
        const response = await fetch(`${router.url}/hello`, { headers });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    for (const code of batch) codes[code] = (codes[code] ?? 0) + 1;
  }
  return codes;
}

const servedBy = () => {
  const served = router.served();
  return { stable: served.get(`${NS}/${STABLE.name}`) ?? 0, canary: served.get(`${NS}/${CANARY.name}`) ?? 0 };
};

beforeAll(async () => {
  api = await startFakeApiServer();
  for (const object of demoObjects(NS, { steps: [50], intervalSeconds: 5, threshold: 2, minRequests: 1 }))
    api.put(object);
  apps = await Promise.all([
    startSampleApp({ version: STABLE.version, ...HEALTHY, latencyMs: [0, 1] }),
    // Every canary answer is a 500, so the codes tell which version answered.
    startSampleApp({ version: CANARY.version, ...HEALTHY, errorRate: 1, latencyMs: [0, 1] }),
  ]);
  router = await startRouter({
    kubeConfig: api.kubeConfig(),
    pollMs: 100,
    random: seededRandom(7),
    onPollError: (line) => pollErrors.push(line),
  });
  const [stable, canary] = apps;
  const labels = (which: { name: string; version: string }) => ({
    namespace: NS,
    workload: which.name,
    version: which.version,
    service: APP,
  });
  const target: RouterTarget = {
    namespace: NS,
    virtualService: APP,
    destinations: {
      [STABLE.subset]: { url: stable?.url ?? "", labels: labels(STABLE) },
      [CANARY.subset]: { url: canary?.url ?? "", labels: labels(CANARY) },
    },
  };
  await router.follow(target);
});

afterAll(async () => {
  await router?.close();
  await Promise.all(apps.map((app) => app.close()));
  await api?.close();
});

describe("the router over HTTP", () => {
  it("refuses to follow a VirtualService that does not exist, naming it", async () => {
    await expect(router.follow({ namespace: NS, virtualService: "nope", destinations: {} })).rejects.toThrow(
      `router reading VirtualService ${NS}/nope`,
    );
    // The failed follow left the current target in place.
    expect(defaultShares(router.table() ?? [])).toEqual({ v1: 100, v2: 0 });
  });

  it("sends everything to stable at 100/0 and everything to the canary at 0/100", async () => {
    const before = servedBy();
    expect(await send(200)).toEqual({ 200: 200 });
    expect(servedBy()).toEqual({ stable: before.stable + 200, canary: before.canary });

    putWeights(0, 100);
    await routerShows(100);
    expect(await send(200)).toEqual({ 500: 200 });
    expect(servedBy()).toEqual({ stable: before.stable + 200, canary: before.canary + 200 });
  });

  it("follows a 75/25 split within tolerance, as read through client-node from the API server", async () => {
    putWeights(75, 25);
    await routerShows(25);
    const before = servedBy();
    const codes = await send(1_000);
    const canary = servedBy().canary - before.canary;
    // Binomial sd at n = 1000, p = 0.25 is 1.4%: 4.5% is over three of them (and the router's draws are seeded).
    expect(Math.abs((canary / 1_000) * 100 - 25)).toBeLessThan(4.5);
    expect(codes[500]).toBe(canary);
    expect((codes[200] ?? 0) + (codes[500] ?? 0)).toBe(1_000);
    expect(api.calls.some((call) => call.resource === "virtualservices" && call.verb === "get")).toBe(true);
  });

  it("honours a header route ahead of the weights", async () => {
    putWeights(100, 0, true);
    await routerShows(0);
    expect(await send(50, { "x-canary-test": "true" })).toEqual({ 500: 50 });
    expect(await send(50)).toEqual({ 200: 50 });
  });

  it("serves the counts on /metrics in Istio's names, matching what it routed", async () => {
    const response = await fetch(`${router.url}/metrics`);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    const { stable, canary } = servedBy();
    const count = (workload: string, code: string) =>
      Number(
        text
          .split("\n")
          .find(
            (line) =>
              line.startsWith("istio_requests_total{") &&
              line.includes(`destination_workload="${workload}"`) &&
              line.includes(`destination_workload_namespace="${NS}"`) &&
              line.includes(`response_code="${code}"`),
          )
          ?.split(" ")
          .at(-1),
      );
    expect(count(STABLE.name, "200")).toBe(stable);
    expect(count(CANARY.name, "500")).toBe(canary);
    expect(text).toMatch(
      /istio_request_duration_milliseconds_bucket\{[^}]*destination_workload="myapp-v2"[^}]*le="\+Inf"\}/,
    );
    // Scrapes are not traffic.
    expect(servedBy()).toEqual({ stable, canary });
  });

  it("keeps the last weights when a poll fails, and says so once", async () => {
    putWeights(0, 100);
    await routerShows(100);
    // Ten failed polls: a second at least, for 20 requests that take milliseconds.
    api.failNext({ resource: "virtualservices", verb: "get" }, 500, undefined, { times: 10 });
    putWeights(100, 0);
    // While the polls fail the router still routes by what it read last.
    expect(await send(20)).toEqual({ 500: 20 });
    await routerShows(0);
    expect(pollErrors.length).toBeGreaterThanOrEqual(1);
    expect(pollErrors.filter((line) => line.includes(`router reading VirtualService ${NS}/${APP}`))).toHaveLength(
      pollErrors.length,
    );
    expect(new Set(pollErrors).size).toBe(pollErrors.length);
    expect(router.stats().pollErrors).toBe(10);
  });

  it("answers 503 with flag UF when the chosen backend is down", async () => {
    await routerShows(0);
    await apps[0]?.close();
    expect(await send(5)).toEqual({ 503: 5 });
    expect(router.stats().upstreamFailures).toBe(5);
    const text = await (await fetch(`${router.url}/metrics`)).text();
    expect(text).toMatch(
      /istio_requests_total\{[^}]*destination_workload="myapp-v1"[^}]*response_code="503",response_flags="UF"[^}]*\} 5/,
    );
  });
});
