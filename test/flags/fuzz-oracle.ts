// The flag API fuzz campaign's oracle (used by fuzz.test.ts): what every answer must satisfy, whatever the input.
/*
 * The models here (routing, admin tokens, OFREP API key, preconditions, the actor header, body reading) are written
 * from the documented behaviour (handler.ts ROUTES, docs/FLAGS.md, RFC 9110), not imported from the code under test,
 * so a disagreement is a finding on one side or the other. OFREP bodies are checked against JSON Schemas of the
 * OFREP OpenAPI document's shapes (open-feature/protocol service/openapi.yaml), accepted flags against
 * docs/flag.schema.json.
 */
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { AuditEntry, StoredFlag } from "../../functions/flags/types.ts";
import type { HeaderLine, WorldConfig } from "./fuzz-cases.ts";

// ---------------------------------------------------------------------------------------------------------------
// OFREP schemas.

const ERROR_CODES = ["PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "FLAG_NOT_FOUND", "GENERAL"];
const REASONS = ["STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT", "UNKNOWN", "ERROR"];

const OFREP_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://greenlight.dev/test/ofrep-answers.json",
  $defs: {
    success: {
      description: "evaluationSuccess: the flag's value with its reason and variant",
      type: "object",
      required: ["key", "value", "reason"],
      additionalProperties: false,
      properties: {
        key: { type: "string" },
        value: { type: ["boolean", "string", "number", "object", "array"] },
        reason: { enum: REASONS },
        variant: { type: "string" },
        metadata: { type: "object", additionalProperties: { type: ["string", "number", "boolean"] } },
      },
    },
    failure: {
      description: "evaluationFailure and flagNotFound: the key with an error code",
      type: "object",
      required: ["key", "errorCode"],
      additionalProperties: false,
      properties: {
        key: { type: "string" },
        errorCode: { enum: ERROR_CODES },
        errorDetails: { type: "string" },
      },
    },
    bulk: {
      description: "bulkEvaluationSuccess",
      type: "object",
      required: ["flags"],
      additionalProperties: false,
      properties: {
        flags: { type: "array", items: { oneOf: [{ $ref: "#/$defs/success" }, { $ref: "#/$defs/failure" }] } },
      },
    },
    error: {
      description: "bulkEvaluationFailure and every other error answer: an error code, maybe the key and details",
      type: "object",
      required: ["errorCode"],
      additionalProperties: false,
      properties: {
        key: { type: "string" },
        errorCode: { enum: ERROR_CODES },
        errorDetails: { type: "string" },
      },
    },
    unauthorized: {
      description: "401 and 403: the OpenAPI document gives them no body; a generalErrorResponse is what one can be",
      type: "object",
      additionalProperties: false,
      properties: {
        errorCode: { enum: ERROR_CODES },
        errorDetails: { type: "string" },
      },
    },
  },
};

