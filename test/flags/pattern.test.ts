// `matches` patterns: RE2 syntax in linear time, the refusals (with the field path at write), the inline flags, the
// compile cache, agreement with JavaScript's RegExp on the syntax both share, and no input that makes them throw.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileCondition } from "../../functions/flags/conditions.ts";
import { compileRuleSet, evaluateKey } from "../../functions/flags/evaluate.ts";
import { compilePattern, MAX_PROGRAM, type Pattern } from "../../functions/flags/pattern.ts";
import type { Condition, Flag } from "../../functions/flags/types.ts";
import { validateFlag } from "../../functions/flags/validate.ts";

function compiled(source: string): Pattern {
  const result = compilePattern(source);
  if (!result.ok) throw new Error(`${JSON.stringify(source)} was refused: ${result.reason}`);
  return result.pattern;
}

function refusal(source: string): string {
  const result = compilePattern(source);
  if (result.ok) throw new Error(`${JSON.stringify(source)} compiled`);
  return result.reason;
}

describe("linear time", () => {
  // A backtracking engine tries every way of splitting the a's between `a` and `aa` (about 1.6^n of them) before
  // the "!" fails the match: some 10^2000 at this size, never finishing. RE2 walks the text once. Should a
  // backtracking engine ever come back, this test hangs until vitest's timeout fails it; no clock is read here.
  const adversarial = `${"a".repeat(10_000)}!`;

  it("answers ^(a|aa)+$ against 10,000 a's and a '!'", () => {
    expect(compiled("^(a|aa)+$").test(adversarial)).toBe(false);
    expect(compiled("^(a|aa)+$").test("a".repeat(10_000))).toBe(true);
  });

  it.each(["^(x+x+)+y$", "^(a+)+$", "^(a|a?)+$", "^(.*a){12}$", "(\\w+\\s?)+$"])(
    "answers %s on hostile text",
    (source) => {
      expect(compiled(source).test(`${"a".repeat(5_000)}!`)).toBe(false);
    },
  );

  it("holds through a flag: an anonymous caller's long attribute cannot stall the evaluator", () => {
    const flag: Flag = {
      key: "redos",
      state: "partial",
      conditions: [{ attribute: "name", op: "matches", value: "^(a|aa)+$" }],
    };
    const set = compileRuleSet({
      version: 1,
      flags: { redos: { flag, revision: 1, updatedAt: "2026-01-01T00:00:00Z", updatedBy: "test" } },
    });
    expect(evaluateKey(set, "redos", { name: "a".repeat(1000) })).toMatchObject({ value: true });
    expect(evaluateKey(set, "redos", { name: `${"a".repeat(1000)}!` })).toMatchObject({ value: false });
  });
});

describe("syntax and flags", () => {
  it.each<[string, string, boolean]>([
    ["beta", "a beta tester", true], // a search anywhere, as RegExp#test
    ["^beta$", "a beta tester", false],
    ["beta", "BETA", false], // case-sensitive by default
    ["(?i)beta", "BETA", true], // (?i): case-insensitive for the whole pattern
    ["(?i:be)ta", "BEta", true], // (?i:...): for a group only
    ["(?i:be)ta", "beTA", false],
    ["^a.c$", "a\nc", false], // `.` stops at a newline...
    ["(?s)^a.c$", "a\nc", true], // ...unless (?s)
    ["^two$", "one\ntwo", false], // ^ and $ are the ends of the text...
    ["(?m)^two$", "one\ntwo", true], // ...or of each line with (?m)
    ["^v\\d+\\.\\d+$", "v12.4", true],
    ["^\\d+$", "١٢", false], // \d, \w, \s and \b are ASCII in RE2
    ["^\\pL+$", "Ünïcödé", true], // \pL and \p{Greek}: Unicode classes
    ["^\\p{Greek}+$", "αβγ", true],
    ["^[[:alpha:]]+$", "abc", true], // POSIX classes inside brackets
    ["^\\Q1+1=2\\E$", "1+1=2", true], // \Q...\E: literal text
    ["(?P<major>\\d+)\\.(?<minor>\\d+)", "2.10", true], // named groups, both spellings
    ["^\\x{1F600}$", "😀", true], // \x{...}: a code point (not \u)
    ["^.$", "😀", true], // `.` is one code point, never half a surrogate pair
    ["end\\z", "the end", true], // \z: the very end (\Z is refused)
  ])("%s against %j -> %s", (source, text, expected) => {
    expect(compiled(source).test(text)).toBe(expected);
  });

  it("compiles each distinct pattern once and reuses it", () => {
    const first = compilePattern("^cached-[0-9]+$");
    expect(compilePattern("^cached-[0-9]+$")).toBe(first);
    const refused = compilePattern("(cached");
    expect(compilePattern("(cached")).toBe(refused);
  });

  it("keeps no state between tests", () => {
    const pattern = compiled("^x");
    for (let round = 0; round < 3; round++) {
      expect(pattern.test("xy")).toBe(true);
      expect(pattern.test("yx")).toBe(false);
    }
  });
});

