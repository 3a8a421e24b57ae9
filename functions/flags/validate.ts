// Checks a flag definition from the admin API, the CLI or a file: every problem, each at its JSON Pointer.
/*
 * Pure and total: no Node APIs (it runs at the edge), and it never throws, whatever it is handed. Nothing is
 * silently ignored: an unknown field is a problem, with the field the user probably meant. On success it returns a
 * fresh copy holding only the fields that were given, in a fixed order; it adds no defaults.
 * docs/flag.schema.json documents the same rules; test/flags/schema.test.ts keeps the two in step.
 */
import { closest } from "../contract/closest.ts";
import { compareInstants, type Instant, isStrictDate, parseStrictDateTime } from "./date-time.ts";
import { compilePattern } from "./pattern.ts";
import { codePoints, escapePointer, isLowSurrogate, isPlainObject, show, squash, unknownFields } from "./problems.ts";
import { checkRolloutPlan, checkRolloutStatus } from "./rollout/validate-plan.ts";
import { parseSemver } from "./semver.ts";
import {
  CONDITION_OPS,
  type Condition,
  type ConditionOp,
  type Flag,
  type FlagState,
  type JsonValue,
  type Variant,
} from "./types.ts";

export interface FlagProblem {
  /** A JSON Pointer (RFC 6901) into the input: "" for the flag itself, e.g. "/conditions/1/op". */
  path: string;
  message: string;
}

export type FlagValidation = { ok: true; flag: Flag } | { ok: false; problems: FlagProblem[] };

/**
 * A flag key, and a variant name: 1 to 128 ASCII letters, digits, '.', '_' and '-', starting with a letter or a digit.
 * Such a key needs no escaping in a URL path segment, a Redis key or a file name, and cannot be "." or "..".
 */
export const FLAG_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The largest flag accepted, as UTF-8 JSON: flags are loaded whole on every cold start, so they stay small. */
export const MAX_FLAG_BYTES = 64 * 1024;

const KEY_RULE = "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit";
const STATES: readonly FlagState[] = ["enabled", "disabled", "partial"];
const FIELDS = [
  "key",
  "description",
  "state",
  "segments",
  "percentage",
  "salt",
  "startTime",
  "endTime",
  "conditions",
  "variants",
  "defaultVariant",
  "owner",
  "expires",
  "rollout",
  "rolloutStatus",
] as const satisfies readonly (keyof Flag)[];
const CONDITION_FIELDS = ["attribute", "op", "value"] as const;
const VARIANT_FIELDS = ["value", "weight"] as const;

const MAX_DESCRIPTION = 1000;
const MAX_SEGMENTS = 100;
const MAX_CONDITIONS = 50;
const MAX_VARIANTS = 100;
/** Keeps the sum of weights an exact integer (at most 100 x 1,000,000) for the variant bucket's modulo. */
export const MAX_VARIANT_WEIGHT = 1_000_000;
const MAX_PATTERN = 256;
const MAX_TEXT = 200;
/** Variant values deeper than this are refused: it also stops a cyclic (non-JSON) value from being walked forever. */
const MAX_DEPTH = 64;
/** No flag within MAX_FLAG_BYTES holds more values than it has bytes; a larger count is a shared-reference blow-up. */
const MAX_NODES = MAX_FLAG_BYTES;

const OP_ALIASES: Record<string, ConditionOp> = {
  "=": "eq",
  "==": "eq",
  "===": "eq",
  equal: "eq",
  equals: "eq",
  is: "eq",
  "!=": "neq",
  "!==": "neq",
  "<>": "neq",
  ne: "neq",
  notequal: "neq",
  notequals: "neq",
  isnot: "neq",
  ">": "gt",
  greater: "gt",
  greaterthan: "gt",
  after: "gt",
  ">=": "gte",
  ge: "gte",
  greaterorequal: "gte",
  greaterthanorequal: "gte",
  greaterthanorequals: "gte",
  "<": "lt",
  less: "lt",
  lessthan: "lt",
  before: "lt",
  "<=": "lte",
  le: "lte",
  lessorequal: "lte",
  lessthanorequal: "lte",
  lessthanorequals: "lte",
  nin: "not_in",
  oneof: "in",
  includes: "contains",
  has: "contains",
  prefix: "starts_with",
  suffix: "ends_with",
  regex: "matches",
  regexp: "matches",
  match: "matches",
  pattern: "matches",
};

