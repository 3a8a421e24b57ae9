// Runs a canary's checks once, outside the schedule and without writing anything (`greenlight canary analyze`).

import type { KubeClients } from "../kube/clients.ts";
import { toKubeError } from "../kube/errors.ts";
import { analyse, type CheckResult, type MetricsReader } from "./checks.ts";
import { createRouters } from "./router.ts";
import { readCanary } from "./step.ts";

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
  // The service the checks use is the route's canary host or backend when the route can be read, else the app name.
  let service = canary.app;
  const warnings = [...canary.problems];
  try {
    const router = createRouters(clients)[canary.settings.router];
    const view = await router.read(namespace, canary.settings, canary.version);
    if ("weights" in view) service = view.canaryService || service;
    else warnings.push(view.problem);
  } catch (error) {
    const what = canary.settings.router === "istio" ? "the VirtualService" : "the HTTPRoute";
    warnings.push(toKubeError(error, `reading ${what}`).message);
  }
  const target = { namespace, deployment: name, version: canary.version, service };
  return { ...target, checks: await analyse(reader, target, canary.settings), warnings };
}
