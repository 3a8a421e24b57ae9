// Blue/green through the main Service: rollout check, smoke check through the API server's service proxy, one
// guarded selector switch, endpoint verification, and a guarded switch back when the endpoints do not follow.
//
// Entry points:
// - `switchBlueGreen(clients, { namespace, service, to })`: `greenlight bluegreen switch SERVICE --to VERSION`. The
//   target is the Deployment annotated `greenlight.dev/service: SERVICE` whose pod template has `version: VERSION`.
// - `rollbackBlueGreen(clients, { namespace, service })`: back to the `previous` version the Service's status
//   annotation records, when its last change was a verified switch (no smoke check: it is the way back).
// - `stepBlueGreen(context, deployment)`: the scheduled pass, for Deployments with `auto-promote: "true"`.
// What the seed's script got wrong, and what happens here instead:
// - its `trap rollback EXIT` also fired after a success: here only a failed verification of this run's own switch
//   switches back, guarded by a `test` op on the version this run set, so it never undoes someone else's change;
// - its validation only logged a warning when traffic reached the wrong version: here the EndpointSlices must hold
//   the new version's pods only, or the switch is undone and reported as a failure;
// - a failure before the switch (not ready, no per-version Service, smoke check) leaves the selector untouched (the
//   scheduled pass records a failed smoke check's template in the status annotation, for one Event per template).
import type { V1Deployment, V1Service } from "@kubernetes/client-node";
import type { Operation } from "fast-json-patch";
import { annotationName, describeProblem, readAnnotation, readOrWarn } from "../contract/annotations.ts";
import { templateFingerprint } from "../deployment/fingerprint.ts";
import { assessRollout } from "../deployment/readiness.ts";
import type { KubeClients } from "../kube/clients.ts";
import { sleepOn, systemClock } from "../kube/clock.ts";
import { listDeployments } from "../kube/deployments.ts";
import { KubeError, toKubeError } from "../kube/errors.ts";
import { recordEvent } from "../kube/events.ts";
import type { NotifyBatch } from "../notify/notifier.ts";
import { type BlueGreenTransition, blueGreenNotification } from "../notify/rollouts.ts";
import {
  autoPromotion,
  backoffDelays,
  type EndpointsVerdict,
  findVersionService,
  firstPort,
  judgeEndpoints,
  type Labels,
  selectorMismatch,
  selectorVersion,
  selects,
  statusPatch,
  switchPatch,
  VERSION_LABEL,
} from "./decide.ts";
import {
  listEndpointSlices,
  listPods,
  listServices,
  patchService,
  proxyGet,
  readService,
  SERVICE_NAME_LABEL,
} from "./kube.ts";
import {
  type BlueGreenPhase,
  type BlueGreenStatus,
  formatBlueGreenStatus,
  parseBlueGreenStatus,
  type SmokeFailure,
  STATUS_ANNOTATION,
  STRATEGY,
} from "./status.ts";

export type BlueGreenOutcome =
  | "switched" // switched, endpoints verified
  | "switched-back" // switched, endpoints did not follow, switched back: a failure
  | "rolled-back" // `rollback` moved the Service back to its previous version, endpoints verified
  | "unchanged" // nothing to do: see `message`
  | "waiting" // the new version is not fully rolled out yet
  | "failed" // see `message`: nothing was changed, unless a switch back (or a rollback's verification) failed
  | "lost-race" // another writer changed the selector first; this run wrote nothing
  | "dry-run"; // would have sent `patch`

export type BlueGreenEventReason =
  | "BlueGreenSwitched"
  | "BlueGreenSwitchedBack"
  | "BlueGreenSmokeFailed"
  | "BlueGreenRolledBack";

export interface BlueGreenEvent {
  type: "Normal" | "Warning";
  reason: BlueGreenEventReason;
  /** The Deployment the Event is recorded on. */
  deployment: string;
  message: string;
}

export interface SmokeAttempt {
  attempt: number;
  ok: boolean;
  /** The HTTP status, when an answer came back. */
  status?: number;
  detail: string;
}

export interface BlueGreenReport {
  namespace: string;
  service: string;
  /** The Deployment of the version switched to (or rolled back to). */
  deployment?: string;
  /** The version the Service selected when the run began. */
  from?: string;
  /** The version the run meant to select. */
  to?: string;
  outcome: BlueGreenOutcome;
  message: string;
  /** The phase written to the status annotation, when one was written. */
  phase?: BlueGreenPhase;
  /** Events recorded by this run. */
  events: BlueGreenEvent[];
  smoke?: SmokeAttempt[];
  /** One line per endpoint check after the switch. */
  verification?: string[];
  /** With dry-run: the JSON Patch that would have been sent. */
  patch?: Operation[];
  warnings: string[];
}