type Problems = FlagProblem[];

/** Checks `input` as a flag definition; `options.key` is the key from the URL (`PUT /admin/flags/{key}`). */
export function validateFlag(input: unknown, options?: { key?: string }): FlagValidation {
  try {
    return check(input, options?.key);
  } catch (error) {
    // Only hostile JavaScript values get here (a throwing getter or Proxy): JSON from a request body cannot.
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, problems: [{ path: "", message: `the flag could not be read (${reason}); send plain JSON` }] };
  }
}

/** One line per problem, "<path>: <message>"; a problem with the flag as a whole is its message alone. */
export function describeProblems(problems: FlagProblem[]): string {
  return problems.map(({ path, message }) => (path === "" ? message : `${path}: ${message}`)).join("\n");
}

function check(input: unknown, urlKey: string | undefined): FlagValidation {
  const problems: Problems = [];
  if (!isPlainObject(input)) {
    problems.push({
      path: "",
      message: `${show(input)} is not a flag; send a JSON object with at least key and state`,
    });
    return { ok: false, problems };
  }
  const given = (name: string): unknown => (Object.hasOwn(input, name) ? input[name] : undefined);
  unknownFields(input, FIELDS, "", problems);

  const flag: Partial<Flag> = {};
  const key = checkKey(given("key"), urlKey, problems);
  if (key !== undefined) flag.key = key;
  const description = optionalText(given("description"), "/description", MAX_DESCRIPTION, true, problems);
  if (description !== undefined) flag.description = description;
  const state = checkState(given("state"), problems);
  if (state !== undefined) flag.state = state;
  const segments = checkSegments(given("segments"), problems);
  if (segments !== undefined) flag.segments = segments;
  const percentage = checkPercentage(given("percentage"), problems);
  if (percentage !== undefined) flag.percentage = percentage;
  const salt = optionalText(given("salt"), "/salt", MAX_TEXT, false, problems);
  if (salt !== undefined) flag.salt = salt;
  const startTime = checkInstant(given("startTime"), "/startTime", problems);
  if (startTime !== undefined) flag.startTime = startTime.text;
  const endTime = checkInstant(given("endTime"), "/endTime", problems);
  if (endTime !== undefined) flag.endTime = endTime.text;
  if (startTime !== undefined && endTime !== undefined && compareInstants(startTime.at, endTime.at) >= 0) {
    problems.push({
      path: "/endTime",
      message: `${show(endTime.text)} is not after startTime ${show(startTime.text)}; the flag is on from startTime until endTime, so endTime must be later`,
    });
  }
  const conditions = checkConditions(given("conditions"), problems);
  if (conditions !== undefined) flag.conditions = conditions;
  const variants = checkVariants(given("variants"), problems);
  if (variants !== undefined) flag.variants = variants;
  const defaultVariant = checkDefaultVariant(given("defaultVariant"), given("variants"), problems);
  if (defaultVariant !== undefined) flag.defaultVariant = defaultVariant;
  const owner = optionalText(given("owner"), "/owner", MAX_TEXT, false, problems);
  if (owner !== undefined) flag.owner = owner;
  const expires = checkExpires(given("expires"), problems);
  if (expires !== undefined) flag.expires = expires;
  const givenVariants = given("variants");
  const rollout = checkRolloutPlan(
    given("rollout"),
    {
      state: given("state"),
      ...(isPlainObject(givenVariants) ? { variants: givenVariants as Record<string, Variant> } : {}),
      defaultVariant: given("defaultVariant"),
    },
    problems,
  );
  if (rollout !== undefined) flag.rollout = rollout;
  const rolloutStatus = checkRolloutStatus(given("rolloutStatus"), given("rollout") !== undefined, problems);
  if (rolloutStatus !== undefined) flag.rolloutStatus = rolloutStatus;

  const ok = problems.length === 0 && flag.key !== undefined && flag.state !== undefined;
  const bytes = jsonBytes(ok ? flag : input, MAX_FLAG_BYTES);
  if (bytes > MAX_FLAG_BYTES) {
    problems.push({
      path: "",
      message: `the flag is ${ok ? bytes : `more than ${MAX_FLAG_BYTES}`} bytes as JSON; at most ${MAX_FLAG_BYTES} bytes (64 KiB) are accepted`,
    });
  }
  if (problems.length > 0 || !ok) return { ok: false, problems };
  return { ok: true, flag: ordered(flag as Flag) };
}

