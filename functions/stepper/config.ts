// Where the stepper finds its cluster, its Prometheus and its limits: environment first, defaults second.
// Its cluster: a kubeconfig (GREENLIGHT_KUBECONFIG, else KUBECONFIG and the usual places for the CLI), or on EKS
// (GREENLIGHT_EKS_CLUSTER, _ENDPOINT, _CA) a short-lived token signed with its AWS role (functions/kube/eks-token.ts).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { createPrometheusReader, prometheusUrlFromEnv } from "../canary/prometheus.ts";
import { readSetting, readSettingOr, SettingError, settingValue } from "../contract/settings.ts";
import { isDns1123Label } from "../contract/syntax.ts";
import { type Parsed, parseInteger } from "../contract/values.ts";
import { upstashStoreFromEnv } from "../flags/env.ts";
import { rolloutMetricsFromEnv } from "../flags/rollout/queries.ts";
import { createKubeClients } from "../kube/clients.ts";
import { awsCredentialsFromEnv, eksToken, parseEksClusterName } from "../kube/eks-token.ts";
import { notifierFromEnv } from "../notify/env.ts";
import { SECRET_SUFFIX } from "../secrets/resolve.ts";
import { DEFAULT_CONCURRENCY, type RunOptions } from "./run.ts";

export interface StepperEnv {
  /** A kubeconfig as text or base64 (for Lambda, from a secret); else KUBECONFIG, ~/.kube/config or in-cluster. */
  GREENLIGHT_KUBECONFIG?: string;
  /** Comma-separated namespaces to watch; empty: all. */
  GREENLIGHT_NAMESPACES?: string;
  GREENLIGHT_CONCURRENCY?: string;
  PROMETHEUS_URL?: string;
  /** On EKS, instead of a kubeconfig: the cluster's name, API server URL and CA (all three or none). */
  GREENLIGHT_EKS_CLUSTER?: string;
  GREENLIGHT_EKS_ENDPOINT?: string;
  GREENLIGHT_EKS_CA?: string;
  [name: string]: string | undefined;
}

export interface KubeConfigOptions {
  /**
   * Only GREENLIGHT_KUBECONFIG (or GREENLIGHT_EKS_*) counts: the Lambda sets this, so a function run locally
   * (serverless-offline, a test) never falls back to the developer's own kubeconfig and steps their cluster.
   */
  inlineOnly?: boolean;
  /** When the EKS token is signed (GREENLIGHT_EKS_*); default: now. */
  now?: Date;
}

/** How the stepper reaches its cluster: a kubeconfig, or on EKS a token it signs itself. */
export interface ClusterAccess {
  config: KubeConfig;
  /** EKS: when the token in `config` is due for renewal (build again from then on); undefined: it does not expire. */
  renewAt?: Date;
}

/** The cluster the stepper reaches with a token of its own, on EKS. */
export interface EksCluster {
  name: string;
  /** The API server's URL, e.g. https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com. */
  endpoint: string;
  /** base64 of the CA's PEM, as `aws eks describe-cluster` prints certificateAuthority.data. */
  certificateAuthority: string;
}

export const EKS_SETTINGS = ["GREENLIGHT_EKS_CLUSTER", "GREENLIGHT_EKS_ENDPOINT", "GREENLIGHT_EKS_CA"] as const;
/** Every way the kubeconfig can be given: as a value, or by name for the Lambda (functions/secrets). */
const KUBECONFIG_SETTINGS = [
  "GREENLIGHT_KUBECONFIG",
  ...(["secret", "parameter"] as const).map((store) => `GREENLIGHT_KUBECONFIG${SECRET_SUFFIX[store]}`),
];

const listed = (names: readonly string[]): string =>
  names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : (names[0] ?? "");

