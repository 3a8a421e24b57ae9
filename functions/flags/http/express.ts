// The flags HTTP core as an express app: converts the Node request to a Web Request and writes the Response back.
import type { IncomingHttpHeaders } from "node:http";
import express, { type Express, type Request as ExpressRequest, type Response as ExpressResponse } from "express";
import { createFlagHandler, DEFAULT_BODY_LIMIT_BYTES, type FlagHandler, type FlagHttpOptions } from "./handler.ts";

/**
 * The body, capped at `cap` bytes: the rest is read and dropped, so the client can finish sending and still read
 * the 413 (answering before draining would reset the connection under it). The core enforces the limit itself.
 */
function readCapped(req: ExpressRequest, cap: number): Promise<Buffer> {
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

/** Serves `handle` through express: one catch-all route, no body parser (the core reads the body). */
export function expressFromHandler(handle: FlagHandler, bodyLimitBytes = DEFAULT_BODY_LIMIT_BYTES): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(async (req: ExpressRequest, res: ExpressResponse) => {
    try {
      const method = req.method.toUpperCase();
      const hasBody = method !== "GET" && method !== "HEAD";
      const body = hasBody ? await readCapped(req, bodyLimitBytes + 1) : undefined;
      // A fixed origin: only the path and query matter to the core, and a Host header is the client's to forge.
      const request = new Request(`http://localhost${req.originalUrl}`, {
        method,
        headers: toHeaders(req.headers),
        ...(body && body.length > 0 ? { body } : {}),
      });
      const response = await handle(request);
      res.status(response.status);
      response.headers.forEach((value, name) => {
        res.setHeader(name, value);
      });
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch {
      // Only the conversion can get here (the core never throws): a request Node parsed but the URL parser refused.
      if (!res.headersSent) res.status(400).json({ error: "request could not be read" });
      else res.end();
    }
  });
  return app;
}

export function createFlagsApp(options: FlagHttpOptions): Express {
  return expressFromHandler(createFlagHandler(options), options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES);
}
