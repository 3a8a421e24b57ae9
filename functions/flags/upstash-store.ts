// The flag store on Upstash Redis (REST): one hash of flags, a version counter and an audit stream, no TTLs.
/*
 * Keys (prefix default "greenlight:flags"):
 * - `<prefix>`          hash, field = flag key, value = the StoredFlag as JSON
 * - `<prefix>:version`  integer, +1 on every write; a flag's revision is the version its last write produced
 * - `<prefix>:audit`    stream, one entry per write (MAXLEN ~ auditMaxLen); every field value is JSON text
 * - `<prefix>:usage:seen`   sorted set, member = flag key, score = its last evaluation (ms); ZADD GT keeps the latest
 * - `<prefix>:usage:meta`   sorted set with one member, `countingSince` (ms); ZADD LT keeps the earliest
 * - `<prefix>:usage:<day>`  hash per UTC day (`2026-11-26`), field = `["<flag>","<variant>"]`, value = evaluations;
 *                           the one key with a TTL: EXPIREAT USAGE_DAYS_KEPT days after its day
 * Nothing else gets a TTL, and nothing lists keys (no KEYS/SCAN): every command names its keys.
 *
 * Reads: `version()` is one GET (the cache's cheap "anything new?"), `load()` one /multi-exec of GET version +
 * HGETALL so the flags and the version they belong to come from one instant, `get()` one HGET.
 * Usage (usage.ts): `recordUsage()` is one /multi-exec (HINCRBY per flag and variant, EXPIREAT, ZADD GT of the last
 * evaluations, ZADD LT of the counting start), so a flush lands whole or not at all; `readUsage()` one /multi-exec of
 * ZSCORE, ZRANGE and one HGETALL per day asked for. A delete also forgets the flag's last evaluation (ZREM).
 * Writes are one Lua script each (EVALSHA, EVAL when Redis answers NOSCRIPT). A /multi-exec would be atomic too,
 * but it cannot check anything first: over REST there is no WATCH spanning requests, so If-Match could not be
 * enforced without a lost-update race. The script compares the flag's revision with the preconditions, INCRs the
 * version, HSETs (or HDELs) the flag with revision = the new version and XADDs the audit entry, and says whether
 * the put created the flag, as one atomic step.
 *
 * The client may or may not JSON-parse what it reads (`automaticDeserialization`, on by default): every read here
 * accepts both forms, and audit fields are stored as JSON text so that parsing them is lossless (an actor "123"
 * stays a string either way). `createUpstashClient` builds a client that does not parse, fails fast and sends no
 * telemetry. Every failure to reach Upstash or to make sense of its answer is a StoreUnavailableError.
 *
 * Deadlines, two layers (an Upstash that accepts connections and never answers must not hold anything up: fetch has
 * no timeout of its own, and Node's gives up on headers only after 300 s):
 * - Each HTTP request carries `AbortSignal.timeout(timeoutMs)` (createUpstashClient's `signal` option, given as a
 *   function so that the client makes a fresh signal per request and, when it fires, rejects instead of resolving
 *   with the abort reason as if it were a result). The client creates it once per request, before its retry loop,
 *   so the first attempt and its retries share one deadline: the fetch is really cancelled (the socket closed) at
 *   most timeoutMs after the request began, plus at most one retry backoff (100 ms; the backoff sleep does not watch
 *   the signal, the attempt after it fails at once).
 * - Each store call races a timer of the same timeoutMs: a call never takes longer, whatever it sends (a write's
 *   EVALSHA then EVAL after NOSCRIPT is two requests) and whichever client it was given (one without the signal
 *   cannot cancel, but the caller is still answered in time).
 * A call that ran out of time rejects with a StoreUnavailableError saying Upstash did not answer within the deadline;
 * for a write, that it may or may not have been applied (the request may have reached Redis).
 * Edge-safe: @upstash/redis speaks fetch; AbortSignal.timeout and setTimeout exist in every runtime; no Node APIs.
 */
