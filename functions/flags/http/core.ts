// The flags HTTP core's frame: routing, CORS, health, abuse limits on OFREP and the final catch, with the admin API
// plugged in or left out.
/*
 * Two cores are made of it. handler.ts plugs the admin API in (admin.ts, with the validator and the tokens): that is
 * the core of the Lambda and of `greenlight flags serve`. ofrep-core.ts leaves it out: that is what serves frontends
 * at the edge, and since this file imports nothing of the admin API, a bundle of it holds none of that code, whatever
 * a bundler's tree-shaking does. No Node-only API is used here.
 */
import {
  ADAPTER_ORIGIN,
  andThen,
  type Eventually,
  type HttpCore,
  type HttpRequest,
  type HttpResponse,
  jsonResponse,
  settle,
} from "../../http/message.ts";
import type { RuleCache } from "../cache.ts";
import { type FlagLimits, type LimitDecision, retryAfterSeconds } from "../limits.ts";
import { corsOriginsFor, preflightFor, withCors } from "./cors.ts";
import { evaluateFlagRequest, evaluateFlagsRequest, type OfrepDeps } from "./ofrep.ts";

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;
export const DEFAULT_CORS_ORIGINS: readonly string[] = ["*"];

/** What every route of a flag core may use: OFREP's needs and the abuse limits. */
export interface CoreDeps extends OfrepDeps {
  limits: FlagLimits;
}

/**
 * The request target as routes read it: its path, and the whole URL (for the query) made only when a route asks,
 * since OFREP's routes never do.
 */
export class RequestTarget {
  #url: URL | undefined;
  constructor(
    /** The URL's pathname. */
    readonly path: string,
    parsed: URL | undefined,
    private readonly href: string,
  ) {
    this.#url = parsed;
  }
  get url(): URL {
    this.#url ??= new URL(this.href);
    return this.#url;
  }
}

export type Endpoint<D> = (
  request: HttpRequest,
  target: RequestTarget,
  key: string,
  deps: D,
) => Eventually<HttpResponse>;

/**
 * Decides whether a matched request may reach its endpoint: undefined lets it through, else the answer (a 401, a 429).
 * `path` is the request's path as routed (one trailing slash dropped).
 */
export type Gate<D> = (request: HttpRequest, path: string, deps: D) => Eventually<HttpResponse | undefined>;

export interface Route<D> {
  /** Matched against the path; its first group, if any, is the flag key (percent-decoded before the endpoint). */
  pattern: RegExp;
  /** The endpoint per method; HEAD is served by GET's where there is one. */
  methods: Record<string, Endpoint<D>>;
  /** Runs after the method and key are known to be fine; default `meterOfrep`. */
  gate?: Gate<D>;
}

/** A set of routes plugged into a core (the admin API), with how they read in the 404 that lists every route. */
export interface RoutePlugin<D> {
  routes: readonly Route<D>[];
  /** Their lines in the list of routes, like "GET /admin/flags". */
  names: readonly string[];
}

export const OFREP_ROUTE_NAMES = ["POST /ofrep/v1/evaluate/flags/{key}", "POST /ofrep/v1/evaluate/flags"] as const;
export const HEALTH_ROUTE_NAME = "GET /healthz (or /flags/healthz)";

/** The two OFREP evaluation routes. */
export const OFREP_ROUTES: readonly Route<CoreDeps>[] = [
  {
    pattern: /^\/ofrep\/v1\/evaluate\/flags$/,
    methods: { POST: (request, _target, _key, deps) => evaluateFlagsRequest(request, deps) },
  },
  {
    pattern: /^\/ofrep\/v1\/evaluate\/flags\/([^/]+)$/,
    methods: { POST: (request, _target, key, deps) => evaluateFlagRequest(request, key, deps) },
  },
];

/** The health check on an origin whose `/healthz` is another's: the webhooks' API (serverless.yml), the local page. */
export const FLAGS_HEALTH_PATH = "/flags/healthz";

/** GET /healthz, and FLAGS_HEALTH_PATH for an origin shared with others. */
export const HEALTH_ROUTE: Route<CoreDeps> = {
  pattern: /^\/(?:flags\/)?healthz$/,
  methods: { GET: (_request, _target, _key, deps) => health(deps.cache) },
};

/** GET /healthz: the cache's view of the store; 503 when there are no rules fit to serve. */
async function health(cache: RuleCache): Promise<HttpResponse> {
  await cache.current();
  const report = cache.health();
  return jsonResponse(report.status === "unavailable" ? 503 : 200, report, { "Cache-Control": "no-store" });
}

/** `/ofrep` itself too: one trailing slash is forgiven, so `/ofrep/` is routed (and answered) as `/ofrep`. */
export const isOfrepPath = (path: string): boolean => path === "/ofrep" || path.startsWith("/ofrep/");

/** `/admin` and everything under it: the admin API's paths, served or not. */
export const isAdminPath = (path: string): boolean => path === "/admin" || path.startsWith("/admin/");

/** An error body in the shape the path's clients read: OFREP's `{errorCode, errorDetails}` under /ofrep/, else `{error}`. */
export const errorBody = (path: string, message: string): Record<string, string> =>
  isOfrepPath(path) ? { errorCode: "GENERAL", errorDetails: message } : { error: message };

/** The 500 answer: no message, no stack; OFREP paths keep their error shape. */
const internalErrorAt = (path: string): HttpResponse => jsonResponse(500, errorBody(path, "internal error"));