function parseEksEndpoint(raw: string): Parsed<string> {
  const accepted = "accepted: the cluster's https URL, e.g. https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, problem: accepted };
  }
  if (url.protocol !== "https:" || url.username || url.password || url.search || url.hash || url.pathname !== "/") {
    return { ok: false, problem: accepted };
  }
  return { ok: true, value: `https://${url.host}` };
}

function parseCertificateAuthority(raw: string): Parsed<string> {
  const data = raw.replace(/\s+/g, "");
  const pem = /^[A-Za-z0-9+/]+={0,2}$/.test(data) ? Buffer.from(data, "base64").toString("utf8") : "";
  return pem.includes("-----BEGIN CERTIFICATE-----") && pem.includes("-----END CERTIFICATE-----")
    ? { ok: true, value: data }
    : {
        ok: false,
        problem:
          "accepted: base64 of the CA's PEM, as aws eks describe-cluster --name <cluster> --query " +
          "cluster.certificateAuthority.data --output text prints it",
      };
}

/**
 * The EKS cluster named by GREENLIGHT_EKS_CLUSTER, GREENLIGHT_EKS_ENDPOINT and GREENLIGHT_EKS_CA, or undefined when
 * none is set. Throws SettingError for a partial set, for one set next to a kubeconfig (saying which to drop), or for
 * a value that does not parse.
 */
export function eksClusterFromEnv(env: StepperEnv): EksCluster | undefined {
  const given = EKS_SETTINGS.filter((name) => settingValue(env, name) !== undefined);
  if (given.length === 0) return undefined;
  if (given.length < EKS_SETTINGS.length) {
    const missing = EKS_SETTINGS.filter((name) => !given.includes(name));
    const verb = (names: readonly string[]) => (names.length > 1 ? "are" : "is");
    throw new SettingError(
      `${listed(given)} ${verb(given)} set but ${listed(missing)} ${verb(missing)} ` +
        "not: the EKS route needs all three (aws eks describe-cluster --name <cluster> --query " +
        "'cluster.[endpoint,certificateAuthority.data]'), or none of them to use GREENLIGHT_KUBECONFIG",
    );
  }
  const kubeconfig = KUBECONFIG_SETTINGS.find((name) => settingValue(env, name) !== undefined);
  if (kubeconfig !== undefined) {
    throw new SettingError(
      `${kubeconfig} and GREENLIGHT_EKS_CLUSTER are both set: drop ${kubeconfig} to sign in with the role's EKS ` +
        "access entry, or drop GREENLIGHT_EKS_CLUSTER, GREENLIGHT_EKS_ENDPOINT and GREENLIGHT_EKS_CA to keep the " +
        "kubeconfig",
    );
  }
  return {
    name: readSetting(env, "GREENLIGHT_EKS_CLUSTER", parseEksClusterName)!,
    endpoint: readSetting(env, "GREENLIGHT_EKS_ENDPOINT", parseEksEndpoint)!,
    // Not secret, only long (about 1.5 KB): named, not quoted, when it is wrong.
    certificateAuthority: readSetting(env, "GREENLIGHT_EKS_CA", parseCertificateAuthority, { secret: true })!,
  };
}

/** A KubeConfig for `cluster` whose user presents `token` (verified TLS against the cluster's own CA). */
export function eksKubeConfig(cluster: EksCluster, token: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [
      { name: cluster.name, server: cluster.endpoint, caData: cluster.certificateAuthority, skipTLSVerify: false },
    ],
    users: [{ name: "greenlight-stepper", token }],
    contexts: [{ name: cluster.name, cluster: cluster.name, user: "greenlight-stepper" }],
    currentContext: cluster.name,
  });
  return config;
}

/**
 * The stepper's way into its cluster. With GREENLIGHT_EKS_* set: a bearer token signed now with the AWS credentials
 * of the environment (the Lambda role's), and when to renew it. Otherwise the kubeconfig, as loadKubeConfig reads it.
 */
