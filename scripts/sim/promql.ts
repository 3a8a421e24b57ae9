// The simulated Prometheus's query engine: evaluates a PromQL subset at one instant over in-memory series.
// Follows Prometheus 2.x (the version the cross-check test runs) where answers differ; `semantics: "v3"` switches
// to 3.x's left-open ranges and its order of the extrapolation limits.
import type { LabelledSample, MetricsError } from "../../functions/canary/checks.ts";
import {
  type Expr,
  isComparison,
  matches,
  PromqlParseError,
  parsePromql,
  type RangeNode,
  type SelectorNode,
  type VectorMatching,
} from "./promql-parse.ts";

export { PromqlParseError, parsePromql } from "./promql-parse.ts";

/** Labels of a series, the metric name under `__name__`. */
export type Metric = Readonly<Record<string, string>>;

/** One stored series: samples at `times` (ms, ascending) from index `start` on. */
export interface SeriesData {
  readonly metric: Metric;
  readonly times: readonly number[];
  readonly values: readonly number[];
  readonly start: number;
}

export interface SeriesSource {
  /** The series of one metric name. */
  byName(name: string): readonly SeriesData[];
  /** Every series (for selectors without a name). */
  all(): Iterable<SeriesData>;
}

export interface EvalOptions {
  /** Evaluation time, ms. */
  atMs: number;
  /** Samples after this are not visible yet (ingestion lag); default `atMs`. */
  visibleUntilMs?: number;
  /** Lookback of instant selectors; default 5 minutes. */
  lookbackMs?: number;
  semantics?: "v2" | "v3";
}

export interface Sample {
  metric: Metric;
  value: number;
}

interface RangeView {
  metric: Metric;
  times: readonly number[];
  values: readonly number[];
  /** Samples [lo, hi) are in the window. */
  lo: number;
  hi: number;
}

export type Value =
  | { kind: "scalar"; value: number }
  | { kind: "vector"; samples: Sample[] }
  | { kind: "matrix"; series: RangeView[] }
  | { kind: "string"; value: string };

class QueryEvalError extends Error {}

const DEFAULT_LOOKBACK_MS = 5 * 60_000;
const AST_CACHE_LIMIT = 2_000;
const astCache = new Map<string, Expr | PromqlParseError>();

/** Parses through a shared cache: the simulator sends the same few query strings thousands of times. */
export function compile(query: string): Expr | PromqlParseError {
  const cached = astCache.get(query);
  if (cached) return cached;
  let result: Expr | PromqlParseError;
  try {
    result = parsePromql(query);
  } catch (error) {
    if (!(error instanceof PromqlParseError)) throw error;
    result = error;
  }
  if (astCache.size >= AST_CACHE_LIMIT) astCache.clear();
  astCache.set(query, result);
  return result;
}

/** The query's value at `options.atMs`; throws `PromqlParseError` or an evaluation error. */
export function evaluateValue(query: string, source: SeriesSource, options: EvalOptions): Value {
  const ast = compile(query);
  if (ast instanceof PromqlParseError) throw ast;
  return new Evaluator(source, options).eval(ast);
}

/** What a `MetricsReader` answers: the result's sample values, or a `query` error. */
export function evaluatePromql(query: string, source: SeriesSource, options: EvalOptions): number[] | MetricsError {
  const samples = evaluatePromqlSamples(query, source, options);
  return Array.isArray(samples) ? samples.map((sample) => sample.value) : samples;
}

/** The result's samples with their labels (the comparative judge's histogram queries), or a `query` error. */
export function evaluatePromqlSamples(
  query: string,
  source: SeriesSource,
  options: EvalOptions,
): LabelledSample[] | MetricsError {
  const ast = compile(query);
  if (ast instanceof PromqlParseError) return { kind: "query", message: ast.message };
  let value: Value;
  try {
    value = new Evaluator(source, options).eval(ast);
  } catch (error) {
    if (error instanceof QueryEvalError) return { kind: "query", message: error.message };
    throw error;
  }
  switch (value.kind) {
    case "scalar":
      return [{ labels: {}, value: value.value }];
    case "vector":
      return value.samples.map((sample) => ({ labels: { ...dropName(sample.metric) }, value: sample.value }));
    default:
      return { kind: "query", message: `a ${value.kind} result is not supported for an instant query` };
  }
}

