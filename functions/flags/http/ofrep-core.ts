// The OFREP-only flags core: what serves frontends at the edge. Evaluation and health, no admin API.
/*
 * The frame of core.ts with nothing plugged in: no admin.ts, validate.ts or tokens.ts is imported from here, so a
 * bundle of the edge entry holds none of them (test/edge/bundle.test.ts checks esbuild's metafile). Flags are
 * managed where the admin API runs: the Lambda or `greenlight flags serve`, both writing the same Upstash database
 * this core reads. A request under /admin is answered 404 saying so, rather than the generic "no route".
 */
import { type HttpCore, type HttpResponse, jsonResponse } from "../../http/message.ts";
import type { RuleCache } from "../cache.ts";
import type { FlagLimits } from "../limits.ts";
import { composeFlagCore, DEFAULT_BODY_LIMIT_BYTES, HEALTH_ROUTE_NAME, OFREP_ROUTE_NAMES } from "./core.ts";

export interface OfrepCoreOptions {
  cache: RuleCache;
  now?: () => number;
  /** Abuse limits; only `ofrep` is used here (there is no admin API to limit). */
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

export const OFREP_CORE_ROUTES = [...OFREP_ROUTE_NAMES, HEALTH_ROUTE_NAME] as const;

/** Where the admin API is, for the 404 of an admin request here. */
export const ADMIN_ELSEWHERE =
  "manage flags through the admin API of the AWS Lambda (serverless.yml) or of `greenlight flags serve`, or with " +
  "`greenlight flags` on the same Upstash database; see docs/FLAGS.md, Running it";

/** The answer to any request under /admin (preflights included): 404, naming where the admin API is. */
export function adminNotServed(method: string, path: string): HttpResponse {
  const message =
    `${method} ${path}: the admin API is not served at the edge (this deployment answers ` +
    `${OFREP_CORE_ROUTES.join(", ")} only); ${ADMIN_ELSEWHERE}`;
  return jsonResponse(404, { error: message }, { "Cache-Control": "no-store" });
}

/** OFREP evaluation and health over the rule cache; /admin answered by `adminNotServed`. */
export function createOfrepCore(options: OfrepCoreOptions): HttpCore {
  const { ofrep } = options.limits ?? {};
  return composeFlagCore(
    {
      cache: options.cache,
      now: options.now ?? Date.now,
      bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
      limits: ofrep === undefined ? {} : { ofrep },
      ...(options.evaluationApiKey ? { evaluationApiKey: options.evaluationApiKey } : {}),
    },
    {
      ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
      adminAbsent: adminNotServed,
    },
  );
}
