// The CloudEvents 1.0 HTTP message of an event, made by the cloudevents package (HTTP protocol binding): binary mode
// puts the attributes in ce-* headers and the data in the body; structured mode sends one application/cloudevents+json
// document. The package takes a few hundred milliseconds to load, so the notifier imports this file only when it
// first sends a CloudEvent.
import { CloudEvent, HTTP } from "cloudevents";
import type { HttpMessage } from "./deliver.ts";
import type { NotifyEvent } from "./event.ts";
import type { CloudEventsMode } from "./targets.ts";

/** The CloudEvent itself: the data is the event's facts plus its title, message and severity. */
export function toCloudEvent(event: NotifyEvent): CloudEvent<Record<string, unknown>> {
  return new CloudEvent<Record<string, unknown>>({
    specversion: "1.0",
    id: event.id,
    type: event.type,
    source: event.source,
    subject: event.subject,
    time: event.time,
    datacontenttype: "application/json",
    data: { ...event.data, title: event.title, message: event.message, severity: event.severity },
  });
}

export function cloudEventMessage(event: NotifyEvent, mode: CloudEventsMode): HttpMessage {
  const ce = toCloudEvent(event);
  const message = mode === "structured" ? HTTP.structured(ce) : HTTP.binary(ce);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) headers[name] = String(value);
  }
  const body = typeof message.body === "string" ? message.body : JSON.stringify(message.body);
  return { headers, body };
}
