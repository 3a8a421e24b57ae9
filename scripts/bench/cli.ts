// The cli part of `npm run bench`: how long a `greenlight` command takes from spawn to exit, beside a bare
// `node -e 0`, the same commands run from the TypeScript sources through tsx (how the bin ran before it was
// compiled), and `kubectl version --client` when kubectl is on the PATH.
/*
 * Each command is a fresh process as a user starts it (`node scripts/greenlight.mjs ARGS`, output to /dev/null),
 * timed by this process from `spawn` to `exit`. The commands take turns, one run of each per round in an order
 * that rotates, so a busy moment of the machine lands on all of them rather than on one. The build is made
 * current first (`node scripts/build-cli.mjs`), and the compiled rows run with GREENLIGHT_FROM_SOURCE=0, so that
 * a source saved during the run cannot send them to tsx.
 */
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchContext } from "./index.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.join(ROOT, "scripts/greenlight.mjs");
const BUILD = path.join(ROOT, "scripts/build-cli.mjs");
const EXAMPLE = "manifests/examples/myapp-deployment.yaml";

/** Measured rounds (odd: the median is one of them), after unmeasured ones that warm the file cache. */
export const CLI_ROUNDS = 21;
const WARM_UP_ROUNDS = 2;
/** The bound: a command starts in at most this many times a bare `node -e 0`. */
export const CLI_START_BOUND = 1.5;
/** kubectl's habit, the yardstick of the issue: a client command well under this. */
const KUBECTL_HABIT_MS = 200;

interface Subject {
  name: string;
  command: string;
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** A greenlight command measured against the bound. */
  bounded?: boolean;
}

export interface CliTiming {
  name: string;
  command: string;
  medianMs: number;
  minMs: number;
  p90Ms: number;
  /** Median over the median of `node -e 0`. */
  ratio: number;
  bounded: boolean;
}

export interface CliResult {
  rounds: number;
  timings: CliTiming[];
  kubectl: boolean;
}

function subjects(kubectl: boolean): Subject[] {
  const node = process.execPath;
  const fromSource = { GREENLIGHT_FROM_SOURCE: "1" };
  const fromBuild = { GREENLIGHT_FROM_SOURCE: "0" };
  return [
    { name: "node", command: "node -e 0", file: node, args: ["-e", "0"] },
    {
      name: "version",
      command: "greenlight --version",
      file: node,
      args: [BIN, "--version"],
      env: fromBuild,
      bounded: true,
    },
    {
      name: "inject",
      command: `greenlight inject -f ${EXAMPLE}`,
      file: node,
      args: [BIN, "inject", "-f", EXAMPLE],
      env: fromBuild,
      bounded: true,
    },
    { name: "help", command: "greenlight --help", file: node, args: [BIN, "--help"], env: fromBuild },
    {
      name: "version (tsx)",
      command: "GREENLIGHT_FROM_SOURCE=1 greenlight --version",
      file: node,
      args: [BIN, "--version"],
      env: fromSource,
    },
    {
      name: "inject (tsx)",
      command: `GREENLIGHT_FROM_SOURCE=1 greenlight inject -f ${EXAMPLE}`,
      file: node,
      args: [BIN, "inject", "-f", EXAMPLE],
      env: fromSource,
    },
    ...(kubectl
      ? [{ name: "kubectl", command: "kubectl version --client", file: "kubectl", args: ["version", "--client"] }]
      : []),
  ];
}

/** Wall time of one run, spawn to exit; a non-zero exit fails the part. */
function timeOnce(subject: Subject): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(subject.file, subject.args, {
      cwd: ROOT,
      env: { ...process.env, ...subject.env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`cli: \`${subject.command}\` exited ${signal ?? code}: ${stderr.trim()}`));
    });
  });
}

