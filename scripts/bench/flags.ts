// Benchmarks flag evaluation: greenlight's evaluator against unleash-client and @openfeature/flagd-core in this one
// process on the same rules and users; OFREP bulk over HTTP against the floor (a bare node:http server that reads
// the body, JSON.parses it and answers fixed bytes) and a bare express echo (server children, as the webhook part does); and the Upstash calls a warm instance makes per evaluation, against real Redis through the
// test suite's Upstash REST bridge.
import { EventEmitter } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { FlagdCore } from "@openfeature/flagd-core";
import { Redis } from "@upstash/redis";
import { Unleash } from "unleash-client";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { compileRuleSet, evaluateAll, evaluateKey } from "../../functions/flags/evaluate.ts";
import { createFlagHandler } from "../../functions/flags/http/handler.ts";
import type { RuleSet } from "../../functions/flags/types.ts";
import { isFailure } from "../../functions/flags/types.ts";
import { createUpstashStore } from "../../functions/flags/upstash-store.ts";
import { ensureRedisBinary, startRedis } from "../services/redis.ts";
import { startUpstashBridge } from "../services/upstash-bridge.ts";
import {
  type BenchUser,
  BULK_FLAGS,
  benchUsers,
  bulkScenarios,
  flagdFlag,
  greenlightFlag,
  SCENARIO_ENGINES,
  SCENARIOS,
  type Scenario,
  unleashFeature,
} from "./flag-rules.ts";
import {
  bundleServe,
  type CannonRun,
  CONNECTIONS,
  cannonRun,
  cpuPerRequest,
  median,
  type PairedRatio,
  pairedLine,
  pairedPlan,
  pairedRatio,
  withServer,
} from "./harness.ts";
import type { BenchContext } from "./index.ts";
import { checkFloor, floorSameRun } from "./webhook.ts";

export const FLAG_TARGETS = {
  timesFasterPeer: 3,
  aimTimesFasterPeer: 5,
  bulkHttpRatio: 0.6,
  bulkHttpFloorRatio: 0.5,
} as const;
const USERS = 1024;
const ROUNDS = 5;
const ENGINES = ["greenlight", "unleash-client", "flagd-core"] as const;
type EngineName = (typeof ENGINES)[number];

/**
 * One engine loaded with every benchmark rule: `single` answers one flag for one user, `bulk` all of them.
 * `singles` / `bulks` run `count` of them over the users from index `from`: each engine has its own loop, so each
 * loop's call site sees one engine only and the JIT treats all three alike (a shared loop would be megamorphic,
 * which costs the fastest engine most).
 */
interface Engine {
  single(key: string, user: BenchUser): boolean;
  singles(key: string, users: readonly BenchUser[], from: number, count: number): number;
  bulks(users: readonly BenchUser[], from: number, count: number): number;
  close(): void;
}

const MASK = USERS - 1;

const singleKey = (scenario: Scenario) => `bench-${scenario.replace(/[^a-z0-9]+/gi, "-")}`;

function allRules(): Array<{ key: string; scenario: Scenario }> {
  return [...SCENARIOS.map((scenario) => ({ key: singleKey(scenario), scenario })), ...bulkScenarios(BULK_FLAGS)];
}

const bulkKeys = bulkScenarios(BULK_FLAGS).map(({ key }) => key);

export function benchRuleSet(rules = allRules()): RuleSet {
  const flags: RuleSet["flags"] = {};
  for (const { key, scenario } of rules) {
    flags[key] = {
      flag: greenlightFlag(key, scenario),
      revision: 1,
      updatedAt: "2026-01-01T00:00:00Z",
      updatedBy: "bench",
    };
  }
  return { version: 1, flags };
}

