// Edge entry of the feature flags (Cloudflare Workers, Vercel Edge): the Web handler over the Upstash store.
/*
 * Imports nothing Node-only (no file store, no express): an isolate has no disk and no Node built-ins.
 * The handler is built once per isolate and reused, so its rule cache spares Upstash a call per request.
 */

import { type WebHandler, webHandler } from "../http/web.ts";
import type { Env } from "./env.ts";
import { upstashFlagCore } from "./env.ts";

/** Workers pass bindings (strings for vars and secrets, objects for KV and the like); only the strings matter here. */
export type EdgeBindings = Readonly<Record<string, unknown>>;

function stringsOf(bindings: EdgeBindings | undefined): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const [name, value] of Object.entries(bindings ?? {})) if (typeof value === "string") strings[name] = value;
  return strings;
}

/** Vercel Edge exposes variables on `process.env`; Workers (without nodejs_compat) have no `process` at all. */
function processEnv(): Env {
  const holder = globalThis as { process?: { env?: Env } };
  return holder.process?.env ?? {};
}

let handler: WebHandler | undefined;

/** Cloudflare names the client in CF-Connecting-IP; Vercel in X-Real-IP. Both platforms set them, clients cannot. */
const clientAddress = (request: Request): string | undefined =>
  request.headers.get("cf-connecting-ip") ?? request.headers.get("x-real-ip") ?? undefined;

export default {
  /** Workers call `fetch(request, env, ctx)`; Vercel Edge calls it with the request alone. */
  fetch(request: Request, bindings?: EdgeBindings): Promise<Response> {
    handler ??= webHandler(upstashFlagCore({ ...processEnv(), ...stringsOf(bindings) }), { clientAddress });
    return handler(request);
  },
};
