// Flag conditions compiled once into closures over the evaluation context (semantics: docs/FLAGS.md, "Evaluation").
/*
 * Compilation throws ConditionError for a condition that can never be evaluated (unknown op, bad pattern, bad semver,
 * a value of the wrong type); the closures it returns never throw, whatever the context holds, because contexts come
 * straight from HTTP requests. An attribute that is missing, null, not a string/number/boolean, or a non-finite
 * number fails every op, `neq` and `not_in` included: a malformed context never opts a user in by accident.
 */
import { parseInstant } from "./date-time.ts";
import { compilePattern } from "./pattern.ts";
import { compareSemver, parseSemver, type Semver } from "./semver.ts";
import { CONDITION_OPS, type Condition, type ConditionOp, type EvaluationContext } from "./types.ts";

export type CompiledCondition = (context: EvaluationContext) => boolean;

/** A condition that can never be evaluated: `field` (attribute, op, value, value[2]; "" for the whole condition). */
export class ConditionError extends Error {
  override readonly name = "ConditionError";
  constructor(
    readonly field: string,
    /** What is wrong and what is accepted, without the field name. */
    readonly detail: string,
  ) {
    super(field === "" ? detail : `${field}: ${detail}`);
  }
}

/**
 * A `matches` attribute longer than this (UTF-16 code units) fails without being matched. RE2 matches in time linear
 * in the text, so this bounds the work per evaluation together with the pattern's size (pattern.ts, MAX_PROGRAM).
 * Longer text fails rather than being cut: a cut would let `$` match where the whole text does not end.
 */
export const MATCH_LIMIT = 1024;

type Primitive = string | number | boolean;

// Plain decimal notation only: no hex, no surrounding spaces, no "Infinity" (what `Number()` would also accept).
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A finite number from a number or a decimal string, else undefined. */
function numberOf(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string" || value.length > 64 || !NUMERIC.test(value)) return undefined;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}

const isPrimitive = (value: unknown): value is Primitive =>
  typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));

/**
 * Equality shared by eq, neq, in and not_in: same primitive, a number against its decimal string either way
 * (`8` = `"8"` = `"8.0"`; a string value matches a number attribute by the number's canonical form, so `"8.0"` does
 * not match the number 8), a boolean against `"true"` / `"false"`.
 */
function memberOf(values: readonly Primitive[]): (attribute: Primitive) => boolean {
  const strings = new Set<string>();
  const numbers = new Set<number>();
  for (const value of values) {
    if (typeof value === "string") strings.add(value);
    else if (typeof value === "number") numbers.add(value);
    else strings.add(String(value)); // booleans compare through their strings, which also covers "true" / "false"
  }
  const hasNumbers = numbers.size > 0;
  return (attribute) => {
    if (typeof attribute === "string") {
      if (strings.has(attribute)) return true;
      if (!hasNumbers) return false;
      const parsed = numberOf(attribute);
      return parsed !== undefined && numbers.has(parsed);
    }
    if (typeof attribute === "number") return numbers.has(attribute) || strings.has(String(attribute));
    return strings.has(attribute ? "true" : "false");
  };
}

/** A value as messages show it: JSON, cut to 80 characters; never throws (compile time only, not the hot path). */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? "a list" : typeof value === "bigint" ? `${value}` : `a ${typeof value}`;
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const describe = describeValue;

function primitiveValue(op: ConditionOp, value: unknown): Primitive {
  if (isPrimitive(value)) return value;
  const hint = Array.isArray(value) ? " (for a list use in / not_in)" : "";
  throw new ConditionError(
    "value",
    `${op} takes a string, a finite number or a boolean${hint}, got ${describe(value)}`,
  );
}

function listValue(op: ConditionOp, value: unknown): Primitive[] {
  if (!Array.isArray(value)) {
    throw new ConditionError("value", `${op} takes a list of strings, numbers or booleans, got ${describe(value)}`);
  }
  value.forEach((item: unknown, index) => {
    if (!isPrimitive(item)) {
      throw new ConditionError(
        `value[${index}]`,
        `${op} takes strings, finite numbers or booleans, got ${describe(item)}`,
      );
    }
  });
  return value as Primitive[];
}

function stringsValue(op: ConditionOp, value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  list.forEach((item: unknown, index) => {
    if (typeof item !== "string") {
      const field = Array.isArray(value) ? `value[${index}]` : "value";
      throw new ConditionError(field, `${op} takes a string or a list of strings, got ${describe(item)}`);
    }
  });
  return list as string[];
}

function semverValue(op: ConditionOp, value: unknown): Semver {
  const parsed = typeof value === "string" ? parseSemver(value) : undefined;
  if (parsed === undefined) {
    throw new ConditionError(
      "value",
      `${op} takes a semantic version such as "1.4.0" or "2.0.0-rc.1", got ${describe(value)}`,
    );
  }
  return parsed;
}

type Order = "gt" | "gte" | "lt" | "lte";

