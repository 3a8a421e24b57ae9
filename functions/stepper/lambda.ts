// The scheduled Lambda: one stepper pass per invocation (EventBridge `rate(1 minute)`), stopping new work in time.

import { resolveSecrets } from "../secrets/resolve.ts";
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

/**
 * The variables serverless.yml gives by name (`X_SECRET` / `X_PARAMETER`): the kubeconfig from Secrets Manager
 * (no 4 KB environment limit there) and, when it carries credentials, the Prometheus URL from SSM.
 */
export const STEPPER_SECRETS = ["GREENLIGHT_KUBECONFIG", "PROMETHEUS_URL"] as const;

let options: ReturnType<typeof runOptionsFromEnv> | undefined;

/**
 * Clients and settings, built at the first pass of the instance once its secrets are fetched, then reused. A pass
 * that cannot get them fails (the on-failure queue and the alarm see it) and the next pass asks again.
 */
async function runOptions(): Promise<ReturnType<typeof runOptionsFromEnv>> {
  if (options === undefined) {
    const env = await resolveSecrets(process.env, STEPPER_SECRETS);
    options = runOptionsFromEnv(env, { inlineOnly: true });
  }
  return options;
}

export async function handler(_event: unknown, context: ScheduledContext = {}): Promise<RunReport> {
  let ready: ReturnType<typeof runOptionsFromEnv>;
  try {
    ready = await runOptions();
  } catch (error) {
    // The same JSON line as a pass, so one Logs Insights query finds every failed pass, whatever failed.
    console.log(JSON.stringify({ msg: "greenlight step", error: (error as Error).message }));
    throw error;
  }
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  const report = await runStep({ ...ready, deadline: new Date(Date.now() + remaining - DEADLINE_MARGIN_MS) });
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
