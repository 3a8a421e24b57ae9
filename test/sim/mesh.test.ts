// The simulated mesh: VirtualService weights and header routes, DestinationRule subsets, Service selectors, and the
// Istio counters it leaves for the metrics store (labels, histogram shape, error counts).
import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { DestinationRule, HttpRoute, VirtualService } from "../../functions/canary/virtual-service.ts";
import { Counters, type Labels } from "../../scripts/sim/counters.ts";
import {
  binomial,
  DURATION_LE,
  latencyShape,
  type MeshInput,
  poisson,
  routeTraffic,
  type ServiceLoad,
  type TrafficProfile,
  type TrafficTally,
} from "../../scripts/sim/mesh.ts";
import { createRandom } from "../../scripts/sim/random.ts";

const NS = "production";
const T0 = Date.UTC(2026, 0, 1);

function pod(workload: string, hash: string, index: number, labels: Record<string, string>, ready = true): V1Pod {
  const rs = `${workload}-${hash}`;
  return {
    metadata: {
      name: `${rs}-${index}`,
      namespace: NS,
      labels: { ...labels, "pod-template-hash": hash },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: rs, uid: `${rs}-uid`, controller: true }],
    },
    status: { phase: "Running", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  };
}

const pods = (workload: string, hash: string, count: number, labels: Record<string, string>, ready = true) =>
  Array.from({ length: count }, (_, i) => pod(workload, hash, i, labels, ready));

const service = (name: string, selector: Record<string, string>): V1Service => ({
  metadata: { name, namespace: NS },
  spec: { selector, ports: [{ port: 80 }] },
});

const destinationRule: DestinationRule = {
  metadata: { name: "myapp", namespace: NS },
  spec: {
    host: "myapp",
    subsets: [
      { name: "stable", labels: { version: "v1" } },
      { name: "canary", labels: { version: "v2" } },
    ],
  },
};

function virtualService(stable: number, canary: number, headerRoute = false): VirtualService {
  const http: HttpRoute[] = [
    {
      name: "primary",
      route: [
        { destination: { host: "myapp", subset: "stable" }, weight: stable },
        { destination: { host: "myapp", subset: "canary" }, weight: canary },
      ],
    },
  ];
  if (headerRoute) {
    http.unshift({
      name: "canary-header",
      match: [{ headers: { "x-canary-test": { exact: "true" } } }],
      route: [{ destination: { host: "myapp", subset: "canary" } }],
    });
  }
  return { metadata: { name: "myapp", namespace: NS }, spec: { hosts: ["myapp"], http } };
}

const STABLE = pods("myapp", "stablehash", 3, { app: "myapp", version: "v1" });
const CANARY = pods("myapp-canary", "canaryhash", 1, { app: "myapp", version: "v2" });
const HEALTHY: TrafficProfile = { errorRate: 0, latencyP50Ms: 40, latencyP99Ms: 400 };

interface Scenario {
  loads: ServiceLoad[];
  pods: V1Pod[];
  services?: V1Service[];
  virtualServices?: VirtualService[];
  destinationRules?: DestinationRule[];
  profileOf?: MeshInput["profileOf"];
  ticks?: number;
  dtSeconds?: number;
  seed?: number;
  counters?: Counters;
}

/** Runs `ticks` calls and sums the tallies. */
function run(scenario: Scenario): {
  counters: Counters;
  served: Map<string, number>;
  errors: Map<string, number>;
  unroutable: TrafficTally["unroutable"];
} {
  const counters = scenario.counters ?? new Counters();
  const random = createRandom(scenario.seed ?? 1);
  const served = new Map<string, number>();
  const errors = new Map<string, number>();
  const unroutable: TrafficTally["unroutable"] = [];
  const dtSeconds = scenario.dtSeconds ?? 5;
  for (let tick = 0; tick < (scenario.ticks ?? 60); tick++) {
    const tally = routeTraffic({
      dtSeconds,
      nowMs: T0 + tick * dtSeconds * 1000,
      loads: scenario.loads,
      services: scenario.services ?? [service("myapp", { app: "myapp" })],
      virtualServices: scenario.virtualServices ?? [],
      destinationRules: scenario.destinationRules ?? [destinationRule],
      pods: scenario.pods,
      profileOf: scenario.profileOf ?? (() => HEALTHY),
      random,
      counters,
    });
    for (const entry of tally.served) {
      served.set(entry.workload, (served.get(entry.workload) ?? 0) + entry.requests);
      errors.set(entry.workload, (errors.get(entry.workload) ?? 0) + entry.errors);
    }
    for (const entry of tally.unroutable) {
      const found = unroutable.find((u) => u.service === entry.service && u.subset === entry.subset);
      if (found) found.requests += entry.requests;
      else unroutable.push({ ...entry });
    }
  }
  return { counters, served, errors, unroutable };
}

