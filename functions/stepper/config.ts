// Where the stepper finds its cluster, its Prometheus and its limits: environment first, defaults second.
// Its cluster: a kubeconfig (GREENLIGHT_KUBECONFIG, else KUBECONFIG and the usual places for the CLI), or on EKS
// (GREENLIGHT_EKS_CLUSTER, _ENDPOINT, _CA) a short-lived token signed with its AWS role (functions/kube/eks-token.ts).
import { KubeConfig } from "@kubernetes/client-node";
import { createPrometheusReader, prometheusUrlFromEnv } from "../canary/prometheus.ts";
import { readSetting, readSettingOr, SettingError, settingValue } from "../contract/settings.ts";
import { isDns1123Label } from "../contract/syntax.ts";
import { type Parsed, parseInteger } from "../contract/values.ts";
import { createKubeClients } from "../kube/clients.ts";
import { awsCredentialsFromEnv, eksToken, parseEksClusterName } from "../kube/eks-token.ts";
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
  "GREENLIGHT_KUBECONFIG_SECRET",
  "GREENLIGHT_KUBECONFIG_PARAMETER",
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
  config.loadFromDefault();
  if (!config.getCurrentCluster()) {
    throw new Error("no cluster: set KUBECONFIG, GREENLIGHT_KUBECONFIG, or run in a cluster with a ServiceAccount");
  }
  return config;
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
  const access = clusterAccessFromEnv(env, kube);
  return {
    options: {
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
