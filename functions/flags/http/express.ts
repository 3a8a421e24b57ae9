// The flags HTTP core as an express app, for `greenlight flags serve` and the local stack: one catch-all listener.
import express, { type Express } from "express";
import { createFlagHandler, DEFAULT_BODY_LIMIT_BYTES, type FlagHandler, type FlagHttpOptions } from "./handler.ts";
import { listenerFromHandler } from "./node.ts";

/** Serves `handle` through express: one catch-all route, no body parser (the core reads the body). */
export function expressFromHandler(handle: FlagHandler, bodyLimitBytes = DEFAULT_BODY_LIMIT_BYTES): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const serve = listenerFromHandler(handle, bodyLimitBytes);
  app.use((req, res) => {
    void serve(req, res);
  });
  return app;
}

export function createFlagsApp(options: FlagHttpOptions): Express {
  return expressFromHandler(createFlagHandler(options), options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES);
}
