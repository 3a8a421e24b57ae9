// Unleash import: client-API feature JSON to greenlight flags, and Unleash contexts to evaluation contexts.
// Users run it as `greenlight flags import --from unleash` (scripts/cli/flags/import.ts, flags/unleash-plan.ts).
/*
 * The one rule is fidelity: a feature becomes a flag only when the flag answers like an Unleash SDK for every
 * context (converted by unleashContextToEvaluation). Whatever greenlight cannot express exactly goes to `skipped`
 * with a one-line reason; nothing is approximated. The reference semantics are unleash-client (Node) 6.x.
 * Pure and total: no Node APIs, and it never throws, whatever it is handed.
 *
 * Known gaps, where Unleash's answer rests on a die roll or a JavaScript quirk (test/flags/unleash.test.ts keeps
 * clear of them when it checks imports against unleash-client):
 * - default stickiness with neither userId nor sessionId: Unleash rolls a die per call, greenlight answers
 *   TARGETING_KEY_MISSING (a percentage split needs a targetingKey);
 * - userWithId, gradualRollout* and default stickiness read userId / sessionId at the top level only; the context
 *   here also finds them under properties, as Unleash's constraints do;
 * - NUM_* read the context with Number() in Node ("" is 0, " 12" and "0x10" are numbers); greenlight takes plain
 *   decimals only;
 * - SEMVER_* in Node trim the context value and accept prerelease numbers beyond 2^53; greenlight does neither;
 * - Node hashes the low byte of each UTF-16 unit, greenlight UTF-8: non-ASCII ids bucket as in SDKs that hash UTF-8;
 * - a rollout without groupId hashes with the feature name (Unleash's documented default; Node uses "").
 */
import { isObject, type JsonObject } from "../contract/objects.ts";
import { parseSemver } from "./semver.ts";
import type { Condition, EvaluationContext, Flag } from "./types.ts";
import { describeProblems, validateFlag } from "./validate.ts";

export interface UnleashImport {
  flags: Flag[];
  skipped: { name: string; reason: string }[];
  /**
   * Flags that split by a context field other than Unleash's default (userId, then sessionId): flag key -> the
   * field whose value must be the targetingKey, as passed to unleashContextToEvaluation.
   */
  stickiness: Record<string, string>;
}

/** An Unleash SDK context: the standard fields, `properties` for custom ones. */
export interface UnleashContext {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
  environment?: string;
  appName?: string;
  currentTime?: string | Date;
  properties?: Record<string, string | number | boolean | null | undefined>;
  [field: string]: unknown;
}

type Skip = { name: string; reason: string };
const show = (value: unknown): string => {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) text = String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

// ---- contexts ----------------------------------------------------------------------------------------------------

/** A context value as Unleash's constraints read it: String() of anything but null and undefined. */
function contextText(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  // currentTime as an instant greenlight can read; only DATE_* constraints look at it, and they become the window.
  if (name === "currentTime" && value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  }
  try {
    return String(value);
  } catch {
    return undefined; // a value whose toString throws is treated as missing
  }
}

/**
 * The evaluation context an Unleash context means: every field and every `properties.X` as attribute X (a top-level
 * field wins over a property of the same name, as in Unleash), and as targetingKey the value of the `stickiness`
 * field ("default": userId, then sessionId; "random": none). A flag listed in UnleashImport.stickiness needs that
 * field here.
 */
export function unleashContextToEvaluation(context: UnleashContext, stickiness = "default"): EvaluationContext {
  const result: EvaluationContext = {};
  if (!isObject(context)) return result;
  const set = (name: string, value: unknown): void => {
    const text = contextText(name, value);
    // defineProperty: a "__proto__" field stays data and never becomes the prototype.
    if (text !== undefined)
      Object.defineProperty(result, name, { value: text, enumerable: true, writable: true, configurable: true });
  };
  const properties = context.properties;
  if (isObject(properties)) for (const [name, value] of Object.entries(properties)) set(name, value);
  for (const [name, value] of Object.entries(context)) if (name !== "properties") set(name, value);
  delete result.targetingKey;
  const field = (name: string): string | undefined => {
    const value = Object.hasOwn(result, name) ? result[name] : undefined;
    return typeof value === "string" && value !== "" ? value : undefined;
  };
  const key =
    stickiness === "default"
      ? (field("userId") ?? field("sessionId"))
      : stickiness === "random"
        ? undefined
        : field(stickiness);
  if (key !== undefined) result.targetingKey = key;
  return result;
}

