// A timeline as plain text, for a counterexample the campaign or a test prints: the scenario, then one line a pass.
import type { TimelineResult } from "./timeline.ts";

/** `mm:ss` since the timeline's first pass. */
export const clock = (seconds: number): string =>
  `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(Math.round(seconds % 60)).padStart(2, "0")}`;

export function describeTimeline(result: TimelineResult, limit = 160): string {
  const { scenario } = result;
  const lines = [
    `scenario ${JSON.stringify({ ...scenario, stable: undefined })}`,
    ...result.passes.map((pass) => {
      const canary = pass.canary;
      const weights = canary?.weights ? `${canary.weights.stable}/${canary.weights.canary}` : "-";
      const what = canary?.problem ?? canary?.events[0]?.message ?? "";
      const actions = pass.actions.length > 0 ? ` [${pass.actions.join("; ")}]` : "";
      return `${clock(pass.atSeconds)}${actions} ${canary?.outcome ?? "no canary"} ${canary?.phase ?? "-"} ${weights} ${what}`.slice(
        0,
        limit,
      );
    }),
    ...result.violations.map(
      (violation) => `VIOLATION ${violation.invariant} at ${clock(violation.atSeconds)}: ${violation.message}`,
    ),
  ];
  return lines.join("\n");
}
