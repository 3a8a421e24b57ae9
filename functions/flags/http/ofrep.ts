// The OFREP evaluation endpoints: single flag and bulk, with the status codes and bodies of the OFREP OpenAPI spec.
/*
 * Spec: https://github.com/open-feature/protocol (service/openapi.yaml).
 * - single: 200 evaluationSuccess; 400 evaluationFailure {key, errorCode, errorDetails}; 404 flagNotFound; 401.
 * - bulk: 200 {flags: [success | failure]} with ETag; 304 (empty) when If-None-Match matches; 400 {errorCode, errorDetails}.
 * - 500 generalErrorResponse {errorDetails}. The 500s here also carry `errorCode: "GENERAL"` (and `key` for a
 *   single flag): extra properties the schema allows, which let the OFREP clients surface errorDetails as a
 *   GENERAL error instead of rejecting the body as unexpected.
 * Usage: when the cache counts (cache.ts `usage`), every evaluation answered is counted there, 304s included: one
 * Map increment for a single flag, one for a bulk answer (by the reused answer's array, else by its ETag: usage.ts).
 * Nothing here waits on the store for it.
 */
import { isObject } from "../../contract/objects.ts";
import { ifNoneMatchHits, textHash } from "../../http/etag.ts";
import {
  andThen,
  type Eventually,
  type HttpRequest,
  type HttpResponse,
  JSON_CONTENT_TYPE,
  jsonResponse,
} from "../../http/message.ts";
import type { RuleCache, RuleSnapshot } from "../cache.ts";
import { type CompiledRuleSet, evaluateAllInto, evaluateKey } from "../evaluate.ts";
import type { EvaluationContext, EvaluationResult, OfrepErrorCode } from "../types.ts";
import { isFailure } from "../types.ts";
import { presentsSecret } from "./auth.ts";
import { partsEtag } from "./etag.ts";
import { describeJson, readJsonBody } from "./json.ts";

export interface OfrepDeps {
  cache: RuleCache;
  now: () => number;
  evaluationApiKey?: string;
  bodyLimitBytes: number;
}

type ContextRead = { ok: true; context: EvaluationContext } | { ok: false; code: OfrepErrorCode; details: string };

/** The evaluation context of an OFREP request body; an empty body or no `context` is the empty context. */
export function contextOfBody(body: unknown): ContextRead {
  if (body === undefined) return { ok: true, context: {} };
  if (!isObject(body)) {
    return {
      ok: false,
      code: "PARSE_ERROR",
      details: `body must be a JSON object like {"context": {"targetingKey": "user-1"}}, not ${describeJson(body)}`,
    };
  }
  const context = body.context;
  if (context === undefined) return { ok: true, context: {} };
  if (!isObject(context)) {
    return {
      ok: false,
      code: "INVALID_CONTEXT",
      details: `context must be a JSON object of attributes, not ${describeJson(context)}`,
    };
  }
  if ("targetingKey" in context && context.targetingKey !== undefined && typeof context.targetingKey !== "string") {
    return {
      ok: false,
      code: "INVALID_CONTEXT",
      details: `context.targetingKey must be a string, not ${describeJson(context.targetingKey)}`,
    };
  }
  return { ok: true, context: context as EvaluationContext };
}

const UNAUTHORIZED_DETAILS =
  "this flag API needs an API key: send Authorization: Bearer <key> or X-API-Key: <key> (GREENLIGHT_FLAGS_API_KEY)";

function unauthorized(): HttpResponse {
  return jsonResponse(401, { errorDetails: UNAUTHORIZED_DETAILS }, { "WWW-Authenticate": 'Bearer realm="ofrep"' });
}

/** Public: callers of OFREP are anonymous, so the store's own error (hosts, paths) stays in /healthz and the logs. */
function noRulesDetails(cache: RuleCache): string {
  return `no flag rules available: the ${cache.health().store} flag store cannot be read and no recent rules are cached`;
}

type Prepared =
  | { ok: true; snapshot: RuleSnapshot; context: EvaluationContext }
  | { ok: false; response: HttpResponse };

/**
 * Auth, body and rules: what both endpoints do before evaluating. `key` shapes the error bodies of the single one.
 * Without a promise when nothing is to be waited for (a body in memory, rules within their TTL).
 */
function prepare(request: HttpRequest, deps: OfrepDeps, key: string | undefined): Eventually<Prepared> {
  const withKey = key === undefined ? {} : { key };
  if (deps.evaluationApiKey !== undefined && !presentsSecret(request.headers, deps.evaluationApiKey, true)) {
    return { ok: false, response: unauthorized() };
  }
  return andThen(readJsonBody(request, deps.bodyLimitBytes), (body): Eventually<Prepared> => {
    if (!body.ok) {
      const errorCode: OfrepErrorCode = body.status === 400 ? "PARSE_ERROR" : "GENERAL";
      return { ok: false, response: jsonResponse(body.status, { ...withKey, errorCode, errorDetails: body.message }) };
    }
    const read = contextOfBody(body.value);
    if (!read.ok) {
      return {
        ok: false,
        response: jsonResponse(400, { ...withKey, errorCode: read.code, errorDetails: read.details }),
      };
    }
    return andThen(deps.cache.current(), (snapshot): Prepared => {
      if (snapshot === undefined) {
        const details = noRulesDetails(deps.cache);
        return { ok: false, response: jsonResponse(500, { ...withKey, errorCode: "GENERAL", errorDetails: details }) };
      }
      return { ok: true, snapshot, context: read.context };
    });
  });
}