const ajv = new Ajv2020.default({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats.default(ajv);
ajv.addSchema(OFREP_SCHEMA);
const validator = (name: string) => {
  const validate = ajv.getSchema(`https://greenlight.dev/test/ofrep-answers.json#/$defs/${name}`);
  if (validate === undefined) throw new Error(`no schema ${name}`);
  return validate;
};
const OFREP = {
  success: validator("success"),
  failure: validator("failure"),
  bulk: validator("bulk"),
  error: validator("error"),
  unauthorized: validator("unauthorized"),
};
const flagSchema = ajv.compile(
  JSON.parse(readFileSync(new URL("../../docs/flag.schema.json", import.meta.url), "utf8")) as object,
);

type Validate = (typeof OFREP)["success"];
function schemaProblem(validate: Validate, value: unknown, what: string): string | undefined {
  if (validate(value)) return undefined;
  const errors = (validate.errors ?? []).slice(0, 3).map((error) => `${error.instancePath || "/"} ${error.message}`);
  return `${what} does not match the OFREP schema: ${errors.join("; ")}`;
}

// ---------------------------------------------------------------------------------------------------------------
// What the core saw: header views by transport.

export type HeaderView = (name: string) => string | null;

/** The core-direct reader: every field of that name, raw, joined by ", " (as the Lambda adapter joins them). */
export function coreHeaderView(lines: readonly HeaderLine[]): HeaderView {
  const map = new Map<string, string>();
  for (const { name, value } of lines) {
    const key = name.toLowerCase();
    const existing = map.get(key);
    map.set(key, existing === undefined ? value : `${existing}, ${value}`);
  }
  return (name) => map.get(name.toLowerCase()) ?? null;
}

/** Fields node:http keeps the first of when repeated (lib/_http_incoming.js matchKnownFields). */
const NODE_FIRST_WINS = new Set([
  "content-type",
  "content-length",
  "user-agent",
  "referer",
  "host",
  "authorization",
  "proxy-authorization",
  "if-modified-since",
  "if-unmodified-since",
  "from",
  "location",
  "max-forwards",
  "retry-after",
  "etag",
  "last-modified",
  "server",
  "age",
  "expires",
]);

/** What node:http hands the adapter: values trimmed of spaces and tabs, repeats dropped or joined. */
export function nodeHeaderView(lines: readonly HeaderLine[]): HeaderView {
  const map = new Map<string, string>();
  for (const { name, value } of lines) {
    const key = name.toLowerCase();
    const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, "");
    const existing = map.get(key);
    if (existing === undefined) map.set(key, trimmed);
    else if (!NODE_FIRST_WINS.has(key)) map.set(key, `${existing}${key === "cookie" ? "; " : ", "}${trimmed}`);
  }
  return (name) => map.get(name.toLowerCase()) ?? null;
}

// ---------------------------------------------------------------------------------------------------------------
// Routing, as handler.ts ROUTES documents it.

export type RouteName = "bulk" | "single" | "list" | "flag" | "audit" | "stale" | "health";

const ROUTES: readonly { name: RouteName; pattern: RegExp; methods: readonly string[] }[] = [
  { name: "bulk", pattern: /^\/ofrep\/v1\/evaluate\/flags$/, methods: ["POST"] },
  { name: "single", pattern: /^\/ofrep\/v1\/evaluate\/flags\/([^/]+)$/, methods: ["POST"] },
  { name: "list", pattern: /^\/admin\/flags$/, methods: ["GET"] },
  { name: "flag", pattern: /^\/admin\/flags\/([^/]+)$/, methods: ["GET", "PUT", "DELETE"] },
  { name: "audit", pattern: /^\/admin\/audit$/, methods: ["GET"] },
  { name: "stale", pattern: /^\/admin\/stale$/, methods: ["GET"] },
  { name: "health", pattern: /^\/(?:flags\/)?healthz$/, methods: ["GET"] },
];

export type RouteModel =
  | { kind: "url-error"; message: string }
  | { kind: "preflight"; pathname: string; url: URL }
  | { kind: "none"; pathname: string; url: URL }
  | { kind: "method"; pathname: string; url: URL; route: RouteName; allowed: readonly string[] }
  | { kind: "bad-key"; pathname: string; url: URL; route: RouteName }
  | { kind: "endpoint"; pathname: string; url: URL; route: RouteName; key: string; head: boolean };

/**
 * The URL an adapter hands the core for a request-target: origin-form as it is under a fixed origin, absolute-form
 * (RFC 9112 3.2.2) by its path and query, and anything else (`*`, junk) as it is, which makes no URL.
 */
export function adapterUrl(target: string): string {
  if (target.startsWith("/")) return `http://localhost${target}`;
  if (/^https?:\/\//i.test(target)) {
    try {
      const absolute = new URL(target);
      return `http://localhost${absolute.pathname}${absolute.search}`;
    } catch {
      return target;
    }
  }
  return target;
}

export function routeOf(method: string, url: string): RouteModel {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    return { kind: "url-error", message: (error as Error).message };
  }
  const pathname = parsed.pathname;
  if (method === "OPTIONS") return { kind: "preflight", pathname, url: parsed };
  const path = pathname.length > 1 ? pathname.replace(/\/$/, "") : pathname;
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    const head = method === "HEAD" && route.methods.includes("GET");
    if (!head && !route.methods.includes(method)) {
      return { kind: "method", pathname, url: parsed, route: route.name, allowed: route.methods };
    }
    let key = "";
    if (match[1] !== undefined) {
      try {
        key = decodeURIComponent(match[1]);
      } catch {
        return { kind: "bad-key", pathname, url: parsed, route: route.name };
      }
    }
    return { kind: "endpoint", pathname, url: parsed, route: route.name, key, head };
  }
  return { kind: "none", pathname, url: parsed };
}

const isOfrepRoute = (route: RouteName): boolean => route === "bulk" || route === "single";
const isOpenCorsPath = (pathname: string): boolean =>
  pathname.startsWith("/ofrep/") || /^\/(?:flags\/)?healthz\/?$/.test(pathname);

// ---------------------------------------------------------------------------------------------------------------
// Credentials, actor, preconditions.

const bearerOf = (view: HeaderView): string | undefined =>
  /^\s*Bearer\s+(\S+)\s*$/i.exec(view("authorization") ?? "")?.[1];

export type AdminVerdict =
  | { kind: "disabled" | "missing" | "unknown" | "expired" }
  | { kind: "scope"; label: string }
  | { kind: "granted"; label: string; scope: "read" | "admin" };

