// VirtualService helpers on the seed's myapp objects: locate the weighted route, read and write weights immutably.
import { describe, expect, it } from "vitest";
import {
  type DestinationRule,
  type HttpRoute,
  type LocatedRoutes,
  locateRoutes,
  readWeights,
  type VirtualService,
  withWeights,
} from "../../functions/canary/virtual-service.ts";
import { destinationRule, seedAsWritten, virtualService } from "./fixtures.ts";

const HEADER = { header: "x-canary-test", value: "true" };

function located(vs: VirtualService = virtualService(), dr: DestinationRule = destinationRule()): LocatedRoutes {
  const found = locateRoutes(vs, dr, "v2.0");
  if (!found.located) throw new Error(found.problem);
  return found.located;
}

const withHttp = (http: HttpRoute[]): VirtualService => {
  const vs = virtualService();
  return { ...vs, spec: { ...vs.spec, http } };
};

describe("locateRoutes", () => {
  it("finds the seed's weighted route below the header route", () => {
    expect(located()).toEqual({
      routeIndex: 1,
      stableIndex: 0,
      canaryIndex: 1,
      stable: { host: "myapp", subset: "v1" },
      canary: { host: "myapp", subset: "v2" },
      canarySubset: "v2",
      stableSubset: "v1",
      stableVersion: "v1.0",
    });
  });

  it("finds the canary whichever version is the canary", () => {
    const found = locateRoutes(virtualService(), destinationRule(), "v1.0").located;
    expect(found).toMatchObject({ routeIndex: 1, canaryIndex: 0, stableIndex: 1, stableVersion: "v2.0" });
  });

  it("accepts a fully qualified host on either side", () => {
    const vs = virtualService();
    const route = vs.spec?.http?.[1]?.route;
    for (const entry of route ?? []) entry.destination.host = "myapp.production.svc.cluster.local";
    expect(locateRoutes(vs, destinationRule(), "v2.0").located?.routeIndex).toBe(1);
  });

  it("reports the seed as written: its merged item leaves no weighted route", () => {
    expect(locateRoutes(seedAsWritten(), destinationRule(), "v2.0").problem).toBe(
      "VirtualService production/myapp has no http route that splits traffic between subset v2 (version v2.0) " +
        "and another destination: add a route with two weighted destinations",
    );
  });

  it.each([
    [
      "no subset for the version",
      virtualService(),
      destinationRule(),
      "v3.0",
      'DestinationRule production/myapp has no subset with labels.version "v3.0": it has v1 (version "v1.0"), v2 (version "v2.0")',
    ],
    [
      "a DestinationRule without subsets",
      virtualService(),
      { metadata: { name: "myapp" }, spec: { host: "myapp" } },
      "v2.0",
      'DestinationRule myapp has no subset with labels.version "v2.0": it has none',
    ],
    [
      "two subsets for one version",
      virtualService(),
      {
        ...destinationRule(),
        spec: {
          host: "myapp",
          subsets: [
            { name: "a", labels: { version: "v2.0" } },
            { name: "b", labels: { version: "v2.0" } },
          ],
        },
      },
      "v2.0",
      'DestinationRule production/myapp has 2 subsets with labels.version "v2.0" (a, b): keep one',
    ],
    [
      "a route to another host's v2 subset",
      withHttp([
        {
          route: [
            { destination: { host: "other", subset: "v1" }, weight: 90 },
            { destination: { host: "other", subset: "v2" }, weight: 10 },
          ],
        },
      ]),
      destinationRule(),
      "v2.0",
      "VirtualService production/myapp has no http route that splits traffic between subset v2",
    ],
    [
      "two weighted routes",
      withHttp([virtualService().spec?.http?.[1] as HttpRoute, virtualService().spec?.http?.[1] as HttpRoute]),
      destinationRule(),
      "v2.0",
      "VirtualService production/myapp splits traffic to subset v2 in 2 http routes (indices 0, 1): greenlight steps exactly one",
    ],
    [
      "three destinations",
      withHttp([
        {
          route: [
            { destination: { host: "myapp", subset: "v1" }, weight: 80 },
            { destination: { host: "myapp", subset: "v2" }, weight: 10 },
            { destination: { host: "myapp", subset: "v0" }, weight: 10 },
          ],
        },
      ]),
      destinationRule(),
      "v2.0",
      "VirtualService production/myapp http[0] has 3 destinations: greenlight steps exactly two (stable and canary)",
    ],
    [
      "both destinations on the canary subset",
      withHttp([
        {
          route: [
            { destination: { host: "myapp", subset: "v2" }, weight: 50 },
            { destination: { host: "myapp", subset: "v2" }, weight: 50 },
          ],
        },
      ]),
      destinationRule(),
      "v2.0",
      "VirtualService production/myapp http[0] sends both destinations to the canary subset v2",
    ],
    [
      "a VirtualService without http routes",
      { metadata: { name: "myapp" }, spec: { hosts: ["myapp"] } },
      destinationRule(),
      "v2.0",
      "VirtualService myapp has no http route",
    ],
  ] as [string, VirtualService, DestinationRule, string, string][])("%s", (_what, vs, dr, version, problem) => {
    const found = locateRoutes(vs, dr, version);
    expect(found.located).toBeUndefined();
    expect(found.problem).toContain(problem);
  });
});

