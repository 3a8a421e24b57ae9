// The flags HTTP core as a plain Node request listener: Node's request read into a light FlagRequest, the answer written back.
/*
 * No express here: `greenlight flags serve` and the local stack run it on Node's http server, and express.ts only
 * mounts it. (The Lambda skips Node requests altogether: functions/lambda/fetch.ts.)
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { readCapped } from "../../http/read-body.ts";
import { createFlagCore, DEFAULT_BODY_LIMIT_BYTES, type FlagCore, type FlagHttpOptions } from "./handler.ts";
import type { FlagRequest, HeaderReader } from "./message.ts";

/** Node's already-parsed headers as the core reads them: lower-case names, repeated values joined. */
function headerReader(incoming: IncomingHttpHeaders): HeaderReader {
  return {
    get(name) {
      // serverless-http sets some (content-length) as numbers.
      const value: unknown = incoming[name.toLowerCase()];
      if (value === undefined || value === null) return null;
      return Array.isArray(value) ? value.join(", ") : String(value);
    },
  };
}

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Serves the core to Node's http server (or serverless-http): the core reads the body, so no body parser runs. */
export function listenerFromCore(core: FlagCore, bodyLimitBytes = DEFAULT_BODY_LIMIT_BYTES): NodeListener {
  return async function serveFlags(req, res) {
    try {
      const method = (req.method ?? "GET").toUpperCase();
      const hasBody = method !== "GET" && method !== "HEAD";
      const body = hasBody ? await readCapped(req, bodyLimitBytes + 1) : undefined;
      const request: FlagRequest = {
        method,
        // A fixed origin: only the path and query matter to the core, and a Host header is the client's to forge.
        url: `http://localhost${(req as { originalUrl?: string }).originalUrl ?? req.url ?? "/"}`,
        headers: headerReader(req.headers),
        ...(body && body.length > 0 ? { bodyBytes: body } : {}),
      };
      const response = await core(request);
      res.statusCode = response.status;
      for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
      res.end(response.body ?? undefined);
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

/** The flag API as a plain Node listener: what `greenlight flags serve` and the local stack run (no express). */
export const createFlagsListener = (options: FlagHttpOptions): NodeListener =>
  listenerFromCore(createFlagCore(options), options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES);
