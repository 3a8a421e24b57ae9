// `greenlight flags import --from unleash FILE|URL`: Unleash features to greenlight flags, dry run unless --apply.
import { readFile } from "node:fs/promises";
import { stringify } from "yaml";
import { importUnleashFeatures } from "../../../functions/flags/unleash.ts";
import { type ImportRow, planUnleashImport, prefixProblem } from "../../../functions/flags/unleash-plan.ts";
import { formatTable } from "../../text/table.ts";
import { CliError } from "../errors.ts";
import { exitOnInterrupt, LiveView, weightBar } from "../live.ts";
import { type FlagsBackend, ProblemsError } from "./backend.ts";

/** Exit codes: 0 every feature imported (or would be), 3 some skipped or in conflict, 1 a write failed, 2 bad input. */
export const EXIT_NOT_ALL_IMPORTED = 3;
export const EXIT_BAD_INPUT = 2;

export interface ImportOptions {
  from: string;
  apply?: boolean;
  overwrite?: boolean;
  prefix?: string;
  unleashToken?: string;
  format: "table" | "json" | "yaml";
  /** The backend `flags set` would use; called once the document has been read and mapped. */
  connect: () => Promise<FlagsBackend>;
  /** Per request to an Unleash URL. */
  timeoutMs?: number;
}

/** A row of the report: the plan's, then what writing it did (--apply). */
export interface ReportRow extends Omit<ImportRow, "result"> {
  result: ImportRow["result"] | "failed";
  /** --apply: the revision the flag was written at, and whether it was new. */
  written?: { revision: number; created: boolean };
}

export interface ImportReport {
  source: string;
  where: string;
  dryRun: boolean;
  features: ReportRow[];
  summary: Record<ReportRow["result"] | "written", number>;
}

const badInput = (message: string): CliError => new CliError(message, EXIT_BAD_INPUT);

/** Why a fetch failed: "fetch failed" hides the errno code (or the message) in `cause`. */
function networkReason(error: unknown): string {
  let current: unknown = error;
  let reason = error instanceof Error ? error.message : String(error);
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    if (current instanceof Error && current !== error) reason = current.message;
    current = (current as { cause?: unknown }).cause;
  }
  return reason;
}

const CLIENT_API = "the client API URL, like https://unleash.example.com/api/client/features";

/** GET the document; the token goes in Authorization as Unleash expects a client token (no "Bearer"). */
async function fetchDocument(raw: string, token: string | undefined, timeoutMs: number) {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badInput(`${raw} is not a URL: pass ${CLIENT_API}, or a file`);
  }
  // Never print credentials a URL may carry.
  const name = `${url.origin}${url.pathname}${url.search}`;
  const headers: Record<string, string> = { accept: "application/json", "unleash-appname": "greenlight-import" };
  if (token) headers.authorization = token;
  let response: Response;
  try {
    response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    if ((error as Error).name === "TimeoutError") {
      throw badInput(`${name} did not answer within ${timeoutMs / 1000}s: nothing was imported`);
    }
    throw badInput(`cannot fetch ${name} (${networkReason(error)}): nothing was imported`);
  }
  const text = await response.text();
  if (response.status === 401 || response.status === 403) {
    throw badInput(
      `${name} answered ${response.status}: pass an Unleash client token with --unleash-token (or $UNLEASH_API_TOKEN)`,
    );
  }
  if (!response.ok) throw badInput(`${name} answered ${response.status}: pass ${CLIENT_API}`);
  return { name, text };
}