function hasKubectl(): boolean {
  return spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

export async function benchCli(context: BenchContext): Promise<CliResult> {
  const build = spawnSync(process.execPath, [BUILD], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`cli: node scripts/build-cli.mjs failed: ${build.stderr.trim()}`);
  const kubectl = hasKubectl();
  const list = subjects(kubectl);
  const samples = new Map<string, number[]>(list.map((subject) => [subject.name, []]));
  for (let round = 0; round < WARM_UP_ROUNDS + CLI_ROUNDS; round++) {
    // Rotate the order, so no command always runs first (or right after the slow tsx ones).
    const order = list.map((_, i) => list[(i + round) % list.length] as Subject);
    for (const subject of order) {
      const ms = await timeOnce(subject);
      if (round >= WARM_UP_ROUNDS) samples.get(subject.name)?.push(ms);
    }
    if (round >= WARM_UP_ROUNDS && (round - WARM_UP_ROUNDS + 1) % 5 === 0) {
      context.log(`cli: ${round - WARM_UP_ROUNDS + 1} of ${CLI_ROUNDS} rounds`);
    }
  }
  const sorted = (name: string) => [...(samples.get(name) ?? [])].sort((a, b) => a - b);
  const nodeMedian = quantile(sorted("node"), 0.5);
  const timings = list.map((subject): CliTiming => {
    const values = sorted(subject.name);
    const median = quantile(values, 0.5);
    return {
      name: subject.name,
      command: subject.command,
      medianMs: median,
      minMs: values[0] ?? 0,
      p90Ms: quantile(values, 0.9),
      ratio: median / nodeMedian,
      bounded: subject.bounded ?? false,
    };
  });
  return { rounds: CLI_ROUNDS, timings, kubectl };
}

const decimal = (value: number, digits: number) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function renderCliSection(result: CliResult, context: BenchContext): string {
  const rows = result.timings.map(
    (timing) =>
      `| \`${timing.command}\` | ${decimal(timing.medianMs, 0)} ms | ${decimal(timing.minMs, 0)} ms | ` +
      `${decimal(timing.p90Ms, 0)} ms | ${decimal(timing.ratio, 2)}x |`,
  );
  const targets = result.timings
    .filter((timing) => timing.bounded)
    .map(
      (timing) =>
        `- \`${timing.command}\` in at most ${CLI_START_BOUND}x \`node -e 0\` (median): ${decimal(timing.ratio, 2)}x, ` +
        `${timing.ratio <= CLI_START_BOUND ? "met" : "missed"}`,
    );
  const kubectl = result.timings.find((timing) => timing.name === "kubectl");
  return [
    "## CLI: start time",
    "",
    `Measured with \`${context.command}\` on ${context.date}.`,
    `Machine: ${context.machine}.`,
    "",
    ...(context.busy ? ["**The machine was busy when this run started: treat the times with care.**", ""] : []),
    "Each command is a new process started as a user starts it (`node scripts/greenlight.mjs ARGS`, output to " +
      "/dev/null), timed from spawn to exit by the bench. The bin runs the build of `scripts/build-cli.mjs` (one " +
      "CommonJS file under dist/cli/, run with V8's code cache; `npm install` builds it), pinned with " +
      "`GREENLIGHT_FROM_SOURCE=0` so that a source saved meanwhile cannot send it to tsx; the rows marked " +
      "`GREENLIGHT_FROM_SOURCE=1` run the TypeScript sources through tsx instead, as a checkout without a current " +
      "build does (and as every command did before there was a build, then loading every command group too). " +
      "The commands take turns, one run of each per round in a rotating order, " +
      `${WARM_UP_ROUNDS} unmeasured rounds first, then ${result.rounds} measured, one process at a time. Ratios ` +
      "are medians over the median of `node -e 0`. The part takes no notice of `--duration`.",
    "",
    "| command | median | fastest | p90 | x `node -e 0` |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    `kubectl's habit, the yardstick: a client command answers well under ${KUBECTL_HABIT_MS} ms` +
      (kubectl
        ? ` (\`kubectl version --client\` here: ${decimal(kubectl.medianMs, 0)} ms median).`
        : " (kubectl was not on the PATH, so it is not measured here)."),
    "",
    "### Targets",
    "",
    ...targets,
  ].join("\n");
}
