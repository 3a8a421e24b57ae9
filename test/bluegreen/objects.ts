// The seed's blue/green objects as the API server holds them, and stand-ins for the controllers the fake lacks.
import type { Sleep } from "../../functions/bluegreen/switch.ts";
import type { FakeApiServer, JsonObject } from "../../scripts/fakes/kube/fake-apiserver.ts";

const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
const MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
const CONTROLLER = "endpointslice-controller.k8s.io";

export const NAMESPACE = "production";
export const APP = "myapp";
export const MAIN = "myapp";

type Color = string;

const labelsOf = (color: Color) => ({ app: APP, version: color });

export interface RolloutStatus {
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  conditions: { type: string; status: string; reason?: string; message?: string }[];
}

/** A Deployment's status once the Deployment controller has rolled out `replicas` pods of its latest template. */
export function rolledOut(replicas: number, generation = 1): RolloutStatus {
  return {
    observedGeneration: generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    conditions: [
      { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
      { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" },
    ],
  };
}

/** The seed's myapp-blue / myapp-green, annotated for greenlight. */
export function colorDeployment(
  color: Color,
  options: {
    image?: string;
    replicas?: number;
    annotations?: Record<string, string>;
    status?: Partial<RolloutStatus>;
  } = {},
): JsonObject {
  const replicas = options.replicas ?? 3;
  const labels = labelsOf(color);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: `${APP}-${color}`,
      namespace: NAMESPACE,
      labels,
      annotations: {
        "greenlight.dev/strategy": "blue-green",
        "greenlight.dev/service": MAIN,
        "greenlight.dev/smoke-path": "/health",
        ...options.annotations,
      },
    },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: APP,
              image: options.image ?? (color === "blue" ? "myapp:v1.0" : "myapp:v2.0"),
              ports: [{ containerPort: 8080 }],
            },
          ],
        },
      },
    },
    status: { ...rolledOut(replicas), ...options.status },
  };
}

const ports = [{ port: 80, targetPort: 8080, protocol: "TCP" }];

/** myapp-blue / myapp-green: the per-version Services the smoke check goes through. */
export function versionService(color: Color): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `${APP}-${color}`, namespace: NAMESPACE, labels: labelsOf(color) },
    spec: { selector: labelsOf(color), ports },
  };
}

/** myapp: the main Service, the switch point. */
export function mainService(color: Color, annotations?: Record<string, string>): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: MAIN, namespace: NAMESPACE, labels: { app: APP }, ...(annotations ? { annotations } : {}) },
    spec: { selector: labelsOf(color), ports, type: "LoadBalancer" },
  };
}

const octet = (color: Color) => (color === "blue" ? 1 : color === "green" ? 2 : 3);

/** The running pods of a version, as the ReplicaSet controller and the kubelet would leave them. */
export function putPods(api: FakeApiServer, color: Color, count = 3, ready = true): void {
  for (let index = 0; index < count; index++) {
    const ip = `10.${octet(color)}.0.${index + 10}`;
    api.put({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `${APP}-${color}-${index}`, namespace: NAMESPACE, labels: labelsOf(color) },
      spec: { containers: [{ name: APP, image: `myapp:${color}` }] },
      status: {
        phase: "Running",
        podIP: ip,
        podIPs: [{ ip }],
        conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      },
    });
  }
}

const isReady = (pod: JsonObject): boolean =>
  ((pod.status as { conditions?: { type: string; status: string }[] }).conditions ?? []).some(
    (condition) => condition.type === "Ready" && condition.status === "True",
  );

interface ControllerOptions {
  namespace?: string;
  /** The EndpointSlice controller's --max-endpoints-per-slice (100 in a real cluster). */
  maxEndpointsPerSlice?: number;
}

/**
 * One pass of the Endpoints and EndpointSlice controllers: every Service with a selector gets Endpoints listing the
 * pods it selects (ready ones under `addresses`, the others under `notReadyAddresses`) and IPv4 EndpointSlices
 * labelled `kubernetes.io/service-name` holding the same pods with their `ready` condition, all with a Pod targetRef.
 * Like the real controllers, they write only when something changed (resourceVersions stay put otherwise).
 */
