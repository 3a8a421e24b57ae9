// Pure helpers on Gateway API HTTPRoutes (gateway.networking.k8s.io/v1): find the canary's weighted rule, read and
// write its backendRefs weights, keep a header rule to the canary.
//
// API:
// - `locateBackends(route, canaryService) -> { located } | { problem }`: the weighted rule and its two backends. The
//   canary backend is the Service backendRef named `canaryService` (greenlight.dev/canary-service); the weighted rule
//   is the one rule with two or more backendRefs, one of them the canary; it must have exactly two; stable is the
//   other one.
// - `readBackendWeights(route, located)`: the weights as they are now. An absent weight reads as 1, the Gateway API
//   default; a non-numeric one as 0.
// - `withBackendWeights(route, located, weights, headerRoute?)`: a new HTTPRoute with the weights written and, with a
//   header route, a rule sending matching requests to the canary kept first; the input is never modified.

import type { HeaderRoute } from "../contract/annotations.ts";
import { isObject } from "../contract/objects.ts";
import type { ObjectMeta } from "./virtual-service.ts";
import { assertValidWeights, type Weights } from "./weights.ts";

export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

/** A backendRef; greenlight only weighs core Services (group "" and kind Service, both the defaults). */
export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  [field: string]: unknown;
}

export interface HTTPHeaderMatch {
  type?: "Exact" | "RegularExpression" | string;
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path?: { type?: string; value?: string };
  headers?: HTTPHeaderMatch[];
  [field: string]: unknown;
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  backendRefs?: BackendRef[];
  [field: string]: unknown;
}

export interface HTTPRoute {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: { parentRefs?: unknown[]; hostnames?: string[]; rules?: HTTPRouteRule[]; [field: string]: unknown };
  [field: string]: unknown;
}

/** Where the canary's weights live in `spec.rules`; indices refer to the HTTPRoute that was searched. */
export interface LocatedBackends {
  ruleIndex: number;
  stableIndex: number;
  canaryIndex: number;
  stable: BackendRef;
  canary: BackendRef;
}

export type LocatedRule = { located: LocatedBackends; problem?: undefined } | { located?: undefined; problem: string };

const nameOf = (route: HTTPRoute): string => {
  const meta = route.metadata;
  return meta?.namespace ? `${meta.namespace}/${meta.name ?? "?"}` : (meta?.name ?? "?");
};

const backendRefsOf = (rule: HTTPRouteRule): BackendRef[] =>
  Array.isArray(rule.backendRefs) ? rule.backendRefs.filter((ref) => isObject(ref)) : [];

/** A backendRef to the Service `service` in the route's own namespace. */
export function isServiceRef(ref: BackendRef, service: string, routeNamespace: string | undefined): boolean {
  return (
    (ref.group ?? "") === "" &&
    (ref.kind ?? "Service") === "Service" &&
    ref.name === service &&
    (ref.namespace === undefined || ref.namespace === routeNamespace)
  );
}

export function locateBackends(route: HTTPRoute, canaryService: string): LocatedRule {
  const namespace = route.metadata?.namespace;
  const isCanary = (ref: BackendRef) => isServiceRef(ref, canaryService, namespace);
  const rules = Array.isArray(route.spec?.rules) ? route.spec.rules : [];
  const candidates: number[] = [];
  rules.forEach((rule, index) => {
    if (!isObject(rule)) return;
    const refs = backendRefsOf(rule);
    if (refs.length >= 2 && refs.some(isCanary)) candidates.push(index);
  });
  if (candidates.length === 0) {
    return {
      problem:
        `HTTPRoute ${nameOf(route)} has no rule that splits traffic between Service ${canaryService} and another ` +
        "backend: add a rule with two weighted backendRefs (or set greenlight.dev/canary-service)",
    };
  }
  if (candidates.length > 1) {
    return {
      problem: `HTTPRoute ${nameOf(route)} splits traffic to Service ${canaryService} in ${candidates.length} rules (indices ${candidates.join(", ")}): greenlight steps exactly one`,
    };
  }
  const ruleIndex = candidates[0] as number;
  const refs = (rules[ruleIndex] as HTTPRouteRule).backendRefs ?? [];
  if (refs.length !== 2) {
    return {
      problem: `HTTPRoute ${nameOf(route)} rules[${ruleIndex}] has ${refs.length} backendRefs: greenlight steps exactly two (stable and canary)`,
    };
  }
  const canaryIndex = refs.findIndex((ref) => isObject(ref) && isCanary(ref));
  const stableIndex = 1 - canaryIndex;
  const canary = refs[canaryIndex] as BackendRef;
  const stable = refs[stableIndex] as BackendRef;
  if (!isObject(stable) || isCanary(stable)) {
    return {
      problem: `HTTPRoute ${nameOf(route)} rules[${ruleIndex}] sends both backendRefs to the canary Service ${canaryService}`,
    };
  }
  return {
    located: { ruleIndex, stableIndex, canaryIndex, stable: structuredClone(stable), canary: structuredClone(canary) },
  };
}

