// The webhook core mounted in express, for callers that want an express app (`.listen()`, mounting).
import type { Express } from "express";
import { expressFromCore } from "../../functions/http/express.ts";
import { createWebhookCore, DEFAULT_BODY_LIMIT_BYTES, type WebhookAppOptions } from "./core.ts";

export function createWebhookApp(options: WebhookAppOptions = {}): Express {
  return expressFromCore(createWebhookCore(options), {
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
  });
}
