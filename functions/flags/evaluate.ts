// The flag evaluator: flags compiled once, then evaluated per context with no I/O (semantics: docs/FLAGS.md).
/*
 * Everything that does not depend on the context is done in compileFlag: the window as epoch ms, segments as a Set,
 * conditions as closures, cumulative variant weights and every result that can be shared (with the metadata of a
 * guarded rollout, when the flag is under one), frozen so one object can be handed to every caller. The hot path
 * then allocates nothing except for FLAG_NOT_FOUND and evaluateAll's array.
 * Compilation never throws: a stored flag that cannot be evaluated (written by an older version, or by hand) compiles
 * to one whose every evaluation is a GENERAL failure saying why.
 */
import { type CompiledCondition, ConditionError, compileCondition, describeValue } from "./conditions.ts";
import { parseInstant } from "./date-time.ts";
import { rolloutBucketer, variantBucketer } from "./hash.ts";
import type {
  EvaluationContext,
  EvaluationFailure,
  EvaluationReason,
  EvaluationResult,
  EvaluationSuccess,
  Flag,
  JsonValue,
  RuleSet,
} from "./types.ts";

// How a flag is evaluated: a number, so the hot path's first test is one comparison.
const FAILED = 0;
const DISABLED = 1;
const ENABLED = 2;
const PARTIAL = 3;
type Mode = typeof FAILED | typeof DISABLED | typeof ENABLED | typeof PARTIAL;

/** A flag ready for evaluation; build it with compileFlag. Its fields are internal to this module. */
export interface CompiledFlag {
  readonly key: string;
  /** Set when the flag cannot be evaluated: every evaluation returns it. */
  readonly failure: EvaluationFailure | undefined;
  readonly mode: Mode;
  /** The window [start, end) in epoch ms (±Infinity when open). */
  readonly start: number;
  readonly end: number;
  /** Undefined when there is no segment test (none listed, or "all" listed). */
  readonly segments: ReadonlySet<string> | undefined;
  readonly conditions: readonly CompiledCondition[];
  readonly percentage: number;
  /** rolloutBucket / variantBucket with the flag's salt (`salt` or the key) already hashed. */
  readonly rolloutBucket: (targetingKey: string) => number;
  readonly variantBucket: (targetingKey: string) => number;
  readonly disabled: EvaluationSuccess;
  readonly missed: EvaluationSuccess;
  readonly splitOff: EvaluationSuccess;
  /** The one weighted variant (or `true`) served on, by reason: STATIC, TARGETING_MATCH, SPLIT; empty with several. */
  readonly single: readonly EvaluationSuccess[];
  /** Several weighted variants in name order, their SPLIT results and running weight totals. */
  readonly picks: readonly EvaluationSuccess[];
  readonly cumulative: readonly number[];
  readonly totalWeight: number;
  readonly splitKeyMissing: EvaluationFailure;
  readonly variantKeyMissing: EvaluationFailure;
}

export interface CompiledRuleSet {
  readonly version: number;
  readonly flags: ReadonlyMap<string, CompiledFlag>;
  /** Flag keys in code-unit order: the order of evaluateAll. */
  readonly keys: readonly string[];
  /** The compiled flags in the order of `keys`, so evaluateAll walks an array instead of looking each key up. */
  readonly ordered: readonly CompiledFlag[];
}

const STATIC = 0;
const TARGETING_MATCH = 1;
const SPLIT = 2;

