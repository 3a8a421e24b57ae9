// Where one event goes: for each channel the Deployment's annotation, else its Namespace's, else the environment's
// URL; "off" at a level turns the channel off there and below. Pure: the annotations are read by the caller.
import { type Annotations, annotationName, readAnnotation } from "../contract/annotations.ts";
import { NOTIFY_OFF } from "../contract/values.ts";

export const CHANNELS = ["slack", "cloudevents"] as const;

/** How a CloudEvent travels over HTTP: attributes in ce-* headers (binary), or one JSON document (structured). */
export const CLOUDEVENTS_MODES = ["binary", "structured"] as const;
export type CloudEventsMode = (typeof CLOUDEVENTS_MODES)[number];
export type Channel = (typeof CHANNELS)[number];

/** A receiver URL per channel; absent: that channel is not sent. */
export type Targets = Partial<Record<Channel, string>>;

const KEY = { slack: "notify-slack", cloudevents: "notify-cloudevents" } as const;

/**
 * The receivers of an event. `warnings` gets one line per annotation that does not parse (it is skipped, as if
 * absent: the admission webhook rejects such a value on a Deployment, but a Namespace's is not checked there).
 */
export function resolveTargets(
  defaults: Targets,
  levels: { namespace?: Annotations; deployment?: Annotations; namespaceName?: string },
  warnings: string[],
): Targets {
  const targets: Targets = {};
  for (const channel of CHANNELS) {
    let chosen = defaults[channel];
    for (const [where, annotations] of [
      [`Namespace ${levels.namespaceName ?? "?"}`, levels.namespace],
      ["the Deployment", levels.deployment],
    ] as const) {
      const read = readAnnotation(annotations, KEY[channel]);
      if (!read.present) continue;
      if (!read.ok) {
        warnings.push(`${annotationName(KEY[channel])} on ${where} ignored: ${read.problem}`);
        continue;
      }
      chosen = read.value === NOTIFY_OFF ? undefined : read.value;
    }
    if (chosen !== undefined) targets[channel] = chosen;
  }
  return targets;
}

/** Every channel named (validly) on the Deployment itself: its Namespace cannot change where the event goes. */
export const decidedByDeployment = (annotations: Annotations | undefined): boolean =>
  CHANNELS.every((channel) => {
    const read = readAnnotation(annotations, KEY[channel]);
    return read.present && read.ok;
  });

/** A receiver as reports and logs show it: scheme and host only (a Slack webhook's path is its secret). */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return "?";
  }
}
