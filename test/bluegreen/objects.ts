// The seed's blue/green objects as the API server holds them, and stand-ins for the controllers the fake lacks.
import type { Sleep } from "../../functions/bluegreen/switch.ts";
import type { FakeApiServer, JsonObject } from "../kube/fake-apiserver.ts";

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

/**
 * One pass of the Endpoints controller: every Service with a selector gets Endpoints listing the pods it selects,
 * ready ones under `addresses`, the others under `notReadyAddresses`, with a Pod targetRef.
 */
export function syncEndpoints(api: FakeApiServer, namespace = NAMESPACE): void {
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
    const address = (pod: JsonObject) => {
      const metadata = pod.metadata as { name: string; uid: string };
      return {
        ip: (pod.status as { podIP: string }).podIP,
        targetRef: { kind: "Pod", namespace, name: metadata.name, uid: metadata.uid },
      };
    };
    const pods = api.list("v1", "Pod", namespace, selector);
    const addresses = pods.filter(isReady).map(address);
    const notReadyAddresses = pods.filter((pod) => !isReady(pod)).map(address);
    const subset = {
      ...(addresses.length ? { addresses } : {}),
      ...(notReadyAddresses.length ? { notReadyAddresses } : {}),
      ports: (spec.ports ?? []).map((port) => ({
        ...(port.name ? { name: port.name } : {}),
        port: port.targetPort,
        protocol: "TCP",
      })),
    };
    const subsets = pods.length > 0 ? [subset] : [];
    // Like the real controller, write only when something changed (resourceVersions stay put otherwise).
    const stored = api.get("v1", "Endpoints", namespace, name);
    if (stored && JSON.stringify(stored.subsets ?? []) === JSON.stringify(subsets)) continue;
    api.put({ apiVersion: "v1", kind: "Endpoints", metadata: { name, namespace }, subsets });
  }
}

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