export type Sleep = (ms: number) => Promise<void>;

export interface Timing {
  /** Smoke requests at most; the first 2xx passes. */
  smokeAttempts: number;
  /** Wait before the second smoke request; doubles each time (1, 2, 4, 8 s). */
  smokeDelayMs: number;
  /** Each smoke request gives up after this long (the seed's `curl --max-time 10`). */
  smokeTimeoutMs: number;
  /** Endpoint checks at most after a switch. */
  verifyAttempts: number;
  /** Wait before the first endpoint check, for the endpoints controller to see the new selector. */
  verifySettleMs: number;
  /** Wait before the second endpoint check; doubles each time. */
  verifyDelayMs: number;
}

export const DEFAULT_TIMING: Timing = {
  smokeAttempts: 5,
  smokeDelayMs: 1000,
  smokeTimeoutMs: 10_000,
  verifyAttempts: 5,
  verifySettleMs: 500,
  verifyDelayMs: 1000,
};

export const DEFAULT_SMOKE_PATH = "/health";

export interface RunOptions {
  /** Check everything, write nothing and record no Event; the report carries the patch. */
  dryRun?: boolean;
  /** Injected in tests; the default waits for real. */
  sleep?: Sleep;
  /** The clock for `switchedAt` and Events. */
  now?: () => Date;
  timing?: Partial<Timing>;
  /** One line per step taken (the CLI prints them on stderr). */
  onProgress?: (line: string) => void;
  /** Told of each switch and switch back this run wrote (functions/notify). */
  notify?: NotifyBatch;
}

export interface SwitchOptions extends RunOptions {
  namespace: string;
  /** The main Service, whose `version` selector is switched. */
  service: string;
  /** The version to switch to: the `version` label of the new Deployment's pod template. */
  to: string;
}

export interface RollbackOptions extends RunOptions {
  namespace: string;
  service: string;
}

/** What `stepBlueGreen` needs from the scheduled pass (a CanaryContext fits). */
export interface BlueGreenContext {
  clients: KubeClients;
  now: Date;
  dryRun: boolean;
  /** The Deployments the scheduled pass already listed: a promotion reads the serving one from here, not the API. */
  deployments?: readonly V1Deployment[];
  sleep?: Sleep;
  timing?: Partial<Timing>;
  onProgress?: (line: string) => void;
  /** The pass's notifications (functions/notify). */
  notify?: NotifyBatch;
}

interface Env {
  clients: KubeClients;
  dryRun: boolean;
  sleep: Sleep;
  now: () => Date;
  timing: Timing;
  progress: (line: string) => void;
  notify?: NotifyBatch;
}

const realSleep: Sleep = (ms) => sleepOn(systemClock, ms);

function makeEnv(clients: KubeClients, options: RunOptions): Env {
  return {
    clients,
    dryRun: options.dryRun ?? false,
    sleep: options.sleep ?? realSleep,
    now: options.now ?? (() => new Date()),
    timing: { ...DEFAULT_TIMING, ...options.timing },
    progress: options.onProgress ?? (() => {}),
    ...(options.notify ? { notify: options.notify } : {}),
  };
}

/** Tells the receivers of a switch or switch back that this run wrote; `service` is the Service as it was before. */
function notifySwitch(
  env: Env,
  report: BlueGreenReport,
  service: V1Service,
  what: Pick<BlueGreenTransition, "kind" | "deployment" | "from" | "to" | "message">,
  annotations: Record<string, string> | undefined,
): void {
  if (!env.notify) return;
  const priorText = service.metadata?.annotations?.[STATUS_ANNOTATION];
  const event = blueGreenNotification({
    ...what,
    namespace: report.namespace,
    service: report.service,
    ...(service.metadata?.uid ? { uid: service.metadata.uid } : {}),
    ...(priorText !== undefined ? { priorText } : {}),
    now: env.now(),
  });
  env.notify.notify(event, annotations);
}

/** The Deployment a switch moves traffic to. */
interface Target {
  deployment: V1Deployment;
  name: string;
  uid?: string;
  version: string;
  labels: Labels;
  smokePath: string;
}

const templateLabels = (deployment: V1Deployment): Labels => deployment.spec?.template?.metadata?.labels ?? {};
const templateVersion = (deployment: V1Deployment): string | undefined => templateLabels(deployment)[VERSION_LABEL];
const fingerprintOf = (deployment: V1Deployment): string => templateFingerprint(deployment.spec?.template);
const nameOf = (deployment: V1Deployment): string => deployment.metadata?.name ?? "?";

