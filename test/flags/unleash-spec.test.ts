// The Unleash client specification's isEnabled cases, run through importUnleashFeatures and the greenlight evaluator.
/*
 * Every file listed in the specification's index.json is imported as a whole. A case runs when its toggle was
 * imported, or when the Unleash state does not define the toggle at all; it is skipped only when the adapter
 * skipped its toggle (counted by reason). No case is picked by hand.
 *
 * How a greenlight result is read as Unleash's boolean:
 * - a success: its value, which must be a boolean;
 * - FLAG_NOT_FOUND for a toggle the Unleash state does not define: false (Unleash answers its fallback, false);
 * - any other failure, TARGETING_KEY_MISSING included: a failed case, never a quiet false.
 * The context is converted with the stickiness the import reports for the flag; `now` is the case's currentTime if
 * it has one (Unleash reads the time from there), else the wall clock.
 * variantTests are not run: the import skips every feature with variants (functions/flags/unleash.ts says why).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileRuleSet, evaluateKey } from "../../functions/flags/evaluate.ts";
import { isFailure, type RuleSet } from "../../functions/flags/types.ts";
import {
  importUnleashFeatures,
  type UnleashContext,
  unleashContextToEvaluation,
} from "../../functions/flags/unleash.ts";

/** Measured on @unleash/client-specification 6.1.0: raise it when the import learns more, never lower it quietly. */
const RUN_FLOOR = 131;

interface SpecCase {
  description: string;
  context: UnleashContext;
  toggleName: string;
  expectedResult: boolean;
}

interface SpecFile {
  name: string;
  state: unknown;
  tests?: SpecCase[];
  variantTests?: unknown[];
}

type CaseResult = { status: "passed" } | { status: "failed"; why: string } | { status: "skipped"; reason: string };

interface FileResult {
  file: string;
  cases: Array<{ test: SpecCase; result: CaseResult }>;
}

const specDir = join(
  dirname(createRequire(import.meta.url).resolve("@unleash/client-specification/package.json")),
  "specifications",
);
const specFiles = JSON.parse(readFileSync(join(specDir, "index.json"), "utf8")) as string[];

/** Toggle names the Unleash state defines in the end: a full response's features, or a delta's events replayed. */
function definedToggles(state: unknown): Set<string> {
  const names = new Set<string>();
  const record = state as { features?: Array<{ name: string }>; events?: Array<Record<string, unknown>> };
  for (const feature of record.features ?? []) names.add(feature.name);
  for (const event of record.events ?? []) {
    if (event.type === "hydration") {
      names.clear();
      for (const feature of event.features as Array<{ name: string }>) names.add(feature.name);
    } else if (event.type === "feature-updated") {
      names.add((event.feature as { name: string }).name);
    } else if (event.type === "feature-removed") {
      names.delete(event.featureName as string);
    }
  }
  return names;
}

function runFile(file: string): FileResult {
  const spec = JSON.parse(readFileSync(join(specDir, file), "utf8")) as SpecFile;
  const imported = importUnleashFeatures(spec.state);
  const skippedReasons = new Map(imported.skipped.map((skip) => [skip.name, skip.reason]));
  const inputProblem = skippedReasons.get("(input)");
  const defined = definedToggles(spec.state);
  const ruleSet: RuleSet = { version: 1, flags: {} };
  for (const flag of imported.flags) {
    ruleSet.flags[flag.key] = { flag, revision: 1, updatedAt: "2025-01-01T00:00:00Z", updatedBy: "unleash-spec" };
  }
  const compiled = compileRuleSet(ruleSet);

  const cases = (spec.tests ?? []).map((test) => {
    const toggle = test.toggleName;
    const reason = inputProblem ?? skippedReasons.get(toggle);
    if (reason !== undefined) return { test, result: { status: "skipped", reason } as CaseResult };
    const isImported = Object.hasOwn(ruleSet.flags, toggle);
    if (!isImported && defined.has(toggle)) {
      return { test, result: { status: "failed", why: "neither imported nor skipped" } as CaseResult };
    }
    const context = unleashContextToEvaluation(test.context, imported.stickiness[toggle]);
    const currentTime = test.context.currentTime;
    const now = typeof currentTime === "string" ? Date.parse(currentTime) : Date.now();
    const evaluation = evaluateKey(compiled, toggle, context, now);
    let value: unknown;
    if (isFailure(evaluation)) {
      if (evaluation.errorCode !== "FLAG_NOT_FOUND" || defined.has(toggle)) {
        const why = `${evaluation.errorCode}: ${evaluation.errorDetails}`;
        return { test, result: { status: "failed", why } as CaseResult };
      }
      value = false;
    } else {
      value = evaluation.value;
    }
    const result: CaseResult =
      value === test.expectedResult
        ? { status: "passed" }
        : { status: "failed", why: `greenlight ${JSON.stringify(value)}, Unleash ${test.expectedResult}` };
    return { test, result };
  });
  return { file, cases };
}

