// `npm start` in one process: the webhooks over HTTPS (local CA), the flag API, the stepper loop and the dashboard.
/*
 * startLocalStack() makes the CA (or reuses it), opens the three servers, starts the stepper loop, waits for its
 * first cluster probe and returns; it prints nothing itself (the CLI prints startupLines() once its signal handlers
 * are in). close() stops the loop first (a pass in flight may finish), then the servers. Tests inject the cluster
 * (`connect` or `kubeConfig`) and the metrics reader, and pass port 0s.
 */
import { randomBytes } from "node:crypto";
import { mkdir, stat, writeFile } from "node:fs/promises";
import type http from "node:http";
import type https from "node:https";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { MetricsReader } from "../../functions/canary/checks.ts";
import { createPrometheusReader, prometheusUrlFromEnv } from "../../functions/canary/prometheus.ts";
import { createDashboardCore } from "../../functions/dashboard/core.ts";
import { loadDashboardFiles } from "../../functions/dashboard/files.ts";
import { flagHttpOptions, flagsConfigFromEnv } from "../../functions/flags/config.ts";
import { ENV as FLAG_ENV } from "../../functions/flags/env.ts";
import { createFlagCore, DEFAULT_BODY_LIMIT_BYTES } from "../../functions/flags/http/handler.ts";
import { type AdminTokens, singleAdminToken } from "../../functions/flags/http/tokens.ts";
import { RATE_LIMIT_SWITCH } from "../../functions/flags/limits.ts";
import { type RolloutMetrics, rolloutMetricsFromEnv } from "../../functions/flags/rollout/queries.ts";
import { nodeListener } from "../../functions/http/node.ts";
import { concurrencyFromEnv, namespacesFromEnv } from "../../functions/stepper/config.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { buildWebhookConfigurations, DEFAULT_NAMESPACE, WEBHOOK_PATHS } from "../../webhooks/config/configurations.ts";
import { renderYamlDocuments } from "../../webhooks/config/render.ts";
import { createWebhookListener } from "../../webhooks/http/core.ts";
import { type RunningServer, startHttpServer, startHttpsServer } from "../../webhooks/http/server.ts";
import { ensureLocalTls, LocalCaError, type LocalTls, TLS_DIR } from "./ca.ts";
import { type Connection, clusterFromConfig, clusterFromEnv, DEFAULT_PROBE_TIMEOUT_MS } from "./cluster.ts";
import { createRolloutHistory } from "./history.ts";
import { flagsPathNeedsHostCheck, withHostCheck } from "./host-check.ts";
import { withRequestLog } from "./log.ts";
import type { EndpointGroup, FlagRow, LocalState } from "./page.ts";
import { createPageApp } from "./page-server.ts";
import {
  dialHost,
  type Env,
  isWildcard,
  type LocalSettings,
  localFlagsDir,
  PORT_SOURCES,
  type PortName,
  urlHost,
} from "./settings.ts";
import { type StepperLoop, type StepperView, startStepperLoop } from "./stepper-loop.ts";

export const DEMO_SVG = "demo.svg";
export const WEBHOOK_CONFIGURATIONS_FILE = "webhook-configurations.yaml";
/** metadata.name of the configurations written for this server: apart from an in-cluster install's `greenlight`. */
export const LOCAL_CONFIGURATION_NAME = "greenlight-local";

export interface LocalStackOptions extends LocalSettings {
  cwd: string;
  env: Env;
  logger: Logger;
  /** The cluster: default the kubeconfig from `env` (KUBECONFIG, ~/.kube/config), read again on every probe. */
  connect?: () => Promise<Connection>;
  /** A kubeconfig to probe and use instead of the one from `env`. */
  kubeConfig?: KubeConfig;
  /** The canary checks' metrics: default Prometheus at PROMETHEUS_URL. */
  reader?: MetricsReader;
  /** While there is no cluster, how often to look again; default 5 min. */
  retryMs?: number;
  probeTimeoutMs?: number;
  /** How long close() waits for a stepper pass in flight; default 10 s. */
  stopTimeoutMs?: number;
}

