// The flags HTTP core as a plain Node request listener: the Node request becomes a Web Request, the Response is written back.
/*
 * No express here: `greenlight flags serve` and the local stack run it on Node's http server, and express.ts only
 * mounts it. (The Lambda skips Node requests altogether: functions/lambda/fetch.ts.)
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { DEFAULT_BODY_LIMIT_BYTES, type FlagHandler } from "./handler.ts";

/**
 * The body, capped at `cap` bytes: the rest is read and dropped, so the client can finish sending and still read
 * the 413 (answering before draining would reset the connection under it). The core enforces the limit itself.
 */
function readCapped(req: IncomingMessage & { body?: unknown }, cap: number): Promise<Buffer> {
  // serverless-http hands over the body already buffered.
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body.subarray(0, cap));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    req.on("data", (chunk: Buffer) => {
      if (kept >= cap) return;
      const part = chunk.subarray(0, cap - kept);
      chunks.push(part);
      kept += part.length;
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function toHeaders(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (typeof value === "string") headers.append(name, value);
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
  }
  return headers;
}

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Serves `handle` to Node's http server (or serverless-http): the core reads the body, so no body parser runs. */
export function listenerFromHandler(handle: FlagHandler, bodyLimitBytes = DEFAULT_BODY_LIMIT_BYTES): NodeListener {
  return async function serveFlags(req, res) {
    try {
      const method = (req.method ?? "GET").toUpperCase();
      const hasBody = method !== "GET" && method !== "HEAD";
      const body = hasBody ? await readCapped(req, bodyLimitBytes + 1) : undefined;
      // A fixed origin: only the path and query matter to the core, and a Host header is the client's to forge.
      const request = new Request(
        `http://localhost${(req as { originalUrl?: string }).originalUrl ?? req.url ?? "/"}`,
        {
          method,
          headers: toHeaders(req.headers),
          ...(body && body.length > 0 ? { body } : {}),
        },
      );
      const response = await handle(request);
      res.statusCode = response.status;
      response.headers.forEach((value, name) => {
        res.setHeader(name, value);
      });
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch {
      // Only the conversion can get here (the core never throws): a request Node parsed but the URL parser refused.
      if (res.headersSent) {
        res.end();
        return;
      }
      res.statusCode = 400;
      res.setHeader("content-type", "application/json; charset=utf-8");
      res.end(JSON.stringify({ error: "request could not be read" }));
    }
  };
}
