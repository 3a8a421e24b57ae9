// One row per arrow of the canary state machine: the prior status and inputs, the phase, weights and event after.
import { describe, expect, it } from "vitest";
import type { CheckResult, Outcome } from "../../functions/canary/checks.ts";
import {
  type CanaryEventReason,
  type CanaryInput,
  decideCanary,
  MESSAGE_LIMIT,
  planCanary,
} from "../../functions/canary/decide.ts";
import {
  type CanaryPhase,
  type CanaryStatus,
  formatStatus,
  type HeldControl,
  parseStatus,
} from "../../functions/canary/status.ts";
import { isValidWeights, type Weights } from "../../functions/canary/weights.ts";
import { atSecond, gl, statusOf, T0, testSettings } from "./fixtures.ts";

const NAMES = ["request-count", "error-rate", "latency-p95", "latency-p99"] as const;
const VALUES: Record<Outcome, number | undefined> = { pass: 0.001, fail: 0.2, "no-data": undefined, error: undefined };

/** Builtin results: one outcome for all four checks, or one per check. */
function results(outcomes: Outcome | Outcome[]): CheckResult[] {
  return NAMES.map((name, index) => {
    const outcome = Array.isArray(outcomes) ? (outcomes[index] ?? "pass") : outcomes;
    const result: CheckResult = { name, query: `q-${name}`, threshold: 0.01, comparison: "max", outcome };
    const value = VALUES[outcome];
    if (value !== undefined) result.value = value;
    if (outcome === "error") result.detail = "network error: connect ECONNREFUSED";
    if (outcome === "no-data") result.detail = "empty result";
    return result;
  });
}

interface Given {
  status?: CanaryStatus;
  annotations?: Record<string, string>;
  current?: Weights;
  available?: boolean;
  version?: string;
  /** Outcomes handed over when planCanary asks; "none" hands over nothing even then. */
  checks?: Outcome | Outcome[] | "none";
  /** Seconds after T0. */
  at?: number;
}

function run(given: Given) {
  const input: CanaryInput = {
    deployment: {
      namespace: "production",
      name: "myapp-v2",
      version: given.version ?? "v2.0",
      ready: given.available ?? true,
    },
    settings: testSettings(given.annotations),
    currentWeights: given.current ?? given.status?.weights ?? { stable: 100, canary: 0 },
    stableVersion: "v1.0",
    now: atSecond(given.at ?? 60),
  };
  if (given.status) input.status = given.status;
  const plan = planCanary(input);
  if (plan.analyse && given.checks !== "none") input.checks = results(given.checks ?? "pass");
  return { plan, decision: decideCanary(input) };
}

const then = (given: Given): CanaryStatus => run(given).decision.status;

const DRIFTED = { stable: 63, canary: 37 };
const waiting = statusOf({ phase: "Waiting", stepIndex: -1, weights: { stable: 100, canary: 0 } });
const step1 = statusOf();
const step2 = statusOf({ stepIndex: 1, weights: { stable: 50, canary: 50 } });
const promoted = statusOf({ phase: "Promoted", stepIndex: 1, weights: { stable: 0, canary: 100 } });
const rolledBack = statusOf({ phase: "RolledBack", weights: { stable: 100, canary: 0 } });
const driftPaused = then({ status: step1, current: DRIFTED, at: 10 });
const driftPausedWithLeftover = then({ status: step1, current: DRIFTED, annotations: { paused: "false" }, at: 10 });
const userPausedOverDrift = then({
  status: driftPausedWithLeftover,
  current: DRIFTED,
  annotations: { paused: "true" },
  at: 20,
});
const userPaused = then({ status: step1, annotations: { paused: "true" }, at: 10 });
const userPausedWaiting = then({ status: waiting, annotations: { paused: "true" }, available: false, at: 10 });
const problemPaused = then({ status: step1, annotations: { abort: "yes" }, at: 10 });
const heldPromote = then({ annotations: { promote: "true" }, at: 0 });

interface Expected {
  phase: CanaryPhase;
  stepIndex?: number;
  /** The weights to write; null: leave the route alone. */
  weights: Weights | null;
  event: CanaryEventReason | null;
  failures?: number;
  inconclusive?: number;
  reason?: RegExp;
  held?: HeldControl[];
  changed?: boolean;
  analyse?: boolean;
  canaryVersion?: string;
}

