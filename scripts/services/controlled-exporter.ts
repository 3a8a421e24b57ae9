// The HTTP shell both test exporters share (istio-exporter.ts, flag-exporter.ts): `GET /metrics` renders the
// simulation in Prometheus's text format, `GET /control` lists what it simulates, and `POST /control` with
// `{"set": item}`, `{"remove": key}` or `{"reset": true}` changes it, from any process; `controlClient` is the
// matching client for tests in other workers.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What an exporter simulates: items (workloads, flag sides) keyed apart, rendered as metrics. */
export interface ControlledSimulation<Item, Key> {
  render(): string;
  list(): Item[];
  set(item: Item): void;
  remove(key: Key): unknown;
  reset(): void;
}

export interface ControlProtocol<Item, Key> {
  /** The field of the answers that holds the items: `workloads`, `sides`. */
  listName: string;
  /** Checks a `set` item and a `remove` key, throwing an error that names the field. */
  validateItem(input: unknown): Item;
  validateKey(input: unknown): Key;
  /** What `set` and `remove` take, for the error on any other body: `workload`, `{key, variant}`. */
  shapes: { item: string; key: string };
}

/**
 * Readers of an item's fields from a caller (possibly JSON from another process), each throwing one line that
 * names `<what>.<field>` and what it accepts: `name` a name (letters, digits, . _ -, described as `nameIs`),
 * `number` a finite number passing `check`.
 */
export function itemFields(input: unknown, what: string, nameIs: string) {
  const value = (input ?? {}) as Record<string, unknown>;
  return {
    name(field: string, optional = false): string {
      const raw = value[field];
      if (optional && raw === undefined) return "";
      if (typeof raw !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(raw)) {
        throw new Error(`${what}.${field} must be ${nameIs}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    },
    number(field: string, check: (n: number) => boolean, accepted: string): number {
      const raw = value[field];
      if (typeof raw !== "number" || !Number.isFinite(raw) || !check(raw)) {
        throw new Error(`${what}.${field} must be ${accepted}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    },
  };
}

/** A label value as Prometheus's text format writes it: backslash, double quote and newline escaped. */
export const escapeLabel = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

const CONTROL_BODY_LIMIT = 64 * 1024;

async function readBody(request: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > CONTROL_BODY_LIMIT) throw new Error("control body too large");
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/** Applies one control message; returns the items afterwards. */
function control<Item, Key>(
  simulation: ControlledSimulation<Item, Key>,
  protocol: ControlProtocol<Item, Key>,
  message: unknown,
): Item[] {
  const body = (message ?? {}) as Record<string, unknown>;
  if ("set" in body) simulation.set(protocol.validateItem(body.set));
  else if ("remove" in body) simulation.remove(protocol.validateKey(body.remove));
  else if (body.reset === true) simulation.reset();
  else {
    const { item, key } = protocol.shapes;
    throw new Error(`control body must be {"set": ${item}}, {"remove": ${key}} or {"reset": true}`);
  }
  return simulation.list();
}

export interface ServedExporter {
  /** `http://127.0.0.1:<port>`; Prometheus scrapes `${url}/metrics`. */
  url: string;
  metricsUrl: string;
  close(): Promise<void>;
}

/** Serves `simulation` on 127.0.0.1 (a free port unless given). */
export async function serveExporter<Item, Key>(
  simulation: ControlledSimulation<Item, Key>,
  protocol: ControlProtocol<Item, Key>,
  port = 0,
): Promise<ServedExporter> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://exporter").pathname;
    if (path === "/metrics" && request.method === "GET") {
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      response.end(simulation.render());
      return;
    }
    if (path === "/control" && request.method === "GET") {
      return reply(response, 200, { [protocol.listName]: simulation.list() });
    }
    if (path === "/control" && request.method === "POST") {
      readBody(request)
        .then((text) => reply(response, 200, { [protocol.listName]: control(simulation, protocol, JSON.parse(text)) }))
        .catch((error: unknown) =>
          reply(response, 400, { error: error instanceof Error ? error.message : String(error) }),
        );
      return;
    }
    reply(response, 404, { error: `no route ${request.method} ${path}: use GET /metrics or GET|POST /control` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    metricsUrl: `${url}/metrics`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

export interface ControlClient<Item, Key> {
  set(item: Item): Promise<void>;
  remove(key: Key): Promise<void>;
  reset(): Promise<void>;
  list(): Promise<Item[]>;
}

/** A client for a running exporter's `/control`; `name` says which exporter in its errors. */
export function controlClient<Item, Key>(url: string, listName: string, name: string): ControlClient<Item, Key> {
  const send = async (body: unknown): Promise<Item[]> => {
    const response = await fetch(`${url}/control`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    const answer = (await response.json()) as Record<string, unknown> & { error?: string };
    if (!response.ok) throw new Error(`${name} control at ${url} refused: ${answer.error ?? response.status}`);
    return (answer[listName] as Item[] | undefined) ?? [];
  };
  return {
    set: async (item) => {
      await send({ set: item });
    },
    remove: async (key) => {
      await send({ remove: key });
    },
    reset: async () => {
      await send({ reset: true });
    },
    list: () => send(undefined),
  };
}
