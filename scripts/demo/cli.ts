// `npm run demo`'s command line: options, the Prometheus check, Ctrl-C, and the exit status.
/*
 * With --flags it runs the guarded flag rollout demo instead (flag-run.ts): exit 0 when the equal variant was walked
 * to 100% and the failing one rolled back, the rest as below.
 *
 * Exit status: 0 when the healthy canary was promoted and the failing one rolled back, 1 when a rollout ended
 * otherwise or a part failed (Prometheus missing included), 2 for a bad option, 130 after Ctrl-C. The first Ctrl-C
 * stops the demo in order (Prometheus, servers, load); a second one exits at once, and Prometheus, started in its own
 * process group, is killed by the exit hook of scripts/services/children.ts (or by the kernel, through setpriv).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { findPrometheusBinary } from "../services/prometheus.ts";
import { FLAG_PROFILES, type FlagDemoProfile } from "./flag-profiles.ts";
import type { FlagDemoOptions, FlagDemoResult } from "./flag-run.ts";
import { type FlagStoreDirs, flagStoreDirs } from "./flag-store.ts";
import { type DemoProfile, PROFILES } from "./profiles.ts";
import type { DemoOptions, DemoResult } from "./run.ts";

export const DEFAULT_SVG = ".greenlight/demo.svg";

export const INSTALL_HINT =
  "prometheus is not installed: the demo runs Debian's Prometheus. Install it with\n" +
  "  sudo apt-get install -y prometheus\n" +
  "and run `npm run demo` again (the package may also start a system Prometheus on :9090; the demo does not use it).";

const USAGE = `Usage: npm run demo -- [--fast] [--out FILE] [--rps N]
       npm run demo -- --flags [--fast] [--store DIR] [--rps N]

Runs a full canary on this machine: a fake Kubernetes API server, two versions of a sample app, a weighted router
that follows the VirtualService, open-loop load, Debian's Prometheus and the real greenlight stepper. A healthy
canary is promoted, then a failing one is rolled back; the timelines are printed and drawn as an SVG chart.

Options:
  --fast        shorter rollouts (3 s interval, steps 20,50,100): about 35 s instead of about 70 s when idle
  --out FILE    where the chart goes (default ${DEFAULT_SVG}; the \`npm start\` page shows that one)
  --rps N       requests per second of load (default ${PROFILES.full.rps}, ${PROFILES.fast.rps} with --fast; with --flags,
                to each app: ${FLAG_PROFILES.full.rps}, ${FLAG_PROFILES.fast.rps} with --fast)
  -h, --help    this text

With --flags: two guarded flag rollouts instead, on a flag store, one sample app per flag evaluating it with
greenlight's evaluator for every request, open-loop load, Debian's Prometheus and the scheduled flag pass. The flag
whose new variant behaves as the old is walked to 100%; the one whose new variant fails eight times as often is
rolled back to 0%, with the check and its values. About 30 s (about 20 s with --fast).
  --flags       run the guarded flag rollout demo
  --store DIR   its flag store (files; default: the one \`npm start\` serves, GREENLIGHT_FLAGS_DIR, else
                GREENLIGHT_HOME, else .greenlight), so the dashboard and \`greenlight flags\` show the flags afterwards
`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** The Prometheus binary, or undefined when it is not installed. */
  findPrometheus: () => string | undefined;
  run: (options: DemoOptions) => Promise<DemoResult>;
  /** The flag demo (--flags); default: flag-run.ts's, loaded on demand. */
  runFlags?: (options: FlagDemoOptions) => Promise<FlagDemoResult>;
  /** Where `npm start` keeps its flags (the default of --store), and where `greenlight flags` looks for them. */
  flagStores?: () => FlagStoreDirs;
  /** Installs the Ctrl-C / SIGTERM handler; returns its removal. */
  onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
  exitNow: (code: number) => void;
}

const runFlagDemo = async (options: FlagDemoOptions) => (await import("./flag-run.ts")).runFlagDemo(options);
const processFlagStores = () => flagStoreDirs(process.env, process.cwd());

const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  findPrometheus: () => findPrometheusBinary(),
  // Loaded on demand: the Kubernetes and Prometheus clients take seconds to import on a busy machine, and the first
  // lines should not wait for them.
  run: async (options) => (await import("./run.ts")).runDemo(options),
  runFlags: runFlagDemo,
  flagStores: processFlagStores,
  onSignal: (handler) => {
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
    return () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    };
  },
  exitNow: (code) => process.exit(code),
};

