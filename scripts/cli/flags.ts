// `greenlight flags serve|list|get|set|delete|import|export|eval|audit|stale`: run a flag server, or manage its flags.
import type { Command } from "commander";
import { isObject } from "../../functions/contract/objects.ts";
import type {
  AuditEntry,
  EvaluationContext,
  EvaluationResult,
  Flag,
  JsonValue,
  StoredFlag,
} from "../../functions/flags/types.ts";
import { formatTable } from "../text/table.ts";
import { CliError } from "./errors.ts";
import { type FlagsBackend, notFoundHint, ProblemsError, type StaleFlag, type StaleReport } from "./flags/backend.ts";
import type { FlagEntry } from "./flags/documents.ts";
import { emitData, type Format, parseFormat } from "./flags/output.ts";
import { registerRolloutCommands } from "./flags/rollout.ts";
import { readInput } from "./input.ts";
import { parsePortOption } from "./webhook.ts";

function parseCount(option: string, max: number) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < 1 || value > max) {
      throw new CliError(`${option} ${raw} is not accepted: use a whole number from 1 to ${max}`);
    }
    return value;
  };
}

function parseRevision(raw: string): number {
  // Accept the ETag form ("3", with quotes) that `curl -i` shows, as well as the bare number.
  const bare = raw.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
  if (!/^\d+$/.test(bare)) {
    throw new CliError(
      `--if-match ${raw} is not a revision: use the flag's revision (a whole number from \`greenlight flags get\`), or 0 for "only if it does not exist"`,
    );
  }
  return Number(bare);
}

// ---- where the flags are -------------------------------------------------------------------------------------

interface TargetFlags {
  url?: string;
  token?: string;
  apiKey?: string;
  actor?: string;
  output: string;
}

async function connect(flags: TargetFlags): Promise<FlagsBackend> {
  const actor = flags.actor || process.env.USER || process.env.USERNAME || "cli";
  // Loaded on use so `greenlight --help` and the other commands do not load the store and evaluator.
  if (flags.url) {
    const { createRemoteBackend } = await import("./flags/remote.ts");
    const token = flags.token ?? process.env.GREENLIGHT_ADMIN_TOKEN;
    const apiKey = flags.apiKey ?? process.env.GREENLIGHT_FLAGS_API_KEY;
    return createRemoteBackend({
      url: flags.url,
      actor,
      ...(token ? { token } : {}),
      ...(apiKey ? { apiKey } : {}),
    });
  }
  const { createLocalBackend } = await import("./flags/local.ts");
  return createLocalBackend(process.env, process.cwd(), actor);
}

const TARGET_HELP = `
Without --url the command works on the store \`greenlight flags serve\` would use: Upstash Redis when
UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are set, else the file store in ./.greenlight (or
GREENLIGHT_FLAGS_DIR), seeded with example flags. With --url it calls that server's admin API.`;

function addTargetOptions(command: Command, options: { write?: boolean } = {}): Command {
  command
    .option("--url <url>", "a running flag server's base URL (default: the local store, see below)")
    .option("--token <token>", "admin token for --url (default: $GREENLIGHT_ADMIN_TOKEN)");
  if (options.write) command.option("--actor <name>", "who made the change, for the audit log (default: $USER)");
  return command;
}

// ---- rendering ---------------------------------------------------------------------------------------------------

const flagRow = (stored: StoredFlag): string[] => [
  stored.flag.key,
  stored.flag.state,
  `${stored.flag.percentage ?? 100}%`,
  stored.flag.segments?.length ? stored.flag.segments.join(",") : "-",
  String(stored.revision),
  `${stored.updatedAt} by ${stored.updatedBy}`,
];
const FLAG_HEADER = ["KEY", "STATE", "PERCENTAGE", "SEGMENTS", "REVISION", "UPDATED"];

const valueText = (value: JsonValue): string => (typeof value === "string" ? value : JSON.stringify(value));

