// The flags HTTP core: one HttpCore behind the Node, Lambda and Web (edge) adapters of functions/http/.
/*
 * Routing, CORS, health and the final catch live here; the OFREP and admin endpoints in ofrep.ts and admin.ts.
 * No Node-only API is used, so Cloudflare Workers and Vercel Edge run exactly this code.
 */
import { type HttpCore, type HttpRequest, type HttpResponse, jsonResponse } from "../../http/message.ts";
import { type WebHandler, webHandler } from "../../http/web.ts";
import type { RuleCache } from "../cache.ts";
import { type FlagLimits, type LimitDecision, retryAfterSeconds } from "../limits.ts";
import type { FlagStore } from "../types.ts";
import { type AdminDeps, checkAdmin, deleteFlag, getFlag, listAudit, listFlags, listStale, putFlag } from "./admin.ts";
import { corsOriginsFor, preflightFor, withCors } from "./cors.ts";
import { evaluateFlagRequest, evaluateFlagsRequest, type OfrepDeps } from "./ofrep.ts";
import type { AdminTokens } from "./tokens.ts";

export interface FlagHttpOptions {
  store: FlagStore;
  cache: RuleCache;
  now?: () => number;
  /** Admin API disabled (403 naming GREENLIGHT_ADMIN_TOKEN) when unset. */
  adminToken?: string;
  /** Every accepted admin token with its label and scope (takes the place of `adminToken` when given). */
  adminTokens?: AdminTokens;
  /** Abuse limits (limits.ts); none when absent. The client's address comes from the adapter. */
  limits?: FlagLimits;
  /** When set, OFREP requests need `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
  evaluationApiKey?: string;
  /** Origins allowed to call from a browser; default ["*"]. */
  corsOrigins?: readonly string[];
  /** Largest request body; default 64 KiB. */
  bodyLimitBytes?: number;
  /** Told about unexpected errors (answered 500 without detail); default console.error. */
  onError?: (error: unknown) => void;
}

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;
export const DEFAULT_CORS_ORIGINS: readonly string[] = ["*"];

export const ROUTES = [
  "POST /ofrep/v1/evaluate/flags/{key}",
  "POST /ofrep/v1/evaluate/flags",
  "GET /admin/flags",
  "GET|PUT|DELETE /admin/flags/{key}",
  "GET /admin/audit",
  "GET /admin/stale",
  "GET /healthz (or /flags/healthz)",
] as const;

interface Deps extends OfrepDeps, AdminDeps {
  limits: FlagLimits;
}

type Endpoint = (request: HttpRequest, url: URL, key: string, deps: Deps) => Promise<HttpResponse>;

interface Route {
  pattern: RegExp;
  admin: boolean;
  methods: Record<string, Endpoint>;
}

const ROUTE_TABLE: Route[] = [
  {
    pattern: /^\/ofrep\/v1\/evaluate\/flags$/,
    admin: false,
    methods: { POST: (request, _url, _key, deps) => evaluateFlagsRequest(request, deps) },
  },
  {
    pattern: /^\/ofrep\/v1\/evaluate\/flags\/([^/]+)$/,
    admin: false,
    methods: { POST: (request, _url, key, deps) => evaluateFlagRequest(request, key, deps) },
  },
  {
    pattern: /^\/admin\/flags$/,
    admin: true,
    methods: { GET: (_request, _url, _key, deps) => listFlags(deps) },
  },
  {
    pattern: /^\/admin\/flags\/([^/]+)$/,
    admin: true,
    methods: {
      GET: (_request, _url, key, deps) => getFlag(key, deps),
      PUT: (request, _url, key, deps) => putFlag(request, key, deps),
      DELETE: (request, _url, key, deps) => deleteFlag(request, key, deps),
    },
  },
  { pattern: /^\/admin\/audit$/, admin: true, methods: { GET: (_request, url, _key, deps) => listAudit(url, deps) } },
  { pattern: /^\/admin\/stale$/, admin: true, methods: { GET: (_request, url, _key, deps) => listStale(url, deps) } },
  // `/flags/healthz` too: behind an API shared with the webhooks (serverless.yml), `/healthz` belongs to them.
  {
    pattern: /^\/(?:flags\/)?healthz$/,
    admin: false,
    methods: { GET: (_request, _url, _key, deps) => health(deps.cache) },
  },
];

