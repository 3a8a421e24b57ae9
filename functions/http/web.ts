// The Web adapter: an HttpCore as a (Request) => Response handler, for edge runtimes (Workers, Vercel Edge) and tests.
import { type HttpCore, type HttpRequest, toWebResponse } from "./message.ts";

export type WebHandler = (request: Request) => Promise<Response>;

export interface WebAdapterOptions {
  /** The client's address from the request, as the platform tells it (e.g. Cloudflare's CF-Connecting-IP header). */
  clientAddress?: (request: Request) => string | undefined;
}

/** A Web Request already is an HttpRequest (its body a stream the core reads up to its limit). */
export function webHandler(core: HttpCore, options: WebAdapterOptions = {}): WebHandler {
  const addressOf = options.clientAddress;
  return async (request) => {
    let input: HttpRequest = request;
    const clientAddress = addressOf?.(request);
    if (clientAddress !== undefined) {
      input = { method: request.method, url: request.url, headers: request.headers, body: request.body, clientAddress };
    }
    return toWebResponse(await core(input));
  };
}
