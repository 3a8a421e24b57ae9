// The flags backend of `--url`: a small client of a flag server's admin API and OFREP endpoints.
import { isObject } from "../../../functions/contract/objects.ts";
import type { AuditEntry, EvaluationContext, EvaluationResult, StoredFlag } from "../../../functions/flags/types.ts";
import { CliError } from "../errors.ts";
import {
  conflictMessage,
  type FlagList,
  type FlagsBackend,
  notFoundHint,
  ProblemsError,
  type PutOutcome,
  type StaleFlag,
  type StaleReport,
} from "./backend.ts";

export interface RemoteOptions {
  /** The server's base URL, e.g. http://127.0.0.1:8081 (a path prefix is kept). */
  url: string;
  token?: string;
  actor: string;
  /** Sent with OFREP requests when the server wants an evaluation API key. */
  apiKey?: string;
  /** Per request; a CLI should not hang on a server that accepted the connection but never answers. */
  timeoutMs?: number;
}

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

interface RequestOptions {
  body?: unknown;
  admin?: boolean;
  write?: boolean;
  ifMatch?: number;
}

/** The server's own words: `error`, OFREP's `errorDetails`, or a short slice of a non-JSON body. */
function serverMessage(answer: Answer): string {
  const body = answer.body;
  if (isObject(body)) {
    for (const field of ["error", "errorDetails", "message"]) {
      const value = body[field];
      // One line: a 400's `error` lists every problem, one a line; those are printed separately.
      if (typeof value === "string" && value) return value.split("\n")[0] as string;
    }
  }
  const text = answer.text.trim().replace(/\s+/g, " ");
  return text ? text.slice(0, 200) : `HTTP ${answer.status}`;
}

/** A checked `--url`: http(s) only, without a trailing slash. */
export function parseServerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--url ${raw} is not a URL: pass the flag server's base URL, like http://127.0.0.1:8081`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(
      `--url ${raw} is not an http(s) URL: pass the flag server's base URL, like http://127.0.0.1:8081`,
    );
  }
  if (url.search || url.hash) {
    throw new CliError(`--url ${raw} has a query or fragment: pass the flag server's base URL alone`);
  }
  return url.href.replace(/\/+$/, "");
}

/** fetch's "fetch failed" hides the reason in `cause`; dig out the errno code a user can act on. */
function networkReason(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return error instanceof Error ? error.message : String(error);
}

