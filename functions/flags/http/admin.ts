// The admin API: list, read, create/replace and delete flags with optimistic concurrency, the audit log, stale flags.
/*
 * Reads go to the store, not the rule cache: an operator must see the write they just made, and the revision
 * they send back in If-Match must be the stored one. Every write invalidates this process's cache.
 */
import { parseInteger } from "../../contract/values.ts";
import { type HttpRequest, type HttpResponse, jsonResponse } from "../../http/message.ts";
import type { RuleCache } from "../cache.ts";
import { DEFAULT_UNCHANGED_DAYS, findStaleFlags } from "../stale.ts";
import {
  type FlagStore,
  StoreConflictError,
  StoreNotFoundError,
  StoreUnavailableError,
  type WriteOptions,
} from "../types.ts";
import { describeProblems, validateFlag } from "../validate.ts";
import { actorOf, bearerToken, constantTimeEqual } from "./auth.ts";
import { parseIfMatch } from "./etag.ts";
import { readJsonBody } from "./json.ts";

export interface AdminDeps {
  store: FlagStore;
  cache: RuleCache;
  now: () => number;
  adminToken?: string;
  bodyLimitBytes: number;
}

export const ADMIN_TOKEN_VARIABLE = "GREENLIGHT_ADMIN_TOKEN";
const NO_STORE = { "Cache-Control": "no-store" };

const error = (
  status: number,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): HttpResponse => jsonResponse(status, { error: message, ...extra }, { ...NO_STORE, ...headers });

const ok = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse =>
  jsonResponse(status, body, { ...NO_STORE, ...headers });

const revisionTag = (revision: number): string => `"${revision}"`;

/** Undefined when the request may use the admin API; otherwise the 403 (disabled) or 401 (bad token) answer. */
export function refuseAdmin(request: HttpRequest, adminToken: string | undefined): HttpResponse | undefined {
  if (adminToken === undefined || adminToken === "") {
    return error(403, `the admin API is disabled: set ${ADMIN_TOKEN_VARIABLE} to enable it`);
  }
  const token = bearerToken(request.headers);
  if (token !== undefined && constantTimeEqual(token, adminToken)) return undefined;
  const message =
    token === undefined
      ? `the admin API needs Authorization: Bearer <token> (the value of ${ADMIN_TOKEN_VARIABLE})`
      : `the bearer token is not the admin token (${ADMIN_TOKEN_VARIABLE})`;
  return error(401, message, {}, { "WWW-Authenticate": 'Bearer realm="greenlight-admin"' });
}

/** Store failures the client can act on; anything else goes to the handler's final catch (500). */
function storeFailure(cause: unknown): HttpResponse {
  if (cause instanceof StoreUnavailableError) return error(503, `the flag store is unavailable: ${cause.message}`);
  if (cause instanceof StoreConflictError) return error(412, cause.message, { currentRevision: cause.actual });
  if (cause instanceof StoreNotFoundError) return error(404, cause.message);
  throw cause;
}

async function guarded(run: () => Promise<HttpResponse>): Promise<HttpResponse> {
  try {
    return await run();
  } catch (cause) {
    return storeFailure(cause);
  }
}

/** GET /admin/flags */
export function listFlags(deps: AdminDeps): Promise<HttpResponse> {
  return guarded(async () => {
    const ruleSet = await deps.store.load();
    const flags = Object.keys(ruleSet.flags)
      .sort()
      .map((key) => ruleSet.flags[key]);
    return ok(200, { version: ruleSet.version, flags });
  });
}

/** GET /admin/flags/{key} */
export function getFlag(key: string, deps: AdminDeps): Promise<HttpResponse> {
  return guarded(async () => {
    const stored = await deps.store.get(key);
    if (!stored) return error(404, `no flag "${key}"`);
    return ok(200, stored, { ETag: revisionTag(stored.revision) });
  });
}

type WritePrecondition = { ok: true; options: WriteOptions } | { ok: false; response: HttpResponse };

