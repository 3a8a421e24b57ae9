// `greenlight flags ...` as the real binary: against the local file store, against a running flag server, and serve.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { EXAMPLE_FLAGS } from "../../functions/flags/examples.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import type { AuditEntry, EvaluationResult, StoredFlag } from "../../functions/flags/types.ts";
import { freePort } from "../../scripts/services/children.ts";
import { runCli } from "./run.ts";

const EXAMPLE_KEYS = EXAMPLE_FLAGS.map((flag) => flag.key).sort();
const TOKEN = "acc42424f686fc016784df1e0dafa99539b1a235e9047683d2cd1e7d06e34172";
// Every step spawns the CLI (about a second each, more on a busy machine), and a test takes several steps.
const SLOW = { timeout: 120_000 };

/** Nothing from the developer's shell may point the CLI at a real store or server. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  UPSTASH_REDIS_REST_URL: "",
  UPSTASH_REDIS_REST_TOKEN: "",
  GREENLIGHT_ADMIN_TOKEN: "",
  GREENLIGHT_FLAGS_API_KEY: "",
  USER: "tester",
};

/** A fresh local store (seeded with the examples on first use) and the env that points the CLI at it. */
async function localEnv(): Promise<NodeJS.ProcessEnv> {
  return { ...CLEAN_ENV, GREENLIGHT_FLAGS_DIR: await mkdtemp(join(tmpdir(), "greenlight-flags-cli-")) };
}

async function tempFile(name: string, text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), "greenlight-flag-file-")), name);
  await writeFile(file, text);
  return file;
}

async function startServer(adminToken?: string): Promise<{ url: string; server: Server }> {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-flags-server-"));
  const store = createFileStore({ dir, seed: EXAMPLE_FLAGS });
  const app = createFlagsApp({ store, cache: createRuleCache(store), ...(adminToken ? { adminToken } : {}) });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, server };
}

const stopServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

const json = <T>(text: string): T => JSON.parse(text) as T;

// ---- the local store ---------------------------------------------------------------------------------------------

