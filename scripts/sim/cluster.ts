// The simulated API server: objects in memory, served through the same method names and shapes the stepper calls
// on @kubernetes/client-node 1.4 (object parameters, ApiException with a Status body), with faults: latency in
// virtual time, 409, 429 with Retry-After, 500, hung calls, writes applied but answered with an error, objects
// deleted mid-flight. ReplicaSets and Pods are the controller's; EndpointSlices follow the Services and ready Pods.
import {
  ApiException,
  RequestContext,
  ResponseContext,
  type V1Deployment,
  type V1EndpointSlice,
  type V1Pod,
  type V1ReplicaSet,
  type V1Service,
} from "@kubernetes/client-node";
import jsonPatch, { type Operation } from "fast-json-patch";
import type { KubeClients } from "../../functions/kube/clients.ts";
import type { Random } from "./random.ts";
import type { VirtualClock } from "./virtual-clock.ts";

export type Kind = "Deployment" | "VirtualService" | "DestinationRule" | "Service";

export interface ApiFaults {
  /** Virtual milliseconds each call takes, drawn uniformly from [min, max]. */
  latencyMs: readonly [number, number];
  /** Per call: answered 429 with a Retry-After of 1-3 s. */
  throttled: number;
  /** Per call: answered 500. */
  serverError: number;
  /** Per call: never answered (the caller's timeout must end it). */
  hang: number;
  /** Per write: applied, then answered 500 (the answer was lost). */
  lostAnswer: number;
  /** Per write: the object is deleted just before the write arrives (404). */
  deletedMidFlight: number;
  /** Per write: answered 409 Conflict, as when another writer changed the object first. */
  conflict: number;
}

export const NO_FAULTS: ApiFaults = {
  latencyMs: [0, 0],
  throttled: 0,
  serverError: 0,
  hang: 0,
  lostAnswer: 0,
  deletedMidFlight: 0,
  conflict: 0,
};

export interface WriteRecord {
  kind: Kind;
  namespace: string;
  name: string;
  /** Who wrote: the clients' instance name. */
  by: string;
  patch: Operation[];
  atMs: number;
}

export interface ControllerView {
  replicaSets(namespace: string): V1ReplicaSet[];
  pods(namespace: string): V1Pod[];
}

interface Stored {
  object: Record<string, unknown>;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;
const clone = <T>(value: T): T => structuredClone(value);

function status(code: number, reason: string, message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code, ...extra });
}

function apiError(code: number, reason: string, message: string, headers: Record<string, string> = {}, extra = {}) {
  return new ApiException(
    code,
    `HTTP-Code: ${code}\nMessage: ${message}`,
    status(code, reason, message, extra),
    headers,
  );
}

/** `a=b,c!=d,e in (f,g),h notin (i),j,!k` as the API server reads a labelSelector. */
export function matchesSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  const have = labels ?? {};
  const terms = selector.match(/[^,()]+(?:\([^)]*\))?/g) ?? [];
  return terms.every((raw) => {
    const term = raw.trim();
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (set) {
      const values = (set[3] ?? "").split(",").map((value) => value.trim());
      const value = have[set[1] ?? ""];
      return set[2] === "in" ? value !== undefined && values.includes(value) : !values.includes(value ?? "\u0000");
    }
    const inequality = /^([^!=]+)!=(.*)$/.exec(term);
    if (inequality) return have[(inequality[1] ?? "").trim()] !== (inequality[2] ?? "").trim();
    const equality = /^([^=]+)==?(.*)$/.exec(term);
    if (equality) return have[(equality[1] ?? "").trim()] === (equality[2] ?? "").trim();
    if (term.startsWith("!")) return !(term.slice(1) in have);
    return term in have;
  });
}

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([name, value]) => labels?.[name] === value);

const podReady = (pod: V1Pod): boolean =>
  pod.metadata?.deletionTimestamp === undefined &&
  (pod.status?.conditions ?? []).some((condition) => condition.type === "Ready" && condition.status === "True");

/** Field by field: this runs for every Deployment on every tick, where serialising both was a tenth of the time. */
function sameStatus(a: V1Deployment["status"], b: V1Deployment["status"]): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  const counts = ["observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas"] as const;
  if (counts.some((field) => a[field] !== b[field]) || a.unavailableReplicas !== b.unavailableReplicas) return false;
  const left = a.conditions ?? [];
  const right = b.conditions ?? [];
  return (
    left.length === right.length &&
    left.every((condition, index) => {
      const other = right[index];
      return (
        other !== undefined &&
        condition.type === other.type &&
        condition.status === other.status &&
        condition.reason === other.reason &&
        condition.message === other.message &&
        String(condition.lastUpdateTime) === String(other.lastUpdateTime) &&
        String(condition.lastTransitionTime) === String(other.lastTransitionTime)
      );
    })
  );
}