// ---- rules -------------------------------------------------------------------------------------------------------

/** One strategy as greenlight targeting: all conditions, then the split, inside the window [start, end). */
interface Rule {
  conditions: Condition[];
  percentage: number;
  salt: string;
  stickiness: string;
  start: number;
  end: number;
}

type Outcome = { kind: "rule"; rule: Rule } | { kind: "never" } | { kind: "problem"; reason: string };

const NEVER: Outcome = { kind: "never" };
const problem = (reason: string): Outcome => ({ kind: "problem", reason });

/** A condition that means what Unleash means only next to another condition on its attribute (its guard). */
interface Guarded {
  condition: Condition;
  /** "present": another condition on the attribute fails when it is missing; "numeric": one fails unless numeric. */
  needs: "present" | "numeric";
  reason: string;
}

/** What the constraints of one strategy add up to, before the guards are checked. */
interface Draft {
  conditions: Condition[];
  guarded: Guarded[];
  start: number;
  end: number;
  never: boolean;
  problems: string[];
}

const NUMERIC_OPS: Record<string, Condition["op"]> = {
  NUM_EQ: "eq",
  NUM_GT: "gt",
  NUM_GTE: "gte",
  NUM_LT: "lt",
  NUM_LTE: "lte",
};
// !(a > b) is a <= b only for numbers: NaN is why an inverted NUM_* needs a numeric guard.
const NUMERIC_INVERSE: Record<string, Condition["op"]> = {
  NUM_EQ: "neq",
  NUM_GT: "lte",
  NUM_GTE: "lt",
  NUM_LT: "gte",
  NUM_LTE: "gt",
};
const STRING_OPS: Record<string, Condition["op"]> = {
  STR_CONTAINS: "contains",
  STR_STARTS_WITH: "starts_with",
  STR_ENDS_WITH: "ends_with",
};
const SEMVER_OPS: Record<string, Condition["op"]> = {
  SEMVER_EQ: "semver_eq",
  SEMVER_GT: "semver_gt",
  SEMVER_LT: "semver_lt",
  SEMVER_LTE: "semver_lt", // below the next version up: see nextVersion
};
const UNSUPPORTED_OPS: Record<string, string> = {
  SEMVER_GTE: "greenlight has semver_eq, semver_gt and semver_lt but no semver_gte",
  REGEX:
    "Unleash matches RE2 syntax on the whole value, greenlight's matches (RE2 too) fails a value over 1024 characters",
  IN_CIDR: "greenlight has no IP-range test",
};

/** Unleash's cleanValues: empty entries dropped, the rest trimmed; undefined unless a list of strings. */
function cleanValues(values: unknown): string[] | undefined {
  if (!Array.isArray(values)) return undefined;
  const cleaned: string[] = [];
  for (const value of values as unknown[]) {
    if (!value) continue;
    // Unleash would call trim() on it and throw.
    if (typeof value !== "string") return undefined;
    const trimmed = value.trim();
    if (!cleaned.includes(trimmed)) cleaned.push(trimmed);
  }
  return cleaned;
}

// ES date-time forms whose meaning does not depend on the runtime's time zone (a date alone is UTC).
const DATE_FORM = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** Epoch ms as greenlight's ISO instant, undefined outside years 0000-9999. */
function isoInstant(ms: number): string | undefined {
  if (!Number.isFinite(ms)) return undefined;
  const text = new Date(ms).toISOString();
  return /^\d{4}-/.test(text) ? text : undefined;
}

