// Custom PromQL checks: `greenlight.dev/check.<name>: {"query": "...", "max": 0.5}` with template variables.
import type { Parsed } from "./values.ts";

export const CHECK_PREFIX = "check.";
export const TEMPLATE_VARIABLES = ["namespace", "deployment", "version", "service", "interval"] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

export interface CustomCheck {
  name: string;
  query: string;
  /** The check passes when the value is at most `max` (or at least `min`); exactly one is set. */
  max?: number;
  min?: number;
}

const ACCEPTED =
  'accepted: JSON {"query": "<PromQL>", "max": <number>} or {"query": "...", "min": <number>}; ' +
  `template variables: ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(", ")}`;

export const isCheckName = (name: string): boolean => /^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/.test(name);

export function parseCustomCheck(name: string, raw: string): Parsed<CustomCheck> {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { ok: false, problem: `not JSON; ${ACCEPTED}` };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, problem: `not a JSON object; ${ACCEPTED}` };
  }
  const fields = body as Record<string, unknown>;
  const unknownField = Object.keys(fields).find((key) => !["query", "max", "min"].includes(key));
  if (unknownField) return { ok: false, problem: `unknown field "${unknownField}"; ${ACCEPTED}` };
  const { query, max, min } = fields;
  if (typeof query !== "string" || query.trim() === "")
    return { ok: false, problem: `"query" is missing; ${ACCEPTED}` };
  if ((max === undefined) === (min === undefined)) {
    return { ok: false, problem: `set exactly one of "max" and "min"; ${ACCEPTED}` };
  }
  const bound = max ?? min;
  if (typeof bound !== "number" || !Number.isFinite(bound)) {
    return { ok: false, problem: `"${max !== undefined ? "max" : "min"}" must be a finite number; ${ACCEPTED}` };
  }
  for (const variable of templateVariables(query)) {
    if (!(TEMPLATE_VARIABLES as readonly string[]).includes(variable)) {
      return { ok: false, problem: `unknown template variable {{${variable.slice(0, 40)}}}; ${ACCEPTED}` };
    }
  }
  if (!balanced(query)) return { ok: false, problem: "query has unbalanced brackets or quotes" };
  const check: CustomCheck = { name, query };
  if (max !== undefined) check.max = bound;
  else check.min = bound;
  return { ok: true, value: check };
}

/** The names inside `{{ }}`, found by a linear scan (a regex here backtracks cubically on "{{" + spaces). */
function templateVariables(query: string): string[] {
  const names: string[] = [];
  let from = 0;
  for (;;) {
    const open = query.indexOf("{{", from);
    if (open < 0) return names;
    const close = query.indexOf("}}", open + 2);
    if (close < 0) return names;
    names.push(query.slice(open + 2, close).trim());
    from = close + 2;
  }
}

/** Fills `{{variable}}` placeholders; the values are trusted names from the Deployment. */
export function renderQuery(query: string, variables: Record<TemplateVariable, string>): string {
  return query.replace(/\{\{\s*([a-z]+)\s*\}\}/g, (whole, name: string) =>
    name in variables ? variables[name as TemplateVariable] : whole,
  );
}

/** A cheap syntax guard so an obviously broken query is rejected at admission, not at 3 a.m. by the stepper. */
function balanced(query: string): boolean {
  const closing: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  const stack: string[] = [];
  let quote: string | null = null;
  for (let i = 0; i < query.length; i++) {
    const ch = query[i] as string;
    if (quote) {
      if (ch === "\\") i++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === "`") quote = ch;
    else if (ch === "(" || ch === "[" || ch === "{") stack.push(ch);
    else if (ch in closing && stack.pop() !== closing[ch]) return false;
  }
  return stack.length === 0 && quote === null;
}
