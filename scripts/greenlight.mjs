#!/usr/bin/env node
// The `greenlight` command. It runs the compiled CLI that scripts/build-cli.mjs writes to dist/cli/ (npm install
// builds it) when that build is newer than every source the command would run (main.ts's, and those of the
// command's group); otherwise (no build yet, or a source edited since) the TypeScript sources through tsx, slower
// to start but always the code as it is now. GREENLIGHT_FROM_SOURCE=1 runs the sources in any case;
// GREENLIGHT_FROM_SOURCE=0 the last build, current or not (the tests of the build and the bench, which must not
// slip to tsx when someone saves a file meanwhile).
import { accessSync, constants, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import vm from "node:vm";
import { isCurrent, lastBuild } from "./build-cli.mjs";

/**
 * Runs the bundle (CommonJS, already inside Node's module wrapper) as Node would require it, but through vm.Script
 * so that V8's code cache of it can be kept beside it: with the cache, V8 skips compiling what the last run
 * compiled. The cache is written after the first run of a build (scripts/build-cli.mjs makes one) and again when
 * V8 rejects it (another Node version).
 */
function loadCompiled(file) {
  let source;
  try {
    // The bundle is ASCII (esbuild escapes the rest), and reading it as latin1 skips the UTF-8 decoder: about 1 ms.
    source = readFileSync(file, "latin1");
  } catch {
    return undefined; // removed by a newer build since lastBuild() read the manifest
  }
  const cacheFile = `${file}.${process.arch}-v8-${process.versions.v8}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(source, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file));
  const saveCache = () => {
    if (cachedData !== undefined && !script.cachedDataRejected) return;
    try {
      // Asked first because serializing the cache takes milliseconds, which a write bound to fail (a read-only
      // root in a container, a root-owned install) would waste at every run: V8 also rejects the build's cache
      // when Node runs with other V8 flags, e.g. NODE_OPTIONS=--max-old-space-size.
      accessSync(path.dirname(cacheFile), constants.W_OK);
      const temporary = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(temporary, script.createCachedData());
      renameSync(temporary, cacheFile);
    } catch {
      // A read-only install: every run compiles, as without a cache.
    }
  };
  return { cli: module.exports, saveCache };
}

async function loadSources() {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import("./cli/main.ts");
  return { main, saveCache: () => {} };
}

/**
 * The compiled CLI when its build is current for this command, else undefined (the sources then). With
 * GREENLIGHT_FROM_SOURCE=0 the same checks run first, so a run of a current build costs what it costs without the
 * variable, but their answer is ignored.
 */
function compiledCli(fromSource) {
  if (fromSource === "1") return undefined;
  const pinned = fromSource === "0";
  const build = lastBuild();
  if (build === undefined || !(isCurrent(build, build.core) || pinned)) return undefined;
  // Loading the bundle runs no command yet: main.ts's table says which group these arguments would load.
  const compiled = loadCompiled(build.bundle);
  const group = compiled?.cli.groupFor(process.argv.slice(2));
  const files = group ? build.groups[group.module] : [];
  return compiled && ((files !== undefined && isCurrent(build, files)) || pinned) ? compiled : undefined;
}

const fromSource = process.env.GREENLIGHT_FROM_SOURCE;
const compiled = compiledCli(fromSource);
if (fromSource === "0" && compiled === undefined) {
  process.stderr.write(
    "greenlight: GREENLIGHT_FROM_SOURCE=0, but dist/cli holds no build (node scripts/build-cli.mjs makes one)\n",
  );
  process.exit(1);
}
const { main, saveCache } = compiled ? { main: compiled.cli.main, saveCache: compiled.saveCache } : await loadSources();
process.exitCode = await main(process.argv);
saveCache();
