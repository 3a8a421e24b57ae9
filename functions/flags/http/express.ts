// The flags HTTP core as an express app, for users who mount it in an express app of their own: one catch-all route.
import express, { type Express } from "express";
import { createFlagCore, DEFAULT_BODY_LIMIT_BYTES, type FlagCore, type FlagHttpOptions } from "./handler.ts";
import { listenerFromCore } from "./node.ts";

/** Serves the core through express: one catch-all route, no body parser (the core reads the body). */
export function expressFromCore(core: FlagCore, bodyLimitBytes = DEFAULT_BODY_LIMIT_BYTES): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const serve = listenerFromCore(core, bodyLimitBytes);
  app.use((req, res) => {
    void serve(req, res);
  });
  return app;
}

export function createFlagsApp(options: FlagHttpOptions): Express {
  return expressFromCore(createFlagCore(options), options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES);
}
