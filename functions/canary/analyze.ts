// Runs a canary's checks once, outside the schedule and without writing anything (`greenlight canary analyze`).

import type { KubeClients } from "../kube/clients.ts";
import { toKubeError } from "../kube/errors.ts";
import { analyse, type CheckResult, type MetricsReader } from "./checks.ts";
import { IstioReader } from "./istio.ts";
import { locate, readCanary } from "./step.ts";

export interface Analysis {
  namespace: string;
  deployment: string;
  version: string;
  service: string;
  checks: CheckResult[];
  warnings: string[];
}

export async function analyseDeployment(
  clients: KubeClients,
  reader: MetricsReader,
  namespace: string,
  name: string,
): Promise<Analysis> {
  let deployment: Awaited<ReturnType<KubeClients["apps"]["readNamespacedDeployment"]>>;
  try {
    deployment = await clients.apps.readNamespacedDeployment({ namespace, name });
  } catch (error) {
    throw toKubeError(error, `reading Deployment ${namespace}/${name}`);
  }
  const canary = readCanary(deployment);
  if (!canary.version) throw new Error(`${namespace}/${name} has no version label on its pod template`);
  // The service the checks use is the route's host when the VirtualService can be read, else the app name.
  let service = canary.app;
  const warnings = [...canary.problems];
  try {
    const istio = new IstioReader(clients);
    const vs = await istio.getVirtualService(namespace, canary.settings.virtualService);
    const found = locate(vs, await istio.listDestinationRules(namespace), canary.version);
    if ("located" in found) service = found.located.canary.host ?? service;
    else warnings.push(found.problem);
  } catch (error) {
    warnings.push(toKubeError(error, "reading the VirtualService").message);
  }
  const target = { namespace, deployment: name, version: canary.version, service };
  return { ...target, checks: await analyse(reader, target, canary.settings), warnings };
}
