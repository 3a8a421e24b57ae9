// The admin API: list, read, create/replace and delete flags with optimistic concurrency, the audit log, stale flags.
/*
 * Reads go to the store, not the rule cache: an operator must see the write they just made, and the revision
 * they send back in If-Match must be the stored one. Every write invalidates this process's cache.
 */
import { isObject } from "../../contract/objects.ts";
import { parseInteger } from "../../contract/values.ts";
import { type HttpRequest, type HttpResponse, jsonResponse } from "../../http/message.ts";
import type { RuleCache } from "../cache.ts";
import { type RolloutControl, rolloutView } from "../rollout/plan.ts";
import { applyRolloutControl } from "../rollout/step.ts";
import { DEFAULT_UNCHANGED_DAYS, DEFAULT_UNUSED_DAYS, MAX_STALE_DAYS, readStaleReport } from "../stale.ts";
import {
  type FlagStore,
  StoreConflictError,
  StoreNotFoundError,
  StoreUnavailableError,
  type WriteOptions,
} from "../types.ts";
import { describeProblems, validateFlag } from "../validate.ts";
import { actorOf, bearerToken } from "./auth.ts";
import type { Gate, Route } from "./core.ts";
import { parseWritePreconditions, revisionEtag, type WritePreconditions } from "./etag.ts";
import { readJsonBody } from "./json.ts";
import {
  ADMIN_TOKEN_VARIABLE,
  ADMIN_TOKENS_VARIABLE,
  type AdminToken,
  type AdminTokens,
  matchAdminToken,
  scopeAllows,
  singleAdminToken,
} from "./tokens.ts";

export interface AdminDeps {
  store: FlagStore;
  cache: RuleCache;
  now: () => number;
  /** One admin token, labelled "admin" (GREENLIGHT_ADMIN_TOKEN); ignored when `adminTokens` is given. */
  adminToken?: string;
  /** Every accepted token with its label, scope and end (GREENLIGHT_ADMIN_TOKEN and GREENLIGHT_ADMIN_TOKENS). */
  adminTokens?: AdminTokens;
  bodyLimitBytes: number;
  /** The stale report's default for `unusedDays` (GREENLIGHT_FLAGS_UNUSED_DAYS); default 30. */
  unusedDays?: number;
}

export { ADMIN_TOKEN_VARIABLE };

const NO_STORE = { "Cache-Control": "no-store" };

const error = (
  status: number,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): HttpResponse => jsonResponse(status, { error: message, ...extra }, { ...NO_STORE, ...headers });

const ok = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse =>
  jsonResponse(status, body, { ...NO_STORE, ...headers });

/** What the admin check needs: the configured tokens and a clock for their not-after dates (default Date.now). */
export type AdminAccess = Pick<AdminDeps, "adminToken" | "adminTokens"> & { now?: () => number };

export type AdminCheck = { ok: true; token: AdminToken } | { ok: false; response: HttpResponse };

const TOKEN_VARIABLES = `${ADMIN_TOKEN_VARIABLE} or ${ADMIN_TOKENS_VARIABLE}`;

/** A plain string is the one-token form handlers were first given (`refuseAdmin(request, deps.adminToken)`). */
function configuredTokens(access: AdminAccess | string | undefined): AdminTokens {
  if (typeof access === "string") return access === "" ? [] : [singleAdminToken(access)];
  if (access?.adminTokens !== undefined) return access.adminTokens;
  return access?.adminToken ? [singleAdminToken(access.adminToken)] : [];
}

const unauthorized = (message: string): HttpResponse =>
  error(401, message, {}, { "WWW-Authenticate": 'Bearer realm="greenlight-admin"' });

/**
 * The token that lets the request in, or the answer refusing it: 403 when no token is configured (the admin API is
 * off) or the token's scope does not cover the method; 401 without a bearer token, or with an unknown or expired one.
 */
export function checkAdmin(request: HttpRequest, access: AdminAccess | string | undefined): AdminCheck {
  const tokens = configuredTokens(access);
  if (tokens.length === 0) {
    return { ok: false, response: error(403, `the admin API is disabled: set ${TOKEN_VARIABLES} to enable it`) };
  }
  const presented = bearerToken(request.headers);
  if (presented === undefined) {
    const message = `the admin API needs Authorization: Bearer <token> (a token from ${TOKEN_VARIABLES})`;
    return { ok: false, response: unauthorized(message) };
  }
  const now = typeof access === "object" && access.now !== undefined ? access.now() : Date.now();
  const match = matchAdminToken(presented, tokens, now);
  if (match.kind === "unknown") {
    return { ok: false, response: unauthorized(`the bearer token is not an admin token (${TOKEN_VARIABLES})`) };
  }
  const { token } = match;
  // The caller holds this token, so naming its label tells them nothing new and says which one to replace.
  if (match.kind === "expired") {
    const at = new Date(token.notAfter ?? now).toISOString();
    return {
      ok: false,
      response: unauthorized(`the bearer token "${token.label}" expired at ${at}: use its successor`),
    };
  }
  if (!scopeAllows(token.scope, request.method)) {
    const method = request.method.toUpperCase();
    const message =
      `the token "${token.label}" has scope ${token.scope}, which allows GET and HEAD only: ` +
      `${method} ${new URL(request.url).pathname} needs a token with scope admin`;
    return { ok: false, response: error(403, message, { requiredScope: "admin", tokenScope: token.scope }) };
  }
  return { ok: true, token };
}

