// Reads where every canary stands (for `greenlight canary status`): the status annotation and the live weights.

import type { KubeClients } from "../kube/clients.ts";
import { listDeployments } from "../kube/deployments.ts";
import { toKubeError } from "../kube/errors.ts";
import type { CheckResult } from "./checks.ts";
import { nextAnalysisAt } from "./decide.ts";
import { createRouters, type RouteObject } from "./router.ts";
import { parseStatus, STATUS_ANNOTATION } from "./status.ts";
import { isCanary, readCanary } from "./step.ts";
import type { Weights } from "./weights.ts";

export interface CanaryStanding {
  namespace: string;
  deployment: string;
  /** The route object's name: the VirtualService, or the HTTPRoute under router gateway-api. */
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
  /**
   * While the rollout is Progressing: when the stepper's next analysis is due, the earliest
   * a pass may move the weights again (ISO 8601). A pass only runs on its schedule, so the move comes at the first
   * pass at or after this instant.
   */
  nextAnalysisAt?: string;
  problem?: string;
}

export async function readStandings(clients: KubeClients, namespaces?: readonly string[]): Promise<CanaryStanding[]> {
  const routers = createRouters(clients);
  const deployments = (await listDeployments(clients, namespaces)).filter(isCanary);
  const rows = await Promise.all(
    deployments.map(async (deployment): Promise<CanaryStanding> => {
      const { namespace, name, version, settings } = readCanary(deployment);
      const row: CanaryStanding = {
        namespace,
        deployment: name,
        virtualService: settings.route,
        lastChecks: [],
        ...(version ? { version } : {}),
      };
      try {
        const router = routers[settings.router];
        // Without a version label the weights cannot be located, but the status can still be read.
        const view = await router.read(namespace, settings, version ?? "");
        const object: RouteObject | undefined = view.object;
        const { status, problem } = parseStatus(object?.metadata?.annotations?.[STATUS_ANNOTATION]);
        if (problem) row.problem = problem;
        if (status) {
          Object.assign(row, {
            phase: status.phase,
            lastChecks: status.lastChecks,
            updatedAt: status.updatedAt,
            ...(status.reason ? { reason: status.reason } : {}),
            ...(status.stepIndex >= 0 ? { step: { index: status.stepIndex + 1, of: settings.steps.length } } : {}),
          });
          if (status.phase === "Progressing") row.nextAnalysisAt = nextAnalysisAt(status, settings).toISOString();
        }
        if (version) {
          if ("weights" in view) row.weights = view.weights;
          else row.problem ??= view.problem;
        }
      } catch (error) {
        row.problem = toKubeError(error, `reading ${namespace}/${settings.route}`).message;
      }
      return row;
    }),
  );
  return rows.sort((a, b) => `${a.namespace}/${a.deployment}`.localeCompare(`${b.namespace}/${b.deployment}`));
}
