// What commands that talk to a cluster share: the kubeconfig context's namespace and the -n / -A options.
import type { Command } from "commander";
import { CliError } from "./errors.ts";

/** The namespace of the kubeconfig's current context, if there is a kubeconfig and it names one. */
export async function kubeconfigNamespace(): Promise<string | undefined> {
  try {
    // Loaded lazily: the client is heavy, and offline commands never need it.
    const { KubeConfig } = await import("@kubernetes/client-node");
    const config = new KubeConfig();
    config.loadFromDefault();
    return config.getContextObject(config.getCurrentContext())?.namespace || undefined;
  } catch {
    return undefined;
  }
}

export interface NamespaceFlags {
  namespace?: string;
  allNamespaces?: boolean;
}

export const addNamespaceOptions = (command: Command, what: string): Command =>
  command
    .option("-n, --namespace <namespace>", `namespace of the ${what} (default: the kubeconfig context's, else default)`)
    .option("-A, --all-namespaces", `${what} in every namespace`);

/** The namespaces a command covers: [] means all. */
export async function resolveNamespaces(flags: NamespaceFlags): Promise<string[]> {
  if (flags.allNamespaces && flags.namespace) throw new CliError("-n and -A exclude each other: pass one");
  if (flags.allNamespaces) return [];
  return [flags.namespace ?? (await kubeconfigNamespace()) ?? "default"];
}
