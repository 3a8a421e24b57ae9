// Random runs of the stepper: time, check outcomes, availability, manual controls, hand edits and new versions,
// driven through planCanary/decideCanary and the status annotation, against a model of what must hold.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CheckResult, Outcome } from "../../functions/canary/checks.ts";
import { type CanaryInput, decideCanary, MESSAGE_LIMIT, planCanary } from "../../functions/canary/decide.ts";
import { readCanarySettings } from "../../functions/canary/settings.ts";
import { type CanaryStatus, formatStatus, parseStatus } from "../../functions/canary/status.ts";
import { isValidWeights, sameWeights, type Weights } from "../../functions/canary/weights.ts";
import { gl, T0 } from "./fixtures.ts";

const NAMES = ["request-count", "error-rate", "latency-p95", "latency-p99"];
type Control = "true" | "false" | "unset" | "invalid";

type Action =
  | { kind: "wait" }
  | { kind: "control"; key: "paused" | "promote" | "abort"; value: Control }
  | { kind: "drift"; weights: Weights }
  | { kind: "available"; value: boolean }
  | { kind: "version"; value: string };

interface Tick {
  seconds: number;
  /** Per check; biased towards pass so rollouts get far. */
  outcomes: Outcome[];
  action: Action;
}

const outcome = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Outcome>("pass") },
  { weight: 1, arbitrary: fc.constantFrom<Outcome>("fail", "no-data", "error") },
);

const action = (controls: boolean): fc.Arbitrary<Action> =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant<Action>({ kind: "wait" }) },
    {
      weight: controls ? 3 : 0,
      arbitrary: fc.record({
        kind: fc.constant("control" as const),
        key: fc.constantFrom("paused" as const, "promote" as const, "abort" as const),
        value: fc.constantFrom<Control>("true", "false", "unset", "invalid"),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("drift" as const),
        weights: fc.record({ stable: fc.integer({ min: 0, max: 100 }), canary: fc.integer({ min: 0, max: 100 }) }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("available" as const), value: fc.boolean() }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("version" as const), value: fc.constantFrom("v2.0", "v3.0") }),
    },
  );

const tick = (controls: boolean): fc.Arbitrary<Tick> =>
  fc.record({
    seconds: fc.integer({ min: 0, max: 150 }),
    outcomes: fc.array(outcome, { minLength: 4, maxLength: 4 }),
    action: action(controls),
  });

const config = fc.record({
  steps: fc
    .uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 5 })
    .map((s) => s.sort((a, b) => a - b)),
  interval: fc.integer({ min: 1, max: 120 }),
  threshold: fc.integer({ min: 1, max: 3 }),
  maxInconclusive: fc.integer({ min: 1, max: 3 }),
});

type Config = { steps: number[]; interval: number; threshold: number; maxInconclusive: number };

const checksOf = (outcomes: Outcome[]): CheckResult[] =>
  NAMES.map((name, index) => {
    const result: CheckResult = {
      name,
      query: name,
      threshold: 1,
      comparison: "max",
      outcome: outcomes[index] ?? "pass",
    };
    if (result.outcome === "pass") result.value = 0.5;
    if (result.outcome === "fail") result.value = 2;
    return result;
  });

type Verdict = "pass" | "fail" | "inconclusive";

