// Blue/green decisions on plain data: which Service smoke-checks a version, the guarded switch patch, what the
// endpoints prove after a switch, and whether the scheduled pass may promote a version by itself.
//
// Rules:
// - The switched label is `version`, on the main Service's `spec.selector` (the seed's myapp: app + version).
// - The per-version Service of a Deployment (the seed's myapp-blue / myapp-green) is the one Service in the
//   namespace, other than the main one, whose selector names `version: <that version>` and whose every selector
//   label is on the Deployment's pod template. None or several is a configuration error, named as such: smoke-checking
//   the wrong pods would make the check meaningless.
// - The switch is one JSON Patch: `test` the selector's current version, `replace` it, and write the status
//   annotation. A concurrent writer makes the `test` fail (422), so two switches never both happen.
// - After the switch, the main Service's EndpointSlices must list only pods of the new version, at least one ready.
// - Auto-promotion never takes a version back to the exact pod template it was switched away from.
// - A failed smoke check of the scheduled pass is recorded in the status annotation alone, guarded like the switch.
import jsonPatch, { type Operation } from "fast-json-patch";
import { type BlueGreenStatus, STATUS_ANNOTATION } from "./status.ts";

export const VERSION_LABEL = "version";

export type Labels = Readonly<Record<string, string>>;

/** The fields of a core/v1 Service these rules read (a V1Service fits). */
export interface ServiceView {
  metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { selector?: Record<string, string>; ports?: readonly { name?: string; port: number }[] };
}

/** The fields of a discovery.k8s.io/v1 EndpointSlice these rules read (a V1EndpointSlice fits). */
export interface EndpointSliceView {
  endpoints?: readonly EndpointView[];
}

export interface EndpointView {
  addresses?: readonly string[];
  /** `ready` absent (nil) means ready, as the EndpointSlice API says. */
  conditions?: { ready?: boolean | null };
  targetRef?: { kind?: string; name?: string };
}

export const selectorVersion = (service: ServiceView): string | undefined => service.spec?.selector?.[VERSION_LABEL];

/** A selector selects pods carrying every one of its labels; an empty selector selects nothing here. */
export function selects(selector: Labels | undefined, labels: Labels): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

const formatLabels = (labels: Labels): string =>
  Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");

/**
 * Why the main Service would select none of a Deployment's pods once its `version` is `to`; undefined when it would
 * select them. Caught before the switch, because afterwards it means an outage until the switch back.
 */
export function selectorMismatch(main: ServiceView, labels: Labels, to: string): string | undefined {
  const selector = { ...main.spec?.selector, [VERSION_LABEL]: to };
  const missing = Object.entries(selector).filter(([key, value]) => labels[key] !== value);
  if (missing.length === 0) return undefined;
  return `with version=${to} the selector of Service ${main.metadata?.name} (${formatLabels(selector)}) would not select its pods (pod template lacks ${formatLabels(Object.fromEntries(missing))})`;
}

/** The per-version Service to smoke-check (see the rules above), or the problem in words. */
export function findVersionService<S extends ServiceView>(
  services: readonly S[],
  target: { main: string; labels: Labels; version: string; deployment: string },
): { service: S } | { problem: string } {
  const found = services.filter(
    (service) =>
      service.metadata?.name !== target.main &&
      service.spec?.selector?.[VERSION_LABEL] === target.version &&
      selects(service.spec?.selector, target.labels),
  );
  const [only] = found;
  if (only && found.length === 1) return { service: only };
  if (found.length > 1) {
    const names = found.map((service) => service.metadata?.name).join(", ");
    return {
      problem: `several Services select version ${target.version} of ${target.deployment} (${names}): the smoke check needs exactly one; delete or narrow the others`,
    };
  }
  return {
    problem: `no Service besides ${target.main} selects version ${target.version} of ${target.deployment}: the smoke check goes through a per-version Service, one whose selector has version: ${target.version} and only labels of the pod template (${formatLabels(target.labels)}), like myapp-green in manifests/examples/bluegreen.yaml`,
  };
}

/** The port the smoke check goes through: the Service's first port (by number; the API server maps it). */
export function firstPort(service: ServiceView): number | undefined {
  return service.spec?.ports?.[0]?.port;
}

const STATUS_POINTER = `/metadata/annotations/${jsonPatch.escapePathComponent(STATUS_ANNOTATION)}`;
const VERSION_POINTER = `/spec/selector/${VERSION_LABEL}`;

/**
 * The one request that moves the Service from `from` to `to` and records why: `test` on the version this run read
 * (and on the prior status annotation when given, for moves decided from it), `replace`, and the status annotation.
 */
export function switchPatch(input: {
  service: ServiceView;
  from: string;
  to: string;
  status: string;
  priorStatus?: string;
}): Operation[] {
  const ops: Operation[] = [{ op: "test", path: VERSION_POINTER, value: input.from }];
  if (input.priorStatus !== undefined) ops.push({ op: "test", path: STATUS_POINTER, value: input.priorStatus });
  ops.push({ op: "replace", path: VERSION_POINTER, value: input.to });
  ops.push(
    input.service.metadata?.annotations
      ? { op: "add", path: STATUS_POINTER, value: input.status }
      : { op: "add", path: "/metadata/annotations", value: { [STATUS_ANNOTATION]: input.status } },
  );
  return ops;
}

