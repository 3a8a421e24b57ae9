// The scheduled Lambda: one stepper pass per invocation (EventBridge `rate(1 minute)`), stopping new work in time.

import { runOptionsFromEnv } from "./config.ts";
import type { RunReport } from "./run.ts";
import { runStep } from "./run.ts";

/**
 * Time kept back from the Lambda's limit: work already started finishes, nothing new starts. A blue/green switch
 * with its smoke retries and endpoint verification takes up to ~25 s (SCHEDULED_BLUE_GREEN_TIMING), and must never
 * be cut off between the switch and its check.
 */
export const DEADLINE_MARGIN_MS = 30_000;

interface ScheduledContext {
  getRemainingTimeInMillis?: () => number;
}

let options: ReturnType<typeof runOptionsFromEnv> | undefined;

export async function handler(_event: unknown, context: ScheduledContext = {}): Promise<RunReport> {
  options ??= runOptionsFromEnv(process.env, { inlineOnly: true });
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  const report = await runStep({ ...options, deadline: new Date(Date.now() + remaining - DEADLINE_MARGIN_MS) });
  // One JSON line per run: CloudWatch Logs Insights can query it.
  console.log(
    JSON.stringify({
      msg: "greenlight step",
      startedAt: report.startedAt,
      canaries: report.canaries.map(({ namespace, deployment, phase, weights, outcome, problem }) => ({
        namespace,
        deployment,
        phase,
        weights,
        outcome,
        problem,
      })),
      blueGreen: report.blueGreen.map(({ namespace, service, deployment, from, to, outcome, message }) => ({
        namespace,
        service,
        deployment,
        from,
        to,
        outcome,
        message,
      })),
      rolling: report.rolling.map(({ namespace, deployment, phase, outcome, message }) => ({
        namespace,
        deployment,
        phase,
        outcome,
        message,
      })),
      deferred: report.deferred.length,
      error: report.error,
    }),
  );
  if (report.error) throw new Error(report.error);
  return report;
}
