// Runs a canary's checks once, outside the schedule and without writing anything (`greenlight canary analyze`).

import type { KubeClients } from "../kube/clients.ts";
import { toKubeError } from "../kube/errors.ts";
import type { CheckResult, MetricsReader } from "./checks.ts";
import { analyseCanary } from "./compare.ts";
import { createRouters } from "./router.ts";
import { readCanary } from "./step.ts";

export interface Analysis {
  namespace: string;
  deployment: string;
  version: string;
  service: string;
  /** Set under greenlight.dev/judge: compare; the comparisons then judge this window alone. */
  judge?: "compare";
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
  let stableVersion: string | undefined;
  const warnings = [...canary.problems];
  try {
    const router = createRouters(clients)[canary.settings.router];
    const view = await router.read(namespace, canary.settings, canary.version);
    if ("weights" in view) {
      service = view.canaryService || service;
      stableVersion = view.stableVersion;
    } else warnings.push(view.problem);
  } catch (error) {
    const what = canary.settings.router === "istio" ? "the VirtualService" : "the HTTPRoute";
    warnings.push(toKubeError(error, `reading ${what}`).message);
  }
  const target = { namespace, deployment: name, version: canary.version, service };
  if (!canary.settings.judge) {
    return { ...target, checks: (await analyseCanary(reader, target, canary.settings)).checks, warnings };
  }
  // The comparative judge on this one window alone: the stepper's verdicts also count the windows before it.
  const compared = { ...target, app: canary.app, ...(stableVersion ? { stableVersion } : {}) };
  const { checks } = await analyseCanary(reader, compared, canary.settings);
  return { ...target, judge: "compare", checks, warnings };
}
