// `npm run demo`'s command line: options, the Prometheus check, Ctrl-C, and the exit status.
/*
 * Exit status: 0 when the healthy canary was promoted and the failing one rolled back, 1 when a rollout ended
 * otherwise or a part failed (Prometheus missing included), 2 for a bad option, 130 after Ctrl-C. The first Ctrl-C
 * stops the demo in order (Prometheus, servers, load); a second one exits at once, and Prometheus, started in its own
 * process group, is killed by the exit hook of scripts/services/children.ts (or by the kernel, through setpriv).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { findPrometheusBinary } from "../services/prometheus.ts";
import { type DemoProfile, PROFILES } from "./profiles.ts";
import type { DemoOptions, DemoResult } from "./run.ts";

export const DEFAULT_SVG = ".greenlight/demo.svg";

export const INSTALL_HINT =
  "prometheus is not installed: the demo runs Debian's Prometheus. Install it with\n" +
  "  sudo apt-get install -y prometheus\n" +
  "and run `npm run demo` again (the package may also start a system Prometheus on :9090; the demo does not use it).";

const USAGE = `Usage: npm run demo -- [--fast] [--out FILE] [--rps N]

Runs a full canary on this machine: a fake Kubernetes API server, two versions of a sample app, a weighted router
that follows the VirtualService, open-loop load, Debian's Prometheus and the real greenlight stepper. A healthy
canary is promoted, then a failing one is rolled back; the timelines are printed and drawn as an SVG chart.

Options:
  --fast        shorter rollouts (3 s interval, steps 20,50,100): about 35 s instead of about 70 s when idle
  --out FILE    where the chart goes (default ${DEFAULT_SVG}; the \`npm start\` page shows that one)
  --rps N       requests per second of load (default ${PROFILES.full.rps}, ${PROFILES.fast.rps} with --fast)
  -h, --help    this text
`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** The Prometheus binary, or undefined when it is not installed. */
  findPrometheus: () => string | undefined;
  run: (options: DemoOptions) => Promise<DemoResult>;
  /** Installs the Ctrl-C / SIGTERM handler; returns its removal. */
  onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
  exitNow: (code: number) => void;
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  findPrometheus: () => findPrometheusBinary(),
  // Loaded on demand: the Kubernetes and Prometheus clients take seconds to import on a busy machine, and the first
  // lines should not wait for them.
  run: async (options) => (await import("./run.ts")).runDemo(options),
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

type Parsed = { profile: DemoProfile; svgPath: string } | { exit: number };

function parse(argv: readonly string[], io: CliIo): Parsed {
  let values: { fast?: boolean; out?: string; rps?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        fast: { type: "boolean" },
        out: { type: "string" },
        rps: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}; accepted: --fast, --out FILE, --rps N, --help`);
    return { exit: 2 };
  }
  if (values.help) {
    io.out(USAGE);
    return { exit: 0 };
  }
  const base: DemoProfile = values.fast ? PROFILES.fast : PROFILES.full;
  let rps = base.rps;
  if (values.rps !== undefined) {
    rps = Number(values.rps);
    if (!/^\d+$/.test(values.rps) || rps < 20 || rps > 2000) {
      io.err(
        `--rps ${JSON.stringify(values.rps)}: accepted: an integer from 20 to 2000 (requests per second), e.g. --rps 200`,
      );
      return { exit: 2 };
    }
  }
  if (values.out === "") {
    io.err(`--out is empty: give a file path, e.g. --out ${DEFAULT_SVG}`);
    return { exit: 2 };
  }
  return { profile: { ...base, rps }, svgPath: resolve(values.out ?? DEFAULT_SVG) };
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
  io.out(`greenlight demo (${parsed.profile.name}): a healthy canary, then a failing one, on this machine`);
  io.out("starting the parts...");
  try {
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