describe("greenlight flags against the local store", SLOW, () => {
  it("lists the seeded examples as a table and as JSON, and gets one as YAML or JSON", async () => {
    const env = await localEnv();
    const table = await runCli(["flags", "list"], undefined, env);
    expect(table.stderr).toBe("");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^KEY\s+STATE\s+PERCENTAGE\s+SEGMENTS\s+REVISION\s+UPDATED/);
    expect(table.stdout).toMatch(/new_recommendation_engine\s+partial\s+50%\s+internal,beta\s+\d+\s+\S+ by /);
    expect(table.stdout).toMatch(/payment_feature\s+disabled\s+100%\s+-\s+\d+/);

    const listed = await runCli(["flags", "list", "-o", "json"], undefined, env);
    const { version, flags } = json<{ version: number; flags: StoredFlag[] }>(listed.stdout);
    expect(version).toBeGreaterThanOrEqual(1);
    expect(flags.map((stored) => stored.flag.key)).toEqual(EXAMPLE_KEYS);
    for (const example of EXAMPLE_FLAGS) {
      expect(flags.find((stored) => stored.flag.key === example.key)?.flag).toEqual(example);
    }

    const yaml = await runCli(["flags", "get", "new_ui_interface"], undefined, env);
    expect(yaml.code).toBe(0);
    const stored = parse(yaml.stdout) as StoredFlag;
    expect(stored.flag).toEqual(EXAMPLE_FLAGS.find((flag) => flag.key === "new_ui_interface"));
    expect(stored.revision).toBeGreaterThanOrEqual(1);
    const asJson = await runCli(["flags", "get", "new_ui_interface", "-o", "json"], undefined, env);
    expect(json(asJson.stdout)).toEqual(stored);
  });

  it("sets a flag from a YAML file and from JSON on standard input, and audits who did it", async () => {
    const env = await localEnv();
    const file = await tempFile(
      "checkout.yaml",
      "# the new checkout, for beta users first\nstate: partial\npercentage: 10\nsegments: [beta]\nowner: web\n",
    );
    const created = await runCli(["flags", "set", "new-checkout", "-f", file], undefined, env);
    expect(created.code).toBe(0);
    expect(created.stderr).toMatch(/^created flag "new-checkout" in files in .*: revision (\d+)\n$/);
    expect(created.stdout).toMatch(/^KEY\s+STATE/);
    expect(created.stdout).toMatch(/new-checkout\s+partial\s+10%\s+beta\s+\d+\s+\S+ by tester/);

    const updated = await runCli(
      ["flags", "set", "new-checkout", "-f", "-", "--actor", "alice", "-o", "json"],
      JSON.stringify({ key: "new-checkout", state: "enabled", owner: "web" }),
      env,
    );
    expect(updated.code).toBe(0);
    expect(updated.stderr).toMatch(/^updated flag "new-checkout"/);
    const written = json<{ version: number; flag: StoredFlag }>(updated.stdout);
    expect(written.flag.flag).toEqual({ key: "new-checkout", state: "enabled", owner: "web" });
    expect(written.flag.updatedBy).toBe("alice");
    expect(written.flag.revision).toBe(written.version);

    const read = await runCli(["flags", "get", "new-checkout", "-o", "json"], undefined, env);
    expect(json<StoredFlag>(read.stdout)).toEqual(written.flag);

    const audit = await runCli(["flags", "audit", "--limit", "2", "-o", "json"], undefined, env);
    const { entries } = json<{ entries: AuditEntry[] }>(audit.stdout);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ key: "new-checkout", action: "put", actor: "alice" });
    expect(entries[0]?.before?.state).toBe("partial");
    expect(entries[0]?.after?.state).toBe("enabled");
    expect(entries[1]).toMatchObject({ key: "new-checkout", action: "put", actor: "tester" });
    expect(entries[1]?.before).toBeUndefined();

    const table = await runCli(["flags", "audit", "--limit", "2"], undefined, env);
    expect(table.stdout).toMatch(/^AT\s+ACTOR\s+ACTION\s+KEY\s+VERSION\s+CHANGE/);
    const rows = table.stdout.trim().split("\n").slice(1);
    expect(rows[0]).toMatch(/alice\s+put\s+new-checkout\s+\d+\s+.*state "partial" -> "enabled"/);
    expect(rows[0]).toContain("percentage 10 -> -");
    expect(rows[1]).toMatch(/tester\s+put\s+new-checkout\s+\d+\s+created \(partial\)$/);
  });

  it("prints every validation problem with its path and writes nothing", async () => {
    const env = await localEnv();
    const file = await tempFile(
      "bad.yaml",
      "key: bad-flag\nstate: enabeld\npercentage: 150\nsegmets: [beta]\nconditions:\n  - attribute: plan\n    op: eq\n",
    );
    const result = await runCli(["flags", "set", "bad-flag", "-f", file], undefined, env);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trim().split("\n");
    expect(lines.at(-1)).toBe(
      `greenlight: ${file}: flag "bad-flag" is invalid (4 problems above): nothing was written`,
    );
    expect(lines).toHaveLength(5);
    expect(result.stderr).toMatch(/^ {2}\/state: "enabeld" .*did you mean "enabled"/m);
    expect(result.stderr).toMatch(/^ {2}\/percentage: 150 .*0 to 100/m);
    expect(result.stderr).toMatch(/^ {2}\/segmets: .*segments/m);
    expect(result.stderr).toMatch(/^ {2}\/conditions\/0\/value: /m);

    const mismatch = await runCli(["flags", "set", "other", "-f", "-"], '{"key":"bad-flag","state":"enabled"}', env);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(
      /^ {2}\/key: "bad-flag" differs from KEY "other" on the command line; leave key out of the file or make them equal$/m,
    );
    expect(mismatch.stderr).not.toContain("URL");
    const badKey = await runCli(["flags", "set", "Bad Key", "-f", "-"], '{"state":"enabled"}', env);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/^ {2}\/key: "Bad Key" is not a flag key; /m);
    expect(badKey.stderr).not.toContain("URL");

    const syntax = await runCli(["flags", "set", "x", "-f", "-"], "state: [enabled\n", env);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/^greenlight: <stdin>: document 1, line \d+: /);

    const missing = await runCli(["flags", "get", "bad-flag"], undefined, env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^greenlight: no flag "bad-flag" in files in /);
  });

  it("refuses a write at a stale revision, naming the current one, also for a file printed by get", async () => {
    const env = await localEnv();
    const read = await runCli(["flags", "get", "new_ui_interface", "-o", "json"], undefined, env);
    const { revision } = json<StoredFlag>(read.stdout);
    const saved = await runCli(["flags", "get", "new_ui_interface"], undefined, env);
    const printed = await tempFile("ui.yaml", saved.stdout);

    // Another write moves the flag on; the file and --if-match of the old revision must now fail.
    const bumped = await runCli(
      ["flags", "set", "new_ui_interface", "-f", "-", "--if-match", String(revision), "-o", "json"],
      '{"state":"partial","percentage":40,"segments":["all"]}',
      env,
    );
    expect(bumped.code).toBe(0);
    const current = json<{ flag: StoredFlag }>(bumped.stdout).flag.revision;
    expect(current).toBeGreaterThan(revision);

    const stale = await runCli(["flags", "set", "new_ui_interface", "-f", printed], undefined, env);
    expect(stale.code).toBe(1);
    expect(stale.stderr.trim()).toBe(
      `greenlight: flag "new_ui_interface" is at revision ${current}, not ${revision}: re-read it with \`greenlight flags get new_ui_interface\` and retry with --if-match ${current}`,
    );
    const quoted = await runCli(["flags", "delete", "new_ui_interface", "--if-match", `"${revision}"`], undefined, env);
    expect(quoted.code).toBe(1);
    expect(quoted.stderr).toContain(`is at revision ${current}`);
    const exists = await runCli(
      ["flags", "set", "new_ui_interface", "-f", "-", "--if-match", "0"],
      "state: enabled",
      env,
    );
    expect(exists.code).toBe(1);
    expect(exists.stderr).toContain(`is at revision ${current}, not 0`);

    const after = await runCli(["flags", "get", "new_ui_interface", "-o", "json"], undefined, env);
    expect(json<StoredFlag>(after.stdout).flag.percentage).toBe(40);

    const bad = await runCli(["flags", "delete", "new_ui_interface", "--if-match", "latest"], undefined, env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^greenlight: --if-match latest is not a revision: /);
  });

  it("evaluates one flag, every flag, and exits 0 on a false value", async () => {
    const env = await localEnv();
    const rule = JSON.stringify({
      state: "partial",
      segments: ["beta"],
      conditions: [
        { attribute: "plan", op: "eq", value: "pro" },
        { attribute: "seats", op: "gte", value: 10 },
      ],
    });
    expect((await runCli(["flags", "set", "pro-banner", "-f", "-"], rule, env)).code).toBe(0);

    const off = await runCli(["flags", "eval", "payment_feature"], undefined, env);
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/^KEY\s+VALUE\s+REASON\s+VARIANT\n/);
    expect(off.stdout).toMatch(/payment_feature\s+false\s+DISABLED\s+\S+\n$/);

    const hit = await runCli(
      ["flags", "eval", "pro-banner", "-c", "segment=beta", "-c", "plan=pro", "-c", "seats=12", "-o", "json"],
      undefined,
      env,
    );
    expect(hit.code).toBe(0);
    expect(json<EvaluationResult>(hit.stdout)).toMatchObject({
      key: "pro-banner",
      value: true,
      reason: "TARGETING_MATCH",
    });

    const miss = await runCli(
      ["flags", "eval", "pro-banner", "--context", '{"segment":"beta","plan":"free","seats":12}', "-o", "json"],
      undefined,
      env,
    );
    expect(miss.code).toBe(0);
    expect(json<EvaluationResult>(miss.stdout)).toMatchObject({ key: "pro-banner", value: false, reason: "DEFAULT" });

    // -c wins over --context for the same attribute.
    const merged = await runCli(
      [
        "flags",
        "eval",
        "pro-banner",
        "--context",
        '{"segment":"beta","plan":"free"}',
        "-c",
        "plan=pro",
        "-c",
        "seats=10",
      ],
      undefined,
      env,
    );
    expect(merged.stdout).toMatch(/pro-banner\s+true\s+TARGETING_MATCH/);

    const all = await runCli(["flags", "eval", "--all", "--targeting-key", "user-1", "-o", "json"], undefined, env);
    expect(all.code).toBe(0);
    const { flags } = json<{ flags: EvaluationResult[] }>(all.stdout);
    expect(flags.map((result) => result.key)).toEqual([...EXAMPLE_KEYS, "pro-banner"].sort());
    expect(flags.find((result) => result.key === "payment_feature")).toMatchObject({
      value: false,
      reason: "DISABLED",
    });

    const table = await runCli(["flags", "eval", "--all"], undefined, env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^KEY\s+VALUE\s+REASON\s+VARIANT\s+ERROR\n/);
    // A percentage split without a targeting key is an evaluation error, shown in its row.
    expect(table.stdout).toMatch(/new_ui_interface\s+-\s+ERROR\s+-\s+TARGETING_KEY_MISSING: /);
  });

  it("fails an evaluation error with a hint: close keys for FLAG_NOT_FOUND, the option for a missing targeting key", async () => {
    const env = await localEnv();
    const typo = await runCli(["flags", "eval", "payment_featur"], undefined, env);
    expect(typo.code).toBe(1);
    expect(typo.stdout).toBe("");
    expect(typo.stderr).toMatch(/^greenlight: payment_featur: FLAG_NOT_FOUND: .*: did you mean payment_feature\?\n$/);

    const asJson = await runCli(["flags", "eval", "nothing-like-it", "-o", "json"], undefined, env);
    expect(asJson.code).toBe(1);
    expect(json(asJson.stdout)).toMatchObject({ key: "nothing-like-it", errorCode: "FLAG_NOT_FOUND" });
    expect(asJson.stderr).toMatch(/known flags: new_recommendation_engine, new_ui_interface, payment_feature\n$/);

    const noKey = await runCli(["flags", "eval", "new_ui_interface"], undefined, env);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/TARGETING_KEY_MISSING: .*pass --targeting-key/);

    const badContext = await runCli(["flags", "eval", "payment_feature", "--context", "[1]"], undefined, env);
    expect(badContext.stderr.trim()).toBe(
      `greenlight: --context must be a JSON object, like '{"targetingKey":"user-1","segment":"beta"}', not [1]`,
    );
    const badPair = await runCli(["flags", "eval", "payment_feature", "-c", "segment"], undefined, env);
    expect(badPair.stderr.trim()).toBe(
      "greenlight: -c segment is not attr=value: use e.g. -c segment=beta -c plan=pro",
    );
    const neither = await runCli(["flags", "eval"], undefined, env);
    expect(neither.stderr.trim()).toBe("greenlight: pass the flag KEY to evaluate, or --all for every flag");
  });

  it("deletes a flag, lists stale flags, and rejects bad options", async () => {
    const env = await localEnv();
    const expired = JSON.stringify({ state: "enabled", owner: "growth", expires: "2020-01-31" });
    const future = JSON.stringify({ state: "enabled", owner: "growth", expires: "2999-01-01" });
    expect((await runCli(["flags", "set", "old-promo", "-f", "-"], expired, env)).code).toBe(0);
    expect((await runCli(["flags", "set", "next-promo", "-f", "-"], future, env)).code).toBe(0);

    const stale = await runCli(["flags", "stale", "-o", "json"], undefined, env);
    expect(stale.code).toBe(0);
    const { flags } = json<{ flags: { key: string; reasons: string[]; owner?: string }[] }>(stale.stdout);
    expect(flags).toContainEqual(expect.objectContaining({ key: "old-promo", owner: "growth", reasons: ["expired"] }));
    expect(flags.map((flag) => flag.key)).not.toContain("next-promo");
    const table = await runCli(["flags", "stale", "--days", "3650"], undefined, env);
    expect(table.stdout).toMatch(/^KEY\s+OWNER\s+EXPIRES\s+UPDATED\s+REASONS\n/);
    expect(table.stdout).toMatch(/old-promo\s+growth\s+2020-01-31\s+\S+\s+expired\n/);

    const deleted = await runCli(["flags", "delete", "old-promo"], undefined, env);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted flag "old-promo" from files in .* \(rule-set version \d+\)\n$/);
    const again = await runCli(["flags", "delete", "old-promo"], undefined, env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /^greenlight: no flag "old-promo" in files in .*: known flags: new_recommendation_engine, new_ui_interface, next-promo, payment_feature\n$/,
    );
    const close = await runCli(["flags", "get", "next-prom"], undefined, env);
    expect(close.stderr).toMatch(/: did you mean next-promo\?\n$/);

    const days = await runCli(["flags", "stale", "--days", "0"], undefined, env);
    expect(days.stderr.trim()).toBe("greenlight: --days 0 is not accepted: use a whole number from 1 to 3650");
    const limit = await runCli(["flags", "audit", "--limit", "x"], undefined, env);
    expect(limit.stderr.trim()).toBe("greenlight: --limit x is not accepted: use a whole number from 1 to 1000");
    const format = await runCli(["flags", "list", "-o", "xml"], undefined, env);
    expect(format.code).toBe(1);
    expect(format.stderr.trim()).toBe("greenlight: -o xml is not supported: use -o table, -o json or -o yaml");
  });

  it("names a bad environment variable in one line", async () => {
    const env = { ...(await localEnv()), UPSTASH_REDIS_REST_URL: "https://example.upstash.io" };
    const result = await runCli(["flags", "list"], undefined, env);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^greenlight: UPSTASH_REDIS_REST_URL is set but UPSTASH_REDIS_REST_TOKEN is not/);
  });
});

