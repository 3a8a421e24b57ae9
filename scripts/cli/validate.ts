// `greenlight validate`: the validating webhook's annotation checks run over YAML files, for CI pipelines.
import type { Command } from "commander";
import { validateAnnotations } from "../../functions/contract/validate.ts";
import { CliError } from "./errors.ts";
import { describeObject, isDeployment, parseDocuments, readInput } from "./input.ts";

export interface ValidationEntry {
  document: number;
  kind: string;
  name?: string;
  namespace?: string;
  errors: string[];
  warnings: string[];
}

export function validateYaml(name: string, text: string): ValidationEntry[] {
  const entries: ValidationEntry[] = [];
  parseDocuments(name, text).forEach((document, index) => {
    const object = document.toJS() as {
      kind?: string;
      metadata?: { name?: string; namespace?: string; annotations?: unknown };
    };
    if (!isDeployment(object)) return;
    const annotations = object.metadata?.annotations;
    const map = typeof annotations === "object" && annotations !== null ? (annotations as Record<string, string>) : {};
    const report = validateAnnotations(
      Object.fromEntries(Object.entries(map).map(([key, value]) => [key, String(value)])),
    );
    const entry: ValidationEntry = { document: index + 1, kind: "Deployment", ...report };
    if (object.metadata?.name) entry.name = object.metadata.name;
    if (object.metadata?.namespace) entry.namespace = object.metadata.namespace;
    entries.push(entry);
  });
  return entries;
}

export function registerValidateCommand(program: Command): void {
  program
    .command("validate")
    .description("Check the greenlight.dev/* annotations of Deployments in YAML, as the validating webhook would")
    .requiredOption("-f, --file <file>", "YAML file with one or more documents, or - for standard input")
    .option("-o, --output <format>", "text or json", "text")
    .addHelpText(
      "after",
      `
Exit status: 0 when every annotation is valid (warnings allowed), 1 when any is invalid.

Examples:
  greenlight validate -f deploy.yaml
  helm template ./chart | greenlight validate -f -
  greenlight validate -f deploy.yaml -o json | jq '.[] | select(.errors | length > 0)'`,
    )
    .action(async (flags: { file?: string; output: string }) => {
      if (flags.output !== "text" && flags.output !== "json") {
        throw new CliError(`-o ${flags.output} is not supported: use -o text or -o json`);
      }
      const input = await readInput(flags.file);
      const entries = validateYaml(input.name, input.text);
      const invalid = entries.filter((entry) => entry.errors.length > 0).length;
      if (flags.output === "json") {
        process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
      } else {
        for (const entry of entries) {
          const label = `${input.name}: ${describeObject({ kind: entry.kind, metadata: entry }, entry.document - 1)}`;
          for (const error of entry.errors) process.stdout.write(`${label}: error: ${error}\n`);
          for (const warning of entry.warnings) process.stdout.write(`${label}: warning: ${warning}\n`);
        }
        process.stdout.write(`${entries.length} Deployment(s) checked, ${invalid} invalid\n`);
      }
      if (invalid > 0) throw new CliError(`${invalid} Deployment(s) have invalid greenlight annotations`, 1);
    });
}
