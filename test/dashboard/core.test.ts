// The dashboard's HTTP core, called directly: its page, its files, the headers every answer carries, caching.
import { describe, expect, it } from "vitest";
import { DASHBOARD_ASSETS } from "../../functions/dashboard/assets.ts";
import { createDashboardCore, DASHBOARD_CSP, dashboardHtml } from "../../functions/dashboard/core.ts";
import { loadDashboardFiles } from "../../functions/dashboard/files.ts";
import type { HttpRequest } from "../../functions/http/message.ts";

const files = loadDashboardFiles();

function request(method: string, path: string, headers: Record<string, string> = {}): HttpRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return { method, url: `http://localhost${path}`, headers: { get: (name) => lower[name.toLowerCase()] ?? null } };
}

describe("the dashboard core", () => {
  const core = createDashboardCore({ files, basePath: "/dashboard/", apiBase: "/", rolloutsUrl: "/api/rollouts" });

  it("serves the page with its settings and nothing inline", async () => {
    const response = await core(request("GET", "/dashboard/"));
    expect(response.status).toBe(200);
    expect(response.headers["Content-Type"]).toBe("text/html; charset=utf-8");
    const html = response.body ?? "";
    expect(html).toContain('<script type="module" src="app/main.js"></script>');
    expect(html).toContain('data-api="/" data-rollouts="/api/rollouts"');
    // No inline script or style, and no style attribute, for the CSP to allow.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style=/);
  });

  it("sends a strict CSP, nosniff and revalidation on every file", async () => {
    for (const asset of DASHBOARD_ASSETS) {
      const response = await core(request("GET", `/dashboard/${asset.path}`));
      expect(response.status, asset.path).toBe(200);
      expect(response.headers["Content-Type"]).toBe(asset.contentType);
      expect(response.headers["Content-Security-Policy"]).toBe(DASHBOARD_CSP);
      expect(response.headers["X-Content-Type-Options"]).toBe("nosniff");
      expect(response.headers["Cache-Control"]).toBe("no-cache");
      expect(response.headers.ETag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    }
    expect(DASHBOARD_CSP).toContain("script-src 'self';");
    expect(DASHBOARD_CSP).toContain("style-src 'self';");
    expect(DASHBOARD_CSP).not.toContain("unsafe");
  });

  it("answers 304 without a body when the browser has the file", async () => {
    const first = await core(request("GET", "/dashboard/app/main.js"));
    const etag = first.headers.ETag ?? "";
    const again = await core(request("GET", "/dashboard/app/main.js", { "If-None-Match": `W/"x", ${etag}` }));
    expect(again).toMatchObject({ status: 304, body: null });
    const changed = await core(request("GET", "/dashboard/app/main.js", { "If-None-Match": '"other"' }));
    expect(changed.status).toBe(200);
  });

  it("redirects the base without its slash, refuses writes, and names the base in a 404", async () => {
    expect(await core(request("GET", "/dashboard"))).toMatchObject({
      status: 308,
      headers: { Location: "dashboard/" },
    });
    const head = await core(request("HEAD", "/dashboard/app/style.css"));
    expect(head).toMatchObject({ status: 200, body: null });
    const post = await core(request("POST", "/dashboard/"));
    expect(post.status).toBe(405);
    expect(post.headers.Allow).toBe("GET, HEAD");
    const missing = await core(request("GET", "/dashboard/app/../../package.json"));
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body ?? "{}").error).toContain("the dashboard is at /dashboard/");
  });

  it("escapes its settings in the page and refuses a base path without both slashes", () => {
    expect(dashboardHtml({ apiBase: '/x"><script>' })).toContain('data-api="/x&quot;&gt;&lt;script&gt;"');
    expect(() => createDashboardCore({ files, basePath: "dashboard" })).toThrow(/basePath "dashboard" is invalid/);
  });

  it("keeps every app module it serves in its list (no module imports a file the core would 404)", () => {
    const served = new Set(DASHBOARD_ASSETS.map((asset) => asset.path));
    for (const [path, file] of files) {
      if (!path.startsWith("app/") || !path.endsWith(".js")) continue;
      for (const [, target] of file.body.matchAll(/from "(\.{1,2}\/[^"]+)"/g)) {
        const resolved = new URL(target ?? "", `http://x/${path}`).pathname.slice(1);
        expect(served.has(resolved), `${path} imports ${target}`).toBe(true);
      }
    }
  });
});
