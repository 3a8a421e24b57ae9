// `npm run demo`'s command line without running the demo: options, the missing-Prometheus stop, Ctrl-C, exit codes.
import { describe, expect, it } from "vitest";
import { type CliIo, DEFAULT_SVG, main } from "../../scripts/demo/cli.ts";
import { PROFILES } from "../../scripts/demo/profiles.ts";
import type { DemoOptions, DemoResult } from "../../scripts/demo/run.ts";
import { formatSummary, pointFromReport, type RunSummary, verdictOf } from "../../scripts/demo/timeline.ts";

interface Harness {
  io: CliIo;
  out: string[];
  err: string[];
  runs: DemoOptions[];
  exits: number[];
  /** Sends the signal to the installed handler (as Ctrl-C would). */
  signal: (name?: NodeJS.Signals) => void;
  handlerRemoved: () => boolean;
}

function harness(options: { prometheus?: boolean; run?: (options: DemoOptions) => Promise<DemoResult> } = {}): Harness {
  const out: string[] = [];
  const err: string[] = [];
  const runs: DemoOptions[] = [];
  const exits: number[] = [];
  let handler: ((signal: NodeJS.Signals) => void) | undefined;
  let removed = false;
  const io: CliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    findPrometheus: () => (options.prometheus === false ? undefined : "/usr/bin/prometheus"),
    run: async (demo) => {
      runs.push(demo);
      return options.run
        ? options.run(demo)
        : { runs: [], svgPath: demo.svgPath, load: {} as DemoResult["load"], ok: true };
    },
    onSignal: (installed) => {
      handler = installed;
      return () => {
        removed = true;
      };
    },
    exitNow: (code) => exits.push(code),
  };
  return { io, out, err, runs, exits, signal: (name = "SIGINT") => handler?.(name), handlerRemoved: () => removed };
}

describe("demo command line", () => {
  it("stops with the install command, exit 1, when Prometheus is not installed, before starting anything", async () => {
    const h = harness({ prometheus: false });
    expect(await main(["--fast"], h.io)).toBe(1);
    expect(h.err.join("\n")).toContain("sudo apt-get install -y prometheus");
    expect(h.err.join("\n")).toContain("npm run demo");
    expect(h.runs).toEqual([]);
  });

  it("runs the full profile by default, the fast one with --fast, and writes the chart where --out says", async () => {
    const h = harness();
    expect(await main([], h.io)).toBe(0);
    expect(h.runs[0]?.profile).toEqual(PROFILES.full);
    expect(h.runs[0]?.svgPath).toBe(`${process.cwd()}/${DEFAULT_SVG}`);
    expect(await main(["--fast", "--out", "/tmp/x/chart.svg", "--rps", "300"], h.io)).toBe(0);
    expect(h.runs[1]?.profile).toEqual({ ...PROFILES.fast, rps: 300 });
    expect(h.runs[1]?.svgPath).toBe("/tmp/x/chart.svg");
    expect(h.handlerRemoved()).toBe(true);
  });

  it("refuses bad options with exit 2, naming the option and what is accepted", async () => {
    for (const [argv, words] of [
      [
        ["--rps", "fast"],
        ["--rps", "integer from 20 to 2000"],
      ],
      [
        ["--rps", "5"],
        ["--rps", "integer from 20 to 2000"],
      ],
      [
        ["--speed", "9"],
        ["--speed", "accepted: --fast"],
      ],
      [["extra"], ["accepted: --fast"]],
      [
        ["--out", ""],
        ["--out", "file path"],
      ],
    ] as const) {
      const h = harness();
      expect(await main(argv, h.io), argv.join(" ")).toBe(2);
      for (const word of words) expect(h.err.join("\n")).toContain(word);
      expect(h.runs).toEqual([]);
    }
  });

  it("prints the usage with --help and exits 0 without running", async () => {
    const h = harness();
    expect(await main(["--help"], h.io)).toBe(0);
    expect(h.out.join("\n")).toContain("--fast");
    expect(h.runs).toEqual([]);
  });

  it("exits 1 when a rollout did not end as expected, and when the demo fails", async () => {
    const notOk = harness({
      run: async (demo) => ({ runs: [], svgPath: demo.svgPath, load: {} as DemoResult["load"], ok: false }),
    });
    expect(await main(["--fast"], notOk.io)).toBe(1);
    const failing = harness({
      run: async () => {
        throw new Error("prometheus on http://127.0.0.1:1 exited with 1");
      },
    });
    expect(await main(["--fast"], failing.io)).toBe(1);
    expect(failing.err.join("\n")).toContain("demo failed: prometheus on http://127.0.0.1:1 exited with 1");
  });

  it("stops in order on the first Ctrl-C (exit 130) and quits at once on the second", async () => {
    let h: Harness | undefined;
    h = harness({
      run: (demo) =>
        new Promise((_, reject) => {
          // The demo notices the abort and, having shut everything down, rejects.
          demo.signal?.addEventListener("abort", () => reject(new Error("aborted")));
          setImmediate(() => h?.signal("SIGINT"));
        }),
    });
    expect(await main(["--fast"], h.io)).toBe(130);
    expect(h.err.join("\n")).toMatch(/SIGINT: stopping the demo/);
    expect(h.exits).toEqual([]);
    h.signal("SIGINT");
    expect(h.exits).toEqual([130]);
  });
});

