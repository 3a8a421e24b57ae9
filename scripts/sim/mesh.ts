// Requests of the simulated cluster routed as Istio and Kubernetes route them, counted as Istio's sidecars count them.
//
// API: `routeTraffic(input) -> TrafficTally`, once per tick. For each load: the VirtualService for its host (same
// namespace, hosts compared as `sameHost` does) sends each request class (with the load's headers, `headerShare` of
// the requests, or without) down its first matching http route, split by weight; a destination's Ready pods are the
// ones its Service selector and its DestinationRule subset's labels both select. Without a VirtualService the Service
// sends to every Ready pod it selects. Requests spread evenly over a destination's pods and are drawn per ReplicaSet
// (Poisson); errors per ReplicaSet (binomial at the error rate `profileOf` gives for its first Ready pod); latencies
// go into Istio's buckets by the log-normal's expected shares, the rounding carried from one call to the next so that
// long-run bucket counts keep the distribution even at a few requests a tick.
// Emits istio_requests_total and istio_request_duration_milliseconds (bucket, sum, count) with the destination
// reporter's labels (a compact set) into `counters`; requests a destination could not take (no Ready pod, no Service,
// no such subset, no route) are only tallied: the source sidecar answers them 503, the destination never sees them.
// Not modelled: retries, timeouts, outlier detection, locality, per-pod series labels, uri/method matches (a match
// without header conditions matches every request), request sizes, TCP metrics.

import type { V1Pod, V1Service } from "@kubernetes/client-node";
import {
  type DestinationRule,
  type HttpMatch,
  type HttpRoute,
  sameHost,
  type VirtualService,
} from "../../functions/canary/virtual-service.ts";
import { ISTIO_DURATION_BUCKETS_MS } from "../services/istio-exporter.ts";
import type { Counters } from "./counters.ts";
import type { Random } from "./random.ts";

export interface TrafficProfile {
  errorRate: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export interface ServiceLoad {
  namespace: string;
  /** The Service's name, also the VirtualService host ("myapp" or "myapp.<ns>.svc.cluster.local"). */
  service: string;
  rps: number;
  /** Share of requests carrying `headers`, which a VirtualService header match may route. */
  headerShare?: number;
  /** The headers of that share, e.g. {"x-canary-test": "true"}. */
  headers?: Record<string, string>;
}

export interface MeshInput {
  dtSeconds: number;
  nowMs: number;
  loads: readonly ServiceLoad[];
  services: readonly V1Service[];
  virtualServices: readonly VirtualService[];
  destinationRules: readonly DestinationRule[];
  pods: readonly V1Pod[];
  /** The behaviour of the workload a pod serves, at this instant (profiles may change over time). */
  profileOf(pod: V1Pod, nowMs: number): TrafficProfile;
  random: Random;
  counters: Counters;
}

export interface Served {
  namespace: string;
  workload: string;
  version: string;
  podTemplateHash: string;
  requests: number;
  errors: number;
}

export interface Unroutable {
  namespace: string;
  /** The destination Service's name (the load's own Service when no route applied). */
  service: string;
  subset?: string;
  requests: number;
}

export interface TrafficTally {
  /** Requests that reached a Ready pod, per workload and template. */
  served: Served[];
  /** Requests Istio could not deliver (a destination subset with no Ready pod: 503 at the source sidecar, never seen by
   *  the destination's metrics). */
  unroutable: Unroutable[];
}

export const REQUESTS_TOTAL = "istio_requests_total";
export const DURATION_BUCKET = "istio_request_duration_milliseconds_bucket";
export const DURATION_SUM = "istio_request_duration_milliseconds_sum";
export const DURATION_COUNT = "istio_request_duration_milliseconds_count";
export const SOURCE_WORKLOAD = "loadgen";

/** Istio's default buckets for request duration, in milliseconds: the same list the test exporter serves. */
export const DURATION_BOUNDS: readonly number[] = ISTIO_DURATION_BUCKETS_MS;
export const DURATION_LE: readonly string[] = [...DURATION_BOUNDS.map(String), "+Inf"];
const BUCKETS = DURATION_LE.length;
/** Standard normal quantile of 0.99: p99 = p50 * exp(1.2326 sigma) for a log-normal. */
const Z99 = 2.326;

// ---- draws -------------------------------------------------------------------------------------------------------

/** A Poisson count: exact (Knuth) for small means, the normal approximation above. */
export function poisson(random: Random, mean: number): number {
  if (!(mean > 0)) return 0;
  if (mean < 30) {
    const limit = Math.exp(-mean);
    let count = 0;
    for (let product = random.next(); product > limit; product *= random.next()) count++;
    return count;
  }
  return Math.max(0, Math.round(mean + Math.sqrt(mean) * random.normal()));
}

/** Successes in `trials` by jumping from one success to the next (geometric gaps): about mean + 1 draws. */
function sparseBinomial(random: Random, trials: number, p: number): number {
  const logMiss = Math.log1p(-p);
  let count = 0;
  for (let at = Math.floor(Math.log(1 - random.next()) / logMiss); at < trials; count++) {
    at += 1 + Math.floor(Math.log(1 - random.next()) / logMiss);
  }
  return count;
}

/** A binomial count: exact while the expected successes (or failures) are few, the normal approximation above. */
export function binomial(random: Random, trials: number, p: number): number {
  if (trials <= 0 || !(p > 0)) return 0;
  if (p >= 1) return trials;
  const mean = trials * p;
  if (mean < 30) return sparseBinomial(random, trials, p);
  if (trials - mean < 30) return trials - sparseBinomial(random, trials, 1 - p);
  const drawn = Math.round(mean + Math.sqrt(mean * (1 - p)) * random.normal());
  return Math.min(trials, Math.max(0, drawn));
}

// ---- latency -----------------------------------------------------------------------------------------------------

/** erf by Abramowitz and Stegun 7.1.26 (error below 1.5e-7): plenty for bucket shares. */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  return sign * (1 - poly * Math.exp(-a * a));
}

