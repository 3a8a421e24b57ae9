// `npm run demo -- --fast` end to end, as a user runs it: real stepper, fake API server, router, load, real Prometheus.
/*
 * The command runs in a child process (`node --import tsx`, so signals reach it directly) with the chart written to
 * a temp dir. Prometheus is installed by the global test setup. Assertions are on outcomes (phases, exit status,
 * files, processes), never on how long anything took.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answers, type RunningDemo as Running, startDemo } from "./spawn-demo.ts";

/** Resolves once stdout matches (a limit for a broken setup, not a measurement). */
async function waitForOutput(running: Running, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = running.stdout().match(pattern);
    if (match) return match;
    if (running.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no ${pattern} in the demo's output:\n${running.stdout()}\n${running.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let dir: string;
const started: Running[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "greenlight-demo-test-"));
});

afterAll(async () => {
  // A failed assertion must not leave a demo (and its Prometheus) running.
  for (const running of started) if (running.child.exitCode === null) running.child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

describe("npm run demo -- --fast", () => {
  it("promotes the healthy canary, rolls back the failing one, draws both, and stops everything", async () => {
    const svgPath = join(dir, "demo.svg");
    const demo = startDemo(["--fast", "--out", svgPath]);
    started.push(demo);
    const code = await demo.exited;
    const stdout = demo.stdout();
    expect(code, `${stdout}\n${demo.stderr()}`).toBe(0);

    // The summary table: each run ended as expected.
    expect(stdout).toMatch(/^good\s+v2 healthy\s+Promoted\s+Promoted\s/m);
    expect(stdout).toMatch(/^bad\s+v2 failing[^\n]*\s+RolledBack\s+RolledBack\s/m);
    expect(stdout).toContain("every rollout ended as expected");
    // Everything was closed: the safety exit in index.ts (for a handle left open) did not have to act.
    expect(demo.stderr()).not.toContain("still open");

    // The timelines as they went: the healthy canary stepped up and was promoted after passing analyses; the
    // failing one was held, then rolled back on its error rate.
    const good = stdout.split("\n").filter((line) => line.startsWith("[good]"));
    const bad = stdout.split("\n").filter((line) => line.startsWith("[bad ]"));
    expect(good.some((line) => /canary\s+20%\s+Progressing/.test(line))).toBe(true);
    expect(good.at(-1)).toMatch(/canary 100%\s+Promoted\s.*pass\s+CanaryPromoted/);
    expect(good.some((line) => /\bfail\b/.test(line))).toBe(false);
    expect(bad.some((line) => /CanaryHold: .*error-rate [0-9.]+ > max 0\.01 \(fail\)/.test(line))).toBe(true);
    expect(bad.at(-1)).toMatch(/canary\s+0%\s+RolledBack\s.*fail\s+CanaryRolledBack/);

    // The chart has both rollouts.
    expect(stdout).toContain(`chart: ${svgPath}`);
    const svg = await readFile(svgPath, "utf8");
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg).toContain('data-series="good" data-panel="weight"');
    expect(svg).toContain('data-series="bad" data-panel="weight"');
    expect(svg).toMatch(/class="end-label"[^>]*>Promoted</);
    expect(svg).toMatch(/class="end-label"[^>]*>RolledBack</);

    // Prometheus is gone once the demo has exited.
    const prometheusUrl = stdout.match(/Prometheus\s+(http:\/\/127\.0\.0\.1:\d+)/)?.[1];
    expect(prometheusUrl).toBeDefined();
    expect(await answers(prometheusUrl ?? "")).toBe(false);
  }, 150_000);

  it("shuts everything down on Ctrl-C and exits 130", async () => {
    const demo = startDemo(["--fast", "--out", join(dir, "interrupted.svg")]);
    started.push(demo);
    const [, prometheusUrl = ""] = await waitForOutput(demo, /Prometheus\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000);
    expect(await answers(prometheusUrl)).toBe(true);
    demo.child.kill("SIGINT");
    expect(await demo.exited, demo.stderr()).toBe(130);
    expect(demo.stderr()).toContain("demo stopped; everything it started is shut down");
    expect(await answers(prometheusUrl)).toBe(false);
    await expect(readFile(join(dir, "interrupted.svg"))).rejects.toThrow(/ENOENT/);
  }, 120_000);
});
