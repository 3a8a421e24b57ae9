// One window of a guarded rollout read from Prometheus: the builtin comparisons' counts and histograms per side, and
// the custom checks' values. Never throws: a failed query makes the window (or the check) unreadable, with the reason.
//
// The builtin window is read as the canary's is (functions/judge/read.ts); its reader is the shape of the canary's
// MetricsReader, so the Prometheus adapter the stepper builds (functions/canary/prometheus.ts) is one, and so is a
// test's fake (feature flags import nothing of the strategies: .dependency-cruiser.cjs, flags-stand-alone).
import { type MetricsReader, queryValues, readVersions } from "../../judge/read.ts";
import type { CustomValue } from "./checks.ts";
import type { ResolvedPlan, RolloutReadings, RolloutWindow } from "./plan.ts";
import type { RolloutQueries } from "./queries.ts";

const STALE =
  "no request sample newer than the freshness limit (no traffic on this side yet, or Prometheus late or down)";

/** A custom check's value: the worst of its series (the highest under max, the lowest under min). */
async function customValue(reader: MetricsReader, promql: string, comparison: "max" | "min"): Promise<CustomValue> {
  const answer = await queryValues(reader, promql);
  if (typeof answer === "string") return { outcome: "error", detail: answer };
  if (answer.length === 0) return { outcome: "no-data", detail: "empty result" };
  const bad = answer.find((value) => !Number.isFinite(value));
  if (bad !== undefined) return { outcome: "no-data", detail: `Prometheus returned ${bad}` };
  return comparison === "max" ? Math.max(...answer) : Math.min(...answer);
}

/** Everything one judgement needs: the builtin window (when the plan has a builtin check) and every custom value. */
export async function readRollout(
  reader: MetricsReader,
  plan: Pick<ResolvedPlan, "checks">,
  queries: RolloutQueries,
): Promise<RolloutReadings> {
  const builtins = plan.checks.some((check) => check.kind !== "custom");
  const readWindow = async (): Promise<RolloutWindow | { error: string }> => {
    if (!builtins) return { error: "no builtin check" };
    const window = await readVersions(
      reader,
      { name: "treatment", queries: queries.treatment },
      { name: "control", queries: queries.control },
      STALE,
    );
    return "error" in window ? window : { treatment: window.canary, control: window.stable };
  };
  const customs = plan.checks.flatMap((check) => (check.kind === "custom" ? [check] : []));
  const [window, ...custom] = await Promise.all([
    readWindow(),
    ...customs.map((check) => customValue(reader, queries.custom[check.name] ?? "", check.comparison)),
  ]);
  return {
    window: window as RolloutWindow | { error: string },
    custom: Object.fromEntries(customs.map((check, index) => [check.name, custom[index] as CustomValue])),
  };
}
