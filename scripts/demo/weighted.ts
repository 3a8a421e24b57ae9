// The demo router's pure core: a VirtualService's http routes as a table, header matching, and the weighted choice.
/*
 * Istio's semantics, as far as the demo needs them: routes are tried in order and the first whose `match` holds wins
 * (no `match` = every request); a route's `match` entries are alternatives, and the headers inside one entry must all
 * hold; within the route a destination is drawn with probability weight / sum of weights. A route with one
 * destination and no weight takes all of its traffic, as Istio allows.
 */
import type { HttpRoute, StringMatch, VirtualService } from "../../functions/canary/virtual-service.ts";

export interface WeightedDestination {
  /** The DestinationRule subset the destination names (`v1`, `v2`); the router maps it to a backend. */
  subset: string;
  /** A non-negative integer share; only the ratio to the route's total matters. */
  weight: number;
}

export interface HeaderCondition {
  /** Lower-case header name. */
  header: string;
  exact?: string;
  prefix?: string;
}

export interface RouteRule {
  /** Alternatives, each a list of conditions that must all hold; empty: the route takes every request. */
  matches: HeaderCondition[][];
  destinations: WeightedDestination[];
}

export type RequestHeaders = Record<string, string | string[] | undefined>;

const weightOf = (raw: unknown, alone: boolean): number => {
  if (typeof raw === "number" && Number.isFinite(raw) && raw > 0) return raw;
  // Istio lets a route with a single destination omit its weight: it then takes all of the route's traffic.
  return raw === undefined && alone ? 100 : 0;
};

function conditionsOf(headers: Record<string, StringMatch> | undefined): HeaderCondition[] {
  return Object.entries(headers ?? {}).map(([header, match]) => {
    const condition: HeaderCondition = { header: header.toLowerCase() };
    if (typeof match?.exact === "string") condition.exact = match.exact;
    if (typeof match?.prefix === "string") condition.prefix = match.prefix;
    return condition;
  });
}

function ruleOf(route: HttpRoute): RouteRule {
  const entries = Array.isArray(route.route) ? route.route : [];
  const destinations = entries
    .filter((entry) => typeof entry?.destination?.subset === "string")
    .map((entry) => ({
      subset: entry.destination.subset as string,
      weight: weightOf(entry.weight, entries.length === 1),
    }));
  const matches = Array.isArray(route.match) ? route.match.map((match) => conditionsOf(match?.headers)) : [];
  return { matches, destinations };
}

/** The VirtualService's http routes in order; destinations without a subset cannot be told apart and are dropped. */
export function routeTable(vs: VirtualService): RouteRule[] {
  const routes = Array.isArray(vs.spec?.http) ? vs.spec.http : [];
  return routes.map(ruleOf);
}

function headerValue(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function holds(condition: HeaderCondition, headers: RequestHeaders): boolean {
  const value = headerValue(headers, condition.header);
  if (value === undefined) return false;
  if (condition.exact !== undefined && value !== condition.exact) return false;
  if (condition.prefix !== undefined && !value.startsWith(condition.prefix)) return false;
  return true;
}

/** The first rule that takes the request, or undefined (Istio answers 404 "no route" then). */
export function selectRoute(table: readonly RouteRule[], headers: RequestHeaders): RouteRule | undefined {
  return table.find(
    (rule) =>
      rule.matches.length === 0 ||
      rule.matches.some((conditions) => conditions.every((condition) => holds(condition, headers))),
  );
}

/**
 * The destination a uniform draw `random` in [0, 1) lands on. A weight of 0 is never chosen and a weight that holds
 * the whole total always is, whatever the draw: the comparisons are strict so that no draw lands on an empty share.
 */
export function pickDestination(
  destinations: readonly WeightedDestination[],
  random: number,
): WeightedDestination | undefined {
  const total = destinations.reduce((sum, destination) => sum + Math.max(0, destination.weight), 0);
  if (total <= 0) return undefined;
  const target = Math.min(Math.max(random, 0), 1 - Number.EPSILON) * total;
  let cumulative = 0;
  for (const destination of destinations) {
    if (destination.weight <= 0) continue;
    cumulative += destination.weight;
    if (target < cumulative) return destination;
  }
  // Rounding can leave a draw just under 1 past the last boundary: it belongs to the last non-empty share.
  return destinations.filter((destination) => destination.weight > 0).at(-1);
}

/** The catch-all route's share for each subset in percent (what the weights say, not what was served). */
export function defaultShares(table: readonly RouteRule[]): Record<string, number> {
  const rule = table.find((candidate) => candidate.matches.length === 0);
  const total = rule?.destinations.reduce((sum, destination) => sum + destination.weight, 0) ?? 0;
  const shares: Record<string, number> = {};
  for (const destination of rule?.destinations ?? []) {
    shares[destination.subset] = total > 0 ? (100 * destination.weight) / total : 0;
  }
  return shares;
}

/** A small deterministic PRNG (mulberry32) for tests and reproducible runs: the same seed gives the same draws. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