const rows: [string, Given, Expected][] = [
  // New rollouts and Waiting
  [
    "none -> Waiting: no status, canary not available; weight goes to 0",
    { current: { stable: 90, canary: 10 }, available: false },
    { phase: "Waiting", stepIndex: -1, weights: { stable: 100, canary: 0 }, event: "CanaryWaiting" },
  ],
  [
    "none -> Waiting: no status, canary available; the first step waits for the next run",
    { current: { stable: 90, canary: 10 } },
    { phase: "Waiting", stepIndex: -1, weights: { stable: 100, canary: 0 }, event: "CanaryWaiting" },
  ],
  [
    "Waiting -> Waiting: canary still not available, nothing to write",
    { status: waiting, available: false },
    { phase: "Waiting", weights: null, event: null, changed: false, analyse: false },
  ],
  [
    "Waiting -> Progressing step 1 once available",
    { status: waiting, at: 1 },
    { phase: "Progressing", stepIndex: 0, weights: { stable: 90, canary: 10 }, event: "CanaryStep", analyse: false },
  ],
  // Progressing
  [
    "Progressing -> Progressing: interval not up, Prometheus not asked",
    { status: step1, at: 59 },
    { phase: "Progressing", stepIndex: 0, weights: null, event: null, changed: false, analyse: false },
  ],
  [
    "Progressing -> Progressing next step: every check passed",
    { status: step1, checks: "pass" },
    { phase: "Progressing", stepIndex: 1, weights: { stable: 50, canary: 50 }, event: "CanaryStep", analyse: true },
  ],
  [
    "Progressing -> hold: one failed analysis",
    { status: step1, checks: ["pass", "fail"] },
    {
      phase: "Progressing",
      stepIndex: 0,
      weights: null,
      event: "CanaryHold",
      failures: 1,
      inconclusive: 0,
      reason: /1 of 2 failures before rollback\): analysis failed: error-rate 0\.2 > max 0\.01 \(fail\)/,
    },
  ],
  [
    "Progressing -> RolledBack: threshold consecutive failures, naming the failing values",
    { status: statusOf({ failures: 1 }), checks: ["pass", "fail", "fail"] },
    {
      phase: "RolledBack",
      weights: { stable: 100, canary: 0 },
      event: "CanaryRolledBack",
      failures: 2,
      reason: /2 consecutive failed analyses at step 1\/2 .*error-rate 0\.2 > max 0\.01 \(fail\); latency-p95 0\.2/,
    },
  ],
  [
    "Progressing -> hold: no data is inconclusive, never a pass",
    { status: step1, checks: ["no-data", "no-data", "pass", "pass"] },
    { phase: "Progressing", stepIndex: 0, weights: null, event: "CanaryHold", failures: 0, inconclusive: 1 },
  ],
  [
    "Progressing -> hold: a Prometheus error is inconclusive",
    { status: step1, checks: "error" },
    {
      phase: "Progressing",
      weights: null,
      event: "CanaryHold",
      inconclusive: 1,
      reason: /error-rate error: network error: connect ECONNREFUSED/,
    },
  ],
  [
    "Progressing -> hold: inconclusive max-inconclusive times counts as a failure",
    { status: statusOf({ inconclusive: 1, lastAnalysisAt: T0.toISOString() }), checks: "no-data" },
    {
      phase: "Progressing",
      weights: null,
      event: "CanaryHold",
      failures: 1,
      inconclusive: 2,
      reason: /counts as a failure/,
    },
  ],
  [
    "Progressing -> RolledBack: inconclusive overflow reaching the threshold",
    { status: statusOf({ failures: 1, inconclusive: 2 }), checks: "error" },
    { phase: "RolledBack", weights: { stable: 100, canary: 0 }, event: "CanaryRolledBack", failures: 2 },
  ],
  [
    "Progressing -> RolledBack: an inconclusive analysis does not break a run of failures",
    { status: statusOf({ failures: 1, inconclusive: 1 }), checks: ["pass", "fail"] },
    { phase: "RolledBack", weights: { stable: 100, canary: 0 }, event: "CanaryRolledBack" },
  ],
  [
    "Progressing -> next step: a pass clears the failure and inconclusive counts",
    { status: statusOf({ failures: 1, inconclusive: 1 }), checks: "pass" },
    {
      phase: "Progressing",
      stepIndex: 1,
      weights: { stable: 50, canary: 50 },
      event: "CanaryStep",
      failures: 0,
      inconclusive: 0,
    },
  ],
  [
    "Progressing -> Promoted: the last step passed",
    { status: step2, checks: "pass" },
    {
      phase: "Promoted",
      weights: { stable: 0, canary: 100 },
      event: "CanaryPromoted",
      reason: /all 2 steps passed: request-count 0\.001 within max 0\.01 \(pass\)/,
    },
  ],
  [
    "Progressing -> hold: canary not available, judged without asking Prometheus",
    { status: step1, available: false },
    {
      phase: "Progressing",
      weights: null,
      event: "CanaryHold",
      inconclusive: 1,
      reason: /myapp-v2 is not ready/,
      analyse: false,
    },
  ],
  [
    "Progressing -> hold: due but no results handed over",
    { status: step1, checks: "none" },
    { phase: "Progressing", weights: null, event: "CanaryHold", inconclusive: 1, reason: /no analysis was run/ },
  ],
  [
    "Progressing -> hold: no second analysis of the same window",
    {
      status: statusOf({ lastStepAt: T0.toISOString(), lastAnalysisAt: atSecond(30).toISOString(), failures: 1 }),
      at: 60,
    },
    { phase: "Progressing", weights: null, event: null, changed: false, analyse: false },
  ],
  // Drift
  [
    "Progressing -> Paused: weights edited by hand, naming both pairs",
    { status: step1, current: DRIFTED, at: 10 },
    {
      phase: "Paused",
      stepIndex: 0,
      weights: null,
      event: "CanaryPaused",
      analyse: false,
      reason: /found stable 63% \/ canary 37%, greenlight wrote stable 90% \/ canary 10%/,
    },
  ],
  [
    "Waiting -> Paused: weights edited by hand before the first step",
    { status: waiting, current: DRIFTED, at: 10 },
    { phase: "Paused", stepIndex: -1, weights: null, event: "CanaryPaused" },
  ],
  [
    "Paused (drift) -> Paused: no resume given, even long after",
    { status: driftPaused, current: DRIFTED, at: 3600 },
    { phase: "Paused", weights: null, event: null, changed: false, analyse: false },
  ],
  [
    'Paused (drift) -> Progressing: paused "false" re-writes the stored weights',
    { status: driftPaused, current: DRIFTED, annotations: { paused: "false" }, at: 20 },
    { phase: "Progressing", stepIndex: 0, weights: { stable: 90, canary: 10 }, event: "CanaryResumed" },
  ],
  [
    "Paused (drift) -> Progressing: the hand edit was undone",
    { status: driftPaused, at: 20 },
    { phase: "Progressing", stepIndex: 0, weights: null, event: "CanaryResumed" },
  ],
  [
    'Paused (drift) -> Paused: a paused "false" left from before does not resume',
    { status: driftPausedWithLeftover, current: DRIFTED, annotations: { paused: "false" }, at: 20 },
    { phase: "Paused", weights: null, event: null, held: ["resume"], changed: false },
  ],
  [
    'Paused (drift, leftover "false") -> Paused by the user: paused "true"',
    { status: driftPausedWithLeftover, current: DRIFTED, annotations: { paused: "true" }, at: 20 },
    { phase: "Paused", weights: null, event: "CanaryPaused", held: [], reason: /paused by greenlight.dev\/paused/ },
  ],
  [
    'Paused (user, over drift) -> Progressing: then paused "false" re-writes the stored weights',
    { status: userPausedOverDrift, current: DRIFTED, annotations: { paused: "false" }, at: 30 },
    { phase: "Progressing", weights: { stable: 90, canary: 10 }, event: "CanaryResumed" },
  ],
  [
    "Paused (drift) -> RolledBack: abort",
    { status: driftPaused, current: DRIFTED, annotations: { abort: "true" }, at: 20 },
    {
      phase: "RolledBack",
      weights: { stable: 100, canary: 0 },
      event: "CanaryRolledBack",
      reason: /aborted by greenlight.dev\/abort/,
    },
  ],
  // Manual controls
  [
    'Progressing -> Paused: paused "true"',
    { status: step1, annotations: { paused: "true" }, at: 10 },
    { phase: "Paused", stepIndex: 0, weights: null, event: "CanaryPaused", analyse: false },
  ],
  [
    "Paused (user) -> Progressing: the annotation removed",
    { status: userPaused, at: 20 },
    { phase: "Progressing", stepIndex: 0, weights: null, event: "CanaryResumed" },
  ],
  [
    "Paused (user) -> Paused (drift): removed, but the weights were edited meanwhile",
    { status: userPaused, current: DRIFTED, at: 20 },
    { phase: "Paused", weights: null, event: "CanaryPaused", reason: /edited by hand/ },
  ],
  [
    'Waiting -> Paused: paused "true"',
    { status: waiting, annotations: { paused: "true" }, available: false, at: 10 },
    { phase: "Paused", stepIndex: -1, weights: null, event: "CanaryPaused" },
  ],
  [
    "Paused (user, before step 1) -> Waiting: resumed",
    { status: userPausedWaiting, available: false, at: 20 },
    { phase: "Waiting", stepIndex: -1, weights: null, event: "CanaryResumed" },
  ],
  [
    'Progressing -> Promoted: promote "true" skips the remaining steps',
    { status: step1, annotations: { promote: "true" }, at: 10 },
    {
      phase: "Promoted",
      weights: { stable: 0, canary: 100 },
      event: "CanaryPromoted",
      reason: /promoted by greenlight.dev\/promote/,
    },
  ],
  [
    'Paused -> Promoted: promote "true"',
    { status: driftPaused, current: DRIFTED, annotations: { promote: "true" }, at: 20 },
    { phase: "Promoted", weights: { stable: 0, canary: 100 }, event: "CanaryPromoted" },
  ],
  [
    'Progressing -> Progressing: promote "true" waits for an available canary',
    { status: step1, annotations: { promote: "true" }, available: false, at: 10 },
    { phase: "Progressing", weights: null, event: null, changed: false },
  ],
  [
    'Progressing -> RolledBack: abort "true"',
    { status: step1, annotations: { abort: "true" }, at: 10 },
    { phase: "RolledBack", weights: { stable: 100, canary: 0 }, event: "CanaryRolledBack" },
  ],
  [
    'Waiting -> RolledBack: abort "true"',
    { status: waiting, annotations: { abort: "true" }, available: false, at: 10 },
    { phase: "RolledBack", weights: null, event: "CanaryRolledBack" },
  ],
  [
    "Progressing -> RolledBack: promote and abort both true, abort wins",
    { status: step1, annotations: { abort: "true", promote: "true" }, at: 10 },
    { phase: "RolledBack", weights: { stable: 100, canary: 0 }, event: "CanaryRolledBack" },
  ],
  [
    "Progressing -> Paused: an invalid control pauses with the problem",
    { status: step1, annotations: { abort: "yes" }, at: 10 },
    { phase: "Paused", weights: null, event: "CanaryPaused", reason: /greenlight.dev\/abort: "yes" is invalid/ },
  ],
  [
    "Progressing -> Paused: an invalid custom check pauses with the problem",
    { status: step1, annotations: { "check.queue": "{}" }, at: 10 },
    { phase: "Paused", weights: null, event: "CanaryPaused", reason: /greenlight.dev\/check.queue: "\{\}" is invalid/ },
  ],
  [
    "Paused (invalid control) -> Progressing: fixed",
    { status: problemPaused, at: 20 },
    { phase: "Progressing", weights: null, event: "CanaryResumed" },
  ],
  [
    "none -> Waiting: a promote left from an earlier rollout is held, not acted on",
    { annotations: { promote: "true" }, at: 0 },
    { phase: "Waiting", weights: null, event: "CanaryWaiting", held: ["promote"] },
  ],
  [
    "Waiting -> Progressing: the held promote still does nothing",
    { status: heldPromote, annotations: { promote: "true" }, at: 1 },
    { phase: "Progressing", stepIndex: 0, weights: { stable: 90, canary: 10 }, event: "CanaryStep", held: ["promote"] },
  ],
  [
    "Waiting -> Waiting: the held promote is released once it reads otherwise, without an event",
    { status: heldPromote, available: false, at: 1 },
    { phase: "Waiting", weights: null, event: null, held: [], changed: true },
  ],
  // Finished rollouts and new versions
  [
    "Promoted -> Promoted: nothing, whatever the weights or controls",
    { status: promoted, current: DRIFTED, annotations: { abort: "true", paused: "yes" }, at: 600 },
    { phase: "Promoted", weights: null, event: null, changed: false, analyse: false },
  ],
  [
    "RolledBack -> RolledBack: nothing until the version changes",
    { status: rolledBack, annotations: { promote: "true" }, at: 600 },
    { phase: "RolledBack", weights: null, event: null, changed: false },
  ],
  [
    "Promoted -> Waiting: a new version starts a new rollout at 0%",
    { status: promoted, version: "v3.0", available: false, at: 600 },
    {
      phase: "Waiting",
      stepIndex: -1,
      weights: { stable: 100, canary: 0 },
      event: "CanaryWaiting",
      canaryVersion: "v3.0",
    },
  ],
  [
    "RolledBack -> Waiting: a new version starts a new rollout",
    { status: rolledBack, version: "v3.0", at: 600 },
    { phase: "Waiting", stepIndex: -1, weights: null, event: "CanaryWaiting", canaryVersion: "v3.0", failures: 0 },
  ],
  [
    "Progressing -> Waiting: a new version replaces the one being rolled out",
    { status: statusOf({ stepIndex: 1, weights: { stable: 50, canary: 50 }, failures: 1 }), version: "v3.0", at: 10 },
    { phase: "Waiting", stepIndex: -1, weights: { stable: 100, canary: 0 }, event: "CanaryWaiting", failures: 0 },
  ],
  [
    "Promoted -> Promoted: the stable Deployment (its version recorded as stable) is left alone",
    { status: promoted, version: "v1.0", at: 600 },
    { phase: "Promoted", weights: null, event: null, changed: false, canaryVersion: "v2.0" },
  ],
];

