// Through the core (after the handler wiring): several tokens, scopes, and CORS by path.
import { describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { flagSettingsFromEnv } from "../../functions/flags/env.ts";
import { createFlagCore } from "../../functions/flags/http/handler.ts";
import { createMemoryStore, TEST_FLAGS } from "./memory-store.ts";

const READ = "c4b7d94ae11105f00cfc0a6c67e8fe79c9f01582b59bcdb558e26829edb0cbfe";
const ADMIN = "36f244c837a653e2a7d662244e1d209e5d7af48238cf096d8bab71439fc6dcd7";

function core(env: Record<string, string>) {
  const store = createMemoryStore({ seed: TEST_FLAGS });
  return createFlagCore({ store, cache: createRuleCache(store), ...flagSettingsFromEnv(env) });
}

describe("wired core", () => {
  it("takes tokens from GREENLIGHT_ADMIN_TOKENS with their scopes", async () => {
    const handle = core({ GREENLIGHT_ADMIN_TOKENS: `dash:read:${READ},ops:admin:${ADMIN}` });
    const get = (token: string) =>
      handle(new Request("http://x/admin/flags", { headers: { authorization: `Bearer ${token}` } }));
    expect((await get(READ)).status).toBe(200);
    expect((await get(ADMIN)).status).toBe(200);
    const put = (token: string) =>
      handle(
        new Request("http://x/admin/flags/banner", {
          method: "PUT",
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify({ state: "enabled" }),
        }),
      );
    const refused = await put(READ);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body ?? "").requiredScope).toBe("admin");
    expect((await put(ADMIN)).status).toBe(200);
  });

  it("refuses admin preflights from an unlisted origin under the default *, OFREP passes", async () => {
    const handle = core({ GREENLIGHT_ADMIN_TOKEN: ADMIN });
    const options = (path: string) =>
      handle(new Request(`http://x${path}`, { method: "OPTIONS", headers: { origin: "https://evil.example" } }));
    expect((await options("/admin/flags")).status).toBe(403);
    const ofrep = await options("/ofrep/v1/evaluate/flags");
    expect(ofrep.status).toBe(204);
    expect(ofrep.headers["Access-Control-Allow-Origin"]).toBe("*");
    const listed = core({ GREENLIGHT_FLAGS_CORS_ORIGINS: "*,https://admin.example.com" });
    const ok = await listed(
      new Request("http://x/admin/flags", { method: "OPTIONS", headers: { origin: "https://admin.example.com" } }),
    );
    expect(ok.status).toBe(204);
    expect(ok.headers["Access-Control-Allow-Origin"]).toBe("https://admin.example.com");
  });
});
