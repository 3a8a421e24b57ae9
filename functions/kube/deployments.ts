// Listing Deployments: once per scheduled pass, in every namespace or the ones asked for.
import type { V1Deployment } from "@kubernetes/client-node";
import type { KubeClients } from "./clients.ts";
import { toKubeError } from "./errors.ts";

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
