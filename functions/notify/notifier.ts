// Sends events without ever blocking or failing the caller: `notify` starts the deliveries and returns at once, and
// `settle` waits for them at most a given time; whatever is still running then is aborted and reported as dropped.
// One batch per stepper pass (or per flag write), so every pass reports what it sent.
import type { Annotations } from "../contract/annotations.ts";
import {
  abortableSleep,
  type DeliveryOutcome,
  type DeliveryPolicy,
  type DeliveryResult,
  deliver,
  type HttpMessage,
} from "./deliver.ts";
import type { NotifyEvent } from "./event.ts";
import { slackMessage } from "./slack.ts";
import {
  CHANNELS,
  type Channel,
  type CloudEventsMode,
  decidedByDeployment,
  describeUrl,
  resolveTargets,
  type Targets,
} from "./targets.ts";

export interface NotifierSettings {
  /** The environment's receivers, used where no annotation says otherwise. */
  defaults: Targets;
  mode: CloudEventsMode;
  timeoutMs: number;
  attempts: number;
  backoffMs: number;
  /** How long a pass (or a flag write) waits at most for its deliveries before it reports the rest as dropped. */
  budgetMs: number;
}

export const DEFAULT_NOTIFIER_SETTINGS: Omit<NotifierSettings, "defaults"> = {
  mode: "binary",
  timeoutMs: 5_000,
  attempts: 3,
  backoffMs: 500,
  budgetMs: 5_000,
};

/** A Namespace's annotations, or why they could not be read (then only the Deployment's and the environment's count). */
export type NamespaceReader = (namespace: string) => Promise<{ annotations?: Annotations; problem?: string }>;

export interface DeliveryReport {
  id: string;
  type: string;
  subject: string;
  channel: Channel;
  /** Scheme and host of the receiver. */
  receiver: string;
  outcome: DeliveryOutcome;
  attempts: number;
  detail: string;
}

export interface NotifySummary {
  sent: number;
  failed: number;
  dropped: number;
  deliveries: DeliveryReport[];
  /** Annotations that did not parse, Namespaces that could not be read. */
  warnings: string[];
}

export interface NotifyBatch {
  /** Starts sending `event` to its receivers (`annotations`: the Deployment's); never throws, never waits. */
  notify(event: NotifyEvent, annotations?: Annotations): void;
  /** Waits at most `waitMs` (default the budget) for every delivery; the rest is aborted and counted as dropped. */
  settle(waitMs?: number): Promise<NotifySummary>;
}

export interface Notifier {
  readonly settings: NotifierSettings;
  batch(options?: { readNamespace?: NamespaceReader }): NotifyBatch;
}

export interface NotifierIo {
  fetch?: typeof fetch;
  sleep?: DeliveryPolicy["sleep"];
}

const JSON_HEADERS = { "content-type": "application/json" };

/** The wire message; the cloudevents package is loaded at the first CloudEvent, not when greenlight starts. */
async function messageFor(channel: Channel, event: NotifyEvent, mode: CloudEventsMode): Promise<HttpMessage> {
  if (channel === "slack") return { headers: JSON_HEADERS, body: JSON.stringify(slackMessage(event)) };
  const { cloudEventMessage } = await import("./cloudevent.ts");
  return cloudEventMessage(event, mode);
}

export function createNotifier(settings: NotifierSettings, io: NotifierIo = {}): Notifier {
  const policy: DeliveryPolicy = {
    timeoutMs: settings.timeoutMs,
    attempts: settings.attempts,
    backoffMs: settings.backoffMs,
    fetch: io.fetch ?? ((input, init) => fetch(input, init)),
    sleep: io.sleep ?? abortableSleep,
  };
  return { settings, batch: (options = {}) => createBatch(settings, policy, options.readNamespace) };
}

function createBatch(settings: NotifierSettings, policy: DeliveryPolicy, readNamespace?: NamespaceReader): NotifyBatch {
  const controller = new AbortController();
  const deliveries: DeliveryReport[] = [];
  const warnings = new Set<string>();
  const jobs: Promise<void>[] = [];
  /** Events whose receivers were still being looked up when the batch settled. */
  let unresolved = 0;
  let settled = false;

  const send = async (event: NotifyEvent, annotations: Annotations | undefined): Promise<void> => {
    let namespace: Annotations | undefined;
    if (event.namespace !== undefined && readNamespace && !decidedByDeployment(annotations)) {
      unresolved += 1;
      const read = await readNamespace(event.namespace).catch((error: unknown) => ({
        problem: `Namespace ${event.namespace} could not be read: ${(error as Error).message}`,
      }));
      unresolved -= 1;
      if ("problem" in read && read.problem) warnings.add(read.problem);
      namespace = "annotations" in read ? read.annotations : undefined;
    }
    if (controller.signal.aborted) return;
    const found: string[] = [];
    const targets = resolveTargets(
      settings.defaults,
      {
        ...(namespace ? { namespace } : {}),
        ...(annotations ? { deployment: annotations } : {}),
        ...(event.namespace ? { namespaceName: event.namespace } : {}),
      },
      found,
    );
    for (const warning of found) warnings.add(warning);
    await Promise.all(
      CHANNELS.flatMap((channel) => {
        const url = targets[channel];
        if (url === undefined) return [];
        const report: DeliveryReport = {
          id: event.id,
          type: event.type,
          subject: event.subject,
          channel,
          receiver: describeUrl(url),
          outcome: "dropped",
          attempts: 0,
          detail: "still being sent when the wait ended",
        };
        deliveries.push(report);
        return [
          messageFor(channel, event, settings.mode)
            .then((message) => deliver(url, message, policy, controller.signal))
            .catch(
              (error: unknown): DeliveryResult => ({
                outcome: "failed",
                attempts: 0,
                detail: `not sent: ${(error as Error).message}`,
              }),
            )
            .then((result) => {
              // A delivery that ends after the batch settled stays reported as dropped.
              if (settled) return;
              Object.assign(report, { outcome: result.outcome, attempts: result.attempts, detail: result.detail });
            }),
        ];
      }),
    );
  };

  return {
    notify(event, annotations) {
      if (settled) {
        warnings.add(`${event.type} ${event.id} came after the batch settled: not sent`);
        return;
      }
      jobs.push(send(event, annotations).catch((error: unknown) => void warnings.add((error as Error).message)));
    },
    async settle(waitMs = settings.budgetMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeUp = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, waitMs));
      });
      await Promise.race([Promise.all(jobs), timeUp]);
      clearTimeout(timer);
      settled = true;
      controller.abort();
      const count = (outcome: DeliveryOutcome) => deliveries.filter((d) => d.outcome === outcome).length;
      if (unresolved > 0) warnings.add(`${unresolved} event(s) dropped while their Namespace was being read`);
      return {
        sent: count("sent"),
        failed: count("failed"),
        dropped: count("dropped") + unresolved,
        deliveries: deliveries.map((d) => ({ ...d })),
        warnings: [...warnings],
      };
    },
  };
}
