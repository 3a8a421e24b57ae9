// The flag API as a plain Node request listener: what `greenlight flags serve` and the local stack run (no express).
import { type NodeListener, nodeListener } from "../../http/node.ts";
import { createFlagCore, DEFAULT_BODY_LIMIT_BYTES, type FlagHttpOptions } from "./handler.ts";

export const createFlagsListener = (options: FlagHttpOptions): NodeListener =>
  nodeListener(createFlagCore(options), { bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES });
