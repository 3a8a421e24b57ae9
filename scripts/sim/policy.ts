// A user's canary policy as a simulator scenario, for `greenlight canary simulate`: the canary Deployment's
// greenlight annotations and rollout settings (from a manifest), and what-if metric profiles given as flags.
//
// API (pure, no I/O):
// - `parseSchedule(text, unit)`: `0.5%,3%@12m` -> `[[0, 0.005], [720, 0.03]]`; values are error rates (`0.5%`,
//   `0.02`) or latencies in milliseconds (`120ms`, `1.2s`); each later value says when it starts.
// - `pickDeployment(documents)`: the canary Deployment of a manifest's documents.
// - `canaryScenario({ deployment, flags })`: the `Scenario`, plus the validator's warnings; throws `PolicyError`
//   (one line naming the flag or field, and what is accepted) on anything it cannot use.

import { readCanarySettings } from "../../functions/canary/settings.ts";
import { annotationName, PREFIX, readAnnotation } from "../../functions/contract/annotations.ts";
import { isObject } from "../../functions/contract/objects.ts";
import { validateAnnotations } from "../../functions/contract/validate.ts";
import { type Parsed, parseDuration, parseInteger, parseLatency, parseRate } from "../../functions/contract/values.ts";
import { NO_FAULTS } from "./cluster.ts";
import { healthyProfile, type RevisionProfile, type Scenario, type Schedule, valueAt } from "./scenario.ts";
import { APP } from "./world.ts";

/** Something in the manifest or the flags the simulation cannot use; the message is one line for the user. */
export class PolicyError extends Error {
  override name = "PolicyError";
}

export type ScheduleUnit = "rate" | "latency";

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

const EXAMPLES: Record<ScheduleUnit, string> = {
  rate: 'e.g. "0.5%", "3%" or "0.02"',
  latency: 'e.g. "120ms" or "1.2s"',
};
const NOUN: Record<ScheduleUnit, string> = { rate: "an error rate", latency: "a latency" };

/** `12m`, `90s`, `1h30m` in seconds; `0`/`0s` too (the contract's parser refuses zero, a start time may be it). */
export function parseOffset(raw: string): Parsed<number> {
  if (/^0[smh]?$/.test(raw)) return ok(0);
  const parsed = parseDuration(raw);
  return parsed.ok ? parsed : bad(`"${raw}" is not a duration (e.g. 12m, 90s)`);
}

/**
 * A comma list of values, each optionally `@<duration>` saying when it starts (since the first pass); the first
 * starts at 0 (`@0` may be written), every later one needs its start, and starts must increase. A problem starts
 * with the quoted part it is about, so that a caller only puts the flag's name before it.
 */
export function parseSchedule(text: string, unit: ScheduleUnit): Parsed<Schedule> {
  const example = unit === "rate" ? "0.5%,3%@12m" : "120ms,800ms@10m";
  const accepted = `accepted: comma-separated values (${EXAMPLES[unit]}), each after the first with "@<when it starts>", e.g. "${example}"`;
  if (text.trim() === "") return bad(`"${text}": empty; ${accepted}`);
  const schedule: [number, number][] = [];
  for (const [index, rawItem] of text.split(",").entries()) {
    const item = rawItem.trim();
    if (item === "") return bad(`"${text}": value ${index + 1} is empty; ${accepted}`);
    const at = item.indexOf("@");
    const valueText = (at < 0 ? item : item.slice(0, at)).trim();
    const whenText = at < 0 ? undefined : item.slice(at + 1).trim();
    const value = unit === "rate" ? parseRate(valueText) : parseLatency(valueText);
    const notA = `"${valueText}" is not ${NOUN[unit]} (${EXAMPLES[unit]})`;
    if (!value.ok) return bad(valueText === item ? notA : `"${item}": ${notA}`);
    let start = 0;
    if (whenText !== undefined) {
      const when = parseOffset(whenText);
      if (!when.ok) return bad(`"${item}": ${when.problem}`);
      start = when.value;
    }
    const previous = schedule.at(-1);
    if (!previous && start !== 0) {
      const before = unit === "rate" ? "0.1%" : "40ms";
      return bad(`"${item}": the first value holds from the start; say what comes before, e.g. "${before},${item}"`);
    }
    if (previous && whenText === undefined) {
      return bad(`"${item}": say when it starts, e.g. "${valueText}@12m"`);
    }
    if (previous && start <= previous[0]) {
      return bad(
        `"${item}": starts at ${formatOffset(start)}, not after the value before it (from ${formatOffset(previous[0])})`,
      );
    }
    schedule.push([start, value.value]);
  }
  return ok(schedule);
}