/** Why a flag cannot be compiled: `field` names the part of the flag that is wrong. */
class FlagError extends Error {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

const describe = describeValue;

type Metadata = EvaluationSuccess["metadata"];

const success = (
  key: string,
  value: JsonValue,
  reason: EvaluationReason,
  variant: string,
  metadata: Metadata,
): EvaluationSuccess =>
  Object.freeze(metadata === undefined ? { key, value, reason, variant } : { key, value, reason, variant, metadata });

/**
 * A flag under a guarded rollout answers with where the rollout stands in OFREP's flag metadata (strings, numbers
 * and booleans only): rolloutPhase, rolloutStep (1-based) of rolloutSteps, rolloutShare (percent). Every success
 * result of the flag carries it, so it changes with the rule-set version like the rest of the flag; a flag without
 * both `rollout` and `rolloutStatus` has none.
 */
function rolloutMetadata(flag: Flag): Metadata {
  const rollout = flag.rollout;
  const status = flag.rolloutStatus;
  if (!rollout || !status) return undefined;
  return Object.freeze({
    rolloutPhase: status.phase,
    rolloutStep: status.step + 1,
    rolloutSteps: Array.isArray(rollout.steps) ? rollout.steps.length : 0,
    rolloutShare: status.share,
  });
}

const failure = (key: string, errorCode: EvaluationFailure["errorCode"], errorDetails: string): EvaluationFailure =>
  Object.freeze({ key, errorCode, errorDetails });

/** A deep, frozen copy: results share the value, so no caller can change it for the next one. */
function frozenCopy(value: JsonValue, path: string): JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new FlagError(path, `must be a JSON value, got ${describe(value)}`);
    return value;
  }
  if (Array.isArray(value))
    return Object.freeze(value.map((item, index) => frozenCopy(item, `${path}[${index}]`))) as JsonValue[];
  if (typeof value === "object") {
    // fromEntries defines own properties, so a "__proto__" key stays data and never becomes the prototype.
    const entries = Object.entries(value).map(([name, item]) => [name, frozenCopy(item, `${path}.${name}`)]);
    return Object.freeze(Object.fromEntries(entries));
  }
  throw new FlagError(path, `must be a JSON value, got ${describe(value)}`);
}

function instant(flag: Flag, field: "startTime" | "endTime", open: number): number {
  const text = flag[field];
  if (text === undefined || text === null) return open;
  const parsed = parseInstant(text);
  if (parsed === undefined) {
    throw new FlagError(
      field,
      `must be an ISO 8601 date-time with an offset (e.g. "2025-03-01T00:00:00Z"), got ${describe(text)}`,
    );
  }
  return parsed;
}

/** What a flag's definition says beyond its results (absent: the failed flag's placeholders). */
interface Rules {
  start?: number;
  end?: number;
  segments?: ReadonlySet<string> | undefined;
  conditions?: CompiledCondition[];
  percentage?: number;
  salt?: string;
}

interface Served {
  disabled: EvaluationSuccess;
  missed: EvaluationSuccess;
  splitOff: EvaluationSuccess;
  single: EvaluationSuccess[];
  picks: EvaluationSuccess[];
  cumulative: number[];
  totalWeight: number;
}

function booleanResults(key: string, metadata?: Metadata): Served {
  return {
    disabled: success(key, false, "DISABLED", "off", metadata),
    missed: success(key, false, "DEFAULT", "off", metadata),
    splitOff: success(key, false, "SPLIT", "off", metadata),
    single: [
      success(key, true, "STATIC", "on", metadata),
      success(key, true, "TARGETING_MATCH", "on", metadata),
      success(key, true, "SPLIT", "on", metadata),
    ],
    picks: [],
    cumulative: [],
    totalWeight: 0,
  };
}

