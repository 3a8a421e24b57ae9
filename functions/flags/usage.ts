// Evaluation counts per flag and variant, kept in an instance's memory between flushes to the store (cache.ts).
/*
 * Pure and edge-safe: no clock, no timer, no I/O. Counts are kept per result object, not per flag: the evaluator
 * hands out frozen results made once per compiled flag and outcome (evaluate.ts), so an object stands for its flag
 * and variant. The per-flag, per-variant counts are worked out only when a batch is taken, once per flush.
 * The hot path: a single-flag evaluation is one Map increment (by result object). A bulk answer is one increment
 * too: by identity when ofrep.ts hands back the answer it reused (the same results array), else by the answer's
 * ETag, checked against the results it stands for (fifty pointer comparisons, so a hash collision never merges two
 * answers). Bulk answers are expanded into per-result counts at take time.
 * Bounded: at most `maxAnswers` distinct bulk answers and `maxKeys` distinct result objects between two takes. Past
 * `maxAnswers`, a new answer is counted result by result (exact, fifty increments instead of one); past `maxKeys`,
 * an evaluation that would need a new result entry is not counted, only added to `dropped`. Each take empties both.
 */
import { type Env, readSetting, SettingError } from "../contract/settings.ts";
import { type Parsed, parseDuration } from "../contract/values.ts";
import type { EvaluationFailure, EvaluationResult, FlagUsage, UsageBatch, UsageCount, UsageReport } from "./types.ts";
import { USAGE_DAYS_KEPT } from "./types.ts";

/** Distinct result objects counted between two flushes, by default. */
export const DEFAULT_USAGE_MAX_KEYS = 5_000;
/** Distinct bulk answers counted whole between two flushes, by default (each holds its results array). */
export const DEFAULT_USAGE_MAX_ANSWERS = 1_000;
/** The least time between two flushes of one instance, by default (never less than the cache TTL). */
export const DEFAULT_USAGE_FLUSH_MS = 60_000;

/** How a rule cache counts evaluations and flushes them (cache.ts). */
export interface UsageOptions {
  /** The least time between two flushes; default DEFAULT_USAGE_FLUSH_MS or the TTL, whichever is longer. */
  flushIntervalMs?: number;
  /** Distinct result objects counted between two flushes; default DEFAULT_USAGE_MAX_KEYS. */
  maxKeys?: number;
  /** Distinct bulk answers counted whole between two flushes; default DEFAULT_USAGE_MAX_ANSWERS. */
  maxAnswers?: number;
  /**
   * Handed each flush as it starts, never awaited by a request: an edge entry passes it to the request's
   * `ctx.waitUntil`, so the isolate keeps running it after the response. Default: none, the flush just runs.
   */
  defer?: (flush: Promise<void>) => void;
}

export const USAGE_FLUSH_VARIABLE = "GREENLIGHT_FLAGS_USAGE_FLUSH";

/**
 * GREENLIGHT_FLAGS_USAGE_FLUSH: `off` (count nothing), or the least time between two flushes, a duration of at least
 * the cache TTL (`1m`, `30s`); unset: counting on, every DEFAULT_USAGE_FLUSH_MS (or the TTL, if longer).
 * Edge-safe: edge-env.ts may read it too. Throws SettingError naming the variable.
 */
export function usageOptionsFromEnv(env: Env, ttlMs: number): UsageOptions | undefined {
  const setting = readSetting(env, USAGE_FLUSH_VARIABLE, (raw): Parsed<number | "off"> => {
    if (raw === "off") return { ok: true, value: "off" };
    const seconds = parseDuration(raw);
    return seconds.ok
      ? seconds
      : { ok: false, problem: `accepted: off, or ${seconds.problem.slice("accepted: ".length)}` };
  });
  if (setting === "off") return undefined;
  if (setting === undefined) return {};
  if (setting * 1000 < ttlMs) {
    throw new SettingError(
      `${USAGE_FLUSH_VARIABLE} (${setting}s) must be at least GREENLIGHT_FLAGS_CACHE_TTL (${ttlMs / 1000}s): ` +
        "usage is flushed at most once per TTL",
    );
  }
  return { flushIntervalMs: setting * 1000 };
}