import { Redis } from "@upstash/redis";
import {
  auditLimit,
  causeMessage,
  checkFlag,
  checkKey,
  checkWriteOptions,
  DEFAULT_AUDIT_MAX_LEN,
  isProblem,
  positiveInteger,
  storedFlagOf,
} from "./store-errors.ts";
import {
  type AuditEntry,
  type Flag,
  type FlagStore,
  type RuleSet,
  StoreConflictError,
  type StoredFlag,
  StoreNotFoundError,
  StoreUnavailableError,
  USAGE_DAYS_KEPT,
  type UsageBatch,
  type UsageCount,
  type UsageQuery,
  type UsageReport,
  type WriteOptions,
  type WriteResult,
} from "./types.ts";
import { checkUsageBatch, usageDay, usageDays, usageReport } from "./usage.ts";

export const DEFAULT_UPSTASH_PREFIX = "greenlight:flags";
/** How long one request to Upstash (and one store call) may take; Upstash answers in single-digit ms when healthy. */
export const DEFAULT_UPSTASH_TIMEOUT_MS = 500;

export interface UpstashStoreOptions {
  /** Key prefix; default "greenlight:flags". */
  prefix?: string;
  /** Audit entries kept (approximately: Redis trims whole stream nodes); default 10000. */
  auditMaxLen?: number;
  /**
   * How long one store call may take before it fails as "Upstash did not answer in time". Default: the client's
   * request timeout when it was made by createUpstashClient, else DEFAULT_UPSTASH_TIMEOUT_MS.
   */
  timeoutMs?: number;
}

/** The request timeout each client made by createUpstashClient was given, so its store can use the same deadline. */
const clientTimeouts = new WeakMap<Redis, number>();

