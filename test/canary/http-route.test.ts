// HTTPRoute helpers: locate the weighted rule by the canary Service, read and write backendRefs weights immutably,
// keep the header rule first. Plus the guarded patch both routers share.
import jsonPatch from "fast-json-patch";
import { describe, expect, it } from "vitest";
import {
  type HTTPRoute,
  type HTTPRouteRule,
  isServiceRef,
  type LocatedBackends,
  locateBackends,
  matchesHeaderRule,
  readBackendWeights,
  withBackendWeights,
} from "../../functions/canary/http-route.ts";
import { guardedPatch, STATUS_POINTER } from "../../functions/canary/router.ts";

const HEADER = { header: "x-canary-test", value: "true" };

const WEIGHTED: HTTPRouteRule = {
  matches: [{ path: { type: "PathPrefix", value: "/api" } }],
  backendRefs: [
    { name: "myapp-stable", port: 80, weight: 90 },
    { name: "myapp-canary", port: 80, weight: 10 },
  ],
};

function route(rules: HTTPRouteRule[] = [structuredClone(WEIGHTED)]): HTTPRoute {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "myapp", namespace: "production", resourceVersion: "7" },
    spec: { parentRefs: [{ name: "gw" }], hostnames: ["myapp.example.com"], rules },
  };
}

function located(of: HTTPRoute = route(), service = "myapp-canary"): LocatedBackends {
  const found = locateBackends(of, service);
  if (!found.located) throw new Error(found.problem);
  return found.located;
}

describe("locateBackends", () => {
  it("finds the one rule with two backendRefs, one of them the canary Service", () => {
    expect(located()).toEqual({
      ruleIndex: 0,
      stableIndex: 0,
      canaryIndex: 1,
      stable: { name: "myapp-stable", port: 80, weight: 90 },
      canary: { name: "myapp-canary", port: 80, weight: 10 },
    });
  });

  it("finds it below other rules, with the canary listed first", () => {
    const flipped = structuredClone(WEIGHTED);
    flipped.backendRefs?.reverse();
    const found = located(route([{ backendRefs: [{ name: "docs", port: 80 }] }, flipped]));
    expect(found).toMatchObject({ ruleIndex: 1, canaryIndex: 0, stableIndex: 1 });
  });

  it("ignores a header rule to the canary alone", () => {
    const header: HTTPRouteRule = {
      matches: [{ headers: [{ name: "x-canary-test", value: "true" }] }],
      backendRefs: [{ name: "myapp-canary", port: 80 }],
    };
    expect(located(route([header, structuredClone(WEIGHTED)])).ruleIndex).toBe(1);
  });

  it.each([
    [
      "no rule names the canary Service",
      route(),
      "other-canary",
      /no rule that splits traffic between Service other-canary/,
    ],
    [
      "two rules split to it",
      route([structuredClone(WEIGHTED), structuredClone(WEIGHTED)]),
      "myapp-canary",
      /in 2 rules \(indices 0, 1\): greenlight steps exactly one/,
    ],
    [
      "the rule has three backends",
      route([{ backendRefs: [...(WEIGHTED.backendRefs ?? []), { name: "myapp-old", port: 80, weight: 0 }] }]),
      "myapp-canary",
      /rules\[0\] has 3 backendRefs/,
    ],
    [
      "both backends are the canary",
      route([{ backendRefs: [{ name: "myapp-canary" }, { name: "myapp-canary" }] }]),
      "myapp-canary",
      /sends both backendRefs to the canary Service/,
    ],
  ])("reports a problem when %s", (_what, of, service, problem) => {
    const found = locateBackends(of, service);
    expect(found.located).toBeUndefined();
    expect(found.problem).toMatch(problem);
  });

  it("only counts core Services in the route's own namespace as the canary", () => {
    expect(isServiceRef({ name: "myapp-canary" }, "myapp-canary", "production")).toBe(true);
    expect(isServiceRef({ name: "myapp-canary", kind: "Service", group: "" }, "myapp-canary", "production")).toBe(true);
    expect(isServiceRef({ name: "myapp-canary", namespace: "staging" }, "myapp-canary", "production")).toBe(false);
    expect(
      isServiceRef(
        { name: "myapp-canary", kind: "ServiceImport", group: "multicluster.x-k8s.io" },
        "myapp-canary",
        "production",
      ),
    ).toBe(false);
  });
});