// ---- fields ----------------------------------------------------------------------------------------------------

function checkKey(value: unknown, urlKey: string | undefined, problems: Problems): string | undefined {
  if (urlKey !== undefined && !FLAG_KEY_PATTERN.test(urlKey)) {
    problems.push({ path: "/key", message: `the key in the URL, ${show(urlKey)}, is not a flag key; use ${KEY_RULE}` });
    return undefined;
  }
  if (value === undefined) {
    if (urlKey !== undefined) return urlKey;
    problems.push({ path: "/key", message: `required: the flag's key, ${KEY_RULE}` });
    return undefined;
  }
  if (typeof value !== "string" || !FLAG_KEY_PATTERN.test(value)) {
    problems.push({ path: "/key", message: `${show(value)} is not a flag key; use ${KEY_RULE}` });
    return undefined;
  }
  if (urlKey !== undefined && value !== urlKey) {
    problems.push({
      path: "/key",
      message: `${show(value)} differs from the key in the URL, ${show(urlKey)}; leave key out or make them equal`,
    });
    return undefined;
  }
  return value;
}

function checkState(value: unknown, problems: Problems): FlagState | undefined {
  const accepted = "use enabled, disabled or partial";
  if (value === undefined) {
    problems.push({ path: "/state", message: `required: ${accepted}` });
    return undefined;
  }
  if (typeof value === "string" && (STATES as readonly string[]).includes(value)) return value as FlagState;
  const guess = typeof value === "string" ? closest(value, STATES) : undefined;
  problems.push({
    path: "/state",
    message: `${show(value)} is not a state; ${guess ? `did you mean "${guess}"? ` : ""}${accepted}`,
  });
  return undefined;
}

function checkSegments(value: unknown, problems: Problems): string[] | undefined {
  if (value === undefined) return undefined;
  const accepted = `use an array of up to ${MAX_SEGMENTS} distinct non-empty strings (e.g. ["internal", "beta"], or ["all"])`;
  if (!Array.isArray(value)) {
    problems.push({ path: "/segments", message: `${show(value)} is not a list of segments; ${accepted}` });
    return undefined;
  }
  const before = problems.length;
  if (value.length > MAX_SEGMENTS) {
    problems.push({ path: "/segments", message: `${value.length} segments; at most ${MAX_SEGMENTS} are accepted` });
  }
  const seen = new Map<string, number>();
  for (let index = 0; index < value.length; index++) {
    const segment: unknown = value[index];
    const path = `/segments/${index}`;
    if (typeof segment !== "string" || segment === "") {
      problems.push({ path, message: `${show(segment)} is not a segment; use a non-empty string` });
      continue;
    }
    const first = seen.get(segment);
    if (first !== undefined) {
      problems.push({
        path,
        message: `${show(segment)} is already listed at /segments/${first}; list each segment once`,
      });
    } else {
      seen.set(segment, index);
    }
  }
  return problems.length === before ? (value as string[]).slice() : undefined;
}

function checkPercentage(value: unknown, problems: Problems): number | undefined {
  if (value === undefined) return undefined;
  const accepted = "use an integer from 0 to 100";
  if (typeof value !== "number" || !Number.isInteger(value)) {
    problems.push({ path: "/percentage", message: `${show(value)} is not a percentage; ${accepted}` });
    return undefined;
  }
  if (value < 0 || value > 100) {
    problems.push({ path: "/percentage", message: `${show(value)} is out of range; ${accepted}` });
    return undefined;
  }
  return value;
}

/** description (which may be empty), owner and salt: strings of bounded length. */
function optionalText(
  value: unknown,
  path: string,
  max: number,
  mayBeEmpty: boolean,
  problems: Problems,
): string | undefined {
  if (value === undefined) return undefined;
  const accepted = `use a string of ${mayBeEmpty ? "up to" : "1 to"} ${max} characters`;
  if (typeof value !== "string") {
    problems.push({ path, message: `${show(value)} is not a string; ${accepted}` });
    return undefined;
  }
  if (!mayBeEmpty && value === "") {
    problems.push({ path, message: `"" is empty; ${accepted}` });
    return undefined;
  }
  const length = codePoints(value);
  if (length > max) {
    problems.push({ path, message: `${length} characters is too long; ${accepted}` });
    return undefined;
  }
  return value;
}

