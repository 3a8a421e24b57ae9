// Label and field selectors for the fake API server, with the grammar and matching rules of apimachinery.
import { badRequest } from "./fake-status.ts";

export type LabelOperator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface LabelRequirement {
  key: string;
  op: LabelOperator;
  values: string[];
}

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Why a label key is invalid, or undefined when it is valid (`prefix/name`, name at most 63 characters). */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
  }
  if (name.length === 0) return "name part must be non-empty";
  if (name.length > 63) return "name part must be no more than 63 characters";
  if (!QUALIFIED_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  }
  return undefined;
}

/** Why a label value is invalid, or undefined when it is valid (at most 63 characters, may be empty). */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return "must be no more than 63 characters";
  if (!LABEL_VALUE.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  }
  return undefined;
}

class Scanner {
  private pos = 0;
  constructor(private readonly text: string) {}

  skipSpaces(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] ?? "")) this.pos++;
  }

  done(): boolean {
    this.skipSpaces();
    return this.pos >= this.text.length;
  }

  peek(length = 1): string {
    this.skipSpaces();
    return this.text.slice(this.pos, this.pos + length);
  }

  take(token: string): boolean {
    if (this.peek(token.length) !== token) return false;
    this.pos += token.length;
    return true;
  }

  /** A run of characters up to a space, a comma, a parenthesis or an operator character. */
  word(): string {
    this.skipSpaces();
    const start = this.pos;
    while (this.pos < this.text.length && !/[\s,()=!<>]/.test(this.text[this.pos] ?? "")) this.pos++;
    return this.text.slice(start, this.pos);
  }
}

function selectorError(selector: string, problem: string): Error {
  return badRequest(`unable to parse requirement: ${problem} in selector "${selector}"`);
}

function checkKey(selector: string, key: string): void {
  const problem = key === "" ? "key must be non-empty" : labelKeyProblem(key);
  if (problem) throw selectorError(selector, `invalid label key "${key}": ${problem}`);
}

function checkValue(selector: string, value: string): void {
  const problem = labelValueProblem(value);
  if (problem) throw selectorError(selector, `invalid label value: "${value}": ${problem}`);
}

/** Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h,n>1`; an empty string selects everything. Throws a 400 ApiError. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  const scanner = new Scanner(selector);
  const requirements: LabelRequirement[] = [];
  if (scanner.done()) return requirements;
  for (;;) {
    if (scanner.take("!")) {
      const key = scanner.word();
      checkKey(selector, key);
      requirements.push({ key, op: "!", values: [] });
    } else {
      const key = scanner.word();
      checkKey(selector, key);
      if (scanner.done() || scanner.peek() === ",") {
        requirements.push({ key, op: "exists", values: [] });
      } else if (scanner.take("==") || scanner.take("=")) {
        const value = scanner.word();
        checkValue(selector, value);
        requirements.push({ key, op: "=", values: [value] });
      } else if (scanner.take("!=")) {
        const value = scanner.word();
        checkValue(selector, value);
        requirements.push({ key, op: "!=", values: [value] });
      } else if (scanner.peek() === ">" || scanner.peek() === "<") {
        const op: LabelOperator = scanner.take(">") ? "gt" : "lt";
        if (op === "lt") scanner.take("<");
        const value = scanner.word();
        if (!/^-?\d+$/.test(value))
          throw selectorError(selector, `for 'Gt', 'Lt' operators, the value must be an integer`);
        requirements.push({ key, op, values: [value] });
      } else {
        const word = scanner.word();
        if (word !== "in" && word !== "notin") {
          throw selectorError(selector, `found '${word || scanner.peek()}', expected: in, notin, =, ==, !=, gt, lt`);
        }
        if (!scanner.take("(")) throw selectorError(selector, "found no '(', expected: '('");
        const values: string[] = [];
        if (!scanner.take(")")) {
          for (;;) {
            const value = scanner.word();
            checkValue(selector, value);
            values.push(value);
            if (scanner.take(")")) break;
            if (!scanner.take(",")) throw selectorError(selector, "found no ',' or ')' in the set of values");
          }
        }
        if (values.length === 0)
          throw selectorError(selector, "for 'in', 'notin' operators, values set can't be empty");
        requirements.push({ key, op: word, values });
      }
    }
    if (scanner.done()) return requirements;
    if (!scanner.take(",")) throw selectorError(selector, `found '${scanner.peek()}', expected: ','`);
  }
}

export function matchesLabelRequirements(
  requirements: readonly LabelRequirement[],
  labels: Record<string, string>,
): boolean {
  return requirements.every((requirement) => {
    const present = Object.hasOwn(labels, requirement.key);
    const value = labels[requirement.key];
    switch (requirement.op) {
      case "=":
      case "in":
        return present && requirement.values.includes(value ?? "");
      case "!=":
      case "notin":
        return !present || !requirement.values.includes(value ?? "");
      case "exists":
        return present;
      case "!":
        return !present;
      case "gt":
      case "lt": {
        if (!present || !/^-?\d+$/.test(value ?? "")) return false;
        const actual = Number(value);
        const bound = Number(requirement.values[0]);
        return requirement.op === "gt" ? actual > bound : actual < bound;
      }
      default:
        return false;
    }
  });
}

/** A metav1.LabelSelector (matchLabels, matchExpressions) as requirements. */
export function labelSelectorRequirements(selector: unknown): LabelRequirement[] | undefined {
  if (typeof selector !== "object" || selector === null || Array.isArray(selector)) return undefined;
  const { matchLabels, matchExpressions } = selector as { matchLabels?: unknown; matchExpressions?: unknown };
  const requirements: LabelRequirement[] = [];
  if (typeof matchLabels === "object" && matchLabels !== null) {
    for (const [key, value] of Object.entries(matchLabels)) {
      if (typeof value === "string") requirements.push({ key, op: "=", values: [value] });
    }
  }
  if (Array.isArray(matchExpressions)) {
    for (const expression of matchExpressions) {
      const { key, operator, values } = expression as { key?: unknown; operator?: unknown; values?: unknown };
      if (typeof key !== "string") continue;
      const list = Array.isArray(values) ? values.filter((v): v is string => typeof v === "string") : [];
      if (operator === "In") requirements.push({ key, op: "in", values: list });
      else if (operator === "NotIn") requirements.push({ key, op: "notin", values: list });
      else if (operator === "Exists") requirements.push({ key, op: "exists", values: [] });
      else if (operator === "DoesNotExist") requirements.push({ key, op: "!", values: [] });
    }
  }
  return requirements;
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** Parses `metadata.name=x,metadata.namespace!=y` (`==` is accepted too). Throws a 400 ApiError. */
export function parseFieldSelector(selector: string): FieldRequirement[] {
  const requirements: FieldRequirement[] = [];
  for (const part of selector.split(",")) {
    const term = part.trim();
    if (term === "") continue;
    const match = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!match) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const [, field = "", op, value = ""] = match;
    requirements.push({ field, op: op === "!=" ? "!=" : "=", value: value.trim() });
  }
  return requirements;
}

export function matchesFieldRequirements(
  requirements: readonly FieldRequirement[],
  fields: Record<string, string | undefined>,
): boolean {
  return requirements.every((requirement) => {
    const actual = fields[requirement.field] ?? "";
    return requirement.op === "=" ? actual === requirement.value : actual !== requirement.value;
  });
}
