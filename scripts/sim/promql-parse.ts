// The simulated Prometheus's parser: a PromQL subset to a typed AST, with errors that name the character position.
// Type checks happen here, as in Prometheus, so a malformed query fails before it ever touches the series.

export type ValueType = "scalar" | "vector" | "matrix" | "string";
export type MatchOp = "=" | "!=" | "=~" | "!~";

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
  /** The anchored regex for `=~` / `!~` (Prometheus matches the whole label value). */
  regex?: RegExp;
}

export interface SelectorNode {
  type: "selector";
  pos: number;
  name?: string;
  matchers: Matcher[];
  offsetMs: number;
}

export interface RangeNode {
  type: "range";
  pos: number;
  selector: SelectorNode;
  rangeMs: number;
}

export type Grouping = { kind: "by" | "without"; labels: string[] };
export type VectorMatching = { on: boolean; labels: string[] };

export type Expr =
  | { type: "number"; pos: number; value: number }
  | { type: "string"; pos: number; value: string }
  | SelectorNode
  | RangeNode
  | { type: "call"; pos: number; fn: string; args: Expr[] }
  | { type: "aggregate"; pos: number; op: string; expr: Expr; grouping?: Grouping }
  | { type: "unary"; pos: number; op: "-" | "+"; expr: Expr }
  | { type: "paren"; pos: number; expr: Expr }
  | {
      type: "binary";
      pos: number;
      op: string;
      lhs: Expr;
      rhs: Expr;
      returnBool: boolean;
      matching?: VectorMatching;
    };

export class PromqlParseError extends Error {
  constructor(
    readonly position: number,
    detail: string,
  ) {
    super(`parse error at char ${position + 1}: ${detail}`);
  }
}

/** Argument and return types of the supported functions (`vector` args may be scalars where Prometheus allows). */
const FUNCTIONS: Record<string, { args: ValueType[]; optional?: number; returns: ValueType }> = {
  rate: { args: ["matrix"], returns: "vector" },
  increase: { args: ["matrix"], returns: "vector" },
  delta: { args: ["matrix"], returns: "vector" },
  irate: { args: ["matrix"], returns: "vector" },
  idelta: { args: ["matrix"], returns: "vector" },
  sum_over_time: { args: ["matrix"], returns: "vector" },
  avg_over_time: { args: ["matrix"], returns: "vector" },
  min_over_time: { args: ["matrix"], returns: "vector" },
  max_over_time: { args: ["matrix"], returns: "vector" },
  count_over_time: { args: ["matrix"], returns: "vector" },
  last_over_time: { args: ["matrix"], returns: "vector" },
  histogram_quantile: { args: ["scalar", "vector"], returns: "vector" },
  vector: { args: ["scalar"], returns: "vector" },
  scalar: { args: ["vector"], returns: "scalar" },
  time: { args: [], returns: "scalar" },
  timestamp: { args: ["vector"], returns: "vector" },
  abs: { args: ["vector"], returns: "vector" },
  ceil: { args: ["vector"], returns: "vector" },
  floor: { args: ["vector"], returns: "vector" },
  sqrt: { args: ["vector"], returns: "vector" },
  exp: { args: ["vector"], returns: "vector" },
  ln: { args: ["vector"], returns: "vector" },
  log2: { args: ["vector"], returns: "vector" },
  log10: { args: ["vector"], returns: "vector" },
  round: { args: ["vector", "scalar"], optional: 1, returns: "vector" },
  clamp: { args: ["vector", "scalar", "scalar"], returns: "vector" },
  clamp_min: { args: ["vector", "scalar"], returns: "vector" },
  clamp_max: { args: ["vector", "scalar"], returns: "vector" },
};

