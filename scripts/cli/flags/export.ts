// `greenlight flags export [KEY...]`: the flags as one YAML or JSON file that `greenlight flags set -f` reads back.
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CliError } from "../errors.ts";
import { type FlagsBackend, notFoundHint } from "./backend.ts";
import { type FlagsFormat, renderFlags } from "./documents.ts";

export interface ExportOptions {
  /** A file to write, or "-" / absent for standard output. */
  output?: string;
  format?: string;
  backend: FlagsBackend;
}

/** --format, else the output file's extension (.json is JSON), else YAML. */
function formatOf(options: ExportOptions): FlagsFormat {
  const raw = options.format ?? (options.output?.toLowerCase().endsWith(".json") ? "json" : "yaml");
  if (raw === "yml") return "yaml";
  if (raw !== "yaml" && raw !== "json") throw new CliError(`--format ${raw} is not supported: use yaml or json`);
  return raw;
}

/** Written beside the target and renamed over it, so a backup is never left half-written. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(temporary, text);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT" ? "no such directory" : code === "EISDIR" ? "is a directory" : (error as Error).message;
    throw new CliError(`cannot write ${file}: ${reason}`);
  }
}

export async function exportFlags(keys: readonly string[], options: ExportOptions): Promise<void> {
  const format = formatOf(options);
  const { backend } = options;
  const { flags } = await backend.list();
  const known = new Map(flags.map((stored) => [stored.flag.key, stored.flag]));
  const missing = keys.filter((key) => !known.has(key));
  if (missing.length > 0) {
    const first = missing[0] as string;
    const which =
      missing.length === 1 ? `no flag "${first}"` : `no flags ${missing.map((key) => `"${key}"`).join(", ")}`;
    throw new CliError(`${which} in ${backend.where}: ${notFoundHint(first, [...known.keys()])}; nothing was exported`);
  }
  const chosen = keys.length > 0 ? [...new Set(keys)].map((key) => known.get(key)!) : [...known.values()];
  const text = renderFlags(chosen, format);
  const toFile = options.output !== undefined && options.output !== "-";
  if (toFile) await writeAtomically(options.output as string, text);
  else process.stdout.write(text);
  const count = `${chosen.length} flag${chosen.length === 1 ? "" : "s"}`;
  process.stderr.write(`exported ${count} from ${backend.where}${toFile ? ` to ${options.output}` : ""}\n`);
}