/** Adds one constraint (from the strategy or one of its segments) to the draft. */
function addConstraint(draft: Draft, constraint: unknown, where: string): void {
  if (!isObject(constraint)) {
    draft.problems.push(`${where}: ${show(constraint)} is not a constraint object {contextName, operator, ...}`);
    return;
  }
  const { contextName: field, operator, inverted, caseInsensitive } = constraint;
  if (typeof field !== "string" || field === "") {
    draft.problems.push(`${where}: contextName must be a non-empty string, got ${show(field)}`);
    return;
  }
  if (typeof operator !== "string") {
    draft.problems.push(`${where} on ${field}: operator must be a string, got ${show(operator)}`);
    return;
  }
  const at = `${where} ${operator} on ${field}`;
  if (inverted !== undefined && inverted !== null && typeof inverted !== "boolean") {
    draft.problems.push(`${at}: inverted must be true or false, got ${show(inverted)}`);
    return;
  }
  if (caseInsensitive !== undefined && caseInsensitive !== null && typeof caseInsensitive !== "boolean") {
    draft.problems.push(`${at}: caseInsensitive must be true or false, got ${show(caseInsensitive)}`);
    return;
  }
  const invert = inverted === true;
  if (field === "targetingKey") {
    draft.problems.push(`${at}: a context field named targetingKey would be read as greenlight's targeting key`);
    return;
  }
  if (operator === "DATE_AFTER" || operator === "DATE_BEFORE") {
    addDate(draft, constraint, at, operator, field, invert);
    return;
  }
  if (field === "currentTime") {
    draft.problems.push(`${at}: currentTime is only imported with DATE_AFTER and DATE_BEFORE`);
    return;
  }
  if (operator === "IN" || operator === "NOT_IN") {
    const values = cleanValues(constraint.values);
    if (values === undefined) {
      draft.problems.push(`${at}: values must be a list of strings, got ${show(constraint.values)}`);
      return;
    }
    const member = (operator === "IN") !== invert;
    // Nothing is in an empty list, whether the field is there or not.
    if (values.length === 0) {
      if (member) draft.never = true;
      return;
    }
    if (member) {
      draft.conditions.push({ attribute: field, op: "in", value: values });
    } else {
      draft.guarded.push({
        condition: { attribute: field, op: "not_in", value: values },
        needs: "present",
        reason: `${at}${invert ? " (inverted)" : ""}: Unleash's NOT_IN also holds when ${field} is missing, greenlight's not_in does not; only imported next to a constraint that needs ${field}`,
      });
    }
    return;
  }
  const stringOp = STRING_OPS[operator];
  if (stringOp !== undefined) {
    const values = cleanValues(constraint.values);
    if (values === undefined) {
      draft.problems.push(`${at}: values must be a list of strings, got ${show(constraint.values)}`);
      return;
    }
    if (invert) {
      if (values.length === 0) return; // !false: holds for every context
      draft.problems.push(`${at} (inverted): greenlight has no negated ${stringOp}`);
      return;
    }
    if (values.length === 0) {
      draft.never = true;
      return;
    }
    // Lower-casing the context changes no printable ASCII non-letter, so such values compare the same either way.
    if (caseInsensitive === true && !values.every((value) => /^[\x20-\x40\x5b-\x60\x7b-\x7e]*$/.test(value))) {
      draft.problems.push(
        `${at}: caseInsensitive with letters in the values; greenlight's ${stringOp} is case-sensitive`,
      );
      return;
    }
    draft.conditions.push({ attribute: field, op: stringOp, value: values.length === 1 ? values[0]! : values });
    return;
  }
  const numericOp = NUMERIC_OPS[operator];
  if (numericOp !== undefined) {
    const raw = constraint.value;
    const value =
      typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
    if (!Number.isFinite(value)) {
      draft.problems.push(`${at}: value must be a finite number, got ${show(raw)}`);
      return;
    }
    if (invert) {
      draft.guarded.push({
        condition: { attribute: field, op: NUMERIC_INVERSE[operator]!, value },
        needs: "numeric",
        reason: `${at} (inverted): Unleash's inverted ${operator} also holds when ${field} is missing or not a number; only imported next to a numeric constraint on ${field}`,
      });
    } else {
      draft.conditions.push({ attribute: field, op: numericOp, value });
    }
    return;
  }
  const semverOp = SEMVER_OPS[operator];
  if (semverOp !== undefined) {
    const raw = constraint.value;
    // node-semver reads the constraint's value trimmed and with an optional leading "v".
    const text = typeof raw === "string" ? raw.trim() : "";
    const bare = text.startsWith("v") ? text.slice(1) : text;
    const valid = bare !== "" && !bare.startsWith("v") && parseSemver(bare) !== undefined;
    const bound = !valid ? undefined : operator === "SEMVER_LTE" ? nextVersion(bare) : bare;
    if (bound === undefined) {
      draft.problems.push(`${at}: value must be a semantic version such as "1.2.3", got ${show(raw)}`);
      return;
    }
    if (invert) {
      draft.problems.push(`${at} (inverted): greenlight has no negated ${semverOp}`);
      return;
    }
    // Unleash refuses a context version that starts with "v"; greenlight's parser would take it.
    const guard: Condition = { attribute: field, op: "matches", value: "^[0-9]" };
    if (!draft.conditions.some((condition) => sameCondition(condition, guard))) draft.conditions.push(guard);
    draft.conditions.push({ attribute: field, op: semverOp, value: bound });
    return;
  }
  const unsupported = UNSUPPORTED_OPS[operator];
  draft.problems.push(`${at}: ${unsupported ?? "not an operator greenlight knows"}`);
}

