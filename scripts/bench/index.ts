// `npm run bench`: runs the benchmark parts and rewrites each one's section of docs/BENCHMARKS.md.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { benchBudgets, renderBudgetsSection } from "./budgets.ts";
import { benchCli, renderCliSection } from "./cli.ts";
import { benchEdge, renderEdgeSection } from "./edge.ts";
import { benchFlagJudge, renderFlagJudgeSection } from "./flag-judge.ts";
import { benchFlags, renderFlagsSection } from "./flags.ts";
import { benchJudge, renderJudgeSection } from "./judge.ts";
import { benchSim, renderSimSection } from "./sim.ts";
import { benchStepper, renderStepperSection } from "./stepper.ts";
import { benchWebhook, PRODUCTION_NODE_FLAGS, renderWebhookSection } from "./webhook.ts";

export interface BenchContext {
  /** Seconds per measured run. */
  duration: number;
  /** The command line, as the docs should quote it. */
  command: string;
  /** The day of the run, YYYY-MM-DD. */
  date: string;
  /** CPU model, core count, memory, Node version and load, in one line. */
  machine: string;
  /** True when the 1-minute load average at the start was at least half the core count: numbers will suffer. */
  busy: boolean;
  /** Node flags for the server processes: production's (none) unless `--server-node-flag` says otherwise. */
  serverNodeFlags: readonly string[];
  /** Progress goes to stderr; stdout stays free. */
  log: (line: string) => void;
}

type Part = (context: BenchContext) => Promise<string>;

/** Every part, in the order `npm run bench` runs them. Each owns one section of the document. */
const PARTS: Record<string, Part> = {
  webhook: async (context) => renderWebhookSection(await benchWebhook(context), context),
  stepper: async (context) => renderStepperSection(await benchStepper(context), context),
  sim: async (context) => renderSimSection(await benchSim(context), context),
  judge: async (context) => renderJudgeSection(await benchJudge(context), context),
  "flag-judge": async (context) => renderFlagJudgeSection(await benchFlagJudge(context), context),
  flags: async (context) => renderFlagsSection(await benchFlags(context), context),
  budgets: async (context) => renderBudgetsSection(await benchBudgets(context), context),
  edge: async (context) => renderEdgeSection(await benchEdge(context), context),
  cli: async (context) => renderCliSection(await benchCli(context), context),
};

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DOCUMENT = path.join(ROOT, "docs/BENCHMARKS.md");

const HEADER = [
  "# Benchmarks",
  "",
  "Written by `npm run bench` (`tsx scripts/bench/index.ts [--duration SECONDS] [--only PART]`, `--help` for the",
  "rest). Each part rewrites only its own section, between its `<!-- bench:PART:start -->` and",
  "`<!-- bench:PART:end -->` comments; edit outside them freely.",
  "",
].join("\n");

/**
 * Replaces the part's section; the rest of the document is left as it is. A section not there yet goes after the
 * last section of the parts listed before it in `order` (the order `npm run bench` runs them), else at the end.
 */
export function replaceSection(
  document: string,
  part: string,
  body: string,
  order: readonly string[] = Object.keys(PARTS),
): string {
  const start = `<!-- bench:${part}:start -->`;
  const end = `<!-- bench:${part}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const from = document.indexOf(start);
  const to = document.indexOf(end, from);
  if (from >= 0 && to >= 0) return document.slice(0, from) + section + document.slice(to + end.length);
  const earlier = order.slice(0, Math.max(0, order.indexOf(part))).reverse();
  for (const previous of earlier) {
    const previousEnd = `<!-- bench:${previous}:end -->`;
    const at = document.indexOf(previousEnd);
    if (at < 0) continue;
    const after = at + previousEnd.length;
    return `${document.slice(0, after)}\n\n${section}${document.slice(after)}`;
  }
  return `${document.trimEnd()}\n\n${section}\n`;
}

export function describeMachine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? "unknown CPU";
  const load = os.loadavg()[0] ?? 0;
  return (
    `${model}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ` +
    `${os.platform()} ${os.arch()}; load average ${load.toFixed(2)} at the start`
  );
}

const USAGE = `usage: npm run bench -- [--duration SECONDS] [--only PART] [--server-node-flag=FLAG ...] [--dry-run]
  --duration          seconds per measured run (default 10)
  --only              run one part: ${Object.keys(PARTS).join(", ")}
  --server-node-flag  a Node flag for the server processes, e.g. --server-node-flag=--max-semi-space-size=32;
                      repeatable; the default is what production runs (${PRODUCTION_NODE_FLAGS.join(" ") || "no flags"})
  --dry-run           print the sections on stdout instead of writing ${path.relative(ROOT, DOCUMENT)}`;

export async function main(argv: string[]): Promise<number> {
  let values: {
    duration?: string;
    only?: string;
    "server-node-flag"?: string[];
    "dry-run"?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        duration: { type: "string" },
        only: { type: "string" },
        "server-node-flag": { type: "string", multiple: true },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const duration = Number(values.duration ?? 10);
  if (!Number.isInteger(duration) || duration < 1) {
    process.stderr.write(`--duration must be a whole number of seconds, at least 1\n${USAGE}\n`);
    return 2;
  }
  const only = values.only;
  if (only !== undefined && !Object.hasOwn(PARTS, only)) {
    process.stderr.write(`unknown part "${only}"\n${USAGE}\n`);
    return 2;
  }

  const command = ["npm run bench", ...(argv.length > 0 ? ["--", ...argv] : [])].join(" ");
  const context: BenchContext = {
    duration,
    command,
    date: new Date().toISOString().slice(0, 10),
    machine: describeMachine(),
    busy: (os.loadavg()[0] ?? 0) >= os.cpus().length / 2,
    serverNodeFlags: values["server-node-flag"] ?? PRODUCTION_NODE_FLAGS,
    log: (line) => process.stderr.write(`${line}\n`),
  };
  context.log(`bench: ${context.machine}`);
  for (const [name, part] of Object.entries(PARTS)) {
    if (only !== undefined && name !== only) continue;
    const section = await part(context);
    if (values["dry-run"]) {
      process.stdout.write(`${section.trim()}\n`);
      continue;
    }
    // Read just before writing, so parts (or people) editing other sections meanwhile are not overwritten.
    const current = await readFile(DOCUMENT, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return HEADER;
      throw error;
    });
    await mkdir(path.dirname(DOCUMENT), { recursive: true });
    await writeFile(DOCUMENT, replaceSection(current, name, section));
    context.log(`bench: wrote the ${name} section of ${path.relative(process.cwd(), DOCUMENT)}`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