export function createRemoteBackend(options: RemoteOptions): FlagsBackend {
  const base = parseServerUrl(options.url);
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function request(method: string, path: string, init: RequestOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    if (init.admin && options.token) headers.authorization = `Bearer ${options.token}`;
    if (!init.admin && options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    if (init.write) headers["x-greenlight-actor"] = options.actor;
    if (init.ifMatch !== undefined) headers["if-match"] = `"${init.ifMatch}"`;
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers,
        body: init.body === undefined ? null : JSON.stringify(init.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const reason = networkReason(error);
      if (reason === "TimeoutError" || (error as Error).name === "TimeoutError") {
        throw new CliError(`the flag server at ${base} did not answer within ${timeoutMs / 1000}s: check --url`);
      }
      throw new CliError(
        `cannot reach the flag server at ${base} (${reason}): start one with \`greenlight flags serve\`, or pass the right --url`,
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text };
  }

  /** The one-line error for an answer no caller handled; `what` says what was asked, for context. */
  function failure(answer: Answer, what: string, admin: boolean): CliError {
    const said = serverMessage(answer);
    if (answer.status === 401 && !admin) {
      return new CliError(
        `the flag server refused the evaluation API key (${said}): pass --api-key or set GREENLIGHT_FLAGS_API_KEY`,
      );
    }
    if (answer.status === 401) {
      return options.token
        ? new CliError(`the flag server refused the admin token (${said}): pass --token or set GREENLIGHT_ADMIN_TOKEN`)
        : new CliError(`the flag server wants an admin token (${said}): pass --token or set GREENLIGHT_ADMIN_TOKEN`);
    }
    // A read-scope token on a write: the server names the scope needed (a 403 without it means the API is off).
    if (answer.status === 403 && admin && isObject(answer.body) && typeof answer.body.requiredScope === "string") {
      return new CliError(
        `the flag server refused the admin token for this (${said}): pass --token with a token of scope ${answer.body.requiredScope}`,
      );
    }
    if (answer.status === 403 && admin) {
      return new CliError(
        `the flag server at ${base} has its admin API turned off (${said}): restart it with GREENLIGHT_ADMIN_TOKEN set, and pass that token here`,
      );
    }
    if (answer.status === 400 && isObject(answer.body) && Array.isArray(answer.body.problems)) {
      const problems = answer.body.problems.filter(isObject).map((problem) => ({
        path: String(problem.path ?? ""),
        message: String(problem.message ?? ""),
      }));
      const count = `${problems.length} problem${problems.length === 1 ? "" : "s"} above`;
      return new ProblemsError(`the flag server rejected ${what} (${count}): nothing was written`, problems);
    }
    if (answer.status === 404 && admin && !isObject(answer.body)) {
      return new CliError(
        `${base} answered 404 to ${what} without a JSON body: is --url the base URL of a greenlight flag server?`,
      );
    }
    return new CliError(`the flag server at ${base} answered ${answer.status} to ${what}: ${said}`);
  }

  function conflict(answer: Answer, key: string, ifMatch: number | undefined): CliError {
    const current = isObject(answer.body) ? answer.body.currentRevision : undefined;
    return new CliError(conflictMessage(key, ifMatch, typeof current === "number" ? current : undefined));
  }

  async function notFound(key: string, answer: Answer): Promise<CliError> {
    return new CliError(`${serverMessage(answer)} at ${base}: ${notFoundHint(key, await backend.keys())}`);
  }

  const flagPath = (key: string) => `/admin/flags/${encodeURIComponent(key)}`;

  const backend: FlagsBackend = {
    where: base,

    async list(): Promise<FlagList> {
      const answer = await request("GET", "/admin/flags", { admin: true });
      if (answer.status !== 200 || !isObject(answer.body) || !Array.isArray(answer.body.flags)) {
        throw failure(answer, "GET /admin/flags", true);
      }
      return { version: Number(answer.body.version ?? 0), flags: answer.body.flags as StoredFlag[] };
    },

    async get(key) {
      const answer = await request("GET", flagPath(key), { admin: true });
      if (answer.status === 404 && isObject(answer.body)) throw await notFound(key, answer);
      if (answer.status !== 200 || !isObject(answer.body)) throw failure(answer, `GET ${flagPath(key)}`, true);
      return answer.body as unknown as StoredFlag;
    },

    async put(flag, ifMatch): Promise<PutOutcome> {
      const answer = await request("PUT", flagPath(flag.key), {
        admin: true,
        write: true,
        body: flag,
        ...(ifMatch === undefined ? {} : { ifMatch }),
      });
      if (answer.status === 412) throw conflict(answer, flag.key, ifMatch);
      if ((answer.status !== 200 && answer.status !== 201) || !isObject(answer.body)) {
        throw failure(answer, `PUT ${flagPath(flag.key)}`, true);
      }
      return {
        version: Number(answer.body.version),
        flag: answer.body.flag as StoredFlag,
        created: answer.status === 201,
      };
    },

    async remove(key, ifMatch) {
      const answer = await request("DELETE", flagPath(key), {
        admin: true,
        write: true,
        ...(ifMatch === undefined ? {} : { ifMatch }),
      });
      if (answer.status === 412) throw conflict(answer, key, ifMatch);
      if (answer.status === 404 && isObject(answer.body)) throw await notFound(key, answer);
      if (answer.status !== 200 || !isObject(answer.body)) throw failure(answer, `DELETE ${flagPath(key)}`, true);
      return { version: Number(answer.body.version) };
    },

    async audit(limit): Promise<AuditEntry[]> {
      const query = limit === undefined ? "" : `?limit=${limit}`;
      const answer = await request("GET", `/admin/audit${query}`, { admin: true });
      if (answer.status !== 200 || !isObject(answer.body) || !Array.isArray(answer.body.entries)) {
        throw failure(answer, "GET /admin/audit", true);
      }
      return answer.body.entries as AuditEntry[];
    },

    async stale(query = {}): Promise<StaleReport> {
      const params = new URLSearchParams();
      if (query.days !== undefined) params.set("days", String(query.days));
      if (query.unusedDays !== undefined) params.set("unusedDays", String(query.unusedDays));
      const path = `/admin/stale${params.size > 0 ? `?${params}` : ""}`;
      const answer = await request("GET", path, { admin: true });
      if (answer.status !== 200 || !isObject(answer.body) || !Array.isArray(answer.body.flags)) {
        throw failure(answer, "GET /admin/stale", true);
      }
      // A server from before usage counting answers the flags alone.
      const usage = isObject(answer.body.usage) ? (answer.body.usage as unknown as StaleReport["usage"]) : undefined;
      return { flags: answer.body.flags as StaleFlag[], ...(usage ? { usage } : {}) };
    },

    async evaluate(key, context: EvaluationContext): Promise<EvaluationResult> {
      const path = `/ofrep/v1/evaluate/flags/${encodeURIComponent(key)}`;
      const answer = await request("POST", path, { body: { context } });
      // OFREP answers evaluation errors (400, 404) with a body that says which; those are results, not failures.
      if (isObject(answer.body) && (typeof answer.body.errorCode === "string" || "value" in answer.body)) {
        return { key, ...answer.body } as EvaluationResult;
      }
      throw failure(answer, `POST ${path}`, false);
    },

    async evaluateAll(context: EvaluationContext): Promise<EvaluationResult[]> {
      const answer = await request("POST", "/ofrep/v1/evaluate/flags", { body: { context } });
      if (answer.status === 200 && isObject(answer.body) && Array.isArray(answer.body.flags)) {
        return answer.body.flags as EvaluationResult[];
      }
      throw failure(answer, "POST /ofrep/v1/evaluate/flags", false);
    },

    async controlRollout(key, control, controlOptions = {}) {
      const path = `${flagPath(key)}/rollout/${control}`;
      const { reason, ifMatch } = controlOptions;
      const answer = await request("POST", path, {
        admin: true,
        write: true,
        ...(reason === undefined ? {} : { body: { reason } }),
        ...(ifMatch === undefined ? {} : { ifMatch }),
      });
      if (answer.status === 412) throw conflict(answer, key, ifMatch);
      const noRoute = isObject(answer.body) && String(answer.body.error ?? "").startsWith("no route");
      if (answer.status === 404 && noRoute) {
        throw new CliError(`${base} has no rollout controls (${serverMessage(answer)}): upgrade the flag server`);
      }
      if (answer.status === 404 && isObject(answer.body) && answer.body.kind === undefined) {
        throw await notFound(key, answer);
      }
      if (answer.status === 409 || answer.status === 404) throw new CliError(serverMessage(answer));
      if (answer.status !== 200 || !isObject(answer.body)) throw failure(answer, `POST ${path}`, true);
      return { flag: answer.body.flag as StoredFlag, summary: String(answer.body.summary ?? control) };
    },

    async keys() {
      try {
        if (options.token) return (await backend.list()).flags.map((stored) => stored.flag.key);
        return (await backend.evaluateAll({})).map((result) => result.key);
      } catch {
        return [];
      }
    },
  };
  return backend;
}