export function clusterAccessFromEnv(env: StepperEnv = process.env, options: KubeConfigOptions = {}): ClusterAccess {
  const eks = eksClusterFromEnv(env);
  if (eks === undefined) return { config: kubeConfigFromEnv(env, options) };
  const { credentials, region } = awsCredentialsFromEnv(env);
  const token = eksToken({ credentials, region, clusterName: eks.name, now: options.now ?? new Date() });
  return { config: eksKubeConfig(eks, token.token), renewAt: token.renewAt };
}

export function loadKubeConfig(env: StepperEnv = process.env, options: KubeConfigOptions = {}): KubeConfig {
  return clusterAccessFromEnv(env, options).config;
}

function kubeConfigFromEnv(env: StepperEnv, options: KubeConfigOptions): KubeConfig {
  const config = new KubeConfig();
  const inline = env.GREENLIGHT_KUBECONFIG?.trim();
  if (inline) {
    const text = /^[A-Za-z0-9+/=\s]+$/.test(inline) ? Buffer.from(inline, "base64").toString("utf8") : inline;
    try {
      config.loadFromString(text);
    } catch (error) {
      // The parser's first line only: the lines after it quote the kubeconfig, which may hold a token.
      const reason = (error as Error).message.split("\n")[0]?.replace(/:$/, "") ?? "unreadable";
      throw new Error(`GREENLIGHT_KUBECONFIG is not a kubeconfig (YAML or base64 of it): ${reason}`);
    }
    return config;
  }
  if (options.inlineOnly) {
    throw new Error(
      "GREENLIGHT_KUBECONFIG is empty: the stepper function needs the kubeconfig of its ServiceAccount there " +
        "(YAML or base64), or on EKS GREENLIGHT_EKS_CLUSTER, GREENLIGHT_EKS_ENDPOINT and GREENLIGHT_EKS_CA; it never " +
        "falls back to KUBECONFIG or ~/.kube/config",
    );
  }
  const source = defaultKubeconfigSource();
  try {
    config.loadFromDefault();
  } catch (error) {
    throw new Error(
      `no cluster: the kubeconfig ${source ?? "found"} cannot be read (${readError(error)}); ${POINT_AT_A_CLUSTER}`,
    );
  }
  if (isNoKubeconfigFallback(config)) {
    throw new Error(
      `no cluster: no kubeconfig found (KUBECONFIG is unset, ${homeKubeconfig() ?? "HOME is unset, so ~/.kube/config"} ` +
        `does not exist, and this is not a pod with a service account token); ${POINT_AT_A_CLUSTER}`,
    );
  }
  if (!config.getCurrentCluster()) {
    const contexts = config.getContexts().map((context) => context.name);
    const current = config.getCurrentContext();
    const what = current
      ? `current context ${JSON.stringify(current)} names no cluster it defines`
      : "no current context";
    throw new Error(
      `no cluster: the kubeconfig ${source ?? "found"} has ${what}${contexts.length > 0 ? ` (it has ${contexts.join(", ")})` : ""}: ` +
        "choose one with kubectl config use-context NAME",
    );
  }
  return config;
}

/** How a user without a cluster points the CLI at one, as the end of every "no cluster" message. */
const POINT_AT_A_CLUSTER =
  "set KUBECONFIG to the kubeconfig of a running cluster (kind, minikube and k3d write one), choose its context with " +
  "kubectl config use-context NAME, put the kubeconfig itself in GREENLIGHT_KUBECONFIG, or run greenlight in a pod " +
  "whose service account may reach the API server";

/** ~/.kube/config as client-node's loadFromDefault() looks for it (HOME), or undefined without a HOME. */
function homeKubeconfig(): string | undefined {
  const home = process.env.HOME;
  return home ? join(home, ".kube", "config") : undefined;
}

/** Where loadFromDefault() will read the kubeconfig from, as the messages name it (undefined: no file). */
function defaultKubeconfigSource(): string | undefined {
  const files = process.env.KUBECONFIG;
  if (files) return `KUBECONFIG=${files}`;
  const home = homeKubeconfig();
  return home !== undefined && existsSync(home) ? home : undefined;
}