const sumOf = (counters: Counters, name: string, match: Partial<Record<string, string>> = {}): number =>
  counters
    .snapshot()
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);

const total = (map: Map<string, number>): number => [...map.values()].reduce((a, b) => a + b, 0);

const LOAD: ServiceLoad = { namespace: NS, service: "myapp", rps: 100 };

describe("routeTraffic: VirtualService weights and header routes", () => {
  it.each([
    [90, 10],
    [50, 50],
    [100, 0],
    [0, 100],
  ])("splits stable %i / canary %i in proportion", (stable, canary) => {
    const { served, counters, unroutable } = run({
      loads: [LOAD],
      pods: [...STABLE, ...CANARY],
      virtualServices: [virtualService(stable, canary)],
    });
    const all = total(served);
    expect(all).toBeGreaterThan(30_000 * 0.97);
    expect(all).toBeLessThan(30_000 * 1.03);
    expect((served.get("myapp-canary") ?? 0) / all).toBeCloseTo(canary / 100, 1.5);
    expect(Math.abs((served.get("myapp-canary") ?? 0) / all - canary / 100)).toBeLessThan(0.01);
    expect(unroutable).toEqual([]);
    // The counters say what the tally says, per workload, under the labels the canary checks select.
    for (const workload of ["myapp", "myapp-canary"]) {
      const selector = { reporter: "destination", destination_workload_namespace: NS, destination_workload: workload };
      expect(sumOf(counters, "istio_requests_total", selector)).toBe(served.get(workload) ?? 0);
    }
  });

  it("accepts the Service's full name as the load's host", () => {
    const { served } = run({
      loads: [{ ...LOAD, service: `myapp.${NS}.svc.cluster.local` }],
      pods: [...STABLE, ...CANARY],
      virtualServices: [virtualService(80, 20)],
    });
    expect((served.get("myapp-canary") ?? 0) / total(served)).toBeGreaterThan(0.18);
    expect((served.get("myapp-canary") ?? 0) / total(served)).toBeLessThan(0.22);
  });

  it("routes the header share to the canary through a header match, the rest by weight", () => {
    const headers = { "X-Canary-Test": "true" };
    const withHeader = run({
      loads: [{ ...LOAD, headerShare: 0.2, headers }],
      pods: [...STABLE, ...CANARY],
      virtualServices: [virtualService(100, 0, true)],
    });
    const share = (withHeader.served.get("myapp-canary") ?? 0) / total(withHeader.served);
    expect(share).toBeGreaterThan(0.19);
    expect(share).toBeLessThan(0.21);
    const wrongValue = run({
      loads: [{ ...LOAD, headerShare: 0.2, headers: { "x-canary-test": "false" } }],
      pods: [...STABLE, ...CANARY],
      virtualServices: [virtualService(100, 0, true)],
    });
    expect(wrongValue.served.get("myapp-canary")).toBeUndefined();
  });

  it("sends a subset without Ready pods nowhere: unroutable, and nothing in the canary's counters", () => {
    const unready = pods("myapp-canary", "canaryhash", 2, { app: "myapp", version: "v2" }, false);
    const { served, counters, unroutable } = run({
      loads: [LOAD],
      pods: [...STABLE, ...unready],
      virtualServices: [virtualService(90, 10)],
    });
    expect(served.get("myapp-canary")).toBeUndefined();
    expect(sumOf(counters, "istio_requests_total", { destination_workload: "myapp-canary" })).toBe(0);
    expect(counters.snapshot().some((s) => s.labels.destination_workload === "myapp-canary")).toBe(false);
    expect(unroutable).toHaveLength(1);
    expect(unroutable[0]).toMatchObject({ namespace: NS, service: "myapp", subset: "canary" });
    const share = (unroutable[0]?.requests ?? 0) / (total(served) + (unroutable[0]?.requests ?? 0));
    expect(Math.abs(share - 0.1)).toBeLessThan(0.01);
  });

  it("treats a subset the DestinationRule lacks, and a Service without pods, as unroutable", () => {
    const vs = virtualService(50, 50);
    const missing: DestinationRule = {
      ...destinationRule,
      spec: { host: "myapp", subsets: [{ name: "stable", labels: { version: "v1" } }] },
    };
    const { unroutable } = run({
      loads: [LOAD],
      pods: STABLE,
      virtualServices: [vs],
      destinationRules: [missing],
      ticks: 5,
    });
    expect(unroutable.map((u) => u.subset)).toEqual(["canary"]);
    const nobody = run({ loads: [LOAD], pods: [], ticks: 5 });
    expect(nobody.unroutable).toEqual([expect.objectContaining({ service: "myapp", requests: expect.any(Number) })]);
    expect(nobody.counters.size).toBe(0);
  });
});

