// What the usage suites share (usage.test.ts on the memory store, usage.upstash.test.ts on real Redis): requests to
// the flags core, and the counts they expect, tallied from the evaluator's own results.
import { type EvaluationResult, isFailure } from "../../functions/flags/types.ts";
import { errorVariant } from "../../functions/flags/usage.ts";
import type { HttpRequest } from "../../functions/http/message.ts";

export const BULK = "/ofrep/v1/evaluate/flags";

/** A JSON POST to the flags core, with any extra headers. */
export function post(path: string, body: unknown, headers: Record<string, string> = {}): HttpRequest {
  const all = new Map<string, string>([["content-type", "application/json"], ...Object.entries(headers)]);
  return {
    method: "POST",
    url: `http://localhost${path}`,
    headers: { get: (name) => all.get(name.toLowerCase()) ?? null },
    bodyBytes: new TextEncoder().encode(JSON.stringify(body)),
  };
}

export const get = (path: string): HttpRequest => ({
  method: "GET",
  url: `http://localhost${path}`,
  headers: { get: () => null },
});

/** Counts as the store reports them: flag -> variant -> evaluations. */
export type Tally = Record<string, Record<string, number>>;

/** Adds a result `times` times under its outcome (its variant, or `error:<code>`); unknown flags are not counted. */
export function tally(into: Tally, result: EvaluationResult, times = 1): void {
  if (isFailure(result) && result.errorCode === "FLAG_NOT_FOUND") return;
  const variants = into[result.key] ?? {};
  into[result.key] = variants;
  const outcome = isFailure(result) ? errorVariant(result.errorCode) : result.variant;
  variants[outcome] = (variants[outcome] ?? 0) + times;
}