const NAME = "__name__";

function dropName(metric: Metric): Metric {
  if (!(NAME in metric)) return metric;
  const { [NAME]: _dropped, ...rest } = metric;
  return rest;
}

/** Greatest index in [lo, hi) with times[i] <= t, or lo - 1. */
function lastAtOrBefore(times: readonly number[], lo: number, hi: number, t: number): number {
  let low = lo;
  let high = hi;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((times[mid] as number) <= t) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}

/** Least index in [lo, hi) with times[i] >= t (or > t when `strict`), or hi. */
function firstFrom(times: readonly number[], lo: number, hi: number, t: number, strict: boolean): number {
  let low = lo;
  let high = hi;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const time = times[mid] as number;
    if (strict ? time <= t : time < t) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Go's math.Pow where it differs from JS's `**` (1^NaN, (-1)^±Inf). */
function goPow(base: number, exponent: number): number {
  if (base === 1 || exponent === 0) return 1;
  if (base === -1 && !Number.isFinite(exponent) && !Number.isNaN(exponent)) return 1;
  return base ** exponent;
}

/** Arithmetic or comparison on two numbers; a comparison answers 1 or 0. */
function operate(op: string, a: number, b: number): number {
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
    case "/":
      return a / b;
    case "%":
      return a % b;
    case "^":
      return goPow(a, b);
    case "==":
      return a === b ? 1 : 0;
    case "!=":
      return a !== b ? 1 : 0;
    case ">":
      return a > b ? 1 : 0;
    case "<":
      return a < b ? 1 : 0;
    case ">=":
      return a >= b ? 1 : 0;
    case "<=":
      return a <= b ? 1 : 0;
    default:
      throw new QueryEvalError(`operator ${op} not supported here`);
  }
}

/** The label-set key two samples are matched on (all labels but the name, or as `on`/`ignoring` say). */
function signature(metric: Metric, matching: VectorMatching | undefined): string {
  if (matching?.on) return matching.labels.map((label) => metric[label] ?? "").join("\xff");
  const ignored = matching?.labels;
  let key = "";
  for (const label of Object.keys(metric).sort()) {
    if (label === NAME || ignored?.includes(label)) continue;
    const value = metric[label] as string;
    if (value !== "") key += `${label}\xfe${value}\xff`;
  }
  return key;
}

/** Prometheus's le parsing (Go's ParseFloat): numbers and ±Inf, anything else skips the bucket. */
function parseBound(text: string | undefined): number {
  if (text === undefined) return Number.NaN;
  if (/^[+]?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number.NaN;
  return Number(text);
}

interface Bucket {
  upper: number;
  count: number;
}

/** Prometheus's bucketQuantile: sorted buckets, +Inf required, linear interpolation, lowest bucket from 0. */
export function bucketQuantile(q: number, input: readonly Bucket[]): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...input].sort((a, b) => a.upper - b.upper);
  if (sorted.length === 0 || (sorted[sorted.length - 1] as Bucket).upper !== Number.POSITIVE_INFINITY) {
    return Number.NaN;
  }
  // Same bound twice (e.g. two sources of one histogram) counts as one bucket; then force monotonic counts.
  const buckets: Bucket[] = [];
  for (const bucket of sorted) {
    const last = buckets[buckets.length - 1];
    if (last && last.upper === bucket.upper) last.count += bucket.count;
    else buckets.push({ ...bucket });
  }
  let max = Number.NEGATIVE_INFINITY;
  for (const bucket of buckets) {
    if (bucket.count > max) max = bucket.count;
    else if (bucket.count < max) bucket.count = max;
  }
  if (buckets.length < 2) return Number.NaN;
  const observations = (buckets[buckets.length - 1] as Bucket).count;
  if (observations === 0) return Number.NaN;
  let rank = q * observations;
  let b = 0;
  while (b < buckets.length - 1 && !((buckets[b] as Bucket).count >= rank)) b++;
  if (b === buckets.length - 1) return (buckets[buckets.length - 2] as Bucket).upper;
  const bucket = buckets[b] as Bucket;
  if (b === 0 && bucket.upper <= 0) return bucket.upper;
  let start = 0;
  let count = bucket.count;
  if (b > 0) {
    const previous = buckets[b - 1] as Bucket;
    start = previous.upper;
    count -= previous.count;
    rank -= previous.count;
  }
  return start + (bucket.upper - start) * (rank / count);
}

