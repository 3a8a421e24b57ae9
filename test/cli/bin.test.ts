// The compiled `greenlight` bin (scripts/build-cli.mjs, dist/cli/): it answers as the fully loaded command tree
// would, although it loads a command group only when that group runs. No timings here: `npm run bench -- --only cli`.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { beforeAll, describe, expect, it } from "vitest";
import packageJson from "../../package.json" with { type: "json" };
import { buildProgram, COMMAND_GROUPS, groupFor } from "../../scripts/cli/main.ts";
import { runCli } from "./run.ts";

const BUILD = fileURLToPath(new URL("../../scripts/build-cli.mjs", import.meta.url));
const MANIFEST = new URL("../../dist/cli/manifest.json", import.meta.url);
const MAIN = new URL("../../scripts/cli/main.ts", import.meta.url);

interface Manifest {
  inputs: string[];
  core: string[];
  groups: Record<string, string[]>;
}
const manifest = () => JSON.parse(readFileSync(MANIFEST, "utf8")) as Manifest;

/** The bin, pinned to the build: a source saved meanwhile (someone editing) must not send it to tsx. */
const runBuilt = (args: string[]) => runCli(args, undefined, { GREENLIGHT_FROM_SOURCE: "0" });

/** The help commander prints for a command, at the width it uses when stdout is not a terminal (as in runCli). */
function helpOf(command: Command): string {
  command.configureHelp({ ...command.configureHelp(), helpWidth: 80 });
  return command.helpInformation();
}

/** A command and every command under it, with the words that reach it: `["canary", "simulate"]`. */
function commandPaths(command: Command, words: string[] = []): Array<{ words: string[]; command: Command }> {
  return [{ words, command }, ...command.commands.flatMap((child) => commandPaths(child, [...words, child.name()]))];
}

let full: Command;

beforeAll(async () => {
  // Builds unless the build is current (npm test's pretest has usually built it already).
  const build = spawnSync(process.execPath, [BUILD], { encoding: "utf8" });
  expect(build.status, build.stderr).toBe(0);
  full = await buildProgram("all");
}, 120_000);

describe("the compiled greenlight bin", () => {
  it("lists the files it was built from, none of them virtual, so that an edit to any makes it stale", () => {
    const { inputs, core } = manifest();
    expect(core).toEqual(expect.arrayContaining(["scripts/cli/main.ts", "package.json"]));
    expect(inputs).toEqual(expect.arrayContaining(["scripts/cli/main.ts", "scripts/cli/inject.ts"]));
    expect(inputs.filter((input) => input.endsWith("/package.json")).length).toBeGreaterThanOrEqual(3);
    expect(inputs.filter((input) => /^[\w-]+:/.test(input))).toEqual([]);
  });

  it("lists the files of each command group, which the bin checks before it runs one of its commands", () => {
    const { inputs, groups } = manifest();
    expect(Object.keys(groups).sort()).toEqual(COMMAND_GROUPS.map((group) => group.module).sort());
    for (const [module, files] of Object.entries(groups)) {
      expect(files).toContain(`scripts/cli/${module.slice(2)}`);
      expect(inputs).toEqual(expect.arrayContaining(files));
    }
  });

  it("prints the version", async () => {
    const result = await runBuilt(["--version"]);
    expect(result).toMatchObject({ code: 0, stdout: `${packageJson.version}\n`, stderr: "" });
  });

  it("lists every command in the top-level help, as the loaded commands would", async () => {
    const result = await runBuilt(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith(helpOf(full))).toBe(true);
    for (const command of full.commands) expect(result.stdout).toMatch(new RegExp(`^  ${command.name()}\\b`, "m"));
    expect(result.stdout).toContain("Examples:\n  greenlight inject -f deploy.yaml");
  });

  it.each(COMMAND_GROUPS.flatMap((group) => group.commands.map((command) => command.name)))(
    "prints the complete help of %s and of every command under it",
    async (name) => {
      const top = full.commands.find((command) => command.name() === name);
      expect(top).toBeDefined();
      const paths = commandPaths(top as Command, [name]);
      const results = await Promise.all(paths.map(({ words }) => runBuilt([...words, "--help"])));
      paths.forEach(({ words, command }, i) => {
        const result = results[i];
        expect(result?.code, words.join(" ")).toBe(0);
        expect(result?.stdout, words.join(" ")).toContain(helpOf(command));
      });
    },
  );

  it("loads the group of `help COMMAND` too", async () => {
    const canary = full.commands.find((command) => command.name() === "canary") as Command;
    const result = await runBuilt(["help", "canary"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(helpOf(canary));
  });

  it("rejects an unknown command with a suggestion, loading nothing", async () => {
    const result = await runBuilt(["injec", "-f", "x.yaml"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("error: unknown command 'injec'\n(Did you mean inject?)\n(run with --help for usage)\n");
  });
});

describe("lazy loading (scripts/cli/main.ts)", () => {
  it("its table of commands prints the same top-level help as the loaded commands", async () => {
    expect(helpOf(await buildProgram())).toBe(helpOf(full));
  });

  it("names each command once, in the order the loaded tree has them", () => {
    const names = COMMAND_GROUPS.flatMap((group) => group.commands.map((command) => command.name));
    expect(names).toEqual(full.commands.map((command) => command.name()).filter((name) => name !== "help"));
  });

  it("names, for each group, the module its load() imports", async () => {
    for (const group of COMMAND_GROUPS) {
      const module = (await import(new URL(group.module, MAIN).href)) as Record<string, unknown>;
      expect(Object.values(module), group.module).toContain(await group.load());
    }
  });

  it("finds the group of the command the arguments run, as commander would", () => {
    const canary = COMMAND_GROUPS.find((group) => group.commands.some((command) => command.name === "canary"));
    expect(groupFor(["canary", "simulate", "-f", "x.yaml"])).toBe(canary);
    expect(groupFor(["step", "--once"])).toBe(canary);
    expect(groupFor(["help", "canary"])).toBe(canary);
    expect(groupFor(["--help", "canary"])).toBe(canary);
    expect(groupFor(["--", "canary"])).toBe(canary);
    expect(groupFor([])).toBeUndefined();
    expect(groupFor(["--version"])).toBeUndefined();
    expect(groupFor(["help"])).toBeUndefined();
    expect(groupFor(["--unknown", "canary"])).toBeUndefined();
    expect(groupFor(["nope"])).toBeUndefined();
  });
});