function toTarget(deployment: V1Deployment, version: string, warnings: string[]): Target {
  const annotations = deployment.metadata?.annotations;
  return {
    deployment,
    name: nameOf(deployment),
    ...(deployment.metadata?.uid ? { uid: deployment.metadata.uid } : {}),
    version,
    labels: templateLabels(deployment),
    smokePath: readOrWarn(annotations, "smoke-path", warnings) ?? DEFAULT_SMOKE_PATH,
  };
}

/** Deployments whose pods the main Service selects when its `version` is `version`. */
function servingDeployments(deployments: readonly V1Deployment[], main: V1Service, version: string): V1Deployment[] {
  const selector = { ...main.spec?.selector, [VERSION_LABEL]: version };
  return deployments.filter((deployment) => selects(selector, templateLabels(deployment)));
}

const labelSelector = (labels: Labels): string =>
  Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");

async function record(
  env: Env,
  report: BlueGreenReport,
  on: { name: string; uid?: string },
  event: Omit<BlueGreenEvent, "deployment">,
  action: string,
): Promise<void> {
  const failed = await recordEvent(
    env.clients,
    { namespace: report.namespace, name: on.name, ...(on.uid ? { uid: on.uid } : {}) },
    { type: event.type, reason: event.reason, action, note: event.message },
    env.now(),
  );
  if (failed) report.warnings.push(failed.message);
  else report.events.push({ ...event, deployment: on.name });
}

/** A body as one short line: a Kubernetes Status's message, else the text itself. */
function describeBody(body: string): string {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; message?: unknown };
    if (parsed.kind === "Status" && typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON: the text as it came
  }
  const line = body.replace(/\s+/g, " ").trim();
  return line.length > 160 ? `${line.slice(0, 160)}...` : line;
}

async function smokeCheck(
  env: Env,
  target: { namespace: string; service: string; port: number; path: string },
): Promise<{ ok: boolean; attempts: SmokeAttempt[] }> {
  const { smokeAttempts, smokeDelayMs, smokeTimeoutMs } = env.timing;
  const delays = backoffDelays(smokeAttempts, smokeDelayMs);
  const attempts: SmokeAttempt[] = [];
  for (let attempt = 1; attempt <= smokeAttempts; attempt++) {
    let result: SmokeAttempt;
    try {
      const answer = await proxyGet(env.clients, { ...target, timeoutMs: smokeTimeoutMs });
      const ok = answer.status >= 200 && answer.status < 300;
      const body = ok ? "" : describeBody(answer.body);
      result = { attempt, ok, status: answer.status, detail: `HTTP ${answer.status}${body ? `: ${body}` : ""}` };
    } catch (error) {
      result = { attempt, ok: false, detail: toKubeError(error, "smoke check").message };
    }
    attempts.push(result);
    env.progress(
      `smoke ${attempt}/${smokeAttempts}: GET ${target.namespace}/${target.service}:${target.port}${target.path} -> ${result.detail}`,
    );
    if (result.ok) return { ok: true, attempts };
    const delay = delays[attempt - 1];
    if (delay !== undefined) await env.sleep(delay);
  }
  return { ok: false, attempts };
}

/** Polls the main Service's EndpointSlices until they hold pods of `version` only, or the attempts run out. */
async function verifyEndpoints(
  env: Env,
  report: BlueGreenReport,
  main: V1Service,
  version: string,
): Promise<EndpointsVerdict> {
  const { verifyAttempts, verifySettleMs, verifyDelayMs } = env.timing;
  const delays = [verifySettleMs, ...backoffDelays(verifyAttempts, verifyDelayMs)];
  const { [VERSION_LABEL]: _version, ...others } = main.spec?.selector ?? {};
  const name = report.service;
  const lines: string[] = [];
  report.verification = lines;
  let verdict: EndpointsVerdict = { ok: false, ready: 0, detail: "not checked" };
  for (let attempt = 1; attempt <= verifyAttempts; attempt++) {
    await env.sleep(delays[attempt - 1] ?? verifyDelayMs);
    try {
      const slices = await listEndpointSlices(env.clients, report.namespace, name);
      const pods = await listPods(env.clients, report.namespace, labelSelector(others));
      const versions = new Map(pods.map((pod) => [pod.metadata?.name ?? "", pod.metadata?.labels?.[VERSION_LABEL]]));
      verdict =
        slices.length > 0
          ? judgeEndpoints(slices, versions, version)
          : {
              ok: false,
              ready: 0,
              detail: `no EndpointSlices of Service ${report.namespace}/${name} (none labelled ${SERVICE_NAME_LABEL}=${name})`,
            };
    } catch (error) {
      verdict = { ok: false, ready: 0, detail: toKubeError(error, "checking endpoints").message };
    }
    lines.push(verdict.detail);
    env.progress(`endpoints of ${report.namespace}/${name} ${attempt}/${verifyAttempts}: ${verdict.detail}`);
    if (verdict.ok) return verdict;
  }
  return verdict;
}

