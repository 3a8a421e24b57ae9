// The canary's traffic router on Istio: reads VirtualServices and DestinationRules (v1, else v1beta1) and writes the
// guarded JSON Patch of a VirtualService. Written against client-node 1.4; nothing here decides.
import type { Operation } from "fast-json-patch";
import type { KubeClients } from "../kube/clients.ts";
import { KubeError } from "../kube/errors.ts";
import { ServedVersion } from "../kube/served-version.ts";
import type { DestinationRule, VirtualService } from "./virtual-service.ts";

export const ISTIO_GROUP = "networking.istio.io";
/** Tried in order: v1 since Istio 1.22, v1beta1 before it. */
export const ISTIO_VERSIONS = ["v1", "v1beta1"] as const;

/**
 * Reads Istio objects; learns once per instance which API version the cluster serves, so a run costs one extra call
 * at most on clusters that only serve v1beta1.
 */
export class IstioReader {
  private readonly served = new ServedVersion(ISTIO_VERSIONS);
  private readonly lists = new Map<string, Promise<unknown[]>>();

  constructor(private readonly clients: KubeClients) {}

  get servedVersion(): string | undefined {
    return this.served.version;
  }

  /** One list per kind and namespace per run, however many canaries live there (calls are the cost of a run). */
  private listNamespaced<T>(plural: "virtualservices" | "destinationrules", namespace: string): Promise<T[]> {
    const key = `${plural}/${namespace}`;
    let list = this.lists.get(key) as Promise<T[]> | undefined;
    if (!list) {
      list = this.served.call(
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
    return this.served.call(
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