// One closure per op so the comparison is not a second dispatch on every evaluation.
function ordered(
  op: Order,
  name: string,
  read: (value: unknown) => number | undefined,
  bound: number,
): CompiledCondition {
  switch (op) {
    case "gt":
      return (context) => {
        const value = read(context[name]);
        return value !== undefined && value > bound;
      };
    case "gte":
      return (context) => {
        const value = read(context[name]);
        return value !== undefined && value >= bound;
      };
    case "lt":
      return (context) => {
        const value = read(context[name]);
        return value !== undefined && value < bound;
      };
    case "lte":
      return (context) => {
        const value = read(context[name]);
        return value !== undefined && value <= bound;
      };
  }
}

function orderedCondition(op: Order, name: string, value: unknown): CompiledCondition {
  if (typeof value === "number" && Number.isFinite(value)) return ordered(op, name, numberOf, value);
  const instant = parseInstant(value);
  if (instant !== undefined) return ordered(op, name, parseInstant, instant);
  throw new ConditionError(
    "value",
    `${op} takes a finite number or an ISO 8601 date-time with an offset (e.g. "2025-03-01T00:00:00Z"), got ${describe(value)}`,
  );
}

function textCondition(op: "contains" | "starts_with" | "ends_with", name: string, value: unknown): CompiledCondition {
  const needles = stringsValue(op, value);
  const test =
    op === "contains"
      ? (text: string, needle: string) => text.includes(needle)
      : op === "starts_with"
        ? (text: string, needle: string) => text.startsWith(needle)
        : (text: string, needle: string) => text.endsWith(needle);
  if (needles.length === 1) {
    const needle = needles[0]!;
    return (context) => {
      const text = context[name];
      return typeof text === "string" && test(text, needle);
    };
  }
  return (context) => {
    const text = context[name];
    if (typeof text !== "string") return false;
    for (const needle of needles) if (test(text, needle)) return true;
    return false;
  };
}

/*
 * The last attribute text parsed as a version, and what it parsed to. Every semver condition of a rule set reads the
 * same attribute of the same context one after another (a bulk evaluation: one appVersion, many flags), so one entry
 * turns those parses into one. Safe to share: parseSemver is a pure function of an immutable string.
 */
let lastSemverText: string | undefined;
let lastSemver: Semver | undefined;

function contextSemver(text: string): Semver | undefined {
  if (text !== lastSemverText) {
    lastSemver = parseSemver(text);
    lastSemverText = text;
  }
  return lastSemver;
}

function semverCondition(op: "semver_eq" | "semver_gt" | "semver_lt", name: string, value: unknown): CompiledCondition {
  const bound = semverValue(op, value);
  const wanted = op === "semver_eq" ? 0 : op === "semver_gt" ? 1 : -1;
  return (context) => {
    const text = context[name];
    if (typeof text !== "string") return false;
    const version = contextSemver(text);
    return version !== undefined && compareSemver(version, bound) === wanted;
  };
}

function matchesCondition(name: string, value: unknown): CompiledCondition {
  if (typeof value !== "string") {
    throw new ConditionError("value", `matches takes an RE2 regular expression as a string, got ${describe(value)}`);
  }
  const compiled = compilePattern(value);
  if (!compiled.ok) throw new ConditionError("value", `${describe(value)} ${compiled.reason}`);
  const { pattern } = compiled;
  return (context) => {
    const text = context[name];
    return typeof text === "string" && text.length <= MATCH_LIMIT && pattern.test(text);
  };
}

/** The condition as a predicate on contexts; throws ConditionError when it can never be evaluated. */
export function compileCondition(condition: Condition): CompiledCondition {
  if (typeof condition !== "object" || condition === null) {
    throw new ConditionError("", `a condition is an object {attribute, op, value}, got ${describe(condition)}`);
  }
  const { attribute: name, op, value } = condition as { attribute: unknown; op: unknown; value: unknown };
  if (typeof name !== "string" || name === "") {
    throw new ConditionError("attribute", `a non-empty string naming a context attribute, got ${describe(name)}`);
  }
  switch (op as ConditionOp) {
    case "eq": {
      const equal = memberOf([primitiveValue("eq", value)]);
      return (context) => {
        const attribute = context[name];
        return isPrimitive(attribute) && equal(attribute);
      };
    }
    case "neq": {
      const equal = memberOf([primitiveValue("neq", value)]);
      return (context) => {
        const attribute = context[name];
        return isPrimitive(attribute) && !equal(attribute);
      };
    }
    case "in": {
      const member = memberOf(listValue("in", value));
      return (context) => {
        const attribute = context[name];
        return isPrimitive(attribute) && member(attribute);
      };
    }
    case "not_in": {
      const member = memberOf(listValue("not_in", value));
      return (context) => {
        const attribute = context[name];
        return isPrimitive(attribute) && !member(attribute);
      };
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return orderedCondition(op as Order, name, value);
    case "contains":
    case "starts_with":
    case "ends_with":
      return textCondition(op as "contains" | "starts_with" | "ends_with", name, value);
    case "matches":
      return matchesCondition(name, value);
    case "semver_eq":
    case "semver_gt":
    case "semver_lt":
      return semverCondition(op as "semver_eq" | "semver_gt" | "semver_lt", name, value);
    default:
      throw new ConditionError("op", `${describe(op)} is not one of ${CONDITION_OPS.join(", ")}`);
  }
}