/**
 * Sends a guarded patch. When no HTTP answer came back (connection dropped, timeout) the write may still have
 * happened: the Service is read back, and `statusText` there means it did, so a lost answer is neither reported as
 * a failure nor left unverified. An HTTP error (a conflict included) is thrown as it is: nothing was written.
 */
async function write(env: Env, report: BlueGreenReport, patch: Operation[], statusText: string): Promise<V1Service> {
  const { namespace, service } = report;
  try {
    return await patchService(env.clients, namespace, service, patch);
  } catch (error) {
    const failure = toKubeError(error, `patching Service ${namespace}/${service}`);
    if (typeof failure.code === "number") throw failure;
    const after = await readService(env.clients, namespace, service).catch(() => undefined);
    if (after?.metadata?.annotations?.[STATUS_ANNOTATION] === statusText) return after;
    throw failure;
  }
}

/**
 * The Warning Event of a failed smoke check. By hand, every attempt is a deliberate one and gets its Event. The
 * scheduled pass fails again every minute until the version is fixed, so it records the Event once per version and
 * pod template: it adds the template's fingerprint to `smokeFailures` in the status annotation (the pass's only
 * memory) in a guarded JSON Patch, and records the Event only when that write succeeded. A status this release cannot
 * read is never overwritten (a newer release's, say): then every pass records its Event, as before.
 */
async function recordSmokeFailure(
  env: Env,
  report: BlueGreenReport,
  main: V1Service,
  target: Target,
  message: string,
  scheduled: boolean,
): Promise<void> {
  const event = { type: "Warning", reason: "BlueGreenSmokeFailed", message } as const;
  const raw = main.metadata?.annotations?.[STATUS_ANNOTATION];
  const { status, smokeFailures = [], problem } = parseBlueGreenStatus(raw);
  if (!scheduled || problem) return record(env, report, target, event, "SmokeCheck");
  const template = fingerprintOf(target.deployment);
  const version = target.version;
  if (smokeFailures.some((failure) => failure.version === version && failure.template === template)) return;
  const failedAt = env.now().toISOString();
  const next = [...smokeFailures.filter((failure) => failure.version !== version), { version, template, failedAt }];
  const statusText = formatBlueGreenStatus(status, next);
  try {
    await write(env, report, statusPatch({ service: main, priorStatus: raw, status: statusText }), statusText);
  } catch (error) {
    const failure = toKubeError(error, `patching Service ${report.namespace}/${report.service}`);
    const why = failure.isConflict ? "another writer changed the Service first" : "the write failed";
    report.warnings.push(
      `the failed smoke check of ${version} is not recorded in ${STATUS_ANNOTATION} of Service ${report.namespace}/${report.service}: ${why} (${failure.message}); its BlueGreenSmokeFailed Event waits for the next pass`,
    );
    return;
  }
  await record(env, report, target, event, "SmokeCheck");
}

const lostRace = (report: BlueGreenReport, failure: KubeError, from: string): BlueGreenReport => ({
  ...report,
  outcome: "lost-race",
  message: `another writer changed Service ${report.namespace}/${report.service} first (its selector no longer has version: ${from}); this run wrote nothing: ${failure.message}`,
});

/**
 * From a ready check to a verified switch (or a switch back). `main` selects `from` (!== target.version).
 * `previousFingerprint` finds the template serving `from`, recorded so auto-promotion never switches back to it.
 * `scheduled`: a failed smoke check records its Event once per template (see `recordSmokeFailure`).
 */
