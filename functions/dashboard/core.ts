// The dashboard's HTTP core: its page, its ES modules and stylesheets, with a strict CSP and revalidated caching.
/*
 * The page is a shell: the app (app/main.js) draws everything from the admin API, OFREP and, on the local stack, the
 * rollout history. Nothing inline runs or styles (CSP `'self'` only), so a string that slipped past Preact's escaping
 * still could not execute. Every file is revalidated on each load (`no-cache` + ETag, 304 when unchanged): a new
 * version is seen at once, an unchanged one costs a round trip and no bytes.
 */
import { ifNoneMatchHits, textHash } from "../http/etag.ts";
import { escapeHtml } from "../http/html.ts";
import type { HttpCore, HttpResponse } from "../http/message.ts";
import { jsonResponse, pathOf } from "../http/message.ts";
import type { DashboardFiles } from "./assets.ts";

export interface DashboardOptions {
  files: DashboardFiles;
  /** Where the dashboard is mounted, with both slashes: "/" on the local stack, "/dashboard/" beside the flag API. */
  basePath?: string;
  /** Where the admin API and OFREP are, on this origin, with a trailing slash; default "/". */
  apiBase?: string;
  /** The rollout history (the local stack's `/api/rollouts`); absent: the dashboard shows flags only. */
  rolloutsUrl?: string;
  /** A page that works without JavaScript (the local stack's `/status`), linked from the dashboard. */
  statusUrl?: string;
}

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers on every answer of the dashboard. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": DASHBOARD_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

const REVALIDATE = "no-cache";

/** The page: the app's stylesheet and entry module, its settings in data attributes, a note for browsers without JS. */
export function dashboardHtml(options: Omit<DashboardOptions, "files">): string {
  const data = [
    `data-api="${escapeHtml(options.apiBase ?? "/")}"`,
    options.rolloutsUrl ? `data-rollouts="${escapeHtml(options.rolloutsUrl)}"` : "",
    options.statusUrl ? `data-status="${escapeHtml(options.statusUrl)}"` : "",
  ]
    .filter(Boolean)
    .join(" ");
  const fallback = options.statusUrl
    ? ` The <a href="${escapeHtml(options.statusUrl)}">status page</a> works without it.`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>greenlight dashboard</title>
<link rel="stylesheet" href="app/style.css">
<script type="module" src="app/main.js"></script>
</head>
<body>
<div id="app" ${data}><noscript><p>The greenlight dashboard needs JavaScript.${fallback}</p></noscript></div>
</body>
</html>
`;
}

const notFound = (path: string, base: string): HttpResponse =>
  jsonResponse(
    404,
    { error: `no dashboard file at ${path}; the dashboard is at ${base}` },
    { ...SECURITY_HEADERS, "Cache-Control": "no-store" },
  );

/** The dashboard as an HttpCore; GET and HEAD only. */
export function createDashboardCore(options: DashboardOptions): HttpCore {
  const base = options.basePath ?? "/";
  if (!base.startsWith("/") || !base.endsWith("/")) {
    throw new Error(
      `dashboard basePath ${JSON.stringify(base)} is invalid; accepted: a path with both slashes, e.g. "/dashboard/"`,
    );
  }
  const lastSegment = base.split("/").filter(Boolean).pop() ?? "";
  const page = dashboardHtml(options);
  const pageTag = `"page-${textHash(page).toString(16)}"`;
  const files = new Map(options.files);
  files.set("", { body: page, contentType: "text/html; charset=utf-8", etag: pageTag });
  files.set("index.html", { body: page, contentType: "text/html; charset=utf-8", etag: pageTag });

  return async (request) => {
    const path = pathOf(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return jsonResponse(
        405,
        { error: `${request.method} is not served here; the dashboard answers GET and HEAD` },
        { ...SECURITY_HEADERS, Allow: "GET, HEAD", "Cache-Control": "no-store" },
      );
    }
    // "/dashboard" without its slash: relative URLs in the page only resolve below the slash. The Location is
    // relative too, so that whatever the adapter stripped in front (an API Gateway stage) stays.
    if (`${path}/` === base)
      return { status: 308, headers: { ...SECURITY_HEADERS, Location: `${lastSegment}/` }, body: null };
    if (!path.startsWith(base)) return notFound(path, base);
    const file = files.get(path.slice(base.length));
    if (file === undefined) return notFound(path, base);
    const headers = {
      ...SECURITY_HEADERS,
      "Content-Type": file.contentType,
      "Cache-Control": REVALIDATE,
      ETag: file.etag,
    };
    if (ifNoneMatchHits(request.headers.get("if-none-match"), file.etag)) return { status: 304, headers, body: null };
    return { status: 200, headers, body: request.method === "HEAD" ? null : file.body };
  };
}
