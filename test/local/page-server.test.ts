// The local stack's page server: the dashboard at /, the flag API beside it on the same origin, the rollout history,
// and the status page at /status.
import { describe, expect, it } from "vitest";
import type { HttpCore, HttpRequest } from "../../functions/http/message.ts";
import type { LocalState } from "../../scripts/local/page.ts";
import { createPageCore } from "../../scripts/local/page-server.ts";

const state: LocalState = {
  generatedAt: "2026-12-07T12:00:00.000Z",
  endpoints: [],
  flags: { where: "memory", items: [] },
  stepper: { status: "idle", intervalSeconds: 60, dryRun: false, passes: 0 },
  tls: { caCertPath: "/tmp/ca.crt", fingerprint: "AA", bundlePath: "/tmp/ca.bundle" },
  demo: { available: false },
};

const request = (method: string, path: string): HttpRequest => ({
  method,
  url: `http://127.0.0.1:8080${path}`,
  headers: { get: () => null },
});

/** A core that answers with its name and the request it got. */
const named =
  (name: string): HttpCore =>
  async (req) => ({ status: 200, headers: {}, body: `${name} ${req.method} ${new URL(req.url).pathname}` });

describe("the page server", () => {
  const core = createPageCore({
    state: async () => state,
    demoPath: "/nonexistent/demo.svg",
    dashboard: named("dashboard"),
    flags: named("flags"),
    rollouts: async () => ({ canaries: [] }),
  });

  it("hands the admin API and OFREP, every method, to the flag core", async () => {
    expect((await core(request("PUT", "/admin/flags/a"))).body).toBe("flags PUT /admin/flags/a");
    expect((await core(request("DELETE", "/admin/flags/a"))).body).toBe("flags DELETE /admin/flags/a");
    expect((await core(request("POST", "/ofrep/v1/evaluate/flags/a"))).body).toBe(
      "flags POST /ofrep/v1/evaluate/flags/a",
    );
    expect((await core(request("GET", "/flags/healthz"))).body).toBe("flags GET /flags/healthz");
  });

  it("serves the dashboard at / and its files, the status page at /status, the history at /api/rollouts", async () => {
    expect((await core(request("GET", "/"))).body).toBe("dashboard GET /");
    expect((await core(request("GET", "/app/main.js"))).body).toBe("dashboard GET /app/main.js");
    const status = await core(request("GET", "/status"));
    expect(status.headers["Content-Security-Policy"]).toMatch(/script-src 'sha256-/);
    expect(status.body).toContain("<h1>greenlight local stack</h1>");
    expect(JSON.parse((await core(request("GET", "/api/rollouts"))).body ?? "")).toEqual({ canaries: [] });
    // Writes elsewhere are not the dashboard's.
    expect((await core(request("POST", "/"))).status).toBe(404);
  });

  it("serves the status page at / too when it has no dashboard", async () => {
    const bare = createPageCore({ state: async () => state, demoPath: "/nonexistent/demo.svg" });
    expect((await bare(request("GET", "/"))).body).toContain("<h1>greenlight local stack</h1>");
    expect((await bare(request("GET", "/admin/flags"))).status).toBe(404);
  });
});
