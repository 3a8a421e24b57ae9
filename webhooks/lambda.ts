// AWS Lambda entry of the admission webhooks: the webhook listener behind API Gateway (REST v1 or HTTP API v2) via serverless-http.
import { lambdaHandler } from "../functions/lambda/serverless.ts";
import { createWebhookListener } from "./http/app.ts";

// Built once per container, outside the handler: warm invocations reuse the routes and the metrics registry.
export const handler = lambdaHandler(
  createWebhookListener({ onError: process.env.GREENLIGHT_ON_ERROR === "deny" ? "deny" : "allow" }),
);
