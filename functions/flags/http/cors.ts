// CORS for the flags HTTP core: browsers call the OFREP API from other origins (the web provider runs in pages).
import type { HttpResponse } from "../../http/message.ts";

export const CORS_ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS";
export const CORS_ALLOW_HEADERS = "Content-Type, Authorization, If-None-Match, If-Match, X-API-Key, X-Greenlight-Actor";
export const CORS_MAX_AGE_SECONDS = 86_400;

/**
 * The CORS headers every response carries. With `*` allowed any origin gets `*`; otherwise an allowed Origin is
 * echoed and `Vary: Origin` tells caches the answer depends on it (a disallowed origin gets no Allow-Origin).
 */
export function corsHeaders(origin: string | null, allowed: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = { "Access-Control-Expose-Headers": "ETag" };
  if (allowed.includes("*")) {
    headers["Access-Control-Allow-Origin"] = "*";
    return headers;
  }
  headers.Vary = "Origin";
  if (origin !== null && allowed.includes(origin)) headers["Access-Control-Allow-Origin"] = origin;
  return headers;
}

/** The answer to an OPTIONS preflight, on any path. */
export function preflightResponse(origin: string | null, allowed: readonly string[]): HttpResponse {
  return {
    status: 204,
    headers: {
      ...corsHeaders(origin, allowed),
      "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
      "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
      "Access-Control-Max-Age": String(CORS_MAX_AGE_SECONDS),
    },
    body: null,
  };
}

/** Adds the CORS headers to a response the routes built (a Vary of their own is kept). */
export function withCors(response: HttpResponse, origin: string | null, allowed: readonly string[]): HttpResponse {
  for (const [name, value] of Object.entries(corsHeaders(origin, allowed))) {
    const existing = name === "Vary" ? response.headers.Vary : undefined;
    response.headers[name] = existing ? `${existing}, ${value}` : value;
  }
  return response;
}