// ---- a running flag server ---------------------------------------------------------------------------------------

describe("greenlight flags --url against a running flag server", SLOW, () => {
  let url: string;
  let server: Server;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    ({ url, server } = await startServer(TOKEN));
    env = { ...CLEAN_ENV, GREENLIGHT_ADMIN_TOKEN: TOKEN };
  });
  afterAll(() => stopServer(server));

  it("lists, sets from YAML and JSON, gets, audits and deletes through the admin API", async () => {
    const list = await runCli(["flags", "list", "--url", url, "-o", "json"], undefined, env);
    expect(list.stderr).toBe("");
    expect(json<{ flags: StoredFlag[] }>(list.stdout).flags.map((stored) => stored.flag.key)).toEqual(EXAMPLE_KEYS);

    const file = await tempFile("dark-mode.yaml", "key: dark-mode\nstate: partial\npercentage: 25\nsalt: ui\n");
    const created = await runCli(
      ["flags", "set", "dark-mode", "-f", file, "--url", url, "--actor", "alice"],
      undefined,
      env,
    );
    expect(created.code).toBe(0);
    expect(created.stderr).toMatch(new RegExp(`^created flag "dark-mode" in ${url}: revision \\d+\\n$`));
    expect(created.stdout).toMatch(/dark-mode\s+partial\s+25%\s+-\s+\d+\s+\S+ by alice/);

    // The token may come from --token as well as from the environment.
    const updated = await runCli(
      ["flags", "set", "dark-mode", "-f", "-", "--url", url, "--token", TOKEN, "-o", "json"],
      '{"state":"enabled"}',
      { ...env, GREENLIGHT_ADMIN_TOKEN: "" },
    );
    expect(updated.code).toBe(0);
    const written = json<{ version: number; flag: StoredFlag }>(updated.stdout);
    expect(written.flag).toMatchObject({ flag: { key: "dark-mode", state: "enabled" }, updatedBy: "tester" });

    const got = await runCli(["flags", "get", "dark-mode", "--url", url], undefined, env);
    expect(parse(got.stdout)).toEqual(written.flag);

    const audit = await runCli(["flags", "audit", "--url", url, "--limit", "2", "-o", "json"], undefined, env);
    const { entries } = json<{ entries: AuditEntry[] }>(audit.stdout);
    expect(entries.map((entry) => entry.actor)).toEqual(["tester", "alice"]);

    const stale = await runCli(["flags", "stale", "--url", url, "--days", "1", "-o", "json"], undefined, env);
    expect(stale.code).toBe(0);
    expect(json<{ flags: { key: string }[] }>(stale.stdout).flags.map((flag) => flag.key)).not.toContain("dark-mode");

    const deleted = await runCli(["flags", "delete", "dark-mode", "--url", url, "-o", "json"], undefined, env);
    expect(deleted.code).toBe(0);
    expect(json<{ version: number }>(deleted.stdout).version).toBe(written.version + 1);
    const gone = await runCli(["flags", "get", "dark-mode", "--url", url], undefined, env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(new RegExp(`^greenlight: no flag "dark-mode" at ${url}: known flags: `));
  });

  it("validates locally before sending, and maps 412 to the current revision", async () => {
    const before = await runCli(["flags", "audit", "--url", url, "--limit", "1", "-o", "json"], undefined, env);
    const invalid = await runCli(["flags", "set", "x", "-f", "-", "--url", url], '{"state":"on"}', env);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^ {2}\/state: "on" is not a state/m);
    const after = await runCli(["flags", "audit", "--url", url, "--limit", "1", "-o", "json"], undefined, env);
    expect(after.stdout).toBe(before.stdout);

    const read = await runCli(["flags", "get", "payment_feature", "--url", url, "-o", "json"], undefined, env);
    const { revision } = json<StoredFlag>(read.stdout);
    const conflict = await runCli(
      ["flags", "set", "payment_feature", "-f", "-", "--url", url, "--if-match", String(revision + 5)],
      '{"state":"enabled"}',
      env,
    );
    expect(conflict.code).toBe(1);
    expect(conflict.stderr.trim()).toBe(
      `greenlight: flag "payment_feature" is at revision ${revision}, not ${revision + 5}: re-read it with \`greenlight flags get payment_feature\` and retry with --if-match ${revision}`,
    );
    const ok = await runCli(
      ["flags", "set", "payment_feature", "-f", "-", "--url", url, "--if-match", String(revision)],
      '{"state":"disabled","owner":"payments"}',
      env,
    );
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/^updated flag "payment_feature"/);
  });

  it("evaluates over OFREP", async () => {
    const off = await runCli(["flags", "eval", "payment_feature", "--url", url, "-o", "json"], undefined, CLEAN_ENV);
    expect(off.code).toBe(0);
    expect(json(off.stdout)).toMatchObject({ key: "payment_feature", value: false, reason: "DISABLED" });

    const split = await runCli(
      ["flags", "eval", "new_ui_interface", "--url", url, "--targeting-key", "user-7"],
      undefined,
      CLEAN_ENV,
    );
    expect(split.code).toBe(0);
    expect(split.stdout).toMatch(/new_ui_interface\s+(true|false)\s+SPLIT\s+\S+\n$/);

    const all = await runCli(["flags", "eval", "--all", "--url", url, "-o", "json"], undefined, CLEAN_ENV);
    expect(all.code).toBe(0);
    const keys = json<{ flags: EvaluationResult[] }>(all.stdout).flags.map((result) => result.key);
    expect(keys).toEqual(expect.arrayContaining(EXAMPLE_KEYS));

    const typo = await runCli(["flags", "eval", "new_ui_interfac", "--url", url], undefined, CLEAN_ENV);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/^greenlight: new_ui_interfac: FLAG_NOT_FOUND: .*: did you mean new_ui_interface\?\n$/);
  });

  it("says when the admin token is wrong or missing, and when the server cannot be reached", async () => {
    const wrong = await runCli(["flags", "list", "--url", url, "--token", "nope"], undefined, env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      /^greenlight: the flag server refused the admin token \(.+\): pass --token or set GREENLIGHT_ADMIN_TOKEN\n$/,
    );
    const missing = await runCli(["flags", "delete", "payment_feature", "--url", url], undefined, CLEAN_ENV);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^greenlight: the flag server wants an admin token \(.+\): pass --token or set/);

    const down = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await runCli(["flags", "list", "--url", down], undefined, env);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toBe(
      `greenlight: cannot reach the flag server at ${down} (ECONNREFUSED): start one with \`greenlight flags serve\`, or pass the right --url`,
    );
    const evalDown = await runCli(["flags", "eval", "x", "--url", down], undefined, env);
    expect(evalDown.stderr).toContain(`cannot reach the flag server at ${down}`);

    const notUrl = await runCli(["flags", "list", "--url", "ftp://flags"], undefined, env);
    expect(notUrl.stderr.trim()).toBe(
      "greenlight: --url ftp://flags is not an http(s) URL: pass the flag server's base URL, like http://127.0.0.1:8081",
    );
  });

  it("says when the server's admin API is turned off", async () => {
    const closed = await startServer();
    try {
      const result = await runCli(["flags", "list", "--url", closed.url], undefined, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^greenlight: the flag server at .* has its admin API turned off \(.*GREENLIGHT_ADMIN_TOKEN/,
      );
    } finally {
      await stopServer(closed.server);
    }
  });
});