/**
 * The lowest version above `text` in semver precedence, so that x <= v is x < nextVersion(v): a release is followed
 * by the next patch's lowest prerelease (1.2.2 -> 1.2.3-0), a prerelease by its shortest extension (-rc.1 -> -rc.1.0).
 * Build metadata does not take part in precedence and is dropped. Undefined when `text` is not a version.
 */
function nextVersion(text: string): string | undefined {
  const version = parseSemver(text);
  if (version === undefined) return undefined;
  const { major, minor, patch, prerelease } = version;
  const next =
    prerelease.length === 0
      ? `${major}.${minor}.${patch + 1}-0`
      : `${major}.${minor}.${patch}-${prerelease.join(".")}.0`;
  return parseSemver(next) === undefined ? undefined : next;
}

function addDate(draft: Draft, constraint: JsonObject, at: string, operator: string, field: string, invert: boolean) {
  // Unleash compares the current time whatever contextName says, so only currentTime means what it says.
  if (field !== "currentTime") {
    draft.problems.push(`${at}: Unleash compares the current time, not ${field}; only currentTime is imported`);
    return;
  }
  const raw = constraint.value;
  const instant = typeof raw === "string" && DATE_FORM.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(instant)) {
    draft.problems.push(
      `${at}: value must be an ISO 8601 date-time with an offset (e.g. "2025-03-01T00:00:00.000Z"), got ${show(raw)}`,
    );
    return;
  }
  // DATE_AFTER is now > t, i.e. now >= t + 1 ms; DATE_BEFORE is now < t. Inverted, the other side of the same edge.
  const edge = operator === "DATE_AFTER" ? instant + 1 : instant;
  const from = (operator === "DATE_AFTER") !== invert;
  if (from) draft.start = Math.max(draft.start, edge);
  else draft.end = Math.min(draft.end, edge);
}

const sameCondition = (a: Condition, b: Condition): boolean =>
  a.attribute === b.attribute && a.op === b.op && JSON.stringify(a.value) === JSON.stringify(b.value);

const isNumericCondition = (condition: Condition): boolean =>
  typeof condition.value === "number" && ["eq", "gt", "gte", "lt", "lte"].includes(condition.op);

// ---- strategies --------------------------------------------------------------------------------------------------

type Segments = ReadonlyMap<number, unknown>;

/** A rollout percentage, floored: hash % 100 + 1 <= p is hash % 100 < floor(p); NaN never holds. */
function percentageOf(value: number): number {
  return Number.isNaN(value) ? 0 : Math.min(100, Math.max(0, Math.floor(value)));
}

/** A numeric parameter as Unleash reads it, Number() of a string or a number (missing: NaN); else undefined. */
function numberParameter(raw: unknown): number | undefined {
  if (raw === undefined || raw === null) return Number.NaN;
  if (typeof raw === "number") return raw;
  return typeof raw === "string" ? Number(raw) : undefined;
}

/** The groupId a rollout hashes with, the feature name when there is none; undefined when it is not text. */
function groupIdOf(raw: unknown, featureName: string): string | undefined {
  if (raw === undefined || raw === null || raw === "") return featureName;
  return typeof raw === "string" || typeof raw === "number" ? String(raw) : undefined;
}