export class SimCluster {
  private readonly objects = new Map<Kind, Map<string, Stored>>();
  private resourceVersion = 1;
  private uid = 1;
  readonly writes: WriteRecord[] = [];
  readonly events: { namespace: string; reason: string; note: string; regarding: string; atMs: number }[] = [];
  faults: ApiFaults = NO_FAULTS;
  /** Calls answered so far, by outcome, for reports. */
  readonly calls = { total: 0, hung: 0, throttled: 0, failed: 0 };

  constructor(
    private readonly clock: VirtualClock,
    private readonly random: Random,
    private readonly controller: ControllerView,
  ) {}

  // --- direct access (the simulator's own hands: user actions and the controller) ---------------------------------

  private bucket(kind: Kind): Map<string, Stored> {
    let found = this.objects.get(kind);
    if (!found) {
      found = new Map();
      this.objects.set(kind, found);
    }
    return found;
  }

  /** Creates or replaces an object; bumps resourceVersion, and generation when a Deployment's spec or annotations change. */
  put(kind: Kind, object: object): void {
    const copy = clone(object) as { metadata?: Record<string, unknown>; spec?: unknown };
    copy.metadata ??= {};
    const meta = copy.metadata;
    const namespace = String(meta.namespace ?? "default");
    const name = String(meta.name);
    const old = this.bucket(kind).get(key(namespace, name))?.object as typeof copy | undefined;
    meta.namespace = namespace;
    meta.uid = (old?.metadata?.uid as string | undefined) ?? `uid-${this.uid++}`;
    if (kind === "Deployment") {
      const before = old?.metadata?.generation as number | undefined;
      const changed =
        !old ||
        JSON.stringify(old.spec) !== JSON.stringify(copy.spec) ||
        JSON.stringify(old.metadata?.annotations ?? {}) !== JSON.stringify(meta.annotations ?? {});
      meta.generation = before === undefined ? 1 : changed ? before + 1 : before;
    }
    meta.resourceVersion = String(this.resourceVersion++);
    this.bucket(kind).set(key(namespace, name), { object: copy as Record<string, unknown> });
  }

  get<T = Record<string, unknown>>(kind: Kind, namespace: string, name: string): T | undefined {
    const found = this.bucket(kind).get(key(namespace, name));
    return found ? (clone(found.object) as T) : undefined;
  }

  /** The stored object itself (no copy): for the simulator's hot paths that only read. */
  peek<T = Record<string, unknown>>(kind: Kind, namespace: string, name: string): T | undefined {
    return this.bucket(kind).get(key(namespace, name))?.object as T | undefined;
  }