/** Undefined when the request may use the admin API; otherwise the 401 or 403 answer (see checkAdmin). */
export function refuseAdmin(request: HttpRequest, access: AdminAccess | string | undefined): HttpResponse | undefined {
  const check = checkAdmin(request, access);
  return check.ok ? undefined : check.response;
}

/** The label of the token a write came with, for its audit entry (refuseAdmin let the request in, so it is found). */
function tokenLabel(request: HttpRequest, access: AdminAccess): string | undefined {
  const check = checkAdmin(request, access);
  return check.ok ? check.token.label : undefined;
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
    return ok(200, stored, { ETag: revisionEtag(stored.revision) });
  });
}

type WritePrecondition =
  | { ok: true; options: WriteOptions; preconditions: WritePreconditions }
  | { ok: false; response: HttpResponse };

/**
 * Actor and preconditions of a write. If-Match and If-None-Match never answer 400: one that does not parse is a
 * precondition that does not hold (412, see parseWritePreconditions). They go to the store whole, which checks them
 * in the same atomic step as the write (`If-Match: *` too), so no read here can go stale before the write.
 */
function writeOptions(request: HttpRequest, deps: AdminDeps): WritePrecondition {
  const actor = actorOf(request.headers, tokenLabel(request, deps));
  if (!actor.ok) return { ok: false, response: error(400, actor.message) };
  const preconditions = parseWritePreconditions(request.headers.get("if-match"), request.headers.get("if-none-match"));
  const { ifMatch, ifNoneMatch } = preconditions;
  const options: WriteOptions = {
    ...actor.writer,
    ...(ifMatch === undefined ? {} : { ifMatch }),
    ...(ifNoneMatch === undefined ? {} : { ifNoneMatch }),
  };
  return { ok: true, options, preconditions };
}

/**
 * Runs a conditional write; the store's refusal becomes 412 Precondition Failed (RFC 9110 section 13.1.1) saying
 * which header failed and where the flag is, with `currentRevision` (0: no such flag) for clients to retry with.
 * Nothing was written: the store checked before writing the flag or its audit entry.
 */
async function conditional(
  key: string,
  preconditions: WritePreconditions,
  write: () => Promise<HttpResponse>,
): Promise<HttpResponse> {
  try {
    return await write();
  } catch (cause) {
    if (!(cause instanceof StoreConflictError)) throw cause;
    const message = preconditions.failure(key, cause.actual) ?? cause.message;
    return error(412, message, { currentRevision: cause.actual });
  }
}

/** PUT /admin/flags/{key}: 201 when this write created the flag, 200 when it replaced one. */
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
    const precondition = writeOptions(request, deps);
    if (!precondition.ok) return precondition.response;
    const { options, preconditions } = precondition;
    return conditional(key, preconditions, async () => {
      const result = await deps.store.put(validated.flag, options);
      deps.cache.invalidate();
      // Created or replaced as the store saw it inside the write: of two racing creators, one gets 201.
      const created = result.created === true;
      const headers: Record<string, string> = result.stored ? { ETag: revisionEtag(result.stored.revision) } : {};
      if (created) headers.Location = `/admin/flags/${encodeURIComponent(key)}`;
      return ok(created ? 201 : 200, { version: result.version, flag: result.stored }, headers);
    });
  });
}

/**
 * DELETE /admin/flags/{key}: 404 when there is no such flag whatever the preconditions say (RFC 9110 section
 * 13.2.1: they are ignored when the answer without them would not be 2xx), else 412 when they fail.
 */