export const AGGREGATIONS = new Set(["sum", "avg", "min", "max", "count", "group"]);
const COMPARISONS = new Set(["==", "!=", ">", "<", ">=", "<="]);
const SET_OPS = new Set(["and", "or", "unless"]);
const PRECEDENCE: Record<string, number> = {
  or: 1,
  and: 2,
  unless: 2,
  "==": 3,
  "!=": 3,
  ">": 3,
  "<": 3,
  ">=": 3,
  "<=": 3,
  "+": 4,
  "-": 4,
  "*": 5,
  "/": 5,
  "%": 5,
  "^": 6,
};

export const isComparison = (op: string): boolean => COMPARISONS.has(op);
export const isSetOperator = (op: string): boolean => SET_OPS.has(op);

type Token =
  | { kind: "number"; pos: number; value: number }
  | { kind: "duration"; pos: number; ms: number }
  | { kind: "string"; pos: number; value: string }
  | { kind: "ident"; pos: number; text: string }
  | { kind: "punct"; pos: number; text: string }
  | { kind: "eof"; pos: number };

const DURATION = /(?:\d+(?:ms|s|m|h|d|w|y))+(?![a-zA-Z0-9_:])/y;
const DURATION_PART = /(\d+)(ms|s|m|h|d|w|y)/g;
const NUMBER = /0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const PUNCT = ["=~", "!~", "==", "!=", ">=", "<=", "(", ")", "{", "}", "[", "]", ",", "+", "-", "*", "/", "%", "^"];
const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8, y: 3.1536e10 };
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", a: "\x07" };

function sticky(re: RegExp, text: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(text)?.[0];
}

function durationMs(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) total += Number(amount) * (UNIT_MS[unit ?? "s"] ?? 0);
  return total;
}

function lexString(text: string, start: number): { value: string; end: number } {
  const quote = text[start];
  let value = "";
  let i = start + 1;
  while (i < text.length && text[i] !== quote) {
    const char = text[i] as string;
    if (char === "\\" && quote !== "`") {
      const next = text[i + 1] ?? "";
      const escaped = ESCAPES[next];
      if (escaped === undefined) throw new PromqlParseError(i, `unknown escape sequence "\\${next}"`);
      value += escaped;
      i += 2;
    } else {
      value += char;
      i++;
    }
  }
  if (i >= text.length) throw new PromqlParseError(start, "unterminated quoted string");
  return { value, end: i + 1 };
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i] as string;
    if (/\s/.test(char)) {
      i++;
      continue;
    }
    if (char === "#") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (char === '"' || char === "'" || char === "`") {
      const { value, end } = lexString(text, i);
      tokens.push({ kind: "string", pos: i, value });
      i = end;
      continue;
    }
    if (/[0-9.]/.test(char)) {
      const duration = sticky(DURATION, text, i);
      if (duration) {
        tokens.push({ kind: "duration", pos: i, ms: durationMs(duration) });
        i += duration.length;
        continue;
      }
      const number = sticky(NUMBER, text, i);
      if (number) {
        tokens.push({ kind: "number", pos: i, value: Number(number) });
        i += number.length;
        continue;
      }
    }
    const ident = sticky(IDENT, text, i);
    if (ident) {
      tokens.push({ kind: "ident", pos: i, text: ident });
      i += ident.length;
      continue;
    }
    const punct = PUNCT.find((candidate) => text.startsWith(candidate, i));
    if (punct) {
      tokens.push({ kind: "punct", pos: i, text: punct });
      i += punct.length;
      continue;
    }
    if (char === "=" || char === "<" || char === ">") {
      tokens.push({ kind: "punct", pos: i, text: char });
      i++;
      continue;
    }
    throw new PromqlParseError(i, `unexpected character ${JSON.stringify(char)}`);
  }
  tokens.push({ kind: "eof", pos: text.length });
  return tokens;
}

const describe = (token: Token): string => {
  switch (token.kind) {
    case "eof":
      return "end of input";
    case "number":
      return `number ${token.value}`;
    case "duration":
      return "duration";
    case "string":
      return `string ${JSON.stringify(token.value)}`;
    default:
      return `"${token.text}"`;
  }
};

