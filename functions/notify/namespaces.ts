// The Namespace annotations a pass's notifications look at: each Namespace read at most once per pass (the reader is
// made per pass), and only when an event there needs it. A Namespace the stepper may not read (its RoleBindings are
// per namespace, and Namespaces are cluster-scoped) counts as one without annotations, with a warning.
import type { KubeClients } from "../kube/clients.ts";
import { toKubeError } from "../kube/errors.ts";
import type { NamespaceReader } from "./notifier.ts";

export function namespaceReader(clients: KubeClients): NamespaceReader {
  const read = new Map<string, ReturnType<NamespaceReader>>();
  return (name) => {
    let pending = read.get(name);
    if (pending === undefined) {
      pending = clients.core.readNamespace({ name }).then(
        (namespace) => ({ annotations: namespace.metadata?.annotations ?? {} }),
        (error: unknown) => {
          const failure = toKubeError(error, `reading Namespace ${name}`);
          const hint =
            failure.code === 403 ? " (grant the stepper get on namespaces to use its notify annotations)" : "";
          return { problem: `${failure.message}${hint}; its notify annotations are not used` };
        },
      );
      read.set(name, pending);
    }
    return pending;
  };
}
