// The stepper's Kubernetes adapter: lists canary Deployments, reads Istio objects (v1, else v1beta1), writes guarded
// JSON Patches and events.k8s.io/v1 Events. Written against @kubernetes/client-node 1.4; nothing here decides.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  EventsV1Api,
  type KubeConfig,
  type V1Deployment,
  V1MicroTime,
} from "@kubernetes/client-node";
import type { Operation } from "fast-json-patch";
import type { DestinationRule, VirtualService } from "../canary/virtual-service.ts";

export const ISTIO_GROUP = "networking.istio.io";
/** Tried in order: v1 since Istio 1.22, v1beta1 before it. */
export const ISTIO_VERSIONS = ["v1", "v1beta1"] as const;
export const REPORTING_CONTROLLER = "greenlight.dev/stepper";

export interface KubeClients {
  apps: AppsV1Api;
  /** Services, Pods and the service proxy (blue/green and the rolling guard). */
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** EndpointSlices (blue/green's verification after a switch). */
  discovery: DiscoveryV1Api;
  events: EventsV1Api;
  /** Identifies this run in Events (`reportingInstance`). */
  instance: string;
}

export function createKubeClients(config: KubeConfig, instance = "greenlight-stepper"): KubeClients {
  return {
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    discovery: config.makeApiClient(DiscoveryV1Api),
    events: config.makeApiClient(EventsV1Api),
    instance,
  };
}

/** A failure of one API call, reduced to what the run loop acts on. */
export class KubeError extends Error {
  constructor(
    message: string,
    readonly code: number | string | undefined,
  ) {
    super(message);
    this.name = "KubeError";
  }
  /** 409 Conflict, or 422 from a failed `test` op: someone else wrote first. */
  get isConflict(): boolean {
    return this.code === 409 || this.code === 422;
  }
  get isNotFound(): boolean {
    return this.code === 404;
  }
}

interface StatusBody {
  message?: string;
  reason?: string;
  details?: { name?: string; causes?: { message?: string }[] };
}

function statusOf(error: ApiException<unknown>): StatusBody {
  try {
    return typeof error.body === "string" ? (JSON.parse(error.body) as StatusBody) : {};
  } catch {
    return {};
  }
}

/** Turns client-node's ApiException / FetchError into a KubeError whose message says what failed and where. */
export function toKubeError(error: unknown, what: string): KubeError {
  if (error instanceof KubeError) return error;
  if (error instanceof ApiException) {
    const status = statusOf(error);
    const cause = status.details?.causes?.[0]?.message;
    const detail = [status.message, cause].filter(Boolean).join(": ") || `HTTP ${error.code}`;
    return new KubeError(`${what}: ${detail}`, error.code);
  }
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  return new KubeError(`${what}: ${message}`, code);
}

/** A 404 that means "this API version is not served", as opposed to "this object does not exist". */
function isUnservedVersion(error: unknown): boolean {
  if (!(error instanceof ApiException) || error.code !== 404) return false;
  return statusOf(error).details?.name === undefined;
}

export async function listDeployments(clients: KubeClients, namespaces?: readonly string[]): Promise<V1Deployment[]> {
  try {
    if (!namespaces || namespaces.length === 0) {
      return (await clients.apps.listDeploymentForAllNamespaces({})).items;
    }
    const lists = await Promise.all(
      namespaces.map((namespace) => clients.apps.listNamespacedDeployment({ namespace })),
    );
    return lists.flatMap((list) => list.items);
  } catch (error) {
    throw toKubeError(error, `listing Deployments${namespaces?.length ? ` in ${namespaces.join(", ")}` : ""}`);
  }
}

/**
 * Reads Istio objects; learns once per instance which API version the cluster serves, so a run costs one extra call
 * at most on clusters that only serve v1beta1.
 */
export class IstioReader {
  private version: (typeof ISTIO_VERSIONS)[number] | undefined;
  private readonly lists = new Map<string, Promise<unknown[]>>();

  constructor(private readonly clients: KubeClients) {}

  get servedVersion(): string | undefined {
    return this.version;
  }

  private async withVersion<T>(what: string, call: (version: string) => Promise<T>): Promise<T> {
    const candidates = this.version ? [this.version] : ISTIO_VERSIONS;
    let lastError: unknown;
    for (const version of candidates) {
      try {
        const result = await call(version);
        this.version = version;
        return result;
      } catch (error) {
        lastError = error;
        if (!isUnservedVersion(error)) break;
      }
    }
    throw toKubeError(lastError, what);
  }

  /** One list per kind and namespace per run, however many canaries live there (calls are the cost of a run). */
  private listNamespaced<T>(plural: "virtualservices" | "destinationrules", namespace: string): Promise<T[]> {
    const key = `${plural}/${namespace}`;
    let list = this.lists.get(key) as Promise<T[]> | undefined;
    if (!list) {
      list = this.withVersion(
        `listing ${plural} in ${namespace}`,
        async (version) =>
          (
            (await this.clients.custom.listNamespacedCustomObject({
              group: ISTIO_GROUP,
              version,
              namespace,
              plural,
            })) as { items: T[] }
          ).items,
      );
      this.lists.set(key, list);
      list.catch(() => this.lists.delete(key));
    }
    return list;
  }

  async getVirtualService(namespace: string, name: string): Promise<VirtualService> {
    const found = (await this.listNamespaced<VirtualService>("virtualservices", namespace)).find(
      (vs) => vs.metadata?.name === name,
    );
    if (!found) {
      throw new KubeError(
        `reading VirtualService ${namespace}/${name}: virtualservices.${ISTIO_GROUP} "${name}" not found`,
        404,
      );
    }
    return found;
  }

  listDestinationRules(namespace: string): Promise<DestinationRule[]> {
    return this.listNamespaced<DestinationRule>("destinationrules", namespace);
  }

  async patchVirtualService(namespace: string, name: string, patch: Operation[]): Promise<VirtualService> {
    return this.withVersion(
      `patching VirtualService ${namespace}/${name}`,
      async (version) =>
        (await this.clients.custom.patchNamespacedCustomObject({
          group: ISTIO_GROUP,
          version,
          namespace,
          plural: "virtualservices",
          name,
          body: patch,
        })) as VirtualService,
    );
  }
}

export interface EventSpec {
  type: "Normal" | "Warning";
  reason: string;
  action: string;
  note: string;
}

/** Records an event on a Deployment; a failure to record is returned, never thrown (the write already happened). */
export async function recordEvent(
  clients: KubeClients,
  deployment: { namespace: string; name: string; uid?: string },
  event: EventSpec,
  now: Date,
): Promise<KubeError | undefined> {
  try {
    await clients.events.createNamespacedEvent({
      namespace: deployment.namespace,
      body: {
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { generateName: `${deployment.name}.`, namespace: deployment.namespace },
        // events.k8s.io wants microseconds; a plain Date serialises with milliseconds and is refused.
        eventTime: new V1MicroTime(now.getTime()),
        type: event.type,
        reason: event.reason,
        action: event.action,
        note: event.note.slice(0, 1024),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: clients.instance,
        regarding: {
          apiVersion: "apps/v1",
          kind: "Deployment",
          namespace: deployment.namespace,
          name: deployment.name,
          ...(deployment.uid ? { uid: deployment.uid } : {}),
        },
      },
    });
    return undefined;
  } catch (error) {
    return toKubeError(error, `recording event ${event.reason} on ${deployment.namespace}/${deployment.name}`);
  }
}
