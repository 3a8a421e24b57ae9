// Entry of the greenlight CLI: builds the command tree and turns every failure into one line on stderr.
import { Command, CommanderError } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { registerBlueGreenCommands } from "./bluegreen.ts";
import { registerCanaryCommands } from "./canary.ts";
import { registerCertsCommand } from "./certs.ts";
import { CliError } from "./errors.ts";
import { registerFlagsCommands } from "./flags.ts";
import { registerInjectCommand } from "./inject.ts";
import { registerRolloutCommands } from "./rollout.ts";
import { registerStartCommand } from "./start.ts";
import { registerValidateCommand } from "./validate.ts";
import { registerWebhookCommand } from "./webhook.ts";

export function buildProgram(): Command {
  const program = new Command("greenlight")
    .description(
      "Progressive delivery for Kubernetes: admission webhooks, canary, blue/green and rolling promotion, edge feature flags.",
    )
    .version(packageJson.version)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerInjectCommand(program);
  registerValidateCommand(program);
  registerWebhookCommand(program);
  registerCertsCommand(program);
  registerCanaryCommands(program);
  registerBlueGreenCommands(program);
  registerFlagsCommands(program);
  registerStartCommand(program);
  registerRolloutCommands(program);
  program.addHelpText(
    "after",
    `
Every command takes --help. Errors are one line on stderr with a non-zero exit code; data goes to stdout
(-o json where it is data), so commands pipe.

Examples:
  greenlight inject -f deploy.yaml | kubectl apply -f -
  greenlight validate -f deploy.yaml
  greenlight webhook serve --port 8080
  greenlight webhook replay -f review.json --patch
  greenlight certs --out .greenlight/certs -n greenlight-system
  greenlight step --once --dry-run -n production
  greenlight canary status -A
  greenlight canary simulate -f deploy.yaml --error-rate 0.5%,3%@12m
  greenlight bluegreen switch myapp --to green -n production
  greenlight rollout watch myapp -n production --timeout 10m
  greenlight flags eval new_ui_interface --targeting-key user-1
  greenlight start`,
  );
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exitCode 0; usage errors were already printed by commander.
      return error.exitCode;
    }
    if (error instanceof CliError) {
      process.stderr.write(`greenlight: ${error.message}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`greenlight: ${message}\n`);
    return 1;
  }
}
