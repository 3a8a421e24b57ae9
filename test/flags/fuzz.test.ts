// Fuzzes the flag API: 100k seeded OFREP and admin requests, random and mutated, against worlds of 200 requests each
// (a memory or file store seeded with TEST_FLAGS and generated flags, admin tokens of both scopes and one that
// expires, an API key, abuse limits, store outages). Most go straight to the HTTP core (createFlagCore) as the
// adapters would hand them over; one world in twelve goes through the real Node adapter (createFlagsListener on
// node:http). Every answer is checked by fuzz-oracle.ts: no throw or hang, no 500 (but OFREP's documented "no flag
// rules available" once the store has failed and nothing is cached), 503 only while the store fails, JSON bodies,
// OFREP shapes, CORS, the admin token model, and the store unchanged by every refused write and changed by one
// version and one audit entry, with the token's label, by every accepted one.
//   FUZZ_SEED=<n>     another (still reproducible) run
//   FUZZ_RUNS=<n>     how many requests (npm run fuzz:flags: a million)
//   FUZZ_ONLY=<index> replays the world of that case up to it, and reports that case alone
//   FUZZ_STRICT=1     known findings (below) fail the run too
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuleCache, type RuleCache } from "../../functions/flags/cache.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { createFlagCore, type FlagHttpOptions } from "../../functions/flags/http/handler.ts";
import { createFlagsListener } from "../../functions/flags/http/node.ts";
import { memoryLimits } from "../../functions/flags/limits.ts";
import { type FlagStore, StoreUnavailableError } from "../../functions/flags/types.ts";
import { validateFlag } from "../../functions/flags/validate.ts";
import type { HttpCore, HttpRequest, HttpResponse } from "../../functions/http/message.ts";
import type { NodeListener } from "../../functions/http/node.ts";
import {
  buildCase,
  type FuzzCase,
  fillPlaceholders,
  type HeaderLine,
  makePools,
  type Pools,
  type WorldConfig,
  worldConfig,
} from "./fuzz-cases.ts";
import {
  adapterUrl,
  check,
  coreHeaderView,
  nodeHeaderView,
  type Problem,
  type Reply,
  type RouteModel,
  routeOf,
  type StoreView,
} from "./fuzz-oracle.ts";
import { createMemoryStore } from "./memory-store.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x6f726570);
const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);
const ONLY = process.env.FUZZ_ONLY === undefined ? undefined : Number(process.env.FUZZ_ONLY);
const STRICT = process.env.FUZZ_STRICT === "1";
/** Requests per world: a world's state (store, cache, limits, clock) carries from one to the next. */
const BLOCK = 200;
/** A request unanswered for this long counts as a hang (an answer that took longer than SLOW_MS, as a stall). */
const HANG_MS = 10_000;
const SLOW_MS = 1_000;
/** Failure messages kept (the rest are counted): a bug hit on every case must not fill a million-case run's memory. */
const MAX_FAILURES = 500;

/**
 * Findings in product code, written up for the lead engineer and tolerated here so the suite stays green. Each
 * matches its own signature only; once one is fixed, remove its entry (FUZZ_STRICT=1 shows what they still catch).
 */
interface KnownFinding {
  id: string;
  matches: (problem: Problem, route: RouteModel, status: number) => boolean;
}

const KNOWN_FINDINGS: readonly KnownFinding[] = [];

// ---------------------------------------------------------------------------------------------------------------
// Worlds.

/** The store with the campaign's fault switches: every call fails while `down`, or the next `count` calls fail. */
interface FaultyStore extends FlagStore {
  down: boolean;
  /** Calls failed on purpose so far. */
  fired: number;
  failNext(count: number): void;
  clearPending(): void;
}

function faulty(inner: FlagStore): FaultyStore {
  let pending = 0;
  const gate = (): void => {
    if (store.down || pending > 0) {
      if (!store.down) pending--;
      store.fired++;
      throw new StoreUnavailableError(store.down ? "fuzz: the store is down" : "fuzz: one call fails");
    }
  };
  const store: FaultyStore = {
    kind: inner.kind,
    down: false,
    fired: 0,
    failNext(count) {
      pending += count;
    },
    clearPending() {
      pending = 0;
    },
    version: async () => {
      gate();
      return inner.version();
    },
    load: async () => {
      gate();
      return inner.load();
    },
    get: async (key) => {
      gate();
      return inner.get(key);
    },
    put: async (flag, options) => {
      gate();
      return inner.put(flag, options);
    },
    delete: async (key, options) => {
      gate();
      return inner.delete(key, options);
    },
    audit: async (options) => {
      gate();
      return inner.audit(options);
    },
  };
  return store;
}

