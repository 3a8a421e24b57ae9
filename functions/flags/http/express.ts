// The flag API mounted in express, for users who serve it inside an express app of their own: one catch-all route.
import type { Express } from "express";
import { expressFromCore } from "../../http/express.ts";
import { createFlagCore, DEFAULT_BODY_LIMIT_BYTES, type FlagHttpOptions } from "./handler.ts";

export const createFlagsApp = (options: FlagHttpOptions): Express =>
  expressFromCore(createFlagCore(options), { bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES });
