// AWS Lambda entry of the admission webhooks: the webhook core behind API Gateway (REST v1 or HTTP API v2).

import { lambdaHandler } from "../functions/http/lambda.ts";
import type { HttpCore } from "../functions/http/message.ts";
import { createWebhookCore } from "./http/core.ts";
import { webhookSettingsFromEnv } from "./http/env.ts";

/**
 * The secret first path segment serverless.yml puts in front of every webhook route but /healthz (`/<secret>`).
 * API Gateway already answers 404 to any other path; the function checks again, so a route added by hand without
 * the segment does not open the webhook.
 */
export const PATH_PREFIX_ENV = "GREENLIGHT_WEBHOOK_PATH_PREFIX";

/** The one path served without the prefix: it answers {"status":"ok"} and nothing else. */
const OPEN_PATHS = new Set(["/healthz"]);

/** 16 characters or more, URL-safe: `openssl rand -hex 16` gives 32. Fewer could be guessed by a patient scanner. */
const PREFIX = /^\/[A-Za-z0-9_-]{16,128}$/;

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

/** The core behind `prefix`: `/<secret>/mutate` reaches it as `/mutate`; any other path but /healthz is 404. */
function behindPrefix(core: HttpCore, prefix: string): HttpCore {
  return async (request) => {
    const url = new URL(request.url);
    if (url.pathname.startsWith(`${prefix}/`)) {
      url.pathname = url.pathname.slice(prefix.length);
      return core({ ...request, url: url.href });
    }
    if (OPEN_PATHS.has(url.pathname)) return core(request);
    // The same answer as API Gateway's for a path it has no route for: nothing that tells the prefix exists.
    return {
      status: 404,
      headers: { "content-type": "application/json; charset=utf-8" },
      body: '{"message":"Not Found"}',
    };
  };
}

function coreFromEnv(env: Readonly<Record<string, string | undefined>>): HttpCore {
  const settings = webhookSettingsFromEnv(env);
  if (!settings.ok) return misconfigured(settings.message);
  const prefix = env[PATH_PREFIX_ENV]?.trim() ?? "";
  if (prefix === "") return createWebhookCore(settings.options);
  if (!PREFIX.test(prefix)) {
    // The value itself stays out of the message: it is the secret.
    return misconfigured(
      `${PATH_PREFIX_ENV} must be "/" and 16 to 128 letters, digits, "_" or "-" (serverless.yml sets it from ` +
        "--param webhookPathSecret=...; generate one with `openssl rand -hex 16`)",
    );
  }
  return behindPrefix(createWebhookCore(settings.options), prefix);
}

// Built once per container, outside the handler: warm invocations reuse the routes and the metrics registry. The
// webhook has no secret to fetch (its prefix is a deploy-time parameter, see serverless.yml), so nothing waits here.
export const handler = lambdaHandler(coreFromEnv(process.env));
