// The `flags` commands' -o option: table (or text), json or yaml, and the data printed for json and yaml.
import { stringify } from "yaml";
import { CliError } from "../errors.ts";

export type Format = "table" | "json" | "yaml";

export function parseFormat(raw: string): Format {
  // `text` is what the other commands call their human output; accept it here too.
  if (raw === "text") return "table";
  if (raw !== "table" && raw !== "json" && raw !== "yaml") {
    throw new CliError(`-o ${raw} is not supported: use -o table, -o json or -o yaml`);
  }
  return raw;
}

/** Data for -o json / -o yaml; false when the caller prints its table instead. */
export function emitData(format: Format, data: unknown): boolean {
  if (format === "json") process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === "yaml") process.stdout.write(stringify(data));
  return format !== "table";
}