interface World {
  config: WorldConfig;
  clock: { now: number };
  inner: FlagStore;
  store: FaultyStore;
  cache: RuleCache;
  send: (fuzzCase: FuzzCase, headers: HeaderLine[]) => Promise<Reply>;
  view: StoreView;
  lastEtag: string | undefined;
  downFor: number;
  errors: string[];
  close: () => Promise<void>;
}

async function snapshot(store: FlagStore): Promise<StoreView> {
  const ruleSet = await store.load();
  const audit = await store.audit({ limit: 2 });
  return {
    version: ruleSet.version,
    flags: ruleSet.flags,
    audit,
    // The store hands out its state in a stable order, so its JSON text is the state's fingerprint.
    text: JSON.stringify({ version: ruleSet.version, flags: ruleSet.flags, audit }),
  };
}

/** Seed flags the validator accepts (the generator aims for valid ones, and a few miss). */
function validSeed(config: WorldConfig): WorldConfig["seed"] {
  return config.seed.flatMap((flag) => {
    const checked = validateFlag(flag);
    return checked.ok ? [checked.flag] : [];
  });
}

let httpServer: http.Server | undefined;
let httpPort = 0;
let httpListener: NodeListener | undefined;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

async function createWorld(config: WorldConfig): Promise<World> {
  const clock = { now: config.startAt };
  const now = (): number => clock.now;
  let dir: string | undefined;
  let inner: FlagStore;
  if (config.store === "file") {
    dir = await mkdtemp(join(tmpdir(), "greenlight-fuzz-"));
    inner = createFileStore({ dir, seed: validSeed(config) });
  } else {
    inner = createMemoryStore({ seed: validSeed(config), now });
  }
  const store = faulty(inner);
  const cache = createRuleCache(store, { ttlMs: config.cacheTtlMs, maxStaleMs: config.maxStaleMs, now });
  const errors: string[] = [];
  const options: FlagHttpOptions = {
    store,
    cache,
    now,
    onError: (error) => errors.push(error instanceof Error ? (error.stack ?? error.message) : String(error)),
    ...(config.tokens.length === 0
      ? {}
      : config.singleToken
        ? { adminToken: config.tokens[0]?.token ?? "" }
        : { adminTokens: config.tokens }),
    ...(config.apiKey === undefined ? {} : { evaluationApiKey: config.apiKey }),
    ...(config.limits
      ? {
          limits: memoryLimits(
            {
              ofrep: { requests: 40, windowMs: 10_000 },
              admin: { requests: 30, windowMs: 10_000 },
              authFailures: { requests: 6, windowMs: 60_000 },
            },
            now,
          ),
        }
      : {}),
    ...(config.corsOrigins === undefined ? {} : { corsOrigins: config.corsOrigins }),
    ...(config.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: config.bodyLimitBytes }),
  };
  let send: World["send"];
  if (config.transport === "http") {
    httpListener = createFlagsListener(options);
    send = sendHttp;
  } else {
    const core = createFlagCore(options);
    send = (fuzzCase, headers) => sendCore(core, fuzzCase, headers);
  }
  return {
    config,
    clock,
    inner,
    store,
    cache,
    send,
    view: await snapshot(inner),
    lastEtag: undefined,
    downFor: 0,
    errors,
    close: async () => {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Transports.

function toReply(response: HttpResponse): Reply {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) headers[name.toLowerCase()] = value;
  return { status: response.status, headers, body: response.body ?? "" };
}

function streamOf(body: Uint8Array, chunks: readonly number[]): ReadableStream<Uint8Array> {
  let offset = 0;
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const size = chunks[next++];
      if (size === undefined) {
        controller.close();
        return;
      }
      controller.enqueue(body.subarray(offset, offset + size));
      offset += size;
    },
  });
}