/** Seconds as the flags write them: `90` -> `1m30s`, `720` -> `12m`, `0` -> `0s`. */
export function formatOffset(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  const text = `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`;
  return text || "0s";
}

// ---- the manifest -------------------------------------------------------------------------------------------------

interface DeploymentLike {
  kind?: unknown;
  apiVersion?: unknown;
  metadata?: { name?: unknown; annotations?: unknown };
  spec?: {
    replicas?: unknown;
    progressDeadlineSeconds?: unknown;
    strategy?: { type?: unknown; rollingUpdate?: { maxSurge?: unknown; maxUnavailable?: unknown } };
  };
}

const asObject = (value: unknown): DeploymentLike => (isObject(value) ? (value as DeploymentLike) : {});

const isDeployment = (value: unknown) => asObject(value).kind === "Deployment";

const annotationsOf = (value: unknown): Record<string, string> => {
  const raw = asObject(value).metadata?.annotations;
  if (typeof raw !== "object" || raw === null) return {};
  return Object.fromEntries(Object.entries(raw).map(([key, entry]) => [key, String(entry)]));
};

/**
 * The Deployment to simulate: the first one annotated `greenlight.dev/strategy: canary`, else the first
 * Deployment (whose missing strategy `canaryScenario` then reports), else a `PolicyError`.
 */
export function pickDeployment(documents: readonly unknown[], source = "the input"): unknown {
  const deployments = documents.filter(isDeployment);
  const canary = deployments.find((object) => annotationsOf(object)[annotationName("strategy")] === "canary");
  const chosen = canary ?? deployments[0];
  if (chosen === undefined) {
    throw new PolicyError(
      `${source}: no Deployment in ${documents.length} document(s): pass the canary's manifest (kind: Deployment)`,
    );
  }
  return chosen;
}

/** `maxSurge`/`maxUnavailable`: an integer or a percentage, as Kubernetes takes them. */
function intOrPercent(name: string, field: string, value: unknown, fallback: string): string {
  if (value === undefined || value === null) return fallback;
  const text = String(value);
  if (/^\d+%?$/.test(text) && (!text.endsWith("%") || Number(text.slice(0, -1)) <= 100)) return text;
  throw new PolicyError(
    `${name}: ${field}: ${JSON.stringify(value)} is invalid: accepted: an integer or a percentage, e.g. 1 or 25%`,
  );
}

function integerField(name: string, field: string, value: unknown, fallback: number, min: number, max: number) {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new PolicyError(
    `${name}: ${field}: ${JSON.stringify(value)} is invalid: accepted: an integer from ${min} to ${max}`,
  );
}

// ---- the flags ----------------------------------------------------------------------------------------------------

/** The profile flags as typed (strings), before parsing; absent ones take the defaults below. */
export interface ProfileFlags {
  errorRate?: string;
  latencyP50?: string;
  latencyP99?: string;
  rps?: string;
  startup?: string;
  crashLoop?: boolean;
  minutes?: string;
  seed?: string;
  scrapeInterval?: string;
  scrapeLag?: string;
}

export const PROFILE_DEFAULTS = {
  errorRate: "0.1%",
  latencyP50: "40ms",
  latencyP99: "200ms",
  rps: "20",
  startup: "5s",
  seed: "1",
  scrapeInterval: "15s",
  scrapeLag: "0s",
} as const;