interface LatencyShape {
  /** Share of requests in each bucket (not cumulative; the last is above the highest bound). */
  shares: Float64Array;
  meanMs: number;
}

const shapes = new Map<string, LatencyShape>();

/** The log-normal with this p50 and p99, as bucket shares; cached, profiles repeat. */
export function latencyShape(p50Ms: number, p99Ms: number): LatencyShape {
  const key = `${p50Ms}/${p99Ms}`;
  const cached = shapes.get(key);
  if (cached) return cached;
  const median = Math.max(p50Ms, 1e-6);
  const sigma = p99Ms > median ? Math.log(p99Ms / median) / Z99 : 0;
  const shares = new Float64Array(BUCKETS);
  let below = 0;
  for (let i = 0; i < BUCKETS - 1; i++) {
    const bound = DURATION_BOUNDS[i]!;
    const cdf =
      sigma > 0
        ? 0.5 * (1 + erf((Math.log(bound) - Math.log(median)) / (sigma * Math.SQRT2)))
        : bound >= median
          ? 1
          : 0;
    const clamped = Math.min(1, Math.max(below, cdf));
    shares[i] = clamped - below;
    below = clamped;
  }
  shares[BUCKETS - 1] = 1 - below;
  const shape = { shares, meanMs: median * Math.exp((sigma * sigma) / 2) };
  if (shapes.size > 10_000) shapes.clear();
  shapes.set(key, shape);
  return shape;
}

/**
 * Whole bucket counts summing to `total` from expected counts, carrying each bucket's rounding to the next call in
 * `residual` (so rare tail buckets still fill up over time instead of always rounding to 0).
 */
export function integerize(expected: Float64Array, total: number, residual: Float64Array, out: Int32Array): void {
  let assigned = 0;
  for (let i = 0; i < BUCKETS; i++) {
    const wanted = expected[i]! + residual[i]!;
    residual[i] = wanted;
    const whole = wanted > 0 ? Math.floor(wanted) : 0;
    out[i] = whole;
    assigned += whole;
  }
  while (assigned !== total) {
    const adding = assigned < total;
    let pick = -1;
    let pickGap = adding ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    for (let i = 0; i < BUCKETS; i++) {
      const gap = residual[i]! - out[i]!;
      if (adding ? gap > pickGap : out[i]! > 0 && gap < pickGap) {
        pick = i;
        pickGap = gap;
      }
    }
    if (pick < 0) break;
    out[pick] = out[pick]! + (adding ? 1 : -1);
    assigned += adding ? 1 : -1;
  }
  for (let i = 0; i < BUCKETS; i++) residual[i] = residual[i]! - out[i]!;
}

// ---- pods --------------------------------------------------------------------------------------------------------

/** The Ready pods of one ReplicaSet in one namespace: equal labels, one workload, one template, one profile. */
interface Endpoint {
  /** The first of them, for `profileOf`. */
  pod: V1Pod;
  pods: number;
  /** namespace, workload, version and app: the pods' part of a series key. */
  key: string;
  /** namespace, workload and template hash: where their requests are tallied. */
  servedKey: string;
  namespace: string;
  labels: Record<string, string>;
  workload: string;
  hash: string;
  version: string;
  app: string;
}