function convertStrategy(strategy: unknown, featureName: string, segments: Segments, where: string): Outcome {
  if (!isObject(strategy)) return problem(`${where}: ${show(strategy)} is not a strategy object {name, parameters}`);
  const name = strategy.name;
  if (typeof name !== "string" || name === "") return problem(`${where}: name must be a non-empty string`);
  const at = `${where} ${name}`;
  const parameters = strategy.parameters ?? {};
  if (!isObject(parameters)) return problem(`${at}: parameters must be an object, got ${show(parameters)}`);
  const constraints = strategy.constraints ?? [];
  if (!Array.isArray(constraints)) return problem(`${at}: constraints must be a list, got ${show(constraints)}`);
  const segmentIds = strategy.segments ?? [];
  if (!Array.isArray(segmentIds)) return problem(`${at}: segments must be a list of ids, got ${show(segmentIds)}`);

  const draft: Draft = {
    conditions: [],
    guarded: [],
    start: Number.NEGATIVE_INFINITY,
    end: Number.POSITIVE_INFINITY,
    never: false,
    problems: [],
  };
  constraints.forEach((constraint: unknown, index) => {
    addConstraint(draft, constraint, `${at} constraint ${index + 1}`);
  });
  for (const id of segmentIds as unknown[]) {
    const segment = typeof id === "number" ? segments.get(id) : undefined;
    if (!isObject(segment)) {
      return problem(`${at}: uses segment ${show(id)}, which the input does not define`);
    }
    const segmentConstraints = segment.constraints ?? [];
    if (!Array.isArray(segmentConstraints)) {
      return problem(`${at}: segment ${id} constraints must be a list, got ${show(segmentConstraints)}`);
    }
    segmentConstraints.forEach((constraint: unknown, index) => {
      addConstraint(draft, constraint, `${at} segment ${id} constraint ${index + 1}`);
    });
  }

  let percentage = 100;
  let salt = featureName;
  let stickiness = "default";
  // The field a split needs: Unleash answers false without it (userId, sessionId or a custom stickiness).
  let required: string | undefined;
  switch (name) {
    case "default":
      break;
    case "userWithId": {
      const userIds = parameters.userIds;
      if (userIds !== undefined && userIds !== null && typeof userIds !== "string") {
        return problem(`${at}: parameters.userIds must be a comma-separated string, got ${show(userIds)}`);
      }
      // Unleash splits on commas with the spaces around them, and keeps empty entries.
      const list = userIds ? [...new Set(userIds.split(/\s*,\s*/))] : [];
      if (list.length === 0) draft.never = true;
      else draft.conditions.push({ attribute: "userId", op: "in", value: list });
      break;
    }
    case "flexibleRollout": {
      const rollout = numberParameter(parameters.rollout);
      if (rollout === undefined)
        return problem(`${at}: parameters.rollout must be a number, got ${show(parameters.rollout)}`);
      const groupId = groupIdOf(parameters.groupId, featureName);
      if (groupId === undefined)
        return problem(`${at}: parameters.groupId must be a string, got ${show(parameters.groupId)}`);
      percentage = percentageOf(rollout);
      salt = groupId;
      const raw = parameters.stickiness;
      if (raw !== undefined && raw !== null && typeof raw !== "string") {
        return problem(`${at}: parameters.stickiness must be a string, got ${show(raw)}`);
      }
      stickiness = raw || "default";
      if (stickiness === "random") {
        if (percentage > 0 && percentage < 100) {
          return problem(
            `${at}: random stickiness at ${percentage}% draws per evaluation; greenlight splits by targetingKey`,
          );
        }
        stickiness = "default";
      } else if (stickiness !== "default") {
        required = stickiness;
      }
      break;
    }
    case "gradualRolloutUserId":
    case "gradualRolloutSessionId": {
      const share = numberParameter(parameters.percentage);
      if (share === undefined) {
        return problem(`${at}: parameters.percentage must be a number, got ${show(parameters.percentage)}`);
      }
      const groupId = groupIdOf(parameters.groupId, featureName);
      if (groupId === undefined)
        return problem(`${at}: parameters.groupId must be a string, got ${show(parameters.groupId)}`);
      percentage = percentageOf(share);
      salt = groupId;
      stickiness = name === "gradualRolloutUserId" ? "userId" : "sessionId";
      required = stickiness;
      break;
    }
    case "gradualRolloutRandom": {
      // Unleash: percentage >= a random 1..100, so below 1 never and from 100 always.
      const value = numberParameter(parameters.percentage);
      if (value === undefined) {
        return problem(`${at}: parameters.percentage must be a number, got ${show(parameters.percentage)}`);
      }
      if (Number.isNaN(value) || value < 1) draft.never = true;
      else if (value < 100) {
        return problem(`${at}: a random ${value}% draws per evaluation; greenlight splits by targetingKey`);
      }
      percentage = 100;
      break;
    }
    case "remoteAddress":
      return problem(`${at}: greenlight has no IP-range test`);
    case "applicationHostname":
      return problem(`${at}: greenlight evaluates at the edge and knows no application hostname`);
    default:
      return problem(`${at}: not a built-in Unleash strategy (a custom one runs only inside an Unleash SDK)`);
  }
  if (percentage === 0) draft.never = true;
  if (draft.start >= draft.end) draft.never = true;
  // A strategy that can never hold is dropped whatever else it says: false AND anything is false.
  if (draft.never) return NEVER;
  if (draft.problems.length > 0) return problem(draft.problems[0]!);

  if (required !== undefined) {
    if (required === "targetingKey" || required === "currentTime") {
      return problem(`${at}: stickiness ${required} cannot be a greenlight targeting key`);
    }
    // Present and not empty: Unleash answers false for a missing or empty stickiness value.
    draft.conditions.push({ attribute: required, op: "not_in", value: [""] });
  }
  // Only unguarded conditions can guard: two NOT_INs on one field would both hold in Unleash when it is missing.
  const unguarded = [...draft.conditions];
  for (const guarded of draft.guarded) {
    const attribute = guarded.condition.attribute;
    const covered = unguarded.some(
      (condition) =>
        condition.attribute === attribute && (guarded.needs === "present" || isNumericCondition(condition)),
    );
    if (!covered) return problem(guarded.reason);
    draft.conditions.push(guarded.condition);
  }
  // Segments often repeat a strategy's own constraint: one copy is enough.
  const conditions = draft.conditions.filter(
    (condition, index) => draft.conditions.findIndex((other) => sameCondition(other, condition)) === index,
  );
  return {
    kind: "rule",
    rule: {
      conditions,
      percentage,
      salt,
      stickiness: percentage < 100 ? stickiness : "default",
      start: draft.start,
      end: draft.end,
    },
  };
}