describe("readWeights", () => {
  it("reads the seed's 90/10", () => {
    expect(readWeights(virtualService(), located())).toEqual({ stable: 90, canary: 10 });
  });

  it("reads a missing or non-numeric weight as 0", () => {
    const vs = virtualService();
    const route = vs.spec?.http?.[1]?.route ?? [];
    delete route[0]?.weight;
    (route[1] as { weight: unknown }).weight = "10";
    expect(readWeights(vs, located())).toEqual({ stable: 0, canary: 0 });
  });
});

describe("withWeights", () => {
  it("writes the weights into a copy and leaves the input untouched", () => {
    const vs = virtualService();
    const before = structuredClone(vs);
    const next = withWeights(vs, located(vs), { stable: 75, canary: 25 }, HEADER);
    expect(vs).toEqual(before);
    expect(next).not.toBe(vs);
    expect(readWeights(next, located(next))).toEqual({ stable: 75, canary: 25 });
    // The header route was already first: everything else is exactly as it was.
    const expected = virtualService();
    const route = expected.spec?.http?.[1]?.route ?? [];
    (route[0] as { weight: number }).weight = 75;
    (route[1] as { weight: number }).weight = 25;
    expect(next).toEqual(expected);
  });

  it("creates the header route first when it is missing", () => {
    const vs = withHttp([virtualService().spec?.http?.[1] as HttpRoute]);
    const next = withWeights(vs, located(vs), { stable: 95, canary: 5 }, HEADER);
    expect(next.spec?.http?.[0]).toEqual({
      match: [{ headers: { "x-canary-test": { exact: "true" } } }],
      route: [{ destination: { host: "myapp", subset: "v2" } }],
    });
    expect(next.spec?.http?.[1]?.route?.map((entry) => entry.weight)).toEqual([95, 5]);
    expect(next.spec?.http?.[1]?.timeout).toBe("5s");
  });

  it("moves a header route that sits below the weighted route to the top, unchanged", () => {
    const [header, weighted] = virtualService().spec?.http ?? [];
    const vs = withHttp([weighted as HttpRoute, header as HttpRoute]);
    const next = withWeights(vs, located(vs), { stable: 50, canary: 50 }, HEADER);
    expect(next.spec?.http?.[0]).toEqual(header);
    expect(next.spec?.http).toHaveLength(2);
  });

  it("leaves a header route above the weighted route where it is, after other routes", () => {
    const admin: HttpRoute = { match: [{ uri: { prefix: "/admin" } }], route: [{ destination: { host: "admin" } }] };
    const [header, weighted] = virtualService().spec?.http ?? [];
    const vs = withHttp([admin, header as HttpRoute, weighted as HttpRoute]);
    const next = withWeights(vs, located(vs), { stable: 50, canary: 50 }, HEADER);
    expect(next.spec?.http?.slice(0, 2)).toEqual([admin, header]);
  });

  it("adds no header route unless one is configured", () => {
    const vs = withHttp([virtualService().spec?.http?.[1] as HttpRoute]);
    expect(withWeights(vs, located(vs), { stable: 0, canary: 100 }).spec?.http).toHaveLength(1);
  });

  it.each([[{ stable: 60, canary: 30 }], [{ stable: 90.5, canary: 9.5 }], [{ stable: 110, canary: -10 }]])(
    "refuses weights %j",
    (weights) => {
      expect(() => withWeights(virtualService(), located(), weights)).toThrow(RangeError);
    },
  );

  it("refuses a VirtualService the located route is not in", () => {
    expect(() => withWeights(seedAsWritten(), located(), { stable: 50, canary: 50 })).toThrow(RangeError);
  });
});