async function promote(
  env: Env,
  report: BlueGreenReport,
  main: V1Service,
  from: string,
  target: Target,
  previousFingerprint: () => Promise<string | undefined>,
  scheduled = false,
): Promise<BlueGreenReport> {
  const { namespace, service } = report;
  const to = target.version;
  // Smoke failures of other versions stay recorded across the switch; this version's just passed its check.
  const carried = (parseBlueGreenStatus(main.metadata?.annotations?.[STATUS_ANNOTATION]).smokeFailures ?? []).filter(
    (failure) => failure.version !== to,
  );
  report.deployment = target.name;
  const untouched = `Service ${namespace}/${service} still selects version ${from}`;

  const readiness = assessRollout(target.deployment);
  env.progress(`rollout of ${namespace}/${target.name}: ${readiness.message}`);
  if (!readiness.ready) {
    return {
      ...report,
      outcome: readiness.failed ? "failed" : "waiting",
      message: `${namespace}/${target.name} (version ${to}) is not ready: ${readiness.message}; ${untouched}`,
    };
  }
  const mismatch = selectorMismatch(main, target.labels, to);
  if (mismatch) return { ...report, outcome: "failed", message: `${mismatch}; ${untouched}` };

  const found = findVersionService(await listServices(env.clients, namespace), {
    main: service,
    labels: target.labels,
    version: to,
    deployment: `${namespace}/${target.name}`,
  });
  if ("problem" in found) return { ...report, outcome: "failed", message: `${found.problem}; ${untouched}` };
  const smokeService = found.service.metadata?.name ?? "?";
  const port = firstPort(found.service);
  if (port === undefined) {
    return {
      ...report,
      outcome: "failed",
      message: `Service ${namespace}/${smokeService} has no port to smoke-check; ${untouched}`,
    };
  }
  const smoke = await smokeCheck(env, { namespace, service: smokeService, port, path: target.smokePath });
  report.smoke = smoke.attempts;
  const last = smoke.attempts.at(-1);
  if (!smoke.ok) {
    const message = `smoke check of version ${to} failed ${smoke.attempts.length} times (GET ${smokeService}:${port}${target.smokePath}, last: ${last?.detail}); ${untouched}`;
    if (!env.dryRun) await recordSmokeFailure(env, report, main, target, message, scheduled);
    return { ...report, outcome: "failed", message };
  }

  const status: BlueGreenStatus = {
    strategy: STRATEGY,
    phase: "Switched",
    previous: from,
    current: to,
    switchedAt: env.now().toISOString(),
    message: `switched from ${from} to ${to}; smoke check ${smokeService}:${port}${target.smokePath} answered ${last?.detail} on attempt ${last?.attempt}`,
    currentTemplate: fingerprintOf(target.deployment),
  };
  const previousTemplate = await previousFingerprint();
  if (previousTemplate) status.previousTemplate = previousTemplate;
  const statusText = formatBlueGreenStatus(status, carried);
  const patch = switchPatch({ service: main, from, to, status: statusText });
  if (env.dryRun) {
    return {
      ...report,
      outcome: "dry-run",
      message: `would switch ${namespace}/${service} from ${from} to ${to}`,
      patch,
    };
  }

  let switched: V1Service;
  try {
    switched = await write(env, report, patch, statusText);
  } catch (error) {
    const failure = toKubeError(error, `switching ${namespace}/${service}`);
    if (failure.isConflict) return lostRace(report, failure, from);
    throw failure;
  }
  report.phase = "Switched";
  env.progress(`switched ${namespace}/${service}: version ${from} -> ${to}`);
  await record(
    env,
    report,
    target,
    { type: "Normal", reason: "BlueGreenSwitched", message: `Service ${service} switched from ${from} to ${to}` },
    "Switch",
  );
  notifySwitch(
    env,
    report,
    main,
    { kind: "bluegreen.switched", deployment: target.name, from, to, message: status.message },
    target.deployment.metadata?.annotations,
  );

  const verdict = await verifyEndpoints(env, report, switched, to);
  if (verdict.ok) {
    return {
      ...report,
      outcome: "switched",
      message: `switched ${namespace}/${service} from ${from} to ${to}: ${verdict.detail}`,
    };
  }
  return switchBack(env, report, switched, { from, to, detail: verdict.detail, target, status, carried });
}