/** GET /healthz: the cache's view of the store; 503 when there are no rules fit to serve. */
async function health(cache: RuleCache): Promise<HttpResponse> {
  await cache.current();
  const report = cache.health();
  return jsonResponse(report.status === "unavailable" ? 503 : 200, report, { "Cache-Control": "no-store" });
}

/** `/ofrep` itself too: one trailing slash is forgiven, so `/ofrep/` is routed (and answered) as `/ofrep`. */
const isOfrepPath = (path: string): boolean => path === "/ofrep" || path.startsWith("/ofrep/");

/** An error body in the shape the path's clients read: OFREP's `{errorCode, errorDetails}` under /ofrep/, else `{error}`. */
const errorBody = (path: string, message: string): Record<string, string> =>
  isOfrepPath(path) ? { errorCode: "GENERAL", errorDetails: message } : { error: message };

/** The 500 answer: no message, no stack; OFREP paths keep their error shape. */
function internalError(path: string): HttpResponse {
  return isOfrepPath(path)
    ? jsonResponse(500, { errorCode: "GENERAL", errorDetails: "internal error" })
    : jsonResponse(500, { error: "internal error" });
}

/** 429 with Retry-After (RFC 6585); OFREP paths keep OFREP's error shape (its spec answers 429 with Retry-After). */
function tooMany(path: string, decision: LimitDecision, now: number, what: string): HttpResponse {
  const seconds = retryAfterSeconds(decision, now);
  const message = `${what}; retry after ${seconds} s`;
  const body = errorBody(path, message);
  return jsonResponse(429, body, { "Retry-After": String(seconds), "Cache-Control": "no-store" });
}

/** OFREP evaluations counted per client address; undefined when the request may go on. */
async function meter(request: HttpRequest, path: string, deps: Deps): Promise<HttpResponse | undefined> {
  const address = request.clientAddress;
  if (deps.limits.ofrep === undefined || address === undefined || !isOfrepPath(path)) return undefined;
  const decision = await deps.limits.ofrep.take(address);
  return decision.allowed ? undefined : tooMany(path, decision, deps.now(), `too many evaluations from ${address}`);
}

/**
 * Authentication and the admin limits; undefined when the request may go on. An address over its failed
 * authentications is refused before its token is even looked at, so guessing goes no faster with a right guess
 * in the batch; each 401 counts one failure; a known token is then counted by its label (never the token).
 */
async function admit(request: HttpRequest, path: string, deps: Deps): Promise<HttpResponse | undefined> {
  const { authFailures, admin } = deps.limits;
  const address = request.clientAddress;
  if (authFailures && address !== undefined) {
    const standing = await authFailures.check(address);
    if (!standing.allowed) {
      return tooMany(path, standing, deps.now(), `too many failed admin authentications from ${address}`);
    }
  }
  const check = checkAdmin(request, deps);
  if (!check.ok) {
    if (check.response.status === 401 && authFailures && address !== undefined) await authFailures.take(address);
    return check.response;
  }
  if (admin === undefined) return undefined;
  const decision = await admin.take(check.token.label);
  return decision.allowed
    ? undefined
    : tooMany(path, decision, deps.now(), `too many admin requests with the token "${check.token.label}"`);
}