/** One simulated cluster: the Deployment's annotations, the route's weights and the status annotation. */
function simulate(cfg: Config, ticks: Tick[]): void {
  const controls: Record<"paused" | "promote" | "abort", Control> = {
    paused: "unset",
    promote: "unset",
    abort: "unset",
  };
  let version = "v2.0";
  let available = true;
  let route: Weights = { stable: 90, canary: 10 };
  let annotation: string | undefined;
  let now = T0.getTime();
  const intervalMs = cfg.interval * 1000;

  // The model of the current rollout.
  let passedSteps = new Set<number>();
  let stepTimes: number[] = [];
  let failures = 0;
  let inconclusive = 0;

  for (const { seconds, outcomes, action } of ticks) {
    if (action.kind === "control") controls[action.key] = action.value;
    if (action.kind === "drift") route = action.weights;
    if (action.kind === "available") available = action.value;
    if (action.kind === "version") version = action.value;
    now += seconds * 1000;

    const annotations: Record<string, string> = {
      steps: cfg.steps.join(","),
      interval: `${cfg.interval}s`,
      threshold: String(cfg.threshold),
      "max-inconclusive": String(cfg.maxInconclusive),
    };
    for (const [key, value] of Object.entries(controls)) {
      if (value === "true" || value === "false") annotations[key] = value;
      if (value === "invalid") annotations[key] = "yes";
    }
    const { settings } = readCanarySettings(gl(annotations), "myapp");
    const parsed = parseStatus(annotation);
    expect(parsed.problem).toBeUndefined();
    const prior = parsed.status;
    const input: CanaryInput = {
      deployment: { namespace: "production", name: "myapp", version, ready: available },
      settings,
      currentWeights: route,
      stableVersion: "v1.0",
      now: new Date(now),
    };
    if (prior) input.status = prior;
    const plan = planCanary(input);
    if (plan.analyse) input.checks = checksOf(outcomes);
    const decision = decideCanary(input);
    const { status } = decision;

    // Weights: integers summing to 100, in the status and in every write.
    expect(isValidWeights(status.weights)).toBe(true);
    if (decision.weights) {
      expect(isValidWeights(decision.weights)).toBe(true);
      expect(decision.weights).toEqual(status.weights);
      expect(sameWeights(decision.weights, route)).toBe(false);
    }
    expect(decision.events.length).toBeLessThanOrEqual(1);
    for (const event of decision.events) expect(event.message.length).toBeLessThanOrEqual(MESSAGE_LIMIT);
    if (!decision.changed) expect(status).toBe(prior);

    // A new rollout resets the model.
    const fresh = !prior || prior.canaryVersion !== status.canaryVersion;
    if (fresh) {
      passedSteps = new Set();
      stepTimes = [];
      failures = 0;
      inconclusive = 0;
      expect(status).toMatchObject({ phase: "Waiting", stepIndex: -1, weights: { stable: 100, canary: 0 } });
    }

    // Did this run analyse, and what did the model see?
    const analysed =
      !fresh &&
      status.lastAnalysisAt === new Date(now).toISOString() &&
      prior?.lastAnalysisAt !== status.lastAnalysisAt;
    let verdict: Verdict | undefined;
    if (analysed) {
      expect(prior?.phase).toBe("Progressing");
      const given = input.checks ?? [];
      verdict = given.some((c) => c.outcome === "fail")
        ? "fail"
        : !available || given.length === 0 || given.some((c) => c.outcome !== "pass")
          ? "inconclusive"
          : "pass";
      if (verdict === "pass") {
        failures = 0;
        inconclusive = 0;
        passedSteps.add(prior?.stepIndex ?? -99);
      } else if (verdict === "fail") {
        failures += 1;
        inconclusive = 0;
      } else {
        inconclusive += 1;
        if (inconclusive >= cfg.maxInconclusive) failures += 1;
      }
    }
    if (prior && !fresh && (prior.phase === "Promoted" || prior.phase === "RolledBack")) {
      // Finished rollouts do nothing until the version changes.
      expect(decision.changed).toBe(false);
      expect(decision.weights).toBeUndefined();
    }

    // Steps: one index at a time, from undrifted weights, at most one per interval, each after a pass.
    if (prior && !fresh && status.stepIndex > prior.stepIndex) {
      expect(status.stepIndex).toBe(prior.stepIndex + 1);
      expect(sameWeights(route, prior.weights)).toBe(true);
      expect(status.weights.canary).toBe(cfg.steps[status.stepIndex]);
      if (prior.stepIndex >= 0) expect(verdict).toBe("pass");
      const last = stepTimes.at(-1);
      if (last !== undefined) expect(now - last).toBeGreaterThanOrEqual(intervalMs);
      stepTimes.push(now);
    }

    // Promotion: by the promote control, or after a passing analysis at every step, never from drifted weights.
    if (status.phase === "Promoted" && prior?.phase !== "Promoted") {
      if (status.reason?.startsWith("promoted by greenlight.dev/promote")) {
        expect(controls.promote).toBe("true");
        expect(available).toBe(true);
      } else {
        expect(verdict).toBe("pass");
        expect(sameWeights(route, prior?.weights ?? { stable: -1, canary: -1 })).toBe(true);
        for (let index = 0; index < cfg.steps.length; index++) expect(passedSteps.has(index)).toBe(true);
      }
    }

    // Rollback: by abort, or exactly when `threshold` consecutive failures (inconclusive overflow included) happened.
    const rolledBackNow = status.phase === "RolledBack" && prior?.phase !== "RolledBack" && !fresh;
    if (rolledBackNow && status.reason?.startsWith("aborted by")) {
      expect(controls.abort).toBe("true");
    } else if (analysed) {
      expect(rolledBackNow).toBe(failures >= cfg.threshold);
      if (!rolledBackNow) expect(status.failures).toBe(failures);
    } else {
      expect(rolledBackNow).toBe(false);
    }
    if (status.phase === "Progressing" || status.phase === "Waiting" || status.phase === "Paused") {
      expect(status.failures).toBe(failures);
      expect(failures).toBeLessThan(cfg.threshold);
    }

    // Drift: nothing moves, and a hand edit is only overwritten by an explicit resume, a rollback or a promotion.
    if (
      prior &&
      !fresh &&
      !sameWeights(route, prior.weights) &&
      prior.phase !== "Promoted" &&
      prior.phase !== "RolledBack"
    ) {
      expect(plan.analyse).toBe(false);
      expect(status.stepIndex).toBe(prior.stepIndex);
      if (decision.weights && status.phase !== "RolledBack" && status.phase !== "Promoted") {
        expect(prior.phase).toBe("Paused");
        expect(controls.paused).toBe("false");
        expect(decision.weights).toEqual(prior.weights);
      }
    }

    if (decision.weights) route = decision.weights;
    if (decision.changed) annotation = formatStatus(status);
  }
}

