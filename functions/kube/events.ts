// Events on the Deployments greenlight acts on (events.k8s.io/v1), recorded after the write they describe.
import { V1MicroTime } from "@kubernetes/client-node";
import { type KubeClients, REPORTING_CONTROLLER } from "./clients.ts";
import { type KubeError, toKubeError } from "./errors.ts";

export interface EventSpec {
  type: "Normal" | "Warning";
  reason: string;
  action: string;
  note: string;
}

/** Records an event on a Deployment; a failure to record is returned, never thrown (the write already happened). */
export async function recordEvent(
  clients: KubeClients,
  deployment: { namespace: string; name: string; uid?: string },
  event: EventSpec,
  now: Date,
): Promise<KubeError | undefined> {
  try {
    await clients.events.createNamespacedEvent({
      namespace: deployment.namespace,
      body: {
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { generateName: `${deployment.name}.`, namespace: deployment.namespace },
        // events.k8s.io wants microseconds; a plain Date serialises with milliseconds and is refused.
        eventTime: new V1MicroTime(now.getTime()),
        type: event.type,
        reason: event.reason,
        action: event.action,
        note: event.note.slice(0, 1024),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: clients.instance,
        regarding: {
          apiVersion: "apps/v1",
          kind: "Deployment",
          namespace: deployment.namespace,
          name: deployment.name,
          ...(deployment.uid ? { uid: deployment.uid } : {}),
        },
      },
    });
    return undefined;
  } catch (error) {
    return toKubeError(error, `recording event ${event.reason} on ${deployment.namespace}/${deployment.name}`);
  }
}
