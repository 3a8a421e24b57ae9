// `greenlight inject`: the mutating webhook applied offline to multi-document YAML, like `istioctl kube-inject`.
import type { Command } from "commander";
import type { Document } from "yaml";
import { planInjection } from "../../webhooks/mutate/mutate.ts";
import { ShapeError } from "../../webhooks/mutate/shape.ts";
import { CliError } from "./errors.ts";
import { ALLOW_EMPTY_HELP, emptyInputError, parseDocuments, readInput, walkDeployments } from "./input.ts";
import { applyPatchToDocument } from "./yaml-patch.ts";

interface InjectFlags {
  file?: string;
  all?: boolean;
  allowEmpty?: boolean;
  output: string;
}

export interface InjectOutcome {
  text: string;
  warnings: string[];
  injected: number;
  /** Documents that hold an object (a `kind: List` counts once). */
  objects: number;
}

/**
 * Injects every opted-in Deployment (also inside `kind: List`); other documents pass through unchanged, in order,
 * with a warning for those that carry greenlight annotations (they act on Deployments only).
 */
export function injectYaml(name: string, text: string, all: boolean): InjectOutcome {
  const documents = parseDocuments(name, text);
  const warnings: string[] = [];
  let injected = 0;
  const objects = walkDeployments(name, documents, "passed through unchanged", warnings, (index, found) => {
    const document = documents[index] as Document;
    for (const target of found) {
      try {
        const plan = planInjection(target.object, all ? "namespace" : "annotation");
        for (const warning of plan.warnings) warnings.push(`${name}: ${target.label}: ${warning}`);
        if (plan.patch.length > 0) {
          applyPatchToDocument(document, plan.patch, target.prefix);
          injected++;
        }
      } catch (error) {
        if (error instanceof ShapeError) throw new CliError(`${name}: ${target.label}: ${error.message}`);
        throw error;
      }
    }
  });
  return { text: render(documents), warnings, injected, objects };
}

function render(documents: Document[]): string {
  return documents
    .map((document, index) => {
      // Every document after the first needs its `---`; documents that had one in the input keep it.
      if (index > 0 && document.directives) document.directives.docStart = true;
      return document.toString({ lineWidth: 0 });
    })
    .join("");
}

export function registerInjectCommand(program: Command): void {
  program
    .command("inject")
    .description("Inject labels and probes into Deployments in YAML, offline, as the mutating webhook would")
    .requiredOption("-f, --file <file>", "YAML file with one or more documents, or - for standard input")
    .option("--all", "inject every Deployment, as in a namespace labelled greenlight.dev/inject=enabled", false)
    .option("--allow-empty", ALLOW_EMPTY_HELP)
    .option("-o, --output <format>", "yaml or json", "yaml")
    .addHelpText(
      "after",
      `
Only Deployments annotated greenlight.dev/inject: "true" are changed (every Deployment with --all, unless
annotated "false"); other documents are written back unchanged and in order. Comments are kept.
Warnings go to stderr (also for another kind that carries greenlight annotations, which act on Deployments
only); the result goes to stdout. Input without any object is an error unless --allow-empty.

Examples:
  greenlight inject -f deploy.yaml > injected.yaml
  kubectl get deploy myapp -o yaml | greenlight inject -f - | kubectl apply -f -
  greenlight inject -f deploy.yaml --all -o json | jq '.[0].spec.template.metadata.labels'`,
    )
    .action(async (flags: InjectFlags) => {
      if (flags.output !== "yaml" && flags.output !== "json") {
        throw new CliError(`-o ${flags.output} is not supported: use -o yaml or -o json`);
      }
      const input = await readInput(flags.file);
      const outcome = injectYaml(input.name, input.text, Boolean(flags.all));
      if (outcome.objects === 0 && !flags.allowEmpty) throw emptyInputError(input.name);
      for (const warning of outcome.warnings) process.stderr.write(`warning: ${warning}\n`);
      if (flags.output === "json") {
        const objects = parseDocuments(input.name, outcome.text).map((document) => document.toJS());
        process.stdout.write(`${JSON.stringify(objects, null, 2)}\n`);
      } else {
        process.stdout.write(outcome.text);
      }
    });
}
