// Traffic routers: where a canary's weights live and how they are written. The stepper's decision (decide.ts) is the
// same for every router; a router only finds the weighted route, reads its weights and writes them back.
//
// - istio (the default): a VirtualService's weighted http route, the canary destination told apart by the
//   DestinationRule subset whose labels.version is the canary's version (virtual-service.ts).
// - gateway-api: an HTTPRoute's weighted rule (gateway.networking.k8s.io/v1 backendRefs), the canary backend told
//   apart by its Service name, greenlight.dev/canary-service (http-route.ts).
//
// Either way the status annotation lives on the route object and every write is one guarded JSON Patch.
import jsonPatch, { type Operation } from "fast-json-patch";
import type { HeaderRoute, RouterKind } from "../contract/annotations.ts";
import type { KubeClients } from "../kube/clients.ts";
import { GatewayApiReader } from "./gateway-api.ts";
import {
  type HTTPRoute,
  type LocatedBackends,
  locateBackends,
  readBackendWeights,
  withBackendWeights,
} from "./http-route.ts";
import { IstioReader } from "./istio.ts";
import type { CanarySettings } from "./settings.ts";
import { STATUS_ANNOTATION } from "./status.ts";
import {
  type LocatedRoutes,
  locate,
  type ObjectMeta,
  readWeights,
  type VirtualService,
  withWeights,
} from "./virtual-service.ts";
import type { Weights } from "./weights.ts";

export type { RouterKind };

/** A VirtualService or an HTTPRoute, as far as the stepper needs to know: metadata and the rest. */
export interface RouteObject {
  metadata?: ObjectMeta & { resourceVersion?: string };
  [field: string]: unknown;
}

/** A route object as one run read it, with the canary's weights located in it. */
export interface RouteView<T extends RouteObject = RouteObject> {
  router: RouterKind;
  /** "VirtualService" or "HTTPRoute", for messages. */
  objectKind: string;
  object: T;
  /** Where the weights are: http route and destination indices, or rule and backendRef indices. */
  located: LocatedRoutes | LocatedBackends;
  weights: Weights;
  /** The stable version, when the route says it (Istio: the stable subset's labels.version). */
  stableVersion?: string;
  /** The canary's Service: `{{service}}` in custom checks. */
  canaryService: string;
  /** The raw status annotation as read; undefined when absent. */
  priorStatus: string | undefined;
  /** `object` with `weights` written (and the header route kept first); pure, `object` is never modified. */
  withWeights(weights: Weights, headerRoute?: HeaderRoute): T;
}

/** What a router needs of a canary to find its route. */
export type RouteTarget = Pick<CanarySettings, "route" | "canaryService">;

export interface TrafficRouter {
  readonly kind: RouterKind;
  readonly objectKind: string;
  /**
   * The route object and where the canary's weights are in it; `problem` (with the object, when it was read) when
   * they cannot be located. API failures (a missing route included) throw a KubeError.
   */
  read(
    namespace: string,
    target: RouteTarget,
    version: string,
  ): Promise<RouteView | { problem: string; object?: RouteObject }>;
  /** Applies a guarded JSON Patch (from `guardedPatch`) to the route object; a lost race throws a 409/422 KubeError. */
  write(namespace: string, name: string, patch: Operation[]): Promise<void>;
}

const statusOf = (object: RouteObject): string | undefined => object.metadata?.annotations?.[STATUS_ANNOTATION];

export const STATUS_POINTER = `/metadata/annotations/${jsonPatch.escapePathComponent(STATUS_ANNOTATION)}`;

/**
 * The JSON Patch that moves `before` to `after`, led by a `test` op on what this run read (the status annotation, or
 * the resourceVersion when there was none), so two overlapping runs can never both write: the loser gets a 422.
 * The same for every router: both keep the status annotation on the route object.
 */
export function guardedPatch<T extends RouteObject>(before: T, after: T, priorStatus: string | undefined): Operation[] {
  const guard: Operation =
    priorStatus !== undefined
      ? { op: "test", path: STATUS_POINTER, value: priorStatus }
      : { op: "test", path: "/metadata/resourceVersion", value: before.metadata?.resourceVersion };
  return [guard, ...jsonPatch.compare(before, after)];
}

/** The Istio router: today's VirtualService + DestinationRule code behind the interface. */
export class IstioRouter implements TrafficRouter {
  readonly kind = "istio" as const;
  readonly objectKind = "VirtualService";

  constructor(readonly istio: IstioReader) {}

  async read(
    namespace: string,
    target: RouteTarget,
    version: string,
  ): Promise<RouteView<VirtualService> | { problem: string; object?: RouteObject }> {
    const [vs, rules] = await Promise.all([
      this.istio.getVirtualService(namespace, target.route),
      this.istio.listDestinationRules(namespace),
    ]);
    const found = locate(vs, rules, version);
    if ("problem" in found) return { problem: found.problem, object: vs };
    const { located } = found;
    return {
      router: this.kind,
      objectKind: this.objectKind,
      object: vs,
      located,
      weights: readWeights(vs, located),
      ...(located.stableVersion ? { stableVersion: located.stableVersion } : {}),
      canaryService: located.canary.host,
      priorStatus: statusOf(vs),
      withWeights: (weights, headerRoute) => withWeights(vs, located, weights, headerRoute),
    };
  }

  async write(namespace: string, name: string, patch: Operation[]): Promise<void> {
    await this.istio.patchVirtualService(namespace, name, patch);
  }
}

/** The Gateway API router: an HTTPRoute's backendRefs weights. */
export class GatewayApiRouter implements TrafficRouter {
  readonly kind = "gateway-api" as const;
  readonly objectKind = "HTTPRoute";

  constructor(readonly reader: GatewayApiReader) {}

  async read(
    namespace: string,
    target: RouteTarget,
    _version: string,
  ): Promise<RouteView<HTTPRoute> | { problem: string; object?: RouteObject }> {
    const route = await this.reader.getHTTPRoute(namespace, target.route);
    const found = locateBackends(route, target.canaryService);
    if (found.problem !== undefined) return { problem: found.problem, object: route };
    const { located } = found;
    return {
      router: this.kind,
      objectKind: this.objectKind,
      object: route,
      located,
      weights: readBackendWeights(route, located),
      canaryService: located.canary.name,
      priorStatus: statusOf(route),
      withWeights: (weights, headerRoute) => withBackendWeights(route, located, weights, headerRoute),
    };
  }

  async write(namespace: string, name: string, patch: Operation[]): Promise<void> {
    await this.reader.patchHTTPRoute(namespace, name, patch);
  }
}

export type Routers = Readonly<Record<RouterKind, TrafficRouter>>;

/** Both routers over one pass's clients: each lists its kinds once per namespace. */
export function createRouters(clients: KubeClients, istio: IstioReader = new IstioReader(clients)): Routers {
  return { istio: new IstioRouter(istio), "gateway-api": new GatewayApiRouter(new GatewayApiReader(clients)) };
}

const perPass = new WeakMap<IstioReader, Routers>();

/**
 * The routers of a stepper context: its own `routers` when it has them, else ones made once per IstioReader (a pass
 * makes one), so callers that only pass `istio` still get one HTTPRoute list per namespace per pass.
 */
export function routersFor(context: { clients: KubeClients; istio: IstioReader; routers?: Routers }): Routers {
  if (context.routers) return context.routers;
  let routers = perPass.get(context.istio);
  if (!routers) {
    routers = createRouters(context.clients, context.istio);
    perPass.set(context.istio, routers);
  }
  return routers;
}
