// One pass of the scheduled function: every canary Deployment stepped once, with bounded concurrency and a deadline.
import type { V1Deployment } from "@kubernetes/client-node";
import type { MetricsReader } from "../canary/checks.ts";
import { type Canary, type CanaryReport, isCanary, readCanary, stepCanary } from "./canary.ts";
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

interface Found {
  deployment: V1Deployment;
  canary: Canary;
}

const keyOf = ({ canary }: Found) => `${canary.namespace}/${canary.name}`;

/** Two Deployments stepping one VirtualService would fight over its weights: neither is stepped. */
function claimsOf(found: readonly Found[]): Map<string, string[]> {
  const claims = new Map<string, string[]>();
  for (const item of found) {
    const key = `${item.canary.namespace}/${item.canary.settings.virtualService}`;
    claims.set(key, [...(claims.get(key) ?? []), keyOf(item)]);
  }
  return claims;
}

export async function runStep(options: RunOptions): Promise<RunReport> {
  const now = options.now ?? new Date();
  const report: RunReport = { startedAt: now.toISOString(), canaries: [], deferred: [] };
  let found: Found[];
  try {
    // Each canary's annotations are parsed once per run, here.
    found = (await listDeployments(options.clients, options.namespaces))
      .filter(isCanary)
      .map((deployment) => ({ deployment, canary: readCanary(deployment) }));
  } catch (error) {
    return { ...report, error: toKubeError(error, "listing canaries").message };
  }
  const shared = new Map<string, string>();
  for (const [vs, owners] of claimsOf(found)) {
    if (owners.length > 1) for (const owner of owners) shared.set(owner, `${vs} is claimed by ${owners.join(", ")}`);
  }

  const context = {
    clients: options.clients,
    istio: new IstioReader(options.clients),
    reader: options.reader,
    now,
    dryRun: options.dryRun ?? false,
  };
  const queue = [...found];
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const { deployment, canary } = item;
      if (options.deadline && Date.now() >= options.deadline.getTime()) {
        report.deferred.push({ namespace: canary.namespace, deployment: canary.name });
        continue;
      }
      const conflict = shared.get(keyOf(item));
      const result: CanaryReport = conflict
        ? {
            namespace: canary.namespace,
            deployment: canary.name,
            outcome: "skipped",
            events: [],
            warnings: [],
            problem: `${conflict}: annotate only the canary Deployment with greenlight.dev/strategy: canary`,
          }
        : await stepCanary(context, deployment, canary);
      report.canaries.push(result);
      options.onProgress?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY) }, worker));
  report.canaries.sort((a, b) => `${a.namespace}/${a.deployment}`.localeCompare(`${b.namespace}/${b.deployment}`));
  return report;
}
