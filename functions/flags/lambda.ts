// AWS Lambda entry of the feature flags: the flag core behind API Gateway, Upstash store.
/*
 * Usage counts (env.ts turns them on, GREENLIGHT_FLAGS_USAGE_FLUSH): no invocation waits for a flush. API Gateway
 * gets its answer when the handler's promise settles, so a flush awaited in the invocation's tail would delay every
 * answer that started one. Instead the flush starts from a timer task once the answer is out (cache.ts); Lambda
 * may freeze the instance before or during it, and then it carries on when the instance thaws for its next
 * invocation: it lands late (its evaluations keep their own time) or, past the Upstash deadline, fails and is
 * dropped. Counts still in memory when an instance is retired are lost; docs/FLAGS.md, Usage counts, says so.
 */

import type { Env } from "../contract/settings.ts";
import { lambdaHandler } from "../http/lambda.ts";
import type { HttpCore } from "../http/message.ts";
import { NOTIFY_SECRETS, notifierFromEnv } from "../notify/env.ts";
import { notifyingStore } from "../notify/flags.ts";
import { resolveSecrets } from "../secrets/resolve.ts";
import { upstashFlagCore } from "./env.ts";
import { createUnavailableCore } from "./http/handler.ts";
import { isRolloutHold } from "./rollout/plan.ts";
import type { FlagStore } from "./types.ts";

/**
 * The variables serverless.yml may give by name (`X_PARAMETER` / `X_SECRET`) rather than by value: fetched at the
 * first request, then kept for the life of the instance (functions/secrets).
 */
export const FLAG_SECRETS = [
  "UPSTASH_REDIS_REST_TOKEN",
  "GREENLIGHT_ADMIN_TOKEN",
  "GREENLIGHT_ADMIN_TOKENS",
  "GREENLIGHT_FLAGS_API_KEY",
  ...NOTIFY_SECRETS,
] as const;

/** Flag writes notify the environment's receivers, when it names any (a bad setting answers 503, as others do). */
const notifying = (env: Env) => (store: FlagStore) => {
  const notifier = notifierFromEnv(env);
  return notifier ? notifyingStore(store, notifier, { quiet: isRolloutHold }) : store;
};

let built: Promise<HttpCore> | undefined;

/**
 * The core, built once per container after its secrets arrive; warm invocations reuse it and its rule cache (one
 * store call per TTL). A secret that cannot be fetched makes the request answer 503 with the reason (never a value),
 * and is asked for again at the next request rather than failing the instance for good.
 */
function core(): Promise<HttpCore> {
  built ??= resolveSecrets(process.env, FLAG_SECRETS).then(
    (env) => upstashFlagCore(env, { wrapStore: notifying(env) }),
    (error: unknown) => {
      built = undefined;
      const message = `flags are misconfigured: ${(error as Error).message}`;
      console.error(`greenlight flags: ${message}`);
      return createUnavailableCore(message);
    },
  );
  return built;
}

export const handler = lambdaHandler(async (request) => (await core())(request));