describe("decideCanary transitions", () => {
  it.each(rows)("%s", (_name, given, expected) => {
    const { plan, decision } = run(given);
    const { status } = decision;
    expect(status.phase).toBe(expected.phase);
    if (expected.stepIndex !== undefined) expect(status.stepIndex).toBe(expected.stepIndex);
    expect(decision.weights).toEqual(expected.weights ?? undefined);
    expect(decision.events.map((event) => event.reason)).toEqual(expected.event ? [expected.event] : []);
    if (expected.failures !== undefined) expect(status.failures).toBe(expected.failures);
    if (expected.inconclusive !== undefined) expect(status.inconclusive).toBe(expected.inconclusive);
    if (expected.reason) expect(status.reason).toMatch(expected.reason);
    if (expected.held) expect(status.heldControls ?? []).toEqual(expected.held);
    if (expected.changed !== undefined) expect(decision.changed).toBe(expected.changed);
    if (expected.analyse !== undefined) expect(plan.analyse).toBe(expected.analyse);
    if (expected.canaryVersion) expect(status.canaryVersion).toBe(expected.canaryVersion);

    // Whatever the row: valid weights, a status that survives the annotation, short messages.
    expect(isValidWeights(status.weights)).toBe(true);
    if (decision.weights) expect(decision.weights).toEqual(status.weights);
    expect(parseStatus(formatStatus(status)).status).toEqual(status);
    for (const event of decision.events) expect(event.message.length).toBeLessThanOrEqual(MESSAGE_LIMIT);
    if (decision.events.length > 0 || decision.weights) expect(decision.changed).toBe(true);
    if (!decision.changed) expect(status).toBe(given.status);
  });
});

