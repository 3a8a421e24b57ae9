// Checks a flag's `rollout` plan and `rolloutStatus` for validate.ts: every problem at its JSON Pointer, saying what is
// accepted. Pure and total, like the flag validator; on success fresh copies holding only the given fields.
import { isObject } from "../../contract/objects.ts";
import { parseDuration } from "../../contract/values.ts";
import { type Problem, show, unknownFields } from "../problems.ts";
import {
  ROLLOUT_BUILTIN_CHECKS,
  ROLLOUT_PHASES,
  type RolloutBuiltinCheck,
  type RolloutCheck,
  type RolloutJudgeSettings,
  type RolloutPlan,
  type RolloutStatus,
  type Variant,
} from "../types.ts";
import { MIN_INTERVAL_SECONDS } from "./plan.ts";

export type PlanProblem = Problem;

export const PLAN_FIELDS = ["steps", "interval", "variant", "floor", "checks", "judge", "minRequests"] as const;
const JUDGE_FIELDS = ["alpha", "tolerance", "latencyTolerance"] as const;
const CUSTOM_FIELDS = ["name", "query", "max", "min"] as const;
const STATUS_FIELDS = ["phase", "step", "share", "since", "checkedAt", "plan", "judge", "checks", "reason"] as const;
export const MAX_STEPS = 20;
export const MAX_ROLLOUT_CHECKS = 10;
const MAX_QUERY = 2000;
const CHECK_NAME = /^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/;
const TEMPLATE_VARIABLES = ["key", "variant", "interval"];

function checkSteps(value: unknown, problems: PlanProblem[]): number[] | undefined {
  const accepted = `use 1 to ${MAX_STEPS} integer percentages from 1 to 100, strictly increasing, the last one 100, e.g. [5, 25, 50, 100]`;
  if (value === undefined) {
    problems.push({ path: "/rollout/steps", message: `required: ${accepted}` });
    return undefined;
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_STEPS) {
    problems.push({ path: "/rollout/steps", message: `${show(value)} is not a list of steps; ${accepted}` });
    return undefined;
  }
  const before = problems.length;
  value.forEach((step: unknown, index) => {
    const path = `/rollout/steps/${index}`;
    if (typeof step !== "number" || !Number.isInteger(step) || step < 1 || step > 100) {
      problems.push({ path, message: `${show(step)} is not a step; ${accepted}` });
    } else if (index > 0 && typeof value[index - 1] === "number" && step <= value[index - 1]) {
      problems.push({ path, message: `${step} does not increase on ${value[index - 1]}; ${accepted}` });
    }
  });
  if (problems.length === before && value.at(-1) !== 100) {
    problems.push({
      path: `/rollout/steps/${value.length - 1}`,
      message: `the last step is ${value.at(-1)}, not 100; ${accepted}`,
    });
  }
  return problems.length === before ? (value as number[]).slice() : undefined;
}

function checkInterval(value: unknown, problems: PlanProblem[]): string | undefined {
  const accepted =
    'use a duration of at least 1s in s, m or h, e.g. "5m", "1h", "2m30s" (1m or more in production: every judgement is a write)';
  if (value === undefined) {
    problems.push({ path: "/rollout/interval", message: `required: ${accepted}` });
    return undefined;
  }
  const parsed = typeof value === "string" ? parseDuration(value) : undefined;
  if (!parsed?.ok || parsed.value < MIN_INTERVAL_SECONDS) {
    problems.push({ path: "/rollout/interval", message: `${show(value)} is not an interval; ${accepted}` });
    return undefined;
  }
  return value as string;
}

function checkVariant(
  value: unknown,
  variants: Record<string, Variant> | undefined,
  defaultVariant: unknown,
  problems: PlanProblem[],
): string | undefined {
  const path = "/rollout/variant";
  if (variants === undefined) {
    if (value === undefined || value === "on") return value;
    problems.push({
      path,
      message: `${show(value)} is not accepted: a boolean flag's rollout steps its "on" side; leave variant out`,
    });
    return undefined;
  }
  const others = Object.keys(variants).filter((name) => name !== defaultVariant);
  const accepted = `use the name of the new variant, one of ${others.map((name) => JSON.stringify(name)).join(", ") || "(none: add a variant besides the defaultVariant)"}`;
  if (value === undefined) {
    problems.push({ path, message: `required with variants: ${accepted}` });
    return undefined;
  }
  if (typeof value !== "string" || !others.includes(value)) {
    const why = value === defaultVariant ? " (the defaultVariant is what users outside the rollout get)" : "";
    problems.push({ path, message: `${show(value)} is not a variant to roll out${why}; ${accepted}` });
    return undefined;
  }
  return value;
}

function checkInteger(
  value: unknown,
  path: string,
  min: number,
  max: number,
  problems: PlanProblem[],
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    problems.push({ path, message: `${show(value)} is not accepted; use an integer from ${min} to ${max}` });
    return undefined;
  }
  return value;
}

