// Admin tokens: GREENLIGHT_ADMIN_TOKENS parsed and refused with one clear line, read scope refused on writes,
// rotation (two admin tokens at once, the old one ending at its not-after) and the token's label on every write.
import { describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { FlagConfigError, flagSettingsFromEnv } from "../../functions/flags/env.ts";
import {
  type AdminDeps,
  deleteFlag,
  getFlag,
  listFlags,
  putFlag,
  refuseAdmin,
} from "../../functions/flags/http/admin.ts";
import { createFlagCore } from "../../functions/flags/http/handler.ts";
import {
  type AdminToken,
  adminTokensOf,
  matchAdminToken,
  parseAdminTokens,
} from "../../functions/flags/http/tokens.ts";
import type { FlagStore, WriteOptions } from "../../functions/flags/types.ts";
import type { HttpResponse } from "../../functions/http/message.ts";
import { createMemoryStore, TEST_FLAGS } from "./memory-store.ts";

const READ = "3316348dbadfb7b11c7c2ea235949419e23f9fa898ad2c198f999617912a9925";
const OLD = "cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4";
const NEW = "11507a0e2f5e69d5dfa40a62a1bd7b6ee57e6bcd85c67c9b8431b36fff21c437";
const LEGACY = "c49fea7425fa7f8699897a97c159c6690267d9003bb78c53fafa8fc15c325d84";
const T0 = Date.parse("2026-06-01T00:00:00Z");

describe("GREENLIGHT_ADMIN_TOKENS", () => {
  it("reads label:scope:token entries, with an optional not-after date-time", () => {
    const parsed = parseAdminTokens(
      ` dashboard:read:${READ} ,deploy-2025:admin:${OLD}:2026-07-01T00:00:00Z,deploy_2026.b:admin:${NEW}`,
    );
    expect(parsed).toEqual({
      ok: true,
      tokens: [
        { label: "dashboard", scope: "read", token: READ },
        { label: "deploy-2025", scope: "admin", token: OLD, notAfter: Date.parse("2026-07-01T00:00:00Z") },
        { label: "deploy_2026.b", scope: "admin", token: NEW },
      ],
    });
    // An offset and a fraction are read exactly.
    const offset = parseAdminTokens(`x:admin:${NEW}:2026-07-01T02:00:00.250+02:00`);
    expect(offset.ok && offset.tokens[0]?.notAfter).toBe(Date.parse("2026-07-01T00:00:00.250Z"));
  });

  it("refuses a bad entry naming its position and the rule it breaks, never its text", () => {
    const cases: Array<[string, string]> = [
      [`ci:read:${READ},`, "entry 2 is empty"],
      [READ, "entry 1 has 1 field, not 3 or 4"],
      [`ci:${READ}`, "entry 1 has 2 fields, not 3 or 4"],
      [`-ci:read:${READ}`, "entry 1 has an invalid label"],
      [`c i:read:${READ}`, "entry 1 has an invalid label"],
      [`ci:write:${READ}`, 'entry 1 ("ci") has a scope other than read or admin'],
      ["ci:read:short-token", 'entry 1 ("ci") has a token of fewer than 10 distinct characters'],
      ["ci:read:", 'entry 1 ("ci") has a token with a character outside the set'],
      ["ci:read:0123456789abcdef\u00e9", 'entry 1 ("ci") has a token with a character outside the set'],
      // 40 random-looking hex characters (a SHA-1) are 160 bits: not enough.
      [`ci:read:${READ.slice(0, 40)}`, 'entry 1 ("ci") has a token of about 160 bits (40 characters), under 256'],
      [`ci:read:${READ}:2026-07-01`, 'entry 1 ("ci") has a not-after that is not a date-time'],
      [`ci:read:${READ}:soon`, 'entry 1 ("ci") has a not-after that is not a date-time'],
      [`ci:read:${READ},ci:admin:${NEW}`, 'entry 2 ("ci") repeats the label of entry 1'],
      [`ci:read:${READ},deploy:admin:${READ}`, 'entry 2 ("deploy") repeats the token of entry 1'],
    ];
    for (const [raw, problem] of cases) {
      expect(parseAdminTokens(raw), raw).toEqual({ ok: false, problem });
    }
  });

  it("stops the configuration with one line naming the variable and what it accepts, without the token", () => {
    const bad = `ci:write:${READ}`;
    let message = "";
    try {
      flagSettingsFromEnv({ GREENLIGHT_ADMIN_TOKENS: bad });
    } catch (error) {
      expect(error).toBeInstanceOf(FlagConfigError);
      message = (error as Error).message;
    }
    expect(message).toMatch(
      /^GREENLIGHT_ADMIN_TOKENS is invalid: entry 1 \("ci"\) has a scope other than read or admin; accepted: comma-separated label:scope:token entries with an optional :not-after, e\.g\. /,
    );
    expect(message).toContain("scope: read or admin");
    expect(message).toContain("token: at least 256 bits of randomness");
    expect(message).not.toContain(READ);
    expect(message).not.toContain("\n");
  });

  it("adds GREENLIGHT_ADMIN_TOKEN's token, labelled admin, to the list, and holds it to the same strength", () => {
    const settings = flagSettingsFromEnv({
      GREENLIGHT_ADMIN_TOKEN: LEGACY,
      GREENLIGHT_ADMIN_TOKENS: `ci:read:${READ}`,
    });
    expect(settings.adminToken).toBe(LEGACY);
    expect(settings.adminTokens).toEqual([
      { label: "admin", scope: "admin", token: LEGACY },
      { label: "ci", scope: "read", token: READ },
    ]);
    expect(flagSettingsFromEnv({ GREENLIGHT_ADMIN_TOKENS: `ci:read:${READ}` }).adminTokens).toHaveLength(1);
    // Neither set (or blank): no tokens, the admin API is off.
    expect(
      flagSettingsFromEnv({ GREENLIGHT_ADMIN_TOKEN: " ", GREENLIGHT_ADMIN_TOKENS: "" }).adminTokens,
    ).toBeUndefined();
    expect(() => flagSettingsFromEnv({ GREENLIGHT_ADMIN_TOKEN: "s3cret-but-short" })).toThrow(
      /^GREENLIGHT_ADMIN_TOKEN is too weak: a token of about 96 bits \(16 characters\), under 256; accepted: at least 256 bits/,
    );
  });

  it("refuses a list that clashes with GREENLIGHT_ADMIN_TOKEN: the label admin, or the same token", () => {
    expect(adminTokensOf(LEGACY, `admin:read:${READ}`)).toEqual({
      ok: false,
      message:
        'GREENLIGHT_ADMIN_TOKENS has a token labelled "admin", the label of GREENLIGHT_ADMIN_TOKEN\'s token: ' +
        "rename it, or move GREENLIGHT_ADMIN_TOKEN's token into the list",
    });
    const same = adminTokensOf(OLD, `ci:admin:${OLD}`);
    expect(same.ok).toBe(false);
    expect(!same.ok && same.message).toBe(
      "GREENLIGHT_ADMIN_TOKENS's token \"ci\" is GREENLIGHT_ADMIN_TOKEN's token too: each token once, so that the " +
        "audit log names one label",
    );
    expect(!same.ok && same.message).not.toContain(OLD);
  });
});

describe("matching a presented token", () => {
  const tokens: AdminToken[] = [
    { label: "a", scope: "admin", token: OLD, notAfter: T0 },
    { label: "b", scope: "read", token: READ },
  ];

  it("finds the token, says when it has expired, and knows no prefix or extension of one", () => {
    expect(matchAdminToken(READ, tokens, T0)).toEqual({ kind: "granted", token: tokens[1] });
    expect(matchAdminToken(OLD, tokens, T0)).toEqual({ kind: "granted", token: tokens[0] });
    expect(matchAdminToken(OLD, tokens, T0 + 1)).toEqual({ kind: "expired", token: tokens[0] });
    for (const other of [READ.slice(0, -1), `${READ}x`, "", NEW]) {
      expect(matchAdminToken(other, tokens, T0)).toEqual({ kind: "unknown" });
    }
  });
});

/** A memory store that keeps what each write was given, as the audit entry's source. */
function recordingStore(): { store: FlagStore; writes: WriteOptions[] } {
  const memory = createMemoryStore({ seed: TEST_FLAGS, now: () => T0 });
  const writes: WriteOptions[] = [];
  const store: FlagStore = {
    kind: memory.kind,
    version: () => memory.version(),
    load: () => memory.load(),
    get: (key) => memory.get(key),
    put: (flag, options) => {
      writes.push(options);
      return memory.put(flag, options);
    },
    delete: (key, options) => {
      writes.push(options);
      return memory.delete(key, options);
    },
    audit: (options) => memory.audit(options),
  };
  return { store, writes };
}

function adminDeps(adminTokens: AdminToken[], clock: { now: number }) {
  const { store, writes } = recordingStore();
  const deps: AdminDeps = {
    store,
    cache: createRuleCache(store),
    now: () => clock.now,
    adminTokens,
    bodyLimitBytes: 64 * 1024,
  };
  return { deps, writes };
}

interface Call {
  token?: string;
  actor?: string;
  body?: unknown;
}

/** What the handler does for an admin route: the token check first, then the endpoint. */
async function admin(deps: AdminDeps, method: string, path: string, call: Call = {}): Promise<HttpResponse> {
  const headers = new Headers({ "content-type": "application/json" });
  if (call.token !== undefined) headers.set("authorization", `Bearer ${call.token}`);
  if (call.actor !== undefined) headers.set("x-greenlight-actor", call.actor);
  const request = new Request(`http://flags.test${path}`, {
    method,
    headers,
    ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
  });
  const refused = refuseAdmin(request, deps);
  if (refused) return refused;
  const key = decodeURIComponent(path.split("/")[3] ?? "");
  if (method === "PUT") return putFlag(request, key, deps);
  if (method === "DELETE") return deleteFlag(request, key, deps);
  return key === "" ? listFlags(deps) : getFlag(key, deps);
}

const errorOf = (response: HttpResponse): string => (JSON.parse(response.body ?? "{}") as { error: string }).error;

describe("token scopes", () => {
  const tokens: AdminToken[] = [
    { label: "dashboard", scope: "read", token: READ },
    { label: "deploy", scope: "admin", token: NEW },
  ];

  it("lets a read-scope token read", async () => {
    const { deps } = adminDeps(tokens, { now: T0 });
    expect((await admin(deps, "GET", "/admin/flags", { token: READ })).status).toBe(200);
    expect((await admin(deps, "GET", "/admin/flags/banner", { token: READ })).status).toBe(200);
    expect((await admin(deps, "HEAD", "/admin/flags/banner", { token: READ })).status).toBe(200);
  });

  it("refuses a read-scope token on every write with 403 naming the scope needed, before the store is touched", async () => {
    const { deps, writes } = adminDeps(tokens, { now: T0 });
    for (const method of ["PUT", "DELETE"]) {
      const response = await admin(deps, method, "/admin/flags/banner", { token: READ, body: { state: "enabled" } });
      expect(response.status).toBe(403);
      expect(errorOf(response)).toBe(
        `the token "dashboard" has scope read, which allows GET and HEAD only: ${method} /admin/flags/banner needs ` +
          "a token with scope admin",
      );
      expect(JSON.parse(response.body ?? "{}")).toMatchObject({ requiredScope: "admin", tokenScope: "read" });
      expect(response.headers["Cache-Control"]).toBe("no-store");
    }
    expect(writes).toEqual([]);
    expect((await admin(deps, "PUT", "/admin/flags/banner", { token: NEW, body: { state: "enabled" } })).status).toBe(
      200,
    );
  });

  it("answers 401 to no token or an unknown one, and 403 naming both variables when none is configured", async () => {
    const { deps } = adminDeps(tokens, { now: T0 });
    const missing = await admin(deps, "GET", "/admin/flags");
    expect(missing.status).toBe(401);
    expect(missing.headers["WWW-Authenticate"]).toMatch(/^Bearer/);
    expect(errorOf(await admin(deps, "GET", "/admin/flags", { token: `${NEW}x` }))).toBe(
      "the bearer token is not an admin token (GREENLIGHT_ADMIN_TOKEN or GREENLIGHT_ADMIN_TOKENS)",
    );
    const off = adminDeps([], { now: T0 }).deps;
    const disabled = await admin(off, "GET", "/admin/flags", { token: NEW });
    expect(disabled.status).toBe(403);
    expect(errorOf(disabled)).toBe(
      "the admin API is disabled: set GREENLIGHT_ADMIN_TOKEN or GREENLIGHT_ADMIN_TOKENS to enable it",
    );
  });
});

describe("rotation", () => {
  it("accepts the old and the new admin token together, then only the new one once the old one's not-after passes", async () => {
    const clock = { now: T0 };
    const notAfter = T0 + 3_600_000;
    const { deps, writes } = adminDeps(
      [
        { label: "deploy-old", scope: "admin", token: OLD, notAfter },
        { label: "deploy-new", scope: "admin", token: NEW },
      ],
      clock,
    );
    const flag = { state: "enabled" };
    expect((await admin(deps, "PUT", "/admin/flags/banner", { token: OLD, body: flag })).status).toBe(200);
    expect((await admin(deps, "PUT", "/admin/flags/banner", { token: NEW, body: flag })).status).toBe(200);
    clock.now = notAfter; // still accepted at the instant itself
    expect((await admin(deps, "GET", "/admin/flags", { token: OLD })).status).toBe(200);

    clock.now = notAfter + 1;
    const expired = await admin(deps, "PUT", "/admin/flags/banner", { token: OLD, body: flag });
    expect(expired.status).toBe(401);
    expect(errorOf(expired)).toBe(
      'the bearer token "deploy-old" expired at 2026-06-01T01:00:00.000Z: use its successor',
    );
    expect((await admin(deps, "PUT", "/admin/flags/banner", { token: NEW, body: flag })).status).toBe(200);
    expect(writes.map((write) => write.token)).toEqual(["deploy-old", "deploy-new", "deploy-new"]);
  });
});

describe("the audit entry's token label", () => {
  it("gives the store the person from X-Greenlight-Actor and the token's label, never the token", async () => {
    const { deps, writes } = adminDeps([{ label: "deploy", scope: "admin", token: NEW }], { now: T0 });
    const put = await admin(deps, "PUT", "/admin/flags/banner", {
      token: NEW,
      actor: "alice@example.com",
      body: { state: "enabled" },
    });
    expect(put.status).toBe(200);
    expect((await admin(deps, "DELETE", "/admin/flags/banner", { token: NEW, actor: "bob" })).status).toBe(200);
    expect(writes).toEqual([
      { actor: "alice@example.com", token: "deploy" },
      { actor: "bob", token: "deploy" },
    ]);
    expect(JSON.stringify(writes)).not.toContain(NEW);
  });

  it("names the person after the token's label when no X-Greenlight-Actor is sent", async () => {
    const { deps, writes } = adminDeps([{ label: "ci-nightly", scope: "admin", token: NEW }], { now: T0 });
    expect((await admin(deps, "PUT", "/admin/flags/banner", { token: NEW, body: { state: "enabled" } })).status).toBe(
      200,
    );
    expect(writes).toEqual([{ actor: "ci-nightly", token: "ci-nightly" }]);
  });

  it("labels GREENLIGHT_ADMIN_TOKEN's token admin through the handler as it is wired today", async () => {
    const { store, writes } = recordingStore();
    const core = createFlagCore({ store, cache: createRuleCache(store), adminToken: "legacy" });
    const response = await core(
      new Request("http://flags.test/admin/flags/banner", {
        method: "PUT",
        headers: { authorization: "Bearer legacy", "x-greenlight-actor": "carol" },
        body: JSON.stringify({ state: "disabled" }),
      }),
    );
    expect(response.status).toBe(200);
    expect(writes).toEqual([{ actor: "carol", token: "admin" }]);
  });
});
