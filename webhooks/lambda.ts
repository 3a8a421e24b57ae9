// AWS Lambda entry of the admission webhooks: the webhook core behind API Gateway (REST v1 or HTTP API v2).

import { lambdaHandler } from "../functions/http/lambda.ts";
import type { HttpCore } from "../functions/http/message.ts";
import { createWebhookCore } from "./http/core.ts";
import { webhookSettingsFromEnv } from "./http/env.ts";

/**
 * A misconfigured function answers every request 500 with the reason rather than guessing (a misspelt
 * GREENLIGHT_ON_ERROR must not quietly mean allow): the API server logs the message and applies the
 * webhook's failurePolicy, and the function's logs say the same once.
 */
function misconfigured(message: string): HttpCore {
  console.error(`greenlight webhook: ${message}`);
  const body = JSON.stringify({ error: `the webhook is misconfigured: ${message}` });
  return async () => ({ status: 500, headers: { "content-type": "application/json; charset=utf-8" }, body });
}

// Built once per container, outside the handler: warm invocations reuse the routes and the metrics registry.
const settings = webhookSettingsFromEnv(process.env);
export const handler = lambdaHandler(
  settings.ok ? createWebhookCore(settings.options) : misconfigured(settings.message),
);