function checkFraction(
  value: unknown,
  path: string,
  max: number,
  inclusive: boolean,
  example: string,
  problems: PlanProblem[],
) {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !(value > 0) || (inclusive ? value > max : value >= max)) {
    problems.push({
      path,
      message: `${show(value)} is not accepted; use a number above 0 and ${inclusive ? "at most" : "below"} ${max}, e.g. ${example}`,
    });
    return undefined;
  }
  return value;
}

function checkJudge(value: unknown, problems: PlanProblem[]): RolloutJudgeSettings | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    problems.push({
      path: "/rollout/judge",
      message: `${show(value)} is not accepted; use an object with alpha, tolerance, latencyTolerance`,
    });
    return undefined;
  }
  const before = problems.length;
  unknownFields(value, JUDGE_FIELDS, "/rollout/judge", problems);
  const judge: RolloutJudgeSettings = {};
  const alpha = checkFraction(value.alpha, "/rollout/judge/alpha", 0.2, true, "0.02", problems);
  if (alpha !== undefined) judge.alpha = alpha;
  const tolerance = checkFraction(value.tolerance, "/rollout/judge/tolerance", 1, false, "0.005", problems);
  if (tolerance !== undefined) judge.tolerance = tolerance;
  const latency = checkFraction(
    value.latencyTolerance,
    "/rollout/judge/latencyTolerance",
    0.5,
    false,
    "0.05",
    problems,
  );
  if (latency !== undefined) judge.latencyTolerance = latency;
  return problems.length === before ? judge : undefined;
}

function checkOneCheck(value: unknown, path: string, problems: PlanProblem[]): RolloutCheck | undefined {
  const accepted =
    `use {"builtin": ${ROLLOUT_BUILTIN_CHECKS.map((name) => `"${name}"`).join(" or ")}} or ` +
    '{"name": "<check-name>", "query": "<PromQL>", "max": <number>} (or "min"); template variables {{key}}, {{variant}}, {{interval}}';
  if (!isObject(value)) {
    problems.push({ path, message: `${show(value)} is not a check; ${accepted}` });
    return undefined;
  }
  if ("builtin" in value) {
    unknownFields(value, ["builtin"], path, problems);
    if (!(ROLLOUT_BUILTIN_CHECKS as readonly unknown[]).includes(value.builtin)) {
      problems.push({ path: `${path}/builtin`, message: `${show(value.builtin)} is not a builtin check; ${accepted}` });
      return undefined;
    }
    return Object.keys(value).length === 1 ? { builtin: value.builtin as RolloutBuiltinCheck } : undefined;
  }
  const before = problems.length;
  unknownFields(value, CUSTOM_FIELDS, path, problems);
  const { name, query, max, min } = value;
  if (
    typeof name !== "string" ||
    !CHECK_NAME.test(name) ||
    (ROLLOUT_BUILTIN_CHECKS as readonly string[]).includes(name)
  ) {
    problems.push({
      path: `${path}/name`,
      message: `${show(name)} is not a check name; use 1 to 42 lower-case letters, digits and '-' (not a builtin's name)`,
    });
  }
  if (typeof query !== "string" || query.trim() === "" || query.length > MAX_QUERY) {
    problems.push({
      path: `${path}/query`,
      message: `${show(query)} is not a query; use PromQL of up to ${MAX_QUERY} characters`,
    });
  } else {
    for (const match of query.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
      if (!TEMPLATE_VARIABLES.includes(match[1] ?? "")) {
        problems.push({
          path: `${path}/query`,
          message: `unknown template variable {{${(match[1] ?? "").slice(0, 40)}}}; accepted: {{key}}, {{variant}}, {{interval}}`,
        });
      }
    }
  }
  if ((max === undefined) === (min === undefined)) {
    problems.push({ path, message: `set exactly one of max and min; ${accepted}` });
  } else {
    const bound = max ?? min;
    if (typeof bound !== "number" || !Number.isFinite(bound)) {
      problems.push({
        path: `${path}/${max !== undefined ? "max" : "min"}`,
        message: `${show(bound)} is not a finite number`,
      });
    }
  }
  if (problems.length !== before) return undefined;
  return max !== undefined
    ? { name: name as string, query: query as string, max: max as number }
    : { name: name as string, query: query as string, min: min as number };
}

function checkChecks(value: unknown, problems: PlanProblem[]): RolloutCheck[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ROLLOUT_CHECKS) {
    problems.push({
      path: "/rollout/checks",
      message: `${show(value)} is not a list of checks; use 1 to ${MAX_ROLLOUT_CHECKS} checks (leave checks out for both builtins)`,
    });
    return undefined;
  }
  const before = problems.length;
  const seen = new Map<string, number>();
  const checks: RolloutCheck[] = [];
  value.forEach((item: unknown, index) => {
    const path = `/rollout/checks/${index}`;
    const check = checkOneCheck(item, path, problems);
    if (!check) return;
    const name = "builtin" in check ? check.builtin : check.name;
    const first = seen.get(name);
    if (first !== undefined)
      problems.push({
        path,
        message: `${JSON.stringify(name)} is already at /rollout/checks/${first}; list each check once`,
      });
    else seen.set(name, index);
    checks.push(check);
  });
  return problems.length === before ? checks : undefined;
}