/** As the adapters hand requests over: upper-case method, the request-target under a fixed origin (adapterUrl). */
function sendCore(core: HttpCore, fuzzCase: FuzzCase, headers: HeaderLine[]) {
  const view = coreHeaderView(headers);
  const body = fuzzCase.body;
  const request: HttpRequest = {
    method: fuzzCase.method.toUpperCase(),
    url: adapterUrl(fuzzCase.target),
    headers: { get: view },
    ...(body === undefined
      ? {}
      : fuzzCase.chunks === undefined
        ? { bodyBytes: body }
        : { body: streamOf(body, fuzzCase.chunks) }),
    ...(fuzzCase.clientAddress === undefined ? {} : { clientAddress: fuzzCase.clientAddress }),
  };
  return Promise.resolve(core(request)).then(toReply);
}

/** What node:http's client will send: a token method, a target of bytes 0x21-0xff, header values without controls. */
function httpForm(fuzzCase: FuzzCase, headers: readonly HeaderLine[]) {
  const method = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(fuzzCase.method) ? fuzzCase.method.toUpperCase() : "FOO";
  const target =
    fuzzCase.target === ""
      ? "/"
      : [...fuzzCase.target]
          .map((char) =>
            /[\u0021-\u00ff]/.test(char)
              ? char
              : [...Buffer.from(char)].map((byte) => `%${byte.toString(16)}`).join(""),
          )
          .join("");
  const lines = headers
    .filter(({ name }) => name.toLowerCase() !== "content-length")
    .map(({ name, value }) => ({
      name,
      value: Buffer.from(value, "utf8")
        .toString("latin1")
        .replace(/[^\t\x20-\x7e\x80-\xff]/g, "?"),
    }));
  return { method, target, lines };
}

function sendHttp(fuzzCase: FuzzCase, headers: HeaderLine[]): Promise<Reply> {
  const { method, target, lines } = httpForm(fuzzCase, headers);
  const outgoing: Record<string, string | string[]> = {};
  for (const { name, value } of lines) {
    const existing = outgoing[name.toLowerCase()];
    outgoing[name.toLowerCase()] = existing === undefined ? value : [existing, value].flat();
  }
  const body = fuzzCase.body;
  const chunkedByDefault = method === "POST" || method === "PUT" || method === "PATCH";
  if (body !== undefined && !(fuzzCase.chunked && chunkedByDefault)) outgoing["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    let settled = false;
    const request = http.request(
      { host: "127.0.0.1", port: httpPort, method, path: target, agent, headers: outgoing },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", (error) => {
          if (!settled) reject(error);
        });
        response.on("end", () => {
          settled = true;
          const replyHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) replyHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
          }
          const text = Buffer.concat(chunks).toString("utf8");
          // node:http's own refusals (lib/_http_server.js) carry no body and no Content-Type.
          const fromServer =
            (response.statusCode === 400 || response.statusCode === 431) &&
            text === "" &&
            replyHeaders["content-type"] === undefined;
          resolve({ status: response.statusCode ?? 0, headers: replyHeaders, body: text, fromServer });
        });
      },
    );
    request.setTimeout(HANG_MS, () => request.destroy(new Error(`no answer within ${HANG_MS} ms`)));
    request.on("error", (error) => {
      if (!settled) reject(error);
    });
    request.end(body === undefined ? undefined : Buffer.from(body));
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------------------------
// The run.

interface Stats {
  requests: number;
  /** Milliseconds spent waiting for answers, by transport. */
  waiting: { core: number; http: number };
  statuses: Map<string, number>;
  writes: number;
  faults: number;
  slowest: { ms: number; where: string }[];
  known: Map<string, { count: number; example: string }>;
  bytes: number;
}

function note(stats: Stats, key: string): void {
  stats.statuses.set(key, (stats.statuses.get(key) ?? 0) + 1);
}

