// `greenlight flags rollout status|pause|resume|abort KEY`: a flag's guarded rollout, read and steered, against the
// local store or a flag server's admin API (--url) like the other `flags` commands.
import type { Command } from "commander";
import type { RolloutControl } from "../../../functions/flags/rollout/plan.ts";
import type { StoredFlag } from "../../../functions/flags/types.ts";
import { CliError } from "../errors.ts";
import type { FlagsBackend } from "./backend.ts";
import { emitData, parseFormat } from "./output.ts";

export interface RolloutCommandFlags {
  url?: string;
  token?: string;
  actor?: string;
  output: string;
  reason?: string;
  ifMatch?: number;
}

type Connect = (flags: RolloutCommandFlags) => Promise<FlagsBackend>;

/** Loaded on use, so `greenlight --help` does not load the rollout core. */
async function emit(output: string, stored: StoredFlag, summary?: string): Promise<void> {
  const format = parseFormat(output);
  const { rolloutView } = await import("../../../functions/flags/rollout/plan.ts");
  const view = rolloutView(stored);
  if (!view) {
    throw new CliError(
      `flag "${stored.flag.key}" has no rollout plan: add one under rollout: (docs/FLAGS.md, Guarded rollouts)`,
    );
  }
  const { rolloutText } = await import("./rollout-view.ts");
  if (!emitData(format, { ...view, ...(summary ? { done: summary } : {}) })) {
    process.stdout.write(`${summary ? `${summary}\n` : ""}${rolloutText(stored)}`);
  }
}

async function status(key: string, flags: RolloutCommandFlags, connect: Connect): Promise<void> {
  parseFormat(flags.output);
  await emit(flags.output, await (await connect(flags)).get(key));
}

async function control(key: string, which: RolloutControl, flags: RolloutCommandFlags, connect: Connect) {
  parseFormat(flags.output);
  const backend = await connect(flags);
  const outcome = await backend.controlRollout(key, which, {
    ...(flags.reason === undefined ? {} : { reason: flags.reason }),
    ...(flags.ifMatch === undefined ? {} : { ifMatch: flags.ifMatch }),
  });
  await emit(flags.output, outcome.flag, outcome.summary);
}

const TARGET = `
Without --url the command works on the local store (Upstash when UPSTASH_REDIS_REST_URL and
UPSTASH_REDIS_REST_TOKEN are set, else ./.greenlight or GREENLIGHT_FLAGS_DIR); with --url on that flag server's
admin API (POST /admin/flags/KEY/rollout/pause|resume|abort, a token of scope admin).`;

/** `flags rollout ...` under the `flags` group; `addTarget` adds --url, --token (and --actor for writes). */
export function registerRolloutCommands(
  group: Command,
  connect: Connect,
  addTarget: (command: Command, options?: { write?: boolean }) => Command,
  parseRevision: (raw: string) => number,
): void {
  const rollout = group
    .command("rollout")
    .description("A flag's guarded rollout: where it stands, and pause, resume or abort it")
    .addHelpText(
      "after",
      `
The scheduled stepper (greenlight step, the Lambda, the local stack) raises the flag's share step by step while
the comparative judge finds no regression, and rolls it back to the plan's floor when it finds one.
${TARGET}

Examples:
  greenlight flags rollout status new-checkout
  greenlight flags rollout pause new-checkout --reason "support tickets up"
  greenlight flags rollout resume new-checkout
  greenlight flags rollout abort new-checkout -o json --url http://127.0.0.1:8081`,
    );

  addTarget(
    rollout
      .command("status")
      .description("Show the plan, the step and the last judgement")
      .argument("<key>", "flag key"),
  )
    .option("-o, --output <format>", "table, json or yaml", "table")
    .addHelpText(
      "after",
      `${TARGET}

Examples:
  greenlight flags rollout status new-checkout
  greenlight flags rollout status new-checkout -o json | jq '.status.checks'`,
    )
    .action((key: string, flags: RolloutCommandFlags) => status(key, flags, connect));

  const words: Record<RolloutControl, [string, string]> = {
    pause: ["Hold the rollout at its current share: no judgement, no step, until resumed", "support tickets up"],
    resume: [
      "Continue a paused rollout, or start a rolled-back or aborted one over from its first step",
      "fixed in 1.4.2",
    ],
    abort: ["Stop the rollout and put the share back to the plan's floor", "wrong audience"],
  };
  for (const which of ["pause", "resume", "abort"] as const) {
    const [description, example] = words[which];
    addTarget(rollout.command(which).description(description).argument("<key>", "flag key"), { write: true })
      .option("--reason <text>", "why, kept in the rollout status (the audit entry names who)")
      .option("--if-match <revision>", "write only if the flag is still at this revision", parseRevision)
      .option("-o, --output <format>", "table, json or yaml", "table")
      .addHelpText(
        "after",
        `${TARGET}

Examples:
  greenlight flags rollout ${which} new-checkout
  greenlight flags rollout ${which} new-checkout --reason "${example}" -o json`,
      )
      .action((key: string, flags: RolloutCommandFlags) => control(key, which, flags, connect));
  }
}