describe("routeTraffic: Service selectors", () => {
  it("moves all traffic when a blue/green Service switches its selector", () => {
    const blue = pods("myapp-blue", "bluehash", 2, { app: "myapp", version: "blue" });
    const green = pods("myapp-green", "greenhash", 2, { app: "myapp", version: "green" });
    const counters = new Counters();
    const before = run({
      loads: [LOAD],
      pods: [...blue, ...green],
      services: [service("myapp", { app: "myapp", version: "blue" })],
      ticks: 10,
      counters,
    });
    expect([...before.served.keys()]).toEqual(["myapp-blue"]);
    const after = run({
      loads: [LOAD],
      pods: [...blue, ...green],
      services: [service("myapp", { app: "myapp", version: "green" })],
      ticks: 10,
      counters,
    });
    expect([...after.served.keys()]).toEqual(["myapp-green"]);
    expect(sumOf(counters, "istio_requests_total", { destination_workload: "myapp-blue" })).toBe(
      before.served.get("myapp-blue"),
    );
  });

  it("spreads a Service's requests evenly over its Ready pods only", () => {
    const mixed = [...pods("web", "h1", 3, { app: "web" }), ...pods("web", "h2", 1, { app: "web" }, false)];
    const { served } = run({
      loads: [{ namespace: NS, service: "web", rps: 40 }],
      pods: mixed,
      services: [service("web", { app: "web" })],
    });
    expect([...served.keys()]).toEqual(["web"]);
    expect(total(served)).toBeGreaterThan(12_000 * 0.95);
  });
});