describe("refused patterns", () => {
  it.each<[string, string, string]>([
    ["a backreference", "(ab)\\1", "uses a backreference (`\\1`): backreferences are not supported (RE2 syntax"],
    ["a named backreference", "(?<x>a)\\k<x>", "uses a backreference (`\\k`)"],
    ["a lookahead", "^(?=.*@)", "uses a lookaround (`(?=`): lookahead and lookbehind are not supported"],
    ["a negative lookahead", "^(?!test)", "uses a lookaround (`(?!`)"],
    ["a lookbehind", "(?<=@)example", "uses a lookaround (`(?<=`)"],
    ["a negative lookbehind", "(?<!x)y", "uses a lookaround (`(?<!`)"],
    ["a possessive quantifier", "a*+b", "uses a possessive quantifier (`*+`)"],
    ["an atomic group", "(?>a|ab)c", "uses an atomic group (`(?>`)"],
    ["\\Z", "done\\Z", "uses \\Z, which RE2 does not accept"],
    ["an unclosed group", "(ab", "does not compile as RE2 syntax: missing closing ): `(ab`"],
    ["JavaScript's \\u escape", "\\u00e9", "does not compile as RE2 syntax: invalid escape sequence: `\\u`"],
    ["a comment group", "a(?#note)", "invalid or unsupported Perl syntax: `(?#`"],
    ["a repeat count above 1000", "x{1001}", "invalid repeat count: `{1001}`"],
    ["nested counts above 1000", "(x{40}){40}", "invalid repeat count"],
  ])("%s", (_what, source, reason) => {
    expect(refusal(source)).toContain(reason);
  });

  it(`refuses a program of more than ${MAX_PROGRAM} instructions, and accepts one at the limit`, () => {
    expect(compiled("\\pL{1,249}").size).toBe(MAX_PROGRAM - 1);
    expect(refusal("\\pL{1,250}")).toMatch(/^compiles to 501 RE2 instructions, more than the 500 accepted/);
  });

  it("refuses them at write, at the condition's JSON Pointer, saying why and what is accepted", () => {
    const conditions: Condition[] = [
      { attribute: "email", op: "matches", value: "@example\\.com$" },
      { attribute: "name", op: "matches", value: "^(\\w)\\1" },
      { attribute: "path", op: "matches", value: "(?<!/admin)/settings" },
    ];
    const result = validateFlag({ key: "patterns", state: "partial", conditions });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((problem) => problem.path)).toEqual(["/conditions/1/value", "/conditions/2/value"]);
    const [backreference, lookbehind] = result.problems.map((problem) => problem.message);
    expect(backreference).toBe(
      '"^(\\\\w)\\\\1" uses a backreference (`\\1`): backreferences are not supported (RE2 syntax, matched in linear ' +
        "time); use an RE2 regular expression of up to 256 characters, as a string (no backreferences or lookaround; " +
        "(?i) for case-insensitive)",
    );
    expect(lookbehind).toContain("uses a lookaround (`(?<!`): lookahead and lookbehind are not supported");
  });

  it("fails a stored flag whose pattern RE2 refuses, naming the condition (the flag answers GENERAL)", () => {
    expect(() => compileCondition({ attribute: "a", op: "matches", value: "x(?=y)" })).toThrow(
      /^value: "x\(\?=y\)" uses a lookaround/,
    );
  });
});

describe("agreement with JavaScript's RegExp on the syntax both share", () => {
  // Literals, classes, groups, alternation and quantifiers over ASCII text without line breaks: what targeting
  // patterns written for the old JavaScript evaluator mostly are, so such flags keep their meaning.
  const piece = fc.constantFrom(
    "a",
    "b",
    "ab",
    "[a-c]",
    "[^b]",
    "\\d",
    "\\w",
    "\\.",
    ".",
    "(a|b)",
    "(?:ab|c)",
    "a?",
    "b*",
    "c+",
    "[0-9]{1,3}",
    "-",
    "\\b",
  );
  const source = fc
    .tuple(fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 8 }), fc.boolean())
    .map(([start, pieces, end]) => `${start ? "^" : ""}${pieces.join("")}${end ? "$" : ""}`);
  const text = fc.string({ unit: fc.constantFrom(..."abc012.-_ X"), maxLength: 24 });

  it("gives the same answer", () => {
    fc.assert(
      fc.property(source, text, (pattern, input) => {
        expect(compiled(pattern).test(input)).toBe(new RegExp(pattern, "u").test(input));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("never throws", () => {
  it("compiling any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 64 }), (source) => {
        const result = compilePattern(source);
        expect(typeof result.ok).toBe("boolean");
      }),
      { numRuns: 3000 },
    );
  });

  it("testing any text, lone surrogates included", () => {
    const patterns = ["^a", "b+$", "(x|y)z", ".*", "(?i)ü", "^.$", "\\pL", "(?s).+"].map(compiled);
    fc.assert(
      fc.property(fc.constantFrom(...patterns), fc.string({ unit: "binary", maxLength: 64 }), (pattern, input) => {
        expect(typeof pattern.test(input)).toBe("boolean");
      }),
      { numRuns: 3000 },
    );
  });
});
