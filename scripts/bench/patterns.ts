// Measures the RE2 engines considered for `matches` conditions: `npx tsx scripts/bench/patterns.ts`.
/*
 * Bundle: what an esbuild bundle pulls in for "compile a pattern, test a string" (minified, gzip), for the edge
 * (--platform=neutral, as docs/FLAGS.md bundles functions/flags/edge.ts) and for Node; plus what a WebAssembly
 * engine reads at run time beside its bundle, and the Node built-ins it needs. Then greenlight's own edge bundle,
 * with the chosen engine's share of it.
 * Speed: nanoseconds per `test` on typical targeting patterns and inputs, then microseconds on adversarial ones at
 * the evaluator's input cap (MATCH_LIMIT). JavaScript's RegExp is the baseline that backtracks: it is timed on the
 * adversarial pattern at small sizes only, where it still finishes. Results go to stdout as Markdown, quoted in
 * docs/FLAGS.md ("Pattern syntax").
 */
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type BuildOptions, build, type Metafile } from "esbuild";
import { RE2 } from "re2-wasm";
import { RE2JS } from "re2js";
import { MATCH_LIMIT } from "../../functions/flags/conditions.ts";
import { compilePattern, MAX_PROGRAM } from "../../functions/flags/pattern.ts";
import { median } from "./harness.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ROUNDS = 5;
const ROUND_MS = 150;

// ---- bundle size ---------------------------------------------------------------------------------------------

const ENGINES = ["re2js", "re2-wasm"] as const;
type EngineName = (typeof ENGINES)[number];

/** The smallest use of each engine: compile one pattern, test one string. */
const ENTRIES: Record<EngineName, string> = {
  re2js: 'import { RE2JS } from "re2js"; export const test = (p, s) => RE2JS.compile(p).test(s);',
  "re2-wasm": 'import { RE2 } from "re2-wasm"; export const test = (p, s) => new RE2(p, "u").test(s);',
};

/** What re2-wasm reads from disk when it is imported (node_modules/re2-wasm/build/wasm/re2.js, locateFile). */
const RE2_WASM_BINARY = path.join(ROOT, "node_modules/re2-wasm/build/wasm/re2.wasm");

interface Bundle {
  bytes: number;
  gzip: number;
  /** Node built-ins the bundle imports (left external by esbuild's node platform). */
  builtins: string[];
}

type BundleOutcome = { ok: true; bundle: Bundle } | { ok: false; error: string };

async function bundle(options: BuildOptions): Promise<BundleOutcome> {
  try {
    const result = await build({ bundle: true, minify: true, format: "esm", write: false, metafile: true, ...options });
    const text = result.outputFiles?.[0]?.contents ?? new Uint8Array();
    const builtins = Object.values(result.metafile?.outputs ?? {})
      .flatMap((output) => output.imports)
      .filter((edge) => edge.external)
      .map((edge) => edge.path)
      .filter((name, index, names) => names.indexOf(name) === index);
    return { ok: true, bundle: { bytes: text.byteLength, gzip: gzipSync(text).byteLength, builtins } };
  } catch (error) {
    const failure = error as { errors?: Array<{ text: string }> };
    return { ok: false, error: failure.errors?.[0]?.text ?? String(error) };
  }
}

const entry = (engine: EngineName): BuildOptions => ({
  stdin: { contents: ENTRIES[engine], resolveDir: ROOT, loader: "js", sourcefile: `${engine}-entry.js` },
  logLevel: "silent",
});

interface EngineBundles {
  edge: BundleOutcome;
  node: BundleOutcome;
  /** Bytes the engine loads at run time beside the bundle. */
  runtimeAsset: number;
}

async function engineBundles(engine: EngineName): Promise<EngineBundles> {
  return {
    // A neutral platform resolves package.json "exports" but no "main" field unless told: give it the usual ones.
    edge: await bundle({ ...entry(engine), platform: "neutral", mainFields: ["module", "main"] }),
    node: await bundle({ ...entry(engine), platform: "node" }),
    runtimeAsset: engine === "re2-wasm" ? statSync(RE2_WASM_BINARY).size : 0,
  };
}