/** What a put changed, field by field, short enough for one table cell. */
function describeChange(entry: AuditEntry): string {
  if (entry.action === "delete") return "deleted";
  if (!entry.before) return `created (${entry.after?.state ?? "?"})`;
  const before = entry.before as unknown as Record<string, unknown>;
  const after = (entry.after ?? {}) as unknown as Record<string, unknown>;
  const changes: string[] = [];
  for (const field of [...new Set([...Object.keys(before), ...Object.keys(after)])]) {
    const old = JSON.stringify(before[field]);
    const now = JSON.stringify(after[field]);
    if (old === now) continue;
    const scalar = (text: string | undefined) => text === undefined || text.length <= 24;
    changes.push(scalar(old) && scalar(now) ? `${field} ${old ?? "-"} -> ${now ?? "-"}` : field);
  }
  return changes.length > 0 ? changes.join(", ") : "no change";
}

// ---- commands ----------------------------------------------------------------------------------------------------

async function list(flags: TargetFlags): Promise<void> {
  const format = parseFormat(flags.output);
  const backend = await connect(flags);
  const result = await backend.list();
  if (emitData(format, result)) return;
  process.stdout.write(formatTable(FLAG_HEADER, result.flags.map(flagRow)));
  if (result.flags.length === 0) process.stderr.write(`no flags in ${backend.where}\n`);
}

async function get(key: string, flags: TargetFlags): Promise<void> {
  const format = parseFormat(flags.output);
  const stored = await (await connect(flags)).get(key);
  if (emitData(format, stored)) return;
  process.stdout.write(formatTable(FLAG_HEADER, [flagRow(stored)]));
  if (stored.flag.rollout) {
    const { describeRollout } = await import("../../functions/flags/rollout/plan.ts");
    process.stdout.write(`rollout: ${describeRollout(stored.flag)}\n`);
  }
}

interface SetFlags extends TargetFlags {
  file?: string;
  ifMatch?: number;
}

function printProblems(problems: { path: string; message: string }[], where = ""): void {
  const at = where ? `${where} ` : "";
  for (const problem of problems) process.stderr.write(`  ${at}${problem.path || "(flag)"}: ${problem.message}\n`);
}

async function set(key: string | undefined, flags: SetFlags): Promise<void> {
  const format = parseFormat(flags.output);
  const input = await readInput(flags.file);
  const { readFlagEntries } = await import("./flags/documents.ts");
  const entries = readFlagEntries(input.name, input.text);
  if (entries.length === 0) throw new CliError(`${input.name} has no flag in it`);
  if (entries.length > 1) return setMany(key, flags, format, input.name, entries);
  const { input: raw, revision } = entries[0] as FlagEntry;
  const fileKey = typeof raw === "object" && raw !== null ? (raw as { key?: unknown }).key : undefined;
  if (key === undefined && typeof fileKey !== "string") {
    throw new CliError(
      `${input.name}: the flag has no key: pass it (greenlight flags set KEY -f ${flags.file}), or put key: in the file`,
    );
  }
  const { validateFlag } = await import("../../functions/flags/validate.ts");
  // KEY names the flag when the file does not; when both do, they must agree. Checked here rather than by the
  // validator's key option, whose words are those of the admin API (the key in the URL).
  const mismatch =
    key !== undefined && typeof fileKey === "string" && fileKey !== key
      ? [
          {
            path: "/key",
            message: `${JSON.stringify(fileKey)} differs from KEY ${JSON.stringify(key)} on the command line; leave key out of the file or make them equal`,
          },
        ]
      : [];
  const keyed = key !== undefined && fileKey === undefined && isObject(raw) ? { ...raw, key } : raw;
  const validated = validateFlag(keyed);
  const checked =
    mismatch.length === 0
      ? validated
      : { ok: false as const, problems: [...mismatch, ...(validated.ok ? [] : validated.problems)] };
  const name = key ?? String(fileKey);
  if (!checked.ok) {
    printProblems(checked.problems);
    const count = checked.problems.length;
    throw new CliError(
      `${input.name}: flag "${name}" is invalid (${count} problem${count === 1 ? "" : "s"} above): nothing was written`,
    );
  }
  const backend = await connect(flags);
  const ifMatch = flags.ifMatch ?? revision;
  let outcome: Awaited<ReturnType<FlagsBackend["put"]>>;
  try {
    outcome = await backend.put(checked.flag, ifMatch);
  } catch (error) {
    if (error instanceof ProblemsError) printProblems(error.problems);
    throw error;
  }
  process.stderr.write(
    `${outcome.created ? "created" : "updated"} flag "${name}" in ${backend.where}: revision ${outcome.flag.revision}\n`,
  );
  if (emitData(format, { version: outcome.version, flag: outcome.flag })) return;
  process.stdout.write(formatTable(FLAG_HEADER, [flagRow(outcome.flag)]));
}

