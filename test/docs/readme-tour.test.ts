// The README's five-minute tour runs as written from a fresh clone: every file its commands read is in the
// repository (or made by an earlier step of the tour), none writes into the repository, and every greenlight
// command it names exists.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../scripts/cli/main.ts";
import { TLS_DIR } from "../../scripts/local/ca.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Where `npm start` keeps its state (gitignored): the tour's own steps may write there and read it back. */
const STATE_DIR = ".greenlight";
/** Made by `npm start`, which the tour opens with: its local CA. */
const MADE_BY_NPM_START = [`${STATE_DIR}/${TLS_DIR}`];
/** Options whose value is a file or directory the command writes. */
const WRITE_OPTIONS = new Set([">", "-o", "--output", "--out", "--svg"]);
/** Shell words between commands. */
const OPERATORS = new Set(["|", "&&", "||", ";"]);

/** The tour: from its heading to the next section of the same level. */
function tourOf(readme: string): string {
  const start = readme.indexOf("## Five-minute tour");
  const end = readme.indexOf("\n## ", start + 1);
  if (start < 0) throw new Error("README.md has no ## Five-minute tour");
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The command lines of the tour's sh blocks: continuation lines joined, comments dropped. */
function commandLines(tour: string): string[] {
  const blocks = [...tour.matchAll(/```sh\n([\s\S]*?)```/g)].map(([, body = ""]) => body);
  return blocks.flatMap((block) =>
    block
      .replace(/\s*\\\n\s*/g, " ")
      .replace(/\|\n\s*/g, "| ")
      .split("\n")
      .map((line) => stripComment(line).trim())
      .filter(Boolean),
  );
}

function stripComment(line: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quote) {
      if (char === quote) quote = "";
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === "#" && (i === 0 || /\s/.test(line[i - 1] ?? ""))) {
      return line.slice(0, i);
    }
  }
  return line;
}

/** Shell words, with quotes removed and `|`, `&&`, `;` and `>` as words of their own. */
function words(line: string): string[] {
  const out: string[] = [];
  let current = "";
  let quote = "";
  let quoted = false;
  const flush = () => {
    if (current !== "" || quoted) out.push(current);
    current = "";
    quoted = false;
  };
  for (let i = 0; i < line.length; i++) {
    const char = line[i] ?? "";
    if (quote) {
      if (char === quote) quote = "";
      else current += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      quoted = true;
    } else if (/\s/.test(char)) {
      flush();
    } else if (char === "|" || char === ";" || char === ">" || (char === "&" && line[i + 1] === "&")) {
      flush();
      const operator = char === "&" || (char === "|" && line[i + 1] === "|") ? char + char : char;
      out.push(operator);
      i += operator.length - 1;
    } else {
      current += char;
    }
  }
  flush();
  return out;
}

/** A word that names a file or directory: a relative or absolute path, not an option, URL, assignment or pattern. */
const isPath = (word: string): boolean =>
  /^[\w.~/-]+$/.test(word) && !word.startsWith("-") && (word.includes("/") || /\.(ya?ml|json|svg|crt|key)$/.test(word));

interface PathUse {
  line: string;
  path: string;
  writes: boolean;
}

/** Every path the tour's commands read or write, in order. */
function pathUses(lines: readonly string[]): PathUse[] {
  return lines.flatMap((line) => {
    const all = words(line);
    return all.flatMap((word, i) => {
      const path = word.startsWith("@") ? word.slice(1) : word;
      if (!isPath(path) || OPERATORS.has(word)) return [];
      return [{ line, path: path.replace(/\/$/, ""), writes: WRITE_OPTIONS.has(all[i - 1] ?? "") }];
    });
  });
}

/** The greenlight commands the line runs (`["flags", "import"]`), after npx or a pipe. */
function greenlightCommands(line: string): string[][] {
  const all = words(line);
  return all.flatMap((word, i) => {
    if (word !== "greenlight") return [];
    const rest = all.slice(i + 1);
    const end = rest.findIndex((next) => next.startsWith("-") || OPERATORS.has(next));
    return [end < 0 ? rest : rest.slice(0, end)];
  });
}

const tour = tourOf(readFileSync(join(ROOT, "README.md"), "utf8"));
const lines = commandLines(tour);

describe("README.md's five-minute tour", () => {
  it("is found, with its commands", () => {
    expect(lines.length).toBeGreaterThan(20);
    expect(lines).toContain("npx greenlight inject -f manifests/examples/myapp-deployment.yaml");
  });

  it("reads only files that are in the repository, or that npm start or an earlier step made", () => {
    const made = [...MADE_BY_NPM_START];
    const missing: string[] = [];
    for (const use of pathUses(lines)) {
      if (use.writes) {
        made.push(use.path);
        continue;
      }
      const byTour = made.some((dir) => use.path === dir || use.path.startsWith(`${dir}/`));
      if (!byTour && !existsSync(join(ROOT, use.path))) missing.push(`${use.path} (in: ${use.line})`);
    }
    expect(missing).toEqual([]);
  });

  it("writes to standard output, a temporary directory or npm start's state directory, never into the repository", () => {
    const intoRepository = pathUses(lines)
      .filter((use) => use.writes)
      .filter((use) => !use.path.startsWith("/tmp/") && !use.path.startsWith(`${STATE_DIR}/`))
      .map((use) => `${use.path} (in: ${use.line})`);
    expect(intoRepository).toEqual([]);
  });

  let program: Command;
  beforeAll(async () => {
    program = await buildProgram("all");
  });

  it("names only greenlight commands that exist", () => {
    const unknown: string[] = [];
    for (const line of lines) {
      for (const path of greenlightCommands(line)) {
        let command = program;
        for (const name of path) {
          // Past the last subcommand come its arguments (a Deployment, a flag key).
          if (command.commands.length === 0) break;
          const next = command.commands.find((child) => child.name() === name);
          if (!next) {
            unknown.push(`greenlight ${path.join(" ")} (in: ${line})`);
            break;
          }
          command = next;
        }
      }
    }
    expect(unknown).toEqual([]);
  });
});

describe("the tour's shell reader", () => {
  it("splits words as the shell would, and tells reads from writes", () => {
    expect(words(`curl -s -H 'content-type: application/json' -d @a/b.json | grep x > out.txt`)).toEqual([
      "curl",
      "-s",
      "-H",
      "content-type: application/json",
      "-d",
      "@a/b.json",
      "|",
      "grep",
      "x",
      ">",
      "out.txt",
    ]);
    const uses = pathUses([
      "npx greenlight validate -f deploy.yaml",
      "helm template ./chart | npx greenlight validate -f - -o json",
      "npx greenlight webhook replay -f review.json > review-response.json   ",
      "kubectl label namespace production greenlight.dev/inject=enabled",
      "PROMETHEUS_URL=http://localhost:9090 npx greenlight step --once",
    ]);
    expect(uses).toEqual([
      { line: "npx greenlight validate -f deploy.yaml", path: "deploy.yaml", writes: false },
      { line: "helm template ./chart | npx greenlight validate -f - -o json", path: "./chart", writes: false },
      {
        line: "npx greenlight webhook replay -f review.json > review-response.json   ",
        path: "review.json",
        writes: false,
      },
      {
        line: "npx greenlight webhook replay -f review.json > review-response.json   ",
        path: "review-response.json",
        writes: true,
      },
    ]);
    expect(commandLines("```sh\na \\\n  b   # note\necho '#x' |\n  c\n```\n")).toEqual(["a b", "echo '#x' | c"]);
    expect(greenlightCommands("echo x | npx greenlight flags import --from unleash -")).toEqual([["flags", "import"]]);
  });
});
