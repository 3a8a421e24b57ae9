// Files of flags: what `greenlight flags export` writes and `greenlight flags set -f` reads back.
/*
 * A file holds one flag or several. YAML: one flag per document (`---` between them), or a list. JSON: one object,
 * or an array. Each flag is a bare definition, or a stored flag as `flags get` prints it ({flag, revision, ...}),
 * whose revision then guards its write. Export writes bare definitions in key order, so a file exported, read back
 * into an empty store and exported again is the same text.
 */
import { stringify } from "yaml";
import { isObject } from "../../../functions/contract/objects.ts";
import type { Flag } from "../../../functions/flags/types.ts";
import { parseDocuments } from "../input.ts";

export type FlagsFormat = "yaml" | "json";

/** One flag of a file: what to validate, the revision it was read at (if any), and where it is, for messages. */
export interface FlagEntry {
  input: unknown;
  revision?: number;
  /** "document 2", "item 3", "document 1 item 2": empty when the file holds one flag. */
  where: string;
}

/** The flag in a file entry: a bare definition, or a stored flag as `get` prints it (its revision guards the write). */
function unwrap(value: unknown): { input: unknown; revision?: number } {
  if (isObject(value)) {
    if (typeof value.flag === "object" && value.flag !== null && typeof value.revision === "number") {
      return { input: value.flag, revision: value.revision };
    }
  }
  return { input: value };
}

/** Every flag in the file, in order; empty documents (a trailing `---`) are not flags. */
export function readFlagEntries(name: string, text: string): FlagEntry[] {
  const documents = parseDocuments(name, text)
    .map((document): unknown => document.toJS())
    .filter((value) => value !== null && value !== undefined);
  const entries: FlagEntry[] = [];
  documents.forEach((value, index) => {
    const at = documents.length === 1 ? "" : `document ${index + 1}`;
    if (Array.isArray(value)) {
      value.forEach((item: unknown, position) => {
        entries.push({ ...unwrap(item), where: `${at ? `${at} ` : ""}item ${position + 1}` });
      });
    } else {
      entries.push({ ...unwrap(value), where: at });
    }
  });
  if (entries.length === 1 && entries[0]) entries[0].where = "";
  return entries;
}

const HEADER =
  "# greenlight flags: one flag per document, in key order. Read back with `greenlight flags set -f FILE`.\n";

/** The flags as one file: YAML documents (default) or a JSON array, sorted by key. */
export function renderFlags(flags: readonly Flag[], format: FlagsFormat): string {
  const sorted = [...flags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (format === "json") return `${JSON.stringify(sorted, null, 2)}\n`;
  return HEADER + sorted.map((flag) => `---\n${stringify(flag)}`).join("");
}