/** A file of several flags: all are checked before the first is written, then each is written in file order. */
async function setMany(
  key: string | undefined,
  flags: SetFlags,
  format: Format,
  name: string,
  entries: FlagEntry[],
): Promise<void> {
  if (key !== undefined) {
    throw new CliError(`${name} has ${entries.length} flags: drop KEY (${key}), each flag's own key names it`);
  }
  if (flags.ifMatch !== undefined) {
    throw new CliError(
      `--if-match guards one flag and ${name} has ${entries.length}: give each flag its revision in the file, as \`greenlight flags get\` prints it`,
    );
  }
  const { validateFlag } = await import("../../functions/flags/validate.ts");
  const checked: Array<{ flag: Flag; revision?: number }> = [];
  const firstAt = new Map<string, string>();
  let invalid = 0;
  let problemCount = 0;
  for (const entry of entries) {
    const result = validateFlag(entry.input);
    if (!result.ok) {
      const keyless = typeof entry.input === "object" && entry.input !== null && !("key" in (entry.input as object));
      const problems = keyless
        ? result.problems.map((problem) =>
            problem.path === "/key"
              ? { ...problem, message: `${problem.message} (every flag of a file of several needs its key)` }
              : problem,
          )
        : result.problems;
      printProblems(problems, entry.where);
      invalid++;
      problemCount += problems.length;
      continue;
    }
    const seen = firstAt.get(result.flag.key);
    if (seen !== undefined) {
      printProblems(
        [{ path: "/key", message: `"${result.flag.key}" is the key of ${seen} too: one flag per key` }],
        entry.where,
      );
      invalid++;
      problemCount++;
      continue;
    }
    firstAt.set(result.flag.key, entry.where);
    checked.push({ flag: result.flag, ...(entry.revision === undefined ? {} : { revision: entry.revision }) });
  }
  if (invalid > 0) {
    const problems = `${problemCount} problem${problemCount === 1 ? "" : "s"} above`;
    throw new CliError(`${name}: ${invalid} of ${entries.length} flags are invalid (${problems}): nothing was written`);
  }
  const backend = await connect(flags);
  const written: StoredFlag[] = [];
  let version = 0;
  for (const { flag, revision } of checked) {
    let outcome: Awaited<ReturnType<FlagsBackend["put"]>>;
    try {
      outcome = await backend.put(flag, revision);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      if (error instanceof ProblemsError) printProblems(error.problems);
      const done =
        written.length === 0
          ? "no flag was written"
          : `${written.length} written before it: ${written.map((stored) => stored.flag.key).join(", ")}`;
      throw new CliError(
        `${error.message} (flag ${written.length + 1} of ${checked.length}; ${done}; the rest were not written)`,
      );
    }
    process.stderr.write(
      `${outcome.created ? "created" : "updated"} flag "${flag.key}" in ${backend.where}: revision ${outcome.flag.revision}\n`,
    );
    written.push(outcome.flag);
    version = outcome.version;
  }
  if (emitData(format, { version, flags: written })) return;
  process.stdout.write(formatTable(FLAG_HEADER, written.map(flagRow)));
}

async function remove(key: string, flags: TargetFlags & { ifMatch?: number }): Promise<void> {
  const format = parseFormat(flags.output);
  const backend = await connect(flags);
  const result = await backend.remove(key, flags.ifMatch);
  if (emitData(format, result)) return;
  process.stdout.write(`deleted flag "${key}" from ${backend.where} (rule-set version ${result.version})\n`);
}

