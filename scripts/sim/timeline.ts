// One simulated timeline: the world ticks (controller, traffic, scrapes, user actions) in virtual time, and every
// `passSeconds` the real `runStep` runs against it (twice at once when a concurrent stepper is simulated), after which
// the invariants are checked. Deterministic for a scenario: the same seed gives the same timeline everywhere.
import type { V1Deployment, V1PodTemplateSpec } from "@kubernetes/client-node";
import type { BlueGreenReport } from "../../functions/bluegreen/switch.ts";
import { readCanarySettings } from "../../functions/canary/settings.ts";
import { STATUS_ANNOTATION } from "../../functions/canary/status.ts";
import type { CanaryReport } from "../../functions/canary/step.ts";
import type { VirtualService } from "../../functions/canary/virtual-service.ts";
import { annotationName } from "../../functions/contract/annotations.ts";
import type { KubeClients } from "../../functions/kube/clients.ts";
import { systemClock } from "../../functions/kube/clock.ts";
import type { RollingReport } from "../../functions/rolling/guard.ts";
import { type RunReport, runStep } from "../../functions/stepper/run.ts";
import { type ApiFaults, NO_FAULTS, SimCluster } from "./cluster.ts";
import { DeploymentController } from "./controller.ts";
import { Counters } from "./counters.ts";
import { InvariantChecker, type Snapshot, type Violation, weightsOf } from "./invariants.ts";
import { routeTraffic } from "./mesh.ts";
import { MetricsStore } from "./metrics-store.ts";
import { createRandom } from "./random.ts";
import { type RevisionProfile, type Scenario, valueAt } from "./scenario.ts";
import { VirtualClock } from "./virtual-clock.ts";
import { APP, applyAction, CANARY, HEADER, NAMESPACE, populate, prefixed, ROLLING, SHOP, STABLE } from "./world.ts";

/** Virtual time zero of every timeline. */
export const START_MS = Date.parse("2026-01-05T09:00:00Z");
/** The world runs this long before the first pass, so the stable version is up. */
const WARM_UP_SECONDS = 300;
/** Per-call timeout the simulated passes use (the stepper's default). */
const CALL_TIMEOUT_MS = 10_000;
/** A pass must end this long after it starts (a CronJob's `--deadline 25s` plus the finish margin). */
const PASS_BUDGET_MS = 50_000;

export interface PassResult {
  /** Seconds since the timeline started. */
  atSeconds: number;
  /** The first stepper's report on the canary (absent when the canary Deployment is gone). */
  canary?: CanaryReport;
  /** Its reports on the blue/green pair and the rolling Deployment, when the scenario has them. */
  blueGreen?: BlueGreenReport;
  rolling?: RollingReport;
  /** Requests the canary's ready pods served since the previous pass, and those Istio could not deliver. */
  servedToCanary: number;
  unroutable: number;
  actions: string[];
}

export interface TimelineResult {
  scenario: Scenario;
  passes: PassResult[];
  violations: Violation[];
  /** The canary's last phase. */
  finalPhase?: string;
  apiCalls: number;
}

export interface TimelineOptions {
  /**
   * Clients for a stepper instance; default the simulator's in-process ones. The HTTP subset passes client-node's
   * against an API server (API faults then come from that server, and the pass runs on the system clock).
   */
  clientsFor?: (cluster: SimCluster, instance: string) => KubeClients;
  /** Called before and after each pass, e.g. to copy the world to and from an API server. */
  beforePass?: (cluster: SimCluster) => Promise<void>;
  afterPass?: (cluster: SimCluster) => Promise<void>;
  /** Stop at the first violation (the campaign does; the tool and shrinking want the whole timeline). */
  stopAtViolation?: boolean;
  /** Stop once the canary is Promoted or RolledBack (the judge benchmark: nothing happens after that). */
  stopAtFinal?: boolean;
}

const steppers = (scenario: Scenario) => (scenario.concurrentStepper ? ["stepper-a", "stepper-b"] : ["stepper-a"]);

