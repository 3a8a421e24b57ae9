// `greenlight validate`: the validating webhook's annotation checks run over YAML files, for CI pipelines.
import type { Command } from "commander";
import { validateAnnotations } from "../../functions/contract/validate.ts";
import { CliError } from "./errors.ts";
import {
  ALLOW_EMPTY_HELP,
  describeObject,
  emptyInputError,
  parseDocuments,
  readInput,
  walkDeployments,
} from "./input.ts";

export interface ValidationEntry {
  document: number;
  /** The Deployment's index in the document's `kind: List`, when it is one of its items. */
  item?: number;
  kind: string;
  name?: string;
  namespace?: string;
  errors: string[];
  warnings: string[];
}

export interface ValidationReport {
  entries: ValidationEntry[];
  /** Objects of another kind that carry greenlight annotations, which act on Deployments only. */
  warnings: string[];
  /** Documents that hold an object (a `kind: List` counts once). */
  objects: number;
}

interface ObjectView {
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: unknown };
}

function checkDeployment(object: ObjectView, document: number, item?: number): ValidationEntry {
  const annotations = object.metadata?.annotations;
  const map = typeof annotations === "object" && annotations !== null ? (annotations as Record<string, string>) : {};
  const report = validateAnnotations(
    Object.fromEntries(Object.entries(map).map(([key, value]) => [key, String(value)])),
  );
  const entry: ValidationEntry = { document, ...(item === undefined ? {} : { item }), kind: "Deployment", ...report };
  if (object.metadata?.name) entry.name = object.metadata.name;
  if (object.metadata?.namespace) entry.namespace = object.metadata.namespace;
  return entry;
}

/** Checks every Deployment of the YAML (also inside `kind: List`), and says which other objects carry greenlight annotations. */
export function checkYaml(name: string, text: string): ValidationReport {
  const report: ValidationReport = { entries: [], warnings: [], objects: 0 };
  report.objects = walkDeployments(name, parseDocuments(name, text), "not checked", report.warnings, (index, found) => {
    for (const { object, item } of found) report.entries.push(checkDeployment(object as ObjectView, index + 1, item));
  });
  return report;
}

export function validateYaml(name: string, text: string): ValidationEntry[] {
  return checkYaml(name, text).entries;
}

export function registerValidateCommand(program: Command): void {
  program
    .command("validate")
    .description("Check the greenlight.dev/* annotations of Deployments in YAML, as the validating webhook would")
    .requiredOption("-f, --file <file>", "YAML file with one or more documents, or - for standard input")
    .option("-o, --output <format>", "text or json", "text")
    .option("--allow-empty", ALLOW_EMPTY_HELP)
    .addHelpText(
      "after",
      `
Exit status: 0 when every annotation is valid (warnings allowed), 1 when any is invalid, or when the input holds
no object at all (unless --allow-empty). Another kind that carries greenlight annotations, which act on
Deployments only, gets a warning on stderr.

Examples:
  greenlight validate -f deploy.yaml
  helm template ./chart | greenlight validate -f -
  greenlight validate -f deploy.yaml -o json | jq '.[] | select(.errors | length > 0)'`,
    )
    .action(async (flags: { file?: string; output: string; allowEmpty?: boolean }) => {
      if (flags.output !== "text" && flags.output !== "json") {
        throw new CliError(`-o ${flags.output} is not supported: use -o text or -o json`);
      }
      const input = await readInput(flags.file);
      const { entries, warnings, objects } = checkYaml(input.name, input.text);
      if (objects === 0 && !flags.allowEmpty) throw emptyInputError(input.name);
      for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
      const invalid = entries.filter((entry) => entry.errors.length > 0).length;
      if (flags.output === "json") {
        process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
      } else {
        for (const entry of entries) {
          const item = entry.item === undefined ? "" : ` item ${entry.item}`;
          const label = `${input.name}: ${describeObject({ kind: entry.kind, metadata: entry }, entry.document - 1)}${item}`;
          for (const error of entry.errors) process.stdout.write(`${label}: error: ${error}\n`);
          for (const warning of entry.warnings) process.stdout.write(`${label}: warning: ${warning}\n`);
        }
        process.stdout.write(`${entries.length} Deployment(s) checked, ${invalid} invalid\n`);
      }
      if (invalid > 0) throw new CliError(`${invalid} Deployment(s) have invalid greenlight annotations`, 1);
    });
}
