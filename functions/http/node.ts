// The Node adapter: an HttpCore as a node:http request listener (the HTTPS webhook server, `flags serve`, `npm start`).
/*
 * Node's request is turned into a light HttpRequest: parsed headers read in place, the body read into memory with a
 * cap (limit + 1 bytes, so the core still sees that it was too large and answers 413 in its own shape). A body
 * declared over the limit is not read at all: the core answers at once. What the client still sends after an early
 * answer is dropped up to a bound, then the connection is closed (closing at once would reset it under the client
 * before it reads the 413).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { DISCARD_BYTES } from "./body.ts";
import {
  ADAPTER_ORIGIN,
  andThen,
  type HeaderReader,
  type HttpCore,
  type HttpRequest,
  type HttpResponse,
  internalError,
  settle,
  unreadableRequest,
} from "./message.ts";

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface NodeAdapterOptions {
  /** The core's own body limit: the adapter reads one byte past it and no more. */
  bodyLimitBytes: number;
  /** After an early answer, how much more of the body is dropped before the connection is closed; default 1 MiB. */
  lingerBytes?: number;
  /** And for how long at most; default 5 s. */
  lingerMs?: number;
}

/** Node's already-parsed headers as the core reads them: lower-case names, repeated values joined. */
function headerReader(incoming: IncomingHttpHeaders): HeaderReader {
  return {
    get(name) {
      const value = incoming[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(", ") : value;
    },
  };
}

interface CappedBody {
  bytes: Buffer;
  /** The cap was reached before the end: the rest is still on the wire. */
  cut: boolean;
}

/**
 * The body up to `cap` bytes, handed to `done`; at the cap it stops listening and leaves the rest unread. Callbacks
 * rather than a promise: the adapter then answers in the same turn as the body's last chunk when the core does.
 */
function readCapped(
  req: IncomingMessage,
  cap: number,
  done: (body: CappedBody) => void,
  failed: (error: Error) => void,
): void {
  const chunks: Buffer[] = [];
  let kept = 0;
  const onData = (chunk: Buffer): void => {
    const part = kept + chunk.length > cap ? chunk.subarray(0, cap - kept) : chunk;
    chunks.push(part);
    kept += part.length;
    if (kept >= cap) {
      cleanup();
      req.pause();
      done({ bytes: Buffer.concat(chunks), cut: true });
    }
  };
  // A small body arrives in one chunk: no copy then. The listeners stay: an ended request emits nothing more.
  const onEnd = (): void => {
    done({ bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), cut: false });
  };
  const onError = (error: Error): void => {
    cleanup();
    failed(error);
  };
  const cleanup = (): void => {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
  };
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
}

/** After the answer: drop what the client still sends, up to `bytes` or `ms`, then close the connection. */
function linger(req: IncomingMessage, bytes: number, ms: number): void {
  if (req.complete) return;
  let dropped = 0;
  const close = (): void => {
    clearTimeout(timer);
    req.socket.destroy();
  };
  const timer = setTimeout(close, ms);
  timer.unref();
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > bytes) close();
  });
  req.on("end", () => clearTimeout(timer));
  req.resume();
}

const NO_BODY = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The request's URL with the fixed origin. An absolute-form target (`GET http://host/path`, which RFC 9112 3.2.2
 * says a server must accept) keeps only its path and query; anything else not starting with "/" (`*`, junk) is passed on as
 * it is, not a URL, for the core to refuse.
 */
function urlOf(target: string): string {
  if (target.startsWith("/")) return `${ADAPTER_ORIGIN}${target}`;
  try {
    const absolute = new URL(target);
    if (absolute.protocol === "http:" || absolute.protocol === "https:") {
      return `${ADAPTER_ORIGIN}${absolute.pathname}${absolute.search}`;
    }
  } catch {
    // not a URL: fall through
  }
  return target;
}

function declaredOver(req: IncomingMessage, limit: number): boolean {
  const declared = req.headers["content-length"];
  return declared !== undefined && Number(declared) > limit;
}

/** Statuses whose answers never carry content (RFC 9110 sections 15.2, 15.3.5 and 15.4.5). */
const noContent = (status: number): boolean => status < 200 || status === 204 || status === 304;

function answer(res: ServerResponse, status: number, headers: Record<string, string>, body: string | null): void {
  // One writeHead with the framing given: the headers go to Node as they are, without a setHeader (and its checks)
  // per name. The length is given because headers written up front leave Node nothing to count, and it would then
  // frame the answer as chunked. For HEAD Node sends the headers alone, so the length is the GET answer's.
  if (noContent(status)) res.writeHead(status, headers);
  else res.writeHead(status, { ...headers, "content-length": String(body === null ? 0 : Buffer.byteLength(body)) });
  res.end(body ?? undefined);
}

/** An answer that is not the core's (the body could not be read, Node refused the core's); never a second one. */
function failed(res: ServerResponse, response: HttpResponse): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  answer(res, response.status, response.headers, response.body);
}

/**
 * Serves the core to Node's http or https server (or mounted in express: `originalUrl` is honoured). No promise is
 * made on the way: the body is read through callbacks, and a core that answers at once is answered in the same turn.
 */
export function nodeListener(core: HttpCore, options: NodeAdapterOptions): NodeListener {
  const cap = options.bodyLimitBytes + 1;
  const lingerBytes = options.lingerBytes ?? DISCARD_BYTES;
  const lingerMs = options.lingerMs ?? 5000;

  const respond = (
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    bodyBytes: Buffer | undefined,
    early: boolean,
  ): void => {
    const request: HttpRequest = {
      method,
      url: urlOf((req as { originalUrl?: string }).originalUrl ?? req.url ?? "/"),
      headers: headerReader(req.headers),
      ...(bodyBytes === undefined ? {} : { bodyBytes }),
      ...(req.socket.remoteAddress === undefined ? {} : { clientAddress: req.socket.remoteAddress }),
    };
    // A core that throws or rejects all the same, or an answer Node refuses to write (a header value it rejects),
    // gets a 500, never a crashed server.
    const send = (response: HttpResponse): void => {
      if (early) res.once("finish", () => linger(req, lingerBytes, lingerMs));
      try {
        answer(res, response.status, response.headers, response.body);
      } catch {
        failed(res, internalError());
      }
    };
    andThen(
      settle(() => core(request), internalError),
      send,
    );
  };

  return (req, res) => {
    const method = (req.method ?? "GET").toUpperCase();
    if (NO_BODY.has(method)) respond(req, res, method, undefined, false);
    else if (declaredOver(req, options.bodyLimitBytes)) respond(req, res, method, undefined, true);
    else {
      readCapped(
        req,
        cap,
        (body) => respond(req, res, method, body.bytes.length > 0 ? body.bytes : undefined, body.cut),
        // A client that broke off mid-body.
        (error) => failed(res, unreadableRequest(error, { connection: "close" })),
      );
    }
  };
}