export function syncEndpoints(api: FakeApiServer, options: ControllerOptions = {}): void {
  const namespace = options.namespace ?? NAMESPACE;
  for (const service of api.list("v1", "Service", namespace)) {
    const spec = service.spec as {
      selector?: Record<string, string>;
      ports?: { name?: string; targetPort?: number }[];
    };
    const name = (service.metadata as { name: string }).name;
    if (!spec.selector) continue;
    const selector = Object.entries(spec.selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(",");
    const targetRef = (pod: JsonObject) => {
      const metadata = pod.metadata as { name: string; uid: string };
      return { kind: "Pod", namespace, name: metadata.name, uid: metadata.uid };
    };
    const address = (pod: JsonObject) => ({ ip: (pod.status as { podIP: string }).podIP, targetRef: targetRef(pod) });
    const pods = api.list("v1", "Pod", namespace, selector);
    const endpointPorts = (spec.ports ?? []).map((port) => ({
      ...(port.name ? { name: port.name } : {}),
      port: port.targetPort,
      protocol: "TCP",
    }));
    const addresses = pods.filter(isReady).map(address);
    const notReadyAddresses = pods.filter((pod) => !isReady(pod)).map(address);
    const subset = {
      ...(addresses.length ? { addresses } : {}),
      ...(notReadyAddresses.length ? { notReadyAddresses } : {}),
      ports: endpointPorts,
    };
    const subsets = pods.length > 0 ? [subset] : [];
    const stored = api.get("v1", "Endpoints", namespace, name);
    if (!stored || JSON.stringify(stored.subsets ?? []) !== JSON.stringify(subsets)) {
      api.put({ apiVersion: "v1", kind: "Endpoints", metadata: { name, namespace }, subsets });
    }
    syncSlices(api, { namespace, service: name, ports: endpointPorts, max: options.maxEndpointsPerSlice ?? 100 }, pods);
  }
}

/** The EndpointSlices of one Service: `<service>-<n>`, at most `max` endpoints each, its surplus slices deleted. */
function syncSlices(
  api: FakeApiServer,
  target: { namespace: string; service: string; ports: object[]; max: number },
  pods: JsonObject[],
): void {
  const { namespace, service, ports, max } = target;
  const endpoints = pods.map((pod) => {
    const metadata = pod.metadata as { name: string; uid: string };
    const ready = isReady(pod);
    return {
      addresses: [(pod.status as { podIP: string }).podIP],
      conditions: { ready, serving: ready, terminating: false },
      targetRef: { kind: "Pod", namespace, name: metadata.name, uid: metadata.uid },
    };
  });
  const chunks = Array.from({ length: Math.max(1, Math.ceil(endpoints.length / max)) }, (_, index) =>
    endpoints.slice(index * max, (index + 1) * max),
  );
  const names = chunks.map((_, index) => `${service}-${index}`);
  chunks.forEach((chunk, index) => {
    const name = names[index] as string;
    const stored = api.get("discovery.k8s.io/v1", "EndpointSlice", namespace, name);
    if (stored && JSON.stringify(stored.endpoints) === JSON.stringify(chunk)) return;
    api.put({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name,
        namespace,
        labels: {
          [SERVICE_NAME_LABEL]: service,
          [MANAGED_BY]: CONTROLLER,
        },
      },
      addressType: "IPv4",
      endpoints: chunk,
      ports,
    });
  });
  // Only its own slices: one a test wrote under another manager stays, as a real controller leaves it.
  const own = `${SERVICE_NAME_LABEL}=${service},${MANAGED_BY}=${CONTROLLER}`;
  for (const slice of api.list("discovery.k8s.io/v1", "EndpointSlice", namespace, own)) {
    const name = (slice.metadata as { name: string }).name;
    if (!names.includes(name)) api.remove("discovery.k8s.io/v1", "EndpointSlice", namespace, name);
  }
}

/** The Service's EndpointSlices as stored (the controller's, and any a test added). */
export const storedSlices = (api: FakeApiServer, service = MAIN) =>
  api.list("discovery.k8s.io/v1", "EndpointSlice", NAMESPACE, `${SERVICE_NAME_LABEL}=${service}`) as (JsonObject & {
    metadata: { name: string; labels: Record<string, string> };
    endpoints: object[];
  })[];

/** blue serving through myapp, green rolled out beside it: the moment before the seed's switch script runs. */
export function seedBlueGreen(
  api: FakeApiServer,
  options: { green?: Parameters<typeof colorDeployment>[1]; blue?: Parameters<typeof colorDeployment>[1] } = {},
): void {
  api.put(colorDeployment("blue", options.blue));
  api.put(colorDeployment("green", options.green));
  putPods(api, "blue");
  putPods(api, "green");
  api.put(versionService("blue"));
  api.put(versionService("green"));
  api.put(mainService("blue"));
  syncEndpoints(api);
}

/** A sleep that records what it was asked to wait and, like time passing, lets the Endpoints controller run. */
export function controllerSleep(api: FakeApiServer, controller = true): { sleep: Sleep; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms) => {
      waits.push(ms);
      if (controller) syncEndpoints(api);
    },
  };
}

/** The Service as stored, with the fields the tests read. */
export const storedService = (api: FakeApiServer, name = MAIN) =>
  api.get("v1", "Service", NAMESPACE, name) as JsonObject & {
    metadata: { resourceVersion: string; annotations?: Record<string, string> };
    spec: { selector: Record<string, string> };
  };

export const statusOf = (api: FakeApiServer): Record<string, unknown> =>
  JSON.parse(storedService(api).metadata.annotations?.["greenlight.dev/status"] ?? "null") as Record<string, unknown>;

interface RecordedEvent {
  reason: string;
  note: string;
  eventTime: string;
  regarding: { name: string };
}

/** The Events greenlight recorded, oldest first. */
export const recordedEvents = (api: FakeApiServer): RecordedEvent[] =>
  (api.list("events.k8s.io/v1", "Event", NAMESPACE) as unknown as RecordedEvent[]).sort((a, b) =>
    a.eventTime.localeCompare(b.eventTime),
  );

/** Calls that changed something (dry runs excluded). */
export const writes = (api: FakeApiServer) =>
  api.calls.filter(
    (call) => ["create", "update", "patch", "delete"].includes(call.verb) && call.query.dryRun === undefined,
  );
