// Vercel Edge Function entry of the feature flags: the OFREP-only edge core, reading its settings from process.env.
/*
 * Deploy: copy (or import) this file as `api/flags.ts` of a Vercel project and rewrite `/ofrep/(.*)` and `/healthz`
 * to `/api/flags` in vercel.json (docs/FLAGS.md, Vercel Edge). A rewrite keeps the path the client asked for in
 * `request.url`, and the core routes on that path, so OFREP clients call `https://<domain>/ofrep/v1/...`. In a
 * Next.js app, a route handler can export this function as its POST and OPTIONS (`export const runtime = "edge"`).
 * `config.runtime = "edge"` makes Vercel run it in its edge runtime: a Web `Request` in, a `Response` out.
 * One difference from the Workers entry (edge.ts): the client's address, for the per-address abuse limit, is
 * Vercel's X-Real-IP alone: Vercel sets it from the connection, whereas a CF-Connecting-IP header would be the
 * client's own words there. (Vercel hands the function one branch of a tee of the body, whose cancel never settles:
 * functions/http/body.ts cancels without waiting, so a 413 does not hang on it.)
 * test/edge/vercel.edge-runtime.test.ts runs this entry in Vercel's `edge-runtime` VM.
 */
import type { WebHandler } from "../http/web.ts";
import { createEdgeHandler, processEnv } from "./edge.ts";

export const config = { runtime: "edge" };

const clientAddress = (request: Request): string | undefined => request.headers.get("x-real-ip") ?? undefined;

let handler: WebHandler | undefined;

/** Built on the first request of an isolate and reused: the rule cache lives as long as the isolate. */
export default function greenlightFlags(request: Request): Promise<Response> {
  handler ??= createEdgeHandler(processEnv(), { clientAddress });
  return handler(request);
}