function greenlightEngine(): Engine {
  const set = compileRuleSet(benchRuleSet());
  const bulkSet = compileRuleSet(benchRuleSet(bulkScenarios(BULK_FLAGS)));
  return {
    single(key, user) {
      const result = evaluateKey(set, key, user.greenlight);
      return !isFailure(result) && result.value === true;
    },
    singles(key, users, from, count) {
      let on = 0;
      for (let i = from; i < from + count; i++) {
        const result = evaluateKey(set, key, (users[i & MASK] as BenchUser).greenlight);
        if (!isFailure(result) && result.value === true) on++;
      }
      return on;
    },
    bulks(users, from, count) {
      let results = 0;
      for (let i = from; i < from + count; i++) {
        results += evaluateAll(bulkSet, (users[i & MASK] as BenchUser).greenlight).length;
      }
      return results;
    },
    close() {},
  };
}

/** unleash-client's public `Unleash` API over a repository that already holds the features (no server, no metrics). */
async function unleashEngine(): Promise<Engine> {
  const features = allRules().map(({ key, scenario }) => unleashFeature(key, scenario));
  const byName = new Map(features.map((feature) => [String(feature.name), feature]));
  class StaticRepository extends EventEmitter {
    getToggle(name: string) {
      return byName.get(name);
    }
    getToggles() {
      return [...byName.values()];
    }
    getTogglesWithSegmentData() {
      return this.getToggles();
    }
    getSegment() {
      return undefined;
    }
    stop() {}
    async start() {
      this.emit("ready");
      this.emit("changed", this.getToggles());
    }
  }
  const unleash = new Unleash({
    appName: "greenlight-bench",
    url: "http://127.0.0.1:9/unused",
    repository: new StaticRepository() as unknown as ConstructorParameters<typeof Unleash>[0]["repository"],
    disableMetrics: true,
    skipInstanceCountWarning: true,
  });
  unleash.on("error", () => {});
  await new Promise<void>((resolve) => {
    if (unleash.isSynchronized()) resolve();
    else unleash.once("synchronized", () => resolve()).once("ready", () => resolve());
  });
  return {
    single: (key, user) => unleash.isEnabled(key, user.unleash),
    singles(key, users, from, count) {
      let on = 0;
      for (let i = from; i < from + count; i++)
        if (unleash.isEnabled(key, (users[i & MASK] as BenchUser).unleash)) on++;
      return on;
    },
    bulks(users, from, count) {
      let on = 0;
      for (let i = from; i < from + count; i++) {
        const context = (users[i & MASK] as BenchUser).unleash;
        for (const key of bulkKeys) if (unleash.isEnabled(key, context)) on++;
      }
      return on;
    },
    close: () => unleash.destroy(),
  };
}

function flagdEngine(): Engine {
  const silent = { error() {}, warn() {}, info() {}, debug() {} };
  const core = new FlagdCore(undefined, silent, { disableDynamicCodeGeneration: true });
  const single = new FlagdCore(undefined, silent, { disableDynamicCodeGeneration: true });
  const flags = (rules: Array<{ key: string; scenario: Scenario }>) =>
    JSON.stringify({ flags: Object.fromEntries(rules.map(({ key, scenario }) => [key, flagdFlag(scenario)])) });
  single.setConfigurations(flags(allRules()));
  core.setConfigurations(flags(bulkScenarios(BULK_FLAGS)));
  return {
    single: (key, user) => single.resolveBooleanEvaluation(key, false, user.flagd).value,
    singles(key, users, from, count) {
      let on = 0;
      for (let i = from; i < from + count; i++) {
        if (single.resolveBooleanEvaluation(key, false, (users[i & MASK] as BenchUser).flagd).value) on++;
      }
      return on;
    },
    bulks(users, from, count) {
      let results = 0;
      for (let i = from; i < from + count; i++) results += core.resolveAll((users[i & MASK] as BenchUser).flagd).length;
      return results;
    },
    close() {},
  };
}