class Evaluator {
  private readonly at: number;
  private readonly visibleUntil: number;
  private readonly lookback: number;
  private readonly v3: boolean;

  constructor(
    private readonly source: SeriesSource,
    options: EvalOptions,
  ) {
    this.at = options.atMs;
    this.visibleUntil = Math.min(options.visibleUntilMs ?? options.atMs, options.atMs);
    this.lookback = options.lookbackMs ?? DEFAULT_LOOKBACK_MS;
    this.v3 = options.semantics === "v3";
  }

  eval(expr: Expr): Value {
    switch (expr.type) {
      case "number":
        return { kind: "scalar", value: expr.value };
      case "string":
        return { kind: "string", value: expr.value };
      case "paren":
        return this.eval(expr.expr);
      case "selector":
        return { kind: "vector", samples: this.instant(expr) };
      case "range":
        return { kind: "matrix", series: this.range(expr) };
      case "unary": {
        const value = this.eval(expr.expr);
        if (expr.op === "+") return value;
        if (value.kind === "scalar") return { kind: "scalar", value: -value.value };
        return {
          kind: "vector",
          samples: this.vector(value).map((s) => ({ metric: dropName(s.metric), value: -s.value })),
        };
      }
      case "call":
        return this.call(expr.fn, expr.args);
      case "aggregate":
        return { kind: "vector", samples: this.aggregate(expr.op, this.vector(this.eval(expr.expr)), expr.grouping) };
      case "binary":
        return this.binary(expr);
    }
  }

  private vector(value: Value): Sample[] {
    if (value.kind !== "vector") throw new QueryEvalError(`expected an instant vector, got ${value.kind}`);
    return value.samples;
  }

  private scalar(value: Value): number {
    if (value.kind !== "scalar") throw new QueryEvalError(`expected a scalar, got ${value.kind}`);
    return value.value;
  }

  private candidates(selector: SelectorNode): Iterable<SeriesData> {
    return selector.name === undefined ? this.source.all() : this.source.byName(selector.name);
  }

  private selected(selector: SelectorNode, series: SeriesData): boolean {
    for (const m of selector.matchers) if (!matches(m, series.metric[m.name] ?? "")) return false;
    return true;
  }

  private instant(selector: SelectorNode): Sample[] {
    const refTime = this.at - selector.offsetMs;
    const newest = Math.min(refTime, this.visibleUntil);
    const oldest = refTime - this.lookback;
    const samples: Sample[] = [];
    for (const series of this.candidates(selector)) {
      if (!this.selected(selector, series)) continue;
      const index = lastAtOrBefore(series.times, series.start, series.times.length, newest);
      if (index < series.start) continue;
      const time = series.times[index] as number;
      if (this.v3 ? time <= oldest : time < oldest) continue;
      samples.push({ metric: series.metric, value: series.values[index] as number });
    }
    return samples;
  }

  private range(node: RangeNode): RangeView[] {
    const end = this.at - node.selector.offsetMs;
    const newest = Math.min(end, this.visibleUntil);
    const views: RangeView[] = [];
    for (const series of this.candidates(node.selector)) {
      if (!this.selected(node.selector, series)) continue;
      const lo = firstFrom(series.times, series.start, series.times.length, end - node.rangeMs, this.v3);
      const hi = lastAtOrBefore(series.times, lo, series.times.length, newest) + 1;
      if (hi > lo) views.push({ metric: series.metric, times: series.times, values: series.values, lo, hi });
    }
    return views;
  }

