// One canary through one run: read its route (a VirtualService or an HTTPRoute, see router.ts), ask the core what to
// do, write once (guarded), record events.
import type { V1Deployment } from "@kubernetes/client-node";
import type { Operation } from "fast-json-patch";
import { readAnnotation } from "../contract/annotations.ts";
import { chooseApp } from "../contract/workload.ts";
import { templateFingerprint } from "../deployment/fingerprint.ts";
import { assessRollout } from "../deployment/readiness.ts";
import type { KubeClients } from "../kube/clients.ts";
import { KubeError, toKubeError } from "../kube/errors.ts";
import { recordEvent } from "../kube/events.ts";
import type { NotifyBatch } from "../notify/notifier.ts";
import { canaryNotification } from "../notify/rollouts.ts";
import type { CheckResult, MetricsReader } from "./checks.ts";
import { analyseCanary, type JudgeState } from "./compare.ts";
import { type CanaryDecision, type CanaryDeployment, type CanaryEvent, decideCanary, planCanary } from "./decide.ts";
import type { IstioReader } from "./istio.ts";
import { guardedPatch, type RouterKind, type Routers, routersFor } from "./router.ts";
import { readCanarySettings } from "./settings.ts";
import { type CanaryPhase, formatStatus, parseStatus, STATUS_ANNOTATION } from "./status.ts";
import { locate } from "./virtual-service.ts";
import type { Weights } from "./weights.ts";

export interface CanaryContext {
  clients: KubeClients;
  istio: IstioReader;
  /** The traffic routers; absent: made once per `istio` reader (one per pass), see routersFor. */
  routers?: Routers;
  reader: MetricsReader;
  now: Date;
  dryRun: boolean;
  /** Told of promotions, rollbacks and pauses, by the run whose guarded write won (functions/notify). */
  notify?: NotifyBatch;
}

export type CanaryOutcome =
  | "written" // weights and/or status changed in one guarded patch
  | "unchanged" // nothing to do this run
  | "conflict" // another run wrote first; this one backed off
  | "dry-run" // would have written `patch`
  | "skipped" // misconfigured: see `problem`
  | "error"; // an API or unexpected failure: see `problem`

export interface CanaryReport {
  namespace: string;
  deployment: string;
  /** The route object's name (the VirtualService under istio, the HTTPRoute under gateway-api). */
  virtualService?: string;
  /** Set for a router other than the default istio (reports of Istio canaries stay as they were). */
  router?: RouterKind;
  version?: string;
  phase?: CanaryPhase;
  weights?: Weights;
  outcome: CanaryOutcome;
  events: CanaryEvent[];
  checks?: CheckResult[];
  problem?: string;
  /** Settings that could not be parsed (defaults used), in the validator's words. */
  warnings: string[];
  patch?: Operation[];
  apiCalls?: number;
}

/** Kept here for their callers; they live with the routers (router.ts) and the Istio helpers (virtual-service.ts). */
export { guardedPatch, locate };

/** The readiness gate: the canary's new ReplicaSet fully rolled out, as `kubectl rollout status` and blue/green judge. */
export function canaryRollout(
  deployment: V1Deployment,
): Pick<CanaryDeployment, "ready" | "stalled" | "rollout" | "revision"> {
  const readiness = assessRollout(deployment);
  return {
    ready: readiness.ready,
    stalled: readiness.failed,
    rollout: readiness.message,
    revision: templateFingerprint(deployment.spec?.template),
  };
}

/** Deployments annotated `greenlight.dev/strategy: canary` (an invalid strategy value is not one). */
export function isCanary(deployment: V1Deployment): boolean {
  const strategy = readAnnotation(deployment.metadata?.annotations, "strategy");
  return strategy.present && strategy.ok && strategy.value === "canary";
}

/** What a canary Deployment asks for: its names, version label and parsed settings. */
export function readCanary(deployment: V1Deployment) {
  const namespace = deployment.metadata?.namespace ?? "default";
  const name = deployment.metadata?.name ?? "?";
  const annotations = deployment.metadata?.annotations ?? {};
  const templateLabels = deployment.spec?.template?.metadata?.labels ?? {};
  const app = chooseApp(annotations, [deployment.metadata?.labels, templateLabels], name).value ?? name;
  const { settings, problems } = readCanarySettings(annotations, app);
  return { namespace, name, app, version: templateLabels.version, settings, problems };
}

export type Canary = ReturnType<typeof readCanary>;

