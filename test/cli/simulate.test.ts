// `greenlight canary simulate` as the real binary: the stepper run in the simulator against the profiles given.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run.ts";

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-v2
  annotations:
    greenlight.dev/strategy: canary
    greenlight.dev/steps: "10,50"
    greenlight.dev/interval: 2m
    greenlight.dev/max-error-rate: "1%"
spec:
  replicas: 2
`;

let dir: string;
let deploy: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "greenlight-simulate-"));
  deploy = join(dir, "deploy.yaml");
  await writeFile(deploy, `apiVersion: v1\nkind: Service\nmetadata:\n  name: shop\n---\n${DEPLOYMENT}`);
});

const simulate = (...args: string[]) => runCli(["canary", "simulate", ...args]);

describe("greenlight canary simulate", () => {
  it("promotes a healthy canary step by step and says so", async () => {
    const result = await simulate("-f", deploy);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TIME\s+CANARY\s+PHASE\s+OUTCOME\s+REQUESTS\s+ERRORS\s+P95\s+P99\s+NOTE$/);
    expect(lines[1]).toMatch(/^00:00\s+0%\s+Waiting\s+written\s+CanaryWaiting: /);
    expect(result.stdout).toMatch(/^01:00\s+10%\s+Progressing\s+written\s+CanaryStep: step 1\/2/m);
    expect(result.stdout).toMatch(/^\d\d:\d\d\s+50%\s+Progressing\s+written\s+\d+ pass\s+[\d.]+% pass\s+\d+ms pass/m);
    expect(result.stdout).toMatch(/^\d\d:\d\d\s+100%\s+Promoted\s+written\s+.*CanaryPromoted: promoted v2/m);
    expect(lines.at(-1)).toMatch(
      /^Promoted after \d+m; the canary served \d+ requests during the rollout; 0 were sent to a canary without a Ready pod$/,
    );
  });

  it("rolls back a canary whose errors rise, showing the failed analyses", async () => {
    const result = await simulate("-f", deploy, "--error-rate", "0.5%,5%@4m");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d\d:\d\d\s+50%\s+Progressing\s+written\s+.*[\d.]+% fail.*CanaryHold: error-rate/m);
    expect(result.stdout).toMatch(
      /^\d\d:\d\d\s+0%\s+RolledBack\s+written\s+.*[\d.]+% fail.*CanaryRolledBack: error-rate/m,
    );
    expect(result.stdout.trimEnd().split("\n").at(-1)).toMatch(/^RolledBack after \d+m; /);
  });

  it("gives the passes as JSON with -o json, from standard input", async () => {
    const result = await runCli(["canary", "simulate", "-f", "-", "-o", "json", "--minutes", "12"], DEPLOYMENT);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output.deployment).toBe("shop-v2");
    // A pass every virtual minute, the first at 0.
    expect(output.passes).toHaveLength(13);
    output.passes.forEach((pass: { at: number; weights: { stable: number; canary: number } }, index: number) => {
      expect(pass.at).toBe(index * 60);
      expect(pass.weights.stable + pass.weights.canary).toBe(100);
    });
    expect(output.passes.map((pass: { weights: { canary: number } }) => pass.weights.canary)).toContain(50);
    expect(output.summary).toMatchObject({ finalPhase: "Promoted", minutes: 12, unreadyRequests: 0 });
    expect(output.summary.canaryRequests).toBeGreaterThan(0);
    expect(output.violations).toEqual([]);
  });

  it("is the same timeline for the same seed", async () => {
    const [a, b] = await Promise.all([simulate("-f", deploy, "--seed", "7"), simulate("-f", deploy, "--seed", "7")]);
    expect(a.stdout).toBe(b.stdout);
  });

  it("writes the demo's chart with --svg", async () => {
    const svg = join(dir, "timeline.svg");
    const result = await simulate("-f", deploy, "--svg", svg, "--error-rate", "0.5%,5%@4m");
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`wrote ${svg}\n`);
    const markup = await readFile(svg, "utf8");
    expect(markup).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(markup).toContain("greenlight canary simulate: shop-v2");
    const weights = /<polyline data-series="canary" data-panel="weight" points="([^"]+)"/.exec(markup);
    expect(weights?.[1]?.split(" ").length).toBeGreaterThan(3);
    expect(markup).toContain('class="marker fail"');
    expect(markup).toContain(">RolledBack</text>");
  });

  it("stops at a wrong flag value or file with one line naming it, exit 2", async () => {
    const cases: [string[], string][] = [
      [["--error-rate", "3%@x"], 'greenlight: --error-rate "3%@x": "x" is not a duration (e.g. 12m, 90s)\n'],
      [["--latency-p99", "fast"], 'greenlight: --latency-p99 "fast" is not a latency (e.g. "120ms" or "1.2s")\n'],
      [
        ["--rps", "0"],
        'greenlight: --rps "0": accepted: requests per second above 0 and at most 100000, e.g. 20 or 0.5\n',
      ],
      [["--startup", "soon"], 'greenlight: --startup "soon": accepted: a pod start-up time, e.g. 0s, 15s, 2m\n'],
      [["-o", "yaml"], "greenlight: -o yaml is not supported: use -o table or -o json\n"],
    ];
    // Each run is a node start-up: all at once.
    const [results, service, invalid, missing, noFile] = await Promise.all([
      Promise.all(cases.map(([flags]) => simulate("-f", deploy, ...flags))),
      runCli(["canary", "simulate", "-f", "-"], "apiVersion: v1\nkind: Service\n"),
      runCli(["canary", "simulate", "-f", "-"], DEPLOYMENT.replace('"10,50"', '"50,10"')),
      simulate("-f", join(dir, "nope.yaml")),
      simulate(),
    ]);
    cases.forEach(([flags, stderr], index) => {
      const result = results[index];
      expect({ flags, code: result?.code, stderr: result?.stderr, stdout: result?.stdout }).toEqual({
        flags,
        code: 2,
        stderr,
        stdout: "",
      });
    });
    expect(service.code).toBe(2);
    expect(service.stderr).toBe(
      "greenlight: <stdin>: no Deployment in 1 document(s): pass the canary's manifest (kind: Deployment)\n",
    );
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/^greenlight: shop-v2: greenlight.dev\/steps: "50,10" is invalid: .*\n$/);
    expect(missing).toMatchObject({
      code: 2,
      stderr: `greenlight: cannot read ${join(dir, "nope.yaml")}: no such file\n`,
    });
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/^error: required option '-f, --file <file>' not specified$/m);
  });

  it("has --help with examples", async () => {
    const result = await simulate("--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: greenlight canary simulate [options]");
    expect(result.stdout).toContain("--error-rate <schedule>");
    expect(result.stdout).toContain("greenlight canary simulate -f deploy.yaml --error-rate 0.5%,3%@12m");
  });
});