  private call(fn: string, args: Expr[]): Value {
    switch (fn) {
      case "rate":
      case "increase":
      case "delta":
        return this.overRange(args[0] as Expr, (view, node) => this.extrapolatedRate(view, node, fn));
      case "irate":
      case "idelta":
        return this.overRange(args[0] as Expr, (view) => instantRate(view, fn === "irate"));
      case "sum_over_time":
      case "avg_over_time":
      case "min_over_time":
      case "max_over_time":
      case "count_over_time":
      case "last_over_time":
        return this.overRange(args[0] as Expr, (view) => overTime(view, fn));
      case "histogram_quantile":
        return this.histogramQuantile(this.scalar(this.eval(args[0] as Expr)), this.vector(this.eval(args[1] as Expr)));
      case "vector":
        return { kind: "vector", samples: [{ metric: {}, value: this.scalar(this.eval(args[0] as Expr)) }] };
      case "scalar": {
        const samples = this.vector(this.eval(args[0] as Expr));
        return { kind: "scalar", value: samples.length === 1 ? (samples[0] as Sample).value : Number.NaN };
      }
      case "time":
        return { kind: "scalar", value: this.at / 1000 };
      case "timestamp":
        return this.timestamps(args[0] as Expr);
      default:
        return this.mathFunction(fn, args);
    }
  }

  /** timestamp(v): when each sample of a selector was scraped, in seconds; a computed vector's is the query time. */
  private timestamps(arg: Expr): Value {
    let node = arg;
    while (node.type === "paren") node = node.expr;
    if (node.type !== "selector") {
      const samples = this.vector(this.eval(arg));
      return { kind: "vector", samples: samples.map((s) => ({ metric: dropName(s.metric), value: this.at / 1000 })) };
    }
    const refTime = this.at - node.offsetMs;
    const newest = Math.min(refTime, this.visibleUntil);
    const oldest = refTime - this.lookback;
    const samples: Sample[] = [];
    for (const series of this.candidates(node)) {
      if (!this.selected(node, series)) continue;
      const index = lastAtOrBefore(series.times, series.start, series.times.length, newest);
      if (index < series.start) continue;
      const time = series.times[index] as number;
      if (this.v3 ? time <= oldest : time < oldest) continue;
      samples.push({ metric: dropName(series.metric), value: time / 1000 });
    }
    return { kind: "vector", samples };
  }

  private mathFunction(fn: string, args: Expr[]): Value {
    const samples = this.vector(this.eval(args[0] as Expr));
    const rest = args.slice(1).map((arg) => this.scalar(this.eval(arg)));
    const f = MATH[fn];
    if (!f) throw new QueryEvalError(`function ${fn} not implemented`);
    // clamp with max < min answers nothing, as Prometheus does.
    if (fn === "clamp" && (rest[1] as number) < (rest[0] as number)) return { kind: "vector", samples: [] };
    return {
      kind: "vector",
      samples: samples.map((s) => ({ metric: dropName(s.metric), value: f(s.value, rest) })),
    };
  }

  /** Applies `f` to each series of a range argument; series without an answer are dropped. */
  private overRange(arg: Expr, f: (view: RangeView, node: RangeNode) => number | undefined): Value {
    let node = arg;
    while (node.type === "paren") node = node.expr;
    if (node.type !== "range") throw new QueryEvalError("expected a range vector selector");
    const samples: Sample[] = [];
    for (const view of this.range(node)) {
      const value = f(view, node);
      if (value !== undefined) samples.push({ metric: dropName(view.metric), value });
    }
    return { kind: "vector", samples };
  }

  /** Prometheus's extrapolatedRate for rate, increase and delta. */
  private extrapolatedRate(view: RangeView, node: RangeNode, fn: string): number | undefined {
    const { times, values, lo, hi } = view;
    if (hi - lo < 2) return undefined;
    const isCounter = fn !== "delta";
    const rangeEnd = this.at - node.selector.offsetMs;
    const rangeStart = rangeEnd - node.rangeMs;
    const first = values[lo] as number;
    let result = (values[hi - 1] as number) - first;
    if (isCounter) {
      // A drop is a counter reset: the counter restarted from 0, so the value before it was all increase.
      let previous = first;
      for (let i = lo + 1; i < hi; i++) {
        const current = values[i] as number;
        if (current < previous) result += previous;
        previous = current;
      }
    }
    const sampled = ((times[hi - 1] as number) - (times[lo] as number)) / 1000;
    const average = sampled / (hi - lo - 1);
    const threshold = average * 1.1;
    let toStart = ((times[lo] as number) - rangeStart) / 1000;
    let toEnd = (rangeEnd - (times[hi - 1] as number)) / 1000;
    // Counters cannot go below zero: never extrapolate further back than where the slope reaches 0.
    const toZero = isCounter && result > 0 && first >= 0 ? sampled * (first / result) : Number.POSITIVE_INFINITY;
    if (this.v3) {
      if (toStart >= threshold) toStart = average / 2;
      if (toZero < toStart) toStart = toZero;
    } else {
      if (toZero < toStart) toStart = toZero;
      if (toStart >= threshold) toStart = average / 2;
    }
    if (toEnd >= threshold) toEnd = average / 2;
    // Same order of float operations as Prometheus, so that answers agree to the last bit.
    let factor = (sampled + toStart + toEnd) / sampled;
    if (fn === "rate") factor /= node.rangeMs / 1000;
    return result * factor;
  }