const DATE_TIME_RULE =
  "use an ISO 8601 date-time with a time zone, e.g. 2025-01-01T00:00:00Z or 2025-01-01T01:00:00+01:00";

function checkInstant(value: unknown, path: string, problems: Problems): { text: string; at: Instant } | undefined {
  if (value === undefined) return undefined;
  const at = typeof value === "string" ? parseStrictDateTime(value) : undefined;
  if (typeof value !== "string" || at === undefined) {
    problems.push({ path, message: `${show(value)} is not a date-time; ${DATE_TIME_RULE}` });
    return undefined;
  }
  return { text: value, at };
}

function checkExpires(value: unknown, problems: Problems): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && (isStrictDate(value) || parseStrictDateTime(value) !== undefined)) return value;
  problems.push({
    path: "/expires",
    message: `${show(value)} is not a date; use an ISO 8601 date (e.g. 2027-06-30) or a date-time with a time zone (e.g. 2027-06-30T12:00:00Z)`,
  });
  return undefined;
}

// ---- conditions --------------------------------------------------------------------------------------------------

function checkConditions(value: unknown, problems: Problems): Condition[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    problems.push({
      path: "/conditions",
      message: `${show(value)} is not a list of conditions; use an array of up to ${MAX_CONDITIONS} objects with attribute, op and value`,
    });
    return undefined;
  }
  const before = problems.length;
  if (value.length > MAX_CONDITIONS) {
    problems.push({
      path: "/conditions",
      message: `${value.length} conditions; at most ${MAX_CONDITIONS} are accepted`,
    });
  }
  const conditions: Condition[] = [];
  for (let index = 0; index < value.length; index++) {
    const condition = checkCondition(value[index], `/conditions/${index}`, problems);
    if (condition !== undefined) conditions.push(condition);
  }
  return problems.length === before ? conditions : undefined;
}

function checkCondition(value: unknown, path: string, problems: Problems): Condition | undefined {
  if (!isPlainObject(value)) {
    problems.push({
      path,
      message: `${show(value)} is not a condition; use an object with attribute, op and value, e.g. {"attribute": "country", "op": "in", "value": ["DE", "FR"]}`,
    });
    return undefined;
  }
  const before = problems.length;
  unknownFields(value, CONDITION_FIELDS, path, problems);
  const field = (name: string): unknown => (Object.hasOwn(value, name) ? value[name] : undefined);

  const attribute = field("attribute");
  if (attribute === undefined) {
    problems.push({
      path: `${path}/attribute`,
      message: "required: the context attribute to test, a non-empty string",
    });
  } else if (typeof attribute !== "string" || attribute === "") {
    problems.push({
      path: `${path}/attribute`,
      message: `${show(attribute)} is not an attribute name; use a non-empty string`,
    });
  }
  const op = checkOp(field("op"), `${path}/op`, problems);
  const raw = field("value");
  let conditionValue: Condition["value"] | undefined;
  if (raw === undefined) {
    problems.push({
      path: `${path}/value`,
      message: `required: ${op === undefined ? "what the attribute is compared with" : VALUE_RULES[op]}`,
    });
  } else if (op !== undefined) {
    conditionValue = checkConditionValue(op, raw, `${path}/value`, problems);
  }
  if (problems.length > before || op === undefined || conditionValue === undefined) return undefined;
  return { attribute: attribute as string, op, value: conditionValue };
}

function checkOp(value: unknown, path: string, problems: Problems): ConditionOp | undefined {
  const accepted = `accepted: ${CONDITION_OPS.join(", ")}`;
  if (value === undefined) {
    problems.push({ path, message: `required: the comparison (${accepted})` });
    return undefined;
  }
  if (typeof value === "string" && (CONDITION_OPS as readonly string[]).includes(value)) return value as ConditionOp;
  const guess = typeof value === "string" ? guessOp(value) : undefined;
  problems.push({
    path,
    message: `${show(value)} is not an operator; ${guess ? `did you mean "${guess}"? (${accepted})` : accepted}`,
  });
  return undefined;
}

function guessOp(word: string): ConditionOp | undefined {
  const squashed = squash(word);
  const exact = CONDITION_OPS.find((op) => squash(op) === squashed);
  if (exact !== undefined) return exact;
  const alias = Object.hasOwn(OP_ALIASES, squashed) ? OP_ALIASES[squashed] : undefined;
  if (alias !== undefined) return alias;
  return closest(word, CONDITION_OPS) as ConditionOp | undefined;
}