const isAlways = (rule: Rule): boolean =>
  rule.conditions.length === 0 &&
  rule.percentage === 100 &&
  rule.start === Number.NEGATIVE_INFINITY &&
  rule.end === Number.POSITIVE_INFINITY;

const ruleText = (rule: Rule): string => JSON.stringify(rule, (_key, value) => (value === Infinity ? "inf" : value));

/** Several strategies as one rule, when their OR is one: equal rules, or one `in` test on the same attribute each. */
function mergeRules(rules: Rule[]): Rule | undefined {
  const distinct = rules.filter(
    (rule, index) => rules.findIndex((other) => ruleText(other) === ruleText(rule)) === index,
  );
  if (distinct.length === 1) return distinct[0];
  const first = distinct[0]!.conditions[0];
  const mergeable = distinct.every((rule) => {
    const only = rule.conditions[0];
    return (
      rule.conditions.length === 1 &&
      only !== undefined &&
      first !== undefined &&
      only.op === "in" &&
      only.attribute === first.attribute &&
      rule.percentage === 100 &&
      rule.start === Number.NEGATIVE_INFINITY &&
      rule.end === Number.POSITIVE_INFINITY
    );
  });
  if (!mergeable || first === undefined) return undefined;
  const values = [...new Set(distinct.flatMap((rule) => rule.conditions[0]!.value as string[]))];
  return { ...distinct[0]!, conditions: [{ attribute: first.attribute, op: "in", value: values }] };
}

// ---- features ----------------------------------------------------------------------------------------------------

const MAX_DESCRIPTION = 1000;

type Converted = { flag: Flag; stickiness?: string } | { reason: string };

const hasVariants = (value: unknown): boolean => Array.isArray(value) && value.length > 0;