const isReady = (pod: V1Pod): boolean =>
  !pod.metadata?.deletionTimestamp &&
  pod.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") === true;

/** The Deployment behind a pod: its ReplicaSet owner's name without the `-<pod-template-hash>` suffix. */
function workloadOf(pod: V1Pod, hash: string): string {
  const owner = pod.metadata?.ownerReferences?.find((ref) => ref.controller === true && ref.kind === "ReplicaSet");
  if (!owner) return pod.metadata?.name ?? "unknown";
  return hash && owner.name.endsWith(`-${hash}`) ? owner.name.slice(0, -(hash.length + 1)) : owner.name;
}

/** Ready pods by namespace, grouped by ReplicaSet: only Ready pods are endpoints. */
function indexEndpoints(pods: readonly V1Pod[]): Map<string, Endpoint[]> {
  const index = new Map<string, Endpoint[]>();
  const groups = new Map<string, Endpoint>();
  for (const pod of pods) {
    if (!isReady(pod)) continue;
    const namespace = pod.metadata?.namespace ?? "default";
    const labels = pod.metadata?.labels ?? {};
    const hash = labels["pod-template-hash"] ?? "";
    const workload = workloadOf(pod, hash);
    const servedKey = `${namespace}/${workload}/${hash}`;
    const group = groups.get(servedKey);
    // Pods without a template hash may carry different labels: they only group when the labels agree.
    if (group && (hash !== "" || sameLabels(group.labels, labels))) {
      group.pods++;
      continue;
    }
    const version = labels.version ?? "unknown";
    const app = labels.app ?? "unknown";
    const key = `${namespace}\u0000${workload}\u0000${version}\u0000${app}`;
    const endpoint: Endpoint = { pod, pods: 1, key, servedKey, namespace, labels, workload, hash, version, app };
    if (!group) groups.set(servedKey, endpoint);
    const list = index.get(namespace);
    if (list) list.push(endpoint);
    else index.set(namespace, [endpoint]);
  }
  return index;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

const selects = (selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean => {
  for (const key in selector) if (labels[key] !== selector[key]) return false;
  return true;
};

// ---- routing -----------------------------------------------------------------------------------------------------

/** Requests of one load that share headers (or have none): Istio matches each class as one. */
interface RequestClass {
  share: number;
  headers: Record<string, string> | undefined;
}

function matchesHeaders(match: HttpMatch, headers: Record<string, string> | undefined): boolean {
  const conditions = match.headers;
  if (!conditions || typeof conditions !== "object") return true;
  for (const [name, condition] of Object.entries(conditions)) {
    const value = headers?.[name.toLowerCase()];
    if (value === undefined || !condition) return false;
    if (condition.exact !== undefined && value !== condition.exact) return false;
    if (condition.prefix !== undefined && !value.startsWith(condition.prefix)) return false;
    if (condition.regex !== undefined && !new RegExp(`^(?:${condition.regex})$`).test(value)) return false;
  }
  return true;
}

const routeMatches = (route: HttpRoute, headers: Record<string, string> | undefined): boolean =>
  !Array.isArray(route.match) || route.match.length === 0 || route.match.some((m) => matchesHeaders(m, headers));

/** "myapp", "myapp.ns", "myapp.ns.svc.cluster.local": the Service name and namespace a host names. */
function serviceRef(host: string, namespace: string): { name: string; namespace: string } {
  const [name = host, second] = host.split(".");
  return { name, namespace: second && second !== "svc" ? second : namespace };
}

const namespaceOf = (object: { metadata?: { namespace?: string } }): string => object.metadata?.namespace ?? "default";

interface SeriesTally {
  /** Identifies the series family (without the response code). */
  key: string;
  namespace: string;
  sourceNamespace: string;
  workload: string;
  version: string;
  app: string;
  service: string;
  serviceNamespace: string;
  ok: number;
  errors: number;
  /** Requests per latency shape: pods of one workload nearly always share one, so this stays a list of one. */
  parts: { shape: LatencyShape; ok: number; errors: number }[];
}

class Routing {
  readonly served = new Map<string, Served>();
  readonly series = new Map<string, SeriesTally>();
  readonly unroutable = new Map<string, Unroutable>();
  readonly endpoints: Map<string, Endpoint[]>;

  constructor(private readonly input: MeshInput) {
    this.endpoints = indexEndpoints(input.pods);
  }

  route(load: ServiceLoad): void {
    const expected = load.rps * this.input.dtSeconds;
    if (!(expected > 0)) return;
    const headerShare = load.headers ? Math.min(1, Math.max(0, load.headerShare ?? 0)) : 0;
    const headers = load.headers
      ? Object.fromEntries(Object.entries(load.headers).map(([name, value]) => [name.toLowerCase(), value]))
      : undefined;
    const classes: RequestClass[] = [
      { share: headerShare, headers },
      { share: 1 - headerShare, headers: undefined },
    ];
    const vs = this.input.virtualServices.find(
      (candidate) =>
        namespaceOf(candidate) === load.namespace &&
        (candidate.spec?.hosts ?? []).some((host) => typeof host === "string" && sameHost(host, load.service)),
    );
    for (const requestClass of classes) {
      const amount = expected * requestClass.share;
      if (!(amount > 0)) continue;
      if (!vs) {
        this.deliver(load, load.service, undefined, amount);
        continue;
      }
      const route = (vs.spec?.http ?? []).find((candidate) => routeMatches(candidate, requestClass.headers));
      const destinations = Array.isArray(route?.route) ? route.route.filter((entry) => entry?.destination) : [];
      const weights = destinations.map((entry) =>
        destinations.length === 1 ? 100 : typeof entry.weight === "number" && entry.weight > 0 ? entry.weight : 0,
      );
      const total = weights.reduce((a, b) => a + b, 0);
      if (total <= 0) {
        this.refuse(load.namespace, serviceRef(load.service, load.namespace).name, undefined, amount);
        continue;
      }
      destinations.forEach((entry, i) => {
        const weight = weights[i] ?? 0;
        if (weight > 0) this.deliver(load, entry.destination.host, entry.destination.subset, (amount * weight) / total);
      });
    }
  }

  /** Requests for one destination, spread over its Ready pods. */
  private deliver(load: ServiceLoad, host: string, subset: string | undefined, amount: number): void {
    const ref = serviceRef(host, load.namespace);
    const service = this.input.services.find(
      (candidate) => candidate.metadata?.name === ref.name && namespaceOf(candidate) === ref.namespace,
    );
    const selector = service?.spec?.selector;
    let subsetLabels: Record<string, string> | undefined;
    if (subset !== undefined) {
      const rule = this.input.destinationRules.find(
        (candidate) =>
          namespaceOf(candidate) === ref.namespace &&
          typeof candidate.spec?.host === "string" &&
          sameHost(candidate.spec.host, host),
      );
      const found = rule?.spec?.subsets?.find((candidate) => candidate?.name === subset);
      // Istio answers 503 (no cluster) for a subset its DestinationRule does not define.
      if (!found) {
        this.refuse(ref.namespace, ref.name, subset, amount);
        return;
      }
      subsetLabels = found.labels ?? {};
    }
    const endpoints: Endpoint[] = [];
    let pods = 0;
    // A Service without a selector has no endpoints the simulator knows of.
    if (selector && Object.keys(selector).length > 0) {
      for (const endpoint of this.endpoints.get(ref.namespace) ?? []) {
        if (!selects(selector, endpoint.labels) || (subsetLabels && !selects(subsetLabels, endpoint.labels))) continue;
        endpoints.push(endpoint);
        pods += endpoint.pods;
      }
    }
    if (pods === 0) {
      this.refuse(ref.namespace, ref.name, subset, amount);
      return;
    }
    // Envoy balances evenly over the endpoints: each ReplicaSet gets its share of the pods.
    for (const endpoint of endpoints) {
      const requests = poisson(this.input.random, (amount * endpoint.pods) / pods);
      if (requests === 0) continue;
      const profile = this.input.profileOf(endpoint.pod, this.input.nowMs);
      const errors = binomial(this.input.random, requests, profile.errorRate);
      this.record(load, endpoint, ref, requests, errors, profile);
    }
  }

  private refuse(namespace: string, service: string, subset: string | undefined, amount: number): void {
    const requests = poisson(this.input.random, amount);
    if (requests === 0) return;
    const key = `${namespace}/${service}/${subset ?? ""}`;
    const found = this.unroutable.get(key);
    if (found) found.requests += requests;
    else this.unroutable.set(key, { namespace, service, ...(subset !== undefined ? { subset } : {}), requests });
  }

  private record(
    load: ServiceLoad,
    endpoint: Endpoint,
    ref: { name: string; namespace: string },
    requests: number,
    errors: number,
    profile: TrafficProfile,
  ): void {
    const served = this.served.get(endpoint.servedKey);
    if (served) {
      served.requests += requests;
      served.errors += errors;
    } else {
      this.served.set(endpoint.servedKey, {
        namespace: endpoint.namespace,
        workload: endpoint.workload,
        version: endpoint.version,
        podTemplateHash: endpoint.hash,
        requests,
        errors,
      });
    }
    const seriesKey = `${endpoint.key}\u0000${ref.namespace}\u0000${ref.name}\u0000${load.namespace}`;
    let tally = this.series.get(seriesKey);
    if (!tally) {
      tally = {
        key: seriesKey,
        namespace: endpoint.namespace,
        sourceNamespace: load.namespace,
        workload: endpoint.workload,
        version: endpoint.version,
        app: endpoint.app,
        service: ref.name,
        serviceNamespace: ref.namespace,
        ok: 0,
        errors: 0,
        parts: [],
      };
      this.series.set(seriesKey, tally);
    }
    const shape = latencyShape(profile.latencyP50Ms, profile.latencyP99Ms);
    tally.ok += requests - errors;
    tally.errors += errors;
    const part = tally.parts.find((candidate) => candidate.shape === shape);
    if (part) {
      part.ok += requests - errors;
      part.errors += errors;
    } else tally.parts.push({ shape, ok: requests - errors, errors });
  }
}

// ---- counters ----------------------------------------------------------------------------------------------------

/** One labelled series family (one response code of one workload): its label objects and its carried rounding. */
interface SeriesState {
  labels: Readonly<Record<string, string>>;
  bucketLabels: readonly Readonly<Record<string, string>>[];
  residual: Float64Array;
  /** Every bucket series exists: zero increments can be skipped from now on. */
  emitted: boolean;
}

/** Per counters object (one per timeline), so that rounding carries over between calls and labels are built once. */
const seriesStates = new WeakMap<Counters, Map<string, SeriesState>>();
const scratch = new Int32Array(BUCKETS);

function seriesState(counters: Counters, tally: SeriesTally, code: string): SeriesState {
  let states = seriesStates.get(counters);
  if (!states) {
    states = new Map();
    seriesStates.set(counters, states);
  }
  const key = `${tally.key}\u0000${code}`;
  let state = states.get(key);
  if (!state) {
    const labels = Object.freeze({
      reporter: "destination",
      destination_workload: tally.workload,
      destination_workload_namespace: tally.namespace,
      destination_version: tally.version,
      destination_service: `${tally.service}.${tally.serviceNamespace}.svc.cluster.local`,
      destination_service_name: tally.service,
      destination_service_namespace: tally.serviceNamespace,
      destination_app: tally.app,
      source_workload: SOURCE_WORKLOAD,
      source_workload_namespace: tally.sourceNamespace,
      request_protocol: "http",
      response_code: code,
      response_flags: "-",
      connection_security_policy: "mutual_tls",
    });
    state = {
      labels,
      bucketLabels: DURATION_LE.map((le) => Object.freeze({ ...labels, le })),
      residual: new Float64Array(BUCKETS),
      emitted: false,
    };
    states.set(key, state);
  }
  return state;
}

const expected = new Float64Array(BUCKETS);

/** Adds one tick of one response code of one workload: requests, histogram buckets (cumulative), sum and count. */
function emit(counters: Counters, state: SeriesState, tally: SeriesTally, errors: boolean): void {
  const requests = errors ? tally.errors : tally.ok;
  if (requests === 0) return;
  expected.fill(0);
  let sumMs = 0;
  for (const part of tally.parts) {
    const count = errors ? part.errors : part.ok;
    if (count === 0) continue;
    sumMs += count * part.shape.meanMs;
    for (let i = 0; i < BUCKETS; i++) expected[i] = expected[i]! + count * part.shape.shares[i]!;
  }
  counters.add(REQUESTS_TOTAL, state.labels, requests);
  integerize(expected, requests, state.residual, scratch);
  let cumulative = 0;
  for (let i = 0; i < BUCKETS; i++) {
    cumulative += scratch[i]!;
    if (cumulative > 0 || !state.emitted) counters.add(DURATION_BUCKET, state.bucketLabels[i]!, cumulative);
  }
  counters.add(DURATION_SUM, state.labels, sumMs);
  counters.add(DURATION_COUNT, state.labels, requests);
  state.emitted = true;
}

export function routeTraffic(input: MeshInput): TrafficTally {
  const routing = new Routing(input);
  for (const load of input.loads) routing.route(load);
  for (const tally of routing.series.values()) {
    if (tally.ok > 0) emit(input.counters, seriesState(input.counters, tally, "200"), tally, false);
    if (tally.errors > 0) emit(input.counters, seriesState(input.counters, tally, "503"), tally, true);
  }
  return { served: [...routing.served.values()], unroutable: [...routing.unroutable.values()] };
}