const SCALARS = "a string, number or boolean";
const SEMVER_RULE =
  "use a semantic version: MAJOR.MINOR.PATCH, optional -prerelease and +build, optional leading v (numbers up to 2^53 - 1, at most 256 characters)";
const VALUE_RULES: Record<ConditionOp, string> = {
  eq: `use ${SCALARS}`,
  neq: `use ${SCALARS}`,
  in: "use a non-empty array of strings, numbers or booleans",
  not_in: "use a non-empty array of strings, numbers or booleans",
  contains: "use a string or a non-empty array of strings (any of them)",
  starts_with: "use a string or a non-empty array of strings (any of them)",
  ends_with: "use a string or a non-empty array of strings (any of them)",
  gt: `use a number or ${DATE_TIME_RULE.slice("use ".length)}`,
  gte: `use a number or ${DATE_TIME_RULE.slice("use ".length)}`,
  lt: `use a number or ${DATE_TIME_RULE.slice("use ".length)}`,
  lte: `use a number or ${DATE_TIME_RULE.slice("use ".length)}`,
  matches: `use an RE2 regular expression of up to ${MAX_PATTERN} characters, as a string (no backreferences or lookaround; (?i) for case-insensitive)`,
  semver_eq: SEMVER_RULE,
  semver_gt: SEMVER_RULE,
  semver_lt: SEMVER_RULE,
};

const isScalar = (value: unknown): value is string | number | boolean =>
  typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));

function checkConditionValue(
  op: ConditionOp,
  value: unknown,
  path: string,
  problems: Problems,
): Condition["value"] | undefined {
  const reject = (): undefined => {
    problems.push({ path, message: `${show(value)} is not a value for ${op}; ${VALUE_RULES[op]}` });
    return undefined;
  };
  switch (op) {
    case "eq":
    case "neq":
      return isScalar(value) ? value : reject();
    case "in":
    case "not_in":
      return checkList(op, value, path, isScalar, "strings, numbers or booleans", problems);
    case "contains":
    case "starts_with":
    case "ends_with":
      if (typeof value === "string") return value;
      return checkList(op, value, path, (item) => typeof item === "string", "strings", problems);
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      if (typeof value === "number" && Number.isFinite(value)) return value;
      return typeof value === "string" && parseStrictDateTime(value) !== undefined ? value : reject();
    case "matches":
      return checkPattern(value, path, problems);
    case "semver_eq":
    case "semver_gt":
    case "semver_lt":
      // The evaluator's own parser, so whatever passes here can be compared there.
      return typeof value === "string" && parseSemver(value) !== undefined ? value : reject();
  }
}

function checkList<T extends string | number | boolean>(
  op: ConditionOp,
  value: unknown,
  path: string,
  isItem: (item: unknown) => item is T,
  items: string,
  problems: Problems,
): T[] | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    const what = Array.isArray(value) ? "[] is empty" : `${show(value)} is not a value for ${op}`;
    problems.push({ path, message: `${what}; ${VALUE_RULES[op]}` });
    return undefined;
  }
  const before = problems.length;
  for (let index = 0; index < value.length; index++) {
    const item: unknown = value[index];
    if (!isItem(item)) {
      problems.push({ path: `${path}/${index}`, message: `${show(item)} cannot be in a ${op} list; use ${items}` });
    }
  }
  return problems.length === before ? (value.slice() as T[]) : undefined;
}

function checkPattern(value: unknown, path: string, problems: Problems): string | undefined {
  const rule = VALUE_RULES.matches;
  if (typeof value !== "string") {
    problems.push({ path, message: `${show(value)} is not a value for matches; ${rule}` });
    return undefined;
  }
  const length = codePoints(value);
  if (length > MAX_PATTERN) {
    problems.push({ path, message: `a ${length}-character pattern is too long; ${rule}` });
    return undefined;
  }
  // The evaluator's own compiler (and cache), so whatever passes here runs there, in linear time.
  const compiled = compilePattern(value);
  if (!compiled.ok) {
    problems.push({ path, message: `${show(value)} ${compiled.reason}; ${rule}` });
    return undefined;
  }
  return value;
}