/** Runs per second of `run` (which does `count` from index `from`) over `ms` ms, timed per `chunk`. */
function measure(run: (from: number, count: number) => number, ms: number, chunk: number): number {
  let calls = 0;
  let sink = 0;
  const start = performance.now();
  const end = start + ms;
  let now = start;
  while (now < end) {
    sink += run(calls, chunk);
    calls += chunk;
    now = performance.now();
  }
  if (sink < 0) throw new Error("unreachable");
  return calls / ((now - start) / 1000);
}

export interface EvaluationRow {
  workload: string;
  /** Evaluations (or bulks) per second, the median of ROUNDS interleaved rounds. */
  rates: Record<EngineName, number>;
  /** greenlight's rate over the faster peer's. */
  timesFasterPeer: number;
  /** False when a peer evaluates a different rule (SCENARIO_ENGINES): the row is shown but not held to the target. */
  sameRules: boolean;
}

export interface AgreementCheck {
  scenario: Scenario;
  /** Users for whom an engine's answer differed from greenlight's. */
  unleashDiffers: number;
  flagdDiffers: number;
  /** Share of users each engine turned on. */
  shares: Record<EngineName, number>;
}

/** Before timing anything: the engines must decide alike (flagd's split hashes differently: only its share is checked). */
function checkAgreement(engines: Record<EngineName, Engine>, users: BenchUser[]): AgreementCheck[] {
  return SCENARIOS.map((scenario) => {
    const key = singleKey(scenario);
    const on: Record<EngineName, number> = { greenlight: 0, "unleash-client": 0, "flagd-core": 0 };
    let unleashDiffers = 0;
    let flagdDiffers = 0;
    for (const user of users) {
      const answers = ENGINES.map((name) => engines[name].single(key, user));
      ENGINES.forEach((name, i) => {
        if (answers[i]) on[name]++;
      });
      if (answers[1] !== answers[0]) unleashDiffers++;
      if (answers[2] !== answers[0]) flagdDiffers++;
    }
    const shares = Object.fromEntries(ENGINES.map((name) => [name, on[name] / users.length])) as Record<
      EngineName,
      number
    >;
    return { scenario, unleashDiffers, flagdDiffers, shares };
  });
}

async function benchInProcess(context: BenchContext): Promise<{ rows: EvaluationRow[]; agreement: AgreementCheck[] }> {
  const users = benchUsers(USERS);
  const engines: Record<EngineName, Engine> = {
    greenlight: greenlightEngine(),
    "unleash-client": await unleashEngine(),
    "flagd-core": flagdEngine(),
  };
  try {
    const agreement = checkAgreement(engines, users);
    for (const check of agreement) {
      if (check.unleashDiffers > 0 || (check.scenario !== "20% rollout" && check.flagdDiffers > 0)) {
        throw new Error(`the engines disagree on "${check.scenario}": ${JSON.stringify(check)}`);
      }
    }
    const workloads: Array<{
      workload: string;
      chunk: number;
      call: (engine: Engine) => (from: number, count: number) => number;
    }> = [
      ...SCENARIOS.map((scenario) => {
        const key = singleKey(scenario);
        return {
          workload: scenario,
          chunk: 1000,
          call: (engine: Engine) => (from: number, count: number) => engine.singles(key, users, from, count),
        };
      }),
      {
        workload: `bulk of ${BULK_FLAGS} flags`,
        chunk: 20,
        call: (engine: Engine) => (from: number, count: number) => engine.bulks(users, from, count),
      },
    ];
    // The whole in-process part takes about `duration` seconds, shared evenly by workloads, engines and rounds.
    const slice = Math.max(50, (context.duration * 1000) / (workloads.length * ENGINES.length * ROUNDS));
    const rows: EvaluationRow[] = [];
    for (const { workload, chunk, call } of workloads) {
      context.log(`flags: in-process, ${workload}, ${ROUNDS} rounds of ${slice.toFixed(0)} ms per engine`);
      const samples: Record<EngineName, number[]> = { greenlight: [], "unleash-client": [], "flagd-core": [] };
      for (const name of ENGINES) measure(call(engines[name]), Math.min(200, slice), chunk); // warm-up: let the JIT settle
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate who goes first, so no engine always runs right after another one's garbage.
        for (let k = 0; k < ENGINES.length; k++) {
          const name = ENGINES[(round + k) % ENGINES.length] as EngineName;
          samples[name].push(measure(call(engines[name]), slice, chunk));
        }
      }
      const rates = Object.fromEntries(ENGINES.map((name) => [name, median(samples[name])])) as Record<
        EngineName,
        number
      >;
      const peer = Math.max(rates["unleash-client"], rates["flagd-core"]);
      const sameRules = !(workload in SCENARIO_ENGINES);
      rows.push({ workload, rates, timesFasterPeer: rates.greenlight / peer, sameRules });
    }
    return { rows, agreement };
  } finally {
    for (const engine of Object.values(engines)) engine.close();
  }
}