/** Undoes this run's own switch, guarded by a `test` op on the version it set. */
async function switchBack(
  env: Env,
  report: BlueGreenReport,
  switched: V1Service,
  what: {
    from: string;
    to: string;
    detail: string;
    target: Target;
    status: BlueGreenStatus;
    carried: readonly SmokeFailure[];
  },
): Promise<BlueGreenReport> {
  const { namespace, service } = report;
  const { from, to, detail, target } = what;
  const reason = `its endpoints did not follow the switch to ${to} (${detail})`;
  const status: BlueGreenStatus = {
    strategy: STRATEGY,
    phase: "SwitchedBack",
    previous: to,
    current: from,
    switchedAt: env.now().toISOString(),
    message: `switched back from ${to} to ${from}: ${reason}`,
    ...(what.status.currentTemplate ? { previousTemplate: what.status.currentTemplate } : {}),
    ...(what.status.previousTemplate ? { currentTemplate: what.status.previousTemplate } : {}),
  };
  const statusText = formatBlueGreenStatus(status, what.carried);
  const patch = switchPatch({ service: switched, from: to, to: from, status: statusText });
  try {
    await write(env, report, patch, statusText);
  } catch (error) {
    const failure = toKubeError(error, `switching ${namespace}/${service} back`);
    const why = failure.isConflict ? `someone changed its selector meanwhile (${failure.message})` : failure.message;
    return {
      ...report,
      outcome: "failed",
      message: `switched ${namespace}/${service} to ${to}, but ${reason}, and could not switch it back to ${from}: ${why}`,
    };
  }
  report.phase = "SwitchedBack";
  env.progress(`switched ${namespace}/${service} back: version ${to} -> ${from}`);
  const message = `Service ${service} switched back from ${to} to ${from}: ${reason}`;
  await record(env, report, target, { type: "Warning", reason: "BlueGreenSwitchedBack", message }, "SwitchBack");
  notifySwitch(
    env,
    report,
    switched,
    { kind: "bluegreen.switchedback", deployment: target.name, from: to, to: from, message },
    target.deployment.metadata?.annotations,
  );
  return { ...report, outcome: "switched-back", message: `${namespace}/${service}: ${message}` };
}

const base = (namespace: string, service: string): BlueGreenReport => ({
  namespace,
  service,
  outcome: "unchanged",
  message: "",
  events: [],
  warnings: [],
});

const failed = (report: BlueGreenReport, error: unknown, what: string): BlueGreenReport => ({
  ...report,
  outcome: "failed",
  message: (error instanceof KubeError ? error : toKubeError(error, what)).message,
});

/** The main Service and the version it selects, or the report explaining why there is none. */
async function readMain(
  env: Env,
  report: BlueGreenReport,
): Promise<{ main: V1Service; served: string } | { report: BlueGreenReport }> {
  const { namespace, service } = report;
  let main: V1Service;
  try {
    main = await readService(env.clients, namespace, service);
  } catch (error) {
    const failure = toKubeError(error, `reading Service ${namespace}/${service}`);
    if (failure.isNotFound) {
      return { report: { ...report, outcome: "failed", message: `Service ${namespace}/${service} not found` } };
    }
    throw failure;
  }
  const served = selectorVersion(main);
  if (served === undefined) {
    return {
      report: {
        ...report,
        outcome: "failed",
        message: `Service ${namespace}/${service} has no ${VERSION_LABEL} in spec.selector: greenlight switches that label; add ${VERSION_LABEL}: <the version it serves> to its selector`,
      },
    };
  }
  report.from = served;
  return { main, served };
}

const serviceOf = (deployment: V1Deployment): string | undefined => {
  const read = readAnnotation(deployment.metadata?.annotations, "service");
  return read.present && read.ok ? read.value : undefined;
};

/** `greenlight bluegreen switch SERVICE --to VERSION`. */
export async function switchBlueGreen(clients: KubeClients, options: SwitchOptions): Promise<BlueGreenReport> {
  const env = makeEnv(clients, options);
  const { namespace, service, to } = options;
  const report: BlueGreenReport = { ...base(namespace, service), to };
  try {
    const read = await readMain(env, report);
    if ("report" in read) return read.report;
    const { main, served } = read;
    if (served === to) {
      return { ...report, message: `${namespace}/${service} already serves version ${to}: nothing to switch` };
    }
    const deployments = await listDeployments(clients, [namespace]);
    const forService = deployments.filter((deployment) => serviceOf(deployment) === service);
    const candidates = forService.filter((deployment) => templateVersion(deployment) === to);
    if (candidates.length !== 1) {
      const known = forService.map((d) => `${nameOf(d)} (version ${templateVersion(d) ?? "unlabelled"})`).join(", ");
      const message =
        candidates.length > 1
          ? `several Deployments in ${namespace} for Service ${service} have pod template version ${to}: ${candidates.map(nameOf).join(", ")}; keep one`
          : `no Deployment in ${namespace} is annotated ${annotationName("service")}: ${service} with pod template label ${VERSION_LABEL}: ${to}${known ? ` (found: ${known})` : ""}`;
      return { ...report, outcome: "failed", message };
    }
    const [deployment] = candidates as [V1Deployment];
    const strategy = readAnnotation(deployment.metadata?.annotations, "strategy");
    if (!strategy.present || !strategy.ok || strategy.value !== STRATEGY) {
      report.warnings.push(
        `${nameOf(deployment)} is not annotated ${annotationName("strategy")}: ${STRATEGY}; the scheduled pass ignores it`,
      );
    }
    if (readOrWarn(deployment.metadata?.annotations, "paused", report.warnings)) {
      report.warnings.push(`${nameOf(deployment)} is paused for the scheduled pass; this explicit switch goes ahead`);
    }
    const target = toTarget(deployment, to, report.warnings);
    const previous = async () => {
      const serving = servingDeployments(deployments, main, served);
      return serving.length === 1 && serving[0] ? fingerprintOf(serving[0]) : undefined;
    };
    return await promote(env, report, main, served, target, previous);
  } catch (error) {
    return failed(report, error, `switching ${namespace}/${service}`);
  }
}

