// Reads the `-f FILE|-` input of a command and splits YAML into documents, with errors that name file and line.
import { readFile } from "node:fs/promises";
import { type Document, parseAllDocuments } from "yaml";
import { CliError } from "./errors.ts";

export async function readInput(file: string | undefined): Promise<{ name: string; text: string }> {
  if (!file) throw new CliError("no input: pass -f FILE, or -f - to read standard input");
  if (file === "-") {
    if (process.stdin.isTTY) throw new CliError("-f - reads standard input, but it is a terminal: pipe a file in");
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return { name: "<stdin>", text: Buffer.concat(chunks).toString("utf8") };
  }
  try {
    return { name: file, text: await readFile(file, "utf8") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (error as Error).message;
    throw new CliError(`cannot read ${file}: ${reason}`);
  }
}

/** Every YAML document of the input, in order; any syntax error stops the command before it writes anything. */
export function parseDocuments(name: string, text: string): Document[] {
  const documents = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(documents)) return [];
  documents.forEach((document, index) => {
    const [error] = document.errors;
    if (error) {
      const line = error.linePos?.[0]?.line;
      throw new CliError(
        `${name}: document ${index + 1}${line ? `, line ${line}` : ""}: ${error.message.split("\n")[0]}`,
      );
    }
  });
  return documents;
}

export interface ObjectRef {
  kind?: string;
  apiVersion?: string;
  name?: string;
  namespace?: string;
}

export function describeObject(object: unknown, index: number): string {
  const ref = (typeof object === "object" && object !== null ? object : {}) as ObjectRef & { metadata?: ObjectRef };
  const name = [ref.metadata?.namespace, ref.metadata?.name].filter(Boolean).join("/");
  return `document ${index + 1}${ref.kind ? ` (${ref.kind}${name ? ` ${name}` : ""})` : ""}`;
}

export const isDeployment = (object: unknown): boolean => {
  const ref = (typeof object === "object" && object !== null ? object : {}) as ObjectRef;
  return ref.kind === "Deployment" && typeof ref.apiVersion === "string" && ref.apiVersion.startsWith("apps/");
};