  private histogramQuantile(q: number, samples: Sample[]): Value {
    const groups = new Map<string, { metric: Metric; buckets: Bucket[] }>();
    for (const sample of samples) {
      const upper = parseBound(sample.metric.le);
      if (Number.isNaN(upper)) continue;
      const key = signature(sample.metric, { on: false, labels: ["le"] });
      let group = groups.get(key);
      if (!group) {
        const { le: _le, ...rest } = dropName(sample.metric);
        group = { metric: rest, buckets: [] };
        groups.set(key, group);
      }
      group.buckets.push({ upper, count: sample.value });
    }
    const out: Sample[] = [];
    for (const group of groups.values()) out.push({ metric: group.metric, value: bucketQuantile(q, group.buckets) });
    return { kind: "vector", samples: out };
  }

  private aggregate(op: string, samples: Sample[], grouping: { kind: "by" | "without"; labels: string[] } | undefined) {
    const groups = new Map<string, { metric: Metric; value: number; count: number }>();
    for (const sample of samples) {
      let key = "";
      let metric: Metric = {};
      if (grouping?.kind === "by") {
        key = grouping.labels.map((label) => sample.metric[label] ?? "").join("\xff");
        const kept: Record<string, string> = {};
        for (const label of grouping.labels) {
          const value = sample.metric[label];
          if (value) kept[label] = value;
        }
        metric = kept;
      } else if (grouping?.kind === "without") {
        key = signature(sample.metric, { on: false, labels: grouping.labels });
        const kept: Record<string, string> = {};
        for (const [label, value] of Object.entries(sample.metric)) {
          if (label !== NAME && !grouping.labels.includes(label)) kept[label] = value;
        }
        metric = kept;
      }
      const group = groups.get(key);
      if (!group) {
        groups.set(key, { metric, value: sample.value, count: 1 });
        continue;
      }
      group.count++;
      const value = sample.value;
      if (op === "sum" || op === "avg") group.value += value;
      else if (op === "max" && (group.value < value || Number.isNaN(group.value))) group.value = value;
      else if (op === "min" && (group.value > value || Number.isNaN(group.value))) group.value = value;
    }
    const out: Sample[] = [];
    for (const group of groups.values()) {
      let value = group.value;
      if (op === "avg") value /= group.count;
      else if (op === "count") value = group.count;
      else if (op === "group") value = 1;
      out.push({ metric: group.metric, value });
    }
    return out;
  }

  private binary(node: Extract<Expr, { type: "binary" }>): Value {
    const lhs = this.eval(node.lhs);
    const rhs = this.eval(node.rhs);
    const { op, returnBool } = node;
    if (lhs.kind === "scalar" && rhs.kind === "scalar")
      return { kind: "scalar", value: operate(op, lhs.value, rhs.value) };
    if (lhs.kind === "vector" && rhs.kind === "vector") return this.vectorBinary(node, lhs.samples, rhs.samples);
    const comparison = isComparison(op);
    const vectorOnLeft = lhs.kind === "vector";
    const samples = this.vector(vectorOnLeft ? lhs : rhs);
    const scalar = this.scalar(vectorOnLeft ? rhs : lhs);
    const out: Sample[] = [];
    for (const sample of samples) {
      const value = vectorOnLeft ? operate(op, sample.value, scalar) : operate(op, scalar, sample.value);
      if (!comparison) out.push({ metric: dropName(sample.metric), value });
      else if (returnBool) out.push({ metric: dropName(sample.metric), value });
      // A comparison without bool filters, and the vector's own value is kept whichever side it is on.
      else if (value === 1) out.push(sample);
    }
    return { kind: "vector", samples: out };
  }