async function runCase(world: World, fuzzCase: FuzzCase, stats: Stats, failures: string[]): Promise<void> {
  const { config, store } = world;
  if (world.downFor > 0 && --world.downFor === 0) store.down = false;
  if (fuzzCase.fault?.kind === "down") {
    store.down = true;
    world.downFor = fuzzCase.fault.cases;
  } else if (fuzzCase.fault?.kind === "up") {
    store.down = false;
    world.downFor = 0;
  } else if (fuzzCase.fault?.kind === "fail-next") store.failNext(fuzzCase.fault.count);

  const revision = fuzzCase.writeKey === undefined ? 0 : (world.view.flags[fuzzCase.writeKey]?.revision ?? 0);
  const headers = fuzzCase.headers.map(({ name, value }) => ({
    name,
    value: fillPlaceholders(value, revision, world.lastEtag),
  }));
  const http = config.transport === "http";
  const sent = http ? httpForm(fuzzCase, headers) : undefined;
  const method = sent ? sent.method : fuzzCase.method.toUpperCase();
  const url = adapterUrl(sent ? sent.target : fuzzCase.target);
  const view = http ? nodeHeaderView(sent?.lines ?? []) : coreHeaderView(headers);
  const where =
    `FUZZ_SEED=${SEED} FUZZ_ONLY=${fuzzCase.index} (${fuzzCase.family}, ${config.transport}, ${config.store} store` +
    `${config.faults ? ", faults" : ""}${config.limits ? ", limits" : ""})`;
  const describeInput = (): string =>
    `${fuzzCase.describe()}${headers.some((line, at) => line.value !== fuzzCase.headers[at]?.value) ? `; filled in: ${JSON.stringify(headers.map((line) => `${line.name}: ${line.value}`)).slice(0, 300)}` : ""}`;

  const now = world.clock.now;
  const firedBefore = store.fired;
  const errorsBefore = world.errors.length;
  const started = performance.now();
  let reply: Reply;
  try {
    reply = await withTimeout(world.send(fuzzCase, headers), HANG_MS);
  } catch (error) {
    failures.push(`${where}: no answer: ${(error as Error).message}; input: ${describeInput()}`);
    world.clock.now += fuzzCase.clockStep;
    store.clearPending();
    return;
  }
  const ms = performance.now() - started;
  stats.waiting[config.transport] += ms;
  stats.requests++;
  stats.bytes += fuzzCase.body?.length ?? 0;
  if (ms > (stats.slowest.at(-1)?.ms ?? 0) || stats.slowest.length < 5) {
    stats.slowest.push({ ms, where: `${fuzzCase.index} ${method} ${fuzzCase.target.slice(0, 80)}` });
    stats.slowest.sort((a, b) => b.ms - a.ms).splice(5);
  }
  const faults = store.fired - firedBefore;
  store.clearPending();
  stats.faults += faults;

  // The store after the request; a full snapshot only when a write could have changed it.
  const before = world.view;
  let after = before;
  const version = await world.inner.version();
  const head = (await world.inner.audit({ limit: 1 }))[0]?.id;
  if (method === "PUT" || method === "DELETE" || version !== before.version || head !== before.audit[0]?.id) {
    after = await snapshot(world.inner);
  }
  world.view = after;
  const etag = reply.headers.etag;
  if (etag !== undefined && routeOf(method, url).kind === "endpoint" && url.includes("/ofrep/")) world.lastEtag = etag;

  const { problems, wrote, route } = check({
    config,
    transport: config.transport,
    method,
    url,
    view,
    body: fuzzCase.body,
    clientAddress: http ? "127.0.0.1" : fuzzCase.clientAddress,
    reply,
    before,
    after,
    faults,
    faultedEver: store.fired > 0,
    cacheUnavailable: world.cache.health().status === "unavailable",
    now,
    errors: world.errors.slice(errorsBefore),
  });
  if (ms > SLOW_MS) problems.push({ code: "slow", message: `answered after ${ms.toFixed(0)} ms` });
  if (wrote) stats.writes++;
  note(stats, `${fuzzCase.family} ${reply.status}`);
  for (const problem of problems) {
    const known = STRICT ? undefined : KNOWN_FINDINGS.find((finding) => finding.matches(problem, route, reply.status));
    if (known) {
      const seen = stats.known.get(known.id) ?? { count: 0, example: `${where}: ${problem.message}` };
      stats.known.set(known.id, { ...seen, count: seen.count + 1 });
      continue;
    }
    failures.push(
      failures.length >= MAX_FAILURES
        ? ""
        : `${where}: [${problem.code}] ${problem.message}; answer ${reply.status} ${reply.body.slice(0, 200)}; ` +
            `input: ${describeInput()}`,
    );
  }
  world.clock.now += fuzzCase.clockStep;
}