/** `greenlight bluegreen rollback SERVICE`: back to the version the last verified switch moved away from. */
export async function rollbackBlueGreen(clients: KubeClients, options: RollbackOptions): Promise<BlueGreenReport> {
  const env = makeEnv(clients, options);
  const { namespace, service } = options;
  const report = base(namespace, service);
  try {
    const read = await readMain(env, report);
    if ("report" in read) return read.report;
    const { main, served } = read;
    const raw = main.metadata?.annotations?.[STATUS_ANNOTATION];
    const { status, smokeFailures, problem } = parseBlueGreenStatus(raw);
    const fail = (message: string): BlueGreenReport => ({ ...report, outcome: "failed", message });
    if (problem) return fail(`cannot roll back ${namespace}/${service}: ${problem}`);
    if (!status || raw === undefined) {
      const why =
        raw === undefined ? `it has no ${STATUS_ANNOTATION} annotation` : `its ${STATUS_ANNOTATION} records no switch`;
      return fail(
        `no previous version recorded for ${namespace}/${service}: ${why} (greenlight has not switched it); switch explicitly with greenlight bluegreen switch ${service} --to VERSION`,
      );
    }
    if (status.phase !== "Switched") {
      return fail(
        `nothing to roll back on ${namespace}/${service}: its last change (${status.phase} at ${status.switchedAt}) already moved it from ${status.previous} back to ${status.current}; switch explicitly with greenlight bluegreen switch ${service} --to VERSION`,
      );
    }
    if (status.current !== served) {
      return fail(
        `${namespace}/${service} selects version ${served}, but ${STATUS_ANNOTATION} records ${status.current}: the selector was changed outside greenlight, so the recorded previous version (${status.previous}) may be stale; switch explicitly`,
      );
    }
    const to = status.previous;
    report.to = to;
    const deployments = await listDeployments(clients, [namespace]);
    const targets = servingDeployments(deployments, main, to);
    const [deployment] = targets;
    if (!deployment) {
      return fail(
        `no Deployment in ${namespace} has pods the Service would select with version: ${to}: nothing to roll back to (scale it up or redeploy it first)`,
      );
    }
    report.deployment = nameOf(deployment);
    const readiness = assessRollout(deployment);
    env.progress(`rollout of ${namespace}/${nameOf(deployment)}: ${readiness.message}`);
    if (readiness.counts.available === 0) {
      return fail(
        `${namespace}/${nameOf(deployment)} (version ${to}) has no available replica: ${readiness.message}; scale it up first`,
      );
    }
    if (!readiness.ready) report.warnings.push(`${nameOf(deployment)}: ${readiness.message} (rolling back anyway)`);
    const leaving = servingDeployments(deployments, main, served);
    const next: BlueGreenStatus = {
      strategy: STRATEGY,
      phase: "RolledBack",
      previous: served,
      current: to,
      switchedAt: env.now().toISOString(),
      message: `rolled back from ${served} to ${to} by greenlight bluegreen rollback`,
      currentTemplate: fingerprintOf(deployment),
      ...(leaving.length === 1 && leaving[0] ? { previousTemplate: fingerprintOf(leaving[0]) } : {}),
    };
    const statusText = formatBlueGreenStatus(next, smokeFailures);
    const patch = switchPatch({ service: main, from: served, to, status: statusText, priorStatus: raw });
    if (env.dryRun) {
      return {
        ...report,
        outcome: "dry-run",
        message: `would roll ${namespace}/${service} back from ${served} to ${to}`,
        patch,
      };
    }
    let switched: V1Service;
    try {
      switched = await write(env, report, patch, statusText);
    } catch (error) {
      const failure = toKubeError(error, `rolling back ${namespace}/${service}`);
      if (failure.isConflict) return lostRace(report, failure, served);
      throw failure;
    }
    report.phase = "RolledBack";
    env.progress(`rolled ${namespace}/${service} back: version ${served} -> ${to}`);
    const on = leaving.length === 1 && leaving[0] ? leaving[0] : deployment;
    await record(
      env,
      report,
      { name: nameOf(on), ...(on.metadata?.uid ? { uid: on.metadata.uid } : {}) },
      {
        type: "Warning",
        reason: "BlueGreenRolledBack",
        message: `Service ${service} rolled back from ${served} to ${to}`,
      },
      "Rollback",
    );
    const verdict = await verifyEndpoints(env, report, switched, to);
    if (!verdict.ok) {
      return fail(
        `rolled ${namespace}/${service} back from ${served} to ${to}, but its endpoints did not follow (${verdict.detail}); it stays on ${to}: check the endpoints of ${service}`,
      );
    }
    return {
      ...report,
      outcome: "rolled-back",
      message: `rolled ${namespace}/${service} back from ${served} to ${to}: ${verdict.detail}`,
    };
  } catch (error) {
    return failed(report, error, `rolling back ${namespace}/${service}`);
  }
}