describe("canary stepper over random runs", () => {
  it("keeps every invariant with controls, hand edits, outages and new versions", () => {
    fc.assert(
      fc.property(config, fc.array(tick(true), { minLength: 1, maxLength: 80 }), (cfg, ticks) => simulate(cfg, ticks)),
      { numRuns: 400 },
    );
  });

  it("without controls, promotes only through passing analyses at every step", () => {
    fc.assert(
      fc.property(config, fc.array(tick(false), { minLength: 1, maxLength: 80 }), (cfg, ticks) => simulate(cfg, ticks)),
      { numRuns: 400 },
    );
  });

  it("reaches every phase, so the invariants are not vacuous", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(config, fc.array(tick(true), { minLength: 20, maxLength: 80 }), (cfg, ticks) => {
        const spy = (status: CanaryStatus) => seen.add(status.phase);
        let annotation: string | undefined;
        let route: Weights = { stable: 100, canary: 0 };
        let now = T0.getTime();
        let paused = false;
        for (const { seconds, outcomes, action } of ticks) {
          now += seconds * 1000;
          if (action.kind === "control" && action.key === "paused") paused = action.value === "true";
          const { settings } = readCanarySettings(
            gl({ steps: cfg.steps.join(","), interval: `${cfg.interval}s`, ...(paused ? { paused: "true" } : {}) }),
            "myapp",
          );
          const status = parseStatus(annotation).status;
          const input: CanaryInput = {
            deployment: { namespace: "p", name: "d", version: "v2.0", ready: true },
            settings,
            currentWeights: route,
            now: new Date(now),
          };
          if (status) input.status = status;
          if (planCanary(input).analyse) input.checks = checksOf(outcomes);
          const decision = decideCanary(input);
          spy(decision.status);
          if (decision.weights) route = decision.weights;
          annotation = formatStatus(decision.status);
        }
      }),
      { numRuns: 200 },
    );
    expect([...seen].sort()).toEqual(["Paused", "Progressing", "Promoted", "RolledBack", "Waiting"]);
  });
});
