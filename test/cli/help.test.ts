// The README says every command has --help with examples: every command and command group of the CLI, each
// group with at least two examples that run it.
import type { Command } from "commander";
import { beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../scripts/cli/main.ts";

/** A command and every command under it, with the words that reach it: `["rollout", "watch"]`. */
function commandPaths(command: Command, words: string[] = []): Array<{ words: string[]; command: Command }> {
  return [
    { words, command },
    ...command.commands
      .filter((child) => child.name() !== "help")
      .flatMap((child) => commandPaths(child, [...words, child.name()])),
  ];
}

/** The full help a user sees for the command, the text added after it included. */
function helpOf(command: Command): string {
  let text = "";
  command.configureOutput({ writeOut: (chunk) => (text += chunk), writeErr: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

let paths: Array<{ words: string[]; command: Command }> = [];
beforeAll(async () => {
  paths = commandPaths(await buildProgram("all"));
});

describe("greenlight --help", () => {
  it("has examples for every command and group, at least two of which run it", () => {
    const missing: string[] = [];
    for (const { words, command } of paths) {
      const name = words.join(" ");
      const help = helpOf(command);
      const at = help.indexOf("\nExamples:\n");
      const examples = at < 0 ? undefined : help.slice(at);
      if (examples === undefined) {
        missing.push(name || "(top level)");
        continue;
      }
      // Examples may show a workflow (certs: the kubectl commands around it), but at least two run this command.
      const running = examples.split("\n").filter((line) => line.includes(`greenlight ${name}`.trimEnd()));
      expect(running.length, `${name}:\n${examples}`).toBeGreaterThanOrEqual(2);
    }
    expect(missing).toEqual([]);
  });

  it("shows the groups' examples, webhook and rollout among them", () => {
    const group = (name: string) => paths.find(({ words }) => words.join(" ") === name)?.command;
    for (const name of ["webhook", "rollout"]) {
      const command = group(name);
      expect(command, name).toBeDefined();
      if (command) expect(helpOf(command)).toMatch(new RegExp(`\\nExamples:\\n {2}greenlight ${name} `));
    }
  });
});