function variantResults(flag: Flag, variants: unknown, metadata: Metadata): Served {
  const key = flag.key;
  if (typeof variants !== "object" || variants === null || Array.isArray(variants)) {
    throw new FlagError("variants", `must be an object of {value, weight} by variant name, got ${describe(variants)}`);
  }
  const names = Object.keys(variants).sort();
  if (names.length === 0) throw new FlagError("variants", "must name at least one variant");
  const values = new Map<string, JsonValue>();
  const weights: number[] = [];
  for (const name of names) {
    const variant: unknown = (variants as Record<string, unknown>)[name];
    if (typeof variant !== "object" || variant === null || !("value" in variant) || !("weight" in variant)) {
      throw new FlagError(`variants.${name}`, `must be an object {value, weight}, got ${describe(variant)}`);
    }
    const { value, weight } = variant as { value: JsonValue; weight: unknown };
    if (typeof weight !== "number" || !Number.isSafeInteger(weight) || weight < 0) {
      throw new FlagError(`variants.${name}.weight`, `must be a non-negative integer, got ${describe(weight)}`);
    }
    values.set(name, frozenCopy(value, `variants.${name}.value`));
    weights.push(weight);
  }
  const fallback = flag.defaultVariant;
  if (typeof fallback !== "string" || !values.has(fallback)) {
    throw new FlagError(
      "defaultVariant",
      fallback === undefined
        ? `is required with variants: one of ${names.join(", ")}`
        : `must be one of ${names.join(", ")}, got ${describe(fallback)}`,
    );
  }
  const fallbackValue = values.get(fallback)!;
  const weighted = names.filter((_, index) => weights[index]! > 0);
  if (weighted.length === 0) throw new FlagError("variants", "at least one variant needs a weight above 0");
  const served: Served = {
    disabled: success(key, fallbackValue, "DISABLED", fallback, metadata),
    missed: success(key, fallbackValue, "DEFAULT", fallback, metadata),
    splitOff: success(key, fallbackValue, "SPLIT", fallback, metadata),
    single: [],
    picks: [],
    cumulative: [],
    totalWeight: 0,
  };
  if (weighted.length === 1) {
    const name = weighted[0]!;
    const value = values.get(name)!;
    served.single = [
      success(key, value, "STATIC", name, metadata),
      success(key, value, "TARGETING_MATCH", name, metadata),
      success(key, value, "SPLIT", name, metadata),
    ];
    return served;
  }
  names.forEach((name, index) => {
    const weight = weights[index]!;
    if (weight === 0) return;
    served.totalWeight += weight;
    served.cumulative.push(served.totalWeight);
    served.picks.push(success(key, values.get(name)!, "SPLIT", name, metadata));
  });
  if (!Number.isSafeInteger(served.totalWeight))
    throw new FlagError("variants", "the weights add up to more than 2^53 - 1");
  return served;
}

function segmentSet(segments: unknown): ReadonlySet<string> | undefined {
  if (segments === undefined || segments === null) return undefined;
  if (!Array.isArray(segments)) throw new FlagError("segments", `must be a list of strings, got ${describe(segments)}`);
  segments.forEach((segment: unknown, index) => {
    if (typeof segment !== "string") {
      throw new FlagError(`segments[${index}]`, `must be a string, got ${describe(segment)}`);
    }
  });
  // No list, or one with "all": everybody passes, so no test at all.
  return segments.length === 0 || segments.includes("all") ? undefined : new Set(segments as string[]);
}

function compiledConditions(conditions: unknown): CompiledCondition[] {
  if (conditions === undefined || conditions === null) return [];
  if (!Array.isArray(conditions)) {
    throw new FlagError("conditions", `must be a list of {attribute, op, value}, got ${describe(conditions)}`);
  }
  return conditions.map((condition, index) => {
    try {
      return compileCondition(condition);
    } catch (error) {
      if (!(error instanceof ConditionError)) throw error;
      throw new FlagError(
        error.field === "" ? `conditions[${index}]` : `conditions[${index}].${error.field}`,
        error.detail,
      );
    }
  });
}

