// Entry of the greenlight CLI: builds the command tree and turns every failure into one line on stderr.
import { Command, CommanderError } from "commander";
import { registerCertsCommand } from "./certs.ts";
import { CliError } from "./errors.ts";
import { registerInjectCommand } from "./inject.ts";
import { registerValidateCommand } from "./validate.ts";
import { registerWebhookCommand } from "./webhook.ts";

export function buildProgram(): Command {
  const program = new Command("greenlight")
    .description("Progressive delivery for Kubernetes: admission webhooks, canary promotion, edge feature flags.")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerInjectCommand(program);
  registerValidateCommand(program);
  registerWebhookCommand(program);
  registerCertsCommand(program);
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