const weightAt = (route: HTTPRoute, ruleIndex: number, index: number): number => {
  const weight = route.spec?.rules?.[ruleIndex]?.backendRefs?.[index]?.weight;
  if (weight === undefined) return 1; // the Gateway API default
  return typeof weight === "number" && Number.isFinite(weight) ? weight : 0;
};

export function readBackendWeights(route: HTTPRoute, located: LocatedBackends): Weights {
  return {
    stable: weightAt(route, located.ruleIndex, located.stableIndex),
    canary: weightAt(route, located.ruleIndex, located.canaryIndex),
  };
}

const sameHeader = (match: HTTPHeaderMatch, headerRoute: HeaderRoute): boolean =>
  (match.type ?? "Exact") === "Exact" &&
  typeof match.name === "string" &&
  match.name.toLowerCase() === headerRoute.header &&
  match.value === headerRoute.value;

/** Whether a rule matches requests carrying the header route's exact value (header names are case-insensitive). */
export function matchesHeaderRule(rule: HTTPRouteRule, headerRoute: HeaderRoute): boolean {
  if (!Array.isArray(rule.matches)) return false;
  return rule.matches.some(
    (match) =>
      isObject(match) &&
      Array.isArray(match.headers) &&
      match.headers.some((header) => isObject(header) && sameHeader(header, headerRoute)),
  );
}

/**
 * The header rule greenlight creates: the weighted rule's own matches (so it covers the same paths), each with the
 * header added, to the canary backend alone.
 */
function headerRule(weighted: HTTPRouteRule, canary: BackendRef, headerRoute: HeaderRoute): HTTPRouteRule {
  const header: HTTPHeaderMatch = { type: "Exact", name: headerRoute.header, value: headerRoute.value };
  const base = Array.isArray(weighted.matches) && weighted.matches.length > 0 ? weighted.matches : [{}];
  const matches = base.map((match) => {
    const copy = structuredClone(isObject(match) ? match : {}) as HTTPRouteMatch;
    copy.headers = [...(Array.isArray(copy.headers) ? copy.headers : []), header];
    return copy;
  });
  const { weight: _weight, ...backend } = structuredClone(canary);
  return { matches, backendRefs: [backend as BackendRef] };
}

/**
 * A new HTTPRoute with `weights` on the located rule. With `headerRoute`, a rule sending matching requests to the
 * canary is kept above every other rule: created first when missing, moved to the top when it sits below the weighted
 * rule, and otherwise left exactly as it is. (Gateway API ranks a rule with more header matches above one with fewer
 * whatever the order; keeping it first makes the intent plain, as with Istio.)
 * Throws a RangeError for weights that are not two integers summing to 100, or an HTTPRoute that is not the one
 * `located` was found in: both are programming errors, not user input.
 */
export function withBackendWeights(
  route: HTTPRoute,
  located: LocatedBackends,
  weights: Weights,
  headerRoute?: HeaderRoute,
): HTTPRoute {
  assertValidWeights(weights);
  const copy = structuredClone(route);
  const rules = copy.spec?.rules;
  const weighted = rules?.[located.ruleIndex];
  const refs = weighted?.backendRefs;
  const stable = refs?.[located.stableIndex];
  const canary = refs?.[located.canaryIndex];
  if (!rules || !weighted || !stable || !canary || canary.name !== located.canary.name) {
    throw new RangeError(`the HTTPRoute no longer has the located rule rules[${located.ruleIndex}]`);
  }
  stable.weight = weights.stable;
  canary.weight = weights.canary;
  if (headerRoute) {
    const existing = rules.findIndex((rule) => isObject(rule) && matchesHeaderRule(rule, headerRoute));
    if (existing < 0) {
      rules.unshift(headerRule(weighted, canary, headerRoute));
    } else if (existing > located.ruleIndex) {
      const [moved] = rules.splice(existing, 1);
      rules.unshift(moved as HTTPRouteRule);
    }
  }
  return copy;
}