interface ImportCommandFlags extends TargetFlags {
  from: string;
  apply?: boolean;
  overwrite?: boolean;
  prefix?: string;
  unleashToken?: string;
}

interface EvalFlags extends TargetFlags {
  context?: string;
  attribute?: string[];
  targetingKey?: string;
  all?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function buildContext(flags: { context?: string; attribute?: string[]; targetingKey?: string }): EvaluationContext {
  let context: EvaluationContext = {};
  if (flags.context !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(flags.context);
    } catch (error) {
      throw new CliError(
        `--context is not JSON (${(error as Error).message}): pass an object, like '{"targetingKey":"user-1","segment":"beta"}'`,
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new CliError(
        `--context must be a JSON object, like '{"targetingKey":"user-1","segment":"beta"}', not ${JSON.stringify(parsed)}`,
      );
    }
    context = parsed as EvaluationContext;
  }
  for (const pair of flags.attribute ?? []) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new CliError(`-c ${pair} is not attr=value: use e.g. -c segment=beta -c plan=pro`);
    // Kept as strings: conditions read numeric strings as numbers and "true"/"false" as booleans, and a coerced
    // value would lose what a string condition needs ("007" is not 7).
    context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (flags.targetingKey !== undefined) context.targetingKey = flags.targetingKey;
  return context;
}

const resultRow = (result: EvaluationResult): string[] =>
  "errorCode" in result
    ? [result.key, "-", "ERROR", "-", `${result.errorCode}: ${result.errorDetails}`]
    : [result.key, valueText(result.value), result.reason, result.variant, ""];
const RESULT_HEADER = ["KEY", "VALUE", "REASON", "VARIANT", "ERROR"];

async function evaluate(key: string | undefined, flags: EvalFlags): Promise<void> {
  const format = parseFormat(flags.output);
  if (key !== undefined && flags.all) throw new CliError("pass a flag KEY or --all, not both");
  if (key === undefined && !flags.all) throw new CliError("pass the flag KEY to evaluate, or --all for every flag");
  const context = buildContext(flags);
  const backend = await connect(flags);
  if (flags.all) {
    const results = await backend.evaluateAll(context);
    if (emitData(format, { flags: results })) return;
    process.stdout.write(formatTable(RESULT_HEADER, results.map(resultRow)));
    return;
  }
  const result = await backend.evaluate(key as string, context);
  if (!emitData(format, result) && !("errorCode" in result)) {
    process.stdout.write(formatTable(RESULT_HEADER.slice(0, 4), [resultRow(result).slice(0, 4)]));
  }
  if ("errorCode" in result) {
    const hint =
      result.errorCode === "FLAG_NOT_FOUND"
        ? notFoundHint(result.key, await backend.keys())
        : result.errorCode === "TARGETING_KEY_MISSING"
          ? "pass --targeting-key, or targetingKey in --context"
          : result.errorCode === "INVALID_CONTEXT" || result.errorCode === "PARSE_ERROR"
            ? "check --context and -c"
            : `in ${backend.where}`;
    throw new CliError(`${result.key}: ${result.errorCode}: ${result.errorDetails}: ${hint}`);
  }
}

async function audit(flags: TargetFlags & { limit?: number }): Promise<void> {
  const format = parseFormat(flags.output);
  const entries = await (await connect(flags)).audit(flags.limit);
  if (emitData(format, { entries })) return;
  process.stdout.write(
    formatTable(
      ["AT", "ACTOR", "ACTION", "KEY", "VERSION", "CHANGE"],
      entries.map((entry) => [
        entry.at,
        entry.actor,
        entry.action,
        entry.key,
        String(entry.version),
        describeChange(entry),
      ]),
    ),
  );
}

type StaleFlags = TargetFlags & { days?: number; unusedDays?: number };

/** What the usage part of a stale report cannot show in its rows: whether counting has run long enough. */
function usageNote(usage: StaleReport["usage"], where: string): string | undefined {
  if (usage === undefined) return `${where} does not count evaluations: no flag is reported unused`;
  const { countingSince, unusedDays } = usage;
  if (countingSince === null) {
    return (
      `no evaluation has been counted in ${where} yet: flags are reported unused once counting has run ` +
      `${unusedDays} days (see GREENLIGHT_FLAGS_USAGE_FLUSH)`
    );
  }
  const complete = Date.parse(countingSince) + unusedDays * 86_400_000;
  if (complete <= Date.now()) return undefined;
  return (
    `evaluations are counted since ${countingSince}: flags evaluated since are reported unused ${unusedDays} days ` +
    `after their last evaluation, flags never evaluated from ${new Date(complete).toISOString()}`
  );
}

async function stale(flags: StaleFlags): Promise<void> {
  const format = parseFormat(flags.output);
  const backend = await connect(flags);
  const report = await backend.stale({
    ...(flags.days === undefined ? {} : { days: flags.days }),
    ...(flags.unusedDays === undefined ? {} : { unusedDays: flags.unusedDays }),
  });
  if (emitData(format, report)) return;
  const found: StaleFlag[] = report.flags;
  // The last evaluation only once something was counted: before, every row would say "never".
  const counted = report.usage !== undefined && report.usage.countingSince !== null;
  const columns = ["KEY", "OWNER", "EXPIRES", "UPDATED", ...(counted ? ["LAST EVALUATED"] : []), "REASONS"];
  process.stdout.write(
    formatTable(
      columns,
      found.map((flag) => [
        flag.key,
        flag.owner ?? "-",
        flag.expires ?? "-",
        flag.updatedAt,
        ...(counted ? [flag.lastEvaluated ?? "never"] : []),
        flag.reasons.join(","),
      ]),
    ),
  );
  if (found.length === 0) process.stderr.write(`no stale flags in ${backend.where}\n`);
  const note = usageNote(report.usage, backend.where);
  if (note !== undefined) process.stderr.write(`${note}\n`);
}

async function serve(flags: { port: number; host: string }): Promise<void> {
  const { flagHttpOptions, flagsConfigFromEnv } = await import("../../functions/flags/config.ts");
  const { createFlagsListener } = await import("../../functions/flags/http/node.ts");
  const { startHttpServer } = await import("../../webhooks/http/server.ts");
  let config: ReturnType<typeof flagsConfigFromEnv>;
  try {
    config = flagsConfigFromEnv(process.env, { cwd: process.cwd() });
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const app = createFlagsListener(flagHttpOptions(config));
  // Requests flush usage counts as they come; an idle server's last counts go on a timer (which keeps nothing
  // alive), and whatever is left goes on the way out.
  const flushTimer = setInterval(() => void config.cache.flushUsage?.(), config.ttlMs);
  flushTimer.unref();
  const running = await startHttpServer(app, { port: flags.port, host: flags.host }).catch(
    (error: NodeJS.ErrnoException) => {
      const hint = error.code === "EADDRINUSE" ? ` (port ${flags.port} is taken: pass --port)` : "";
      throw new CliError(`cannot listen on ${flags.host}:${flags.port}: ${error.message}${hint}`);
    },
  );
  const admin = config.adminTokens
    ? "admin API enabled"
    : "admin API disabled (set GREENLIGHT_ADMIN_TOKEN or GREENLIGHT_ADMIN_TOKENS to enable it)";
  // Handlers first: whoever reads the line below may signal at once, before the default action is replaced.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.stderr.write("shutting down\n");
      clearInterval(flushTimer);
      const flushed = config.cache.flushUsage?.({ force: true }) ?? Promise.resolve();
      flushed.then(() => running.close()).then(resolve, resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stderr.write(
    `greenlight flags listening on http://${flags.host}:${running.port} (store: ${config.describe}; ${admin})\n`,
  );
  await stopped;
}

// ---- the command tree --------------------------------------------------------------------------------------------

const OUTPUT = (fallback: Format) => ["-o, --output <format>", "table, json or yaml", fallback] as const;

export function registerFlagsCommands(program: Command): void {
  const group = program
    .command("flags")
    .description("Edge feature flags: serve them over OFREP, and list, change, evaluate and audit them")
    .addHelpText(
      "after",
      `
${TARGET_HELP.trim()}

Examples:
  greenlight flags serve --port 8081
  greenlight flags list
  greenlight flags set new-checkout -f new-checkout.yaml
  greenlight flags import --from unleash unleash.json --apply
  greenlight flags export -o flags-backup.yaml
  greenlight flags eval new-checkout --targeting-key user-1 -c segment=beta
  greenlight flags list --url https://flags.example.com --token "$TOKEN" -o json`,
    );

  group
    .command("serve")
    .description("Serve OFREP evaluation (POST /ofrep/v1/evaluate/flags) and the admin API (/admin/flags)")
    .option("--port <port>", "port to listen on", parsePortOption, 8081)
    .option("--host <host>", "address to bind", "127.0.0.1")
    .addHelpText(
      "after",
      `
The store is Upstash Redis when UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are set, else the file
store in ./.greenlight (or GREENLIGHT_FLAGS_DIR), seeded with example flags on first use. The admin API is
on only when GREENLIGHT_ADMIN_TOKEN or GREENLIGHT_ADMIN_TOKENS is set (tokens of 256 bits: openssl rand -hex 32).
Abuse limits are on (GREENLIGHT_RATE_LIMIT=off turns them off; docs/FLAGS.md, Limits), bodies over
GREENLIGHT_FLAGS_BODY_LIMIT (64KiB) are refused with 413. Stops cleanly on SIGINT and SIGTERM.

Examples:
  greenlight flags serve
  GREENLIGHT_ADMIN_TOKEN=$(openssl rand -hex 32) greenlight flags serve --port 8081 --host 0.0.0.0`,
    )
    .action((flags: { port: number; host: string }) => serve(flags));

  addTargetOptions(group.command("list").description("List every flag: state, percentage, segments, revision"))
    .option(...OUTPUT("table"))
    .addHelpText(
      "after",
      `${TARGET_HELP}

Examples:
  greenlight flags list
  greenlight flags list -o json | jq '.flags[] | select(.flag.state == "partial") | .flag.key'
  greenlight flags list --url http://127.0.0.1:8081 --token "$GREENLIGHT_ADMIN_TOKEN"`,
    )
    .action((flags: TargetFlags) => list(flags));

  addTargetOptions(group.command("get").description("Show one flag with its revision").argument("<key>", "flag key"))
    .option(...OUTPUT("yaml"))
    .addHelpText(
      "after",
      `
The YAML can be edited and given back to \`greenlight flags set KEY -f FILE\`; its revision then guards the write.
${TARGET_HELP}

Examples:
  greenlight flags get new-checkout
  greenlight flags get new-checkout > new-checkout.yaml
  greenlight flags get new-checkout -o json --url http://127.0.0.1:8081`,
    )
    .action((key: string, flags: TargetFlags) => get(key, flags));

  addTargetOptions(
    group
      .command("set")
      .description("Create or replace a flag (or every flag of a file) from JSON or YAML, after checking it")
      .argument("[key]", "flag key (default: the file's `key`; when both are given they must match)"),
    { write: true },
  )
    .requiredOption("-f, --file <file>", "the flag(s) as YAML or JSON, or - for standard input")
    .option("--if-match <revision>", "write only if the flag is at this revision (0: only if it is new)", parseRevision)
    .option(...OUTPUT("table"))
    .addHelpText(
      "after",
      `
Every problem is printed with its path and nothing is written when the flag is invalid. A file printed by
\`greenlight flags get\` (with flag and revision) is accepted; its revision is used as --if-match.
A file of several flags (YAML documents separated by ---, a YAML list or a JSON array, as
\`greenlight flags export\` writes) is checked whole before the first write, then written flag by flag; each
flag needs its key, and KEY and --if-match are not taken.
${TARGET_HELP}

Examples:
  greenlight flags set new-checkout -f new-checkout.yaml
  greenlight flags set -f backup.yaml
  echo '{"state":"partial","percentage":10}' | greenlight flags set new-checkout -f -
  greenlight flags set new-checkout -f flag.json --if-match 4 --url http://127.0.0.1:8081`,
    )
    .action((key: string | undefined, flags: SetFlags) => set(key, flags));

  addTargetOptions(group.command("delete").description("Delete a flag").argument("<key>", "flag key"), {
    write: true,
  })
    .option("--if-match <revision>", "delete only if the flag is at this revision", parseRevision)
    .option(...OUTPUT("table"))
    .addHelpText(
      "after",
      `${TARGET_HELP}

Examples:
  greenlight flags delete old-banner
  greenlight flags delete old-banner --if-match 7 --url http://127.0.0.1:8081`,
    )
    .action((key: string, flags: TargetFlags & { ifMatch?: number }) => remove(key, flags));

  addTargetOptions(
    group
      .command("import")
      .description("Import Unleash features as flags: a report of what maps and what is skipped, written with --apply")
      .argument("<source>", "Unleash client API JSON: a file, - for standard input, or an http(s) URL"),
    { write: true },
  )
    .requiredOption("--from <system>", "where the features come from: unleash")
    .option("--apply", "write the mapped flags (default: a dry run that writes nothing)")
    .option("--overwrite", "replace a stored flag of the same key (written with If-Match on its revision)")
    .option("--prefix <prefix>", "put before every feature name to make the flag key, e.g. unleash.")
    .option("--unleash-token <token>", "sent as Authorization when <source> is a URL (default: $UNLEASH_API_TOKEN)")
    .option(...OUTPUT("table"))
    .addHelpText(
      "after",
      `
Reads the response of Unleash's /api/client/features ({features, segments}, or a delta {events}) and maps
each feature with functions/flags/unleash.ts: a feature becomes a flag only when the flag answers as an Unleash
SDK would; anything else is skipped with the reason. Every mapped flag is validated before anything is written;
with --apply each is written on its own, created only if its key is new (or, with --overwrite, only if it is
still at the revision the report shows), so a flag is written whole or not at all.
A stored flag with the same definition is "unchanged"; with another definition, a "conflict".

Exit codes: 0 every feature was imported (or, dry run, would be); 3 some were skipped or in conflict, the
others imported; 1 a write (or the store) failed; 2 the source cannot be read or is not an Unleash document.
${TARGET_HELP}

Examples:
  greenlight flags import --from unleash unleash.json
  greenlight flags import --from unleash unleash.json --apply --prefix unleash.
  greenlight flags import --from unleash https://unleash.example.com/api/client/features \\
    --unleash-token "$UNLEASH_CLIENT_TOKEN" --apply --url http://127.0.0.1:8081 --token "$GREENLIGHT_ADMIN_TOKEN"`,
    )
    .action(async (source: string, flags: ImportCommandFlags) => {
      const { importFlags } = await import("./flags/import.ts");
      await importFlags(source, {
        from: flags.from,
        format: parseFormat(flags.output),
        connect: () => connect(flags),
        ...(flags.apply ? { apply: true } : {}),
        ...(flags.overwrite ? { overwrite: true } : {}),
        ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}),
        ...(flags.unleashToken !== undefined ? { unleashToken: flags.unleashToken } : {}),
      });
    });

  addTargetOptions(
    group
      .command("export")
      .description("Write the flags (all, or the KEYs) to a YAML or JSON file that `flags set -f` reads back")
      .argument("[keys...]", "flag keys (default: every flag)"),
  )
    .option("-o, --output <file>", "the file to write (default: standard output)")
    .option("--format <format>", "yaml or json (default: json for a .json file, else yaml)")
    .addHelpText(
      "after",
      `
The flags are written in key order without revisions, one YAML document each (or one JSON array), so
\`greenlight flags set -f FILE\` restores them anywhere; a file is replaced only once it is written whole.
${TARGET_HELP}

Examples:
  greenlight flags export -o flags-backup.yaml
  greenlight flags export new-checkout dark-mode --format json
  greenlight flags export -o prod.yaml --url https://flags.example.com --token "$TOKEN"
  greenlight flags set -f flags-backup.yaml --url http://127.0.0.1:8081`,
    )
    .action(async (keys: string[], flags: TargetFlags & { format?: string }) => {
      const { exportFlags } = await import("./flags/export.ts");
      await exportFlags(keys, {
        backend: await connect(flags),
        ...(flags.output !== undefined ? { output: flags.output } : {}),
        ...(flags.format !== undefined ? { format: flags.format } : {}),
      });
    });

  group
    .command("eval")
    .description("Evaluate a flag (or every flag) for a context, as an OFREP client would see it")
    .argument("[key]", "flag key (omit with --all)")
    .option("--context <json>", `evaluation context as a JSON object, e.g. '{"targetingKey":"user-1"}'`)
    .option(
      "-c, --attribute <attr=value>",
      "one context attribute, as a string; repeatable (typed values: --context)",
      collect,
    )
    .option("--targeting-key <key>", "the context's targetingKey, which buckets percentage splits")
    .option("--all", "evaluate every flag (OFREP bulk evaluation)")
    .option("--url <url>", "a running flag server's base URL: evaluate over OFREP (default: the local store)")
    .option("--api-key <key>", "evaluation API key for --url (default: $GREENLIGHT_FLAGS_API_KEY)")
    .option(...OUTPUT("table"))
    .addHelpText(
      "after",
      `
Prints value, reason and variant; -o json prints the OFREP response. A false value is an answer (exit 0);
an evaluation error such as FLAG_NOT_FOUND exits 1.
${TARGET_HELP.replace("calls that server's admin API", "evaluates over that server's OFREP API")}

Examples:
  greenlight flags eval new-checkout --targeting-key user-1
  greenlight flags eval new-checkout -c segment=beta -c plan=pro --targeting-key user-1
  greenlight flags eval --all --context '{"targetingKey":"user-1","segment":"beta"}' -o json
  greenlight flags eval new-checkout --url http://127.0.0.1:8081 -o json`,
    )
    .action((key: string | undefined, flags: EvalFlags) => evaluate(key, flags));

  addTargetOptions(group.command("audit").description("Show the newest writes first: who changed which flag, how"))
    .option("--limit <n>", "how many entries", parseCount("--limit", 1000), 20)
    .option(...OUTPUT("table"))
    .addHelpText(
      "after",
      `${TARGET_HELP}

Examples:
  greenlight flags audit
  greenlight flags audit --limit 100 -o json | jq '.entries[] | select(.key == "new-checkout")'`,
    )
    .action((flags: TargetFlags & { limit?: number }) => audit(flags));

  addTargetOptions(
    group
      .command("stale")
      .description(
        "List flags past their expires date, unchanged for --days or not evaluated for --unused-days: candidates to remove",
      ),
  )
    .option("--days <n>", "a flag not written for this many days is stale", parseCount("--days", 3650), 90)
    .option(
      "--unused-days <n>",
      "a flag not evaluated for this many days is stale (default: $GREENLIGHT_FLAGS_UNUSED_DAYS or 30; with --url, " +
        "the server's)",
      parseCount("--unused-days", 3650),
    )
    .option(...OUTPUT("table"))
    .addHelpText(
      "after",
      `${TARGET_HELP}

Reasons: expired (its expires date has come), unchanged (not written for --days), unused (not evaluated for
--unused-days). Evaluations are counted by every flag server that counts usage (GREENLIGHT_FLAGS_USAGE_FLUSH) and
only from when it began: a flag never evaluated is reported unused once counting has run --unused-days days and the
flag was last written at least that long ago. The table's LAST EVALUATED column appears once something was counted;
-o json gives each flag's lastEvaluated (null: never) and usage.countingSince.

Examples:
  greenlight flags stale
  greenlight flags stale --unused-days 14
  greenlight flags stale --days 90 --unused-days 30 -o json --url http://127.0.0.1:8081`,
    )
    .action((flags: StaleFlags) => stale(flags));

  registerRolloutCommands(group, connect, addTargetOptions, parseRevision);
}