function convertFeature(feature: JsonObject, name: string, segments: Segments): Converted {
  const flag: Flag = { key: name, state: "disabled" };
  const description = feature.description;
  if (typeof description === "string" && description !== "") {
    // A description is not worth losing the flag over: cut to greenlight's 1000 characters.
    const chars = [...description];
    flag.description =
      chars.length > MAX_DESCRIPTION ? `${chars.slice(0, MAX_DESCRIPTION - 1).join("")}…` : description;
  }
  if (typeof feature.enabled !== "boolean") {
    return { reason: `enabled must be true or false, got ${show(feature.enabled)}` };
  }
  const dependencies = feature.dependencies;
  if (dependencies !== undefined && dependencies !== null && !Array.isArray(dependencies)) {
    return { reason: `dependencies must be a list, got ${show(dependencies)}` };
  }
  if (Array.isArray(dependencies) && dependencies.length > 0) {
    const parents = dependencies.map((dependency) => (isObject(dependency) ? dependency.feature : dependency));
    return {
      reason: `dependencies: depends on ${parents.map((parent) => show(parent)).join(", ")}; greenlight flags do not depend on other flags`,
    };
  }
  const strategies = feature.strategies;
  const strategyVariants =
    Array.isArray(strategies) && strategies.some((strategy) => isObject(strategy) && hasVariants(strategy.variants));
  if (hasVariants(feature.variants) || strategyVariants) {
    return {
      reason: `variants: not imported (Unleash picks variants in list order with their own stickiness and overrides; greenlight flags from Unleash are boolean)`,
    };
  }
  // Off is off: Unleash looks at nothing else.
  if (!feature.enabled) return { flag };
  if (!Array.isArray(strategies)) {
    return { reason: `strategies must be a list, got ${show(strategies)} (Unleash treats such a feature as off)` };
  }
  if (strategies.length === 0) return { flag: { ...flag, state: "enabled" } };

  const outcomes = strategies.map((strategy: unknown, index) =>
    convertStrategy(strategy, name, segments, `strategy ${index + 1}`),
  );
  // Unleash enables the feature when any strategy holds: one that always holds decides it.
  if (outcomes.some((outcome) => outcome.kind === "rule" && isAlways(outcome.rule))) {
    return { flag: { ...flag, state: "enabled" } };
  }
  const blocked = outcomes.find((outcome) => outcome.kind === "problem");
  if (blocked !== undefined && blocked.kind === "problem") return { reason: blocked.reason };
  const rules = outcomes.flatMap((outcome) => (outcome.kind === "rule" ? [outcome.rule] : []));
  if (rules.length === 0) return { flag }; // every strategy is one that can never hold
  const rule = mergeRules(rules);
  if (rule === undefined) {
    return {
      reason: `${rules.length} strategies can each enable it; Unleash enables on any of them, a greenlight flag has one targeting rule`,
    };
  }

  const open = rule.conditions.length === 0 && rule.percentage === 100;
  const result: Flag = { ...flag, state: open ? "enabled" : "partial" };
  if (rule.conditions.length > 0) result.conditions = rule.conditions;
  if (rule.percentage < 100) {
    result.percentage = rule.percentage;
    if (rule.salt !== name) result.salt = rule.salt;
  }
  if (rule.start !== Number.NEGATIVE_INFINITY) {
    const start = isoInstant(rule.start);
    if (start === undefined) return { reason: `a DATE constraint is outside the years 0000-9999` };
    result.startTime = start;
  }
  if (rule.end !== Number.POSITIVE_INFINITY) {
    const end = isoInstant(rule.end);
    if (end === undefined) return { reason: `a DATE constraint is outside the years 0000-9999` };
    result.endTime = end;
  }
  const needs = rule.percentage < 100 && rule.stickiness !== "default" && rule.stickiness !== "userId";
  return needs ? { flag: result, stickiness: rule.stickiness } : { flag: result };
}

// ---- input -------------------------------------------------------------------------------------------------------

interface State {
  features: Map<string, JsonObject>;
  segments: Map<number, unknown>;
  skipped: Skip[];
}

const INPUT = "(input)";
const SHAPE =
  "expected the Unleash client API response: an object with a features list (and optional segments), or a delta with an events list";

function addSegments(list: unknown, state: State, where: string): string | undefined {
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) return `${where} must be a list of {id, constraints}, got ${show(list)}`;
  list.forEach((segment: unknown, index) => {
    if (isObject(segment) && typeof segment.id === "number") state.segments.set(segment.id, segment);
    else
      state.skipped.push({
        name: `(${where}[${index}])`,
        reason: `a segment needs a numeric id, got ${show(segment)}`,
      });
  });
  return undefined;
}

function addFeatures(list: unknown[], state: State, where: string): void {
  const counts = new Map<string, number>();
  const named: Array<[string, JsonObject]> = [];
  list.forEach((feature: unknown, index) => {
    if (!isObject(feature) || typeof feature.name !== "string" || feature.name === "") {
      const reason = isObject(feature)
        ? `name must be a non-empty string, got ${show(feature.name)}`
        : `${show(feature)} is not a feature object`;
      state.skipped.push({ name: `(${where}[${index}])`, reason });
      return;
    }
    counts.set(feature.name, (counts.get(feature.name) ?? 0) + 1);
    named.push([feature.name, feature]);
  });
  for (const [name, feature] of named) {
    const count = counts.get(name)!;
    if (count === 1) state.features.set(name, feature);
    else if (!state.skipped.some((skip) => skip.name === name)) {
      state.skipped.push({ name, reason: `defined ${count} times in ${where}; import needs one definition per name` });
    }
  }
}