/** Who the admin API lets in (docs/OPERATIONS.md, tokens.ts header): the token, its scope and its not-after. */
export function adminVerdict(config: WorldConfig, view: HeaderView, method: string, now: number): AdminVerdict {
  if (config.tokens.length === 0) return { kind: "disabled" };
  const presented = bearerOf(view);
  if (presented === undefined) return { kind: "missing" };
  const token = config.tokens.find((candidate) => candidate.token === presented);
  if (token === undefined) return { kind: "unknown" };
  if (token.notAfter !== undefined && now > token.notAfter) return { kind: "expired" };
  if (token.scope === "read" && method !== "GET" && method !== "HEAD") return { kind: "scope", label: token.label };
  return { kind: "granted", label: token.label, scope: token.scope };
}

function presentsApiKey(config: WorldConfig, view: HeaderView): boolean {
  if (config.apiKey === undefined) return true;
  if (bearerOf(view) === config.apiKey) return true;
  const header = view("x-api-key")?.trim();
  return header !== undefined && header !== "" && header === config.apiKey;
}

/** X-Greenlight-Actor: 1 to 100 printable ASCII characters once trimmed; absent: the token's label. */
function actorOf(view: HeaderView, label: string): string | undefined {
  const raw = view("x-greenlight-actor");
  if (raw === null) return label;
  const actor = raw.trim();
  return /^[\x20-\x7e]{1,100}$/.test(actor) ? actor : undefined;
}

type TagList = { kind: "any" } | { kind: "tags"; tags: { weak: boolean; opaque: string }[] } | { kind: "malformed" };