/** A short name for a skip reason, for the summary line. */
function category(reason: string): string {
  const rules: Array<[RegExp, string]> = [
    [/^variants:/, "variants"],
    [/^dependencies:/, "dependencies"],
    [/\/key: .* is not a flag key/, "name not a flag key"],
    [/ (REGEX|IN_CIDR|SEMVER_GTE|SEMVER_LTE) on /, "$1"],
    [/ remoteAddress: /, "remoteAddress strategy"],
    [/NOT_IN also holds when/, "NOT_IN on a field that may be missing"],
    [/caseInsensitive/, "caseInsensitive"],
    [/\(inverted\)/, "inverted"],
    [/which the input does not define/, "undefined segment"],
    [/not an operator greenlight knows/, "unknown operator"],
    [/strategies can each enable it/, "several strategies"],
  ];
  for (const [pattern, name] of rules) {
    const match = pattern.exec(reason);
    if (match !== null) return name.replace("$1", match[1] ?? "");
  }
  return reason;
}

const results = specFiles.map(runFile);
const allCases = results.flatMap((file) => file.cases.map((entry) => ({ file: file.file, ...entry })));

describe("Unleash client specification", () => {
  it("lists the specification files", () => {
    expect(specFiles.length).toBeGreaterThanOrEqual(20);
  });

  it.each(results)("$file: every case that runs answers as Unleash does", ({ cases }) => {
    const failed = cases.flatMap(({ test, result }) =>
      result.status === "failed" ? [`${test.toggleName} ${JSON.stringify(test.context)}: ${result.why}`] : [],
    );
    expect(failed).toEqual([]);
  });

  it("runs at least the measured number of cases, and skips only toggles the import skipped", () => {
    const run = allCases.filter(({ result }) => result.status !== "skipped");
    const skipped = allCases.flatMap(({ result }) => (result.status === "skipped" ? [category(result.reason)] : []));
    const counts = new Map<string, number>();
    for (const name of skipped) counts.set(name, (counts.get(name) ?? 0) + 1);
    const byReason = [...counts]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([name, count]) => `${name} ${count}`)
      .join(", ");
    console.log(
      `unleash-spec: run ${run.length} of ${allCases.length} isEnabled cases (${skipped.length} skipped: ${byReason})`,
    );
    expect(run.every(({ result }) => result.status === "passed")).toBe(true);
    expect(run.length).toBeGreaterThanOrEqual(RUN_FLOOR);
    expect(run.length + skipped.length).toBe(allCases.length);
  });

  it("reaches every kind of case: imported toggles, unknown toggles and skipped toggles", () => {
    const ran = allCases.filter(({ result }) => result.status === "passed");
    // Both answers occur, so a constant evaluator could not pass.
    expect(ran.some(({ test }) => test.expectedResult)).toBe(true);
    expect(ran.some(({ test }) => !test.expectedResult)).toBe(true);
    expect(allCases.some(({ result }) => result.status === "skipped")).toBe(true);
  });
});