async function route(request: HttpRequest, url: URL, deps: Deps): Promise<HttpResponse> {
  // One trailing slash is forgiven (`/admin/flags/`); the root path stays as it is.
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, "") : url.pathname;
  for (const candidate of ROUTE_TABLE) {
    const match = candidate.pattern.exec(path);
    if (!match) continue;
    const method = request.method.toUpperCase();
    const head = method === "HEAD" && candidate.methods.GET !== undefined;
    const endpoint = candidate.methods[head ? "GET" : method];
    if (endpoint === undefined) {
      const allowed = Object.keys(candidate.methods);
      const allow = [...allowed, ...(allowed.includes("GET") ? ["HEAD"] : []), "OPTIONS"].join(", ");
      const message = `${method} is not allowed on ${path}; allowed: ${allowed.join(", ")}`;
      return jsonResponse(405, errorBody(path, message), { Allow: allow });
    }
    let key = "";
    if (match[1] !== undefined) {
      try {
        key = decodeURIComponent(match[1]);
      } catch {
        return jsonResponse(400, errorBody(path, `the flag key in ${path} is not valid percent-encoding`));
      }
    }
    const limited = candidate.admin ? await admit(request, path, deps) : await meter(request, path, deps);
    if (limited) return limited;
    const response = await endpoint(request, url, key, deps);
    return head ? { ...response, body: null } : response;
  }
  return jsonResponse(404, errorBody(path, `no route for ${request.method} ${path}; routes: ${ROUTES.join(", ")}`));
}

/** RFC 9110 9.3.2: a HEAD answer has no content, whatever its status (refusals and errors included). */
const bodiless = (method: string, response: HttpResponse): HttpResponse =>
  method === "HEAD" ? { ...response, body: null } : response;

/** `new URL`, undefined instead of a throw (URL.parse is missing from some edge runtimes). */
function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

export function createFlagCore(options: FlagHttpOptions): HttpCore {
  const corsOrigins = options.corsOrigins ?? DEFAULT_CORS_ORIGINS;
  const onError = options.onError ?? ((error: unknown) => console.error("greenlight flags: unexpected error", error));
  const deps: Deps = {
    store: options.store,
    cache: options.cache,
    now: options.now ?? Date.now,
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    ...(options.adminToken ? { adminToken: options.adminToken } : {}),
    ...(options.adminTokens ? { adminTokens: options.adminTokens } : {}),
    limits: options.limits ?? {},
    ...(options.evaluationApiKey ? { evaluationApiKey: options.evaluationApiKey } : {}),
  };
  return async function handleFlagRequest(request: HttpRequest): Promise<HttpResponse> {
    const origin = request.headers.get("origin");
    const method = request.method.toUpperCase();
    const url = parseUrl(request.url);
    let response: HttpResponse;
    try {
      // A request target no URL can be made of (`*%` over raw HTTP): the client's fault, not a 500 to log.
      if (url === undefined)
        return bodiless(method, jsonResponse(400, { error: "the request target is not a valid URL path" }));
      const path = url.pathname;
      if (method === "OPTIONS") return preflightFor(path, origin, corsOrigins);
      response = withCors(await route(request, url, deps), origin, corsOriginsFor(path, corsOrigins));
    } catch (error) {
      onError(error);
      const path = url?.pathname ?? "/";
      response = withCors(internalError(path), origin, corsOriginsFor(path, corsOrigins));
    }
    return bodiless(method, response);
  };
}

/** The core as a Web-standard handler (tests, and what edge.ts builds with the client address added). */
export const createFlagHandler = (options: FlagHttpOptions): WebHandler => webHandler(createFlagCore(options));

/** A core that answers every request 503 with `message` (a deployment missing its store configuration). */
export function createUnavailableCore(message: string, corsOrigins = DEFAULT_CORS_ORIGINS): HttpCore {
  return async (request) => {
    const origin = request.headers.get("origin");
    const path = parseUrl(request.url)?.pathname ?? "/";
    if (request.method.toUpperCase() === "OPTIONS") return preflightFor(path, origin, corsOrigins);
    const body = errorBody(path, message);
    const response = jsonResponse(503, body, { "Cache-Control": "no-store" });
    return withCors(response, origin, corsOriginsFor(path, corsOrigins));
  };
}