/** `canary` is `readCanary(deployment)`, passed in when the caller has read it already. */
export async function stepCanary(
  context: CanaryContext,
  deployment: V1Deployment,
  canary: Canary = readCanary(deployment),
): Promise<CanaryReport> {
  const { namespace, name, app, version, settings, problems } = canary;
  const report: CanaryReport = {
    namespace,
    deployment: name,
    virtualService: settings.route,
    ...(settings.router !== "istio" ? { router: settings.router } : {}),
    outcome: "unchanged",
    events: [],
    warnings: problems,
  };
  if (!version) {
    return { ...report, outcome: "skipped", problem: "the pod template has no version label (opt in to injection)" };
  }
  report.version = version;

  try {
    const router = routersFor(context)[settings.router];
    const view = await router.read(namespace, settings, version);
    if (!("weights" in view)) return { ...report, outcome: "skipped", problem: view.problem };
    const priorRaw = view.priorStatus;
    const prior = parseStatus(priorRaw);
    if (prior.problem) report.warnings.push(`${STATUS_ANNOTATION} on ${namespace}/${settings.route}: ${prior.problem}`);

    const input = {
      deployment: { namespace, name, version, ...canaryRollout(deployment) },
      settings,
      currentWeights: view.weights,
      ...(view.stableVersion ? { stableVersion: view.stableVersion } : {}),
      ...(prior.status ? { status: prior.status } : {}),
      ...(prior.problem ? { statusProblem: prior.problem } : {}),
      now: context.now,
    };
    let checks: CheckResult[] | undefined;
    let judge: JudgeState | undefined;
    if (planCanary(input).analyse) {
      const target = {
        namespace,
        deployment: name,
        version,
        service: view.canaryService || app,
        ...(settings.judge ? { app, ...(view.stableVersion ? { stableVersion: view.stableVersion } : {}) } : {}),
      };
      ({ checks, judge } = await analyseCanary(context.reader, target, settings, prior.status?.judge));
    }
    const decision: CanaryDecision = decideCanary({
      ...input,
      ...(checks ? { checks } : {}),
      ...(judge ? { judge } : {}),
    });
    Object.assign(report, {
      phase: decision.status.phase,
      weights: decision.weights ?? input.currentWeights,
      events: decision.events,
      ...(checks ? { checks } : {}),
    });
    if (!decision.changed) return report;

    const next = view.withWeights(decision.weights ?? input.currentWeights, settings.headerRoute);
    next.metadata = {
      ...next.metadata,
      annotations: { ...next.metadata?.annotations, [STATUS_ANNOTATION]: formatStatus(decision.status) },
    };
    const patch = guardedPatch(view.object, next, priorRaw);
    if (context.dryRun) return { ...report, outcome: "dry-run", patch };

    try {
      await router.write(namespace, settings.route, patch);
    } catch (error) {
      const failure = toKubeError(error, `writing ${namespace}/${settings.route}`);
      if (failure.isConflict) {
        // The other run's decision stands; emitting ours would describe a step that did not happen.
        return { ...report, events: [], outcome: "conflict", problem: failure.message };
      }
      throw failure;
    }
    for (const event of decision.events) {
      const failed = await recordEvent(
        context.clients,
        { namespace, name, ...(deployment.metadata?.uid ? { uid: deployment.metadata.uid } : {}) },
        { type: event.type, reason: event.reason, action: event.reason.replace(/^Canary/, ""), note: event.message },
        context.now,
      );
      if (failed) report.warnings.push(failed.message);
    }
    const notice = context.notify
      ? canaryNotification({
          namespace,
          deployment: name,
          ...(deployment.metadata?.uid ? { uid: deployment.metadata.uid } : {}),
          version,
          ...(decision.status.canaryRevision ? { revision: decision.status.canaryRevision } : {}),
          ...(decision.status.stableVersion ? { stableVersion: decision.status.stableVersion } : {}),
          route: settings.route,
          ...(prior.status ? { prior: prior.status } : {}),
          ...(priorRaw !== undefined ? { priorText: priorRaw } : {}),
          status: decision.status,
          ...(decision.pauseCause ? { pauseCause: decision.pauseCause } : {}),
          message: decision.events[0]?.message ?? decision.status.reason ?? "",
          now: context.now,
        })
      : undefined;
    if (notice) context.notify?.notify(notice, deployment.metadata?.annotations);
    return { ...report, outcome: "written" };
  } catch (error) {
    const failure = error instanceof KubeError ? error : toKubeError(error, `canary ${namespace}/${name}`);
    return { ...report, outcome: "error", problem: failure.message };
  }
}
