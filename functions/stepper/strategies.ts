// The strategies as the scheduled pass sees them: peers behind one small interface (which Deployments are mine, one
// step of one of them, where its report goes). The pass imports the strategies; no strategy imports the pass.
import type { V1Deployment } from "@kubernetes/client-node";
import { type BlueGreenReport, isBlueGreen, stepBlueGreen, type Timing } from "../bluegreen/switch.ts";
import type { MetricsReader } from "../canary/checks.ts";
import type { IstioReader } from "../canary/istio.ts";
import { createRouters } from "../canary/router.ts";
import { type Canary, type CanaryReport, isCanary, readCanary, stepCanary } from "../canary/step.ts";
import type { KubeClients } from "../kube/clients.ts";
import type { NotifyBatch } from "../notify/notifier.ts";
import { guardRollout, isRolling, type RollingReport } from "../rolling/guard.ts";

/** What every strategy's step gets from the pass. */
export interface PassContext {
  clients: KubeClients;
  istio: IstioReader;
  reader: MetricsReader;
  now: Date;
  dryRun: boolean;
  sleep: (ms: number) => Promise<void>;
  /** The pass's one list of Deployments (blue/green reads the serving one from it). */
  deployments: readonly V1Deployment[];
  blueGreenTiming: Partial<Timing>;
  /** This pass's notifications: each strategy notifies after its own guarded write won. */
  notify?: NotifyBatch;
}

/** Where the pass's report keeps each strategy's reports. */
export interface StrategyReports {
  canaries: CanaryReport[];
  blueGreen: BlueGreenReport[];
  rolling: RollingReport[];
}

export interface Strategy {
  name: "blue-green" | "rolling" | "canary";
  /** This pass's Deployments of this strategy, in the order they are stepped. */
  claimed: V1Deployment[];
  /** One step of one Deployment, its report kept in `into`; returns the report for progress lines. */
  step(deployment: V1Deployment, into: StrategyReports): Promise<unknown>;
}

/** Two Deployments stepping one route would fight over its weights: neither is stepped, and the report says why. */
function routeClaims(canaries: readonly Canary[]): Map<string, string> {
  const owners = new Map<string, string[]>();
  for (const canary of canaries) {
    const route = `${canary.namespace}/${canary.settings.route}`;
    const key = `${canary.settings.router} ${route}`;
    owners.set(key, [...(owners.get(key) ?? []), `${canary.namespace}/${canary.name}`]);
  }
  const conflicts = new Map<string, string>();
  for (const [key, names] of owners) {
    if (names.length < 2) continue;
    const route = key.slice(key.indexOf(" ") + 1);
    for (const name of names) conflicts.set(name, `${route} is claimed by ${names.join(", ")}`);
  }
  return conflicts;
}

/**
 * The three strategies for one pass, in the order their work is taken: blue/green and rolling first (few, and a
 * switch must not wait behind a thousand canaries), canaries after.
 */
export function strategiesFor(context: PassContext): Strategy[] {
  const routers = createRouters(context.clients, context.istio);
  // Each canary's annotations are parsed once per pass, here.
  const canaries = new Map<V1Deployment, Canary>();
  for (const deployment of context.deployments.filter(isCanary)) canaries.set(deployment, readCanary(deployment));
  const conflicts = routeClaims([...canaries.values()]);
  const timing = context.blueGreenTiming;
  return [
    {
      name: "blue-green",
      claimed: context.deployments.filter(isBlueGreen),
      step: async (deployment, into) => {
        const result = await stepBlueGreen({ ...context, timing }, deployment);
        into.blueGreen.push(result);
        return result;
      },
    },
    {
      name: "rolling",
      claimed: context.deployments.filter(isRolling),
      step: async (deployment, into) => {
        const result = await guardRollout(context, deployment);
        into.rolling.push(result);
        return result;
      },
    },
    {
      name: "canary",
      claimed: [...canaries.keys()],
      step: async (deployment, into) => {
        const canary = canaries.get(deployment) ?? readCanary(deployment);
        const conflict = conflicts.get(`${canary.namespace}/${canary.name}`);
        const result: CanaryReport = conflict
          ? {
              namespace: canary.namespace,
              deployment: canary.name,
              outcome: "skipped",
              events: [],
              warnings: [],
              problem: `${conflict}: annotate only the canary Deployment with greenlight.dev/strategy: canary`,
            }
          : await stepCanary({ ...context, routers }, deployment, canary);
        into.canaries.push(result);
        return result;
      },
    },
  ];
}