/** greenlight's edge bundle, as docs/FLAGS.md builds it, and how much of it each package is. */
async function edgeBundle(): Promise<{ bytes: number; gzip: number; re2js: number }> {
  const result = await build({
    entryPoints: [path.join(ROOT, "functions/flags/edge.ts")],
    bundle: true,
    platform: "neutral",
    format: "esm",
    minify: true,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const text = result.outputFiles[0]?.contents ?? new Uint8Array();
  const inputs = Object.values(result.metafile.outputs)[0]?.inputs ?? ({} as Metafile["outputs"][string]["inputs"]);
  const re2js = Object.entries(inputs)
    .filter(([file]) => file.startsWith("node_modules/re2js/"))
    .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
  return { bytes: text.byteLength, gzip: gzipSync(text).byteLength, re2js };
}

/**
 * What re2js adds to a cold start: importing it, then the first compile and test (nothing JIT-compiled yet), each
 * in a fresh Node process; the median of 5, in ms.
 */
function coldImport(): { importMs: number; firstMs: number } {
  const script =
    "const t0 = performance.now(); const { RE2JS } = await import('re2js'); const t1 = performance.now();" +
    "RE2JS.compile('^user-\\\\d*[37]$').test('user-7');" +
    "process.stdout.write(JSON.stringify([t1 - t0, performance.now() - t1]));";
  const runs = Array.from({ length: 5 }, () => {
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8" });
    if (child.status !== 0) throw new Error(`importing re2js failed: ${child.stderr}`);
    return JSON.parse(child.stdout) as [number, number];
  });
  return { importMs: median(runs.map(([ms]) => ms)), firstMs: median(runs.map(([, ms]) => ms)) };
}

// ---- speed ---------------------------------------------------------------------------------------------------

/** `test` with one compiled pattern. */
type Tester = (text: string) => boolean;
const COMPILERS: Record<"RegExp" | EngineName, (source: string, ignoreCase: boolean) => Tester> = {
  RegExp: (source, ignoreCase) => {
    const pattern = new RegExp(source, ignoreCase ? "iu" : "u");
    return (text) => pattern.test(text);
  },
  // greenlight's own path (compilePattern), with its limits: what the evaluator runs.
  re2js: (source, ignoreCase) => {
    const compiled = compilePattern(ignoreCase ? `(?i)${source}` : source);
    if (!compiled.ok) throw new Error(`${source} ${compiled.reason}`);
    return (text) => compiled.pattern.test(text);
  },
  "re2-wasm": (source, ignoreCase) => {
    const pattern = new RE2(source, ignoreCase ? "iu" : "u");
    return (text) => pattern.test(text);
  },
};
const TIMED = ["RegExp", ...ENGINES] as const;
type TimedName = (typeof TIMED)[number];

interface Case {
  name: string;
  source: string;
  ignoreCase: boolean;
  inputs: string[];
  /** Engines left out, and why (the table says so). */
  skip?: Partial<Record<TimedName, string>>;
}

const users = Array.from({ length: 256 }, (_, i) => i);
const TYPICAL: Case[] = [
  {
    name: "e-mail domain",
    source: "^[a-z0-9._%+-]+@(example\\.com|example\\.org)$",
    ignoreCase: false,
    inputs: users.map((i) => `user.${i}@${["example.com", "example.org", "example.net", "mail.test"][i % 4]}`),
  },
  {
    name: "app version 2.x",
    source: "^v?2\\.[0-9]+\\.[0-9]+$",
    ignoreCase: false,
    inputs: users.map((i) => `${i % 3 === 0 ? "v" : ""}${i % 4}.${i % 13}.${i % 7}`),
  },
  {
    name: "mobile user agent, case-insensitive",
    source: "(iphone|ipad|android)",
    ignoreCase: true,
    inputs: users.map((i) =>
      i % 2 === 0
        ? `Mozilla/5.0 (Linux; Android 14; Pixel ${i % 9}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36`
        : `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.${i} Safari/537.36`,
    ),
  },
];

const hostile = (n: number) => `${"a".repeat(n)}!`;
const ADVERSARIAL: Case[] = [
  {
    name: `^(a|aa)+$, ${MATCH_LIMIT - 1} a's and "!"`,
    source: "^(a|aa)+$",
    ignoreCase: false,
    inputs: [hostile(MATCH_LIMIT - 1)],
    skip: { RegExp: "backtracks: see the small sizes below" },
  },
  {
    // About the dearest pattern the validator accepts (close to MAX_PROGRAM instructions), on the text that costs
    // it most: every position starts a match that runs on to the next "!".
    name: `[a-z]{1,249}!, ${MATCH_LIMIT} characters`,
    source: "[a-z]{1,249}!",
    ignoreCase: false,
    inputs: ["a!".repeat(MATCH_LIMIT / 2), hostile(MATCH_LIMIT - 1), `!${"a".repeat(MATCH_LIMIT - 1)}`],
    skip: { RegExp: "not timed: RegExp is the baseline of the rows above" },
  },
];

/** Calls per second of `test` over `inputs`, for `ms` milliseconds. */
function rate(test: Tester, inputs: readonly string[], ms: number): number {
  let calls = 0;
  let hits = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (const input of inputs) if (test(input)) hits++;
    calls += inputs.length;
    now = performance.now();
  }
  if (hits < 0) throw new Error("unreachable");
  return calls / ((now - start) / 1000);
}

/** Nanoseconds per `test`, the median of ROUNDS rounds, engines interleaved so none always runs first. */
function timeCase(spec: Case): Record<TimedName, number | string> {
  const testers = new Map<TimedName, Tester>();
  for (const name of TIMED)
    if (spec.skip?.[name] === undefined) testers.set(name, COMPILERS[name](spec.source, spec.ignoreCase));
  // The engines must agree before their speed means anything.
  for (const input of spec.inputs) {
    const answers = new Set([...testers.values()].map((test) => test(input)));
    if (answers.size > 1) throw new Error(`the engines disagree on ${spec.source} against ${JSON.stringify(input)}`);
  }
  const samples = new Map<TimedName, number[]>([...testers.keys()].map((name) => [name, []]));
  for (const [, test] of testers) rate(test, spec.inputs, ROUND_MS / 2); // warm-up
  const names = [...testers.keys()];
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length] as TimedName;
      samples.get(name)?.push(1e9 / rate(testers.get(name) as Tester, spec.inputs, ROUND_MS));
    }
  }
  const result = {} as Record<TimedName, number | string>;
  for (const name of TIMED) result[name] = spec.skip?.[name] ?? median(samples.get(name) ?? []);
  return result;
}