/** Actor and If-Match of a write; `If-Match: *` becomes the flag's current revision (412 when there is none). */
async function writeOptions(request: HttpRequest, key: string, deps: AdminDeps): Promise<WritePrecondition> {
  const actor = actorOf(request.headers);
  if (!actor.ok) return { ok: false, response: error(400, actor.message) };
  const ifMatch = parseIfMatch(request.headers.get("if-match"));
  if (!ifMatch.ok) return { ok: false, response: error(400, ifMatch.message) };
  if (ifMatch.revision === undefined) return { ok: true, options: { actor: actor.actor } };
  if (ifMatch.revision !== "any") return { ok: true, options: { actor: actor.actor, ifMatch: ifMatch.revision } };
  const current = await deps.store.get(key);
  if (!current) return { ok: false, response: error(412, `no flag "${key}" (If-Match: *)`, { currentRevision: 0 }) };
  return { ok: true, options: { actor: actor.actor, ifMatch: current.revision } };
}

/** PUT /admin/flags/{key}: 201 when created, 200 when replaced. */
export function putFlag(request: HttpRequest, key: string, deps: AdminDeps): Promise<HttpResponse> {
  return guarded(async () => {
    const body = await readJsonBody(request, deps.bodyLimitBytes);
    if (!body.ok) return error(body.status, body.message);
    if (body.empty) return error(400, `body is empty: send the definition of flag "${key}" as JSON`);
    const validated = validateFlag(body.value, { key });
    if (!validated.ok) {
      return error(400, `flag "${key}" is invalid: ${describeProblems(validated.problems)}`, {
        problems: validated.problems,
      });
    }
    const precondition = await writeOptions(request, key, deps);
    if (!precondition.ok) return precondition.response;
    const { options } = precondition;
    // Created or replaced: known for sure with If-Match, otherwise from a read just before the write.
    const existed = options.ifMatch === undefined ? (await deps.store.get(key)) !== undefined : options.ifMatch !== 0;
    const result = await deps.store.put(validated.flag, options);
    deps.cache.invalidate();
    const headers: Record<string, string> = result.stored ? { ETag: revisionTag(result.stored.revision) } : {};
    if (!existed) headers.Location = `/admin/flags/${encodeURIComponent(key)}`;
    return ok(existed ? 200 : 201, { version: result.version, flag: result.stored }, headers);
  });
}

/** DELETE /admin/flags/{key} */
export function deleteFlag(request: HttpRequest, key: string, deps: AdminDeps): Promise<HttpResponse> {
  return guarded(async () => {
    const precondition = await writeOptions(request, key, deps);
    if (!precondition.ok) return precondition.response;
    const result = await deps.store.delete(key, precondition.options);
    deps.cache.invalidate();
    return ok(200, { version: result.version });
  });
}

type QueryInteger = { ok: true; value: number } | { ok: false; response: HttpResponse };

function queryInteger(url: URL, name: string, fallback: number, min: number, max: number): QueryInteger {
  const raw = url.searchParams.get(name);
  if (raw === null) return { ok: true, value: fallback };
  const parsed = parseInteger(raw.trim(), min, max);
  if (parsed.ok) return { ok: true, value: parsed.value };
  return {
    ok: false,
    response: error(400, `query parameter ${name}=${JSON.stringify(raw)} is invalid; ${parsed.problem}`),
  };
}

/** GET /admin/audit?limit=100&before=ID */
export function listAudit(url: URL, deps: AdminDeps): Promise<HttpResponse> {
  return guarded(async () => {
    const limit = queryInteger(url, "limit", 100, 1, 1000);
    if (!limit.ok) return limit.response;
    const before = url.searchParams.get("before");
    if (before !== null && (before.trim() === "" || before.length > 200)) {
      return error(400, "query parameter before is invalid; accepted: the id of an audit entry (from a previous page)");
    }
    const entries = await deps.store.audit({ limit: limit.value, ...(before === null ? {} : { before }) });
    return ok(200, { entries });
  });
}

/** GET /admin/stale?days=90 */
export function listStale(url: URL, deps: AdminDeps): Promise<HttpResponse> {
  return guarded(async () => {
    const days = queryInteger(url, "days", DEFAULT_UNCHANGED_DAYS, 1, 3650);
    if (!days.ok) return days.response;
    const ruleSet = await deps.store.load();
    return ok(200, { flags: findStaleFlags(ruleSet, deps.now(), { unchangedDays: days.value }) });
  });
}