export async function runTimeline(scenario: Scenario, options: TimelineOptions = {}): Promise<TimelineResult> {
  const random = createRandom(scenario.seed);
  const clock = new VirtualClock(START_MS - WARM_UP_SECONDS * 1000);
  const controller = new DeploymentController(random.fork("controller"));
  const cluster = new SimCluster(clock, random.fork("api"), controller);
  const counters = new Counters();
  const metrics = new MetricsStore(scenario.scrape, random.fork("metrics"));
  const traffic = random.fork("traffic");
  populate(cluster, scenario);

  // Profiles by pod template: the first canary template's is the scenario's, later ones come with image bumps.
  const profiles = new Map<string, RevisionProfile>();
  const register = (template: V1PodTemplateSpec | undefined, profile: RevisionProfile) => {
    if (template) profiles.set(controller.templateHash(template), profile);
  };
  register(cluster.peek<V1Deployment>("Deployment", NAMESPACE, STABLE)?.spec?.template, scenario.stable);
  register(cluster.peek<V1Deployment>("Deployment", NAMESPACE, CANARY)?.spec?.template, scenario.canary);
  const hooks = { registerTemplate: register, bumps: 0 };
  const profileOfHash = (hash: string | undefined) => (hash && profiles.get(hash)) || scenario.stable;
  const seconds = (ms: number) => (ms - START_MS) / 1000;

  const settings = readCanarySettings(prefixed(scenario.annotations), APP).settings;
  const checker = new InvariantChecker({
    steps: settings.steps,
    maxErrorRate: settings.maxErrorRate,
    headerRoute: settings.headerRoute !== undefined,
    startMs: START_MS,
    rollingDeployment: ROLLING,
  });

  const canaryHash = (): string | undefined => {
    const template = cluster.peek<V1Deployment>("Deployment", NAMESPACE, CANARY)?.spec?.template;
    return template ? controller.templateHash(template) : undefined;
  };
  const podsOf = (app: string, version?: string) =>
    controller
      .pods(NAMESPACE)
      .filter((pod) => pod.metadata?.labels?.app === app && (!version || pod.metadata?.labels?.version === version));
  const isReady = (pod: { status?: { conditions?: { type: string; status: string }[] } }) =>
    (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
  /** Ground truth: every pod of the Deployment is of its current template and Ready, and there are enough. */
  const rolledOut = (name: string, app: string, version: string): boolean => {
    const deployment = cluster.peek<V1Deployment>("Deployment", NAMESPACE, name);
    const template = deployment?.spec?.template;
    if (!template) return false;
    const hash = controller.templateHash(template);
    const pods = podsOf(app, version);
    const replicas = deployment.spec?.replicas ?? 1;
    return (
      replicas > 0 &&
      pods.length === replicas &&
      pods.every((pod) => pod.metadata?.labels?.["pod-template-hash"] === hash && isReady(pod))
    );
  };
  const rollingTruth = (): { hash?: string; failing: boolean } => {
    const deployment = cluster.peek<V1Deployment>("Deployment", NAMESPACE, ROLLING);
    const template = deployment?.spec?.template;
    if (!template) return { failing: false };
    const hash = controller.templateHash(template);
    const stalled = (deployment.status?.conditions ?? []).some((c) => c.reason === "ProgressDeadlineExceeded");
    const crashing = podsOf(ROLLING).some(
      (pod) =>
        pod.metadata?.labels?.["pod-template-hash"] === hash &&
        (pod.status?.containerStatuses ?? []).some(
          (c) => (c.restartCount ?? 0) >= 3 || c.state?.waiting?.reason === "CrashLoopBackOff",
        ),
    );
    return { hash, failing: stalled || crashing };
  };

  // The smoke path answers as the profile of the pods behind the per-version Service says.
  cluster.proxyAnswer = (_namespace, name) => {
    const version = cluster.peek<{ spec?: { selector?: Record<string, string> } }>("Service", NAMESPACE, name)?.spec
      ?.selector?.version;
    const pod = podsOf(SHOP, version).find(isReady);
    const status = profileOfHash(pod?.metadata?.labels?.["pod-template-hash"]).smokeStatus ?? 200;
    return { status, body: status < 400 ? "ok" : "unhealthy" };
  };

  const snapshot = (): Snapshot => {
    const vs = cluster.get<VirtualService>("VirtualService", NAMESPACE, APP);
    const canary = cluster.peek<V1Deployment>("Deployment", NAMESPACE, CANARY);
    const hash = canaryHash();
    const pods = controller.pods(NAMESPACE).filter((pod) => pod.metadata?.labels?.version === "v2");
    const replicas = canary?.spec?.replicas ?? 1;
    const ready =
      canary !== undefined &&
      replicas > 0 &&
      pods.length === replicas &&
      pods.every(
        (pod) =>
          pod.metadata?.labels?.["pod-template-hash"] === hash &&
          (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
      );
    const annotations = canary?.metadata?.annotations ?? {};
    const weights = weightsOf(vs);
    const statusRaw = vs?.metadata?.annotations?.[STATUS_ANNOTATION];
    const shopVersion = cluster.peek<{ spec?: { selector?: Record<string, string> } }>("Service", NAMESPACE, SHOP)?.spec
      ?.selector?.version;
    const rolling = rollingTruth();
    return {
      atMs: clock.now(),
      ...(shopVersion ? { shopVersion } : {}),
      readyColours: ["blue", "green"].filter((colour) => rolledOut(`${SHOP}-${colour}`, SHOP, colour)),
      ...(rolling.hash ? { rollingHash: rolling.hash } : {}),
      rollingFailing: rolling.failing,
      ...(vs ? { vs } : {}),
      ...(weights ? { weights } : {}),
      ...(statusRaw !== undefined ? { statusRaw } : {}),
      canaryReady: ready,
      ...(hash ? { canaryHash: hash } : {}),
      abort: annotations[annotationName("abort")] === "true",
      promote: annotations[annotationName("promote")] === "true",
    };
  };

  const passes: PassResult[] = [];
  let pendingActions: string[] = [];
  let served = 0;
  let unroutable = 0;
  let actionIndex = 0;
  const tickMs = scenario.tickSeconds * 1000;
  const endMs = START_MS + scenario.minutes * 60_000;
  for (let at = START_MS - WARM_UP_SECONDS * 1000; at <= endMs; at += tickMs) {
    const now = Math.max(at, clock.now());
    await clock.advanceTo(now);
    for (; actionIndex < scenario.actions.length; actionIndex++) {
      const timed = scenario.actions[actionIndex];
      if (!timed || START_MS + timed.atSeconds * 1000 > now) break;
      pendingActions.push(applyAction(cluster, timed.action, scenario, hooks));
    }
    const deployments = cluster.list<V1Deployment>("Deployment");
    const statuses = controller.reconcile(deployments, now, (_deployment, hash) => {
      const profile = profileOfHash(hash);
      return { startupSeconds: profile.startupSeconds, crashLoop: profile.crashLoop };
    });
    for (const [where, status] of statuses) {
      const [namespace = "", name = ""] = where.split("/");
      cluster.setDeploymentStatus(namespace, name, status);
    }
    const tally = routeTraffic({
      dtSeconds: scenario.tickSeconds,
      nowMs: now,
      loads: [
        {
          namespace: NAMESPACE,
          service: APP,
          rps: scenario.rps,
          headerShare: scenario.headerShare,
          headers: { [HEADER]: "true" },
        },
        ...(scenario.blueGreen ? [{ namespace: NAMESPACE, service: SHOP, rps: scenario.rps }] : []),
        ...(scenario.rolling ? [{ namespace: NAMESPACE, service: ROLLING, rps: scenario.rps }] : []),
      ],
      services: cluster.list("Service", NAMESPACE),
      virtualServices: cluster.list<VirtualService>("VirtualService", NAMESPACE),
      destinationRules: cluster.list("DestinationRule", NAMESPACE),
      pods: controller.pods(NAMESPACE),
      profileOf: (pod, when) => {
        const profile = profileOfHash(pod.metadata?.labels?.["pod-template-hash"]);
        const since = seconds(when);
        return {
          errorRate: valueAt(profile.errorRate, since),
          latencyP50Ms: valueAt(profile.latencyP50Ms, since),
          latencyP99Ms: valueAt(profile.latencyP99Ms, since),
        };
      },
      random: traffic,
      counters,
    });
    const weight = weightsOf(cluster.peek<VirtualService>("VirtualService", NAMESPACE, APP))?.canary ?? 0;
    for (const entry of tally.served) {
      if (entry.workload !== CANARY) continue;
      served += entry.requests;
      checker.observeTraffic(entry.podTemplateHash, weight, entry.requests, entry.errors);
    }
    for (const entry of tally.unroutable) unroutable += entry.requests;
    metrics.observe(now, counters);

    const sincePasses = now - START_MS;
    if (sincePasses < 0 || sincePasses % (scenario.passSeconds * 1000) !== 0) continue;

    const before = snapshot();
    const writesBefore = cluster.writes.length;
    cluster.faults = scenario.faults;
    await options.beforePass?.(cluster);
    // Over real HTTP the calls take real time: the pass then runs on the system clock (the world stays virtual).
    const passClock = options.clientsFor ? systemClock : clock;
    const endBy = passClock.now() + PASS_BUDGET_MS;
    const reader = metrics.reader(() => clock.now());
    const runs = steppers(scenario).map((instance) =>
      runStep({
        clients: options.clientsFor ? options.clientsFor(cluster, instance) : cluster.clients(instance),
        reader,
        clock: passClock,
        now: new Date(clock.now()),
        namespaces: [NAMESPACE],
        endBy: new Date(endBy),
        callTimeoutMs: CALL_TIMEOUT_MS,
      }),
    );
    let reports: RunReport[];
    try {
      reports = options.clientsFor ? await Promise.all(runs) : await clock.settle(Promise.all(runs));
    } finally {
      cluster.faults = NO_FAULTS as ApiFaults;
    }
    const endedAtMs = passClock.now();
    await options.afterPass?.(cluster);
    const after = snapshot();
    checker.afterPass({
      before,
      after,
      reports,
      writes: cluster.writes.slice(writesBefore),
      endedAtMs,
      endBy,
    });
    const canary = reports[0]?.canaries.find((report) => report.deployment === CANARY);
    const blueGreen = reports[0]?.blueGreen[0];
    const rolling = reports[0]?.rolling[0];
    passes.push({
      atSeconds: seconds(before.atMs),
      ...(canary ? { canary } : {}),
      ...(blueGreen ? { blueGreen } : {}),
      ...(rolling ? { rolling } : {}),
      servedToCanary: served,
      unroutable,
      actions: pendingActions,
    });
    pendingActions = [];
    served = 0;
    unroutable = 0;
    if (options.stopAtViolation && checker.violations.length > 0) break;
    if (options.stopAtFinal && (canary?.phase === "Promoted" || canary?.phase === "RolledBack")) break;
  }
  const last = [...passes].reverse().find((pass) => pass.canary?.phase);
  return {
    scenario,
    passes,
    violations: checker.violations,
    ...(last?.canary?.phase ? { finalPhase: last.canary.phase } : {}),
    apiCalls: cluster.calls.total,
  };
}
