// Pure helpers on Istio VirtualService and DestinationRule objects: find the canary route, read and write weights.
//
// API:
// - `locateRoutes(vs, dr, canaryVersion) -> { located } | { problem }`: the weighted route and its two destinations.
//   The canary subset is the DestinationRule subset whose `labels.version` is the canary version; the weighted
//   route is the one http route with exactly two destinations, one of them that subset; stable is the other.
// - `locate(vs, destinationRules, canaryVersion)`: `locateRoutes` with the DestinationRule for the route's hosts.
// - `readWeights(vs, located)`: the weights as they are now (a missing or non-numeric weight reads as 0).
// - `withWeights(vs, located, weights, headerRoute?)`: a new VirtualService with the weights written and, when a
//   header route is configured, a header-match route to the canary first; the input is never modified.

import type { HeaderRoute } from "../contract/annotations.ts";
import { isObject } from "../contract/objects.ts";
import { assertValidWeights, type Weights } from "./weights.ts";

export interface Destination {
  host: string;
  subset?: string;
  [field: string]: unknown;
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
  [field: string]: unknown;
}

export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface HttpMatch {
  headers?: Record<string, StringMatch>;
  [field: string]: unknown;
}

export interface HttpRoute {
  name?: string;
  match?: HttpMatch[];
  route?: RouteDestination[];
  [field: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface VirtualService {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: { hosts?: string[]; http?: HttpRoute[]; [field: string]: unknown };
  [field: string]: unknown;
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

export interface DestinationRule {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: { host?: string; subsets?: Subset[]; [field: string]: unknown };
  [field: string]: unknown;
}

/** Where the canary's weights live in `spec.http`; indices refer to the VirtualService that was searched. */
export interface LocatedRoutes {
  routeIndex: number;
  stableIndex: number;
  canaryIndex: number;
  stable: Destination;
  canary: Destination;
  canarySubset: string;
  stableSubset?: string;
  /** `labels.version` of the stable subset, when the DestinationRule names one. */
  stableVersion?: string;
}

export type Located = { located: LocatedRoutes; problem?: undefined } | { located?: undefined; problem: string };

const nameOf = (object: { metadata?: ObjectMeta } | undefined): string => {
  const meta = object?.metadata;
  return meta?.namespace ? `${meta.namespace}/${meta.name ?? "?"}` : (meta?.name ?? "?");
};

/** `myapp` and `myapp.production.svc.cluster.local` name the same Service. */
export const sameHost = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);

const subsetsOf = (dr: DestinationRule): Subset[] =>
  Array.isArray(dr.spec?.subsets) ? dr.spec.subsets.filter((subset) => isObject(subset)) : [];

const describeSubsets = (subsets: Subset[]): string =>
  subsets.length === 0
    ? "it has none"
    : `it has ${subsets.map((s) => `${s.name} (version ${JSON.stringify(s.labels?.version ?? null)})`).join(", ")}`;

const routeDestinations = (route: HttpRoute): RouteDestination[] =>
  Array.isArray(route.route) ? route.route.filter((entry) => isObject(entry) && isObject(entry.destination)) : [];

export function locateRoutes(vs: VirtualService, dr: DestinationRule, canaryVersion: string): Located {
  const subsets = subsetsOf(dr);
  const matching = subsets.filter((subset) => subset.labels?.version === canaryVersion);
  if (matching.length === 0) {
    return {
      problem: `DestinationRule ${nameOf(dr)} has no subset with labels.version "${canaryVersion}": ${describeSubsets(subsets)}`,
    };
  }
  if (matching.length > 1) {
    return {
      problem: `DestinationRule ${nameOf(dr)} has ${matching.length} subsets with labels.version "${canaryVersion}" (${matching.map((s) => s.name).join(", ")}): keep one`,
    };
  }
  const canarySubset = (matching[0] as Subset).name;
  const drHost = typeof dr.spec?.host === "string" ? dr.spec.host : undefined;
  const isCanary = (destination: Destination) =>
    destination.subset === canarySubset && (drHost === undefined || sameHost(destination.host, drHost));

  const http = Array.isArray(vs.spec?.http) ? vs.spec.http : [];
  const candidates: number[] = [];
  http.forEach((route, index) => {
    if (!isObject(route)) return;
    const destinations = routeDestinations(route);
    if (destinations.length >= 2 && destinations.some((entry) => isCanary(entry.destination))) candidates.push(index);
  });
  if (candidates.length === 0) {
    return {
      problem:
        `VirtualService ${nameOf(vs)} has no http route that splits traffic between subset ${canarySubset} ` +
        `(version ${canaryVersion}) and another destination: add a route with two weighted destinations`,
    };
  }
  if (candidates.length > 1) {
    return {
      problem: `VirtualService ${nameOf(vs)} splits traffic to subset ${canarySubset} in ${candidates.length} http routes (indices ${candidates.join(", ")}): greenlight steps exactly one`,
    };
  }
  const routeIndex = candidates[0] as number;
  const route = http[routeIndex] as HttpRoute;
  const entries = Array.isArray(route.route) ? route.route : [];
  if (entries.length !== 2) {
    return {
      problem: `VirtualService ${nameOf(vs)} http[${routeIndex}] has ${entries.length} destinations: greenlight steps exactly two (stable and canary)`,
    };
  }
  const canaryIndex = entries.findIndex((entry) => isCanary(entry.destination));
  const stableIndex = 1 - canaryIndex;
  const canary = (entries[canaryIndex] as RouteDestination).destination;
  const stable = (entries[stableIndex] as RouteDestination).destination;
  if (isCanary(stable)) {
    return {
      problem: `VirtualService ${nameOf(vs)} http[${routeIndex}] sends both destinations to the canary subset ${canarySubset}`,
    };
  }
  const located: LocatedRoutes = {
    routeIndex,
    stableIndex,
    canaryIndex,
    stable: structuredClone(stable),
    canary: structuredClone(canary),
    canarySubset,
  };
  if (stable.subset !== undefined) {
    located.stableSubset = stable.subset;
    const stableVersion = subsets.find((subset) => subset.name === stable.subset)?.labels?.version;
    if (stableVersion !== undefined) located.stableVersion = stableVersion;
  }
  return { located };
}

/** The DestinationRule for the VirtualService's hosts that lets the routes be located (several may be tried). */
export function locate(
  vs: VirtualService,
  rules: readonly DestinationRule[],
  version: string,
): { located: LocatedRoutes } | { problem: string } {
  const hosts = (vs.spec?.http ?? []).flatMap((route) => (route.route ?? []).map((r) => r.destination?.host ?? ""));
  const candidates = rules.filter((rule) => hosts.some((host) => host && sameHost(host, rule.spec?.host ?? "")));
  if (candidates.length === 0) {
    return { problem: `no DestinationRule for host ${hosts[0] ?? "?"} in ${vs.metadata?.namespace}` };
  }
  let problem = "";
  for (const rule of candidates) {
    const found = locateRoutes(vs, rule, version);
    if (found.located) return { located: found.located };
    problem ||= found.problem;
  }
  return { problem };
}

const weightAt = (vs: VirtualService, routeIndex: number, index: number): number => {
  const weight = vs.spec?.http?.[routeIndex]?.route?.[index]?.weight;
  return typeof weight === "number" && Number.isFinite(weight) ? weight : 0;
};

export function readWeights(vs: VirtualService, located: LocatedRoutes): Weights {
  return {
    stable: weightAt(vs, located.routeIndex, located.stableIndex),
    canary: weightAt(vs, located.routeIndex, located.canaryIndex),
  };
}

/** Whether an http route matches requests carrying the header route's exact value. */
export function matchesHeader(route: HttpRoute, headerRoute: HeaderRoute): boolean {
  if (!Array.isArray(route.match)) return false;
  return route.match.some(
    (match) =>
      isObject(match) && isObject(match.headers) && match.headers[headerRoute.header]?.exact === headerRoute.value,
  );
}

/**
 * A new VirtualService with `weights` on the located route. With `headerRoute`, a route sending matching requests to
 * the canary is kept above every other route: created first when missing, moved to the top when it sits below the
 * weighted route (where it could never match), and otherwise left exactly as it is.
 * Throws a RangeError for weights that are not two integers summing to 100, or a VirtualService that is not the
 * one `located` was found in: both are programming errors, not user input.
 */
export function withWeights(
  vs: VirtualService,
  located: LocatedRoutes,
  weights: Weights,
  headerRoute?: HeaderRoute,
): VirtualService {
  assertValidWeights(weights);
  const copy = structuredClone(vs);
  const http = copy.spec?.http;
  const entries = http?.[located.routeIndex]?.route;
  const stable = entries?.[located.stableIndex];
  const canary = entries?.[located.canaryIndex];
  if (!http || !stable || !canary || canary.destination?.subset !== located.canarySubset) {
    throw new RangeError(`the VirtualService no longer has the located route http[${located.routeIndex}]`);
  }
  stable.weight = weights.stable;
  canary.weight = weights.canary;
  if (headerRoute) {
    const existing = http.findIndex((route) => isObject(route) && matchesHeader(route, headerRoute));
    if (existing < 0) {
      http.unshift({
        match: [{ headers: { [headerRoute.header]: { exact: headerRoute.value } } }],
        route: [{ destination: structuredClone(canary.destination) }],
      });
    } else if (existing > located.routeIndex) {
      const [moved] = http.splice(existing, 1);
      http.unshift(moved as HttpRoute);
    }
  }
  return copy;
}
