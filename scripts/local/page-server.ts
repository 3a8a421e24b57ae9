// The local stack's page server: the dashboard at `/` with the flag API beside it on the same origin (`/admin/`,
// `/ofrep/`), the rollout history (/api/rollouts), the no-JavaScript status page (/status), its JSON (/api/state),
// the demo chart and a health check.
import { readFile } from "node:fs/promises";
import { FLAGS_HEALTH_PATH, isAdminPath, isOfrepPath } from "../../functions/flags/http/core.ts";
import { type HttpCore, type HttpResponse, jsonResponse, pathOf } from "../../functions/http/message.ts";
import { type NodeListener, nodeListener } from "../../functions/http/node.ts";
import { type LocalState, PAGE_CSP, renderPage } from "./page.ts";

export interface PageAppOptions {
  state(): Promise<LocalState>;
  /** `<home>/demo.svg`, written by `npm run demo`; served at /demo.svg while it exists. */
  demoPath: string;
  /** Told about failures answered with a bare 500. */
  onError?: (error: unknown) => void;
  /** The dashboard (functions/dashboard/core.ts), served at `/`; without it `/` is the status page. */
  dashboard?: HttpCore;
  /** The flag API's core, answering `/admin/*`, `/ofrep/*` and `/flags/healthz` here, the dashboard's origin. */
  flags?: HttpCore;
  /** What /api/rollouts answers: the stepper's view and the canaries' timelines (scripts/local/history.ts). */
  rollouts?: () => Promise<unknown>;
  /** Largest request body (the flag API's writes); default 0, nothing but GETs. */
  bodyLimitBytes?: number;
}

// The chart is a file another program wrote: served so that, even opened on its own, nothing in it can run.
const SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

const NO_STORE = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

const answer = (
  status: number,
  contentType: string,
  body: string,
  extra: Record<string, string> = {},
): HttpResponse => ({
  status,
  headers: { ...NO_STORE, "Content-Type": contentType, ...extra },
  body,
});

const json = (status: number, value: unknown): HttpResponse => jsonResponse(status, value, NO_STORE);

export function createPageCore(options: PageAppOptions): HttpCore {
  const statusPage = async () =>
    answer(200, "text/html; charset=utf-8", renderPage(await options.state()), {
      "Content-Security-Policy": PAGE_CSP,
    });
  const { dashboard, flags, rollouts } = options;
  const routes = new Map<string, () => Promise<HttpResponse>>(
    Object.entries({
      ...(dashboard === undefined ? { "/": statusPage } : {}),
      "/status": statusPage,
      "/api/state": async () => json(200, await options.state()),
      ...(rollouts === undefined ? {} : { "/api/rollouts": async () => json(200, await rollouts()) }),
      "/demo.svg": async () => {
        let svg: string;
        try {
          svg = await readFile(options.demoPath, "utf8");
        } catch {
          return json(404, { error: `no demo chart at ${options.demoPath}: run \`npm run demo\` to draw one` });
        }
        return answer(200, "image/svg+xml", svg, { "Content-Security-Policy": SVG_CSP });
      },
      "/healthz": async () => json(200, { status: "ok" }),
    }),
  );
  return async (request) => {
    const path = pathOf(request.url);
    if (flags !== undefined && (isAdminPath(path) || isOfrepPath(path) || path === FLAGS_HEALTH_PATH)) {
      return flags(request);
    }
    const route = routes.get(path);
    const read = request.method === "GET" || request.method === "HEAD";
    if (route === undefined && read && dashboard !== undefined) return dashboard(request);
    if (route === undefined || !read) {
      return json(404, {
        error: `no route for ${request.method} ${path}; try GET /, /status, /api/state, /demo.svg or /healthz`,
      });
    }
    try {
      const response = await route();
      return request.method === "HEAD" ? { ...response, body: null } : response;
    } catch (error) {
      options.onError?.(error);
      return json(500, { error: "internal error" });
    }
  };
}

/** The page server as a Node listener; bodies are read only up to `bodyLimitBytes` (default 0: GETs only). */
export const createPageApp = (options: PageAppOptions): NodeListener =>
  nodeListener(createPageCore(options), { bodyLimitBytes: options.bodyLimitBytes ?? 0 });