  list<T = Record<string, unknown>>(kind: Kind, namespace?: string): T[] {
    const items = [...this.bucket(kind).entries()]
      .filter(([at]) => namespace === undefined || at.startsWith(`${namespace}/`))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, stored]) => stored.object as T);
    return items;
  }

  remove(kind: Kind, namespace: string, name: string): boolean {
    return this.bucket(kind).delete(key(namespace, name));
  }

  /** The controller's ReplicaSets and Pods, as the API server would list them (copies). */
  replicaSets(namespace: string): V1ReplicaSet[] {
    return this.controller.replicaSets(namespace);
  }

  pods(namespace: string): V1Pod[] {
    return this.controller.pods(namespace);
  }

  /** The controller's status for a Deployment (status changes bump resourceVersion, never generation). */
  setDeploymentStatus(namespace: string, name: string, next: V1Deployment["status"]): void {
    const stored = this.bucket("Deployment").get(key(namespace, name));
    if (!stored) return;
    if (sameStatus(stored.object.status as V1Deployment["status"], next)) return;
    stored.object.status = next;
    (stored.object.metadata as Record<string, unknown>).resourceVersion = String(this.resourceVersion++);
  }

  /** EndpointSlices as the EndpointSlice controller keeps them: one per Service, every selected pod, ready or not. */
  endpointSlices(namespace: string): V1EndpointSlice[] {
    const pods = this.controller.pods(namespace);
    return this.list<V1Service>("Service", namespace).map((service) => ({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: `${service.metadata?.name}-sim`,
        namespace,
        labels: {
          "kubernetes.io/service-name": service.metadata?.name ?? "",
          "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        },
      },
      addressType: "IPv4",
      endpoints: pods
        .filter((pod) => selects(service.spec?.selector, pod.metadata?.labels))
        .map((pod, index) => ({
          addresses: [`10.0.${index >> 8}.${index & 255}`],
          conditions: { ready: podReady(pod), serving: podReady(pod), terminating: false },
          targetRef: { kind: "Pod", name: pod.metadata?.name ?? "", namespace },
        })),
      ports: (service.spec?.ports ?? []).map((port) => ({
        name: port.name ?? "",
        port: Number(port.targetPort ?? port.port),
        protocol: "TCP",
      })),
    }));
  }

  // --- the API surface, with faults ------------------------------------------------------------------------------

  /** One call: latency, then a fault or the answer. `write` calls may be lost after applying or hit a deleted object. */
  private async call<T>(answer: () => T, write?: { kind: Kind; namespace: string; name: string }): Promise<T> {
    this.calls.total++;
    const [low, high] = this.faults.latencyMs;
    const latency = low + (high - low) * this.random.next();
    if (latency > 0) await this.clock.sleep(latency);
    if (this.random.chance(this.faults.hang)) {
      this.calls.hung++;
      return new Promise<T>(() => {});
    }
    if (this.random.chance(this.faults.throttled)) {
      this.calls.throttled++;
      const seconds = this.random.int(1, 3);
      throw apiError(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
        {
          "retry-after": String(seconds),
        },
        { details: { retryAfterSeconds: seconds } },
      );
    }
    if (this.random.chance(this.faults.serverError)) {
      this.calls.failed++;
      throw apiError(500, "InternalError", "Internal error occurred: etcdserver: request timed out");
    }
    if (write && this.random.chance(this.faults.conflict)) {
      this.calls.failed++;
      throw apiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${write.kind.toLowerCase()}s "${write.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    if (write && this.random.chance(this.faults.deletedMidFlight)) this.remove(write.kind, write.namespace, write.name);
    const result = answer();
    if (write && this.random.chance(this.faults.lostAnswer)) {
      this.calls.failed++;
      throw apiError(500, "InternalError", "Internal error occurred: the answer was lost after the write");
    }
    return result;
  }

  private notFound(kind: string, name: string, group = ""): ApiException<string> {
    const resource = `${kind.toLowerCase()}s${group ? `.${group}` : ""}`;
    return apiError(
      404,
      "NotFound",
      `${resource} "${name}" not found`,
      {},
      { details: { name, kind: kind.toLowerCase() } },
    );
  }

  private patch(kind: Kind, namespace: string, name: string, operations: Operation[], by: string, group = "") {
    const stored = this.bucket(kind).get(key(namespace, name));
    if (!stored) throw this.notFound(kind, name, group);
    const copy = clone(stored.object);
    try {
      jsonPatch.applyPatch(copy, operations, true, true);
    } catch (error) {
      const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
      throw apiError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        {},
        {
          details: { causes: [{ message }] },
        },
      );
    }
    const meta = copy.metadata as Record<string, unknown>;
    const old = stored.object.metadata as Record<string, unknown>;
    if (meta.resourceVersion !== old.resourceVersion) {
      throw apiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${kind.toLowerCase()}s "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    this.put(kind, copy);
    this.writes.push({ kind, namespace, name, by, patch: clone(operations), atMs: this.clock.now() });
    return this.get(kind, namespace, name);
  }

  /** client-node-shaped clients for one stepper instance. */
  clients(instance: string): KubeClients {
    const listOf = <T>(items: T[]) => ({ apiVersion: "v1", kind: "List", metadata: {}, items: clone(items) });
    const apps = {
      listDeploymentForAllNamespaces: () => this.call(() => listOf(this.list<V1Deployment>("Deployment"))),
      listNamespacedDeployment: ({ namespace }: { namespace: string }) =>
        this.call(() => listOf(this.list<V1Deployment>("Deployment", namespace))),
      readNamespacedDeployment: ({ namespace, name }: { namespace: string; name: string }) =>
        this.call(() => {
          const found = this.get<V1Deployment>("Deployment", namespace, name);
          if (!found) throw this.notFound("Deployment", name, "apps");
          return found;
        }),
      patchNamespacedDeployment: ({ namespace, name, body }: { namespace: string; name: string; body: Operation[] }) =>
        this.call(() => this.patch("Deployment", namespace, name, body, instance, "apps"), {
          kind: "Deployment",
          namespace,
          name,
        }),
      listNamespacedReplicaSet: ({ namespace, labelSelector }: { namespace: string; labelSelector?: string }) =>
        this.call(() =>
          listOf(
            this.controller.replicaSets(namespace).filter((rs) => matchesSelector(rs.metadata?.labels, labelSelector)),
          ),
        ),
    };
    const core = {
      listNamespacedPod: ({ namespace, labelSelector }: { namespace: string; labelSelector?: string }) =>
        this.call(() =>
          listOf(this.controller.pods(namespace).filter((pod) => matchesSelector(pod.metadata?.labels, labelSelector))),
        ),
      readNamespacedService: ({ namespace, name }: { namespace: string; name: string }) =>
        this.call(() => {
          const found = this.get<V1Service>("Service", namespace, name);
          if (!found) throw this.notFound("Service", name);
          return found;
        }),
      listNamespacedService: ({ namespace }: { namespace: string }) =>
        this.call(() => listOf(this.list<V1Service>("Service", namespace))),
      patchNamespacedService: ({ namespace, name, body }: { namespace: string; name: string; body: Operation[] }) =>
        this.call(() => this.patch("Service", namespace, name, body, instance), { kind: "Service", namespace, name }),
      connectGetNamespacedServiceProxyWithPath: (
        { namespace, name }: { namespace: string; name: string; path: string },
        options?: { middleware?: { pre(c: RequestContext): unknown; post(c: ResponseContext): unknown }[] },
      ) => this.call(() => this.proxy(namespace, name.split(":")[0] ?? name, options?.middleware ?? [])).then((x) => x),
      listNamespace: () => this.call(() => listOf([])),
    };
    const custom = {
      listNamespacedCustomObject: ({ namespace, plural }: { namespace: string; plural: string }) =>
        this.call(() => {
          const kind: Kind = plural === "virtualservices" ? "VirtualService" : "DestinationRule";
          return {
            apiVersion: "networking.istio.io/v1",
            kind: `${kind}List`,
            items: clone(this.list(kind, namespace)),
          };
        }),
      patchNamespacedCustomObject: ({
        namespace,
        name,
        body,
      }: {
        namespace: string;
        name: string;
        body: Operation[];
      }) =>
        this.call(() => this.patch("VirtualService", namespace, name, body, instance, "networking.istio.io"), {
          kind: "VirtualService",
          namespace,
          name,
        }),
    };
    const events = {
      createNamespacedEvent: ({ namespace, body }: { namespace: string; body: Record<string, unknown> }) =>
        this.call(() => {
          const regarding = body.regarding as { name?: string } | undefined;
          this.events.push({
            namespace,
            reason: String(body.reason),
            note: String(body.note ?? ""),
            regarding: regarding?.name ?? "",
            atMs: this.clock.now(),
          });
          return body;
        }),
    };
    const discovery = {
      listNamespacedEndpointSlice: ({ namespace, labelSelector }: { namespace: string; labelSelector?: string }) =>
        this.call(() =>
          listOf(
            this.endpointSlices(namespace).filter((slice) => matchesSelector(slice.metadata?.labels, labelSelector)),
          ),
        ),
    };
    return { apps, core, custom, events, discovery, instance } as unknown as KubeClients;
  }

  /** Pluggable answer of a Service's backends to the API server's proxy (the smoke check). */
  proxyAnswer: (namespace: string, service: string) => { status: number; body: string } = () => ({
    status: 200,
    body: "ok",
  });

  /** The proxy call as client-node runs it: request middleware, then the response through each `post`. */
  private async proxy(
    namespace: string,
    service: string,
    middleware: readonly { pre(c: RequestContext): unknown; post(c: ResponseContext): unknown }[],
  ): Promise<string> {
    const request = new RequestContext(
      `https://sim/api/v1/namespaces/${namespace}/services/${service}/proxy/`,
      "GET" as never,
    );
    for (const item of middleware) await (item.pre(request) as { toPromise(): Promise<unknown> }).toPromise();
    const ready = this.endpointSlices(namespace)
      .filter((slice) => slice.metadata?.labels?.["kubernetes.io/service-name"] === service)
      .some((slice) => slice.endpoints.some((endpoint) => endpoint.conditions?.ready));
    const answer = ready
      ? this.proxyAnswer(namespace, service)
      : { status: 503, body: `no endpoints available for service "${service}"` };
    let response = new ResponseContext(
      answer.status,
      { "content-type": "text/plain" },
      {
        text: async () => answer.body,
        binary: async () => Buffer.from(answer.body),
      },
    );
    for (const item of middleware) {
      response = (await (item.post(response) as { toPromise(): Promise<ResponseContext> }).toPromise()) ?? response;
    }
    if (response.httpStatusCode >= 400) {
      throw apiError(response.httpStatusCode, "ServiceUnavailable", answer.body);
    }
    return response.body.text();
  }
}
