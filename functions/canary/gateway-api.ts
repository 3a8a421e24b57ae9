// The canary's traffic router on the Gateway API: reads HTTPRoutes (gateway.networking.k8s.io v1, else v1beta1) and
// writes the guarded JSON Patch of one. Written against client-node 1.4; nothing here decides.
import type { Operation } from "fast-json-patch";
import type { KubeClients } from "../kube/clients.ts";
import { KubeError } from "../kube/errors.ts";
import { ServedVersion } from "../kube/served-version.ts";
import { GATEWAY_API_GROUP, type HTTPRoute } from "./http-route.ts";

/** Tried in order: v1 since Gateway API 1.0, v1beta1 before it (as Flagger does). */
export const GATEWAY_API_VERSIONS = ["v1", "v1beta1"] as const;

/**
 * Reads HTTPRoutes: one list per namespace per instance (a pass creates one), and learns once which API version the
 * cluster serves.
 */
export class GatewayApiReader {
  private readonly served = new ServedVersion(GATEWAY_API_VERSIONS);
  private readonly lists = new Map<string, Promise<HTTPRoute[]>>();

  constructor(private readonly clients: KubeClients) {}

  get servedVersion(): string | undefined {
    return this.served.version;
  }

  listHTTPRoutes(namespace: string): Promise<HTTPRoute[]> {
    let list = this.lists.get(namespace);
    if (!list) {
      list = this.served.call(
        `listing httproutes in ${namespace}`,
        async (version) =>
          (
            (await this.clients.custom.listNamespacedCustomObject({
              group: GATEWAY_API_GROUP,
              version,
              namespace,
              plural: "httproutes",
            })) as { items: HTTPRoute[] }
          ).items,
      );
      this.lists.set(namespace, list);
      list.catch(() => this.lists.delete(namespace));
    }
    return list;
  }

  async getHTTPRoute(namespace: string, name: string): Promise<HTTPRoute> {
    const found = (await this.listHTTPRoutes(namespace)).find((route) => route.metadata?.name === name);
    if (!found) {
      throw new KubeError(
        `reading HTTPRoute ${namespace}/${name}: httproutes.${GATEWAY_API_GROUP} "${name}" not found`,
        404,
      );
    }
    return found;
  }

  async patchHTTPRoute(namespace: string, name: string, patch: Operation[]): Promise<HTTPRoute> {
    return this.served.call(
      `patching HTTPRoute ${namespace}/${name}`,
      async (version) =>
        (await this.clients.custom.patchNamespacedCustomObject({
          group: GATEWAY_API_GROUP,
          version,
          namespace,
          plural: "httproutes",
          name,
          body: patch,
        })) as HTTPRoute,
    );
  }
}