export interface UpstashUse {
  requests: number;
  evaluations: number;
  storeCalls: number;
  seconds: number;
  ttlMs: number;
}

/** A warm instance answering OFREP bulk requests against real Redis behind the Upstash bridge: who calls Upstash? */
async function benchUpstashCalls(context: BenchContext): Promise<UpstashUse> {
  ensureRedisBinary();
  const redis = await startRedis();
  const bridge = await startUpstashBridge({ redisPort: redis.port, token: "bench-token" });
  try {
    const client = new Redis({ url: bridge.url, token: bridge.token, enableTelemetry: false, retry: false });
    const store = createUpstashStore(client, { prefix: "bench:flags" });
    for (const { key, scenario } of bulkScenarios(BULK_FLAGS)) {
      await store.put(greenlightFlag(key, scenario), { actor: "bench" });
    }
    const ttlMs = 5000;
    const cache = createRuleCache(store, { ttlMs });
    const handle = createFlagHandler({ store, cache });
    const users = benchUsers(USERS);
    const request = (i: number) =>
      new Request("http://flags.local/ofrep/v1/evaluate/flags", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ context: users[i & (USERS - 1)]?.greenlight }),
      });
    await (await handle(request(0))).text(); // warm: the first request loads the rule set
    const seconds = Math.max(6, context.duration);
    context.log(`flags: Upstash calls, OFREP bulk in-process for ${seconds} s (cache TTL ${ttlMs / 1000} s)`);
    const before = bridge.requests;
    const end = performance.now() + seconds * 1000;
    let requests = 0;
    let evaluations = 0;
    while (performance.now() < end) {
      const response = await handle(request(requests));
      const body = (await response.json()) as { flags?: unknown[] };
      if (response.status !== 200 || !Array.isArray(body.flags)) {
        throw new Error(`bulk evaluation answered ${response.status}: ${JSON.stringify(body)}`);
      }
      requests++;
      evaluations += body.flags.length;
    }
    return { requests, evaluations, storeCalls: bridge.requests - before, seconds, ttlMs };
  } finally {
    await bridge.close();
    await redis.close();
  }
}

export interface FlagsHttp {
  /** The core's plain Node listener (createFlagsListener). */
  greenlight: CannonRun;
  /** The same listener mounted in express (createFlagsApp), as a user mounting the core in an express app runs it. */
  express: CannonRun;
  echo: CannonRun;
  floor: CannonRun;
  /** The floor answering greenlight's bulk answer (the same bytes). */
  floorSame: CannonRun;
  answerBytes: number;
  /** greenlight over the echo. */
  ratio: number;
  /** greenlight over the floor. */
  floorRatio: number;
  /** greenlight against the floor in alternating rounds: what the floor target is judged on. */
  paired: PairedRatio;
}

