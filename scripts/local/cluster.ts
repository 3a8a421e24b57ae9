// Finds the cluster for the local stepper (KUBECONFIG, ~/.kube/config, in-cluster) and checks it answers with one cheap call.
/*
 * client-node's loadFromDefault() falls back to http://localhost:8080 when there is no kubeconfig at all, which is
 * the / page's own default port: probing that would find our own server. So the kubeconfig is located here, and
 * "no kubeconfig" is said as such. A probe counts as an answer only when it looks like the Kubernetes API: a
 * NamespaceList, or a Status for an error (403 still means a cluster is there; RBAC may allow the stepper's calls).
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import {
  ApiException,
  type ConfigurationOptions,
  KubeConfig,
  Observable,
  type ObservableMiddleware,
} from "@kubernetes/client-node";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import type { Env } from "./settings.ts";

export const DEFAULT_PROBE_TIMEOUT_MS = 3_000;
const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export type Connection =
  | { ok: true; clients: KubeClients; server: string; context: string }
  /** `reason` says what was found, `fix` what the user can do about it. */
  | { ok: false; server?: string; reason: string; fix: string };

export type LoadedKubeConfig = { config: KubeConfig; from: string } | { reason: string; fix: string };

const SET_KUBECONFIG = "set KUBECONFIG to the kubeconfig of a running cluster";

/** The kubeconfig the stepper would use, or why there is none. Reads `env`, never process.env. */
export function loadLocalKubeConfig(env: Env, home: string = homedir()): LoadedKubeConfig {
  const config = new KubeConfig();
  try {
    const inline = env.GREENLIGHT_KUBECONFIG?.trim();
    if (inline) {
      const text = /^[A-Za-z0-9+/=\s]+$/.test(inline) ? Buffer.from(inline, "base64").toString("utf8") : inline;
      config.loadFromString(text);
      return { config, from: "GREENLIGHT_KUBECONFIG" };
    }
    const files = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
    const [first, ...rest] = files;
    if (first !== undefined) {
      config.loadFromFile(first);
      // Later files add clusters and users; the first file's current-context wins, as kubectl does.
      for (const file of rest) {
        const more = new KubeConfig();
        more.loadFromFile(file);
        config.mergeConfig(more, true);
      }
      return { config, from: `KUBECONFIG=${files.join(delimiter)}` };
    }
    const fallback = join(home, ".kube", "config");
    if (existsSync(fallback)) {
      config.loadFromFile(fallback);
      return { config, from: fallback };
    }
    if (existsSync(SERVICE_ACCOUNT_TOKEN)) {
      config.loadFromCluster();
      return { config, from: "the in-cluster service account" };
    }
  } catch (error) {
    const where = env.GREENLIGHT_KUBECONFIG?.trim() ? "GREENLIGHT_KUBECONFIG" : env.KUBECONFIG ? "KUBECONFIG" : "";
    return {
      reason: `the kubeconfig ${where ? `from ${where} ` : ""}cannot be read (${(error as Error).message})`,
      fix: "point KUBECONFIG at a readable kubeconfig file",
    };
  }
  return {
    reason: `no cluster configured (KUBECONFIG is unset and ${fallbackPath(home)} does not exist)`,
    fix: SET_KUBECONFIG,
  };
}

function fallbackPath(home: string): string {
  return join(home, ".kube", "config");
}

/** Per-call options that abort the request when `signal` fires. */
function abortOn(signal: AbortSignal): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (context) => {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (context) => new Observable(Promise.resolve(context)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}

function isKubeStatus(body: unknown): boolean {
  try {
    const parsed = (typeof body === "string" ? JSON.parse(body) : body) as { kind?: unknown } | null;
    return parsed?.kind === "Status";
  } catch {
    return false;
  }
}

/** One `list namespaces limit=1` with a timeout: is there a Kubernetes API server behind `config`? Never throws. */
export async function probeCluster(
  config: KubeConfig,
  timeoutMs = DEFAULT_PROBE_TIMEOUT_MS,
  instance = "greenlight-local",
): Promise<Connection> {
  const cluster = config.getCurrentCluster();
  if (!cluster) {
    return {
      ok: false,
      reason: `the kubeconfig's current context "${config.getCurrentContext()}" names no cluster`,
      fix: "pick a context with `kubectl config use-context`",
    };
  }
  const server = cluster.server;
  const context = config.getCurrentContext();
  let clients: KubeClients;
  try {
    clients = createKubeClients(config, instance);
  } catch (error) {
    return {
      ok: false,
      server,
      reason: `no usable cluster at ${server} (${(error as Error).message})`,
      fix: SET_KUBECONFIG,
    };
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    await clients.core.listNamespace({ limit: 1 }, abortOn(controller.signal));
    return { ok: true, clients, server, context };
  } catch (error) {
    if (error instanceof ApiException) {
      // client-node drops the body of a 401, so there is no Status to look at: a refused login it is.
      if (error.code === 401) {
        return {
          ok: false,
          server,
          reason: `the server at ${server} refused the kubeconfig's credentials (401 Unauthorized)`,
          fix: "log in again or refresh the token of the current context",
        };
      }
      if (!isKubeStatus(error.body)) {
        return {
          ok: false,
          server,
          reason: `${server} answered HTTP ${error.code} but not as a Kubernetes API server`,
          fix: "check the cluster's server: URL in your kubeconfig",
        };
      }
      // 403 and server-side errors: a cluster is there; the stepper's own calls will say what they may not do.
      return { ok: true, clients, server, context };
    }
    const detail = controller.signal.aborted
      ? `no answer within ${timeoutMs / 1000}s`
      : ((error as { code?: string }).code ?? (error as Error).message);
    return { ok: false, server, reason: `no cluster at ${server} (${detail})`, fix: SET_KUBECONFIG };
  } finally {
    clearTimeout(timer);
  }
}

/** A connect function that reads the kubeconfig afresh on every try, so a cluster started later is found. */
export function clusterFromEnv(env: Env, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): () => Promise<Connection> {
  return async () => {
    const loaded = loadLocalKubeConfig(env);
    if (!("config" in loaded)) return { ok: false, reason: loaded.reason, fix: loaded.fix };
    return probeCluster(loaded.config, timeoutMs);
  };
}

/** A connect function for a given kubeconfig (tests, or a caller that already has one). */
export function clusterFromConfig(config: KubeConfig, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): () => Promise<Connection> {
  return () => probeCluster(config, timeoutMs);
}