/** RFC 9110 `"*" / #entity-tag`; undefined when a quoted tag holds a comma (this simple reader cannot tell). */
function readTags(value: string): TagList | undefined {
  if (value.trim() === "*") return { kind: "any" };
  const tags: { weak: boolean; opaque: string }[] = [];
  for (const element of value.split(",")) {
    const item = element.replace(/^[ \t]+|[ \t]+$/g, "");
    if (item === "") continue;
    if ((item.match(/"/g) ?? []).length === 1) return undefined;
    const match = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/.exec(item);
    if (match === null) return { kind: "malformed" };
    tags.push({ weak: match[1] !== undefined, opaque: match[2] as string });
  }
  return { kind: "tags", tags };
}

/**
 * Whether a write's If-Match and If-None-Match hold for a flag at `actual` (0: absent), as docs/FLAGS.md says:
 * If-Match by strong comparison (`"0"`: the flag must not exist; a bare `7` reads as `"7"`; malformed: never holds),
 * If-None-Match by weak comparison (`*`: only when absent; malformed: never holds). Undefined when unsure.
 */
export function preconditionsHold(view: HeaderView, actual: number): boolean | undefined {
  const ifMatch = view("if-match");
  const ifNoneMatch = view("if-none-match");
  let holds = true;
  if (ifMatch !== null) {
    const bare = /^[ \t]*(\d+)[ \t]*$/.exec(ifMatch);
    const field: TagList | undefined = bare
      ? { kind: "tags", tags: [{ weak: false, opaque: `"${bare[1]}"` }] }
      : readTags(ifMatch);
    if (field === undefined) return undefined;
    if (field.kind === "malformed") holds = false;
    else if (field.kind === "any") holds &&= actual > 0;
    else holds &&= field.tags.some((tag) => !tag.weak && tag.opaque === `"${actual}"`);
  }
  if (ifNoneMatch !== null) {
    const field = readTags(ifNoneMatch);
    if (field === undefined) return undefined;
    if (field.kind === "malformed") holds = false;
    else if (field.kind === "any") holds &&= actual === 0;
    else holds &&= !(actual > 0 && field.tags.some((tag) => tag.opaque === `"${actual}"`));
  }
  return holds;
}

// ---------------------------------------------------------------------------------------------------------------
// Body reading, as docs/FLAGS.md describes it for both endpoints that take one.

type BodyVerdict = { kind: "too-large" } | { kind: "not-json" } | { kind: "empty" } | { kind: "json"; value: unknown };

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function bodyVerdict(body: Uint8Array | undefined, view: HeaderView, limit: number): BodyVerdict {
  const declared = view("content-length");
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > limit) return { kind: "too-large" };
  const bytes = body ?? new Uint8Array(0);
  if (bytes.length > limit) return { kind: "too-large" };
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { kind: "not-json" };
  }
  if (text.trim() === "") return { kind: "empty" };
  try {
    return { kind: "json", value: JSON.parse(text) as unknown };
  } catch {
    return { kind: "not-json" };
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The OFREP request's error code, or undefined when its context is fine. */
function contextError(verdict: BodyVerdict): "PARSE_ERROR" | "INVALID_CONTEXT" | "GENERAL" | undefined {
  if (verdict.kind === "too-large") return "GENERAL";
  if (verdict.kind === "not-json") return "PARSE_ERROR";
  if (verdict.kind === "empty") return undefined;
  const body = verdict.value;
  if (!isObject(body)) return "PARSE_ERROR";
  const context = body.context;
  if (context === undefined) return undefined;
  if (!isObject(context)) return "INVALID_CONTEXT";
  if ("targetingKey" in context && context.targetingKey !== undefined && typeof context.targetingKey !== "string") {
    return "INVALID_CONTEXT";
  }
  return undefined;
}

/**
 * GET /admin/audit?limit=1..1000 (default 100)&before=<1 to 200 characters, not blank>, GET /admin/stale?days=1..3650:
 * the page size (or days) the query asks for, or undefined when it is to be refused (400).
 */
function queryVerdict(url: URL, route: "audit" | "stale"): number | undefined {
  const integer = (name: string, fallback: number, max: number): number | undefined => {
    const raw = url.searchParams.get(name);
    if (raw === null) return fallback;
    const trimmed = raw.trim();
    if (!/^[0-9]+$/.test(trimmed)) return undefined;
    const value = Number(trimmed);
    return value >= 1 && value <= max ? value : undefined;
  };
  if (route === "stale") return integer("days", 90, 3650);
  const before = url.searchParams.get("before");
  if (before !== null && (before.trim() === "" || before.length > 200)) return undefined;
  return integer("limit", 100, 1000);
}

// ---------------------------------------------------------------------------------------------------------------
// The store as the checks see it.

export interface StoreView {
  version: number;
  flags: Record<string, StoredFlag>;
  /** The newest audit entries, newest first (two: enough to tell one new entry from several). */
  audit: AuditEntry[];
  /** JSON of version, flags and those entries as the store returned them: equal texts, equal states. */
  text: string;
}

/** JSON with object keys sorted, own "__proto__" keys included: equal values, equal texts. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

// ---------------------------------------------------------------------------------------------------------------
// The checks.

export interface Reply {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** "" when there was none. */
  body: string;
  /** Over HTTP: node:http answered by itself (a request it could not parse), so the core never saw it. */
  fromServer?: boolean;
}

export interface Observation {
  config: WorldConfig;
  transport: "core" | "http";
  /** The method, URL and headers as the core received them. */
  method: string;
  url: string;
  view: HeaderView;
  body: Uint8Array | undefined;
  clientAddress: string | undefined;
  reply: Reply;
  before: StoreView;
  after: StoreView;
  /** Store calls that failed on purpose during this request. */
  faults: number;
  /** Any store call failed on purpose in this world so far (the cache may be serving old rules, or none). */
  faultedEver: boolean;
  cacheUnavailable: boolean;
  /** The world's clock when the request was made. */
  now: number;
  /** What the core passed to onError during this request. */
  errors: string[];
}

export interface Problem {
  /** A short stable name, for grouping and for the known-finding list. */
  code: string;
  message: string;
}

export interface Checked {
  problems: Problem[];
  route: RouteModel;
  /** An accepted write: the world's store changed. */
  wrote: boolean;
}

const ALLOWED = new Set([200, 201, 204, 304, 400, 401, 403, 404, 405, 412, 413, 429, 500, 503]);

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

const clip = (text: string, max = 200): string => (text.length > max ? `${text.slice(0, max)}…` : text);

/** Every problem with one answer; empty when it is right. */
export function check(observation: Observation): Checked {
  const { config, reply, method, view, before, after } = observation;
  const problems: Problem[] = [];
  const problem = (code: string, message: string): void => {
    problems.push({ code, message });
  };
  const route = routeOf(method, observation.url);
  const status = reply.status;
  const limit = config.bodyLimitBytes ?? 64 * 1024;

  if (reply.fromServer) {
    // node:http refused the request itself (bad method, bad target, headers too large): the core never saw it.
    if (![400, 431].includes(status) || reply.body !== "") problem("server", `node:http answered ${status} itself`);
    if (before.text !== after.text) problem("state", "the store changed on a request node:http refused");
    return { problems, route, wrote: false };
  }
  for (const error of observation.errors) problem("on-error", `the core reported an unexpected error: ${clip(error)}`);

  // ---- status, body, content type
  if (!ALLOWED.has(status)) problem(`status-${status}`, `status ${status}`);
  const body = reply.body;
  const contentType = reply.headers["content-type"];
  let json: unknown;
  let parsed = false;
  if (body !== "") {
    if (method === "HEAD") problem("head-body", "a HEAD answer with a body");
    if (status === 204 || status === 304) problem("empty-status-body", `a ${status} answer with a body`);
    if (contentType === undefined || !/^application\/json(;|$)/i.test(contentType)) {
      problem("content-type", `a body with Content-Type ${JSON.stringify(contentType)}`);
    }
    const read = parseJson(body);
    if (read.ok) {
      json = read.value;
      parsed = true;
    } else problem("not-json", `a body that is not JSON: ${clip(body)}`);
  } else if (method !== "HEAD" && status !== 204 && status !== 304) {
    problem("no-body", `a ${status} answer without a body`);
  }

  const pathname = route.kind === "url-error" ? "/" : route.pathname;
  const ofrepPath = pathname.startsWith("/ofrep/");

  // ---- 5xx: 503 only while the store fails; 500 only as OFREP's "no rules to serve" after store failures
  if (status === 503) {
    const healthDown = route.kind === "endpoint" && route.route === "health" && observation.cacheUnavailable;
    if (observation.faults === 0 && !(healthDown && observation.faultedEver)) {
      problem("status-503", "503 while the store is up");
    }
  }
  if (status === 500) {
    const noRules =
      ofrepPath &&
      isObject(json) &&
      typeof json.errorDetails === "string" &&
      json.errorDetails.startsWith("no flag rules available");
    if (!(noRules && observation.faultedEver && observation.cacheUnavailable)) {
      problem("status-500", `500: ${clip(body)}${route.kind === "url-error" ? ` (URL: ${route.message})` : ""}`);
    }
  }
  if (status === 429) {
    if (!config.limits) problem("status-429", "429 without limits configured");
    const retry = reply.headers["retry-after"];
    if (retry === undefined || !/^[1-9]\d*$/.test(retry)) problem("retry-after", `429 with Retry-After ${retry}`);
  }

  // ---- CORS: `*` only on the open paths; elsewhere an Allow-Origin only for an origin listed by name
  const origin = view("origin");
  const allowOrigin = reply.headers["access-control-allow-origin"];
  const configured = config.corsOrigins ?? ["*"];
  const origins = isOpenCorsPath(pathname) ? configured : configured.filter((entry) => entry !== "*");
  if (route.kind !== "url-error") {
    if (origins.includes("*")) {
      if (allowOrigin !== "*") problem("cors", `Allow-Origin ${allowOrigin} on ${pathname}, where * is allowed`);
    } else if (origin !== null && origins.includes(origin)) {
      if (allowOrigin !== origin) problem("cors", `Allow-Origin ${allowOrigin} for the listed origin ${origin}`);
    } else if (allowOrigin !== undefined) {
      problem("cors", `Allow-Origin ${allowOrigin} on ${pathname} for the unlisted origin ${origin}`);
    }
  }

  // ---- OFREP shapes, whatever the route
  if (ofrepPath && parsed && status >= 400) {
    const validate = status === 401 || status === 403 ? OFREP.unauthorized : OFREP.error;
    const shape = schemaProblem(validate, json, `a ${status} answer under /ofrep/`);
    if (shape) problem("ofrep-schema", `${shape}: ${clip(body)}`);
  }

  // ---- the route model
  let wrote = false;
  switch (route.kind) {
    case "url-error":
      if (status !== 400) problem("route", `a request-target that makes no URL, yet ${status}`);
      break;
    case "preflight": {
      const refused = !isOpenCorsPath(route.pathname) && origin !== null && !origins.includes(origin);
      const expected = refused ? 403 : 204;
      if (status !== expected) problem("preflight", `OPTIONS answered ${status}, expected ${expected}`);
      break;
    }
    case "none":
      if (status !== 404) problem("route", `no route, yet ${status}`);
      break;
    case "method":
      if (status !== 405) problem("route", `${method} not allowed on ${route.route}, yet ${status}`);
      else if (reply.headers.allow === undefined) problem("allow", "405 without Allow");
      break;
    case "bad-key":
      if (status !== 400) problem("route", `a key that is not percent-encoding, yet ${status}`);
      break;
    case "endpoint":
      wrote = checkEndpoint(observation, route, json, parsed, limit, problem);
      break;
  }

  // ---- the store: unchanged unless a write was accepted
  if (!wrote && before.text !== after.text) {
    problem("state", `the store changed (version ${before.version} -> ${after.version}) on a ${status} ${method}`);
  }
  return { problems, route, wrote };
}

type Report = (code: string, message: string) => void;

function checkEndpoint(
  observation: Observation,
  route: Extract<RouteModel, { kind: "endpoint" }>,
  json: unknown,
  parsed: boolean,
  limit: number,
  problem: Report,
): boolean {
  const { config, reply, method, view, before, now } = observation;
  const status = reply.status;
  const address = observation.clientAddress;
  if (route.route === "health") {
    if (![200, 503].includes(status)) problem("health", `health answered ${status}`);
    return false;
  }
  if (isOfrepRoute(route.route)) {
    const metered = config.limits && address !== undefined;
    if (status === 429) {
      if (!metered) problem("status-429", "an OFREP 429 for a request no limit counts");
      return false;
    }
    if (!presentsApiKey(config, view)) {
      if (status !== 401) problem("api-key", `no API key, yet ${status}`);
      return false;
    }
    if (status === 401) problem("api-key", "401 with the API key");
    checkOfrep(observation, route, json, parsed, bodyVerdict(observation.body, view, limit), problem);
    return false;
  }

  // Admin routes.
  const verdict = adminVerdict(config, view, method, now);
  if (status === 429) {
    const counted = config.limits && (address !== undefined || verdict.kind === "granted");
    if (!counted) problem("status-429", "an admin 429 for a request no limit counts");
    return false;
  }
  const expectedRefusal =
    verdict.kind === "disabled" || verdict.kind === "scope"
      ? 403
      : verdict.kind === "granted"
        ? undefined
        : (401 as const);
  if (expectedRefusal !== undefined) {
    if (status !== expectedRefusal) {
      problem("auth", `admin token ${verdict.kind}: expected ${expectedRefusal}, got ${status}`);
    }
    return false;
  }
  if (status === 401 || status === 403) {
    problem("auth", `a granted ${verdict.kind === "granted" ? verdict.scope : ""} token refused with ${status}`);
    return false;
  }
  if (status === 503) return false;
  if (parsed && status >= 400 && !(isObject(json) && typeof json.error === "string" && json.error !== "")) {
    problem("admin-error", `${status} without an error message: ${clip(reply.body)}`);
  }
  const label = verdict.kind === "granted" ? verdict.label : "";
  const exists = Object.hasOwn(before.flags, route.key);
  const current = exists ? (before.flags[route.key] as StoredFlag) : undefined;
  const clean = observation.faults === 0;
  switch (route.route) {
    case "list":
      if (status !== 200) problem("admin-read", `GET /admin/flags answered ${status}`);
      else if (method === "GET" && clean) {
        const list = json as { version?: unknown; flags?: unknown };
        if (!isObject(list) || list.version !== before.version || !Array.isArray(list.flags)) {
          problem("admin-read", `the flag list is not {version: ${before.version}, flags: [...]}`);
        } else {
          const stored = Object.keys(before.flags)
            .sort()
            .map((key) => before.flags[key]);
          if (canonical(list.flags) !== canonical(stored)) {
            problem(
              "admin-read",
              `the flags listed are not the stored ones, in key order: ${clip(canonical(list.flags))}`,
            );
          }
        }
      }
      return false;
    case "audit":
    case "stale": {
      const expected = queryVerdict(route.url, route.route);
      if (status !== (expected === undefined ? 400 : 200)) {
        problem("admin-query", `${route.route}${route.url.search} answered ${status}`);
      } else if (status === 200 && method === "GET" && clean && route.route === "audit") {
        const entries = isObject(json) && Array.isArray(json.entries) ? (json.entries as AuditEntry[]) : undefined;
        const ids = entries?.map((entry) => Number(entry.id)) ?? [];
        if (
          entries === undefined ||
          entries.length > (expected ?? 0) ||
          ids.some((id, at) => at > 0 && id >= (ids[at - 1] ?? 0))
        ) {
          problem(
            "admin-query",
            `audit page of ${entries?.length} entries (limit ${expected}) not newest first: ${ids.slice(0, 10)}`,
          );
        }
      }
      return false;
    }
    case "flag":
      break;
  }
  if (method === "GET" || method === "HEAD") {
    if (clean && status !== (exists ? 200 : 404)) {
      problem("admin-read", `GET of a flag that ${exists ? "exists" : "does not exist"} answered ${status}`);
    }
    if (status === 200 && current && reply.headers.etag !== `"${current.revision}"`) {
      problem("etag", `ETag ${reply.headers.etag} for revision ${current.revision}`);
    }
    if (status === 200 && current && method === "GET" && clean && canonical(json) !== canonical(current)) {
      problem("admin-read", `GET of flag ${route.key} is not the stored flag: ${clip(reply.body)}`);
    }
    return false;
  }
  const revision = current?.revision ?? 0;
  const holds = preconditionsHold(view, revision);
  const actor = actorOf(view, label);
  const sentPreconditions = view("if-match") !== null || view("if-none-match") !== null;
  if (status === 412) {
    if (!sentPreconditions) problem("precondition", "412 without If-Match or If-None-Match");
    if (holds === true) problem("precondition", `412 although the preconditions hold at revision ${revision}`);
    if (method === "DELETE" && !exists && clean) problem("precondition", "412 on a DELETE of a missing flag");
  }
  if (status === 413 && bodyVerdict(observation.body, view, limit).kind !== "too-large") {
    problem("body-limit", `413 for a body within the ${limit}-byte limit`);
  }
  if (method === "DELETE") {
    if (status === 404 && exists && clean) problem("delete", "404 on a DELETE of a flag that exists");
    if (status !== 200) return false;
    return checkAcceptedDelete(observation, route.key, current, holds, actor, label, problem);
  }
  // PUT
  if (status !== 200 && status !== 201) return false;
  return checkAcceptedPut(observation, route.key, current, holds, actor, label, problem);
}

function checkOfrep(
  observation: Observation,
  route: Extract<RouteModel, { kind: "endpoint" }>,
  json: unknown,
  parsed: boolean,
  verdict: BodyVerdict,
  problem: Report,
): void {
  const { reply, before, view } = observation;
  const status = reply.status;
  const expectedError = contextError(verdict);
  const errorCode = isObject(json) && typeof json.errorCode === "string" ? json.errorCode : undefined;
  if (expectedError !== undefined) {
    const expectedStatus = expectedError === "GENERAL" ? 413 : 400;
    if (status !== expectedStatus || errorCode !== expectedError) {
      problem("ofrep-request", `expected ${expectedStatus} ${expectedError}, got ${status} ${errorCode}`);
    }
    return;
  }
  if (status === 500) return; // checked above: no rules to serve, after store failures
  const single = route.route === "single";
  // The cache serves the store's rules unless a store call has failed in this world (then they may be old).
  const current = !observation.faultedEver;
  if (single) {
    const allowed = [200, 400, 404];
    if (!allowed.includes(status)) {
      problem("ofrep-status", `single evaluation answered ${status}`);
      return;
    }
    if (!parsed) return;
    const validate = status === 200 ? OFREP.success : OFREP.failure;
    const shape = schemaProblem(validate, json, `a ${status} single evaluation`);
    if (shape) {
      problem("ofrep-schema", `${shape}: ${clip(reply.body)}`);
      return;
    }
    const answer = json as { key: string; reason?: string; errorCode?: string };
    if (answer.key !== route.key) problem("ofrep-key", `answered for key ${JSON.stringify(answer.key)}`);
    if (status === 404 && answer.errorCode !== "FLAG_NOT_FOUND") problem("ofrep-status", `404 with ${errorCode}`);
    if (status === 400 && !["TARGETING_KEY_MISSING", "GENERAL"].includes(answer.errorCode ?? "")) {
      problem("ofrep-status", `400 for a good context with ${errorCode}`);
    }
    if (answer.errorCode === "GENERAL")
      problem("ofrep-general", `a validated flag cannot be evaluated: ${clip(reply.body)}`);
    if (current) {
      const stored = Object.hasOwn(before.flags, route.key) ? before.flags[route.key] : undefined;
      if ((stored === undefined) !== (status === 404)) {
        problem(
          "ofrep-not-found",
          `flag ${stored === undefined ? "absent" : "present"} in the store, answered ${status}`,
        );
      }
      if (stored?.flag.state === "disabled" && answer.reason !== "DISABLED") {
        problem("ofrep-reason", `a disabled flag answered with reason ${answer.reason}`);
      }
      const plain = stored?.flag;
      if (plain?.state === "enabled" && !plain.startTime && !plain.endTime && !plain.variants) {
        const expected = canonical({ key: route.key, value: true, reason: "STATIC", variant: "on" });
        if (canonical(json) !== expected)
          problem("ofrep-value", `an enabled boolean flag answered ${clip(reply.body)}`);
      }
    }
    return;
  }
  // Bulk: 304 exactly when If-None-Match lists the answer's ETag (weak comparison) or is `*`. A read, so the list
  // is read leniently (docs/FLAGS.md): elements that are no entity-tag are skipped, not a reason to refuse the match.
  const ifNoneMatch = view("if-none-match");
  const etag = reply.headers.etag;
  const weak = (tag: string): string => tag.trim().replace(/^W\//, "");
  const named =
    ifNoneMatch !== null &&
    (ifNoneMatch.trim() === "*" ||
      (etag !== undefined && ifNoneMatch.split(",").some((tag) => weak(tag) === weak(etag))));
  if (status === 304) {
    if (ifNoneMatch === null) problem("ofrep-304", "304 without If-None-Match");
    else if (!named) problem("ofrep-304", `304 with ETag ${etag} for If-None-Match: ${ifNoneMatch}`);
    return;
  }
  if (status === 200 && named) problem("ofrep-304", `200 with ETag ${etag} although If-None-Match: ${ifNoneMatch}`);
  if (status !== 200) {
    problem("ofrep-status", `bulk evaluation answered ${status}`);
    return;
  }
  if (reply.headers.etag === undefined) problem("ofrep-etag", "a bulk answer without ETag");
  if (!parsed) return;
  const shape = schemaProblem(OFREP.bulk, json, "a 200 bulk evaluation");
  if (shape) {
    problem("ofrep-schema", `${shape}: ${clip(reply.body)}`);
    return;
  }
  const entries = (json as { flags: { key: string; errorCode?: string }[] }).flags;
  const keys = entries.map((entry) => entry.key);
  for (const entry of entries) {
    if (entry.errorCode === "GENERAL" || entry.errorCode === "FLAG_NOT_FOUND") {
      problem("ofrep-general", `a bulk entry with ${entry.errorCode}: ${clip(JSON.stringify(entry))}`);
    }
  }
  if (current) {
    const stored = Object.keys(before.flags).sort();
    if (canonical(keys) !== canonical(stored)) {
      problem("ofrep-bulk-keys", `bulk keys ${clip(keys.join(","))} are not the stored ${clip(stored.join(","))}`);
    }
  }
}

function auditProblem(
  observation: Observation,
  action: "put" | "delete",
  key: string,
  actor: string | undefined,
  label: string,
): string | undefined {
  const { before, after } = observation;
  const [entry, previous] = after.audit;
  if (entry === undefined || entry.id === before.audit[0]?.id) return "no new audit entry";
  if (previous?.id !== before.audit[0]?.id) return "more than one new audit entry";
  if (entry.action !== action || entry.key !== key || entry.version !== after.version) {
    return `audit entry ${clip(JSON.stringify(entry))} is not ${action} ${key} at version ${after.version}`;
  }
  if (entry.token !== label) return `audit entry token ${entry.token}, not ${label}`;
  if (entry.actor !== actor) return `audit entry actor ${JSON.stringify(entry.actor)}, not ${JSON.stringify(actor)}`;
  return undefined;
}

function othersUnchanged(observation: Observation, key: string): boolean {
  const { before, after } = observation;
  const names = (flags: Record<string, StoredFlag>) => Object.keys(flags).filter((name) => name !== key);
  const kept = names(before.flags);
  if (canonical(kept) !== canonical(names(after.flags))) return false;
  return kept.every((name) => JSON.stringify(before.flags[name]) === JSON.stringify(after.flags[name]));
}

function checkAcceptedPut(
  observation: Observation,
  key: string,
  current: StoredFlag | undefined,
  holds: boolean | undefined,
  actor: string | undefined,
  label: string,
  problem: Report,
): boolean {
  const { reply, before, after, view } = observation;
  const limit = observation.config.bodyLimitBytes ?? 64 * 1024;
  if (holds === false)
    problem("precondition", `a PUT accepted although its preconditions fail (revision ${current?.revision ?? 0})`);
  if (actor === undefined) problem("actor", "a PUT accepted with an invalid X-Greenlight-Actor");
  if (after.version !== before.version + 1) problem("write", `version ${before.version} -> ${after.version}`);
  if ((reply.status === 201) !== (current === undefined)) {
    problem("write", `${reply.status} for a flag that ${current === undefined ? "did not exist" : "existed"}`);
  }
  if (reply.status === 201 && reply.headers.location !== `/admin/flags/${encodeURIComponent(key)}`) {
    problem("write", `201 with Location ${reply.headers.location}`);
  }
  const stored = after.flags[key];
  if (stored === undefined) {
    problem("write", "an accepted PUT left no flag");
    return true;
  }
  if (stored.revision !== after.version) problem("write", `revision ${stored.revision} at version ${after.version}`);
  if (reply.headers.etag !== `"${stored.revision}"`) problem("etag", `ETag ${reply.headers.etag} after a PUT`);
  // What was sent, with the URL's key where the body has none, is what is stored: nothing dropped, nothing added.
  const sent = bodyVerdict(observation.body, view, limit);
  if (sent.kind === "json" && isObject(sent.value)) {
    const expected = { ...sent.value, key };
    if (canonical(stored.flag) !== canonical(expected)) {
      problem("write", `stored ${clip(canonical(stored.flag))} is not what was sent ${clip(canonical(expected))}`);
    }
  } else problem("write", `a PUT accepted with a body that is not a JSON object (${sent.kind})`);
  if (!flagSchema(stored.flag)) {
    const errors = (flagSchema.errors ?? []).slice(0, 3).map((error) => `${error.instancePath} ${error.message}`);
    problem("flag-schema", `an accepted flag fails docs/flag.schema.json: ${errors.join("; ")}`);
  }
  const body = parseJson(reply.body);
  if (!body.ok || !isObject(body.value) || body.value.version !== after.version) {
    problem("write", `PUT answer ${clip(reply.body)} does not name version ${after.version}`);
  }
  if (!othersUnchanged(observation, key)) problem("write", "a PUT changed other flags");
  const audit = auditProblem(observation, "put", key, actor, label);
  if (audit) problem("audit", audit);
  return true;
}

function checkAcceptedDelete(
  observation: Observation,
  key: string,
  current: StoredFlag | undefined,
  holds: boolean | undefined,
  actor: string | undefined,
  label: string,
  problem: Report,
): boolean {
  const { before, after } = observation;
  if (current === undefined) problem("delete", "a DELETE of a missing flag accepted");
  if (holds === false) problem("precondition", `a DELETE accepted although its preconditions fail`);
  if (actor === undefined) problem("actor", "a DELETE accepted with an invalid X-Greenlight-Actor");
  if (after.version !== before.version + 1) problem("write", `version ${before.version} -> ${after.version}`);
  if (Object.hasOwn(after.flags, key)) problem("delete", "the flag is still there");
  if (!othersUnchanged(observation, key)) problem("write", "a DELETE changed other flags");
  const audit = auditProblem(observation, "delete", key, actor, label);
  if (audit) problem("audit", audit);
  return true;
}
