// Where the stepper finds its cluster, its Prometheus and its limits: environment first, defaults second.
import { KubeConfig } from "@kubernetes/client-node";
import { createPrometheusReader, prometheusUrlFromEnv } from "../canary/prometheus.ts";
import { readSettingOr } from "../contract/settings.ts";
import { isDns1123Label } from "../contract/syntax.ts";
import { type Parsed, parseInteger } from "../contract/values.ts";
import { createKubeClients } from "../kube/clients.ts";
import { DEFAULT_CONCURRENCY, type RunOptions } from "./run.ts";

export interface StepperEnv {
  /** A kubeconfig as text or base64 (for Lambda, from a secret); else KUBECONFIG, ~/.kube/config or in-cluster. */
  GREENLIGHT_KUBECONFIG?: string;
  /** Comma-separated namespaces to watch; empty: all. */
  GREENLIGHT_NAMESPACES?: string;
  GREENLIGHT_CONCURRENCY?: string;
  PROMETHEUS_URL?: string;
  [name: string]: string | undefined;
}

export interface KubeConfigOptions {
  /**
   * Only GREENLIGHT_KUBECONFIG counts: the Lambda sets this, so a function run locally (serverless-offline, a test)
   * never falls back to the developer's own kubeconfig and steps their cluster.
   */
  inlineOnly?: boolean;
}

export function loadKubeConfig(env: StepperEnv = process.env, options: KubeConfigOptions = {}): KubeConfig {
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
        "(YAML or base64); it never falls back to KUBECONFIG or ~/.kube/config",
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

/** Everything `runStep` needs, built from the environment. */
export function runOptionsFromEnv(
  env: StepperEnv = process.env,
  kube: KubeConfigOptions = {},
): Omit<RunOptions, "now" | "deadline"> {
  const concurrency = concurrencyFromEnv(env);
  return {
    clients: createKubeClients(
      loadKubeConfig(env, kube),
      env.AWS_LAMBDA_LOG_STREAM_NAME ?? env.HOSTNAME ?? "greenlight",
    ),
    reader: createPrometheusReader({ url: prometheusUrlFromEnv(env) }),
    namespaces: namespacesFromEnv(env),
    concurrency,
  };
}