class Parser {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): Expr {
    const expr = this.expression(1);
    const last = this.peek();
    if (last.kind !== "eof") throw this.unexpected(last);
    return expr;
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== "eof") this.index++;
    return token;
  }

  private unexpected(token: Token, wanted?: string): PromqlParseError {
    return new PromqlParseError(token.pos, `unexpected ${describe(token)}${wanted ? `, expected ${wanted}` : ""}`);
  }

  private isPunct(text: string, token = this.peek()): boolean {
    return token.kind === "punct" && token.text === text;
  }

  private isIdent(text: string, token = this.peek()): boolean {
    return token.kind === "ident" && token.text.toLowerCase() === text;
  }

  private expect(text: string): Token {
    const token = this.next();
    if (!this.isPunct(text, token)) throw this.unexpected(token, `"${text}"`);
    return token;
  }

  private binaryOperator(): string | undefined {
    const token = this.peek();
    if (token.kind === "punct" && PRECEDENCE[token.text] !== undefined) return token.text;
    if (token.kind === "ident" && SET_OPS.has(token.text.toLowerCase())) return token.text.toLowerCase();
    return undefined;
  }

  private expression(minPrecedence: number): Expr {
    let lhs = this.unary();
    for (;;) {
      const op = this.binaryOperator();
      const precedence = op === undefined ? 0 : (PRECEDENCE[op] ?? 0);
      if (op === undefined || precedence < minPrecedence) return lhs;
      const opToken = this.next();
      let returnBool = false;
      if (this.isIdent("bool")) {
        if (!COMPARISONS.has(op)) throw new PromqlParseError(this.peek().pos, "bool modifier on a non-comparison");
        this.next();
        returnBool = true;
      }
      let matching: VectorMatching | undefined;
      if (this.isIdent("on") || this.isIdent("ignoring")) {
        const on = this.isIdent("on");
        this.next();
        matching = { on, labels: this.labelList() };
      }
      if (this.isIdent("group_left") || this.isIdent("group_right")) {
        throw new PromqlParseError(this.peek().pos, "group_left/group_right are not supported by the simulator");
      }
      // `^` is right-associative; every other operator is left-associative.
      const rhs = this.expression(op === "^" ? precedence : precedence + 1);
      lhs = this.checkBinary({ type: "binary", pos: opToken.pos, op, lhs, rhs, returnBool, matching });
    }
  }

  private unary(): Expr {
    const token = this.peek();
    if (this.isPunct("-") || this.isPunct("+")) {
      this.next();
      // Unary minus binds looser than `^`, as in PromQL: -2^2 is -4.
      const expr = this.expression(PRECEDENCE["^"] as number);
      const type = typeOf(expr);
      if (type !== "scalar" && type !== "vector") {
        throw new PromqlParseError(token.pos, `unary operator on a ${type}, expected scalar or instant vector`);
      }
      if (expr.type === "number")
        return { ...expr, pos: token.pos, value: this.isMinus(token) ? -expr.value : expr.value };
      return { type: "unary", pos: token.pos, op: this.isMinus(token) ? "-" : "+", expr };
    }
    return this.postfix(this.primary());
  }

  private isMinus(token: Token): boolean {
    return token.kind === "punct" && token.text === "-";
  }

  private postfix(expr: Expr): Expr {
    let result = expr;
    for (;;) {
      if (this.isPunct("[")) {
        const open = this.next();
        if (result.type !== "selector") {
          throw new PromqlParseError(open.pos, "ranges only allowed for vector selectors (no subqueries here)");
        }
        const duration = this.next();
        if (duration.kind !== "duration") throw this.unexpected(duration, "a duration like 5m");
        if (this.isPunct(":") || !this.isPunct("]")) throw this.unexpected(this.peek(), '"]" (subqueries unsupported)');
        this.next();
        if (duration.ms <= 0) throw new PromqlParseError(duration.pos, "range must be positive");
        result = { type: "range", pos: result.pos, selector: result, rangeMs: duration.ms };
      } else if (this.isIdent("offset")) {
        const keyword = this.next();
        const target = result.type === "range" ? result.selector : result;
        if (target.type !== "selector") throw new PromqlParseError(keyword.pos, "offset must follow a selector");
        const negative = this.isPunct("-");
        if (negative) this.next();
        const duration = this.next();
        if (duration.kind !== "duration") throw this.unexpected(duration, "a duration");
        target.offsetMs = negative ? -duration.ms : duration.ms;
      } else {
        return result;
      }
    }
  }

  private primary(): Expr {
    const token = this.next();
    switch (token.kind) {
      case "number":
        return { type: "number", pos: token.pos, value: token.value };
      case "string":
        return { type: "string", pos: token.pos, value: token.value };
      case "punct":
        if (token.text === "(") {
          const expr = this.expression(1);
          this.expect(")");
          return { type: "paren", pos: token.pos, expr };
        }
        if (token.text === "{") return this.selector(token.pos, undefined);
        throw this.unexpected(token);
      case "ident":
        return this.identifier(token);
      default:
        throw this.unexpected(token);
    }
  }

  private identifier(token: { pos: number; text: string }): Expr {
    const lower = token.text.toLowerCase();
    if (lower === "inf" || lower === "nan") {
      return { type: "number", pos: token.pos, value: lower === "inf" ? Number.POSITIVE_INFINITY : Number.NaN };
    }
    const opensCall = this.isPunct("(");
    if (AGGREGATIONS.has(lower) && (opensCall || this.isIdent("by") || this.isIdent("without"))) {
      return this.aggregation(token.pos, lower);
    }
    if (opensCall) return this.call(token.pos, token.text);
    if (this.isPunct("{")) {
      this.next();
      return this.selector(token.pos, token.text);
    }
    return { type: "selector", pos: token.pos, name: token.text, matchers: [], offsetMs: 0 };
  }

  private aggregation(pos: number, op: string): Expr {
    let grouping = this.grouping();
    const open = this.expect("(");
    if (this.isPunct(")")) throw new PromqlParseError(open.pos, `no argument for aggregation ${op}`);
    const expr = this.expression(1);
    if (this.isPunct(",")) throw new PromqlParseError(this.peek().pos, `aggregation ${op} takes one argument`);
    this.expect(")");
    const after = this.grouping();
    if (after && grouping) throw new PromqlParseError(pos, "grouping given both before and after the argument");
    grouping = grouping ?? after;
    if (typeOf(expr) !== "vector") {
      throw new PromqlParseError(expr.pos, `expected an instant vector in aggregation ${op}, got ${typeOf(expr)}`);
    }
    return grouping ? { type: "aggregate", pos, op, expr, grouping } : { type: "aggregate", pos, op, expr };
  }

  private grouping(): Grouping | undefined {
    if (!this.isIdent("by") && !this.isIdent("without")) return undefined;
    const kind = this.isIdent("by") ? "by" : "without";
    this.next();
    return { kind, labels: this.labelList() };
  }

  private labelList(): string[] {
    this.expect("(");
    const labels: string[] = [];
    while (!this.isPunct(")")) {
      const label = this.next();
      if (label.kind !== "ident") throw this.unexpected(label, "a label name");
      labels.push(label.text);
      if (!this.isPunct(")")) this.expect(",");
    }
    this.next();
    return labels;
  }

  private call(pos: number, fn: string): Expr {
    const spec = FUNCTIONS[fn];
    if (!spec) throw new PromqlParseError(pos, `unknown function "${fn}"`);
    this.expect("(");
    const args: Expr[] = [];
    while (!this.isPunct(")")) {
      args.push(this.expression(1));
      if (!this.isPunct(")")) this.expect(",");
    }
    const close = this.next();
    const min = spec.args.length - (spec.optional ?? 0);
    if (args.length < min || args.length > spec.args.length) {
      throw new PromqlParseError(close.pos, `${fn} takes ${spec.args.length} argument(s), got ${args.length}`);
    }
    args.forEach((arg, index) => {
      const wanted = spec.args[index];
      const got = typeOf(arg);
      if (got !== wanted) throw new PromqlParseError(arg.pos, `${fn} expects a ${wanted} argument, got ${got}`);
    });
    return { type: "call", pos, fn, args };
  }

  private selector(pos: number, name: string | undefined): SelectorNode {
    const matchers: Matcher[] = [];
    while (!this.isPunct("}")) {
      const label = this.next();
      if (label.kind !== "ident") throw this.unexpected(label, "a label name");
      const opToken = this.next();
      const op = opToken.kind === "punct" ? opToken.text : "";
      if (op !== "=" && op !== "!=" && op !== "=~" && op !== "!~") throw this.unexpected(opToken, "a label matcher");
      const value = this.next();
      if (value.kind !== "string") throw this.unexpected(value, "a quoted label value");
      matchers.push(matcher(label.text, op, value.value, value.pos));
      if (!this.isPunct("}")) this.expect(",");
    }
    this.next();
    if (name === undefined) {
      if (!matchers.some((m) => !matches(m, ""))) {
        throw new PromqlParseError(pos, "vector selector must contain at least one non-empty matcher");
      }
    }
    return name === undefined
      ? { type: "selector", pos, matchers, offsetMs: 0 }
      : { type: "selector", pos, name, matchers, offsetMs: 0 };
  }

  private checkBinary(node: Extract<Expr, { type: "binary" }>): Expr {
    const left = typeOf(node.lhs);
    const right = typeOf(node.rhs);
    for (const [type, side] of [
      [left, node.lhs],
      [right, node.rhs],
    ] as const) {
      if (type !== "scalar" && type !== "vector") {
        throw new PromqlParseError(side.pos, `binary expression must contain only scalar and instant vector types`);
      }
    }
    if (SET_OPS.has(node.op) && (left !== "vector" || right !== "vector")) {
      throw new PromqlParseError(node.pos, `set operator "${node.op}" not allowed in binary scalar expression`);
    }
    if (left === "scalar" && right === "scalar" && COMPARISONS.has(node.op) && !node.returnBool) {
      throw new PromqlParseError(node.pos, "comparisons between scalars must use BOOL modifier");
    }
    if (node.matching && (left !== "vector" || right !== "vector")) {
      throw new PromqlParseError(node.pos, "vector matching only allowed between instant vectors");
    }
    return node;
  }
}