export function deleteFlag(request: HttpRequest, key: string, deps: AdminDeps): Promise<HttpResponse> {
  return guarded(async () => {
    const precondition = writeOptions(request, deps);
    if (!precondition.ok) return precondition.response;
    const { options, preconditions } = precondition;
    return conditional(key, preconditions, async () => {
      const result = await deps.store.delete(key, options);
      deps.cache.invalidate();
      return ok(200, { version: result.version });
    });
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

/**
 * GET /admin/stale?days=90&unusedDays=30: expired, unchanged and (when the store counts usage) unused flags, with
 * `usage` saying since when evaluations are counted (readStaleReport: two store calls).
 */
export function listStale(url: URL, deps: AdminDeps): Promise<HttpResponse> {
  return guarded(async () => {
    const days = queryInteger(url, "days", DEFAULT_UNCHANGED_DAYS, 1, MAX_STALE_DAYS);
    if (!days.ok) return days.response;
    const unusedDays = queryInteger(url, "unusedDays", deps.unusedDays ?? DEFAULT_UNUSED_DAYS, 1, MAX_STALE_DAYS);
    if (!unusedDays.ok) return unusedDays.response;
    const report = await readStaleReport(deps.store, deps.now(), {
      unchangedDays: days.value,
      unusedDays: unusedDays.value,
    });
    return ok(200, report);
  });
}

// ---- guarded rollouts ----------------------------------------------------------------------------------------------

export const ROLLOUT_ROUTE_NAMES = [
  "GET /admin/flags/{key}/rollout",
  "POST /admin/flags/{key}/rollout/pause|resume|abort",
] as const;

const CONTROLS: readonly RolloutControl[] = ["pause", "resume", "abort"];
const MAX_REASON = 500;

/** GET /admin/flags/{key}/rollout: the plan, where it stands (rolloutStatus) and one line saying so. */
export function getRollout(key: string, deps: AdminDeps): Promise<HttpResponse> {
  return guarded(async () => {
    const stored = await deps.store.get(key);
    if (!stored) return error(404, `no flag "${key}"`);
    const view = rolloutView(stored);
    if (!view) return error(404, `flag "${key}" has no rollout plan: add one under "rollout" (docs/FLAGS.md)`);
    return ok(200, view, { ETag: revisionEtag(stored.revision) });
  });
}

/** The optional body of a control: `{"reason": "..."}`, kept in the status. */
async function controlReason(
  request: HttpRequest,
  deps: AdminDeps,
): Promise<{ ok: true; reason?: string } | { ok: false; response: HttpResponse }> {
  const body = await readJsonBody(request, deps.bodyLimitBytes);
  if (!body.ok) return { ok: false, response: error(body.status, body.message) };
  if (body.empty) return { ok: true };
  const value = body.value;
  const accepted = `accepted: no body, or {"reason": "<up to ${MAX_REASON} characters>"}`;
  if (!isObject(value)) return { ok: false, response: error(400, `body is not an object; ${accepted}`) };
  const fields = Object.keys(value);
  const reason = value.reason;
  if (
    fields.some((field) => field !== "reason") ||
    (reason !== undefined && (typeof reason !== "string" || reason.length > MAX_REASON))
  ) {
    return { ok: false, response: error(400, `body is invalid; ${accepted}`) };
  }
  return reason === undefined || reason.trim() === "" ? { ok: true } : { ok: true, reason: reason.trim() };
}

/**
 * POST /admin/flags/{key}/rollout/{pause|resume|abort}: a person's control, written as the token's actor. With
 * If-Match it writes only over that revision (412 otherwise); without, over the revision it read, trying again when
 * the stepper wrote in between. 409 when the control does not apply to where the rollout stands.
 */
export function controlFlagRollout(
  request: HttpRequest,
  path: string,
  key: string,
  deps: AdminDeps,
): Promise<HttpResponse> {
  return guarded(async () => {
    const control = path.replace(/\/$/, "").split("/").at(-1) as RolloutControl;
    if (!CONTROLS.includes(control))
      return error(404, `no rollout control "${control}"; accepted: ${CONTROLS.join(", ")}`);
    const reason = await controlReason(request, deps);
    if (!reason.ok) return reason.response;
    const precondition = writeOptions(request, deps);
    if (!precondition.ok) return precondition.response;
    const { options, preconditions } = precondition;
    const given = options.ifMatch !== undefined || options.ifNoneMatch !== undefined;
    const apply = async (): Promise<HttpResponse> => {
      const now = new Date(deps.now());
      const result = await applyRolloutControl(deps.store, key, control, { ...options, now, reason: reason.reason });
      if ("error" in result) return error(result.kind === "conflict" ? 409 : 404, result.error, { kind: result.kind });
      const { written, summary } = result;
      deps.cache.invalidate();
      const headers: Record<string, string> = written.stored ? { ETag: revisionEtag(written.stored.revision) } : {};
      return ok(200, { version: written.version, flag: written.stored, summary }, headers);
    };
    if (given) return conditional(key, preconditions, apply);
    try {
      return await apply();
    } catch (cause) {
      // The stepper (or another person) wrote first on every try (applyRolloutControl read and decided again).
      if (!(cause instanceof StoreConflictError)) throw cause;
      return error(409, `flag "${key}" kept changing while the ${control} was written: try again`);
    }
  });
}

/** The rollout routes, each behind the admin API's gate. */
export function rolloutRoutes<D extends AdminDeps>(gate: Gate<D>): Route<D>[] {
  return [
    {
      pattern: /^\/admin\/flags\/([^/]+)\/rollout$/,
      gate,
      methods: { GET: (_request, _target, key, deps) => getRollout(key, deps) },
    },
    {
      pattern: /^\/admin\/flags\/([^/]+)\/rollout\/(?:pause|resume|abort)$/,
      gate,
      methods: { POST: (request, target, key, deps) => controlFlagRollout(request, target.path, key, deps) },
    },
  ];
}
