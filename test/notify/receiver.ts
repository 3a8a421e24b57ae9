// Local HTTP receivers for notification tests: one that records what arrives and answers as told (200, a 500 then
// 200, 429, 400), one that never answers, and the address of one that is down (a port nobody listens on).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type CloudEvent, HTTP } from "cloudevents";
import { freePort } from "../../scripts/services/children.ts";

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export type Answer = number | "hang";

export interface Receiver {
  url: string;
  received: Received[];
  /** Answers to give, in order; once used up, 200. */
  answers: Answer[];
  /** Requests that got no answer yet (a hanging receiver). */
  hanging: number;
  close(): Promise<void>;
}

function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === "string") headers[name] = value;
  }
  return headers;
}

export async function startReceiver(answers: Answer[] = []): Promise<Receiver> {
  const open = new Set<ServerResponse>();
  const receiver: Receiver = {
    url: "",
    received: [],
    answers,
    hanging: 0,
    close: async () => {
      for (const response of open) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      receiver.received.push({
        path: request.url ?? "/",
        headers: headersOf(request),
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const answer = receiver.answers.shift() ?? 200;
      if (answer === "hang") {
        receiver.hanging += 1;
        open.add(response);
        return;
      }
      response.writeHead(answer, { "content-type": "text/plain" }).end(answer < 300 ? "ok" : "no");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}

/** The CloudEvents `receiver` got, read back as the cloudevents package reads either mode. */
export const cloudEventsOf = (receiver: Receiver): CloudEvent<Record<string, unknown>>[] =>
  receiver.received.map(
    (r) => HTTP.toEvent({ headers: r.headers, body: r.body }) as CloudEvent<Record<string, unknown>>,
  );

/** The `text` of each Slack message `receiver` got. */
export const slackTextsOf = (receiver: Receiver): string[] =>
  receiver.received.map((r) => JSON.parse(r.body).text as string);

/** A URL on a port nobody listens on: connecting to it is refused, as to a receiver that is down. */
export async function downUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/hook`;
}

/** An instant, abortable sleep that records what was asked: retries without waiting for real. */
export function recordingSleep(): { sleep: (ms: number, signal: AbortSignal) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms) => {
      waits.push(ms);
    },
  };
}