describe("timeline", () => {
  it("turns a stepper report into a point, judging the analysis and keeping the weight it judged", () => {
    const point = pointFromReport(
      {
        namespace: "demo-bad",
        deployment: "myapp-v2",
        outcome: "written",
        phase: "Progressing",
        weights: { stable: 80, canary: 20 },
        events: [{ type: "Warning", reason: "CanaryHold", message: "holding step 1/3 ..." }],
        warnings: [],
        checks: [
          { name: "request-count", query: "q", value: 90, threshold: 10, comparison: "min", outcome: "pass" },
          { name: "error-rate", query: "q", value: 0.21, threshold: 0.01, comparison: "max", outcome: "fail" },
          { name: "latency-p99", query: "q", value: 1430, threshold: 1000, comparison: "max", outcome: "fail" },
        ],
      },
      3.9,
      20,
      19.5,
    );
    expect(point).toMatchObject({
      at: 3.9,
      weight: 20,
      analysedWeight: 20,
      phase: "Progressing",
      wrote: true,
      verdict: "fail",
      errorRate: 0.21,
      p99Ms: 1430,
      requests: 90,
      servedShare: 19.5,
    });
    expect(point.note).toBe("CanaryHold: error-rate 0.21 > max 0.01 (fail); latency-p99 1430 > max 1000 (fail)");
    expect(pointFromReport(undefined, 1, 30)).toMatchObject({ weight: 30, phase: "Error" });
  });

  it("calls an analysis inconclusive when a check had no data, and failed when any check failed", () => {
    const check = (outcome: "pass" | "fail" | "no-data") =>
      ({ name: "x", query: "q", threshold: 1, comparison: "max", outcome }) as const;
    expect(verdictOf([check("pass"), check("pass")])).toBe("pass");
    expect(verdictOf([check("pass"), check("no-data")])).toBe("inconclusive");
    expect(verdictOf([check("no-data"), check("fail")])).toBe("fail");
    expect(verdictOf([])).toBe("inconclusive");
  });

  it("summarises each run on one row, flagging a timeout", () => {
    const run = (over: Partial<RunSummary>): RunSummary => ({
      name: "good",
      label: "v2 healthy",
      expected: "Promoted",
      phase: "Promoted",
      seconds: 12.34,
      points: [
        { at: 3, weight: 50, phase: "Progressing", wrote: true, verdict: "pass", errorRate: 0.001, p99Ms: 48 },
        { at: 6, weight: 50, phase: "Progressing", wrote: true, verdict: "inconclusive" },
      ],
      timedOut: false,
      ...over,
    });
    const table = formatSummary([run({}), run({ name: "bad", phase: "Progressing", timedOut: true })]);
    const [header, good, bad] = table.trimEnd().split("\n");
    expect(header).toMatch(/^run\s+canary\s+expected\s+ended/);
    expect(good).toMatch(/^good\s+v2 healthy\s+Promoted\s+Promoted\s+12\.3s\s+1\/0\/1\s+0\.10%\s+48 ms$/);
    expect(bad).toMatch(/^bad\s+v2 healthy\s+Promoted\s+Progressing \(timed out\)/);
  });
});
