// `npm run demo -- --flags --fast` end to end, as a user runs it: the real flag pass on the real clock, reading
// Debian's Prometheus, which scrapes sample apps evaluating the flags with greenlight's evaluator; and its options.
/*
 * The command runs in a child process with its flag store in a temp dir, which the test opens afterwards as
 * `greenlight flags` would. Prometheus is installed by the global test setup; the demo starts its own. Assertions are
 * on outcomes (phases, shares, audit entries, exit status, processes), never on how long anything took.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { STEPPER_ACTOR } from "../../functions/flags/rollout/plan.ts";
import type { Flag } from "../../functions/flags/types.ts";
import { type CliIo, main } from "../../scripts/demo/cli.ts";
import { DEMO_ACTOR, FLAG_PROFILES, FLAG_SCENARIOS } from "../../scripts/demo/flag-profiles.ts";
import type { FlagDemoOptions } from "../../scripts/demo/flag-run.ts";
import { flagStoreDirs } from "../../scripts/demo/flag-store.ts";
import { answers, startDemo } from "./spawn-demo.ts";

const [EQUAL, FAILING] = FLAG_SCENARIOS.map((scenario) => scenario.key);

/** A flag of the user's own with a plan, already in the store: the demo's passes must leave it alone. */
const OWN: Flag = {
  key: "my-own-rollout",
  state: "partial",
  percentage: 0,
  rollout: { steps: [10, 100], interval: "1s" },
};

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let child: ChildProcess | undefined;

async function runDemo(args: string[]): Promise<Finished> {
  const started = startDemo(args);
  child = started.child;
  const code = await started.exited;
  return { code, stdout: started.stdout(), stderr: started.stderr() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "greenlight-flag-demo-test-"));
});