let pools: Pools;

beforeAll(async () => {
  pools = makePools(SEED);
  httpServer = http.createServer((req, res) => {
    if (httpListener) httpListener(req, res);
    else res.end();
  });
  await new Promise<void>((resolve) => httpServer?.listen(0, "127.0.0.1", resolve));
  httpPort = (httpServer.address() as AddressInfo).port;
});

afterAll(async () => {
  agent.destroy();
  httpServer?.closeAllConnections();
  await new Promise<void>((resolve) => (httpServer ? httpServer.close(() => resolve()) : resolve()));
});

describe("flag API fuzz", () => {
  it(
    `answers ${ONLY === undefined ? RUNS : 1} random and mutated OFREP and admin requests within every invariant`,
    async () => {
      const failures: string[] = [];
      const stats: Stats = {
        requests: 0,
        waiting: { core: 0, http: 0 },
        statuses: new Map(),
        writes: 0,
        faults: 0,
        slowest: [],
        known: new Map(),
        bytes: 0,
      };
      const first = ONLY === undefined ? 0 : Math.floor(ONLY / BLOCK);
      const last = ONLY === undefined ? Math.ceil(RUNS / BLOCK) - 1 : first;
      const started = performance.now();
      const transports = { core: 0, http: 0, file: 0 };
      for (let block = first; block <= last; block++) {
        const config = worldConfig(SEED, block, pools);
        const world = await createWorld(config);
        const end = ONLY === undefined ? Math.min(RUNS, (block + 1) * BLOCK) : ONLY + 1;
        const replayFailures: string[] = [];
        for (let index = block * BLOCK; index < end; index++) {
          const fuzzCase = buildCase(SEED, index, config, pools);
          // Replaying: the cases before the named one rebuild the world's state; only the named one is reported.
          await runCase(world, fuzzCase, stats, ONLY === undefined || index === ONLY ? failures : replayFailures);
          transports[config.transport]++;
          if (config.store === "file") transports.file++;
        }
        await world.close();
      }
      const seconds = (performance.now() - started) / 1000;
      console.info(
        `flag fuzz: ${stats.requests} requests (${transports.http} over HTTP, ${transports.file} on the file store, ` +
          `${(stats.bytes / 2 ** 20).toFixed(0)} MiB of bodies) in ${seconds.toFixed(1)} s, seed ${SEED}; ` +
          `${stats.writes} accepted writes, ${stats.faults} store calls failed on purpose; ` +
          `${(stats.waiting.core / 1000).toFixed(1)} s waiting on the core, ${(stats.waiting.http / 1000).toFixed(1)} s on HTTP\n` +
          `  slowest: ${stats.slowest.map(({ ms, where }) => `${ms.toFixed(0)} ms (${where})`).join("; ")}\n` +
          [...stats.statuses.entries()]
            .sort()
            .map(([key, count]) => `  ${key}: ${count}`)
            .join("\n"),
      );
      for (const [id, { count, example }] of stats.known) {
        console.warn(`flag fuzz: known finding ${id}: ${count} cases, e.g. ${example.slice(0, 400)}`);
      }
      expect(failures.slice(0, 20), `${failures.length} failures`).toEqual([]);
      // The campaign reaches every outcome (a generator that stopped producing some would pass quietly otherwise).
      if (ONLY === undefined && RUNS >= 20_000) {
        const seen = new Set([...stats.statuses.keys()].map((key) => Number(key.split(" ").at(-1))));
        const missing = [200, 201, 204, 304, 400, 401, 403, 404, 405, 412, 413, 429, 503].filter(
          (code) => !seen.has(code),
        );
        expect(missing, "statuses the campaign never produced").toEqual([]);
        expect(stats.writes).toBeGreaterThan(RUNS / 100);
        expect(transports.http).toBeGreaterThan(0);
        expect(transports.file).toBeGreaterThan(0);
      }
    },
    Math.max(600_000, RUNS * 3),
  );
});
