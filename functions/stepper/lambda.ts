// The scheduled Lambda: one stepper pass per invocation (EventBridge `rate(1 minute)`), stopping new work in time.

import type { Env } from "../contract/settings.ts";
import { NOTIFY_SECRETS } from "../notify/env.ts";
import { resolveSecrets } from "../secrets/resolve.ts";
import { eksClusterFromEnv, type StepperOptions, type StepperSetup, stepperSetupFromEnv } from "./config.ts";
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
 * (no 4 KB environment limit there) and, when it carries credentials, the Prometheus URL from SSM. On EKS the
 * kubeconfig's name is not given (serverless.yml leaves it out), so nothing is fetched for it.
 */
export const STEPPER_SECRETS = [
  "GREENLIGHT_KUBECONFIG",
  "PROMETHEUS_URL",
  // The flag store, for guarded flag rollouts (as the flag function reads it).
  "UPSTASH_REDIS_REST_TOKEN",
  ...NOTIFY_SECRETS,
] as const;

export interface StepperHandlerOptions {
  /** The function's environment, read at each build (the role's credentials are in it); default process.env. */
  env?: () => Env;
  /** The clock the EKS token is signed and renewed by; default the system's. */
  now?: () => Date;
}

export type StepperHandler = (event: unknown, context?: ScheduledContext) => Promise<RunReport>;

/**
 * A handler with its own instance state: clients and settings built at its first pass once its secrets are fetched,
 * then reused. With a kubeconfig they are kept for the life of the instance. On EKS they carry a token that expires
 * 15 minutes after it is signed, so they are built again, with a new token, at the first pass after the token's
 * renewal time (10 minutes): a warm instance never sends an expired token. A pass that cannot get them fails (the
 * on-failure queue and the alarm see it) and the next pass asks again.
 */
function instanceOptions(handlerOptions: StepperHandlerOptions): () => Promise<StepperOptions> {
  const readEnv = handlerOptions.env ?? (() => process.env);
  const now = handlerOptions.now ?? (() => new Date());
  let setup: StepperSetup | undefined;
  return async () => {
    const at = now();
    const due = setup?.renewAt !== undefined && at.getTime() >= setup.renewAt.getTime();
    if (setup === undefined || due) {
      const env = readEnv();
      // Before any fetch: a kubeconfig secret named next to the EKS settings is a mistake to report as such, not a
      // fetch the role is not allowed to make.
      eksClusterFromEnv(env);
      const resolved = await resolveSecrets(env, STEPPER_SECRETS);
      setup = stepperSetupFromEnv(resolved, { inlineOnly: true, now: at });
    }
    return setup.options;
  };
}

/** A handler with instance state of its own (a test makes several, each with its environment and clock). */
export function createStepperHandler(handlerOptions: StepperHandlerOptions = {}): StepperHandler {
  const runOptions = instanceOptions(handlerOptions);
  return (_event, context) => pass(runOptions, context);
}

/** The function's entry: the instance's handler, over process.env and the system clock. */
export const handler: StepperHandler = createStepperHandler();

async function pass(runOptions: () => Promise<StepperOptions>, context: ScheduledContext = {}): Promise<RunReport> {
  let ready: StepperOptions;
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
      ...(report.flags || report.flagsError
        ? {
            flags: report.flags?.map(({ key, action, phase, share, reason }) => ({
              key,
              action,
              phase,
              share,
              reason,
            })),
            flagsError: report.flagsError,
          }
        : {}),
      ...(report.notifications
        ? {
            notifications: {
              sent: report.notifications.sent,
              failed: report.notifications.failed,
              dropped: report.notifications.dropped,
            },
          }
        : {}),
      error: report.error,
    }),
  );
  if (report.error) throw new Error(report.error);
  return report;
}