/** Longest timeline `--minutes` may ask for (a day), and the cap of the default. */
export const MAX_MINUTES = 1440;
export const DEFAULT_MINUTES_CAP = 240;

const flagValue = <T>(flag: string, raw: string, parsed: Parsed<T>): T => {
  if (parsed.ok) return parsed.value;
  throw new PolicyError(`${flag} ${JSON.stringify(raw)}: ${parsed.problem}`);
};

function scheduleFlag(flag: string, raw: string, unit: ScheduleUnit): Schedule {
  const parsed = parseSchedule(raw, unit);
  if (parsed.ok) return parsed.value;
  throw new PolicyError(`${flag} ${parsed.problem}`);
}

function parsePositive(raw: string): Parsed<number> {
  const value = Number(raw);
  return /^\d+(\.\d+)?$/.test(raw) && value > 0 && value <= 100_000
    ? ok(value)
    : bad("accepted: requests per second above 0 and at most 100000, e.g. 20 or 0.5");
}

const offsetFlag = (raw: string, what: string): Parsed<number> => {
  const parsed = parseOffset(raw);
  return parsed.ok ? parsed : bad(`accepted: ${what}, e.g. 0s, 15s, 2m`);
};

/** The p99 must not be below the p50 at any time (a latency distribution cannot have it). */
function checkLatencies(p50: Schedule, p99: Schedule): void {
  const times = [...p50, ...p99].map(([at]) => at).sort((a, b) => a - b);
  for (const at of times) {
    const low = valueAt(p50, at);
    const high = valueAt(p99, at);
    if (high < low) {
      throw new PolicyError(
        `--latency-p99 ${high}ms is below --latency-p50 ${low}ms from ${formatOffset(at)} on: p99 must be at least p50`,
      );
    }
  }
}

// ---- the scenario -------------------------------------------------------------------------------------------------

export interface PolicyInput {
  /** The Deployment object as parsed from the manifest (see `pickDeployment`). */
  deployment: unknown;
  flags?: ProfileFlags;
}

export interface PolicyScenario {
  scenario: Scenario;
  /** The Deployment's name, for titles. */
  name: string;
  /** The validator's warnings on the annotations (unknown keys, keys without effect). */
  warnings: string[];
  /** The canary's parsed settings the timeline runs with. */
  steps: number[];
  intervalSeconds: number;
}

/**
 * The scenario for a canary Deployment and the profile flags. The stable version is healthy
 * (`healthyProfile()`); the canary behaves as the flags say; traffic, scrapes and the API server are fault-free;
 * one stepper runs every minute. The Deployment's `virtual-service` is replaced by the simulator's own (and a
 * Gateway API router by the simulated Istio mesh), everything else of the policy is kept as written.
 */
