// Edge entry of the feature flags (Cloudflare Workers; Vercel Edge through ./vercel.ts): OFREP evaluation and
// health over the Upstash store, without the admin API.
/*
 * Imports nothing Node-only (no file store, no express) and nothing of the admin API (no admin.ts, validate.ts or
 * tokens.ts): what serves frontends only evaluates (edge-env.ts, http/ofrep-core.ts). Flags are written through the
 * Lambda's or `greenlight flags serve`'s admin API, or the CLI, into the same Upstash database.
 * The handler is built once per isolate and reused, so its rule cache spares Upstash a call per request.
 * Cloudflare: functions/flags/wrangler.jsonc deploys this file (`main`); test/edge/ runs what wrangler builds of it.
 */

import type { Env } from "../contract/settings.ts";
import { type WebAdapterOptions, type WebHandler, webHandler } from "../http/web.ts";
import { edgeCoreFromEnv } from "./edge-env.ts";
import type { UsageOptions } from "./usage.ts";

/** Workers pass bindings (strings for vars and secrets, objects for KV and the like); only the strings matter here. */
export type EdgeBindings = Readonly<Record<string, unknown>>;

function stringsOf(bindings: EdgeBindings | undefined): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const [name, value] of Object.entries(bindings ?? {})) if (typeof value === "string") strings[name] = value;
  return strings;
}

/** Vercel Edge exposes variables on `process.env`; Workers (without nodejs_compat) have no `process` at all. */
export function processEnv(): Env {
  const holder = globalThis as { process?: { env?: Env } };
  return holder.process?.env ?? {};
}

export type EdgeAdapterOptions = Pick<WebAdapterOptions, "clientAddress">;

/** Where usage flushes started while serving go: a platform's waitUntil; without one they run best effort. */
export type Defer = NonNullable<UsageOptions["defer"]>;

/** The OFREP-only handler for `env`, behind the Web adapter with the core's body limit. */
export function createEdgeHandler(env: Env, options: EdgeAdapterOptions = {}, defer?: Defer): WebHandler {
  const { core, bodyLimitBytes } = edgeCoreFromEnv(env, defer === undefined ? {} : { defer });
  return webHandler(core, { ...options, bodyLimitBytes });
}

let handler: WebHandler | undefined;

/** Cloudflare names the client in CF-Connecting-IP; Vercel in X-Real-IP. Both platforms set them, clients cannot. */
const clientAddress = (request: Request): string | undefined =>
  request.headers.get("cf-connecting-ip") ?? request.headers.get("x-real-ip") ?? undefined;

/** Usage flushes started while a request was served, handed to that request's `ctx.waitUntil`. */
const deferred: Promise<void>[] = [];

/** What Workers pass as the third argument: `waitUntil` keeps the isolate up for work after the answer. */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

export default {
  /** Workers call `fetch(request, env, ctx)`; Vercel Edge calls it with the request alone. */
  async fetch(request: Request, bindings?: EdgeBindings, ctx?: ExecutionContext): Promise<Response> {
    handler ??= createEdgeHandler({ ...processEnv(), ...stringsOf(bindings) }, { clientAddress }, (flush) =>
      deferred.push(flush),
    );
    try {
      return await handler(request);
    } finally {
      for (const flush of deferred.splice(0)) ctx?.waitUntil(flush);
    }
  },
};
