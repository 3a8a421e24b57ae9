// The flags HTTP core with the admin API: one HttpCore behind the Node, Lambda and Web adapters of functions/http/.
/*
 * The frame (routing, CORS, health, the abuse limit on OFREP, the final catch) is core.ts; the OFREP endpoints are
 * ofrep.ts. This file plugs the admin API (admin.ts, with the validator and the tokens) into that frame: the core
 * of the Lambda and of `greenlight flags serve`. The edge serves frontends with ofrep-core.ts instead, the same
 * frame without the admin API. No Node-only API is used, so any runtime with Web globals runs either.
 */
import type { HttpCore, HttpRequest, HttpResponse } from "../../http/message.ts";
import { type WebHandler, webHandler } from "../../http/web.ts";
import type { RuleCache } from "../cache.ts";
import type { FlagLimits } from "../limits.ts";
import type { FlagStore } from "../types.ts";
import {
  type AdminDeps,
  checkAdmin,
  deleteFlag,
  getFlag,
  listAudit,
  listFlags,
  listStale,
  putFlag,
  ROLLOUT_ROUTE_NAMES,
  rolloutRoutes,
} from "./admin.ts";
import {
  type CoreDeps,
  composeFlagCore,
  DEFAULT_BODY_LIMIT_BYTES,
  HEALTH_ROUTE_NAME,
  OFREP_ROUTE_NAMES,
  type RoutePlugin,
  tooMany,
} from "./core.ts";
import type { AdminTokens } from "./tokens.ts";

export { createUnavailableCore, DEFAULT_BODY_LIMIT_BYTES, DEFAULT_CORS_ORIGINS } from "./core.ts";

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
  /** The stale report's default for "not evaluated for N days" (GREENLIGHT_FLAGS_UNUSED_DAYS); default 30. */
  unusedDays?: number;
}

export const ADMIN_ROUTE_NAMES = [
  "GET /admin/flags",
  "GET|PUT|DELETE /admin/flags/{key}",
  ...ROLLOUT_ROUTE_NAMES,
  "GET /admin/audit",
  "GET /admin/stale",
] as const;

export const ROUTES = [...OFREP_ROUTE_NAMES, ...ADMIN_ROUTE_NAMES, HEALTH_ROUTE_NAME] as const;

interface Deps extends CoreDeps, AdminDeps {}

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

/** The admin API as a plugin of the core: its routes, each behind `admit`. */
export const ADMIN_API: RoutePlugin<Deps> = {
  routes: [
    {
      pattern: /^\/admin\/flags$/,
      gate: admit,
      methods: { GET: (_request, _target, _key, deps) => listFlags(deps) },
    },
    {
      pattern: /^\/admin\/flags\/([^/]+)$/,
      gate: admit,
      methods: {
        GET: (_request, _target, key, deps) => getFlag(key, deps),
        PUT: (request, _target, key, deps) => putFlag(request, key, deps),
        DELETE: (request, _target, key, deps) => deleteFlag(request, key, deps),
      },
    },
    ...rolloutRoutes<Deps>(admit),
    {
      pattern: /^\/admin\/audit$/,
      gate: admit,
      methods: { GET: (_request, target, _key, deps) => listAudit(target.url, deps) },
    },
    {
      pattern: /^\/admin\/stale$/,
      gate: admit,
      methods: { GET: (_request, target, _key, deps) => listStale(target.url, deps) },
    },
  ],
  names: ADMIN_ROUTE_NAMES,
};

/** The full core: OFREP, the admin API and health (the Lambda, `flags serve`, the local stack). */
export function createFlagCore(options: FlagHttpOptions): HttpCore {
  const deps: Deps = {
    store: options.store,
    cache: options.cache,
    now: options.now ?? Date.now,
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    ...(options.adminToken ? { adminToken: options.adminToken } : {}),
    ...(options.adminTokens ? { adminTokens: options.adminTokens } : {}),
    limits: options.limits ?? {},
    ...(options.evaluationApiKey ? { evaluationApiKey: options.evaluationApiKey } : {}),
    ...(options.unusedDays === undefined ? {} : { unusedDays: options.unusedDays }),
  };
  return composeFlagCore(deps, {
    ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    admin: ADMIN_API,
  });
}

/** The core as a Web-standard handler (tests, and local tools that want a fetch-shaped handler). */
export const createFlagHandler = (options: FlagHttpOptions): WebHandler => webHandler(createFlagCore(options));