/**
 * The scheduled pass for one Deployment annotated `strategy: blue-green`: acts only with `auto-promote: "true"`, not
 * paused, when its version is not the one the Service serves (nor the template last switched away from).
 */
export async function stepBlueGreen(context: BlueGreenContext, deployment: V1Deployment): Promise<BlueGreenReport> {
  const env = makeEnv(context.clients, { ...context, now: () => context.now });
  const namespace = deployment.metadata?.namespace ?? "default";
  const name = nameOf(deployment);
  const annotations = deployment.metadata?.annotations;
  const service = readAnnotation(annotations, "service");
  const report: BlueGreenReport = {
    ...base(namespace, service.present && service.ok ? service.value : "?"),
    deployment: name,
  };
  if (!service.present) {
    return {
      ...report,
      outcome: "failed",
      message: `${annotationName("service")} is required with ${annotationName("strategy")}: ${STRATEGY} (the Service to switch)`,
    };
  }
  if (!service.ok) {
    const raw = annotations?.[annotationName("service")] ?? "";
    return { ...report, outcome: "failed", message: describeProblem("service", raw, service.problem) };
  }
  const version = templateVersion(deployment);
  if (!version) {
    return {
      ...report,
      outcome: "failed",
      message: `the pod template has no ${VERSION_LABEL} label (opt in to injection, or set it): blue/green switches on it`,
    };
  }
  report.to = version;
  if (readOrWarn(annotations, "paused", report.warnings)) {
    return { ...report, message: `paused (${annotationName("paused")}: "true")` };
  }
  if (!readOrWarn(annotations, "auto-promote", report.warnings)) {
    return {
      ...report,
      message: `${annotationName("auto-promote")} is not "true": switch by hand with greenlight bluegreen switch ${service.value} --to ${version} -n ${namespace}`,
    };
  }
  try {
    const read = await readMain(env, report);
    if ("report" in read) return read.report;
    const { main, served } = read;
    const { status, problem } = parseBlueGreenStatus(main.metadata?.annotations?.[STATUS_ANNOTATION]);
    if (problem) report.warnings.push(`Service ${namespace}/${service.value}: ${problem}`);
    const plan = autoPromotion({
      version,
      served,
      fingerprint: fingerprintOf(deployment),
      ...(status ? { status } : {}),
    });
    if (!plan.promote) return { ...report, message: plan.message };
    const target = toTarget(deployment, version, report.warnings);
    const previous = async () => {
      const inNamespace = context.deployments?.filter((listed) => listed.metadata?.namespace === namespace);
      const listed = inNamespace ?? (await listDeployments(context.clients, [namespace]));
      const serving = servingDeployments(listed, main, served);
      return serving.length === 1 && serving[0] ? fingerprintOf(serving[0]) : undefined;
    };
    return await promote(env, report, main, served, target, previous, true);
  } catch (error) {
    return failed(report, error, `blue/green ${namespace}/${name}`);
  }
}

/** Deployments annotated `greenlight.dev/strategy: blue-green` (an invalid strategy value is not one). */
export function isBlueGreen(deployment: V1Deployment): boolean {
  const strategy = readAnnotation(deployment.metadata?.annotations, "strategy");
  return strategy.present && strategy.ok && strategy.value === STRATEGY;
}