// ---- serve and help ----------------------------------------------------------------------------------------------

describe("greenlight flags serve", SLOW, () => {
  const bin = fileURLToPath(new URL("../../scripts/greenlight.mjs", import.meta.url));

  async function serve(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; line: string; url: string }> {
    const child = spawn(process.execPath, [bin, "flags", "serve", "--port", "0"], { env: { ...process.env, ...env } });
    let stderr = "";
    const found = await new Promise<{ line: string; url: string }>((resolve, reject) => {
      child.stderr?.on("data", (chunk) => {
        stderr += chunk;
        const match = /^.*listening on (http:\/\/127\.0\.0\.1:\d+).*$/m.exec(stderr);
        if (match?.[1]) resolve({ line: match[0], url: match[1] });
      });
      child.on("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    return { child, ...found };
  }

  const stop = async (child: ChildProcess) => {
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    return exited;
  };

  it("serves the local store with the admin API when a token is set, and stops cleanly on SIGTERM", async () => {
    const env: NodeJS.ProcessEnv = { ...(await localEnv()), GREENLIGHT_ADMIN_TOKEN: TOKEN };
    const { child, line, url } = await serve(env);
    try {
      expect(line).toContain(`files in ${env.GREENLIGHT_FLAGS_DIR}`);
      expect(line).toContain("admin API enabled");
      const list = await runCli(["flags", "list", "--url", url, "-o", "json"], undefined, env);
      expect(json<{ flags: StoredFlag[] }>(list.stdout).flags.map((stored) => stored.flag.key)).toEqual(EXAMPLE_KEYS);
      const response = await fetch(`${url}/ofrep/v1/evaluate/flags/payment_feature`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ context: {} }),
      });
      expect(response.status).toBe(200);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it("says the admin API is disabled without a token", async () => {
    const { child, line } = await serve(await localEnv());
    try {
      expect(line).toContain("admin API disabled (set GREENLIGHT_ADMIN_TOKEN or GREENLIGHT_ADMIN_TOKENS to enable it)");
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });
});

describe("greenlight flags --help", () => {
  const commands: Record<string, string[]> = {
    serve: ["--port", "--host"],
    list: ["--url", "--token", "--output"],
    get: ["--url", "--token", "--output"],
    set: ["--file", "--if-match", "--actor", "--url", "--token", "--output"],
    delete: ["--if-match", "--actor", "--url", "--token"],
    eval: ["--context", "--attribute", "--targeting-key", "--all", "--url", "--api-key", "--output"],
    audit: ["--limit", "--url", "--token", "--output"],
    stale: ["--days", "--url", "--token", "--output"],
  };

  it("lists every command", async () => {
    const group = await runCli(["flags", "--help"]);
    expect(group.code).toBe(0);
    for (const name of Object.keys(commands)) expect(group.stdout).toMatch(new RegExp(`^ {2}${name}\\b`, "m"));
    expect(group.stdout).toMatch(/Examples:\n {2}greenlight flags /);
  });

  for (const [name, options] of Object.entries(commands)) {
    it(`flags ${name} --help lists its options and examples`, async () => {
      const help = await runCli(["flags", name, "--help"]);
      expect(help.code).toBe(0);
      for (const option of options) expect(help.stdout).toContain(option);
      expect(help.stdout).toMatch(new RegExp(`Examples:\\n {2}greenlight flags ${name}\\b`));
    });
  }
});
