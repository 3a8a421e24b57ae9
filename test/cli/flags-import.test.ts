// `greenlight flags import --from unleash` and `greenlight flags export` as the real binary, and the flags files
// that `export` writes and `set -f` reads back.
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { compileRuleSet, evaluateKey } from "../../functions/flags/evaluate.ts";
import { EXAMPLE_FLAGS } from "../../functions/flags/examples.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import { type Flag, isFailure, type StoredFlag } from "../../functions/flags/types.ts";
import {
  importUnleashFeatures,
  type UnleashContext,
  unleashContextToEvaluation,
} from "../../functions/flags/unleash.ts";
import { readFlagEntries, renderFlags } from "../../scripts/cli/flags/documents.ts";
import type { ImportReport } from "../../scripts/cli/flags/import.ts";
import { runCli } from "./run.ts";

// Every step spawns the CLI (about a second each, more on a busy machine), and a test takes several steps.
const SLOW = { timeout: 120_000 };
const TOKEN = "test-admin-token";
const EXAMPLE_KEYS = EXAMPLE_FLAGS.map((flag) => flag.key).sort();

/** Nothing from the developer's shell may point the CLI at a real store, server or Unleash. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  UPSTASH_REDIS_REST_URL: "",
  UPSTASH_REDIS_REST_TOKEN: "",
  GREENLIGHT_ADMIN_TOKEN: "",
  GREENLIGHT_FLAGS_API_KEY: "",
  UNLEASH_API_TOKEN: "",
  USER: "tester",
};

async function localEnv(): Promise<{ env: NodeJS.ProcessEnv; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-import-cli-"));
  return { env: { ...CLEAN_ENV, GREENLIGHT_FLAGS_DIR: dir }, dir };
}

async function tempFile(name: string, text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), "greenlight-import-file-")), name);
  await writeFile(file, text);
  return file;
}

const json = <T>(text: string): T => JSON.parse(text) as T;

// ---- a realistic Unleash document, from the client specification --------------------------------------------------

interface SpecCase {
  description: string;
  context: UnleashContext;
  toggleName: string;
  expectedResult: boolean;
}

const specDir = join(
  dirname(createRequire(import.meta.url).resolve("@unleash/client-specification/package.json")),
  "specifications",
);
// Files whose feature names are distinct from each other's, so their states merge into one Unleash instance:
// features that map (simple, userWithId, rollouts, constraints, segments, semver, dates, custom stickiness) and
// features that do not (variants, dependencies, REGEX, IN_CIDR, remoteAddress, random rollouts, UTF-8 names).
const SPEC_FILES = [
  "01-simple-examples.json",
  "02-user-with-id-strategy.json",
  "03-gradual-rollout-user-id-strategy.json",
  "04-gradual-rollout-session-id-strategy.json",
  "05-gradual-rollout-random-strategy.json",
  "06-remote-address-strategy.json",
  "07-multiple-strategies.json",
  "08-variants.json",
  "09-strategy-constraints.json",
  "10-flexible-rollout-strategy.json",
  "12-custom-stickiness.json",
  "13-constraint-operators.json",
  "14-constraint-semver-operators.json",
  "15-global-constraints.json",
  "17-dependent-features.json",
  "18-utf8-flag-names.json",
  "21-regex-constraint-operators.json",
  "22-cidr-constraint-operators.json",
];
const specs = SPEC_FILES.map(
  (file) =>
    JSON.parse(readFileSync(join(specDir, file), "utf8")) as {
      state: { features: Array<{ name: string }>; segments?: unknown[] };
      tests?: SpecCase[];
    },
);
const UNLEASH = {
  version: 2,
  features: specs.flatMap((spec) => spec.state.features),
  segments: specs.flatMap((spec) => spec.state.segments ?? []),
};
const UNLEASH_TEXT = JSON.stringify(UNLEASH, null, 2);
const ADAPTER = importUnleashFeatures(UNLEASH);

// ---- import: the local store ---------------------------------------------------------------------------------

describe("greenlight flags import --from unleash, local store", SLOW, () => {
  it("merges spec files without clashing names, and the adapter maps some and skips others", () => {
    const names = UNLEASH.features.map((feature) => feature.name);
    expect(new Set(names).size).toBe(names.length);
    expect(ADAPTER.flags.length).toBeGreaterThan(30);
    expect(ADAPTER.skipped.length).toBeGreaterThan(30);
  });

  it("dry run: reports every feature, each skip with the adapter's reason, and writes nothing", async () => {
    const { env } = await localEnv();
    const file = await tempFile("unleash.json", UNLEASH_TEXT);
    const result = await runCli(["flags", "import", "--from", "unleash", file, "-o", "json"], undefined, env);
    expect(result.code).toBe(3);
    const lines = result.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^dry run: nothing was written to files in .*; --apply writes the \d+ mapped flags$/);
    expect(lines[1]).toBe(
      `greenlight: ${ADAPTER.skipped.length} of ${UNLEASH.features.length} Unleash features not imported: ${ADAPTER.skipped.length} skipped; the report says why`,
    );
    expect(lines).toHaveLength(2);

    const report = json<ImportReport>(result.stdout);
    expect(report.dryRun).toBe(true);
    expect(report.source).toBe(file);
    expect(report.features.map((row) => row.feature)).toEqual(UNLEASH.features.map((feature) => feature.name).sort());
    for (const skip of ADAPTER.skipped) {
      expect(report.features.find((row) => row.feature === skip.name)).toEqual({
        feature: skip.name,
        result: "skipped",
        reason: skip.reason,
      });
    }
    for (const flag of ADAPTER.flags) {
      const row = report.features.find((candidate) => candidate.feature === flag.key);
      expect(row).toMatchObject({ result: "mapped", key: flag.key, flag });
      expect(row?.written).toBeUndefined();
      expect(row?.stickiness).toBe(ADAPTER.stickiness[flag.key]);
    }
    expect(report.summary).toEqual({
      mapped: ADAPTER.flags.length,
      unchanged: 0,
      conflict: 0,
      skipped: ADAPTER.skipped.length,
      failed: 0,
      written: 0,
    });
    // Skip reasons of each kind the document holds.
    const reasons = report.features.flatMap((row) => (row.result === "skipped" ? [row.reason] : []));
    for (const kind of [
      /^variants: /,
      /^dependencies: /,
      /REGEX/,
      /IN_CIDR/,
      /remoteAddress/,
      /not a valid greenlight flag/,
    ]) {
      expect(reasons.some((reason) => kind.test(reason ?? ""))).toBe(true);
    }

    const listed = await runCli(["flags", "list", "-o", "json"], undefined, env);
    expect(json<{ flags: StoredFlag[] }>(listed.stdout).flags.map((stored) => stored.flag.key)).toEqual(EXAMPLE_KEYS);

    // The table: one row per feature, the skip reason in DETAIL; standard input as the source.
    const table = await runCli(["flags", "import", "--from", "unleash", "-"], UNLEASH_TEXT, env);
    expect(table.code).toBe(3);
    const rows = table.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^FEATURE\s+RESULT\s+FLAG\s+DETAIL$/);
    expect(rows).toHaveLength(UNLEASH.features.length + 1);
    expect(table.stdout).toMatch(/^Feature\.A\s+mapped\s+Feature\.A\s+would create: enabled$/m);
    expect(table.stdout).toMatch(
      /^Feature\.flexibleRollout\.sessionId\.42\s+mapped\s+\S+\s+would create: partial 42%, 1 condition; splits by targetingKey = sessionId$/m,
    );
    expect(table.stdout).toMatch(
      /^child\.with\.cycle\s+skipped\s+-\s+dependencies: depends on "parent\.with\.cycle"; /m,
    );
  });

  it("--apply writes every mapped flag, which then answers each spec case as Unleash does", async () => {
    const { env, dir } = await localEnv();
    const file = await tempFile("unleash.json", UNLEASH_TEXT);
    const applied = await runCli(
      ["flags", "import", "--from", "unleash", file, "--apply", "--actor", "importer", "-o", "json"],
      undefined,
      env,
    );
    expect(applied.code).toBe(3);
    expect(applied.stderr).toMatch(
      new RegExp(
        `^wrote ${ADAPTER.flags.length} flags to files in .* \\(${ADAPTER.flags.length} created, 0 replaced\\)\n`,
      ),
    );
    const report = json<ImportReport>(applied.stdout);
    expect(report.dryRun).toBe(false);
    expect(report.summary.written).toBe(ADAPTER.flags.length);
    for (const row of report.features) {
      if (row.result === "mapped") expect(row.written).toMatchObject({ created: true });
    }

    // The store holds exactly the adapter's flags (and the seeded examples), written by the actor.
    const ruleSet = await createFileStore({ dir }).load();
    expect(Object.keys(ruleSet.flags).sort()).toEqual(
      [...ADAPTER.flags.map((flag) => flag.key), ...EXAMPLE_KEYS].sort(),
    );
    for (const flag of ADAPTER.flags) {
      expect(ruleSet.flags[flag.key]?.flag).toEqual(flag);
      expect(ruleSet.flags[flag.key]?.updatedBy).toBe("importer");
    }

    // Every spec case of an imported toggle, evaluated on what was written, with the stickiness the report names.
    const compiled = compileRuleSet(ruleSet);
    const rowOf = new Map(report.features.map((row) => [row.feature, row]));
    let run = 0;
    const failures: string[] = [];
    for (const [index, spec] of specs.entries()) {
      const defined = new Set(spec.state.features.map((feature) => feature.name));
      for (const test of spec.tests ?? []) {
        const row = rowOf.get(test.toggleName);
        if (row?.result === "skipped") continue;
        const context = unleashContextToEvaluation(test.context, row?.stickiness);
        const currentTime = test.context.currentTime;
        const now = typeof currentTime === "string" ? Date.parse(currentTime) : Date.now();
        const result = evaluateKey(compiled, test.toggleName, context, now);
        const value = isFailure(result)
          ? result.errorCode === "FLAG_NOT_FOUND" && !defined.has(test.toggleName)
            ? false
            : result.errorCode
          : result.value;
        run++;
        if (value !== test.expectedResult) {
          failures.push(
            `${SPEC_FILES[index]}: ${test.description}: greenlight ${String(value)}, Unleash ${test.expectedResult}`,
          );
        }
      }
    }
    expect(failures).toEqual([]);
    expect(run).toBeGreaterThan(80);

    // And through the CLI, as a user would check one: sessionId as the targeting key of a sessionId split.
    const evaluated = await runCli(
      [
        "flags",
        "eval",
        "Feature.flexibleRollout.sessionId.42",
        "--targeting-key",
        "147",
        "-c",
        "sessionId=147",
        "-o",
        "json",
      ],
      undefined,
      env,
    );
    expect(evaluated.code).toBe(0);
    const spec10 = specs[SPEC_FILES.indexOf("10-flexible-rollout-strategy.json")]!;
    const expected = spec10.tests?.find(
      (test) => test.toggleName === "Feature.flexibleRollout.sessionId.42" && test.context.sessionId === "147",
    );
    expect(expected?.expectedResult).toBe(true);
    expect(json<{ value: boolean; reason: string }>(evaluated.stdout)).toMatchObject({ value: true, reason: "SPLIT" });

    // Importing again changes nothing: every mapped feature is unchanged, nothing is written.
    const again = await runCli(["flags", "import", "--from", "unleash", file, "--apply", "-o", "json"], undefined, env);
    expect(again.code).toBe(3);
    const second = json<ImportReport>(again.stdout);
    expect(second.summary).toMatchObject({ mapped: 0, unchanged: ADAPTER.flags.length, written: 0 });
    expect((await createFileStore({ dir }).load()).version).toBe(ruleSet.version);
  });

  it("exits 0 when every feature maps, and --prefix keys the flags without moving anyone in a rollout", async () => {
    const { env, dir } = await localEnv();
    const spec = specs[SPEC_FILES.indexOf("10-flexible-rollout-strategy.json")]!;
    const file = await tempFile("rollouts.json", JSON.stringify(spec.state));
    const result = await runCli(
      ["flags", "import", "--from", "unleash", file, "--apply", "--prefix", "unleash."],
      undefined,
      env,
    );
    expect(result.stderr).toMatch(/^wrote 5 flags to files in .* \(5 created, 0 replaced\)\n$/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^Feature\.flexibleRollout\.10\s+mapped\s+unleash\.Feature\.flexibleRollout\.10\s+created at revision \d+: partial 10%; splits by targetingKey = userId \(else sessionId\)$/m,
    );
    const ruleSet = await createFileStore({ dir }).load();
    const prefixed = ruleSet.flags["unleash.Feature.flexibleRollout.10"]?.flag;
    expect(prefixed?.salt).toBe("Feature.flexibleRollout.10");
    const compiled = compileRuleSet(ruleSet);
    for (const test of spec.tests ?? []) {
      const stickiness = ADAPTER.stickiness[test.toggleName];
      const evaluated = evaluateKey(
        compiled,
        `unleash.${test.toggleName}`,
        unleashContextToEvaluation(test.context, stickiness),
        Date.now(),
      );
      expect(isFailure(evaluated) ? evaluated.errorCode : evaluated.value, test.description).toBe(test.expectedResult);
    }
  });

  it("reports a flag of the same key as a conflict and leaves it; --overwrite replaces it at its revision", async () => {
    const { env } = await localEnv();
    const unleash = {
      features: [
        { name: "new_ui_interface", enabled: true, strategies: [{ name: "default" }] },
        { name: "dark-mode", enabled: false, strategies: [] },
      ],
    };
    const file = await tempFile("conflict.json", JSON.stringify(unleash));
    const before = json<StoredFlag>(
      (await runCli(["flags", "get", "new_ui_interface", "-o", "json"], undefined, env)).stdout,
    );

    const dry = await runCli(["flags", "import", "--from", "unleash", file], undefined, env);
    expect(dry.code).toBe(3);
    expect(dry.stdout).toMatch(
      new RegExp(
        `^new_ui_interface\\s+conflict\\s+new_ui_interface\\s+flag "new_ui_interface" exists already \\(revision ${before.revision}\\) with another definition: --overwrite replaces it$`,
        "m",
      ),
    );
    expect(dry.stderr).toMatch(
      /greenlight: 1 of 2 Unleash features not imported: 1 in conflict \(--overwrite replaces them\); the report says why\n$/,
    );

    const kept = await runCli(["flags", "import", "--from", "unleash", file, "--apply"], undefined, env);
    expect(kept.code).toBe(3);
    expect(kept.stdout).toMatch(/^dark-mode\s+mapped\s+dark-mode\s+created at revision \d+: disabled$/m);
    const still = json<StoredFlag>(
      (await runCli(["flags", "get", "new_ui_interface", "-o", "json"], undefined, env)).stdout,
    );
    expect(still).toEqual(before);

    const dryOverwrite = await runCli(["flags", "import", "--from", "unleash", file, "--overwrite"], undefined, env);
    expect(dryOverwrite.code).toBe(0);
    expect(dryOverwrite.stdout).toMatch(
      new RegExp(
        `^new_ui_interface\\s+mapped\\s+new_ui_interface\\s+would replace revision ${before.revision}: enabled$`,
        "m",
      ),
    );
    expect(dryOverwrite.stdout).toMatch(
      /^dark-mode\s+unchanged\s+dark-mode\s+stored already at revision \d+ as the same flag$/m,
    );

    const replaced = await runCli(
      ["flags", "import", "--from", "unleash", file, "--apply", "--overwrite", "-o", "json"],
      undefined,
      env,
    );
    expect(replaced.code).toBe(0);
    expect(replaced.stderr).toMatch(/^wrote 1 flag to files in .* \(0 created, 1 replaced\)\n$/);
    const row = json<ImportReport>(replaced.stdout).features.find(
      (candidate) => candidate.feature === "new_ui_interface",
    );
    expect(row).toMatchObject({ result: "mapped", revision: before.revision, written: { created: false } });
    const after = json<StoredFlag>(
      (await runCli(["flags", "get", "new_ui_interface", "-o", "json"], undefined, env)).stdout,
    );
    expect(after.flag).toEqual({ key: "new_ui_interface", state: "enabled" });
    expect(after.revision).toBe(row?.written?.revision);
  });

  it("refuses a malformed document with one line naming what is wrong, exit 2, before touching the store", async () => {
    const { env, dir } = await localEnv();
    const cases: Array<[string, RegExp]> = [
      ['{"features": [', /^greenlight: <stdin> is not JSON \(.+\): pass Unleash's client API response/],
      [
        '{"toggles": []}',
        /^greenlight: <stdin>: expected the Unleash client API response: an object with a features list/,
      ],
      [
        '{"features": [], "segments": 5}',
        /^greenlight: <stdin>: segments must be a list of \{id, constraints\}, got 5$/,
      ],
      [
        '{"events": [{"type": "feature-renamed"}]}',
        /^greenlight: <stdin>: events\[0\]: unknown event type "feature-renamed"; /,
      ],
    ];
    for (const [input, message] of cases) {
      const result = await runCli(["flags", "import", "--from", "unleash", "-"], input, env);
      expect(result.code, input).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr.trimEnd()).toMatch(message);
    }
    const missing = await runCli(["flags", "import", "--from", "unleash", join(dir, "nope.json")], undefined, env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`greenlight: cannot read ${join(dir, "nope.json")}: no such file\n`);
    // Nothing was read from the store, so it was not even created.
    await expect(readFile(join(dir, "flags.json"), "utf8")).rejects.toThrow();

    const other = await runCli(["flags", "import", "--from", "launchdarkly", "x.json"], undefined, env);
    expect(other.code).toBe(1);
    expect(other.stderr).toBe("greenlight: --from launchdarkly is not supported: use --from unleash\n");
    const prefix = await runCli(["flags", "import", "--from", "unleash", "x.json", "--prefix", "-"], undefined, env);
    expect(prefix.code).toBe(1);
    expect(prefix.stderr).toMatch(/^greenlight: --prefix "-" cannot start a flag key: /);
  });
});

// ---- import: from a URL, into a flag server ------------------------------------------------------------------

describe("greenlight flags import from an Unleash URL into a flag server", SLOW, () => {
  let unleash: Server;
  let unleashUrl = "";
  let flags: Server;
  let flagsUrl = "";
  const seen: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    unleash = createServer((request, response) => {
      seen.push(request.headers);
      if (request.url !== "/api/client/features") {
        response.writeHead(404, { "content-type": "application/json" }).end('{"message":"not found"}');
      } else if (request.headers.authorization !== "client-token") {
        response.writeHead(401, { "content-type": "application/json" }).end('{"message":"invalid token"}');
      } else {
        response.writeHead(200, { "content-type": "application/json" }).end(UNLEASH_TEXT);
      }
    });
    await new Promise<void>((resolve) => unleash.listen(0, "127.0.0.1", resolve));
    const unleashAddress = unleash.address();
    unleashUrl = `http://127.0.0.1:${typeof unleashAddress === "object" && unleashAddress ? unleashAddress.port : 0}`;

    const store = createFileStore({
      dir: await mkdtemp(join(tmpdir(), "greenlight-import-server-")),
      seed: EXAMPLE_FLAGS,
    });
    const app = createFlagsApp({ store, cache: createRuleCache(store), adminToken: TOKEN });
    flags = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
    });
    const flagsAddress = flags.address();
    flagsUrl = `http://127.0.0.1:${typeof flagsAddress === "object" && flagsAddress ? flagsAddress.port : 0}`;
  });

  afterAll(async () => {
    for (const server of [unleash, flags]) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });

  it("fetches with the client token, writes through the admin API, and names a bad URL or token", async () => {
    const remote = ["--url", flagsUrl, "--token", TOKEN];
    const source = `${unleashUrl}/api/client/features`;
    const applied = await runCli(
      [
        "flags",
        "import",
        "--from",
        "unleash",
        source,
        "--unleash-token",
        "client-token",
        "--apply",
        "-o",
        "json",
        ...remote,
      ],
      undefined,
      CLEAN_ENV,
    );
    expect(applied.code).toBe(3);
    const report = json<ImportReport>(applied.stdout);
    expect(report.source).toBe(source);
    expect(report.where).toBe(flagsUrl);
    expect(report.summary).toMatchObject({ written: ADAPTER.flags.length, skipped: ADAPTER.skipped.length, failed: 0 });
    const last = seen.at(-1);
    expect(last?.authorization).toBe("client-token");
    expect(last?.["unleash-appname"]).toBe("greenlight-import");

    const listed = await runCli(["flags", "list", "-o", "json", ...remote], undefined, CLEAN_ENV);
    const stored = json<{ flags: StoredFlag[] }>(listed.stdout).flags;
    for (const flag of ADAPTER.flags) {
      expect(stored.find((candidate) => candidate.flag.key === flag.key)?.flag).toEqual(flag);
    }

    // The token from the environment; a second run finds every flag unchanged.
    const again = await runCli(
      ["flags", "import", "--from", "unleash", source, "--apply", "-o", "json", ...remote],
      undefined,
      {
        ...CLEAN_ENV,
        UNLEASH_API_TOKEN: "client-token",
      },
    );
    expect(again.code).toBe(3);
    expect(json<ImportReport>(again.stdout).summary).toMatchObject({ unchanged: ADAPTER.flags.length, written: 0 });

    const refused = await runCli(["flags", "import", "--from", "unleash", source, ...remote], undefined, CLEAN_ENV);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `greenlight: ${source} answered 401: pass an Unleash client token with --unleash-token (or $UNLEASH_API_TOKEN)\n`,
    );
    const wrongPath = await runCli(
      ["flags", "import", "--from", "unleash", `${unleashUrl}/api/features`, ...remote],
      undefined,
      CLEAN_ENV,
    );
    expect(wrongPath.code).toBe(2);
    expect(wrongPath.stderr).toMatch(
      /answered 404: pass the client API URL, like https:\/\/unleash\.example\.com\/api\/client\/features\n$/,
    );

    // A flag server that refuses the admin token: exit 1 before anything is read or written.
    const noToken = await runCli(
      ["flags", "import", "--from", "unleash", "-", "--apply", "--url", flagsUrl, "--token", "wrong", "-o", "json"],
      '{"features":[{"name":"brand-new","enabled":true,"strategies":[]}]}',
      CLEAN_ENV,
    );
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/refused the admin token/);
  });

  it("marks a write the server refuses as failed, leaves the others written, and exits 1", async () => {
    // Two flags; the server changes one between the report and the write: its If-Match 0 (create only) fails.
    const remote = ["--url", flagsUrl, "--token", TOKEN];
    const file = await tempFile(
      "two.json",
      JSON.stringify({
        features: [
          { name: "race-a", enabled: true, strategies: [] },
          { name: "race-b", enabled: false, strategies: [] },
        ],
      }),
    );
    // A proxy in front of the flag server that creates race-a just before the CLI's PUT arrives.
    const proxy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      if (request.method === "PUT" && request.url === "/admin/flags/race-a") {
        await fetch(`${flagsUrl}/admin/flags/race-a`, {
          method: "PUT",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ key: "race-a", state: "disabled" }),
        });
      }
      const answer = await fetch(`${flagsUrl}${request.url}`, {
        method: request.method ?? "GET",
        headers: Object.fromEntries(
          Object.entries(request.headers).filter(([name]) => !["host", "content-length", "connection"].includes(name)),
        ) as Record<string, string>,
        body: chunks.length > 0 ? Buffer.concat(chunks) : null,
      });
      response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
      response.end(await answer.text());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const address = proxy.address();
    const proxyUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    try {
      const result = await runCli(
        ["flags", "import", "--from", "unleash", file, "--apply", "--url", proxyUrl, "--token", TOKEN, "-o", "json"],
        undefined,
        CLEAN_ENV,
      );
      expect(result.code).toBe(1);
      const report = json<ImportReport>(result.stdout);
      const a = report.features.find((row) => row.feature === "race-a");
      expect(a?.result).toBe("failed");
      expect(a?.reason).toMatch(/^flag "race-a" is at revision \d+, not 0 \(--if-match 0: only if it does not exist\)/);
      expect(report.features.find((row) => row.feature === "race-b")).toMatchObject({
        result: "mapped",
        written: { created: true },
      });
      expect(result.stderr).toMatch(
        /greenlight: 1 of 2 flags could not be written \(see the report\); each was left as it was\n$/,
      );
    } finally {
      await new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        proxy.closeAllConnections();
      });
    }
    const raced = await runCli(["flags", "get", "race-a", "-o", "json", ...remote], undefined, CLEAN_ENV);
    expect(json<StoredFlag>(raced.stdout).flag).toEqual({ key: "race-a", state: "disabled" });
  });
});

// ---- export and set -f ---------------------------------------------------------------------------------------

describe("flags files: renderFlags and readFlagEntries", () => {
  const flags: Flag[] = [
    { key: "b", state: "enabled" },
    { key: "a", state: "partial", percentage: 10, conditions: [{ attribute: "v", op: "eq", value: "007" }] },
  ];

  it("renders YAML documents or a JSON array in key order, and reads each back as it was", () => {
    const yaml = renderFlags(flags, "yaml");
    expect(yaml.startsWith("# greenlight flags: ")).toBe(true);
    expect(yaml.match(/^---$/gm)).toHaveLength(2);
    expect(readFlagEntries("x.yaml", yaml)).toEqual([
      { input: flags[1], where: "document 1" },
      { input: flags[0], where: "document 2" },
    ]);
    const text = renderFlags(flags, "json");
    expect(JSON.parse(text)).toEqual([flags[1], flags[0]]);
    expect(readFlagEntries("x.json", text).map((entry) => [entry.input, entry.where])).toEqual([
      [flags[1], "item 1"],
      [flags[0], "item 2"],
    ]);
    expect(renderFlags([], "yaml")).not.toContain("---");
    expect(readFlagEntries("empty.yaml", renderFlags([], "yaml"))).toEqual([]);
  });

  it("reads one flag with no place, a stored flag with its revision, and skips an empty trailing document", () => {
    expect(readFlagEntries("one.yaml", "state: enabled\n")).toEqual([{ input: { state: "enabled" }, where: "" }]);
    expect(readFlagEntries("one.yaml", "---\nkey: a\nstate: enabled\n---\n")).toEqual([
      { input: { key: "a", state: "enabled" }, where: "" },
    ]);
    const stored = { flag: { key: "a", state: "enabled" }, revision: 4, updatedAt: "x", updatedBy: "y" };
    expect(readFlagEntries("s.json", JSON.stringify([stored, { key: "b", state: "disabled" }]))).toEqual([
      { input: stored.flag, revision: 4, where: "item 1" },
      { input: { key: "b", state: "disabled" }, where: "item 2" },
    ]);
  });
});

describe("greenlight flags export and set -f with several flags", SLOW, () => {
  it("round trip: export, delete every flag, set -f the file, export again: the same text", async () => {
    const { env, dir } = await localEnv();
    const extra = {
      key: "checkout-test",
      description: 'A/B test of the checkout: "007" stays a string',
      state: "partial",
      percentage: 50,
      salt: "checkout",
      startTime: "2025-01-01T00:00:00Z",
      conditions: [
        { attribute: "appVersion", op: "semver_gt", value: "4.2.0" },
        { attribute: "code", op: "in", value: ["007", "true"] },
      ],
      variants: {
        control: { value: { color: "blue" }, weight: 1 },
        treatment: { value: { color: "green" }, weight: 1 },
      },
      defaultVariant: "control",
      owner: "web",
      expires: "2030-01-01",
    };
    expect((await runCli(["flags", "set", "checkout-test", "-f", "-"], JSON.stringify(extra), env)).code).toBe(0);

    const backup = join(dir, "backup.yaml");
    const exported = await runCli(["flags", "export", "-o", backup], undefined, env);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toBe("");
    expect(exported.stderr).toBe(`exported 4 flags from files in ${dir} to ${backup}\n`);
    const first = await readFile(backup, "utf8");
    const keys = [...EXAMPLE_KEYS, "checkout-test"].sort();
    expect(readFlagEntries(backup, first).map((entry) => (entry.input as Flag).key)).toEqual(keys);

    for (const key of keys) expect((await runCli(["flags", "delete", key], undefined, env)).code).toBe(0);
    const empty = await runCli(["flags", "export"], undefined, env);
    expect(empty.stdout.includes("---")).toBe(false);

    const restored = await runCli(["flags", "set", "-f", backup, "-o", "json"], undefined, env);
    expect(restored.code).toBe(0);
    expect(restored.stderr.trim().split("\n")).toEqual(
      keys.map((key) => expect.stringMatching(new RegExp(`^created flag "${key}" in files in .*: revision \\d+$`))),
    );
    expect(json<{ flags: StoredFlag[] }>(restored.stdout).flags.map((stored) => stored.flag.key)).toEqual(keys);

    const again = await runCli(["flags", "export"], undefined, env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(first);

    // JSON the same way, for some keys: standard output, and read back by set -f.
    const some = await runCli(
      ["flags", "export", "checkout-test", "payment_feature", "--format", "json"],
      undefined,
      env,
    );
    expect(some.code).toBe(0);
    const array = json<Flag[]>(some.stdout);
    expect(array.map((flag) => flag.key)).toEqual(["checkout-test", "payment_feature"]);
    expect(array[0]).toEqual(extra);
    const file = join(dir, "some.json");
    expect(
      (await runCli(["flags", "export", "checkout-test", "payment_feature", "-o", file], undefined, env)).code,
    ).toBe(0);
    expect(await readFile(file, "utf8")).toBe(some.stdout);
    expect((await runCli(["flags", "delete", "checkout-test"], undefined, env)).code).toBe(0);
    const table = await runCli(["flags", "set", "-f", file], undefined, env);
    expect(table.code).toBe(0);
    expect(table.stderr).toMatch(/^created flag "checkout-test" .*\nupdated flag "payment_feature" /);
    expect(table.stdout).toMatch(/^KEY\s+STATE[^\n]*\ncheckout-test\s+partial\s+50%[^\n]*\npayment_feature\s+disabled/);

    const unknown = await runCli(["flags", "export", "checkout-tset"], undefined, env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      `greenlight: no flag "checkout-tset" in files in ${dir}: did you mean checkout-test?; nothing was exported\n`,
    );
  });

  it("checks every flag of a file before writing any, and keeps KEY and --if-match for one flag", async () => {
    const { env } = await localEnv();
    const file = await tempFile(
      "many.yaml",
      "key: one\nstate: enabled\n---\nkey: two\nstate: enabeld\n---\nstate: disabled\n---\nkey: one\nstate: disabled\n",
    );
    const result = await runCli(["flags", "set", "-f", file], undefined, env);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ {2}document 2 \/state: "enabeld" /);
    expect(lines[1]).toMatch(/^ {2}document 3 \/key: .*every flag of a file of several needs its key/);
    expect(lines[2]).toBe(`  document 4 /key: "one" is the key of document 1 too: one flag per key`);
    expect(lines.at(-1)).toBe(`greenlight: ${file}: 3 of 4 flags are invalid (3 problems above): nothing was written`);
    const listed = await runCli(["flags", "list", "-o", "json"], undefined, env);
    expect(json<{ flags: StoredFlag[] }>(listed.stdout).flags.map((stored) => stored.flag.key)).toEqual(EXAMPLE_KEYS);

    const two = await tempFile("two.yaml", "key: one\nstate: enabled\n---\nkey: two\nstate: disabled\n");
    const withKey = await runCli(["flags", "set", "one", "-f", two], undefined, env);
    expect(withKey.code).toBe(1);
    expect(withKey.stderr).toBe(`greenlight: ${two} has 2 flags: drop KEY (one), each flag's own key names it\n`);
    const withIfMatch = await runCli(["flags", "set", "-f", two, "--if-match", "0"], undefined, env);
    expect(withIfMatch.code).toBe(1);
    expect(withIfMatch.stderr).toMatch(/^greenlight: --if-match guards one flag and .* has 2: /);

    // One flag: KEY may be left out when the file names it, and is needed when it does not.
    const named = await runCli(["flags", "set", "-f", "-"], "key: solo\nstate: enabled\n", env);
    expect(named.code).toBe(0);
    expect(named.stderr).toMatch(/^created flag "solo"/);
    const anonymous = await runCli(["flags", "set", "-f", "-"], "state: enabled\n", env);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toBe(
      "greenlight: <stdin>: the flag has no key: pass it (greenlight flags set KEY -f -), or put key: in the file\n",
    );

    // A write that fails part way names what was written before it.
    const stale = await tempFile(
      "stale.json",
      JSON.stringify([
        { key: "first", state: "enabled" },
        { flag: { key: "solo", state: "disabled" }, revision: 1, updatedAt: "x", updatedBy: "y" },
        { key: "third", state: "enabled" },
      ]),
    );
    const partial = await runCli(["flags", "set", "-f", stale], undefined, env);
    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(
      /^created flag "first" .*\ngreenlight: flag "solo" is at revision \d+, not 1: .* \(flag 2 of 3; 1 written before it: first; the rest were not written\)\n$/,
    );
  });
});
