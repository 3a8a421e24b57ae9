// An HttpCore mounted in an express app, for users who serve greenlight inside an express app of their own.
import express, { type Express } from "express";
import type { HttpCore } from "./message.ts";
import { type NodeAdapterOptions, nodeListener } from "./node.ts";

/** One catch-all route and no body parser (the core reads the body); express's ETag and X-Powered-By are off. */
export function expressFromCore(core: HttpCore, options: NodeAdapterOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const serve = nodeListener(core, options);
  app.use((req, res) => serve(req, res));
  return app;
}