function matcher(name: string, op: MatchOp, value: string, pos: number): Matcher {
  if (op !== "=~" && op !== "!~") return { name, op, value };
  try {
    // Prometheus anchors label regexes at both ends.
    return { name, op, value, regex: new RegExp(`^(?:${value})$`, "s") };
  } catch (error) {
    throw new PromqlParseError(pos, `invalid regular expression ${JSON.stringify(value)}: ${(error as Error).message}`);
  }
}

/** Whether a label value (the empty string for a missing label) satisfies the matcher. */
export function matches(m: Matcher, value: string): boolean {
  switch (m.op) {
    case "=":
      return value === m.value;
    case "!=":
      return value !== m.value;
    case "=~":
      return (m.regex as RegExp).test(value);
    case "!~":
      return !(m.regex as RegExp).test(value);
  }
}

export function typeOf(expr: Expr): ValueType {
  switch (expr.type) {
    case "number":
      return "scalar";
    case "string":
      return "string";
    case "selector":
      return "vector";
    case "range":
      return "matrix";
    case "call":
      return FUNCTIONS[expr.fn]?.returns ?? "vector";
    case "aggregate":
      return "vector";
    case "unary":
    case "paren":
      return typeOf(expr.expr);
    case "binary":
      return typeOf(expr.lhs) === "scalar" && typeOf(expr.rhs) === "scalar" ? "scalar" : "vector";
  }
}

/** Parses one PromQL expression; throws `PromqlParseError` naming the position of the first problem. */
export function parsePromql(text: string): Expr {
  return new Parser(tokenize(text)).parse();
}