function checkTimeout(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

/** Whether `error` (or a cause of it) is a fetch cancelled by its AbortSignal: the request timeout fired. */
function isAbort(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current !== null && typeof current === "object" && depth < 4; depth++) {
    const { name } = current as { name?: unknown };
    if (name === "TimeoutError" || name === "AbortError") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/*
 * KEYS: hash, version, audit, usage:seen. ARGV: action ("put" | "delete"), field (the flag key), ifMatch ("-" =
 * none, else the allowed revisions separated by spaces, "" for none allowed), flag JSON (put), actor JSON, at JSON,
 * key JSON, audit max length, ifNoneMatch (the ruled-out revisions separated by spaces, "" for none), token label
 * JSON ("" for none).
 * Revisions are compared as numbers (tonumber of at most 16 digits is exact in Lua's doubles); 0 is "absent".
 * The stored JSON is assembled as text rather than re-encoded with cjson, which would turn an empty list into {}.
 * A value that does not decode has revision -1: writes without If-Match may replace it, none with If-Match match.
 * Answers {'ok', version, created (1 or 0)}: whether the flag existed is known only here, inside the atomic step.
 * A delete also drops the flag's last evaluation (usage:seen), so a flag made again under its key starts unused.
 */
const WRITE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[2])
local revision = 0
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and type(decoded.revision) == 'number' then
    revision = decoded.revision
  else
    revision = -1
  end
end
if ARGV[1] == 'delete' and not current then return {'missing'} end
local function listed(list)
  for item in string.gmatch(list, '%d+') do
    if tonumber(item) == revision then return true end
  end
  return false
end
if (ARGV[3] ~= '-' and not listed(ARGV[3])) or listed(ARGV[9]) then return {'conflict', revision} end
local version = redis.call('INCR', KEYS[2])
local fields = {'actor', ARGV[5], 'action', '"' .. ARGV[1] .. '"', 'key', ARGV[7], 'version', tostring(version), 'at', ARGV[6]}
if ARGV[10] ~= '' then
  table.insert(fields, 'token')
  table.insert(fields, ARGV[10])
end
if current then
  table.insert(fields, 'before')
  table.insert(fields, current)
end
if ARGV[1] == 'put' then
  local stored = '{"flag":' .. ARGV[4] .. ',"revision":' .. version .. ',"updatedAt":' .. ARGV[6] .. ',"updatedBy":' .. ARGV[5] .. '}'
  redis.call('HSET', KEYS[1], ARGV[2], stored)
  table.insert(fields, 'after')
  table.insert(fields, stored)
else
  redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[4], ARGV[2])
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', unpack(fields))
if current then return {'ok', version, 0} end
return {'ok', version, 1}
`;

const STREAM_ID = /^\d+-\d+$/;

const show = (value: unknown): string => JSON.stringify(value)?.slice(0, 80) ?? String(value);

/** A value read back: the client may have JSON-parsed it already (automaticDeserialization) or not. */
function decoded(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** The version counter's value as read: null before the first write; a string, or a number if parsed. */
function versionOf(value: unknown, where: string): number {
  if (value === null || value === undefined) return 0;
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number === "number" && Number.isSafeInteger(number) && number >= 0) return number;
  throw new StoreUnavailableError(`${where} holds ${show(value)}, not a non-negative integer`);
}

/** HGETALL as read: a flat [field, value, ...] list (raw), or an object / null (parsed by the client). */
function hashEntries(value: unknown): Array<[string, unknown]> {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) {
    const entries: Array<[string, unknown]> = [];
    for (let i = 0; i + 1 < value.length; i += 2) entries.push([String(value[i]), value[i + 1]]);
    return entries;
  }
  if (typeof value === "object") return Object.entries(value);
  throw new StoreUnavailableError(`HGETALL answered ${show(value)}, not a hash`);
}

/** XREVRANGE as read: [[id, [field, value, ...]], ...] (raw), or { id: { field: value } } (parsed by the client). */
function streamEntries(value: unknown): Array<[string, Record<string, unknown>]> {
  if (Array.isArray(value)) {
    return value.map((item): [string, Record<string, unknown>] => {
      const [id, fields] = Array.isArray(item) ? item : [];
      const record: Record<string, unknown> = {};
      if (Array.isArray(fields))
        for (let i = 0; i + 1 < fields.length; i += 2) record[String(fields[i])] = fields[i + 1];
      return [String(id), record];
    });
  }
  if (value !== null && typeof value === "object") {
    return Object.entries(value as Record<string, Record<string, unknown>>);
  }
  throw new StoreUnavailableError(`XREVRANGE answered ${show(value)}, not a stream range`);
}

/** An audit entry from its stream fields, or undefined when it is not one of ours. */
function auditEntryOf(id: string, raw: Record<string, unknown>): AuditEntry | undefined {
  // Raw fields are all JSON text; a parsing client has decoded them already (then `version` is a number).
  const fields =
    typeof raw.version === "string" ? Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, decoded(v)])) : raw;
  const { actor, token, action, key, version, at, before, after } = fields;
  if (typeof actor !== "string" || typeof key !== "string" || typeof at !== "string") return undefined;
  if (token !== undefined && typeof token !== "string") return undefined;
  if ((action !== "put" && action !== "delete") || !Number.isSafeInteger(version)) return undefined;
  const flagOf = (value: unknown): Flag | undefined => {
    if (value === undefined) return undefined;
    const stored = storedFlagOf(value, key);
    return isProblem(stored) ? undefined : stored.flag;
  };
  const beforeFlag = flagOf(before);
  const afterFlag = flagOf(after);
  return {
    id,
    at,
    actor,
    ...(token === undefined ? {} : { token }),
    action,
    key,
    version: version as number,
    ...(beforeFlag ? { before: beforeFlag } : {}),
    ...(afterFlag ? { after: afterFlag } : {}),
  };
}

/** Upstash's error text without the ", command was: [...]" tail (the whole script and flag JSON). */
const upstashMessage = (error: unknown): string => causeMessage(error).replace(/, command was: [\s\S]*$/, "");

/** A FlagStore over an @upstash/redis client (see createUpstashClient for one configured for it). */
export function createUpstashStore(redis: Redis, options: UpstashStoreOptions = {}): FlagStore {
  const prefix = options.prefix ?? DEFAULT_UPSTASH_PREFIX;
  if (typeof prefix !== "string" || prefix === "") {
    throw new TypeError(`prefix must be a non-empty string, got ${show(prefix)}`);
  }
  const maxLen = positiveInteger("auditMaxLen", options.auditMaxLen, DEFAULT_AUDIT_MAX_LEN);
  const timeoutMs = checkTimeout(
    "timeoutMs",
    options.timeoutMs ?? clientTimeouts.get(redis) ?? DEFAULT_UPSTASH_TIMEOUT_MS,
  );
  const hashKey = prefix;
  const versionKey = `${prefix}:version`;
  const auditKey = `${prefix}:audit`;
  const seenKey = `${prefix}:usage:seen`;
  const metaKey = `${prefix}:usage:meta`;
  const dayKey = (day: string) => `${prefix}:usage:${day}`;
  const script = redis.createScript<unknown>(WRITE_SCRIPT);

  /** The "no answer in time" message; `write` adds that the write's fate is unknown, and how to find out. */
  const timedOut = (what: string, write: boolean): string =>
    `Upstash Redis did not answer ${what} within ${timeoutMs} ms` +
    (write
      ? ": the write may or may not have been applied; read the flag (its revision) before retrying, or retry with " +
        "If-Match so that it applies only once"
      : "");

  /**
   * Runs one exchange with Upstash within `timeoutMs`; anything but our own verdicts becomes a
   * StoreUnavailableError. On the deadline the caller is answered at once; the request behind it is cancelled by
   * its own signal (createUpstashClient), and its late outcome, if any, is dropped by the race.
   */
  const call = async <T>(what: string, work: () => Promise<T>, write = false): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(timedOut(what, write))), timeoutMs);
    });
    try {
      return await Promise.race([work(), deadline]);
    } catch (error) {
      if (
        error instanceof StoreConflictError ||
        error instanceof StoreNotFoundError ||
        error instanceof StoreUnavailableError
      ) {
        throw error;
      }
      // The request's own signal fired (a hair before the race's timer): the same deadline, said the same way.
      if (isAbort(error)) throw new StoreUnavailableError(timedOut(what, write), { cause: error });
      throw new StoreUnavailableError(`Upstash Redis ${what} failed: ${upstashMessage(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  };

  /** A write's call: when it times out, the caller is told the write may or may not have been made. */
  const writeCall = <T>(what: string, work: () => Promise<T>): Promise<T> => call(what, work, true);

  const write = (action: "put" | "delete", key: string, flagJson: string, writeOptions: WriteOptions) =>
    writeCall(`${action} of flag "${key}"`, async () => {
      const at = new Date().toISOString();
      const { ifMatch, ifNoneMatch } = writeOptions;
      const args = [
        action,
        key,
        ifMatch === undefined ? "-" : [ifMatch].flat().join(" "),
        flagJson,
        JSON.stringify(writeOptions.actor),
        JSON.stringify(at),
        JSON.stringify(key),
        String(maxLen),
        (ifNoneMatch ?? []).join(" "),
        writeOptions.token === undefined ? "" : JSON.stringify(writeOptions.token),
      ];
      const reply = await script.exec([hashKey, versionKey, auditKey, seenKey], args);
      const [verdict, number, created] = Array.isArray(reply) ? reply : [];
      if (verdict === "missing") throw new StoreNotFoundError(key);
      if (verdict === "conflict") throw new StoreConflictError(key, writeOptions, Number(number));
      if (verdict !== "ok" || !Number.isSafeInteger(Number(number)) || (created !== 0 && created !== 1)) {
        throw new StoreUnavailableError(`the write script answered ${show(reply)}, not ["ok", version, 0 or 1]`);
      }
      return { version: Number(number), at, created: created === 1 };
    });

  return {
    kind: "upstash",

    version: () => call("GET version", async () => versionOf(await redis.get(versionKey), versionKey)),

    load: () =>
      call("load (MULTI GET version, HGETALL)", async (): Promise<RuleSet> => {
        const [rawVersion, rawHash] = (await redis.multi().get(versionKey).hgetall(hashKey).exec()) as unknown[];
        const flags: Array<[string, StoredFlag]> = [];
        for (const [field, value] of hashEntries(rawHash)) {
          const stored = storedFlagOf(decoded(value), field);
          // One bad value must not take every flag down: leave it out, say so; get() reports it in full.
          if (isProblem(stored))
            console.warn(`flag store: skipping field "${field}" of hash ${hashKey}: it ${stored.problem}`);
          else flags.push([field, stored]);
        }
        flags.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return { version: versionOf(rawVersion, versionKey), flags: Object.fromEntries(flags) };
      }),

    async get(key) {
      checkKey(key, "key");
      return call(`HGET of flag "${key}"`, async () => {
        const value = await redis.hget(hashKey, key);
        if (value === null || value === undefined) return undefined;
        const stored = storedFlagOf(decoded(value), key);
        if (isProblem(stored)) {
          throw new StoreUnavailableError(
            `field "${key}" of hash ${hashKey} ${stored.problem}: replace it with a put without ifMatch, or delete it`,
          );
        }
        return stored;
      });
    },

    async put(flag: Flag, writeOptions: WriteOptions): Promise<WriteResult> {
      checkFlag(flag);
      checkWriteOptions(writeOptions);
      const flagJson = JSON.stringify(flag);
      const { version, at, created } = await write("put", flag.key, flagJson, writeOptions);
      const stored: StoredFlag = {
        flag: JSON.parse(flagJson) as Flag,
        revision: version,
        updatedAt: at,
        updatedBy: writeOptions.actor,
      };
      return { version, stored, created };
    },

    async delete(key: string, writeOptions: WriteOptions): Promise<WriteResult> {
      checkKey(key, "key");
      checkWriteOptions(writeOptions);
      const { version } = await write("delete", key, "", writeOptions);
      return { version };
    },

    async audit(auditOptions = {}) {
      const limit = auditLimit(auditOptions.limit);
      const { before } = auditOptions;
      // An id this store never issued pages past everything (as a paged-out id would).
      if (before !== undefined && !STREAM_ID.test(before)) return [];
      return call("XREVRANGE audit", async () => {
        const end = before === undefined ? "+" : `(${before}`;
        const entries: AuditEntry[] = [];
        for (const [id, fields] of streamEntries(await redis.xrevrange(auditKey, end, "-", limit))) {
          const entry = auditEntryOf(id, fields);
          if (entry) entries.push(entry);
          else console.warn(`flag store: skipping audit entry ${id} of stream ${auditKey}: not a flag write record`);
        }
        return entries;
      });
    },

    async recordUsage(batch: UsageBatch): Promise<void> {
      checkUsageBatch(batch);
      if (batch.counts.length === 0) return;
      const day = usageDay(batch.at);
      const key = dayKey(day);
      const expiresAt = Math.floor(Date.parse(`${day}T00:00:00Z`) / 1000) + USAGE_DAYS_KEPT * 86_400;
      const keys = [...new Set(batch.counts.map((row) => row.key))];
      await call("usage flush (MULTI HINCRBY, EXPIREAT, ZADD)", async () => {
        const transaction = redis.multi();
        for (const row of batch.counts) transaction.hincrby(key, JSON.stringify([row.key, row.variant]), row.count);
        transaction.expireat(key, expiresAt);
        const [first, ...rest] = keys.map((member) => ({ score: batch.at, member }));
        if (first) transaction.zadd(seenKey, { gt: true }, first, ...rest);
        transaction.zadd(metaKey, { lt: true }, { score: batch.countingSince, member: COUNTING_SINCE });
        await transaction.exec();
      });
    },

    async readUsage(query: UsageQuery = {}): Promise<UsageReport> {
      const days = usageDays(query.now ?? Date.now(), query.days ?? 0);
      return call("usage read (MULTI ZSCORE, ZRANGE, HGETALL)", async () => {
        const transaction = redis.multi().zscore(metaKey, COUNTING_SINCE).zrange(seenKey, 0, -1, { withScores: true });
        for (const day of days) transaction.hgetall(dayKey(day));
        const [since, seen, ...hashes] = (await transaction.exec()) as unknown[];
        const pairs = Array.isArray(seen) ? seen : [];
        const lastEvaluated: [string, number][] = [];
        for (let i = 0; i + 1 < pairs.length; i += 2) {
          const at = Number(pairs[i + 1]);
          if (Number.isSafeInteger(at)) lastEvaluated.push([String(pairs[i]), at]);
        }
        const counts: UsageCount[] = [];
        for (const hash of hashes) {
          for (const [field, value] of hashEntries(hash)) {
            const parsed = decoded(field);
            const count = Number(value);
            if (!Array.isArray(parsed) || parsed.length !== 2 || !Number.isSafeInteger(count)) continue;
            counts.push({ key: String(parsed[0]), variant: String(parsed[1]), count });
          }
        }
        const start = since === null || since === undefined ? undefined : Number(since);
        return usageReport(
          lastEvaluated,
          counts,
          start !== undefined && Number.isSafeInteger(start) ? start : undefined,
        );
      });
    },
  };
}

