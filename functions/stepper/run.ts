// One pass of the scheduled function: every canary Deployment stepped once, with bounded concurrency and a deadline.
import type { V1Deployment } from "@kubernetes/client-node";
import type { MetricsReader } from "../canary/checks.ts";
import { type CanaryReport, isCanary, readCanary, stepCanary } from "./canary.ts";
import { IstioReader, type KubeClients, listDeployments, toKubeError } from "./kube.ts";

/** Canaries stepped at once by default: API calls are latency-bound, and 32 in flight is light for an API server. */
export const DEFAULT_CONCURRENCY = 32;

export interface RunOptions {
  clients: KubeClients;
  reader: MetricsReader;
  /** Namespaces to look in; empty or absent: all namespaces. */
  namespaces?: readonly string[];
  now?: Date;
  dryRun?: boolean;
  /** Canaries stepped at once. */
  concurrency?: number;
  /** No canary is started after this instant (a Lambda's remaining time minus a margin). */
  deadline?: Date;
  onProgress?: (report: CanaryReport) => void;
}

export interface RunReport {
  startedAt: string;
  canaries: CanaryReport[];
  /** Canaries not started because the deadline came first; the next run takes them. */
  deferred: { namespace: string; deployment: string }[];
  /** A failure of the whole pass (listing Deployments); the canaries were not touched. */
  error?: string;
}

const keyOf = (deployment: V1Deployment) => `${deployment.metadata?.namespace}/${deployment.metadata?.name}`;

/** Two Deployments stepping one VirtualService would fight over its weights: neither is stepped. */
function claimsOf(deployments: V1Deployment[]): Map<string, string[]> {
  const claims = new Map<string, string[]>();
  for (const deployment of deployments) {
    const { namespace, settings } = readCanary(deployment);
    const key = `${namespace}/${settings.virtualService}`;
    claims.set(key, [...(claims.get(key) ?? []), keyOf(deployment)]);
  }
  return claims;
}

export async function runStep(options: RunOptions): Promise<RunReport> {
  const now = options.now ?? new Date();
  const report: RunReport = { startedAt: now.toISOString(), canaries: [], deferred: [] };
  let deployments: V1Deployment[];
  try {
    deployments = (await listDeployments(options.clients, options.namespaces)).filter(isCanary);
  } catch (error) {
    return { ...report, error: toKubeError(error, "listing canaries").message };
  }
  const shared = new Map<string, string>();
  for (const [vs, owners] of claimsOf(deployments)) {
    if (owners.length > 1) for (const owner of owners) shared.set(owner, `${vs} is claimed by ${owners.join(", ")}`);
  }

  const context = {
    clients: options.clients,
    istio: new IstioReader(options.clients),
    reader: options.reader,
    now,
    dryRun: options.dryRun ?? false,
  };
  const queue = [...deployments];
  const worker = async () => {
    for (let deployment = queue.shift(); deployment; deployment = queue.shift()) {
      if (options.deadline && Date.now() >= options.deadline.getTime()) {
        report.deferred.push({
          namespace: deployment.metadata?.namespace ?? "",
          deployment: deployment.metadata?.name ?? "",
        });
        continue;
      }
      const conflict = shared.get(keyOf(deployment));
      const result: CanaryReport = conflict
        ? {
            namespace: deployment.metadata?.namespace ?? "",
            deployment: deployment.metadata?.name ?? "",
            outcome: "skipped",
            events: [],
            warnings: [],
            problem: `${conflict}: annotate only the canary Deployment with greenlight.dev/strategy: canary`,
          }
        : await stepCanary(context, deployment);
      report.canaries.push(result);
      options.onProgress?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY) }, worker));
  report.canaries.sort((a, b) => `${a.namespace}/${a.deployment}`.localeCompare(`${b.namespace}/${b.deployment}`));
  return report;
}