/**
 * Whether each engine compiles a pattern with a Unicode class under a count (program about 200 instructions).
 * Run last: re2-wasm's heap is a fixed 16 MiB, and once it has aborted, its later compiles can fail too.
 */
const UNICODE_COUNT = "\\p{L}{1,100}!";
function unicodeCount(): Record<EngineName, string> {
  const attempt = (compile: () => Tester): string => {
    try {
      return compile()(`${"a".repeat(200)}!`) ? "compiles and matches" : "compiles, but does not match";
    } catch (error) {
      return `fails: ${String(error).split("\n")[0]?.slice(0, 90)}...`;
    }
  };
  return {
    re2js: attempt(() => COMPILERS.re2js(UNICODE_COUNT, false)),
    "re2-wasm": attempt(() => COMPILERS["re2-wasm"](UNICODE_COUNT, false)),
  };
}

/** A fixed pseudo-random sequence in [0, 1), so every run times the same texts. */
function sequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

interface ProgramCost {
  source: string;
  size: number;
  accepted: boolean;
  /** Slowest first call on a freshly compiled pattern (re2js builds its DFA lazily), ms. */
  cold: number;
  /** Slowest and mean call of one warm pattern over texts of varied letter runs (new DFA states each time), ms. */
  warmMax: number;
  warmMean: number;
}

/**
 * What a pattern's size costs per evaluation, at the input cap: `[a-z]{1,n}!` on texts that start a match at every
 * letter. Raw re2js, since the largest is above MAX_PROGRAM: this is the measurement behind that limit.
 */
function programCosts(): ProgramCost[] {
  return [49, 249, 499].map((n) => {
    const source = `[a-z]{1,${n}}!`;
    const size = RE2JS.compile(source).matcher("").programSize();
    let cold = 0;
    for (const text of ["a!".repeat(MATCH_LIMIT / 2), "ab!".repeat(MATCH_LIMIT / 3), hostile(MATCH_LIMIT - 1)]) {
      for (let round = 0; round < 3; round++) {
        const fresh = RE2JS.compile(source);
        const start = performance.now();
        fresh.test(text);
        cold = Math.max(cold, performance.now() - start);
      }
    }
    const warm = RE2JS.compile(source);
    const next = sequence(7);
    let warmMax = 0;
    let total = 0;
    const texts = 200;
    for (let k = 0; k < texts; k++) {
      let text = "";
      while (text.length < MATCH_LIMIT) text += `${"a".repeat(1 + Math.floor(next() * n))}!`;
      const start = performance.now();
      warm.test(text.slice(0, MATCH_LIMIT));
      const took = performance.now() - start;
      warmMax = Math.max(warmMax, took);
      total += took;
    }
    return { source, size, accepted: compilePattern(source).ok, cold, warmMax, warmMean: total / texts };
  });
}