/**
 * Whether loadFromDefault() found nothing at all: no KUBECONFIG, no ~/.kube/config, no service account. It then
 * makes up a cluster at http://localhost:8080, which the client refuses at the first call with words about TLS.
 * That cluster is set with loadFromClusterAndUser(), whose objects hold nothing but a name and a server.
 */
function isNoKubeconfigFallback(config: KubeConfig): boolean {
  const cluster = config.getCurrentCluster();
  return (
    config.getCurrentContext() === "loaded-context" &&
    config.clusters.length === 1 &&
    cluster?.name === "cluster" &&
    cluster.server === "http://localhost:8080" &&
    Object.keys(cluster).length === 2
  );
}

/** Why a kubeconfig file could not be loaded, in a few words and without quoting it (it may hold a token). */
function readError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return (error as Error).message.split("\n")[0]?.replace(/:$/, "") || "unreadable";
}

/** Comma-separated namespace names; one Kubernetes would refuse is a problem, not a list that matches nothing. */
function parseNamespaces(raw: string): Parsed<string[]> {
  const namespaces = raw
    .split(",")
    .map((namespace) => namespace.trim())
    .filter(Boolean);
  const bad = namespaces.find((namespace) => !isDns1123Label(namespace));
  return bad === undefined
    ? { ok: true, value: namespaces }
    : {
        ok: false,
        problem:
          `${JSON.stringify(bad)} is not a namespace name; accepted: comma-separated lower-case DNS labels ` +
          "(a-z, 0-9, '-', at most 63), e.g. shop,payments",
      };
}

/** GREENLIGHT_CONCURRENCY: how many Deployments a pass works on at once. */
export const concurrencyFromEnv = (env: StepperEnv = process.env): number =>
  readSettingOr(env, "GREENLIGHT_CONCURRENCY", (raw) => parseInteger(raw, 1, 256), DEFAULT_CONCURRENCY);

/** GREENLIGHT_NAMESPACES: the namespaces a pass looks in (empty: all it may list). */
export const namespacesFromEnv = (env: StepperEnv = process.env): string[] =>
  readSettingOr(env, "GREENLIGHT_NAMESPACES", parseNamespaces, []);

export type StepperOptions = Omit<RunOptions, "now" | "deadline">;

/** What `runStep` needs, and until when it may be reused (EKS: the token's renewal; otherwise undefined: always). */
export interface StepperSetup {
  options: StepperOptions;
  renewAt?: Date;
}

/** Everything `runStep` needs, built from the environment, with the time it is due for renewal on EKS. */
export function stepperSetupFromEnv(env: StepperEnv = process.env, kube: KubeConfigOptions = {}): StepperSetup {
  const concurrency = concurrencyFromEnv(env);
  const notifier = notifierFromEnv(env);
  const access = clusterAccessFromEnv(env, kube);
  // Guarded flag rollouts are stepped too when the flag function's store is configured here (Upstash).
  const flagStore = upstashStoreFromEnv(env);
  return {
    options: {
      ...(flagStore ? { flags: { store: flagStore, metrics: rolloutMetricsFromEnv(env) } } : {}),
      ...(notifier ? { notifier } : {}),
      clients: createKubeClients(access.config, env.AWS_LAMBDA_LOG_STREAM_NAME ?? env.HOSTNAME ?? "greenlight"),
      reader: createPrometheusReader({ url: prometheusUrlFromEnv(env) }),
      namespaces: namespacesFromEnv(env),
      concurrency,
    },
    ...(access.renewAt === undefined ? {} : { renewAt: access.renewAt }),
  };
}

/** Everything `runStep` needs, built from the environment. */
export function runOptionsFromEnv(env: StepperEnv = process.env, kube: KubeConfigOptions = {}): StepperOptions {
  return stepperSetupFromEnv(env, kube).options;
}