afterAll(async () => {
  // A failed assertion must not leave a demo (and its Prometheus) running.
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

describe("npm run demo -- --flags --fast", () => {
  it("walks the equal variant to 100%, rolls the failing one back to 0%, by greenlight-stepper, and exits 0", async () => {
    const storeDir = join(dir, "flags");
    await createFileStore({ dir: storeDir, seed: [] }).put(OWN, { actor: "someone" });

    const { code, stdout, stderr } = await runDemo(["--flags", "--fast", "--store", storeDir]);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stderr).not.toContain("still open");

    // The timeline: a line per judgement with each check; the equal flag stepped up and completed, the failing one
    // rolled back on its error rate.
    const lines = (name: string) => stdout.split("\n").filter((line) => line.startsWith(`[${name.padEnd(7)}]`));
    expect(lines("equal").some((line) => /20% -> 50%\s+step-up\s+error-rate pass .*\| latency pass/.test(line))).toBe(
      true,
    );
    expect(lines("equal").at(-1)).toMatch(/50% -> 100%\s+complete\s+error-rate pass/);
    expect(lines("failing").at(-1)).toMatch(/-> 0%\s+roll-back\s+error-rate regression \+[\d.]+% \[\+[\d.]+%, /);
    expect(stdout).toMatch(/^equal\s+demo-checkout-equal\s+completed\s+completed\s+100%/m);
    expect(stdout).toMatch(/^failing\s+demo-checkout-failing\s+rolled-back\s+rolled-back\s+0%/m);
    expect(stdout).toContain("every rollout ended as expected");
    expect(stdout).toContain(`GREENLIGHT_FLAGS_DIR=${storeDir} npx greenlight flags rollout status ${FAILING}`);

    // The store, as `greenlight flags` reads it afterwards.
    const store = createFileStore({ dir: storeDir });
    const equal = (await store.get(EQUAL ?? ""))?.flag;
    expect(equal).toMatchObject({ percentage: 100, rolloutStatus: { phase: "completed", share: 100 } });
    const failing = (await store.get(FAILING ?? ""))?.flag;
    expect(failing).toMatchObject({ percentage: 0, rolloutStatus: { phase: "rolled-back", share: 0 } });
    expect(failing?.rolloutStatus?.reason).toMatch(
      /^error-rate regression at 20%: treatment [\d.]+% \(\d+\/\d+\) vs control [\d.]+% \(\d+\/\d+\).*rolled back to 0%$/,
    );
    const regression = failing?.rolloutStatus?.checks?.find((check) => check.name === "error-rate");
    expect(regression?.outcome).toBe("regression");
    expect(regression?.lower).toBeGreaterThanOrEqual(0.02);

    // The audit log: the demo wrote each flag once at 0%, then every write was the stepper's.
    const audit = (await store.audit({ limit: 100 })).reverse();
    const writes = (key: string) => audit.filter((entry) => entry.key === key);
    for (const key of [EQUAL ?? "", FAILING ?? ""]) {
      expect(writes(key)[0]).toMatchObject({ actor: DEMO_ACTOR, after: { percentage: 0 } });
      expect(
        writes(key)
          .slice(1)
          .every((entry) => entry.actor === STEPPER_ACTOR),
      ).toBe(true);
    }
    const shares = (key: string) => writes(key).map((entry) => entry.after?.percentage);
    // Holds are written too (each judgement's checks, in the status): 20% until the window decides.
    const equalShares = shares(EQUAL ?? "");
    expect(equalShares.slice(0, 2)).toEqual([0, 20]);
    expect(equalShares).toContain(50);
    expect(equalShares.at(-1)).toBe(100);
    const failingShares = shares(FAILING ?? "");
    expect(failingShares.slice(0, 2)).toEqual([0, 20]);
    expect(failingShares.at(-1)).toBe(0);
    expect(failingShares.slice(1, -1).every((share) => share === 20)).toBe(true);
    expect(writes(FAILING ?? "").at(-1)?.after?.rolloutStatus?.reason).toMatch(/^error-rate regression/);

    // The user's own flag with a plan was not stepped by the demo's passes.
    const own = await store.get(OWN.key);
    expect(own?.flag.rolloutStatus).toBeUndefined();
    expect(own?.revision).toBe(1);

    // Prometheus is gone once the demo has exited.
    const prometheusUrl = stdout.match(/Prometheus\s+(http:\/\/127\.0\.0\.1:\d+)/)?.[1];
    expect(prometheusUrl).toBeDefined();
    expect(await answers(prometheusUrl ?? "")).toBe(false);
  }, 90_000);
});

describe("npm run demo -- --flags: options", () => {
  function harness(stores = { start: "/home/me/project/.greenlight", cli: "/home/me/project/.greenlight" }) {
    const out: string[] = [];
    const err: string[] = [];
    const runs: FlagDemoOptions[] = [];
    const io: CliIo = {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      findPrometheus: () => "/usr/bin/prometheus",
      run: () => Promise.reject(new Error("the canary demo must not run")),
      runFlags: async (options) => {
        runs.push(options);
        return { runs: [], judgements: [], load: {} as never, ok: options.profile.rps !== 999 };
      },
      flagStores: () => stores,
      onSignal: () => () => undefined,
      exitNow: () => undefined,
    };
    return { io, out, err, runs };
  }

  it("runs the flag demo on npm start's store by default, or on --store, at the profile's or --rps's rate", async () => {
    const h = harness();
    expect(await main(["--flags"], h.io)).toBe(0);
    expect(h.runs[0]).toMatchObject({ profile: FLAG_PROFILES.full, storeDir: "/home/me/project/.greenlight" });
    expect(h.runs[0]?.storeHint).toBe("");
    expect(await main(["--flags", "--fast", "--store", "/tmp/x", "--rps", "250"], h.io)).toBe(0);
    expect(h.runs[1]).toMatchObject({ profile: { ...FLAG_PROFILES.fast, rps: 250 }, storeDir: "/tmp/x" });
    expect(h.runs[1]?.storeHint).toBe("GREENLIGHT_FLAGS_DIR=/tmp/x ");
    expect(await main(["--flags", "--rps", "999"], h.io)).toBe(1);
  });

  it("names the store in its closing commands when `greenlight flags` would look elsewhere (GREENLIGHT_HOME)", async () => {
    const h = harness({ start: "/srv/home", cli: "/home/me/project/.greenlight" });
    expect(await main(["--flags"], h.io)).toBe(0);
    expect(h.runs[0]).toMatchObject({ storeDir: "/srv/home", storeHint: "GREENLIGHT_FLAGS_DIR=/srv/home " });
  });

  it("finds npm start's store as the local stack does: GREENLIGHT_FLAGS_DIR, else GREENLIGHT_HOME, else .greenlight", () => {
    expect(flagStoreDirs({}, "/p")).toEqual({ start: "/p/.greenlight", cli: "/p/.greenlight" });
    expect(flagStoreDirs({ GREENLIGHT_HOME: "h" }, "/p")).toEqual({ start: "/p/h", cli: "/p/.greenlight" });
    expect(flagStoreDirs({ GREENLIGHT_HOME: "h", GREENLIGHT_FLAGS_DIR: "/f" }, "/p")).toEqual({
      start: "/f",
      cli: "/f",
    });
  });

  it("refuses options that do not go together, exit 2, naming them", async () => {
    const h = harness();
    expect(await main(["--store", "/tmp/x"], h.io)).toBe(2);
    expect(h.err.at(-1)).toMatch(/--store .*add --flags/);
    expect(await main(["--flags", "--out", "/tmp/x.svg"], h.io)).toBe(2);
    expect(h.err.at(-1)).toMatch(/--out .*flag demo draws none/);
    expect(await main(["--flags", "--store", ""], h.io)).toBe(2);
    expect(h.err.at(-1)).toMatch(/--store is empty/);
    expect(await main(["--flags", "--rps", "5"], h.io)).toBe(2);
    expect(await main(["--flags", "--nope"], h.io)).toBe(2);
    expect(h.err.at(-1)).toContain("--flags, --store DIR");
    expect(h.runs).toEqual([]);
  });
});
