// Reads where every canary stands (for `greenlight canary status`): the status annotation and the live weights.

import type { KubeClients } from "../kube/clients.ts";
import { listDeployments } from "../kube/deployments.ts";
import { toKubeError } from "../kube/errors.ts";
import type { CheckResult } from "./checks.ts";
import { IstioReader } from "./istio.ts";
import { parseStatus, STATUS_ANNOTATION } from "./status.ts";
import { isCanary, locate, readCanary } from "./step.ts";
import { readWeights, type Weights } from "./virtual-service.ts";

export interface CanaryStanding {
  namespace: string;
  deployment: string;
  virtualService: string;
  version?: string;
  phase?: string;
  /** Step number (1-based) and how many there are, when progressing. */
  step?: { index: number; of: number };
  /** The weights on the route now. */
  weights?: Weights;
  lastChecks: CheckResult[];
  reason?: string;
  updatedAt?: string;
  problem?: string;
}

export async function readStandings(clients: KubeClients, namespaces?: readonly string[]): Promise<CanaryStanding[]> {
  const istio = new IstioReader(clients);
  const deployments = (await listDeployments(clients, namespaces)).filter(isCanary);
  const rows = await Promise.all(
    deployments.map(async (deployment): Promise<CanaryStanding> => {
      const { namespace, name, version, settings } = readCanary(deployment);
      const row: CanaryStanding = {
        namespace,
        deployment: name,
        virtualService: settings.virtualService,
        lastChecks: [],
        ...(version ? { version } : {}),
      };
      try {
        const vs = await istio.getVirtualService(namespace, settings.virtualService);
        const { status, problem } = parseStatus(vs.metadata?.annotations?.[STATUS_ANNOTATION]);
        if (problem) row.problem = problem;
        if (status) {
          Object.assign(row, {
            phase: status.phase,
            lastChecks: status.lastChecks,
            updatedAt: status.updatedAt,
            ...(status.reason ? { reason: status.reason } : {}),
            ...(status.stepIndex >= 0 ? { step: { index: status.stepIndex + 1, of: settings.steps.length } } : {}),
          });
        }
        if (version) {
          const found = locate(vs, await istio.listDestinationRules(namespace), version);
          if ("located" in found) row.weights = readWeights(vs, found.located);
          else row.problem ??= found.problem;
        }
      } catch (error) {
        row.problem = toKubeError(error, `reading ${namespace}/${settings.virtualService}`).message;
      }
      return row;
    }),
  );
  return rows.sort((a, b) => `${a.namespace}/${a.deployment}`.localeCompare(`${b.namespace}/${b.deployment}`));
}