/** POST /ofrep/v1/evaluate/flags/{key} */
export function evaluateFlagRequest(request: HttpRequest, key: string, deps: OfrepDeps): Eventually<HttpResponse> {
  return andThen(prepare(request, deps, key), (prepared) => {
    if (!prepared.ok) return prepared.response;
    const at = deps.now();
    const result = evaluateKey(prepared.snapshot.set, key, prepared.context, at);
    deps.cache.usage?.countOne(result, at);
    if (!isFailure(result)) return jsonResponse(200, result);
    return jsonResponse(result.errorCode === "FLAG_NOT_FOUND" ? 404 : 400, result);
  });
}

/** One result as the bulk body carries it: its JSON and that text's hash, computed once per result object. */
interface SerializedResult {
  readonly json: string;
  readonly hash: number;
}

/**
 * The evaluator hands out frozen results made once per compiled flag (compileFlag), shared by every evaluation
 * that ends the same way: each is serialized and hashed the first time it is served, and a bulk answer is then
 * these texts joined. Keyed by the object, so a new rule-set version (new objects) starts afresh and the old
 * entries go with their set.
 */
const serializedResults = new WeakMap<EvaluationResult, SerializedResult>();

function serialized(result: EvaluationResult): SerializedResult {
  let found = serializedResults.get(result);
  if (found === undefined) {
    const json = JSON.stringify(result);
    found = { json, hash: textHash(json) };
    // Only a frozen result (all the evaluator returns) is sure to serialize the same way next time.
    if (Object.isFrozen(result)) serializedResults.set(result, found);
  }
  return found;
}

/** The last bulk answer of a rule set: the results it was made of, its body and its ETag. */
interface BulkAnswer {
  readonly results: readonly EvaluationResult[];
  readonly body: string;
  readonly etag: string;
}

/**
 * Per compiled rule set, the last bulk answer. An answer made of the same result objects is the same text, so it
 * is reused as it is: for a rule set whose flags do not depend on the context (no targeting, no split) the body and
 * its ETag are made once per rule-set version, and a client polling with the same context gets its last answer
 * back for fifty pointer comparisons.
 */
const lastBulk = new WeakMap<CompiledRuleSet, BulkAnswer>();

const sameResults = (a: readonly EvaluationResult[], b: readonly EvaluationResult[]): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * `{"flags":[...]}` exactly as JSON.stringify({ flags }) writes it, with its ETag. `evaluated` may be reused by the
 * caller afterwards: a new answer keeps a copy of it.
 */
function bulkAnswer(set: CompiledRuleSet, evaluated: readonly EvaluationResult[]): BulkAnswer {
  const last = lastBulk.get(set);
  if (last !== undefined && sameResults(last.results, evaluated)) return last;
  const results = evaluated.slice();
  const hashes = new Array<number>(results.length);
  // Joined rather than appended: join makes one flat string, where appending makes a rope that every write of
  // the answer would flatten again.
  const pieces = new Array<string>(results.length + 2);
  pieces[0] = '{"flags":[';
  for (let i = 0; i < results.length; i++) {
    const part = serialized(results[i] as EvaluationResult);
    pieces[i + 1] = i === 0 ? part.json : `,${part.json}`;
    hashes[i] = part.hash;
  }
  pieces[results.length + 1] = "]}";
  const answer = { results, body: pieces.join(""), etag: partsEtag(set.version, hashes) };
  lastBulk.set(set, answer);
  return answer;
}

const bulkScratch: EvaluationResult[] = [];

/** POST /ofrep/v1/evaluate/flags */
export function evaluateFlagsRequest(request: HttpRequest, deps: OfrepDeps): Eventually<HttpResponse> {
  return andThen(prepare(request, deps, undefined), (prepared) => bulkResponse(request, deps, prepared));
}

function bulkResponse(request: HttpRequest, deps: OfrepDeps, prepared: Prepared): HttpResponse {
  if (!prepared.ok) return prepared.response;
  const at = deps.now();
  // Evaluated into one array every request reuses (evaluation and bulkAnswer run without a wait in between): an
  // answer reused as it is then costs no allocation. A rollout's metadata is in the results already (compileFlag).
  const flags = evaluateAllInto(prepared.snapshot.set, prepared.context, at, bulkScratch);
  const { results, body, etag } = bulkAnswer(prepared.snapshot.set, flags);
  // One increment: by `results` when the answer was reused as it is, else by its ETag (usage.ts).
  deps.cache.usage?.countAll(results, at, etag);
  if (ifNoneMatchHits(request.headers.get("if-none-match"), etag)) {
    return { status: 304, headers: { ETag: etag }, body: null };
  }
  return { status: 200, headers: { "Content-Type": JSON_CONTENT_TYPE, ETag: etag }, body };
}
