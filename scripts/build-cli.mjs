#!/usr/bin/env node
// Compiles the greenlight CLI (scripts/cli/main.ts and all it loads) to one JavaScript file under dist/cli/, so
// that `greenlight` starts without compiling TypeScript at every run. npm runs it as `prepare` (so `npm install`
// and `npm ci` build it) and before `npm test` and `npm start`, where it does nothing when the build is current.
//
//   node scripts/build-cli.mjs            build unless the build is current
//   node scripts/build-cli.mjs --force    build anyway
//   node scripts/build-cli.mjs --check    build nothing; exit 0 when the build is current, else 1
/*
 * Why this shape (issue 11: a command starts in at most 1.5x a bare `node -e 0`):
 * - One CommonJS file run through node:vm with V8's code cache (scripts/greenlight.mjs), not ES module chunks.
 *   Past tsx, most of a short command's start is V8 compiling JavaScript (commander, yaml, our code), and Node 20
 *   has no compile cache for ES modules (module.enableCompileCache is Node 22). Measured on the 2-core bench
 *   machine, `greenlight inject -f` of the example: ES module chunks (esbuild code splitting, one per command
 *   group) about 1.7x a bare node; this file with its code cache about 1.4x.
 * - Commands still load lazily: main.ts imports a command group's module only when that command runs, and in the
 *   bundle a module's top-level code runs on its first import (esbuild wraps it), while V8 compiles a function
 *   only when it is first called (or takes it from the cache). `--version` runs main.ts and commander, no more.
 * - Bundled: commander, yaml and fast-json-patch, pure JavaScript that the short commands need. Every other
 *   package stays in node_modules and is required only when a command needs it (client-node, express, pino ...),
 *   as it was under tsx. `import()` becomes `require()`: a vm.Script cannot import() without an experimental
 *   flag, and Node 20.19+ (package.json engines) requires ES modules such as client-node without a warning.
 * - Current or not: the build lists its sources (dist/cli/manifest.json): those of main.ts, and those of each
 *   command group (the module main.ts imports for it, and all that one imports). Before a command runs, the bin
 *   compares the files of main.ts and of that command's group with the build: when one is newer, or gone, it runs
 *   the TypeScript through tsx instead, so an edit is never hidden behind a stale build. Only those files: a stat
 *   costs about 10 us on the bench machine, and `greenlight inject` needs 20 of the CLI's 140.
 * - Each build goes to a directory of its own and manifest.json is replaced by a rename, so a `greenlight`
 *   starting meanwhile (tests run many at once) reads either the old build or the new one, never half of one.
 */
import { isAscii } from "node:buffer";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = path.join(ROOT, "dist/cli");
const MANIFEST = path.join(OUT_DIR, "manifest.json");
const ENTRY = "scripts/cli/main.ts";
/** Packages compiled into the bundle; a new version of one (its package.json) makes the build stale. */
const BUNDLED = ["commander", "yaml", "fast-json-patch"];
const KEEP_RECENT_MS = 60_000;

/**
 * The last build, as dist/cli/manifest.json describes it, with `bundle` made absolute; undefined when there is
 * none or the manifest is unreadable. Current or not: see isCurrent().
 * @returns {{ bundle: string, builtAt: number, inputs: string[], core: string[], groups: Record<string, string[]> } | undefined}
 */
export function lastBuild() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, "utf8"));
  } catch {
    return undefined;
  }
  if (typeof manifest?.bundle !== "string" || !Array.isArray(manifest.inputs) || !Array.isArray(manifest.core)) {
    return undefined;
  }
  return { ...manifest, bundle: path.join(OUT_DIR, manifest.bundle) };
}

/** True when every one of `files` (relative to the checkout) is there and no newer than the build. */
export function isCurrent(build, files) {
  for (const file of files) {
    const stats = statSync(path.join(ROOT, file), { throwIfNoEntry: false });
    if (stats === undefined || stats.mtimeMs > build.builtAt) return false;
  }
  return true;
}

/** The last build when it is newer than every file it was built from, else undefined. */
export function currentBuild() {
  const build = lastBuild();
  return build && isCurrent(build, build.inputs) ? build : undefined;
}

function externalPackages() {
  const { dependencies = {}, devDependencies = {} } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  return Object.keys({ ...dependencies, ...devDependencies })
    .filter((name) => !BUNDLED.includes(name))
    .flatMap((name) => [name, `${name}/*`]);
}

/**
 * commander requires node:child_process when it loads, for executable subcommands (greenlight has none), and
 * loading that module is about 2 ms of every start. In the bundle, commander gets it on first use instead.
 */
const lazyChildProcessForCommander = {
  name: "lazy-child-process-for-commander",
  setup(build) {
    build.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: "child_process", namespace: "lazy" } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      contents: 'module.exports = new Proxy({}, { get: (_, name) => require("node:child_process")[name] });',
      loader: "js",
    }));
  },
};