/** JavaScript's RegExp on ^(a|aa)+$ at sizes where it still finishes: one call each, in ms. */
function backtracking(): Array<[number, number]> {
  const pattern = /^(a|aa)+$/;
  return [20, 24, 28, 32].map((n) => {
    const start = performance.now();
    pattern.test(hostile(n));
    return [n, performance.now() - start];
  });
}

// ---- report --------------------------------------------------------------------------------------------------

const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string })
    .version;
/** A Markdown table cell: a `|` inside a code span would still end the cell. */
const cell = (text: string) => text.replaceAll("|", "\\|");
const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
const ns = (value: number | string) =>
  typeof value === "string"
    ? `— (${value})`
    : value >= 1e6
      ? `${(value / 1e6).toFixed(2)} ms`
      : value >= 1e3
        ? `${(value / 1e3).toFixed(1)} µs`
        : `${value.toFixed(0)} ns`;

function bundleCell(outcome: BundleOutcome): string {
  if (!outcome.ok) return `fails: ${outcome.error}`;
  const needs = outcome.bundle.builtins.length > 0 ? `; imports ${outcome.bundle.builtins.join(", ")}` : "";
  return `${kb(outcome.bundle.bytes)} (${kb(outcome.bundle.gzip)} gzip)${needs}`;
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  const lines = [
    `Command: \`npx tsx scripts/bench/patterns.ts\`. Machine: ${cpus[0]?.model.trim() ?? "unknown CPU"}, ` +
      `${cpus.length} cores, Node ${process.version}, load average ${(os.loadavg()[0] ?? 0).toFixed(2)} at the start; ` +
      `re2js ${versionOf("re2js")}, re2-wasm ${versionOf("re2-wasm")}.`,
    "",
    "| engine | edge bundle (neutral, minified) | Node bundle (minified) | loaded at run time |",
    "| --- | --- | --- | --- |",
  ];
  for (const engine of ENGINES) {
    const sizes = await engineBundles(engine);
    const asset = sizes.runtimeAsset > 0 ? `${kb(sizes.runtimeAsset)} .wasm, read with fs` : "nothing";
    lines.push(`| ${engine} | ${bundleCell(sizes.edge)} | ${bundleCell(sizes.node)} | ${asset} |`);
  }
  const edge = await edgeBundle();
  const cold = coldImport();
  lines.push(
    "",
    `greenlight's edge bundle (functions/flags/edge.ts, neutral, minified): ${kb(edge.bytes)} (${kb(edge.gzip)} gzip), ` +
      `of which re2js ${kb(edge.re2js)}. In a fresh Node process, importing re2js takes ${cold.importMs.toFixed(1)} ms ` +
      `and the first compile and test ${cold.firstMs.toFixed(1)} ms (medians of 5).`,
    "",
    `| pattern | inputs | ${TIMED.join(" | ")} |`,
    `| --- | ---: | ${TIMED.map(() => "---:").join(" | ")} |`,
  );
  for (const spec of [...TYPICAL, ...ADVERSARIAL]) {
    const times = timeCase(spec);
    lines.push(
      `| ${cell(`${spec.name} (\`${spec.source}\`)`)} | ${spec.inputs.length} | ${TIMED.map((name) => ns(times[name])).join(" | ")} |`,
    );
  }
  lines.push(
    "",
    `re2js per evaluation by program size, at ${MATCH_LIMIT} characters (the largest is above MAX_PROGRAM, ${MAX_PROGRAM}):`,
    "",
    "| pattern | RE2 instructions | accepted | first call, fresh pattern (slowest) | warm, 200 varied texts (slowest / mean) |",
    "| --- | ---: | --- | ---: | ---: |",
    ...programCosts().map(
      (cost) =>
        `| \`${cost.source}\` | ${cost.size} | ${cost.accepted ? "yes" : "no"} | ${cost.cold.toFixed(1)} ms | ` +
        `${cost.warmMax.toFixed(1)} ms / ${cost.warmMean.toFixed(2)} ms |`,
    ),
  );
  lines.push(
    "",
    `JavaScript's RegExp on \`^(a|aa)+$\` against n a's and "!": ${backtracking()
      .map(([n, ms]) => `n=${n}: ${ms.toFixed(1)} ms`)
      .join(", ")}: exponential, so the 1,023 a's of the row above would never finish.`,
  );
  const unicode = unicodeCount();
  lines.push("", `\`${UNICODE_COUNT}\`: ${ENGINES.map((engine) => `${engine} ${unicode[engine]}`).join("; ")}.`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
