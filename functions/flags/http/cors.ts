// CORS for the flags HTTP core: browsers call the OFREP API from other origins (the web provider runs in pages).
/*
 * The admin API is another matter: a page on any origin that could call it would act with whatever token the
 * browser's user pastes or a script finds, and a `*` default there makes every site on the web such a page. So `*`
 * covers the OFREP and health paths only; every other path (the admin API, and anything unknown) is callable
 * cross-origin only from an origin listed explicitly, and an admin preflight from any other origin is refused.
 */
import { type HttpResponse, jsonResponse } from "../../http/message.ts";

/** Named in the refusal of an admin preflight (the variable is read in ../env.ts, which imports this file). */
const CORS_ORIGINS_VARIABLE = "GREENLIGHT_FLAGS_CORS_ORIGINS";

export const CORS_ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS";
export const CORS_ALLOW_HEADERS = "Content-Type, Authorization, If-None-Match, If-Match, X-API-Key, X-Greenlight-Actor";
export const CORS_MAX_AGE_SECONDS = 86_400;

/**
 * The CORS headers every response carries, added to `headers`. With `*` allowed any origin gets `*`; otherwise an
 * allowed Origin is echoed and `Vary: Origin` tells caches the answer depends on it (a disallowed origin gets no
 * Allow-Origin). A Vary already there is kept, Origin added to it.
 */
function addCorsHeaders(headers: Record<string, string>, origin: string | null, allowed: readonly string[]): void {
  headers["Access-Control-Expose-Headers"] = "ETag";
  if (allowed.includes("*")) {
    headers["Access-Control-Allow-Origin"] = "*";
    return;
  }
  headers.Vary = headers.Vary ? `${headers.Vary}, Origin` : "Origin";
  if (origin !== null && allowed.includes(origin)) headers["Access-Control-Allow-Origin"] = origin;
}

/** The CORS headers every response carries (addCorsHeaders), on their own. */
export function corsHeaders(origin: string | null, allowed: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  addCorsHeaders(headers, origin, allowed);
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

/** Adds the CORS headers to a response the routes built, in place (a Vary of their own is kept). */
export function withCors(response: HttpResponse, origin: string | null, allowed: readonly string[]): HttpResponse {
  addCorsHeaders(response.headers, origin, allowed);
  return response;
}

/** The paths a `*` in the allowed origins covers: OFREP evaluation and health, meant to be called from any page. */
export function isOpenCorsPath(path: string): boolean {
  return path.startsWith("/ofrep/") || /^\/(?:flags\/)?healthz\/?$/.test(path);
}

/** The origins allowed to call `path` from a browser: all of `allowed` on open paths, elsewhere those listed by name. */
export function corsOriginsFor(path: string, allowed: readonly string[]): readonly string[] {
  return isOpenCorsPath(path) ? allowed : allowed.filter((origin) => origin !== "*");
}

/**
 * The answer to an OPTIONS request on `path`. On an open path it is preflightResponse's, whatever the origin (a
 * disallowed one just gets no Allow-Origin). Elsewhere a preflight from an origin not listed by name is refused with
 * 403 and a message, so the browser stops there and whoever debugs it reads why; an OPTIONS without Origin (not a
 * preflight) gets the 204 without CORS headers.
 */
export function preflightFor(path: string, origin: string | null, allowed: readonly string[]): HttpResponse {
  const origins = corsOriginsFor(path, allowed);
  if (isOpenCorsPath(path) || origin === null || origins.includes(origin)) return preflightResponse(origin, origins);
  const listed = origins.length === 0 ? "none is" : `only ${origins.join(", ")} ${origins.length === 1 ? "is" : "are"}`;
  const message =
    `cross-origin calls to ${path} from ${origin} are refused: ${listed} listed in ${CORS_ORIGINS_VARIABLE} ` +
    "(a * there covers the OFREP and health paths only; list the origin by name to call the admin API from it)";
  return jsonResponse(403, { error: message }, { "Cache-Control": "no-store", Vary: "Origin" });
}
