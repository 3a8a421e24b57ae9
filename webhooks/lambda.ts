// AWS Lambda entry of the admission webhooks: the webhook core behind API Gateway (REST v1 or HTTP API v2).
import { lambdaHandler } from "../functions/http/lambda.ts";
import { createWebhookCore } from "./http/core.ts";

// Built once per container, outside the handler: warm invocations reuse the routes and the metrics registry.
export const handler = lambdaHandler(
  createWebhookCore({ onError: process.env.GREENLIGHT_ON_ERROR === "deny" ? "deny" : "allow" }),
);
