// Entry of the greenlight CLI: builds the command tree and turns every failure into one line on stderr.
//
// Start-up time is a feature of a CLI (kubectl answers in well under 0.2 s), so only the command that runs is
// loaded: the top level knows each command by the table below (name, help term, summary) and imports a group's
// module, with everything behind it, only when that group runs or shows its own help. `--version`, `--help` and a
// mistyped command load no group at all. In the compiled CLI (scripts/build-cli.mjs, one file) a group's modules
// run only when it is loaded, which keeps `greenlight inject` within 1.5x a bare `node -e 0` (docs/BENCHMARKS.md).
import { Command, CommanderError, Help } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { CliError } from "./errors.ts";

type Register = (program: Command) => void;

/** One top-level command as `greenlight --help` lists it, without loading its module. */
export interface CommandSummary {
  name: string;
  /** The help term commander would print for the real command: the name, `[options]`, its arguments. */
  term: string;
  summary: string;
}

/** A module of scripts/cli/ and the top-level commands its register function adds, in the order it adds them. */
export interface CommandGroup {
  commands: readonly CommandSummary[];
  /**
   * The specifier `load` imports, as written there: the compiled bin checks that this module and all it imports
   * are no newer than its build before it runs one of these commands (scripts/build-cli.mjs).
   */
  module: string;
  load: () => Promise<Register>;
}

/**
 * Every command group, in `greenlight --help` order. A new command goes here, with the term and summary its help
 * shows and its module (test/cli/bin.test.ts checks that this table prints the same top-level help as the loaded
 * commands, and that each module is the one its `load` imports).
 */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  {
    commands: [
      {
        name: "inject",
        term: "inject [options]",
        summary: "Inject labels and probes into Deployments in YAML, offline, as the mutating webhook would",
      },
    ],
    module: "./inject.ts",
    load: async () => (await import("./inject.ts")).registerInjectCommand,
  },
  {
    commands: [
      {
        name: "validate",
        term: "validate [options]",
        summary: "Check the greenlight.dev/* annotations of Deployments in YAML, as the validating webhook would",
      },
    ],
    module: "./validate.ts",
    load: async () => (await import("./validate.ts")).registerValidateCommand,
  },
  {
    commands: [{ name: "webhook", term: "webhook", summary: "Run the admission webhooks, or replay a review offline" }],
    module: "./webhook.ts",
    load: async () => (await import("./webhook.ts")).registerWebhookCommand,
  },
  {
    commands: [
      {
        name: "certs",
        term: "certs [options]",
        summary:
          "Write a CA, the webhook serving certificate and the webhook configurations (caBundle set) to a directory.",
      },
    ],
    module: "./certs.ts",
    load: async () => (await import("./certs.ts")).registerCertsCommand,
  },
  {
    commands: [
      {
        name: "step",
        term: "step [options]",
        summary:
          "Run one pass of the scheduled function: step every canary, promote blue/green Deployments, guard rolling updates",
      },
      { name: "canary", term: "canary", summary: "Inspect canaries, or simulate what a canary policy would do" },
    ],
    module: "./canary.ts",
    load: async () => (await import("./canary.ts")).registerCanaryCommands,
  },
  {
    commands: [
      {
        name: "bluegreen",
        term: "bluegreen",
        summary: "Switch a blue/green Service between versions, or roll it back",
      },
    ],
    module: "./bluegreen.ts",
    load: async () => (await import("./bluegreen.ts")).registerBlueGreenCommands,
  },
  {
    commands: [
      {
        name: "flags",
        term: "flags",
        summary: "Edge feature flags: serve them over OFREP, and list, change, evaluate and audit them",
      },
    ],
    module: "./flags.ts",
    load: async () => (await import("./flags.ts")).registerFlagsCommands,
  },
  {
    commands: [
      {
        name: "start",
        term: "start [options]",
        summary:
          "Run the local stack: webhooks (HTTPS, local CA), flag API, the stepper (canary, blue/green, rolling, flag rollouts) and the dashboard",
      },
    ],
    module: "./start.ts",
    load: async () => (await import("./start.ts")).registerStartCommand,
  },
  {
    commands: [
      {
        name: "rollout",
        term: "rollout",
        summary: "Follow a Deployment's rolling update: progress, health of the new pods, exit codes",
      },
    ],
    module: "./rollout.ts",
    load: async () => (await import("./rollout.ts")).registerRolloutCommands,
  },
];

/** Options of the top level; none takes a value, so the first operand after them names the command. */
const TOP_LEVEL_FLAGS = new Set(["-V", "--version", "-h", "--help", "--"]);

/**
 * The group whose command the arguments run (or show help for, as in `greenlight help canary`), found as commander
 * will: the first word that is no option. undefined for `--version`, `--help`, no command or an unknown one.
 */
export function groupFor(args: readonly string[]): CommandGroup | undefined {
  const words = args.filter((arg) => !TOP_LEVEL_FLAGS.has(arg));
  const [first, second] = words;
  const name = first === "help" ? second : first;
  if (name === undefined || name.startsWith("-")) return undefined;
  return COMMAND_GROUPS.find((group) => group.commands.some((command) => command.name === name));
}

/** Terms of the commands registered from the table only; the loaded ones keep commander's own. */
const stubTerms = new WeakMap<Command, string>();

/**
 * The command tree with the given groups loaded (every group: `"all"`); every other command is its name and
 * summary only, enough for the top-level help, the "unknown command" error and its suggestions.
 */
export async function buildProgram(loaded: readonly CommandGroup[] | "all" = []): Promise<Command> {
  const load = loaded === "all" ? COMMAND_GROUPS : loaded;
  const program = new Command("greenlight")
    .description(
      "Progressive delivery for Kubernetes: admission webhooks, canary, blue/green and rolling promotion, edge feature flags.",
    )
    .version(packageJson.version)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .configureHelp({
      subcommandTerm(this: Help, command: Command): string {
        return stubTerms.get(command) ?? Help.prototype.subcommandTerm.call(this, command);
      },
    });
  const registers = await Promise.all(load.map((group) => group.load()));
  for (const group of COMMAND_GROUPS) {
    const at = load.indexOf(group);
    const register = registers[at];
    if (register) {
      register(program);
      continue;
    }
    for (const { name, term, summary } of group.commands) {
      const stub = program
        .command(name)
        .description(summary)
        .action(() => {
          throw new Error(`internal error: the ${name} command was not loaded`);
        });
      stubTerms.set(stub, term);
    }
  }
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
  try {
    const group = groupFor(argv.slice(2));
    const program = await buildProgram(group ? [group] : []);
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