/** A later event settles a name an earlier hydration reported as defined twice. */
function forget(state: State, name: string): void {
  state.skipped = state.skipped.filter((skip) => skip.name !== name);
}

/** The features and segments the input leaves in place (a delta's events are replayed as an SDK would). */
function readState(json: unknown): State | string {
  const state: State = { features: new Map(), segments: new Map(), skipped: [] };
  if (!isObject(json)) return `${show(json)}: ${SHAPE}`;
  if (Array.isArray(json.events)) {
    for (const [index, event] of (json.events as unknown[]).entries()) {
      const where = `events[${index}]`;
      if (!isObject(event)) return `${where}: ${show(event)} is not an event object`;
      switch (event.type) {
        case "hydration": {
          if (!Array.isArray(event.features)) return `${where}: a hydration event needs a features list`;
          state.features.clear();
          state.segments.clear();
          state.skipped = [];
          addFeatures(event.features, state, `${where}.features`);
          const bad = addSegments(event.segments, state, `${where}.segments`);
          if (bad !== undefined) return bad;
          break;
        }
        case "feature-updated": {
          const feature = event.feature;
          if (!isObject(feature) || typeof feature.name !== "string" || feature.name === "") {
            return `${where}: a feature-updated event needs a feature with a name`;
          }
          state.features.set(feature.name, feature);
          forget(state, feature.name);
          break;
        }
        case "feature-removed":
          if (typeof event.featureName !== "string") return `${where}: a feature-removed event needs a featureName`;
          state.features.delete(event.featureName);
          forget(state, event.featureName);
          break;
        case "segment-updated": {
          const segment = event.segment;
          if (!isObject(segment) || typeof segment.id !== "number") {
            return `${where}: a segment-updated event needs a segment with a numeric id`;
          }
          state.segments.set(segment.id, segment);
          break;
        }
        case "segment-removed":
          if (typeof event.segmentId !== "number") return `${where}: a segment-removed event needs a numeric segmentId`;
          state.segments.delete(event.segmentId);
          break;
        default:
          // An event we do not know may change any feature: no state built from the rest can be trusted.
          return `${where}: unknown event type ${show(event.type)}; known: hydration, feature-updated, feature-removed, segment-updated, segment-removed`;
      }
    }
    return state;
  }
  if (!Array.isArray(json.features)) return SHAPE;
  const bad = addSegments(json.segments, state, "segments");
  if (bad !== undefined) return bad;
  addFeatures(json.features, state, "features");
  return state;
}

/**
 * The Unleash features greenlight can serve exactly, as flags; every other feature in `skipped` with the reason.
 * Never throws: a malformed input is one skipped entry named "(input)", a malformed feature one named after it.
 */
export function importUnleashFeatures(json: unknown): UnleashImport {
  const result: UnleashImport = { flags: [], skipped: [], stickiness: {} };
  try {
    const state = readState(json);
    if (typeof state === "string") {
      result.skipped.push({ name: INPUT, reason: state });
      return result;
    }
    result.skipped.push(...state.skipped);
    for (const [name, feature] of state.features) {
      const converted = convertFeature(feature, name, state.segments);
      if ("reason" in converted) {
        result.skipped.push({ name, reason: converted.reason });
        continue;
      }
      const validation = validateFlag(converted.flag);
      if (!validation.ok) {
        const why = describeProblems(validation.problems).replaceAll("\n", "; ");
        result.skipped.push({ name, reason: `not a valid greenlight flag: ${why}` });
        continue;
      }
      result.flags.push(validation.flag);
      if (converted.stickiness !== undefined) result.stickiness[name] = converted.stickiness;
    }
  } catch (error) {
    // Only hostile JavaScript values get here (a throwing getter or Proxy): parsed JSON cannot.
    const reason = error instanceof Error ? error.message : String(error);
    return {
      flags: [],
      skipped: [{ name: INPUT, reason: `the input could not be read (${reason}); pass parsed JSON` }],
      stickiness: {},
    };
  }
  return result;
}