/** OFREP bulk (50 flags, warm cache) over HTTP against the floor and the express echo, each server in its own process. */
async function benchHttp(context: BenchContext): Promise<FlagsHttp> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "greenlight-bench-flags-"));
  // The servers run bundled and minified, as production runs them (see bundleServe), not through tsx.
  const bundle = await bundleServe();
  try {
    const bodyFile = path.join(dir, "bulk.json");
    const body = JSON.stringify({ context: benchUsers(1)[0]?.greenlight });
    await writeFile(bodyFile, body);
    const bulk = (kind: "flags" | "flags-express") =>
      withServer(
        kind,
        context.serverNodeFlags,
        async (server) => {
          const url = server.url("/ofrep/v1/evaluate/flags");
          const warm = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
          const text = await warm.text();
          const answer = JSON.parse(text) as { flags?: unknown[] };
          if (warm.status !== 200 || answer.flags?.length !== BULK_FLAGS) {
            throw new Error(`the flag server did not evaluate ${BULK_FLAGS} flags: ${JSON.stringify(answer)}`);
          }
          context.log(`flags: OFREP bulk (${kind}), autocannon, ${CONNECTIONS} connections, ${context.duration} s`);
          const run = await cannonRun(server, `greenlight OFREP bulk (${kind})`, url, bodyFile, context.duration);
          return { run, answer: text };
        },
        bundle,
      );
    const { run: greenlight, answer } = await bulk("flags");
    const { run: express } = await bulk("flags-express");
    const echo = await withServer(
      "echo",
      context.serverNodeFlags,
      async (server) => {
        context.log(`flags: echo, autocannon, ${CONNECTIONS} connections, ${context.duration} s`);
        return cannonRun(server, "express echo", server.url("/echo"), bodyFile, context.duration);
      },
      bundle,
    );
    const floor = await withServer(
      "floor",
      context.serverNodeFlags,
      async (server) => {
        await checkFloor(server.url("/floor"), body);
        context.log(`flags: floor (bare node:http), autocannon, ${CONNECTIONS} connections, ${context.duration} s`);
        return cannonRun(server, "bare node:http floor", server.url("/floor"), bodyFile, context.duration);
      },
      bundle,
    );
    const floorSame = await floorSameRun(context, bundle, {
      body,
      bodyFile,
      answer,
      answerFile: path.join(dir, "answer.json"),
      warmup: 1,
    });
    const plan = pairedPlan(context.duration);
    context.log(`flags: OFREP bulk and the floor in ${plan.rounds} alternating rounds of ${plan.seconds} s each`);
    const paired = await pairedRatio({
      nodeFlags: context.serverNodeFlags,
      bundle,
      a: { kind: "flags", route: "/ofrep/v1/evaluate/flags", label: "greenlight" },
      b: { kind: "floor", route: "/floor", label: "floor" },
      bodyFile,
      ...plan,
      warmup: 1,
      log: context.log,
    });
    const over = (run: CannonRun) =>
      run.requestsPerSecond > 0 ? greenlight.requestsPerSecond / run.requestsPerSecond : 0;
    context.log(
      `flags: OFREP bulk ${greenlight.requestsPerSecond.toFixed(0)} req/s, floor ${floor.requestsPerSecond.toFixed(0)}, ` +
        `echo ${echo.requestsPerSecond.toFixed(0)}: ${over(floor).toFixed(2)} of the floor, ${over(echo).toFixed(2)} of the echo`,
    );
    return {
      greenlight,
      express,
      echo,
      floor,
      floorSame,
      answerBytes: Buffer.byteLength(answer),
      ratio: over(echo),
      floorRatio: over(floor),
      paired,
    };
  } finally {
    await bundle.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

export interface FlagsBench {
  rows: EvaluationRow[];
  agreement: AgreementCheck[];
  http: FlagsHttp;
  upstash: UpstashUse;
}

export async function benchFlags(context: BenchContext): Promise<FlagsBench> {
  const { rows, agreement } = await benchInProcess(context);
  const http = await benchHttp(context);
  const upstash = await benchUpstashCalls(context);
  return { rows, agreement, http, upstash };
}

/** A workload as the table names it, with what each engine evaluates where they differ (`|` escaped for the table). */
function workloadCell(workload: string): string {
  const engines = (SCENARIO_ENGINES as Partial<Record<string, string>>)[workload];
  return engines === undefined ? workload : `${workload} (${engines.replaceAll("|", "\\|")})`;
}

const perSecond = (rate: number) =>
  rate >= 1e6 ? `${(rate / 1e6).toFixed(2)} M` : rate >= 1e3 ? `${(rate / 1e3).toFixed(0)} k` : rate.toFixed(0);
const share = (value: number) => `${(value * 100).toFixed(1)}%`;

export function renderFlagsSection(result: FlagsBench, context: BenchContext): string {
  const { rows, agreement, http, upstash } = result;
  const held = rows.filter((row) => row.sameRules);
  const slowest = Math.min(...held.map((row) => row.timesFasterPeer));
  const apart = rows
    .filter((row) => !row.sameRules)
    .map((row) => `${row.workload} ${row.timesFasterPeer.toFixed(1)}x`)
    .join(", ");
  const lines = [
    "## Flag evaluation",
    "",
    `Command: \`${context.command}\`, ${context.date}. Machine: ${context.machine}.`,
    ...(context.busy ? ["", "**The machine was busy when this run started: treat the figures with care.**"] : []),
    "",
    "### In-process evaluations per second (one process, same rules, same 1,024 users, interleaved rounds)",
    "",
    "greenlight's `evaluateKey` / `evaluateAll` (no `now` passed: only flags with a time window read the clock),",
    "unleash-client's",
    "`isEnabled` (its public API over an in-memory repository, metrics off) and @openfeature/flagd-core's",
    "`resolveBooleanEvaluation` / `resolveAll` (`disableDynamicCodeGeneration: true`). Bulk rows count whole bulks of",
    `${BULK_FLAGS} flags per second. Each figure is the median of ${ROUNDS} rounds.`,
    "",
    "| workload | greenlight | unleash-client | flagd-core | greenlight / faster peer |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (row) =>
        `| ${workloadCell(row.workload)} | ${perSecond(row.rates.greenlight)}/s | ${perSecond(row.rates["unleash-client"])}/s | ` +
        `${perSecond(row.rates["flagd-core"])}/s | ${row.timesFasterPeer.toFixed(1)}x |`,
    ),
    "",
    "Agreement, checked before timing (share of the 1,024 users each engine turned on; unleash-client hashes the",
    "rollout exactly as greenlight does, flagd's `fractional` hashes differently, so only its share is comparable):",
    "",
    "| rules | greenlight | unleash-client | flagd-core | answers differing from greenlight's |",
    "| --- | ---: | ---: | ---: | --- |",
    ...agreement.map(
      (check) =>
        `| ${check.scenario} | ${share(check.shares.greenlight)} | ${share(check.shares["unleash-client"])} | ` +
        `${share(check.shares["flagd-core"])} | unleash ${check.unleashDiffers}, flagd ${check.flagdDiffers} |`,
    ),
    "",
    `### OFREP bulk over HTTP (${BULK_FLAGS} flags, warm cache, ${http.greenlight.connections} connections, autocannon)`,
    "",
    "The floor is a bare node:http server (`serve.ts floor`) that reads the same body, JSON.parses it and answers",
    "fixed bytes: what any Node server taking this body costs at the least. The echo is express with its JSON body",
    "parser answering the parsed body. greenlight runs as the core's plain Node listener (`createFlagsListener`, no",
    "express), and again mounted in express (`createFlagsApp`, as a user mounting the core in an express app runs it). Each",
    "server runs alone, in a process of its own. The body is one user's context, the same on every request: after",
    "the first, each answer is the rule set's last bulk answer reused (same results, same body and ETag), which a",
    "client polling with its context, or a rule set without targeting or splits, also gets. The floor answering",
    `greenlight's answer (\`serve.ts floor-same\`, ${http.answerBytes.toLocaleString("en")} bytes) separates what greenlight`,
    "computes from what sending that answer and reading it costs; server CPU per request is as in the webhook section.",
    "",
    "| server | req/s | flag evaluations/s | p50 | p99 | ratio to floor | ratio to echo | server CPU per request | failures |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...[
      [
        "greenlight `POST /ofrep/v1/evaluate/flags`, Node listener",
        http.greenlight,
        perSecond(http.greenlight.requestsPerSecond * BULK_FLAGS),
      ] as const,
      [
        "the same, mounted in express (`createFlagsApp`)",
        http.express,
        perSecond(http.express.requestsPerSecond * BULK_FLAGS),
      ] as const,
      ["bare node:http floor (body read, JSON.parse, fixed answer)", http.floor, ""] as const,
      ["the floor answering greenlight's answer (same bytes)", http.floorSame, ""] as const,
      ["bare express echo of the same body", http.echo, ""] as const,
    ].map(
      ([label, run, evaluations]) =>
        `| ${label} | ${run.requestsPerSecond.toFixed(0)} | ${evaluations} | ${run.p50} ms | ${run.p99} ms | ` +
        `${(run.requestsPerSecond / http.floor.requestsPerSecond).toFixed(2)} | ` +
        `${(run.requestsPerSecond / http.echo.requestsPerSecond).toFixed(2)} | ${cpuPerRequest(run).toFixed(0)} µs | ${run.failures} |`,
    ),
    "",
    "### Upstash calls per evaluation (real Redis behind the test suite's Upstash REST bridge)",
    "",
    `A warm instance answered ${upstash.requests.toLocaleString("en")} OFREP bulk requests ` +
      `(${upstash.evaluations.toLocaleString("en")} flag evaluations) in ${upstash.seconds} s and made ` +
      `${upstash.storeCalls} Upstash REST call${upstash.storeCalls === 1 ? "" : "s"}: one version check per ${upstash.ttlMs / 1000} s cache TTL, none per ` +
      `evaluation (${(upstash.storeCalls / upstash.evaluations).toExponential(1)} calls per evaluation).`,
    "",
    "### Targets",
    "",
    `- at least ${FLAG_TARGETS.timesFasterPeer}x the faster peer per evaluation (aim ${FLAG_TARGETS.aimTimesFasterPeer}x): ` +
      `slowest workload ${slowest.toFixed(1)}x, ${slowest >= FLAG_TARGETS.timesFasterPeer ? "met" : "**not met**"}` +
      (apart === "" ? "" : ` (not counted, a peer evaluating a different rule there: ${apart})`),
    `- OFREP bulk over HTTP at least ${FLAG_TARGETS.bulkHttpFloorRatio} of the floor: ${pairedLine(http.paired)}, ` +
      `${http.paired.median >= FLAG_TARGETS.bulkHttpFloorRatio ? "met" : "**not met**"}` +
      ` (the single runs above: ${http.floorRatio.toFixed(2)}; against the floor answering the same ${http.answerBytes.toLocaleString("en")} bytes: ` +
      `${(http.greenlight.requestsPerSecond / Math.max(1, http.floorSame.requestsPerSecond)).toFixed(2)}; server CPU per ` +
      `request ${cpuPerRequest(http.greenlight).toFixed(0)} µs against the floor's ${cpuPerRequest(http.floor).toFixed(0)} µs)`,
    `- OFREP bulk over HTTP at least ${FLAG_TARGETS.bulkHttpRatio} of the echo: ${http.ratio.toFixed(2)}, ` +
      `${http.ratio >= FLAG_TARGETS.bulkHttpRatio ? "met" : "**not met**"}`,
    `- no Upstash call per evaluation in steady state: ${upstash.storeCalls} in ${upstash.seconds} s for ` +
      `${upstash.evaluations.toLocaleString("en")} evaluations, ` +
      `${upstash.storeCalls <= Math.ceil((upstash.seconds * 1000) / upstash.ttlMs) ? "met" : "**not met**"}`,
  ];
  return lines.join("\n");
}
