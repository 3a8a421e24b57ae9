// CORS by path: `*` (the default) lets any page call OFREP, while the admin API answers cross-origin requests, and
// their preflights, only for origins listed by name.
import { describe, expect, it } from "vitest";
import { corsOriginsFor, isOpenCorsPath, preflightFor, withCors } from "../../functions/flags/http/cors.ts";
import { jsonResponse } from "../../functions/http/message.ts";

const APP = "https://app.example.com";
const EVIL = "https://evil.example";

describe("which paths a * covers", () => {
  it("covers OFREP and health, not the admin API or unknown paths", () => {
    for (const path of ["/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/banner", "/healthz", "/flags/healthz"]) {
      expect(isOpenCorsPath(path), path).toBe(true);
    }
    for (const path of ["/admin/flags", "/admin/flags/banner", "/admin/audit", "/admin/stale", "/", "/ofrep"]) {
      expect(isOpenCorsPath(path), path).toBe(false);
    }
    expect(corsOriginsFor("/ofrep/v1/evaluate/flags", ["*"])).toEqual(["*"]);
    expect(corsOriginsFor("/admin/flags", ["*"])).toEqual([]);
    expect(corsOriginsFor("/admin/flags", ["*", APP])).toEqual([APP]);
  });
});

describe("preflights", () => {
  it("refuses an admin preflight from an origin the default * does not name, while OFREP's passes", () => {
    const admin = preflightFor("/admin/flags/banner", EVIL, ["*"]);
    expect(admin.status).toBe(403);
    expect(admin.headers["Access-Control-Allow-Origin"]).toBeUndefined();
    expect(admin.headers["Access-Control-Allow-Methods"]).toBeUndefined();
    expect(JSON.parse(admin.body ?? "{}")).toEqual({
      error:
        "cross-origin calls to /admin/flags/banner from https://evil.example are refused: none is listed in " +
        "GREENLIGHT_FLAGS_CORS_ORIGINS (a * there covers the OFREP and health paths only; list the origin by name " +
        "to call the admin API from it)",
    });

    const ofrep = preflightFor("/ofrep/v1/evaluate/flags", EVIL, ["*"]);
    expect(ofrep.status).toBe(204);
    expect(ofrep.headers["Access-Control-Allow-Origin"]).toBe("*");
    expect(ofrep.headers["Access-Control-Allow-Methods"]).toMatch(/POST/);
  });

  it("refuses an admin preflight from an unlisted origin when a list is configured, naming the listed ones", () => {
    const refused = preflightFor("/admin/flags", EVIL, [APP]);
    expect(refused.status).toBe(403);
    expect(refused.headers.Vary).toBe("Origin");
    expect(JSON.parse(refused.body ?? "{}").error).toContain(`refused: only ${APP} is listed in`);
  });

  it("answers an admin preflight from a listed origin as before", () => {
    const allowed = preflightFor("/admin/flags/banner", APP, ["*", APP]);
    expect(allowed.status).toBe(204);
    expect(allowed.headers["Access-Control-Allow-Origin"]).toBe(APP);
    expect(allowed.headers.Vary).toBe("Origin");
    expect(allowed.headers["Access-Control-Allow-Methods"]).toMatch(/PUT/);
  });

  it("answers an OPTIONS without Origin (no browser, no preflight) with 204 and no Allow-Origin", () => {
    const plain = preflightFor("/admin/flags", null, ["*"]);
    expect(plain.status).toBe(204);
    expect(plain.headers["Access-Control-Allow-Origin"]).toBeUndefined();
  });
});

describe("responses", () => {
  it("gives admin answers no Allow-Origin under the default *, and OFREP answers *", () => {
    const origins = ["*"];
    const admin = withCors(jsonResponse(200, {}), EVIL, corsOriginsFor("/admin/flags", origins));
    expect(admin.headers["Access-Control-Allow-Origin"]).toBeUndefined();
    expect(admin.headers.Vary).toBe("Origin");
    const ofrep = withCors(jsonResponse(200, {}), EVIL, corsOriginsFor("/ofrep/v1/evaluate/flags", origins));
    expect(ofrep.headers["Access-Control-Allow-Origin"]).toBe("*");
  });
});
