// The webhook listener mounted in express, for callers that want an express app (`.listen()`, mounting).
import express, { type Express } from "express";
import { createWebhookListener, type WebhookAppOptions } from "./app.ts";

export function createWebhookApp(options: WebhookAppOptions = {}): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const listener = createWebhookListener(options);
  app.use((req, res) => listener(req, res));
  return app;
}