export interface LocalStack {
  /** What a client on this machine dials. */
  urls: Record<PortName, string>;
  ports: Record<PortName, number>;
  /** The webhook base URL written into webhook-configurations.yaml (--public-host). */
  webhookPublicUrl: string;
  webhookConfigurationsPath: string;
  tls: LocalTls;
  /**
   * The admin token to print (generated for this run when no token is configured; GREENLIGHT_ADMIN_TOKEN's otherwise,
   * undefined when only GREENLIGHT_ADMIN_TOKENS is set) and the labels of every accepted token.
   */
  admin: { token: string | undefined; generated: boolean; labels: string[] };
  flagsWhere: string;
  prometheusUrl?: string;
  demoPath: string;
  stepper(): StepperView;
  state(): Promise<LocalState>;
  /** Idempotent; resolves once every server is closed. */
  close(): Promise<void>;
}

/** A start that cannot go on; one line naming the flag or variable and the fix. */
export class LocalStackError extends Error {
  override readonly name = "LocalStackError";
}

/** Names and addresses the serving certificate covers: loopback, the bind address and the public host. */
export function servingHosts(settings: Pick<LocalSettings, "host" | "publicHost">): string[] {
  const hosts = ["localhost", "127.0.0.1", "::1", settings.publicHost];
  if (!isWildcard(settings.host)) hosts.push(settings.host);
  return [...new Set(hosts)];
}

export function listenProblem(name: PortName, host: string, port: number, error: NodeJS.ErrnoException): string {
  const { flag, env, what } = PORT_SOURCES[name];
  switch (error.code) {
    case "EADDRINUSE":
      return `cannot serve ${what} on ${urlHost(host, port)}: the port is taken; pass ${flag} with a free port (or set ${env})`;
    case "EACCES":
      return `cannot serve ${what} on ${urlHost(host, port)}: ports below 1024 need privileges; pass ${flag} with a port above 1023`;
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
      return `cannot listen on ${host}: it is not an address of this machine; pass --host 127.0.0.1 (or set GREENLIGHT_HOST)`;
    default:
      return `cannot serve ${what} on ${urlHost(host, port)}: ${error.message}`;
  }
}

export function endpointGroups(urls: Record<PortName, string>): EndpointGroup[] {
  const at = (base: string, path: string) => `${base}${path}`;
  const group = (name: string, base: string, rows: [string, string, string][]): EndpointGroup => ({
    name,
    base,
    endpoints: rows.map(([method, path, note]) => ({ method, path, url: at(base, path), note })),
  });
  return [
    group("Admission webhooks (HTTPS, local CA)", urls.webhook, [
      ["POST", WEBHOOK_PATHS.mutateAnnotated, 'mutate Deployments annotated greenlight.dev/inject: "true"'],
      [
        "POST",
        WEBHOOK_PATHS.mutateNamespace,
        "mutate Deployments in namespaces labelled greenlight.dev/inject=enabled",
      ],
      ["POST", WEBHOOK_PATHS.validate, "check greenlight.dev/ annotations"],
      ["GET", "/healthz", "health"],
      ["GET", "/metrics", "Prometheus metrics"],
    ]),
    group("Flags (OFREP and admin)", urls.flags, [
      ["POST", "/ofrep/v1/evaluate/flags/{key}", "OFREP: evaluate one flag"],
      ["POST", "/ofrep/v1/evaluate/flags", "OFREP: evaluate every flag (ETag / 304)"],
      ["GET", "/admin/flags", "list flags (admin token)"],
      ["GET|PUT|DELETE", "/admin/flags/{key}", "read, write or delete a flag (admin token)"],
      ["GET", "/admin/audit", "audit log (admin token)"],
      ["GET", "/healthz", "health of the flag store and its cache"],
    ]),
    group("Dashboard", urls.page, [
      ["GET", "/", "the dashboard: flags (sign in with the admin token) and rollouts"],
      ["GET", "/status", "this page: endpoints, flags and canaries, without JavaScript"],
      ["GET", "/api/state", "what this page shows, as JSON"],
      ["GET", "/api/rollouts", "the stepper and each canary's timeline, as JSON"],
      ["GET", `/${DEMO_SVG}`, "the demo canary chart (npm run demo)"],
      ["GET", "/healthz", "health"],
    ]),
  ];
}