describe("routeTraffic: Istio's metrics", () => {
  it("labels the destination reporter's series with the compact set the checks select on", () => {
    const { counters } = run({ loads: [LOAD], pods: CANARY, ticks: 1 });
    const series = counters.snapshot().find((s) => s.name === "istio_requests_total");
    expect(series?.labels).toEqual({
      reporter: "destination",
      destination_workload: "myapp-canary",
      destination_workload_namespace: NS,
      destination_version: "v2",
      destination_service: `myapp.${NS}.svc.cluster.local`,
      destination_service_name: "myapp",
      destination_service_namespace: NS,
      destination_app: "myapp",
      source_workload: "loadgen",
      source_workload_namespace: NS,
      request_protocol: "http",
      response_code: "200",
      response_flags: "-",
      connection_security_policy: "mutual_tls",
    });
  });

  it("keeps buckets monotone with +Inf equal to the count, and fills them by the log-normal's shares", () => {
    const profiles: Record<string, TrafficProfile> = {
      v1: { errorRate: 0.01, latencyP50Ms: 40, latencyP99Ms: 400 },
      v2: { errorRate: 0.2, latencyP50Ms: 300, latencyP99Ms: 2000 },
    };
    const { counters } = run({
      loads: [{ ...LOAD, rps: 3 }],
      pods: [...STABLE, ...CANARY],
      virtualServices: [virtualService(80, 20)],
      profileOf: (p) => profiles[p.metadata?.labels?.version ?? ""] ?? HEALTHY,
      ticks: 400,
    });
    const samples = counters.snapshot();
    const families = new Map<string, Map<string, number>>();
    const keyOf = (labels: Labels) => `${labels.destination_workload}/${labels.response_code}`;
    for (const s of samples.filter((x) => x.name === "istio_request_duration_milliseconds_bucket")) {
      const family = families.get(keyOf(s.labels)) ?? new Map<string, number>();
      family.set(s.labels.le ?? "", s.value);
      families.set(keyOf(s.labels), family);
    }
    expect([...families.keys()].sort()).toEqual(["myapp-canary/200", "myapp-canary/503", "myapp/200", "myapp/503"]);
    for (const [key, family] of families) {
      expect([...family.keys()]).toEqual([...DURATION_LE]);
      const values = DURATION_LE.map((le) => family.get(le) ?? 0);
      for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1] ?? 0);
      const [workload, code] = key.split("/");
      const match = { destination_workload: workload, response_code: code };
      const count = sumOf(counters, "istio_request_duration_milliseconds_count", match);
      expect(values.at(-1)).toBe(count);
      expect(sumOf(counters, "istio_requests_total", match)).toBe(count);
    }
    // Low traffic (about 12 stable requests a tick) still fills the tail: shares match the distribution.
    const stable = families.get("myapp/200")!;
    const count = stable.get("+Inf") ?? 1;
    const shape = latencyShape(40, 400);
    const expectedBelow = (le: string) => shape.shares.slice(0, DURATION_LE.indexOf(le) + 1).reduce((a, b) => a + b, 0);
    for (const le of ["25", "50", "100", "250", "500"]) {
      expect(Math.abs((stable.get(le) ?? 0) / count - expectedBelow(le))).toBeLessThan(0.01);
    }
    expect(expectedBelow("50")).toBeGreaterThan(0.55);
    expect(expectedBelow("50")).toBeLessThan(0.62);
    const meanMs =
      sumOf(counters, "istio_request_duration_milliseconds_sum", {
        destination_workload: "myapp",
        response_code: "200",
      }) / count;
    expect(meanMs).toBeCloseTo(shape.meanMs, 6);
  });

  it("counts errors near the error rate as 503s", () => {
    const { counters, served, errors } = run({
      loads: [LOAD],
      pods: STABLE,
      profileOf: () => ({ errorRate: 0.05, latencyP50Ms: 20, latencyP99Ms: 100 }),
    });
    const rate = (errors.get("myapp") ?? 0) / (served.get("myapp") ?? 1);
    expect(Math.abs(rate - 0.05)).toBeLessThan(0.006);
    expect(sumOf(counters, "istio_requests_total", { response_code: "503" })).toBe(errors.get("myapp"));
    expect(sumOf(counters, "istio_requests_total", { response_code: "200" })).toBe(
      (served.get("myapp") ?? 0) - (errors.get("myapp") ?? 0),
    );
  });

  it("replays the same counters from the same seed", () => {
    const scenario = {
      loads: [LOAD],
      pods: [...STABLE, ...CANARY],
      virtualServices: [virtualService(70, 30)],
      ticks: 20,
    };
    const a = JSON.stringify(run({ ...scenario, seed: 3 }).counters.snapshot());
    expect(JSON.stringify(run({ ...scenario, seed: 3 }).counters.snapshot())).toBe(a);
    expect(JSON.stringify(run({ ...scenario, seed: 4 }).counters.snapshot())).not.toBe(a);
  });
});

describe("draws", () => {
  it.each([0.3, 4, 29, 31, 500])("poisson(%d) has that mean and variance", (mean) => {
    const random = createRandom(11);
    const draws = Array.from({ length: 20_000 }, () => poisson(random, mean));
    const average = draws.reduce((a, b) => a + b, 0) / draws.length;
    const variance = draws.reduce((a, b) => a + (b - average) ** 2, 0) / draws.length;
    expect(Math.abs(average - mean)).toBeLessThan(0.05 * mean + 0.02);
    expect(Math.abs(variance - mean)).toBeLessThan(0.1 * mean + 0.05);
    expect(draws.every((d) => Number.isInteger(d) && d >= 0)).toBe(true);
  });

  it.each([
    [10, 0.5],
    [1000, 0.001],
    [1000, 0.05],
    [1000, 0.999],
  ])("binomial(%d, %d) stays within [0, n] around n p", (n, p) => {
    const random = createRandom(12);
    const draws = Array.from({ length: 20_000 }, () => binomial(random, n, p));
    const average = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(Math.abs(average - n * p)).toBeLessThan(0.03 * n * p + 0.05);
    expect(draws.every((d) => Number.isInteger(d) && d >= 0 && d <= n)).toBe(true);
  });
});