describe("decisions in detail", () => {
  it("a step records when it happened and the checks it passed", () => {
    const { decision } = run({ status: step1, checks: "pass", at: 75 });
    expect(decision.status.lastStepAt).toBe(atSecond(75).toISOString());
    expect(decision.status.lastAnalysisAt).toBe(atSecond(75).toISOString());
    expect(decision.status.lastChecks.map((check) => check.outcome)).toEqual(["pass", "pass", "pass", "pass"]);
    expect(decision.events[0]).toMatchObject({
      type: "Normal",
      message: expect.stringMatching(
        /^step 2\/2: stable 50% \/ canary 50% after step 1\/2 at stable 90% \/ canary 10% passed/,
      ),
    });
  });

  it("a drift pause event is a Warning naming both weight pairs and the way out", () => {
    const { decision } = run({ status: step1, current: DRIFTED, at: 10 });
    expect(decision.events[0]?.type).toBe("Warning");
    expect(decision.events[0]?.message).toBe(
      "VirtualService weights were edited by hand: found stable 63% / canary 37%, greenlight wrote stable 90% / canary 10%; " +
        'set greenlight.dev/paused: "false" to resume at stable 90% / canary 10%, or greenlight.dev/abort: "true" to roll back',
    );
  });

  it("a resume over drift starts a fresh analysis window", () => {
    const { decision } = run({ status: driftPaused, current: DRIFTED, annotations: { paused: "false" }, at: 500 });
    expect(decision.status.lastStepAt).toBe(atSecond(500).toISOString());
    expect(run({ status: decision.status, at: 530 }).plan.analyse).toBe(false);
    expect(run({ status: decision.status, at: 560 }).plan.analyse).toBe(true);
  });

  it("a rollback names the failing values in its event", () => {
    const { decision } = run({ status: statusOf({ failures: 1 }), checks: ["pass", "fail"] });
    expect(decision.events[0]).toMatchObject({ type: "Warning", reason: "CanaryRolledBack" });
    expect(decision.events[0]?.message).toMatch(
      /^rolled back v2\.0: 2 consecutive failed analyses .*error-rate 0\.2 > max 0\.01.*now stable 100% \/ canary 0%$/,
    );
  });

  it("keeps event messages within the limit however many checks fail", () => {
    const many = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [
        `check.c${i}`,
        JSON.stringify({ query: `metric_${"x".repeat(80)}_${i}`, max: 1 }),
      ]),
    );
    const settings = testSettings(many);
    const checks: CheckResult[] = settings.checks.map((check) => ({
      name: `check.${check.name}`,
      query: check.query,
      value: 2,
      threshold: 1,
      comparison: "max",
      outcome: "fail",
    }));
    const decision = decideCanary({
      deployment: { namespace: "production", name: "myapp-v2", version: "v2.0", ready: true },
      settings,
      currentWeights: step1.weights,
      status: statusOf({ failures: 1 }),
      checks,
      now: atSecond(60),
    });
    expect(decision.status.phase).toBe("RolledBack");
    expect(decision.events[0]?.message.length).toBe(MESSAGE_LIMIT);
  });

  it("reads controls through the annotations, not around them", () => {
    // A control spelled in another case is no control at all: it is a problem, so the canary pauses.
    const { decision } = run({ status: step1, annotations: { paused: "True" }, at: 10 });
    expect(decision.status.reason).toContain(Object.keys(gl({ paused: "" }))[0]);
    expect(decision.status.phase).toBe("Paused");
  });
});

describe("the cause a pause gives (for notifications; never read back from the reason's wording)", () => {
  it("names drift, a person's pause, a configuration to fix and an unreadable status; other decisions name none", () => {
    expect(run({ status: step1, current: DRIFTED, at: 10 }).decision.pauseCause).toBe("drift");
    expect(run({ status: step1, annotations: { paused: "true" }, at: 10 }).decision.pauseCause).toBe("requested");
    const blocked = run({ status: step1, annotations: { abort: "maybe" }, at: 10 }).decision;
    expect(blocked.status.phase).toBe("Paused");
    expect(blocked.pauseCause).toBe("configuration");
    const unreadable = decideCanary({
      deployment: { namespace: "production", name: "myapp-v2", version: "v2.0", ready: true },
      settings: testSettings(),
      currentWeights: { stable: 90, canary: 10 },
      statusProblem: "not JSON",
      now: atSecond(10),
    });
    expect(unreadable.status.phase).toBe("Paused");
    expect(unreadable.pauseCause).toBe("status-unreadable");
    expect(run({ status: step1, at: 120 }).decision.pauseCause).toBeUndefined();
    expect(run({ status: step1, annotations: { abort: "true" }, at: 10 }).decision.pauseCause).toBeUndefined();
  });
});