async function demoInfo(path: string): Promise<LocalState["demo"]> {
  try {
    const info = await stat(path);
    return info.isFile()
      ? { available: true, url: `/${DEMO_SVG}?v=${Math.trunc(info.mtimeMs)}` }
      : { available: false };
  } catch {
    return { available: false };
  }
}

/** Mutating- and ValidatingWebhookConfiguration for this server, for `kubectl apply`. */
async function writeWebhookConfigurations(path: string, url: string, caBundle: string): Promise<void> {
  const configurations = buildWebhookConfigurations({
    name: LOCAL_CONFIGURATION_NAME,
    target: { url },
    caBundle,
    ownNamespace: DEFAULT_NAMESPACE,
  });
  const header =
    `Written by \`greenlight start\` for the webhooks it serves at ${url}; rewritten on every start.\n` +
    "The cluster's API server must reach that URL (--public-host sets its host). Apply with:\n" +
    `  kubectl apply -f ${path}`;
  await writeFile(path, renderYamlDocuments(configurations, header), { mode: 0o644 });
}

type Running = RunningServer<http.Server> | RunningServer<https.Server>;

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.logger;
  await mkdir(options.home, { recursive: true });

  let tls: LocalTls;
  try {
    tls = await ensureLocalTls({ dir: join(options.home, TLS_DIR), hosts: servingHosts(options) });
  } catch (error) {
    if (error instanceof LocalCaError) throw new LocalStackError(error.message);
    throw error;
  }
  log.info(
    { ca: tls.caCertPath, fingerprint: tls.fingerprint, created: tls.caCreated, servingIssued: tls.servingIssued },
    tls.caCreated ? "local CA created" : "local CA reused",
  );

  // The flag files live in the stack's home unless GREENLIGHT_FLAGS_DIR says otherwise.
  const flagEnv: Env = {
    ...options.env,
    [FLAG_ENV.flagsDir]: localFlagsDir(options.env, options.cwd, options.home),
    ...(options.rateLimit === false ? { [RATE_LIMIT_SWITCH]: "off" } : {}),
  };
  let flags: ReturnType<typeof flagsConfigFromEnv>;
  let reader: MetricsReader;
  let prometheusUrl: string | undefined;
  let concurrency: number | undefined;
  let rolloutMetrics: RolloutMetrics;
  try {
    flags = flagsConfigFromEnv(flagEnv, { cwd: options.cwd });
    if (options.reader) reader = options.reader;
    else {
      prometheusUrl = prometheusUrlFromEnv(options.env);
      reader = createPrometheusReader({ url: prometheusUrl });
    }
    concurrency = concurrencyFromEnv(options.env);
    rolloutMetrics = rolloutMetricsFromEnv(options.env);
  } catch (error) {
    throw error instanceof LocalStackError ? error : new LocalStackError((error as Error).message);
  }
  // Without a configured token the admin API still works: with one made for this run, printed once at startup.
  const generated =
    flags.adminTokens === undefined ? singleAdminToken(randomBytes(32).toString("base64url")) : undefined;
  const adminTokens: AdminTokens = generated === undefined ? (flags.adminTokens ?? []) : [generated];
  const admin = {
    token: generated?.token ?? flags.adminToken,
    generated: generated !== undefined,
    labels: adminTokens.map((token) => token.label),
  };
  let namespaces: string[];
  try {
    namespaces = namespacesFromEnv(options.env);
  } catch (error) {
    throw new LocalStackError((error as Error).message);
  }

  const demoPath = join(options.home, DEMO_SVG);
  const dial = dialHost(options.host);
  // The names the page and the admin API answer to (DNS rebinding, see host-check.ts): those in the certificate.
  const hostNames = servingHosts(options);
  let loop: StepperLoop | undefined;
  const history = createRolloutHistory();
  const started: Running[] = [];
  const urls = {} as Record<PortName, string>;
  const ports = {} as Record<PortName, number>;

  const flagRows = async (): Promise<LocalState["flags"]> => {
    try {
      const set = await flags.store.load();
      const items: FlagRow[] = Object.values(set.flags)
        .map(({ flag, revision, updatedAt, updatedBy }) => ({
          key: flag.key,
          ...(flag.description === undefined ? {} : { description: flag.description }),
          state: flag.state,
          percentage: flag.percentage ?? 100,
          segments: [...(flag.segments ?? [])],
          revision,
          updatedAt,
          updatedBy,
        }))
        .sort((a, b) => a.key.localeCompare(b.key));
      return { where: flags.where, version: set.version, items };
    } catch (error) {
      return { where: flags.where, items: [], error: (error as Error).message };
    }
  };
  const stepperView = (): StepperView =>
    loop?.view() ?? {
      status: "starting",
      intervalSeconds: options.stepIntervalMs / 1000,
      dryRun: options.dryRun,
      passes: 0,
    };
  const state = async (): Promise<LocalState> => {
    const [flagState, demo] = await Promise.all([flagRows(), demoInfo(demoPath)]);
    return {
      generatedAt: new Date().toISOString(),
      endpoints: endpointGroups(urls),
      flags: flagState,
      stepper: stepperView(),
      tls: { caCertPath: tls.caCertPath, fingerprint: tls.fingerprint, bundlePath: tls.bundlePath },
      demo,
    };
  };

  const listen = async (name: PortName, open: () => Promise<Running>): Promise<void> => {
    const port = options.ports[name];
    let running: Running;
    try {
      running = await open();
    } catch (error) {
      await Promise.allSettled(started.map((server) => server.close()));
      throw new LocalStackError(listenProblem(name, options.host, port, error as NodeJS.ErrnoException));
    }
    started.push(running);
    ports[name] = running.port;
    urls[name] = `${name === "webhook" ? "https" : "http"}://${urlHost(dial, running.port)}`;
    log.info({ url: urls[name] }, `${name} listening`);
  };

  const webhookLog = log.child({ component: "webhook" });
  await listen("webhook", () =>
    startHttpsServer(withRequestLog(webhookLog, createWebhookListener({ onError: options.onError })), {
      port: options.ports.webhook,
      host: options.host,
      certFile: tls.certPath,
      keyFile: tls.keyPath,
      onReload: (error) => {
        if (error) webhookLog.warn({ err: error }, "certificate reload failed, keeping the old one");
        else webhookLog.info("certificate reloaded");
      },
    }),
  );
  const flagsLog = log.child({ component: "flags" });
  // One flag core for both ports: the dashboard's origin answers the admin API with the same cache and limits.
  const flagOptions = flagHttpOptions(flags, {
    adminTokens,
    onError: (error) => flagsLog.error({ err: error }, "flag request failed"),
  });
  const flagCore = createFlagCore(flagOptions);
  const bodyLimitBytes = flagOptions.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  await listen("flags", () =>
    startHttpServer(
      withRequestLog(
        flagsLog,
        withHostCheck(nodeListener(flagCore, { bodyLimitBytes }), hostNames, flagsPathNeedsHostCheck),
      ),
      { port: options.ports.flags, host: options.host },
    ),
  );
  const pageLog = log.child({ component: "page" });
  const dashboard = createDashboardCore({
    files: loadDashboardFiles(),
    rolloutsUrl: "/api/rollouts",
    statusUrl: "/status",
  });
  await listen("page", () =>
    startHttpServer(
      withRequestLog(
        pageLog,
        withHostCheck(
          createPageApp({
            state,
            demoPath,
            onError: (error) => pageLog.error({ err: error }, "page request failed"),
            dashboard,
            flags: flagCore,
            rollouts: async () => ({
              generatedAt: new Date().toISOString(),
              stepper: stepperView(),
              canaries: history.timelines(),
            }),
            bodyLimitBytes,
          }),
          hostNames,
        ),
      ),
      { port: options.ports.page, host: options.host },
    ),
  );

  const webhookPublicUrl = `https://${urlHost(options.publicHost, ports.webhook)}`;
  const webhookConfigurationsPath = join(tls.dir, WEBHOOK_CONFIGURATIONS_FILE);
  try {
    await writeWebhookConfigurations(webhookConfigurationsPath, webhookPublicUrl, tls.caBundle);
  } catch (error) {
    await Promise.allSettled(started.map((server) => server.close()));
    throw error;
  }

  const stepperLog = log.child({ component: "stepper" });
  const probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const connect =
    options.connect ??
    (options.kubeConfig
      ? clusterFromConfig(options.kubeConfig, probeTimeoutMs)
      : clusterFromEnv(options.env, probeTimeoutMs));
  loop = startStepperLoop({
    intervalMs: options.stepIntervalMs,
    dryRun: options.dryRun,
    connect,
    runPass: (clients, deadline) =>
      runStep({
        clients,
        reader,
        namespaces,
        dryRun: options.dryRun,
        deadline,
        ...(concurrency === undefined ? {} : { concurrency }),
        // Guarded flag rollouts in the stack's own flag store, on the same Prometheus.
        flags: { store: flags.store, metrics: rolloutMetrics },
      }),
    logger: stepperLog,
    onPass: (report, at) => history.record(report.canaries, at),
    ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
    ...(options.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: options.stopTimeoutMs }),
  });
  await loop.ready;
  log.info({ ...urls }, "local stack started");

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info("shutting down");
      await loop?.stop();
      const results = await Promise.allSettled(started.map((server) => server.close()));
      for (const result of results) {
        if (result.status === "rejected") log.warn({ err: result.reason }, "a server did not close cleanly");
      }
      log.info("stopped");
    })();
    return closing;
  };

  return {
    urls,
    ports,
    webhookPublicUrl,
    webhookConfigurationsPath,
    tls,
    admin,
    flagsWhere: flags.describe,
    ...(prometheusUrl === undefined ? {} : { prometheusUrl }),
    demoPath,
    stepper: stepperView,
    state,
    close,
  };
}