export function canaryScenario(input: PolicyInput): PolicyScenario {
  const object = asObject(input.deployment);
  const flags = input.flags ?? {};
  const name = typeof object.metadata?.name === "string" ? object.metadata.name : "the Deployment";

  const annotations = annotationsOf(object);
  const report = validateAnnotations(annotations);
  if (report.errors.length > 0) throw new PolicyError(`${name}: ${report.errors.join("; ")}`);
  const strategy = readAnnotation(annotations, "strategy");
  if (!strategy.present || !strategy.ok || strategy.value !== "canary") {
    throw new PolicyError(
      `${name}: ${annotationName("strategy")} is ${
        strategy.present ? JSON.stringify(annotations[annotationName("strategy")]) : "not set"
      }: only a canary can be simulated (set ${annotationName("strategy")}: canary)`,
    );
  }
  const own: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (key.startsWith(PREFIX)) own[key.slice(PREFIX.length)] = value;
  }
  // The simulated mesh has one VirtualService, named after the app; the policy's own name means nothing there. A
  // Gateway API policy is simulated on it too: the decisions do not depend on the router, only where weights live.
  own["virtual-service"] = APP;
  for (const key of ["router", "route", "canary-service"]) delete own[key];
  const { settings } = readCanarySettings(
    Object.fromEntries(Object.entries(own).map(([key, value]) => [annotationName(key), value])),
    APP,
  );

  const spec = object.spec ?? {};
  const replicas = integerField(name, "spec.replicas", spec.replicas, 1, 1, 1000);
  const rolling = spec.strategy?.rollingUpdate ?? {};
  const maxSurge = intOrPercent(name, "spec.strategy.rollingUpdate.maxSurge", rolling.maxSurge, "25%");
  const maxUnavailable = intOrPercent(
    name,
    "spec.strategy.rollingUpdate.maxUnavailable",
    rolling.maxUnavailable,
    "25%",
  );
  if (/^0%?$/.test(maxSurge) && /^0%?$/.test(maxUnavailable)) {
    throw new PolicyError(
      `${name}: spec.strategy.rollingUpdate: maxSurge and maxUnavailable are both 0: accepted: at least one above 0`,
    );
  }
  const progressDeadlineSeconds = integerField(
    name,
    "spec.progressDeadlineSeconds",
    spec.progressDeadlineSeconds,
    600,
    1,
    86_400,
  );

  const errorRate = scheduleFlag("--error-rate", flags.errorRate ?? PROFILE_DEFAULTS.errorRate, "rate");
  const latencyP50Ms = scheduleFlag("--latency-p50", flags.latencyP50 ?? PROFILE_DEFAULTS.latencyP50, "latency");
  const latencyP99Ms = scheduleFlag("--latency-p99", flags.latencyP99 ?? PROFILE_DEFAULTS.latencyP99, "latency");
  checkLatencies(latencyP50Ms, latencyP99Ms);
  const rpsText = flags.rps ?? PROFILE_DEFAULTS.rps;
  const rps = flagValue("--rps", rpsText, parsePositive(rpsText));
  const startupText = flags.startup ?? PROFILE_DEFAULTS.startup;
  const startupSeconds = flagValue("--startup", startupText, offsetFlag(startupText, "a pod start-up time"));
  const seedText = flags.seed ?? PROFILE_DEFAULTS.seed;
  const seed = flagValue("--seed", seedText, parseInteger(seedText, 0, 2_147_483_647));
  const intervalText = flags.scrapeInterval ?? PROFILE_DEFAULTS.scrapeInterval;
  const scrapeInterval = flagValue("--scrape-interval", intervalText, parseDuration(intervalText));
  const lagText = flags.scrapeLag ?? PROFILE_DEFAULTS.scrapeLag;
  const scrapeLag = flagValue("--scrape-lag", lagText, offsetFlag(lagText, "how long a scrape takes to be queryable"));

  // Long enough for every step's interval, the canary's start-up and the promotion pass after the last step.
  const defaultMinutes = Math.min(
    DEFAULT_MINUTES_CAP,
    Math.ceil((settings.steps.length * settings.intervalSeconds + startupSeconds) / 60) + 5,
  );
  const minutes =
    flags.minutes === undefined
      ? defaultMinutes
      : flagValue("--minutes", flags.minutes, parseInteger(flags.minutes, 1, MAX_MINUTES));

  const canary: RevisionProfile = {
    startupSeconds,
    crashLoop: Boolean(flags.crashLoop),
    errorRate,
    latencyP50Ms,
    latencyP99Ms,
  };
  const scenario: Scenario = {
    seed,
    minutes,
    tickSeconds: 10,
    passSeconds: 60,
    annotations: own,
    replicas,
    maxSurge,
    maxUnavailable,
    progressDeadlineSeconds,
    rps,
    headerShare: 0,
    stable: healthyProfile(),
    canary,
    scrape: { intervalSeconds: scrapeInterval, lagSeconds: scrapeLag, missProbability: 0, outages: [] },
    faults: NO_FAULTS,
    concurrentStepper: false,
    actions: [],
  };
  return {
    scenario,
    name,
    warnings: report.warnings,
    steps: settings.steps,
    intervalSeconds: settings.intervalSeconds,
  };
}