  private vectorBinary(node: Extract<Expr, { type: "binary" }>, lhs: Sample[], rhs: Sample[]): Value {
    const { op, matching, returnBool } = node;
    if (op === "and" || op === "unless") {
      const right = new Set(rhs.map((sample) => signature(sample.metric, matching)));
      const keep = op === "and";
      return { kind: "vector", samples: lhs.filter((s) => right.has(signature(s.metric, matching)) === keep) };
    }
    if (op === "or") {
      const left = new Set(lhs.map((sample) => signature(sample.metric, matching)));
      return { kind: "vector", samples: [...lhs, ...rhs.filter((s) => !left.has(signature(s.metric, matching)))] };
    }
    const right = new Map<string, Sample>();
    for (const sample of rhs) {
      const key = signature(sample.metric, matching);
      if (right.has(key)) {
        throw new QueryEvalError("found duplicate series for the match group on the right hand-side of the operation");
      }
      right.set(key, sample);
    }
    const comparison = isComparison(op);
    const seen = new Set<string>();
    const out: Sample[] = [];
    for (const sample of lhs) {
      const key = signature(sample.metric, matching);
      const other = right.get(key);
      if (!other) continue;
      if (seen.has(key)) throw new QueryEvalError("multiple matches for labels: many-to-one matching must be explicit");
      seen.add(key);
      const value = operate(op, sample.value, other.value);
      if (comparison && !returnBool && value !== 1) continue;
      let metric = comparison && !returnBool ? sample.metric : dropName(sample.metric);
      if (matching) metric = restrict(metric, matching);
      out.push({ metric, value: comparison && !returnBool ? sample.value : value });
    }
    return { kind: "vector", samples: out };
  }
}

/** One-to-one matching keeps only the `on` labels, or drops the `ignoring` ones. */
function restrict(metric: Metric, matching: VectorMatching): Metric {
  const kept: Record<string, string> = {};
  for (const [label, value] of Object.entries(metric)) {
    if (matching.labels.includes(label) === matching.on) kept[label] = value;
  }
  return kept;
}

function instantRate(view: RangeView, isRate: boolean): number | undefined {
  const { times, values, hi, lo } = view;
  if (hi - lo < 2) return undefined;
  const last = values[hi - 1] as number;
  const previous = values[hi - 2] as number;
  // irate after a reset takes the new value as the whole increase.
  const change = isRate && last < previous ? last : last - previous;
  if (!isRate) return change;
  const seconds = ((times[hi - 1] as number) - (times[hi - 2] as number)) / 1000;
  return seconds === 0 ? undefined : change / seconds;
}

function overTime(view: RangeView, fn: string): number {
  const { values, lo, hi } = view;
  if (fn === "count_over_time") return hi - lo;
  if (fn === "last_over_time") return values[hi - 1] as number;
  let acc = values[lo] as number;
  for (let i = lo + 1; i < hi; i++) {
    const value = values[i] as number;
    if (fn === "sum_over_time" || fn === "avg_over_time") acc += value;
    else if (fn === "max_over_time" && (value > acc || Number.isNaN(acc))) acc = value;
    else if (fn === "min_over_time" && (value < acc || Number.isNaN(acc))) acc = value;
  }
  return fn === "avg_over_time" ? acc / (hi - lo) : acc;
}

const MATH: Record<string, (value: number, args: number[]) => number> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  sqrt: Math.sqrt,
  exp: Math.exp,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  round: (value, [to = 1]) => Math.floor(value * (1 / to) + 0.5) / (1 / to),
  clamp: (value, [min = 0, max = 0]) => Math.max(min, Math.min(max, value)),
  clamp_min: (value, [min = 0]) => Math.max(min, value),
  clamp_max: (value, [max = 0]) => Math.min(max, value),
};