/** The pseudo-variant an evaluation that failed is counted under: `error:TARGETING_KEY_MISSING`. */
export const errorVariant = (code: string): string => `error:${code}`;

export interface UsageCounter {
  /** One evaluation of one flag at `at` (ms). FLAG_NOT_FOUND is not counted: there is no such flag. */
  countOne(result: EvaluationResult, at: number): void;
  /**
   * One bulk evaluation at `at`. `tag` names the answer (its ETag): the same array again, or an array of the same
   * results under the same tag, costs one increment. Without a tag, each result is counted on its own.
   */
  countAll(results: readonly EvaluationResult[], at: number, tag?: string): void;
  /** Everything counted since the last take, as a batch for the store; undefined when nothing was counted. */
  take(): UsageBatch | undefined;
  /** Whether anything was counted since the last take. */
  readonly pending: boolean;
  /** Evaluations left uncounted because the table was full (see maxKeys), since the counter began. */
  readonly dropped: number;
  /** When counting began (ms), as given. */
  readonly since: number;
}

export interface UsageCounterOptions {
  /** When this instance began counting (ms since the epoch): the batch's `countingSince`. */
  since: number;
  /** Distinct result objects between two takes; default DEFAULT_USAGE_MAX_KEYS. */
  maxKeys?: number;
  /** Distinct bulk answers between two takes; default DEFAULT_USAGE_MAX_ANSWERS. */
  maxAnswers?: number;
}

interface AnswerCount {
  readonly results: readonly EvaluationResult[];
  count: number;
}