/** 429 with Retry-After (RFC 6585); OFREP paths keep OFREP's error shape (its spec answers 429 with Retry-After). */
export function tooMany(path: string, decision: LimitDecision, now: number, what: string): HttpResponse {
  const seconds = retryAfterSeconds(decision, now);
  const message = `${what}; retry after ${seconds} s`;
  const body = errorBody(path, message);
  return jsonResponse(429, body, { "Retry-After": String(seconds), "Cache-Control": "no-store" });
}

/**
 * The default gate: OFREP evaluations counted per client address (other paths pass). Without a wait when the
 * limiter counts in memory.
 */
export function meterOfrep(request: HttpRequest, path: string, deps: CoreDeps): Eventually<HttpResponse | undefined> {
  const address = request.clientAddress;
  const limiter = deps.limits.ofrep;
  if (limiter === undefined || address === undefined || !isOfrepPath(path)) return undefined;
  const decide = (decision: LimitDecision): HttpResponse | undefined =>
    decision.allowed ? undefined : tooMany(path, decision, deps.now(), `too many evaluations from ${address}`);
  return andThen(limiter.take(address), decide);
}

function route<D extends CoreDeps>(
  request: HttpRequest,
  target: RequestTarget,
  deps: D,
  table: readonly Route<D>[],
  names: readonly string[],
): Eventually<HttpResponse> {
  // One trailing slash is forgiven (`/admin/flags/`); the root path stays as it is.
  const path = target.path.length > 1 && target.path.endsWith("/") ? target.path.slice(0, -1) : target.path;
  for (const candidate of table) {
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
    return andThen((candidate.gate ?? meterOfrep)(request, path, deps), (limited) => {
      if (limited) return limited;
      const answered = endpoint(request, target, key, deps);
      return head ? andThen(answered, (response) => ({ ...response, body: null })) : answered;
    });
  }
  return jsonResponse(404, errorBody(path, `no route for ${request.method} ${path}; routes: ${names.join(", ")}`));
}

/** RFC 9110 9.3.2: a HEAD answer has no content, whatever its status (refusals and errors included). */
const bodiless = (method: string, response: HttpResponse): HttpResponse =>
  method === "HEAD" ? { ...response, body: null } : response;

/** `new URL`, undefined instead of a throw (URL.parse is missing from some edge runtimes). */
export function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/*
 * What the Node and Lambda adapters pass for an ordinary request after their fixed origin: a path with no dot
 * segment, no percent-encoding, no query and no fragment. `new URL` would give back that path exactly, so it is read
 * as it is.
 */
const PLAIN_PATH = /^(?:\/(?!\.)[\w~.-]*)*$/;

/** The request's target, its URL parsed only when its path may need normalizing; undefined when no URL can be made. */
export function requestTarget(url: string): RequestTarget | undefined {
  if (url.startsWith(ADAPTER_ORIGIN)) {
    const path = url.slice(ADAPTER_ORIGIN.length);
    if (PLAIN_PATH.test(path)) return new RequestTarget(path || "/", undefined, url);
  }
  const parsed = parseUrl(url);
  return parsed === undefined ? undefined : new RequestTarget(parsed.pathname, parsed, url);
}

export interface ComposeOptions<D> {
  /** Origins allowed to call from a browser; default ["*"]. */
  corsOrigins?: readonly string[];
  /** Told about unexpected errors (answered 500 without detail); default console.error. */
  onError?: (error: unknown) => void;
  /** The admin API. Absent: every request under /admin is answered by `adminAbsent`, preflights included. */
  admin?: RoutePlugin<D>;
  /** The answer to a request under /admin when no admin API is plugged in; default a 404 saying it is not served. */
  adminAbsent?: (method: string, path: string) => HttpResponse;
}

const defaultAdminAbsent = (method: string, path: string): HttpResponse =>
  jsonResponse(404, { error: `no route for ${method} ${path}: the admin API is not served here` });

/** A flag core: OFREP evaluation, health and, when plugged in, the admin API, behind CORS and the final catch. */
export function composeFlagCore<D extends CoreDeps>(deps: D, options: ComposeOptions<D> = {}): HttpCore {
  const corsOrigins = options.corsOrigins ?? DEFAULT_CORS_ORIGINS;
  const onError = options.onError ?? ((error: unknown) => console.error("greenlight flags: unexpected error", error));
  const { admin } = options;
  const adminAbsent = options.adminAbsent ?? defaultAdminAbsent;
  const table: readonly Route<D>[] = [...OFREP_ROUTES, ...(admin?.routes ?? []), HEALTH_ROUTE];
  const names = [...OFREP_ROUTE_NAMES, ...(admin?.names ?? []), HEALTH_ROUTE_NAME];
  // No async function: an evaluation with nothing to wait for (body in memory, rules within their TTL, limiter in
  // memory) is answered without a promise, as the webhook's is.
  return function handleFlagRequest(request: HttpRequest): Eventually<HttpResponse> {
    const origin = request.headers.get("origin");
    const method = request.method.toUpperCase();
    const target = requestTarget(request.url);
    // A request target no URL can be made of (`*%` over raw HTTP): the client's fault, not a 500 to log.
    if (target === undefined) {
      return bodiless(method, jsonResponse(400, { error: "the request target is not a valid URL path" }));
    }
    const path = target.path;
    const finish = (response: HttpResponse): HttpResponse =>
      bodiless(method, withCors(response, origin, corsOriginsFor(path, corsOrigins)));
    const failed = (error: unknown): HttpResponse => {
      onError(error);
      return finish(internalErrorAt(path));
    };
    return settle(() => {
      if (admin === undefined && isAdminPath(path)) return finish(adminAbsent(method, path));
      if (method === "OPTIONS") return preflightFor(path, origin, corsOrigins);
      return andThen(route(request, target, deps, table, names), finish);
    }, failed);
  };
}

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
