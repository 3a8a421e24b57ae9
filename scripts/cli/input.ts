// Reads the `-f FILE|-` input of a command and splits YAML into documents, with errors that name file and line.
import { readFile } from "node:fs/promises";
import { type Document, parseAllDocuments } from "yaml";
import { isKnownKey, KEYS, type Key, PREFIX } from "../../functions/contract/annotations.ts";
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

/** ` (Service production/myapp)`, or "" for an object without a kind. */
export function kindAndName(object: unknown): string {
  const ref = (typeof object === "object" && object !== null ? object : {}) as ObjectRef & { metadata?: ObjectRef };
  const name = [ref.metadata?.namespace, ref.metadata?.name].filter(Boolean).join("/");
  return ref.kind ? ` (${ref.kind}${name ? ` ${name}` : ""})` : "";
}

export function describeObject(object: unknown, index: number): string {
  return `document ${index + 1}${kindAndName(object)}`;
}

export const isDeployment = (object: unknown): boolean => {
  const ref = (typeof object === "object" && object !== null ? object : {}) as ObjectRef;
  return ref.kind === "Deployment" && typeof ref.apiVersion === "string" && ref.apiVersion.startsWith("apps/");
};

/**
 * The error for input without a single object: `helm template ... | greenlight validate -f -` must not pass when
 * helm failed and wrote nothing. `--allow-empty` is the way out for a pipeline where nothing is a valid answer.
 */
export function emptyInputError(name: string): CliError {
  const why = `the input is empty or only comments and ---${name === "<stdin>" ? "; did the command before the pipe fail?" : ""}`;
  return new CliError(`${name}: no Kubernetes objects read (${why}): pass --allow-empty to accept empty input`);
}

export const ALLOW_EMPTY_HELP = "accept input without any object (by default an error, as when helm template failed)";

/**
 * One warning for an object that is not an apps/v1 Deployment but carries greenlight.dev/ annotations, which act on
 * Deployments only: a Service annotated greenlight.dev/inject is most likely a mistake. greenlight's own status
 * annotations (greenlight.dev/status on a blue/green Service) are where they belong and get no word.
 */
export function strayAnnotationWarning(object: unknown, label: string, outcome: string): string | undefined {
  if (isDeployment(object)) return undefined;
  const ref = (typeof object === "object" && object !== null ? object : {}) as ObjectRef & {
    metadata?: ObjectRef & { annotations?: unknown };
  };
  const annotations = ref.metadata?.annotations;
  if (typeof annotations !== "object" || annotations === null) return undefined;
  const keys = Object.keys(annotations).filter(
    (key) =>
      key.startsWith(PREFIX) &&
      !(isKnownKey(key.slice(PREFIX.length)) && KEYS[key.slice(PREFIX.length) as Key].scope === "status"),
  );
  if (keys.length === 0) return undefined;
  const kind = ref.kind ?? "object";
  const hint =
    ref.kind === "Namespace" && keys.includes(`${PREFIX}inject`)
      ? ` (a namespace opts in with a label: kubectl label namespace ${ref.metadata?.name ?? "NAME"} ${PREFIX}inject=enabled)`
      : "";
  return `${label}: ${keys.join(", ")}: greenlight annotations act on Deployments (apps/v1) only; this ${kind} is ${outcome}${hint}`;
}

/** A Deployment found in the input: at the top of a document, or an item of a document's `kind: List`. */
export interface FoundDeployment {
  object: unknown;
  /** Where it sits in its document: `[]`, or `["items", i]` in a List. */
  prefix: (string | number)[];
  /** The List item's index, when it is one. */
  item?: number;
  /** How messages name it: `Deployment myapp (document 2)`, and ` item 3` in a List. */
  label: string;
}

/**
 * Walks the documents as `inject` and `validate` both read them: each document's Deployments (also inside
 * `kind: List`) go to `visit` with the document's index, after the warnings for that document's other objects that
 * carry greenlight annotations (which act on Deployments only; `outcome` says what happened to them). Returns how
 * many documents hold an object at all (a List counts once), for the empty-input check.
 */
export function walkDeployments(
  name: string,
  documents: readonly Document[],
  outcome: string,
  warnings: string[],
  visit: (index: number, found: FoundDeployment[]) => void,
): number {
  let objects = 0;
  documents.forEach((document, index) => {
    const object: unknown = document.toJS();
    // A document of only comments, or an empty one between two `---`, holds nothing.
    if (object == null) return;
    objects++;
    const stray = (item: unknown, label: string) => {
      const warning = strayAnnotationWarning(item, `${name}: ${label}`, outcome);
      if (warning) warnings.push(warning);
    };
    const found: FoundDeployment[] = [];
    if (isDeployment(object)) found.push({ object, prefix: [], label: describeObject(object, index) });
    else stray(object, describeObject(object, index));
    const items = (object as { kind?: unknown; items?: unknown }).items;
    if ((object as { kind?: unknown }).kind === "List" && Array.isArray(items)) {
      items.forEach((item: unknown, i) => {
        if (isDeployment(item)) {
          found.push({
            object: item,
            prefix: ["items", i],
            item: i,
            label: `${describeObject(item, index)} item ${i}`,
          });
        } else stray(item, `${describeObject(object, index)} item ${i}${kindAndName(item)}`);
      });
    }
    visit(index, found);
  });
  return objects;
}