function build(key: string, mode: Mode, failed: EvaluationFailure | undefined, parts: Served & Rules): CompiledFlag {
  // One literal with every field in one order: every CompiledFlag has the same shape, so evaluateFlag stays monomorphic.
  return Object.freeze({
    key,
    failure: failed,
    mode,
    start: parts.start ?? Number.NEGATIVE_INFINITY,
    end: parts.end ?? Number.POSITIVE_INFINITY,
    segments: parts.segments,
    conditions: parts.conditions ?? [],
    percentage: parts.percentage ?? 100,
    rolloutBucket: rolloutBucketer(parts.salt ?? key),
    variantBucket: variantBucketer(parts.salt ?? key, Math.max(parts.totalWeight, 1)),
    disabled: parts.disabled,
    missed: parts.missed,
    splitOff: parts.splitOff,
    single: parts.single,
    picks: parts.picks,
    cumulative: parts.cumulative,
    totalWeight: parts.totalWeight,
    splitKeyMissing: failure(
      key,
      "TARGETING_KEY_MISSING",
      `flag ${key} splits by percentage: the context needs a targetingKey (a non-empty string)`,
    ),
    variantKeyMissing: failure(
      key,
      "TARGETING_KEY_MISSING",
      `flag ${key} chooses between variants by weight: the context needs a targetingKey (a non-empty string)`,
    ),
  });
}

function failedFlag(key: string, why: string): CompiledFlag {
  return build(key, FAILED, failure(key, "GENERAL", `flag ${key} cannot be evaluated: ${why}`), booleanResults(key));
}

function compile(flag: Flag): CompiledFlag {
  if (typeof flag !== "object" || flag === null)
    return failedFlag(String(flag), `a flag is an object, got ${describe(flag)}`);
  const key = flag.key;
  if (typeof key !== "string" || key === "")
    return failedFlag(String(key), `key: must be a non-empty string, got ${describe(key)}`);
  const mode =
    flag.state === "enabled"
      ? ENABLED
      : flag.state === "disabled"
        ? DISABLED
        : flag.state === "partial"
          ? PARTIAL
          : undefined;
  if (mode === undefined)
    throw new FlagError("state", `must be enabled, disabled or partial, got ${describe(flag.state)}`);
  const percentage = flag.percentage ?? 100;
  if (typeof percentage !== "number" || !Number.isInteger(percentage) || percentage < 0 || percentage > 100) {
    throw new FlagError("percentage", `must be an integer from 0 to 100, got ${describe(flag.percentage)}`);
  }
  const salt = flag.salt ?? key;
  if (typeof salt !== "string") throw new FlagError("salt", `must be a string, got ${describe(flag.salt)}`);
  const metadata = rolloutMetadata(flag);
  const served =
    flag.variants === undefined || flag.variants === null
      ? booleanResults(key, metadata)
      : variantResults(flag, flag.variants, metadata);
  return build(key, mode, undefined, {
    ...served,
    start: instant(flag, "startTime", Number.NEGATIVE_INFINITY),
    end: instant(flag, "endTime", Number.POSITIVE_INFINITY),
    segments: segmentSet(flag.segments),
    conditions: compiledConditions(flag.conditions),
    percentage,
    salt,
  });
}

/** The flag compiled for evaluation; never throws (a flag that cannot be evaluated yields GENERAL failures). */
export function compileFlag(flag: Flag): CompiledFlag {
  try {
    return compile(flag);
  } catch (error) {
    const key = typeof flag === "object" && flag !== null ? String(flag.key) : String(flag);
    const why = error instanceof FlagError ? error.message : `${(error as Error)?.message ?? String(error)}`;
    return failedFlag(key, why);
  }
}

/** Every flag of the rule set compiled; never throws. A flag stored under another key than its own fails (GENERAL). */
export function compileRuleSet(ruleSet: RuleSet): CompiledRuleSet {
  const flags = new Map<string, CompiledFlag>();
  const stored = typeof ruleSet?.flags === "object" && ruleSet.flags !== null ? ruleSet.flags : {};
  for (const [key, entry] of Object.entries(stored)) {
    const flag: unknown = entry?.flag;
    const own = typeof flag === "object" && flag !== null ? (flag as { key?: unknown }).key : undefined;
    flags.set(
      key,
      own === key
        ? compileFlag(flag as Flag)
        : failedFlag(key, `it is stored under ${describe(key)} but its key is ${describe(own)}`),
    );
  }
  const keys = Object.freeze([...flags.keys()].sort());
  const ordered = Object.freeze(keys.map((key) => flags.get(key) as CompiledFlag));
  return Object.freeze({ version: ruleSet?.version, flags, keys, ordered });
}