type FlagsParsed = { flags: FlagDemoProfile; storeDir: string; storeHint: string };
type Parsed = { profile: DemoProfile; svgPath: string } | FlagsParsed | { exit: number };

const ACCEPTED = "--fast, --out FILE, --rps N, --flags, --store DIR, --help";

function parse(argv: readonly string[], io: CliIo): Parsed {
  let values: { fast?: boolean; out?: string; rps?: string; flags?: boolean; store?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        fast: { type: "boolean" },
        out: { type: "string" },
        rps: { type: "string" },
        flags: { type: "boolean" },
        store: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}; accepted: ${ACCEPTED}`);
    return { exit: 2 };
  }
  if (values.help) {
    io.out(USAGE);
    return { exit: 0 };
  }
  if (values.flags) return parseFlags(values, io);
  if (values.store !== undefined) {
    io.err("--store is the flag demo's store: add --flags, e.g. npm run demo -- --flags --store /tmp/flags");
    return { exit: 2 };
  }
  const base: DemoProfile = values.fast ? PROFILES.fast : PROFILES.full;
  const rps = rpsOf(values.rps, base.rps, io);
  if (typeof rps !== "number") return rps;
  if (values.out === "") {
    io.err(`--out is empty: give a file path, e.g. --out ${DEFAULT_SVG}`);
    return { exit: 2 };
  }
  return { profile: { ...base, rps }, svgPath: resolve(values.out ?? DEFAULT_SVG) };
}

/** --rps: an integer from 20 to 2000, or the problem (already said). */
function rpsOf(raw: string | undefined, fallback: number, io: CliIo): number | { exit: number } {
  if (raw === undefined) return fallback;
  const rps = Number(raw);
  if (!/^\d+$/.test(raw) || rps < 20 || rps > 2000) {
    io.err(`--rps ${JSON.stringify(raw)}: accepted: an integer from 20 to 2000 (requests per second), e.g. --rps 200`);
    return { exit: 2 };
  }
  return rps;
}

function parseFlags(values: { fast?: boolean; out?: string; rps?: string; store?: string }, io: CliIo): Parsed {
  if (values.out !== undefined) {
    io.err("--out is the canary demo's chart; the flag demo draws none: leave out --out or --flags");
    return { exit: 2 };
  }
  if (values.store === "") {
    io.err("--store is empty: give a directory for the flag files, e.g. --store /tmp/greenlight-flags");
    return { exit: 2 };
  }
  const base: FlagDemoProfile = values.fast ? FLAG_PROFILES.fast : FLAG_PROFILES.full;
  const rps = rpsOf(values.rps, base.rps, io);
  if (typeof rps !== "number") return rps;
  const stores = (io.flagStores ?? processFlagStores)();
  const storeDir = values.store === undefined ? stores.start : resolve(values.store);
  // The follow-up commands name the store when `greenlight flags` would look elsewhere.
  const storeHint = storeDir === stores.cli ? "" : `GREENLIGHT_FLAGS_DIR=${storeDir} `;
  return { flags: { ...base, steps: [...base.steps], rps }, storeDir, storeHint };
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const parsed = parse(argv, io);
  if ("exit" in parsed) return parsed.exit;
  if (!io.findPrometheus()) {
    io.err(INSTALL_HINT);
    return 1;
  }
  const controller = new AbortController();
  let signals = 0;
  const removeHandler = io.onSignal((signal) => {
    signals += 1;
    if (signals === 1) {
      io.err(`\n${signal}: stopping the demo (Prometheus, servers, load); ${signal} again to quit at once`);
      controller.abort();
    } else {
      io.exitNow(130);
    }
  });
  try {
    if ("flags" in parsed) {
      io.out(`greenlight demo --flags (${parsed.flags.name}): two guarded flag rollouts, on this machine`);
      io.out("starting the parts...");
      const result = await (io.runFlags ?? runFlagDemo)({
        profile: parsed.flags,
        storeDir: parsed.storeDir,
        storeHint: parsed.storeHint,
        log: io.out,
        signal: controller.signal,
      });
      return result.ok ? 0 : 1;
    }
    io.out(`greenlight demo (${parsed.profile.name}): a healthy canary, then a failing one, on this machine`);
    io.out("starting the parts...");
    const result = await io.run({
      profile: parsed.profile,
      svgPath: parsed.svgPath,
      log: io.out,
      signal: controller.signal,
    });
    return result.ok ? 0 : 1;
  } catch (error) {
    if (controller.signal.aborted) {
      io.err("demo stopped; everything it started is shut down");
      return 130;
    }
    io.err(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    removeHandler();
  }
}