/**
 * A write of the status annotation alone (the scheduled pass's record of a failed smoke check): `test` the text this
 * run read, or `metadata.resourceVersion` when there was none (JSON Patch cannot test for an absent member), then set
 * it. Of two passes recording the same failure, the second gets a 422 and records no Event.
 */
export function statusPatch(input: {
  service: ServiceView;
  priorStatus: string | undefined;
  status: string;
}): Operation[] {
  const guard: Operation =
    input.priorStatus === undefined
      ? { op: "test", path: "/metadata/resourceVersion", value: input.service.metadata?.resourceVersion ?? "" }
      : { op: "test", path: STATUS_POINTER, value: input.priorStatus };
  return [
    guard,
    input.service.metadata?.annotations
      ? { op: "add", path: STATUS_POINTER, value: input.status }
      : { op: "add", path: "/metadata/annotations", value: { [STATUS_ANNOTATION]: input.status } },
  ];
}

/** JSON with object keys sorted and undefined members dropped, so equal templates give equal text. */
/** Waits before retries: `attempts - 1` delays doubling from `firstMs` (5 attempts, 1 s: 1, 2, 4, 8 s). */
export function backoffDelays(attempts: number, firstMs: number): number[] {
  return Array.from({ length: Math.max(0, attempts - 1) }, (_, index) => firstMs * 2 ** index);
}

export interface EndpointsVerdict {
  ok: boolean;
  /** Ready addresses on pods of the new version. */
  ready: number;
  detail: string;
}

const LISTED = 5;

interface Endpoint {
  pod?: string;
  /** The first address: the one consumers use, and the name of an endpoint without a Pod. */
  address: string;
  ready: boolean;
}

/**
 * The Service's endpoints across all its slices, one per Pod (or per address without one): a Service has a slice per
 * address family and the same endpoint may sit in two slices while the controller moves it. Ready in any slice is
 * ready, as kube-proxy takes it.
 */
function distinctEndpoints(slices: readonly EndpointSliceView[]): Endpoint[] {
  const byKey = new Map<string, Endpoint>();
  for (const endpoint of slices.flatMap((slice) => slice.endpoints ?? [])) {
    const pod = endpoint.targetRef?.kind === "Pod" ? endpoint.targetRef.name : undefined;
    const address = endpoint.addresses?.[0] ?? "?";
    const ready = endpoint.conditions?.ready !== false;
    const key = pod === undefined ? `address ${address}` : `pod ${pod}`;
    const seen = byKey.get(key);
    if (seen) seen.ready ||= ready;
    else byKey.set(key, { ...(pod === undefined ? {} : { pod }), address, ready });
  }
  return [...byKey.values()];
}

/**
 * Whether the main Service's EndpointSlices now hold `version` only: every endpoint (ready or not) must target a Pod
 * whose `version` label is `version`, and at least one must be ready. `podVersions` maps pod names to their version
 * label; a pod missing from it (deleted, or an endpoint without a Pod) counts as another version.
 */
export function judgeEndpoints(
  slices: readonly EndpointSliceView[],
  podVersions: ReadonlyMap<string, string | undefined>,
  version: string,
): EndpointsVerdict {
  const endpoints = distinctEndpoints(slices);
  if (endpoints.length === 0) return { ok: false, ready: 0, detail: "no endpoints" };
  const foreign: string[] = [];
  let ready = 0;
  for (const { pod, address, ready: isReady } of endpoints) {
    if (pod === undefined) {
      foreign.push(`${address} (not a Pod)`);
      continue;
    }
    const podVersion = podVersions.get(pod);
    if (podVersion !== version) {
      foreign.push(`${pod} (${podVersions.has(pod) ? `version ${podVersion ?? "unlabelled"}` : "no such pod"})`);
    } else if (isReady) {
      ready += 1;
    }
  }
  if (foreign.length > 0) {
    const listed = foreign.slice(0, LISTED).join(", ") + (foreign.length > LISTED ? ", ..." : "");
    return {
      ok: false,
      ready,
      detail: `${foreign.length} of ${endpoints.length} endpoints are not pods of version ${version}: ${listed}`,
    };
  }
  if (ready === 0) return { ok: false, ready, detail: `no ready endpoint (${endpoints.length} not ready)` };
  return {
    ok: true,
    ready,
    detail: `${ready} ready ${ready === 1 ? "endpoint" : "endpoints"}, all version ${version}`,
  };
}

/**
 * Whether the scheduled pass may switch the Service to this Deployment's version (readiness aside): not when it is
 * served already, and not when it is the exact template the Service was last switched away from (the switch back or
 * rollback that left it must stand until someone rolls that Deployment out again or switches by hand).
 */
export function autoPromotion(input: {
  version: string;
  served: string;
  fingerprint: string;
  status?: BlueGreenStatus;
}): { promote: true } | { promote: false; message: string } {
  if (input.served === input.version) return { promote: false, message: `already serving ${input.version}` };
  const status = input.status;
  if (status && status.previous === input.version && status.previousTemplate === input.fingerprint) {
    const why = {
      Switched: `switched to ${status.current}`,
      SwitchedBack: "its endpoints failed verification, switched back",
      RolledBack: `rolled back to ${status.current}`,
    }[status.phase];
    return {
      promote: false,
      message: `the Service left ${input.version} at ${status.switchedAt} (${why}); roll its Deployment out again or switch by hand`,
    };
  }
  return { promote: true };
}
