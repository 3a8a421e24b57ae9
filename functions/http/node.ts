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
import { ADAPTER_ORIGIN, type HeaderReader, type HttpCore, type HttpRequest } from "./message.ts";

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

/** The body up to `cap` bytes; at the cap it stops listening and leaves the rest unread. */
function readCapped(req: IncomingMessage, cap: number): Promise<CappedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    const onData = (chunk: Buffer): void => {
      const part = kept + chunk.length > cap ? chunk.subarray(0, cap - kept) : chunk;
      chunks.push(part);
      kept += part.length;
      if (kept >= cap) {
        cleanup();
        req.pause();
        resolve({ bytes: Buffer.concat(chunks), cut: true });
      }
    };
    // A small body arrives in one chunk: no copy then. The listeners stay: an ended request emits nothing more.
    const onEnd = (): void => {
      resolve({ bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), cut: false });
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
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

/** Serves the core to Node's http or https server (or mounted in express: `originalUrl` is honoured). */
export function nodeListener(core: HttpCore, options: NodeAdapterOptions): NodeListener {
  const cap = options.bodyLimitBytes + 1;
  const lingerBytes = options.lingerBytes ?? DISCARD_BYTES;
  const lingerMs = options.lingerMs ?? 5000;
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? "GET").toUpperCase();
    let bodyBytes: Buffer | undefined;
    let early = false;
    if (!NO_BODY.has(method)) {
      if (declaredOver(req, options.bodyLimitBytes)) early = true;
      else {
        const body = await readCapped(req, cap);
        early = body.cut;
        if (body.bytes.length > 0) bodyBytes = body.bytes;
      }
    }
    const request: HttpRequest = {
      method,
      url: urlOf((req as { originalUrl?: string }).originalUrl ?? req.url ?? "/"),
      headers: headerReader(req.headers),
      ...(bodyBytes === undefined ? {} : { bodyBytes }),
      ...(req.socket.remoteAddress === undefined ? {} : { clientAddress: req.socket.remoteAddress }),
    };
    const response = await core(request);
    if (early) res.once("finish", () => linger(req, lingerBytes, lingerMs));
    answer(res, response.status, response.headers, response.body);
  };
  return (req, res) => {
    serve(req, res).catch((error: unknown) => {
      // Only reading the request can get here (the core answers every request): a client that broke off mid-body.
      if (res.headersSent) {
        res.end();
        return;
      }
      answer(
        res,
        400,
        { "content-type": "application/json; charset=utf-8", connection: "close" },
        JSON.stringify({ error: `request could not be read: ${(error as Error).message}` }),
      );
    });
  };
}
