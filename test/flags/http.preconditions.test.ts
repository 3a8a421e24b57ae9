// The admin API's write preconditions as RFC 9110 has them: If-Match (13.1.1), If-None-Match (13.1.2), their order
// (13.2.2) and when they are ignored (13.2.1); every refused write leaves the flags and the audit log as they were.
import request from "supertest";
import { describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import { createMemoryStore, TEST_FLAGS } from "./memory-store.ts";

const TOKEN = "preconditions-admin-token";
const AUTH = `Bearer ${TOKEN}`;

function setup() {
  const store = createMemoryStore({ seed: TEST_FLAGS });
  const cache = createRuleCache(store, { ttlMs: 3_600_000 });
  const app = createFlagsApp({ store, cache, adminToken: TOKEN, onError: () => undefined });
  return { store, app };
}

type App = ReturnType<typeof setup>["app"];
type Headers = Record<string, string>;

const put = (app: App, key: string, headers: Headers, state = "disabled") =>
  request(app)
    .put(`/admin/flags/${key}`)
    .set({ Authorization: AUTH, ...headers })
    .send({ key, state });

const remove = (app: App, key: string, headers: Headers) =>
  request(app)
    .delete(`/admin/flags/${key}`)
    .set({ Authorization: AUTH, ...headers });

/** "theme" is TEST_FLAGS[2], so the seed leaves it at revision 3 (ETag "3"). */
const THEME_AT = 3;

describe("If-Match on a flag that exists (RFC 9110 section 13.1.1, strong comparison)", () => {
  const holds: Array<[string, string]> = [
    ["its ETag", '"3"'],
    ["its ETag among others", '"1", "3"'],
    ["a list without spaces", '"1","3"'],
    ["a list with empty elements", ' , "3" ,, '],
    ["a list whose other tag holds a comma", '"a,b", "3"'],
    ["*", "*"],
    ["a bare revision (greenlight's compatibility form)", "3"],
  ];
  it.each(holds)("writes with %s (%s)", async (_what, header) => {
    const { app } = setup();
    const response = await put(app, "theme", { "If-Match": header });
    expect(response.status).toBe(200);
    expect(response.headers.etag).toBe(`"${TEST_FLAGS.length + 1}"`);
  });

  const fails: Array<[string, string, RegExp]> = [
    [
      "a weak tag of its ETag",
      'W/"3"',
      /which If-Match: W\/"3" does not match \(a weak tag such as W\/"7" never matches/,
    ],
    ["a list whose only match is weak", '"1", W/"3"', /a weak tag such as W\/"7" never matches/],
    ["another revision", '"2"', /which If-Match: "2" does not match: re-read it and retry with If-Match: "3"$/],
    ["opaque tags of other shapes", '"x", "3-9a76f3f6"', /which If-Match: "x", "3-9a76f3f6" does not match/],
    ["its revision spelt with a leading zero", '"003"', /which If-Match: "003" does not match/],
    ["an empty entity-tag", '""', /which If-Match: "" does not match/],
    ['"0" (create only)', '"0"', /which If-Match: "0" does not match/],
    [
      "a malformed list holding its ETag",
      '"3", garbage',
      /^header If-Match is not \* or a list of entity-tags \(at character 6: "garbage"/,
    ],
    [
      "* inside a list",
      '*, "3"',
      /^header If-Match is not \* or a list of entity-tags \(at character 1: \* inside a list/,
    ],
    ["tags without a comma between them", '"1" "3"', /expected a comma after "1"/],
    ["an unclosed quote", '"3', /the quote is never closed/],
    ["a lower-case weak prefix", 'w/"3"', /is not a quoted entity-tag/],
    ["a bare number that is not a revision", "3.0", /is not a quoted entity-tag/],
  ];
  it.each(fails)("answers 412 to %s (%s), writing nothing", async (_what, header, message) => {
    const { app, store } = setup();
    const before = { rules: await store.load(), audit: await store.audit() };
    const response = await put(app, "theme", { "If-Match": header });
    expect(response.status).toBe(412);
    expect(response.body.currentRevision).toBe(THEME_AT);
    expect(response.body.error).toMatch(message);
    expect(response.headers["cache-control"]).toBe("no-store");
    expect(await store.load()).toEqual(before.rules);
    expect(await store.audit()).toEqual(before.audit);
  });
});

describe("If-Match and If-None-Match on a flag that does not exist", () => {
  it('answers 412 to If-Match: * and If-Match: "<revision>" (there is nothing to match), writing nothing', async () => {
    const { app, store } = setup();
    const audit = await store.audit();
    for (const header of ["*", '"5"', "5", 'W/"0"']) {
      const response = await put(app, "brand-new", { "If-Match": header });
      expect(response.status, header).toBe(412);
      expect(response.body.currentRevision).toBe(0);
    }
    const any = await put(app, "brand-new", { "If-Match": "*" });
    expect(any.body.error).toBe(
      'flag "brand-new" does not exist (If-Match: * needs one): create it without If-Match, or with If-None-Match: *',
    );
    expect(await store.get("brand-new")).toBeUndefined();
    expect(await store.audit()).toEqual(audit);
  });

  it('creates with If-Match: "0", greenlight\'s create-only extension, with 201 and Location', async () => {
    const { app } = setup();
    const response = await put(app, "brand-new", { "If-Match": '"0"' });
    expect(response.status).toBe(201);
    expect(response.headers.location).toBe("/admin/flags/brand-new");
  });

  it("creates with If-None-Match: * (RFC 9110 section 13.1.2), then refuses the same create with 412", async () => {
    const { app, store } = setup();
    const created = await put(app, "brand-new", { "If-None-Match": "*" });
    expect(created.status).toBe(201);
    expect(created.headers.etag).toBe(`"${TEST_FLAGS.length + 1}"`);
    const audit = await store.audit();
    const again = await put(app, "brand-new", { "If-None-Match": "*" }, "enabled");
    expect(again.status).toBe(412);
    expect(again.body).toEqual({
      error: `flag "brand-new" is at revision ${TEST_FLAGS.length + 1} (ETag "${TEST_FLAGS.length + 1}"), and If-None-Match: * writes only a flag that does not exist`,
      currentRevision: TEST_FLAGS.length + 1,
    });
    expect((await store.get("brand-new"))?.flag.state).toBe("disabled");
    expect(await store.audit()).toEqual(audit);
  });

  it('creates with If-None-Match: "<tag>": a flag that does not exist matches no tag, not even "0"', async () => {
    const { app } = setup();
    expect((await put(app, "brand-new", { "If-None-Match": '"0"' })).status).toBe(201);
    expect((await put(app, "other-new", { "If-None-Match": '"3", W/"4"' })).status).toBe(201);
  });
});

describe("If-None-Match on a flag that exists (weak comparison)", () => {
  const cases: Array<[string, number]> = [
    ["*", 412],
    ['"3"', 412],
    ['W/"3"', 412],
    ['"1", W/"3"', 412],
    ['"4"', 200],
    ['"0"', 200],
    ["garbage", 412],
  ];
  it.each(cases)("If-None-Match: %s answers %i", async (header, status) => {
    const { app, store } = setup();
    const audit = await store.audit();
    const response = await put(app, "theme", { "If-None-Match": header });
    expect(response.status).toBe(status);
    if (status === 412) {
      expect(response.body.currentRevision).toBe(THEME_AT);
      expect(response.body.error).toMatch(/If-None-Match/);
      expect(await store.audit()).toEqual(audit);
    }
  });
});

describe("both headers (RFC 9110 section 13.2.2: If-Match first)", () => {
  it("names If-Match when it fails, and If-None-Match when only that fails; a write needs both", async () => {
    const { app, store } = setup();
    const audit = await store.audit();
    const ifMatchFails = await put(app, "theme", { "If-Match": '"9"', "If-None-Match": "*" });
    expect(ifMatchFails.status).toBe(412);
    expect(ifMatchFails.body.error).toMatch(/which If-Match: "9" does not match/);
    const ifNoneMatchFails = await put(app, "theme", { "If-Match": '"3"', "If-None-Match": '"3"' });
    expect(ifNoneMatchFails.status).toBe(412);
    expect(ifNoneMatchFails.body.error).toBe(
      'flag "theme" is at revision 3 (ETag "3"), which If-None-Match: "3" rules out',
    );
    expect(await store.audit()).toEqual(audit);
    expect((await put(app, "theme", { "If-Match": '"3"', "If-None-Match": '"2"' })).status).toBe(200);
  });

  it('creates with If-Match: "0" and If-None-Match: *, which agree', async () => {
    const { app } = setup();
    expect((await put(app, "brand-new", { "If-Match": '"0"', "If-None-Match": "*" })).status).toBe(201);
  });
});

describe("DELETE", () => {
  it("answers 404 for a flag that does not exist, whatever the preconditions (RFC 9110 section 13.2.1)", async () => {
    const { app } = setup();
    const preconditions: Headers[] = [{ "If-Match": '"1"' }, { "If-Match": "garbage" }, { "If-None-Match": "*" }, {}];
    for (const headers of preconditions) {
      const response = await remove(app, "nope", headers);
      expect(response.status).toBe(404);
      expect(response.body.error).toBe('no flag "nope"');
    }
  });

  it("answers 412 when a precondition fails, writing nothing; deletes when they hold", async () => {
    const { app, store } = setup();
    const before = { rules: await store.load(), audit: await store.audit() };
    const failing: Headers[] = [{ "If-Match": 'W/"3"' }, { "If-Match": '"2", "4"' }, { "If-None-Match": "*" }];
    for (const headers of failing) {
      const response = await remove(app, "theme", headers);
      expect(response.status).toBe(412);
      expect(response.body.currentRevision).toBe(THEME_AT);
    }
    expect(await store.load()).toEqual(before.rules);
    expect(await store.audit()).toEqual(before.audit);
    const deleted = await remove(app, "theme", { "If-Match": '"2", "3"' });
    expect(deleted.status).toBe(200);
    expect(await store.get("theme")).toBeUndefined();
  });
});

describe("what comes before the preconditions", () => {
  it("refuses an invalid flag or actor with 400 before looking at If-Match: they can never be written", async () => {
    const { app } = setup();
    const invalid = await request(app)
      .put("/admin/flags/theme")
      .set({ Authorization: AUTH, "If-Match": '"1"' })
      .send({ key: "theme", state: "on" });
    expect(invalid.status).toBe(400);
    const actor = await put(app, "theme", { "If-Match": '"1"', "X-Greenlight-Actor": "\u00e9" });
    expect(actor.status).toBe(400);
  });
});