/** The package.json of a bundled package for a file inside it; our own sources as they are. */
function trackedFile(input) {
  const match = /^(.*?node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return match ? `${match[1]}/package.json` : input;
}

/**
 * The files whose changes make the build stale, from esbuild's metafile: all of them (`inputs`); those main.ts
 * runs before it loads a command group (`core`: all it imports except through its own import()s); and for each
 * group, keyed by the specifier of main.ts's import() of it ("./inject.ts"), all that its module imports.
 */
function sourcesOf(metafile) {
  const tracked = (files) =>
    [...new Set([...files].filter((file) => !file.startsWith("lazy:")).map(trackedFile))].sort();
  const reach = (from, skip = () => false) => {
    const found = new Set();
    const pending = [from];
    while (pending.length > 0) {
      const file = pending.pop();
      if (found.has(file) || metafile.inputs[file] === undefined) continue;
      found.add(file);
      for (const edge of metafile.inputs[file].imports) {
        if (!edge.external && !skip(file, edge)) pending.push(edge.path);
      }
    }
    return tracked(found);
  };
  const loaders = metafile.inputs[ENTRY].imports.filter((edge) => edge.kind === "dynamic-import");
  return {
    inputs: tracked(Object.keys(metafile.inputs)),
    core: reach(ENTRY, (file, edge) => file === ENTRY && edge.kind === "dynamic-import"),
    groups: Object.fromEntries(loaders.map((edge) => [edge.original, reach(edge.path)])),
  };
}

/** Builds into a new directory, points manifest.json at it, and removes older builds. */
async function buildCli({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const { build } = await import("esbuild");
  // Before esbuild reads anything: a source saved during the build is newer than the build, so it counts as stale.
  const builtAt = Date.now();
  const id = `${builtAt.toString(36)}-${process.pid}`;
  const bundle = `${id}/greenlight.cjs`;
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: path.join(OUT_DIR, bundle),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    external: externalPackages(),
    supported: { "dynamic-import": false },
    metafile: true,
    logLevel: "silent",
    legalComments: "none",
    // Non-ASCII characters escaped (esbuild's default, stated because scripts/greenlight.mjs reads it as latin1).
    charset: "ascii",
    plugins: [lazyChildProcessForCommander],
    // CommonJS has no import.meta: code that finds files next to its sources reads `undefined` here and falls back
    // to __filename (functions/dashboard/files.ts), instead of esbuild's empty object and its warning.
    define: { "import.meta.url": "undefined" },
    // Node's CommonJS wrapper, written into the file so that scripts/greenlight.mjs compiles it as read.
    banner: { js: "(function (exports, require, module, __filename, __dirname) {" },
    footer: { js: "})" },
  });
  if (result.warnings.length > 0) {
    // A warning here (import.meta, a require it cannot follow) is a CLI that breaks only when compiled: stop.
    rmSync(path.join(OUT_DIR, id), { recursive: true, force: true });
    const { formatMessages } = await import("esbuild");
    const text = await formatMessages(result.warnings, { kind: "warning" });
    throw new Error(`esbuild warned, so the build is not used:\n${text.join("")}`);
  }
  // scripts/greenlight.mjs reads the bundle as latin1, which would misread any byte past ASCII.
  if (!isAscii(readFileSync(path.join(OUT_DIR, bundle)))) {
    rmSync(path.join(OUT_DIR, id), { recursive: true, force: true });
    throw new Error("the bundle holds a non-ASCII character, which scripts/greenlight.mjs would misread");
  }
  const { inputs, core, groups } = sourcesOf(result.metafile);
  const temporary = `${MANIFEST}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ bundle, builtAt, inputs, core, groups }, null, 2)}\n`);
  renameSync(temporary, MANIFEST);
  for (const entry of readdirSync(OUT_DIR, { withFileTypes: true })) {
    // Older builds go, but not one of the last minute: another build may be writing it (tests build when the
    // build is stale), or a `greenlight` be about to read it. A running command has read its file already.
    const age = builtAt - Number.parseInt(entry.name.split("-")[0] ?? "", 36);
    if (entry.isDirectory() && entry.name !== id && !(age < KEEP_RECENT_MS)) {
      rmSync(path.join(OUT_DIR, entry.name), { recursive: true, force: true });
    }
  }
  log(`greenlight: built ${path.relative(ROOT, path.join(OUT_DIR, bundle))} from ${inputs.length} files`);
  return path.join(OUT_DIR, bundle);
}

/** One run of the new build, which leaves V8's code cache of the functions a short command needs beside it. */
async function warmCodeCache() {
  // Imported here: the bin imports this module, and child_process would slow every start.
  const { spawnSync } = await import("node:child_process");
  const deployment = [
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata: { name: warm, annotations: { greenlight.dev/inject: 'true' } }",
    "spec:",
    "  selector: { matchLabels: { app: warm } }",
    "  template:",
    "    metadata: { labels: { app: warm } }",
    "    spec: { containers: [{ name: warm, image: 'warm:1.0.0' }] }",
    "",
  ].join("\n");
  spawnSync(process.execPath, [path.join(ROOT, "scripts/greenlight.mjs"), "inject", "-f", "-"], {
    input: deployment,
    stdio: ["pipe", "ignore", "ignore"],
    env: { ...process.env, GREENLIGHT_FROM_SOURCE: "0" },
  });
}

async function run(argv) {
  const [option, ...rest] = argv;
  if (rest.length > 0 || (option !== undefined && option !== "--force" && option !== "--check")) {
    process.stderr.write("usage: node scripts/build-cli.mjs [--force | --check]\n");
    return 2;
  }
  if (option === "--check") return currentBuild() === undefined ? 1 : 0;
  const force = option === "--force";
  if (!force && currentBuild() !== undefined) return 0;
  try {
    await import("esbuild");
  } catch {
    // An install without devDependencies: the bin runs the sources through tsx (a dependency).
    process.stderr.write("greenlight: esbuild is not installed, so the CLI runs from its TypeScript sources\n");
    return 0;
  }
  mkdirSync(OUT_DIR, { recursive: true });
  try {
    await buildCli();
  } catch (error) {
    process.stderr.write(`greenlight: the CLI build failed: ${error instanceof Error ? error.message : error}\n`);
    return 1;
  }
  await warmCodeCache();
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await run(process.argv.slice(2));
}