/** The member of `<prefix>:usage:meta` whose score is the time counting began. */
const COUNTING_SINCE = "countingSince";

export interface UpstashClientOptions {
  url: string;
  token: string;
  /** Retries of a request that could not be sent (network errors), 50 ms then 100 ms apart; default 2. */
  retries?: number;
  /**
   * Deadline of one HTTP request, its retries included: the fetch is aborted when it passes (default 500 ms). Stores
   * over this client use it as their per-call deadline too.
   */
  timeoutMs?: number;
}

/**
 * An @upstash/redis client set up for the store: values come back as stored (no automatic JSON parsing), a small
 * retry budget so an unreachable Upstash fails in ~150 ms rather than after the client's default ~1.9 s of
 * backoff, no telemetry headers, no auto-pipelining (each store call is its own request), and a deadline that
 * aborts every request still unanswered after `timeoutMs` (see the file's header). The deadline covers every user
 * of the client, the abuse limits (@upstash/ratelimit) included: none of their requests outlives it either.
 */
export function createUpstashClient(options: UpstashClientOptions): Redis {
  const retries = options.retries ?? 2;
  const timeoutMs = checkTimeout("timeoutMs", options.timeoutMs ?? DEFAULT_UPSTASH_TIMEOUT_MS);
  const client = new Redis({
    url: options.url,
    token: options.token,
    automaticDeserialization: false,
    enableTelemetry: false,
    enableAutoPipelining: false,
    retry: retries === 0 ? false : { retries, backoff: (attempt) => 50 * 2 ** attempt },
    // A function, not a signal: called once per request (a fresh deadline each), and an aborted request then
    // rejects. Given a plain AbortSignal, @upstash/redis 1.39 would instead resolve with the abort reason as the
    // command's result (pkg/http.ts), and one signal would serve every request made after it fired.
    signal: () => AbortSignal.timeout(Math.ceil(timeoutMs)), // whole ms: it refuses fractions
  });
  clientTimeouts.set(client, timeoutMs);
  return client;
}