/** `rollout`, checked against the flag's variants; undefined when absent or wrong (problems say why). */
export function checkRolloutPlan(
  value: unknown,
  flag: { state?: unknown; variants?: Record<string, Variant>; defaultVariant?: unknown },
  problems: PlanProblem[],
): RolloutPlan | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    problems.push({
      path: "/rollout",
      message: `${show(value)} is not a rollout plan; use an object with at least steps and interval`,
    });
    return undefined;
  }
  const before = problems.length;
  unknownFields(value, PLAN_FIELDS, "/rollout", problems);
  const steps = checkSteps(value.steps, problems);
  const interval = checkInterval(value.interval, problems);
  const variant = checkVariant(value.variant, flag.variants, flag.defaultVariant, problems);
  const floor = checkInteger(value.floor, "/rollout/floor", 0, 99, problems);
  if (floor !== undefined && steps !== undefined && floor >= steps[0]!) {
    problems.push({
      path: "/rollout/floor",
      message: `${floor} is not below the first step (${steps[0]}); use an integer from 0 to ${steps[0]! - 1}`,
    });
  }
  const checks = checkChecks(value.checks, problems);
  const judge = checkJudge(value.judge, problems);
  const minRequests = checkInteger(value.minRequests, "/rollout/minRequests", 0, 1_000_000_000, problems);
  if (flag.variants === undefined && flag.state === "enabled") {
    problems.push({
      path: "/rollout",
      message:
        'a rollout steps the percentage of a boolean flag, which state "enabled" ignores: set state to "partial"',
    });
  }
  if (problems.length !== before || steps === undefined || interval === undefined) return undefined;
  const plan: RolloutPlan = { steps, interval };
  if (variant !== undefined) plan.variant = variant;
  if (floor !== undefined) plan.floor = floor;
  if (checks !== undefined) plan.checks = checks;
  if (judge !== undefined) plan.judge = judge;
  if (minRequests !== undefined) plan.minRequests = minRequests;
  return plan;
}

/**
 * `rolloutStatus`, as the stepper writes it and a read-modify-write carries it back: its shape is checked, the
 * judge's evidence and the last checks are kept as given (a wrong one only restarts or misreports the rollout).
 */
export function checkRolloutStatus(
  value: unknown,
  hasPlan: boolean,
  problems: PlanProblem[],
): RolloutStatus | undefined {
  if (value === undefined) return undefined;
  const path = "/rolloutStatus";
  if (!hasPlan) {
    problems.push({
      path,
      message: "a rollout status without a rollout plan; leave rolloutStatus out (the stepper writes it)",
    });
    return undefined;
  }
  if (!isObject(value)) {
    problems.push({
      path,
      message: `${show(value)} is not a rollout status; leave rolloutStatus out, or send it back as read`,
    });
    return undefined;
  }
  const before = problems.length;
  unknownFields(value, STATUS_FIELDS, path, problems);
  if (!(ROLLOUT_PHASES as readonly unknown[]).includes(value.phase)) {
    problems.push({
      path: `${path}/phase`,
      message: `${show(value.phase)} is not a phase; accepted: ${ROLLOUT_PHASES.join(", ")}`,
    });
  }
  checkInteger(value.step, `${path}/step`, 0, MAX_STEPS - 1, problems);
  if (value.step === undefined)
    problems.push({ path: `${path}/step`, message: "required: the index of the step in force" });
  checkInteger(value.share, `${path}/share`, 0, 100, problems);
  if (value.share === undefined)
    problems.push({ path: `${path}/share`, message: "required: the share in force, 0 to 100" });
  for (const field of ["since", "plan"] as const) {
    if (typeof value[field] !== "string")
      problems.push({
        path: `${path}/${field}`,
        message: `${show(value[field])} is not accepted; required: a string, as the stepper wrote it`,
      });
  }
  for (const field of ["checkedAt", "reason"] as const) {
    if (value[field] !== undefined && typeof value[field] !== "string") {
      problems.push({ path: `${path}/${field}`, message: `${show(value[field])} is not accepted; use a string` });
    }
  }
  if (value.judge !== undefined && !isObject(value.judge))
    problems.push({
      path: `${path}/judge`,
      message: `${show(value.judge)} is not accepted; use the object the stepper wrote`,
    });
  if (value.checks !== undefined && !Array.isArray(value.checks))
    problems.push({
      path: `${path}/checks`,
      message: `${show(value.checks)} is not accepted; use the list the stepper wrote`,
    });
  if (problems.length !== before) return undefined;
  const copy = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  return Object.fromEntries(
    STATUS_FIELDS.filter((field) => copy[field] !== undefined).map((field) => [field, copy[field]]),
  ) as unknown as RolloutStatus;
}