const sameResults = (a: readonly EvaluationResult[], b: readonly EvaluationResult[]): boolean => {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

const positive = (name: string, value: number): number => {
  if (!(Number.isSafeInteger(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
};

const isNotFound = (result: EvaluationResult): boolean =>
  (result as Partial<EvaluationFailure>).errorCode === "FLAG_NOT_FOUND";

export function createUsageCounter(options: UsageCounterOptions): UsageCounter {
  const maxKeys = positive("maxKeys", options.maxKeys ?? DEFAULT_USAGE_MAX_KEYS);
  const maxAnswers = positive("maxAnswers", options.maxAnswers ?? DEFAULT_USAGE_MAX_ANSWERS);
  const byResult = new Map<EvaluationResult, number>();
  const byAnswer = new Map<string, AnswerCount>();
  // The bulk answer counted last: a client polling with one context hits it without a Map lookup.
  let last: AnswerCount | undefined;
  let lastAt = 0;
  let any = false;
  let dropped = 0;

  function add(result: EvaluationResult, count: number): void {
    const known = byResult.get(result);
    if (known !== undefined) byResult.set(result, known + count);
    else if (byResult.size < maxKeys) byResult.set(result, count);
    else dropped += count;
  }

  // evaluateAll answers the rule set's own flags only: no FLAG_NOT_FOUND to leave out of a bulk answer.
  function addAll(results: readonly EvaluationResult[], count: number): void {
    for (let i = 0; i < results.length; i++) add(results[i] as EvaluationResult, count);
  }

  return {
    countOne(result, at) {
      if (isNotFound(result)) return;
      add(result, 1);
      lastAt = at;
      any = true;
    },
    countAll(results, at, tag) {
      lastAt = at;
      any = true;
      if (last !== undefined && last.results === results) {
        last.count++;
        return;
      }
      if (tag === undefined) return addAll(results, 1);
      const known = byAnswer.get(tag);
      if (known !== undefined && sameResults(known.results, results)) {
        known.count++;
        last = known;
      } else if (known === undefined && byAnswer.size < maxAnswers) {
        last = { results, count: 1 };
        byAnswer.set(tag, last);
      } else {
        addAll(results, 1); // a full table, or another answer under the same tag (a hash collision)
      }
    },
    take() {
      if (!any) return undefined;
      any = false;
      for (const { results, count } of byAnswer.values()) addAll(results, count);
      byAnswer.clear();
      last = undefined;
      // Flag key -> variant -> count; results of one flag and variant with different reasons add up.
      const byFlag = new Map<string, Map<string, number>>();
      for (const [result, count] of byResult) {
        const variant =
          "errorCode" in result ? errorVariant(result.errorCode) : (result as { variant: string }).variant;
        let variants = byFlag.get(result.key);
        if (variants === undefined) {
          variants = new Map();
          byFlag.set(result.key, variants);
        }
        variants.set(variant, (variants.get(variant) ?? 0) + count);
      }
      byResult.clear();
      const counts: UsageCount[] = [];
      for (const [key, variants] of byFlag) {
        for (const [variant, count] of variants) counts.push({ key, variant, count });
      }
      // Everything counted may have been dropped (a full table): nothing to send then.
      if (counts.length === 0) return undefined;
      return { at: lastAt, countingSince: options.since, counts };
    },
    get pending() {
      return any;
    },
    get dropped() {
      return dropped;
    },
    since: options.since,
  };
}

// ---- helpers the stores share ---------------------------------------------------------------------------------

export const DAY_MS = 86_400_000;

/** The UTC day of an instant, as the stores key their daily counts: `2026-11-26`. */
export const usageDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The UTC days from `days - 1` days before `now` to `now`'s, oldest first; at most USAGE_DAYS_KEPT of them. */
export function usageDays(now: number, days: number): string[] {
  const count = Math.min(Math.max(0, Math.floor(days)), USAGE_DAYS_KEPT);
  const list: string[] = [];
  for (let back = count - 1; back >= 0; back--) list.push(usageDay(now - back * DAY_MS));
  return list;
}

/** The oldest UTC day a store still keeps counts for, on the day of `at`. */
export const oldestKeptDay = (at: number): string => usageDay(at - (USAGE_DAYS_KEPT - 1) * DAY_MS);

/** An object without a prototype, for records keyed by flag keys and variant names ("constructor" is a valid key). */
export const record = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/**
 * What `readUsage` answers, from a store's last evaluations, the counts of the days asked for and when counting began:
 * counts of a flag with no last evaluation (deleted since, its last evaluation forgotten) are not reported.
 */
export function usageReport(
  lastEvaluated: Iterable<readonly [key: string, at: number]>,
  counts: Iterable<UsageCount>,
  countingSince: number | undefined,
): UsageReport {
  const flags = record<FlagUsage>();
  for (const [key, at] of lastEvaluated) flags[key] = { lastEvaluatedAt: at, variants: record<number>() };
  for (const { key, variant, count } of counts) {
    const usage = flags[key];
    if (usage) usage.variants[variant] = (usage.variants[variant] ?? 0) + count;
  }
  return { ...(countingSince === undefined ? {} : { countingSince }), flags };
}

/** Checks a batch before a store writes it (a store is also called by code other than the cache). */
export function checkUsageBatch(batch: UsageBatch): void {
  const instant = (name: string, value: unknown) => {
    if (!(typeof value === "number" && Number.isSafeInteger(value) && value >= 0)) {
      throw new TypeError(`batch.${name} must be a time in ms since the epoch, got ${JSON.stringify(value)}`);
    }
  };
  instant("at", batch?.at);
  instant("countingSince", batch.countingSince);
  if (!Array.isArray(batch.counts)) throw new TypeError("batch.counts must be a list of {key, variant, count}");
  batch.counts.forEach((row, index) => {
    const { key, variant, count } = row ?? {};
    if (typeof key !== "string" || key === "" || typeof variant !== "string" || variant === "") {
      throw new TypeError(`batch.counts[${index}] must have a non-empty key and variant`);
    }
    if (!(Number.isSafeInteger(count) && count > 0)) {
      throw new TypeError(`batch.counts[${index}].count must be a positive integer, got ${JSON.stringify(count)}`);
    }
  });
}
