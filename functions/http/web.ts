// The Web adapter: an HttpCore as a (Request) => Response handler, for edge runtimes (Workers, Vercel Edge) and tests.
import { type HttpCore, type HttpRequest, toWebResponse } from "./message.ts";

export type WebHandler = (request: Request) => Promise<Response>;

export interface WebAdapterOptions {
  /** The client's address from the request, as the platform tells it (e.g. Cloudflare's CF-Connecting-IP header). */
  clientAddress?: (request: Request) => string | undefined;
  /**
   * The core's body limit. With it, a body whose Content-Length is within the limit (every OFREP request a client
   * sends) is read in one call of the runtime's own (`arrayBuffer`), not chunk by chunk through a reader in
   * JavaScript; the core still counts the bytes. Any other body reaches the core as the stream it reads up to its
   * limit and refuses past it. Without it, every body is passed as a stream.
   */
  bodyLimitBytes?: number;
}

const DECIMAL = /^\d{1,10}$/;

/** A Web Request already is an HttpRequest (its body a stream the core reads up to its limit). */
export function webHandler(core: HttpCore, options: WebAdapterOptions = {}): WebHandler {
  const { clientAddress: addressOf, bodyLimitBytes } = options;
  const readWhole = (request: Request): boolean => {
    if (bodyLimitBytes === undefined || request.body === null) return false;
    const declared = request.headers.get("content-length");
    return declared !== null && DECIMAL.test(declared) && Number(declared) <= bodyLimitBytes;
  };
  return async (request) => {
    const clientAddress = addressOf?.(request);
    const whole = readWhole(request);
    if (clientAddress === undefined && !whole) return toWebResponse(await core(request));
    const input: { -readonly [K in keyof HttpRequest]: HttpRequest[K] } = {
      method: request.method,
      url: request.url,
      headers: request.headers,
    };
    if (whole) input.bodyBytes = new Uint8Array(await request.arrayBuffer());
    else input.body = request.body;
    if (clientAddress !== undefined) input.clientAddress = clientAddress;
    return toWebResponse(await core(input));
  };
}