// ---- variants --------------------------------------------------------------------------------------------------

type ValueKind = "string" | "number" | "boolean" | "object or array";
const KIND_NAMES: Record<ValueKind, string> = {
  string: "a string",
  number: "a number",
  boolean: "a boolean",
  "object or array": "an object or array",
};

function checkVariants(value: unknown, problems: Problems): Record<string, Variant> | undefined {
  if (value === undefined) return undefined;
  const shape = `use an object of 1 to ${MAX_VARIANTS} variant names to {"value": ..., "weight": ...}, e.g. {"on": {"value": true, "weight": 1}}`;
  if (!isPlainObject(value)) {
    problems.push({ path: "/variants", message: `${show(value)} is not a set of variants; ${shape}` });
    return undefined;
  }
  const before = problems.length;
  const names = Object.keys(value);
  if (names.length === 0) {
    problems.push({
      path: "/variants",
      message: `{} has no variants; ${shape}, or leave variants out for a boolean flag`,
    });
  } else if (names.length > MAX_VARIANTS) {
    problems.push({ path: "/variants", message: `${names.length} variants; at most ${MAX_VARIANTS} are accepted` });
  }
  const budget = { nodes: MAX_NODES };
  const variants: Array<[string, Variant]> = [];
  let firstKind: { name: string; kind: ValueKind } | undefined;
  let zeros = 0;
  for (const name of names) {
    const path = `/variants/${escapePointer(name)}`;
    if (!FLAG_KEY_PATTERN.test(name)) {
      problems.push({ path, message: `${show(name)} is not a variant name; use ${KEY_RULE}` });
    }
    const variant = value[name];
    if (!isPlainObject(variant)) {
      problems.push({
        path,
        message: `${show(variant)} is not a variant; use {"value": ..., "weight": ...} with a non-negative integer weight`,
      });
      continue;
    }
    unknownFields(variant, VARIANT_FIELDS, path, problems);
    const field = (key: string): unknown => (Object.hasOwn(variant, key) ? variant[key] : undefined);

    const weight = field("weight");
    const weightRule = `use an integer from 0 to ${MAX_VARIANT_WEIGHT.toLocaleString("en")} (weights are relative; they need not add up to 100)`;
    if (weight === undefined) {
      problems.push({ path: `${path}/weight`, message: `required: the variant's share; ${weightRule}` });
    } else if (typeof weight !== "number" || !Number.isInteger(weight) || weight < 0 || weight > MAX_VARIANT_WEIGHT) {
      problems.push({ path: `${path}/weight`, message: `${show(weight)} is not a weight; ${weightRule}` });
    } else if (weight === 0) {
      zeros++;
    }

    const raw = field("value");
    const valueRule = "use a string, number, boolean, object or array (the same kind for every variant)";
    let copy: JsonValue | undefined;
    if (raw === undefined) {
      problems.push({ path: `${path}/value`, message: `required: what the flag evaluates to; ${valueRule}` });
    } else if (raw === null) {
      problems.push({ path: `${path}/value`, message: `null is not a variant value; ${valueRule}` });
    } else {
      copy = copyJson(raw, `${path}/value`, 0, budget, problems);
      const kind = kindOf(raw);
      if (kind !== undefined && copy !== undefined) {
        if (firstKind === undefined) {
          firstKind = { name, kind };
        } else if (kind !== firstKind.kind) {
          problems.push({
            path: `${path}/value`,
            message: `${KIND_NAMES[kind]}, but variant ${show(firstKind.name)} is ${KIND_NAMES[firstKind.kind]}; every variant's value must be of one kind (all strings, all numbers, all booleans, or all objects/arrays)`,
          });
        }
      }
    }
    if (copy !== undefined && typeof weight === "number") variants.push([name, { value: copy, weight }]);
  }
  if (names.length > 0 && zeros === names.length) {
    problems.push({
      path: "/variants",
      message: "every weight is 0, so no variant could be chosen; give at least one variant a weight above 0",
    });
  }
  return problems.length === before ? Object.fromEntries(variants) : undefined;
}

function kindOf(value: unknown): ValueKind | undefined {
  if (typeof value === "string") return "string";
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "object" && value !== null) return "object or array";
  return undefined;
}