async function readDocument(source: string, token: string | undefined, timeoutMs: number) {
  if (/^https?:\/\//i.test(source)) return fetchDocument(source, token, timeoutMs);
  if (source === "-") {
    if (process.stdin.isTTY) throw badInput("- reads standard input, but it is a terminal: pipe the Unleash JSON in");
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return { name: "<stdin>", text: Buffer.concat(chunks).toString("utf8") };
  }
  try {
    return { name: source, text: await readFile(source, "utf8") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (error as Error).message;
    throw badInput(`cannot read ${source}: ${reason}`);
  }
}

/** What the DETAIL column says about a row. */
function detail(row: ReportRow, dryRun: boolean): string {
  const flag = row.flag;
  const shape = flag
    ? [
        `${flag.state}${flag.percentage !== undefined && flag.percentage < 100 ? ` ${flag.percentage}%` : ""}`,
        flag.conditions?.length ? `${flag.conditions.length} condition${flag.conditions.length === 1 ? "" : "s"}` : "",
        flag.startTime ? `from ${flag.startTime}` : "",
        flag.endTime ? `until ${flag.endTime}` : "",
      ]
        .filter(Boolean)
        .join(", ")
    : "";
  const split =
    flag?.percentage !== undefined && flag.percentage < 100
      ? `; splits by targetingKey = ${row.stickiness ?? "userId (else sessionId)"}`
      : "";
  switch (row.result) {
    case "skipped":
    case "conflict":
    case "failed":
      return row.reason ?? "";
    case "unchanged":
      return `stored already at revision ${row.revision} as the same flag`;
    case "mapped":
      if (row.written) {
        return row.written.created
          ? `created at revision ${row.written.revision}: ${shape}${split}`
          : `replaced revision ${row.revision} (now ${row.written.revision}): ${shape}${split}`;
      }
      if (!dryRun) return `not written: ${shape}${split}`;
      return row.revision === undefined
        ? `would create: ${shape}${split}`
        : `would replace revision ${row.revision}: ${shape}${split}`;
  }
}

function summarize(rows: readonly ReportRow[]): ImportReport["summary"] {
  const summary = { mapped: 0, unchanged: 0, conflict: 0, skipped: 0, failed: 0, written: 0 };
  for (const row of rows) {
    summary[row.result]++;
    if (row.written) summary.written++;
  }
  return summary;
}

/**
 * Writes every mapped row, each with its own If-Match: 0 (create only) or the revision it replaces. On a terminal
 * one progress line on stderr is redrawn in place after each write and erased before the report.
 */
async function apply(rows: ReportRow[], backend: FlagsBackend): Promise<void> {
  const mapped = rows.filter((row) => row.result === "mapped" && row.flag).length;
  const progress = new LiveView(process.stderr);
  const stopProgress = progress.live ? exitOnInterrupt([progress]) : () => undefined;
  let done = 0;
  try {
    for (const row of rows) {
      const flag = row.flag;
      if (row.result !== "mapped" || !flag) continue;
      await applyRow(row, flag, backend);
      done += 1;
      if (progress.live) progress.render(`importing: ${done}/${mapped} ${weightBar(done, mapped)} ${row.key ?? ""}`);
    }
  } finally {
    progress.clear();
    stopProgress();
  }
}

/** One write; a refusal the CLI can explain marks the row failed (the flag left as it was), anything else throws. */
async function applyRow(row: ReportRow, flag: NonNullable<ReportRow["flag"]>, backend: FlagsBackend) {
  try {
    const outcome = await backend.put(flag, row.revision ?? 0);
    row.written = { revision: outcome.flag.revision, created: outcome.created };
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    const problems =
      error instanceof ProblemsError
        ? `: ${error.problems.map((problem) => `${problem.path || "(flag)"}: ${problem.message}`).join("; ")}`
        : "";
    row.result = "failed";
    row.reason = `${error.message}${problems}`;
  }
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? "" : "s"}`;

export async function importFlags(source: string, options: ImportOptions): Promise<void> {
  if (options.from !== "unleash") {
    throw new CliError(`--from ${options.from} is not supported: use --from unleash`);
  }
  const prefix = options.prefix ?? "";
  const badPrefix = prefixProblem(prefix);
  if (badPrefix !== undefined) throw new CliError(badPrefix);
  const token = options.unleashToken ?? process.env.UNLEASH_API_TOKEN;
  const document = await readDocument(source, token || undefined, options.timeoutMs ?? 30_000);
  let json: unknown;
  try {
    json = JSON.parse(document.text);
  } catch (error) {
    throw badInput(
      `${document.name} is not JSON (${(error as Error).message}): pass Unleash's client API response (${CLIENT_API})`,
    );
  }
  const imported = importUnleashFeatures(json);
  const unusable = imported.skipped.find((skip) => skip.name === "(input)");
  if (unusable !== undefined) throw badInput(`${document.name}: ${unusable.reason}`);

  const backend = await options.connect();
  const existing = new Map((await backend.list()).flags.map((stored) => [stored.flag.key, stored]));
  const rows: ReportRow[] = planUnleashImport(imported, existing, {
    prefix,
    ...(options.overwrite ? { overwrite: true } : {}),
  });
  const dryRun = !options.apply;
  if (!dryRun) await apply(rows, backend);

  const summary = summarize(rows);
  const report: ImportReport = { source: document.name, where: backend.where, dryRun, features: rows, summary };
  if (options.format === "json") process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (options.format === "yaml") process.stdout.write(stringify(report));
  else {
    process.stdout.write(
      formatTable(
        ["FEATURE", "RESULT", "FLAG", "DETAIL"],
        rows.map((row) => [row.feature, row.result, row.key ?? "-", detail(row, dryRun)]),
      ),
    );
  }

  const total = rows.length;
  if (dryRun) {
    const next =
      summary.mapped > 0 ? `--apply writes the ${plural(summary.mapped, "mapped flag")}` : "nothing to write";
    process.stderr.write(`dry run: nothing was written to ${backend.where}; ${next}\n`);
  } else {
    const replaced = rows.filter((row) => row.written && !row.written.created).length;
    process.stderr.write(
      `wrote ${plural(summary.written, "flag")} to ${backend.where} (${summary.written - replaced} created, ${replaced} replaced)\n`,
    );
  }
  if (summary.failed > 0) {
    throw new CliError(
      `${summary.failed} of ${summary.failed + summary.written} flags could not be written (see the report); each was left as it was`,
    );
  }
  const left = summary.skipped + summary.conflict;
  if (left > 0) {
    const parts = [
      summary.skipped ? `${summary.skipped} skipped` : "",
      summary.conflict ? `${summary.conflict} in conflict (--overwrite replaces them)` : "",
    ].filter(Boolean);
    throw new CliError(
      `${left} of ${plural(total, "Unleash feature")} not imported: ${parts.join(", ")}; the report says why`,
      EXIT_NOT_ALL_IMPORTED,
    );
  }
  if (total === 0) process.stderr.write(`${document.name} has no features\n`);
}