describe("readBackendWeights", () => {
  it("reads the weights by role", () => {
    expect(readBackendWeights(route(), located())).toEqual({ stable: 90, canary: 10 });
  });

  it("reads an absent weight as 1, the Gateway API default", () => {
    const of = route([{ backendRefs: [{ name: "myapp-stable" }, { name: "myapp-canary", weight: 0 }] }]);
    expect(readBackendWeights(of, located(of))).toEqual({ stable: 1, canary: 0 });
  });
});

describe("withBackendWeights", () => {
  it("writes both weights and leaves the input alone", () => {
    const before = route();
    const copy = structuredClone(before);
    const after = withBackendWeights(before, located(before), { stable: 75, canary: 25 });
    expect(after.spec?.rules?.[0]?.backendRefs?.map((ref) => ref.weight)).toEqual([75, 25]);
    expect(before).toEqual(copy);
  });

  it("adds the header rule first: the weighted rule's matches plus the header, to the canary alone", () => {
    const after = withBackendWeights(route(), located(), { stable: 50, canary: 50 }, HEADER);
    expect(after.spec?.rules).toHaveLength(2);
    expect(after.spec?.rules?.[0]).toEqual({
      matches: [
        {
          path: { type: "PathPrefix", value: "/api" },
          headers: [{ type: "Exact", name: "x-canary-test", value: "true" }],
        },
      ],
      backendRefs: [{ name: "myapp-canary", port: 80 }],
    });
    expect(matchesHeaderRule(after.spec?.rules?.[0] as HTTPRouteRule, HEADER)).toBe(true);
    // Written again, nothing moves.
    const again = withBackendWeights(after, located(after), { stable: 50, canary: 50 }, HEADER);
    expect(again).toEqual(after);
  });

  it("adds a header match to a rule without matches", () => {
    const of = route([{ backendRefs: structuredClone(WEIGHTED.backendRefs) }]);
    const after = withBackendWeights(of, located(of), { stable: 100, canary: 0 }, HEADER);
    expect(after.spec?.rules?.[0]?.matches).toEqual([
      { headers: [{ type: "Exact", name: "x-canary-test", value: "true" }] },
    ]);
  });

  it("moves a header rule found below the weighted rule to the top, and keeps one above it as it is", () => {
    const header: HTTPRouteRule = {
      matches: [{ headers: [{ name: "X-Canary-Test", value: "true" }] }],
      backendRefs: [{ name: "myapp-canary", port: 8080 }],
    };
    const below = route([structuredClone(WEIGHTED), structuredClone(header)]);
    const moved = withBackendWeights(below, located(below), { stable: 90, canary: 10 }, HEADER);
    expect(moved.spec?.rules?.[0]).toEqual(header);
    expect(moved.spec?.rules).toHaveLength(2);
    const above = route([structuredClone(header), structuredClone(WEIGHTED)]);
    expect(withBackendWeights(above, located(above), { stable: 90, canary: 10 }, HEADER).spec?.rules?.[0]).toEqual(
      header,
    );
  });

  it("does not take a RegularExpression match or another value for the header rule", () => {
    expect(
      matchesHeaderRule(
        { matches: [{ headers: [{ type: "RegularExpression", name: "x-canary-test", value: "true" }] }] },
        HEADER,
      ),
    ).toBe(false);
    expect(matchesHeaderRule({ matches: [{ headers: [{ name: "x-canary-test", value: "false" }] }] }, HEADER)).toBe(
      false,
    );
  });

  it("refuses weights that are not two integers summing to 100, and a route that moved", () => {
    expect(() => withBackendWeights(route(), located(), { stable: 50, canary: 49 })).toThrow(RangeError);
    expect(() => withBackendWeights(route([]), located(), { stable: 50, canary: 50 })).toThrow(/no longer has/);
  });
});

describe("guardedPatch on an HTTPRoute", () => {
  it("leads with a test on the resourceVersion, then on the status once there is one", () => {
    const before = route();
    const after = withBackendWeights(before, located(before), { stable: 80, canary: 20 });
    const patch = guardedPatch(before, after, undefined);
    expect(patch[0]).toEqual({ op: "test", path: "/metadata/resourceVersion", value: "7" });
    expect(patch.slice(1)).toEqual([
      { op: "replace", path: "/spec/rules/0/backendRefs/1/weight", value: 20 },
      { op: "replace", path: "/spec/rules/0/backendRefs/0/weight", value: 80 },
    ]);
    expect(jsonPatch.applyPatch(structuredClone(before), patch).newDocument).toEqual(after);
    expect(guardedPatch(before, after, "{}")[0]).toEqual({ op: "test", path: STATUS_POINTER, value: "{}" });
  });
});