// The "on" result: the single weighted variant (or true) with the path's reason, else a variant picked by weight.
function served(flag: CompiledFlag, context: EvaluationContext, reason: number): EvaluationResult {
  if (flag.single.length !== 0) return flag.single[reason]!;
  const targetingKey = context.targetingKey;
  if (typeof targetingKey !== "string" || targetingKey === "") return flag.variantKeyMissing;
  const bucket = flag.variantBucket(targetingKey);
  const cumulative = flag.cumulative;
  const last = cumulative.length - 1;
  for (let index = 0; index < last; index++) if (bucket < cumulative[index]!) return flag.picks[index]!;
  return flag.picks[last]!;
}

/** One flag for one context at `now` (epoch ms). Results are frozen and may be shared between calls. */
/**
 * `now` (epoch ms) is read only by flags with a time window; when it is left out such a flag reads the clock
 * itself, so the common flag without a window costs no clock read (which costs more than the rest of an
 * evaluation on some machines).
 */
export function evaluateFlag(flag: CompiledFlag, context: EvaluationContext, now?: number): EvaluationResult {
  const mode = flag.mode;
  if (mode === FAILED) return flag.failure!;
  if (mode === DISABLED) return flag.disabled;
  if (flag.start !== Number.NEGATIVE_INFINITY || flag.end !== Number.POSITIVE_INFINITY) {
    const at = now ?? Date.now();
    if (at < flag.start || at >= flag.end) return flag.disabled;
  }
  if (mode === ENABLED) return served(flag, context, STATIC);
  const segments = flag.segments;
  if (segments !== undefined) {
    const segment = context.segment;
    if (typeof segment !== "string" || !segments.has(segment)) return flag.missed;
  }
  const conditions = flag.conditions;
  for (let index = 0; index < conditions.length; index++) if (!conditions[index]!(context)) return flag.missed;
  const percentage = flag.percentage;
  if (percentage >= 100) return served(flag, context, TARGETING_MATCH);
  const targetingKey = context.targetingKey;
  if (typeof targetingKey !== "string" || targetingKey === "") return flag.splitKeyMissing;
  if (flag.rolloutBucket(targetingKey) >= percentage) return flag.splitOff;
  return served(flag, context, SPLIT);
}

/** The flag `key` of the set; FLAG_NOT_FOUND when the set has no such flag. */
export function evaluateKey(
  set: CompiledRuleSet,
  key: string,
  context: EvaluationContext,
  now?: number,
): EvaluationResult {
  const flag = set.flags.get(key);
  if (flag === undefined)
    return failure(key, "FLAG_NOT_FOUND", `flag ${key} not found (rule set version ${set.version})`);
  return evaluateFlag(flag, context, now);
}

/** Every flag of the set, in key order. */
export function evaluateAll(set: CompiledRuleSet, context: EvaluationContext, now?: number): EvaluationResult[] {
  return evaluateAllInto(set, context, now, new Array<EvaluationResult>(set.ordered.length));
}

/** evaluateAll written into `out` (its length set to the set's), for a caller that reuses one array. */
export function evaluateAllInto(
  set: CompiledRuleSet,
  context: EvaluationContext,
  now: number | undefined,
  out: EvaluationResult[],
): EvaluationResult[] {
  const ordered = set.ordered;
  out.length = ordered.length;
  for (let index = 0; index < ordered.length; index++) out[index] = evaluateFlag(ordered[index]!, context, now);
  return out;
}