/** What `greenlight start` prints once it listens: where everything is, how to trust the CA, the admin token. */
export function startupLines(stack: LocalStack): string[] {
  const stepper = stack.stepper();
  const stepperLine =
    stepper.status === "active"
      ? `every ${stepper.intervalSeconds}s against context ${stepper.context} (${stepper.server})${stepper.dryRun ? ", dry run" : ""}`
      : stepper.status === "idle"
        ? "idle: no cluster (see the warning in the log)"
        : stepper.status;
  const lines = [
    "greenlight local stack (Ctrl-C to stop)",
    `  page      ${stack.urls.page}/  the dashboard: flags (sign in with the admin token below) and rollouts; /status without JavaScript`,
    `  webhooks  ${stack.urls.webhook}  POST ${WEBHOOK_PATHS.mutateAnnotated}, ${WEBHOOK_PATHS.mutateNamespace}, ${WEBHOOK_PATHS.validate}; GET /healthz, /metrics`,
    `  flags     ${stack.urls.flags}  OFREP /ofrep/v1/evaluate/flags[/{key}], admin /admin/flags (${stack.flagsWhere})`,
    `  stepper   ${stepperLine}${stack.prometheusUrl ? `; metrics from ${stack.prometheusUrl}` : ""}`,
    "",
    `Webhook CA (${stack.tls.caCreated ? "created now" : "reused"}): ${stack.tls.caCertPath}`,
    `  SHA-256 ${stack.tls.fingerprint}`,
    `  trust it: curl --cacert ${stack.tls.caCertPath} ${stack.urls.webhook}/healthz  (Node: NODE_EXTRA_CA_CERTS=${stack.tls.caCertPath})`,
    `  caBundle for a webhook configuration: ${stack.tls.bundlePath}`,
    `  configurations pointing at ${stack.webhookPublicUrl}: kubectl apply -f ${stack.webhookConfigurationsPath}`,
    "",
  ];
  if (stack.admin.generated) {
    lines.push(
      "Flag admin token, generated for this run because GREENLIGHT_ADMIN_TOKEN is unset (set it to keep one):",
      `  ${stack.admin.token}`,
      `  GREENLIGHT_ADMIN_TOKEN=${stack.admin.token} greenlight flags set <key> -f flag.json --url ${stack.urls.flags}`,
    );
  } else {
    const labels = stack.admin.labels.join(", ");
    lines.push(
      `Flag admin API: tokens from GREENLIGHT_ADMIN_TOKEN and GREENLIGHT_ADMIN_TOKENS (labels: ${labels}); ` +
        `e.g. greenlight flags list --url ${stack.urls.flags}`,
    );
  }
  return lines;
}
