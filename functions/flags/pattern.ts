// `matches` patterns: RE2 syntax compiled by re2js, matched in time linear in the input (docs/FLAGS.md, "Pattern syntax").
/*
 * JavaScript's RegExp backtracks: `^(a|aa)+$` against forty-odd characters from an anonymous caller holds a server
 * for tens of seconds, and each more character multiplies that. RE2 has no constructs that need backtracking, so
 * every match is linear in the input. re2js is plain
 * JavaScript (no Node built-ins, no WebAssembly), so it runs in Node, Lambda and edge isolates alike; the measured
 * choice against re2-wasm is in docs/FLAGS.md and scripts/bench/patterns.ts.
 * The validator and the evaluator both call compilePattern, so a pattern accepted at write time is exactly one the
 * evaluator can run, and both explain a refusal in the same words.
 */
import { RE2JS, RE2JSSyntaxException } from "re2js";

/**
 * Largest compiled program accepted, in RE2 instructions. Linear time is program size x input length: a counted
 * repetition such as `[a-z]{1,249}` compiles to two instructions per count, and such programs are where the cost
 * per evaluation grows: on hostile 1,024-character text, up to 22 ms a match at 1,000 instructions (48 ms on a fresh
 * pattern), 5 ms at 500 (10 ms fresh), in scripts/bench/patterns.ts. Targeting patterns stay well below 100.
 */
export const MAX_PROGRAM = 500;

/** A compiled pattern; `test` searches anywhere in the text (anchor with `^` and `$`) and never throws. */
export interface Pattern {
  readonly source: string;
  /** The compiled program's size, in RE2 instructions. */
  readonly size: number;
  test(text: string): boolean;
}

/** `reason` reads after the quoted pattern: what is wrong, and what to write instead. */
export type PatternResult = { ok: true; pattern: Pattern } | { ok: false; reason: string };

const LINEAR = "RE2 syntax, matched in linear time";
const PERL = "invalid or unsupported Perl syntax";

/** The parser's error (kind and the offending text) in the words a flag author needs. */
function explainSyntax(kind: string, token: string): string {
  const quoted = `\`${token}\``;
  if (kind === "invalid escape sequence") {
    if (/^\\[1-9k]/.test(token)) {
      return `uses a backreference (${quoted}): backreferences are not supported (${LINEAR})`;
    }
    if (token === "\\Z") {
      return "uses \\Z, which RE2 does not accept (Python and PCRE read it as the end of the text); use $ or \\z";
    }
  }
  // The parser reports a lookahead as `(?=` but a lookbehind as a bad named group, with the rest of the pattern.
  const lookaround = /^\(\?<?[=!]/.exec(token)?.[0];
  if (lookaround !== undefined && (kind === PERL || kind === "invalid named capture")) {
    return `uses a lookaround (\`${lookaround}\`): lookahead and lookbehind are not supported (${LINEAR})`;
  }
  if (kind === PERL && token === "(?>") {
    return `uses an atomic group (${quoted}): atomic groups are not supported (RE2 syntax never backtracks: a plain (?:...) group is enough)`;
  }
  if (kind === "invalid nested repetition operator" && token.endsWith("+")) {
    return `uses a possessive quantifier (${quoted}): possessive quantifiers are not supported (RE2 syntax never backtracks: plain + and * are enough)`;
  }
  return `does not compile as RE2 syntax: ${kind}${token === "" ? "" : `: ${quoted}`}`;
}

function build(source: string): PatternResult {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(source);
  } catch (error) {
    if (error instanceof RE2JSSyntaxException) {
      return { ok: false, reason: explainSyntax(error.getDescription(), error.getPattern() ?? "") };
    }
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: `does not compile as RE2 syntax: ${detail}` };
  }
  const size = compiled.matcher("").programSize();
  if (size > MAX_PROGRAM) {
    return {
      ok: false,
      reason:
        `compiles to ${size.toLocaleString("en")} RE2 instructions, more than the ${MAX_PROGRAM.toLocaleString("en")} accepted ` +
        "(a counted repetition such as {1,300} costs two for every count); use +, * or a smaller count",
    };
  }
  const pattern: Pattern = {
    source,
    size,
    test(text) {
      try {
        return compiled.test(text);
      } catch {
        // re2js has not been seen to throw on any string; should it, a condition fails rather than a request.
        return false;
      }
    },
  };
  return { ok: true, pattern };
}

// Keyed by the pattern text, so a new snapshot of the rules, or the validator then the evaluator, compiles it once.
// Bounded, oldest use first out: an admin cycling through patterns cannot grow it.
const CACHE_SIZE = 256;
const cache = new Map<string, PatternResult>();

/** `source` compiled (once per distinct text, while it stays among the last CACHE_SIZE used), or why it cannot be. */
export function compilePattern(source: string): PatternResult {
  const cached = cache.get(source);
  if (cached !== undefined) {
    cache.delete(source);
    cache.set(source, cached);
    return cached;
  }
  const result = build(source);
  if (cache.size >= CACHE_SIZE) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(source, result);
  return result;
}