function checkDefaultVariant(value: unknown, variants: unknown, problems: Problems): string | undefined {
  const names = isPlainObject(variants) ? Object.keys(variants) : [];
  const listed = names.length > 10 ? `${names.slice(0, 10).join(", ")}, …` : names.join(", ");
  if (variants === undefined) {
    if (value !== undefined) {
      problems.push({
        path: "/defaultVariant",
        message: "only applies with variants; add variants or leave defaultVariant out for a boolean flag",
      });
    }
    return undefined;
  }
  if (value === undefined) {
    problems.push({
      path: "/defaultVariant",
      message: `required with variants: the variant served when the flag is off${listed ? ` (one of: ${listed})` : ""}`,
    });
    return undefined;
  }
  if (typeof value === "string" && names.includes(value)) return value;
  // Variants that are not an object, or none, were reported already; naming them again would say nothing new.
  if (names.length === 0) return undefined;
  const guess = typeof value === "string" ? closest(value, names) : undefined;
  problems.push({
    path: "/defaultVariant",
    message: `${show(value)} is not one of the variants; ${guess ? `did you mean "${guess}"? ` : ""}(variants: ${listed})`,
  });
  return undefined;
}

/** A deep copy of a JSON value, or undefined (with a problem at each non-JSON spot) when it is not JSON. */
function copyJson(
  value: unknown,
  path: string,
  depth: number,
  budget: { nodes: number },
  problems: Problems,
): JsonValue | undefined {
  budget.nodes -= 1;
  if (budget.nodes < 0) {
    if (budget.nodes === -1) {
      problems.push({
        path,
        message: `the variant values hold more than ${MAX_NODES} values; a flag is at most 64 KiB`,
      });
    }
    return undefined;
  }
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
    problems.push({ path, message: `${show(value)} is not JSON; use a finite number` });
    return undefined;
  }
  if (depth >= MAX_DEPTH) {
    problems.push({ path, message: `nested more than ${MAX_DEPTH} levels deep; flatten the value` });
    return undefined;
  }
  if (Array.isArray(value)) {
    const copy: JsonValue[] = [];
    let good = true;
    for (let index = 0; index < value.length; index++) {
      const item = copyJson(value[index], `${path}/${index}`, depth + 1, budget, problems);
      if (item === undefined) good = false;
      else copy.push(item);
    }
    return good ? copy : undefined;
  }
  if (isPlainObject(value)) {
    const entries: Array<[string, JsonValue]> = [];
    let good = true;
    for (const name of Object.keys(value)) {
      const item = copyJson(value[name], `${path}/${escapePointer(name)}`, depth + 1, budget, problems);
      if (item === undefined) good = false;
      else entries.push([name, item]);
    }
    // fromEntries defines own properties, so a "__proto__" key stays data and never becomes the prototype.
    return good ? (Object.fromEntries(entries) as JsonValue) : undefined;
  }
  problems.push({
    path,
    message: `${show(value)} is not JSON; use strings, numbers, booleans, null, arrays and objects`,
  });
  return undefined;
}

// ---- helpers ---------------------------------------------------------------------------------------------------

/** UTF-8 bytes of `value` as JSON, counted without building the text; stops soon after passing `limit`. */
function jsonBytes(value: unknown, limit: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && total <= limit) {
    const item = stack.pop();
    if (typeof item === "string") total += utf8Length(JSON.stringify(item));
    else if (typeof item === "number") total += Number.isFinite(item) ? String(item).length : 4;
    else if (typeof item === "boolean") total += item ? 4 : 5;
    else if (Array.isArray(item)) {
      total += 2 + Math.max(0, item.length - 1);
      if (total > limit) break;
      for (let index = 0; index < item.length; index++) stack.push(item[index] ?? null);
    } else if (typeof item === "object" && item !== null) {
      const names = Object.keys(item).filter((name) => (item as Record<string, unknown>)[name] !== undefined);
      total += 2 + Math.max(0, names.length - 1);
      for (const name of names) {
        if (total > limit) break;
        total += utf8Length(JSON.stringify(name)) + 1;
        stack.push((item as Record<string, unknown>)[name]);
      }
    } else total += 4;
  }
  return total;
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(index + 1))) {
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}

/** The flag with its fields in the documented order, so stored flags and audit diffs read alike. */
function ordered(flag: Flag): Flag {
  const entries = FIELDS.filter((field) => flag[field] !== undefined).map((field) => [field, flag[field]]);
  return Object.fromEntries(entries) as Flag;
}
