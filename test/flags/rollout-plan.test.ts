// The guarded rollout's pure core (functions/flags/rollout/plan.ts): start, step up on passes, hold on inconclusive,
// roll back to the floor on a regression, complete at 100%, the manual controls, and a plan changed mid-rollout.
import { describe, expect, it } from "vitest";
import {
  controlRollout,
  decideRollout,
  type RolloutReadings,
  resolvePlan,
  rolloutDue,
} from "../../functions/flags/rollout/plan.ts";
import { rolloutQueries } from "../../functions/flags/rollout/queries.ts";
import { apportion, shareOf, withShare } from "../../functions/flags/rollout/share.ts";
import type { Flag } from "../../functions/flags/types.ts";

const T0 = new Date("2026-12-07T12:00:00Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

const booleanFlag = (plan: Partial<NonNullable<Flag["rollout"]>> = {}): Flag => ({
  key: "new-checkout",
  state: "partial",
  percentage: 0,
  rollout: { steps: [10, 50, 100], interval: "1m", ...plan },
});

/** A window with `n` requests per side, `errors` failures each, latencies in the same buckets unless told. */
function window(
  treatment: { requests: number; errors: number; buckets?: number[] },
  control: { requests: number; errors: number; buckets?: number[] },
): RolloutReadings {
  const side = (s: { requests: number; errors: number; buckets?: number[] }) => ({
    requests: s.requests,
    errors: s.errors,
    histogram: { bounds: [0.05, 0.1, 0.25], counts: s.buckets ?? [s.requests / 2, s.requests / 2, 0, 0] },
  });
  return { window: { treatment: side(treatment), control: side(control) }, custom: {} };
}

const equal = window({ requests: 20_000, errors: 0 }, { requests: 20_000, errors: 0 });
const worse = window({ requests: 5_000, errors: 500 }, { requests: 5_000, errors: 25 });

/** Runs passes a minute apart from `from`, feeding `readings` whenever the flag is due for a judgement. */
function passes(flag: Flag, count: number, readings: RolloutReadings, from = 0) {
  const actions: string[] = [];
  let current = flag;
  for (let i = 0; i < count; i++) {
    const now = at(from + i);
    const decision = decideRollout(current, now, rolloutDue(current, now) === "judge" ? readings : undefined);
    actions.push(decision.action);
    if (decision.next) current = decision.next;
  }
  return { flag: current, actions };
}

describe("a boolean flag's rollout", () => {
  it("starts at the first step without reading anything", () => {
    const flag = booleanFlag();
    expect(rolloutDue(flag, T0)).toBe("start");
    const decision = decideRollout(flag, T0);
    expect(decision.action).toBe("start");
    expect(decision.next?.percentage).toBe(10);
    expect(decision.next?.rolloutStatus).toMatchObject({ phase: "progressing", step: 0, share: 10 });
  });

  it("completes at once when its only step is 100%: there is no control left to judge against", () => {
    const decision = decideRollout(booleanFlag({ steps: [100] }), T0);
    expect(decision.action).toBe("start");
    expect(decision.next?.percentage).toBe(100);
    expect(decision.next?.rolloutStatus?.phase).toBe("completed");
    expect(rolloutDue(decision.next!, at(10))).toBe("idle");
  });

  it("is not judged before an interval has passed, then steps up on passes and completes at 100%", () => {
    const started = decideRollout(booleanFlag(), T0).next!;
    expect(rolloutDue(started, at(0.5))).toBe("idle");
    expect(decideRollout(started, at(0.5), equal).action).toBe("none");
    const run = passes(started, 4, equal, 1);
    expect(run.actions).toEqual(["step-up", "complete", "none", "none"]);
    expect(run.flag.percentage).toBe(100);
    expect(run.flag.rolloutStatus).toMatchObject({ phase: "completed", share: 100, step: 2 });
    expect(run.flag.rolloutStatus?.checks?.map((check) => check.outcome)).toEqual(["pass", "pass"]);
  });

  it("holds while the judge cannot tell yet: inconclusive never counts as a pass", () => {
    const started = decideRollout(booleanFlag(), T0).next!;
    const thin = window({ requests: 30, errors: 0 }, { requests: 300, errors: 1 });
    const run = passes(started, 3, thin, 1);
    expect(run.actions).toEqual(["hold", "hold", "hold"]);
    expect(run.flag.percentage).toBe(10);
    expect(run.flag.rolloutStatus?.checks?.[0]?.outcome).toBe("inconclusive");
    expect(run.flag.rolloutStatus?.judge?.windows).toBe(3);
    expect(run.flag.rolloutStatus?.reason).toMatch(/^holding at 10%: error-rate inconclusive/);
  });

  it("rolls back to the floor on a regression, saying which check and what values", () => {
    const started = decideRollout(booleanFlag({ floor: 2 }), T0).next!;
    // The first window only teaches the e-process's estimate (it bets from the second window on).
    const run = passes(started, 2, worse, 1);
    expect(run.actions).toEqual(["hold", "roll-back"]);
    expect(run.flag.percentage).toBe(2);
    const status = run.flag.rolloutStatus;
    expect(status?.phase).toBe("rolled-back");
    expect(status?.reason).toMatch(
      /^error-rate regression at 10%: treatment 10% \(1000\/10000\) vs control 0.5% \(50\/10000\), difference \+9.5% in \[/,
    );
    expect(status?.reason).toMatch(/rolled back to 2%$/);
    expect(rolloutDue(run.flag, at(10))).toBe("idle");
  });

  it("holds a pass from a window with fewer than minRequests treatment requests, yet a regression still rolls back", () => {
    const started = decideRollout(booleanFlag({ minRequests: 100_000 }), T0).next!;
    const held = decideRollout(started, at(1), equal);
    expect(held.action).toBe("hold");
    expect(held.next?.rolloutStatus?.checks?.[0]?.detail).toMatch(/^only 20000 treatment requests/);
    expect(passes(started, 2, worse, 1).actions).toEqual(["hold", "roll-back"]);
  });

  it("holds on an unreadable window and counts nothing from it", () => {
    const started = decideRollout(booleanFlag(), T0).next!;
    const decision = decideRollout(started, at(1), { window: { error: "network error: refused" }, custom: {} });
    expect(decision.action).toBe("hold");
    expect(decision.next?.rolloutStatus?.judge?.windows).toBe(0);
    expect(decision.next?.rolloutStatus?.checks?.[0]).toMatchObject({ outcome: "error" });
    expect(decision.next?.rolloutStatus?.checks?.[0]?.detail).toMatch(/network error: refused/);
  });

  it("rolls back when a custom check goes beyond its bound, and holds when it has no value", () => {
    const flag = booleanFlag({ checks: [{ name: "checkout-p99", query: "q{{key}}", max: 0.5 }] });
    const started = decideRollout(flag, T0).next!;
    const over = decideRollout(started, at(1), { ...equal, custom: { "checkout-p99": 0.9 } });
    expect(over.action).toBe("roll-back");
    expect(over.next?.rolloutStatus?.reason).toBe(
      "checkout-p99 regression at 10%: 0.9 (at most 0.5); rolled back to 0%",
    );
    expect(decideRollout(started, at(1), equal).action).toBe("hold");
    expect(decideRollout(started, at(1), { ...equal, custom: { "checkout-p99": 0.1 } }).action).toBe("step-up");
  });
});

describe("manual controls", () => {
  const started = decideRollout(booleanFlag(), T0).next!;

  it("pause stops judgements, resume continues at the same step", () => {
    const paused = controlRollout(started, "pause", at(1), "looking at a dashboard");
    if (!("flag" in paused)) throw new Error(paused.error);
    expect(paused.flag.rolloutStatus).toMatchObject({
      phase: "paused",
      reason: "paused at 10%: looking at a dashboard",
    });
    expect(rolloutDue(paused.flag, at(30))).toBe("idle");
    expect(controlRollout(paused.flag, "pause", at(2))).toMatchObject({ kind: "conflict" });
    const resumed = controlRollout(paused.flag, "resume", at(5));
    if (!("flag" in resumed)) throw new Error(resumed.error);
    expect(resumed.flag.rolloutStatus).toMatchObject({ phase: "progressing", step: 0, share: 10 });
    expect(rolloutDue(resumed.flag, at(5.5))).toBe("idle");
    expect(rolloutDue(resumed.flag, at(6))).toBe("judge");
  });

  it("abort goes back to the floor; resume after it starts over with fresh evidence", () => {
    const stepped = decideRollout(started, at(1), equal).next!;
    const aborted = controlRollout(stepped, "abort", at(2));
    if (!("flag" in aborted)) throw new Error(aborted.error);
    expect(aborted.flag.percentage).toBe(0);
    expect(aborted.flag.rolloutStatus?.phase).toBe("aborted");
    expect(controlRollout(aborted.flag, "abort", at(3))).toMatchObject({ kind: "conflict" });
    const again = controlRollout(aborted.flag, "resume", at(3));
    if (!("flag" in again)) throw new Error(again.error);
    expect(again.flag.percentage).toBe(10);
    expect(again.flag.rolloutStatus).toMatchObject({ phase: "progressing", step: 0 });
    expect(again.flag.rolloutStatus?.judge?.windows).toBe(0);
  });

  it("refuses flags without a plan or not started", () => {
    expect(controlRollout({ key: "x", state: "enabled" }, "pause", T0)).toMatchObject({ kind: "no-plan" });
    expect(controlRollout(booleanFlag(), "pause", T0)).toMatchObject({ kind: "conflict" });
  });
});

describe("a plan changed mid-rollout", () => {
  it("is re-placed at the highest new step not above the current share, its evidence started over", () => {
    const stepped = decideRollout(decideRollout(booleanFlag(), T0).next!, at(1), equal).next!;
    expect(stepped.percentage).toBe(50);
    const edited: Flag = { ...stepped, rollout: { ...stepped.rollout!, steps: [5, 25, 75, 100] } };
    expect(rolloutDue(edited, at(1.1))).toBe("start");
    const decision = decideRollout(edited, at(1.1));
    expect(decision.action).toBe("replan");
    expect(decision.next?.percentage).toBe(25);
    expect(decision.next?.rolloutStatus).toMatchObject({ phase: "progressing", step: 1, share: 25 });
    expect(decision.next?.rolloutStatus?.judge?.windows).toBe(0);
  });

  it("keeps a changed interval's evidence (the interval is not part of the plan's fingerprint)", () => {
    const stepped = decideRollout(decideRollout(booleanFlag(), T0).next!, at(1), equal).next!;
    const edited: Flag = { ...stepped, rollout: { ...stepped.rollout!, interval: "5m" } };
    expect(rolloutDue(edited, at(2))).toBe("idle");
    expect(rolloutDue(edited, at(6))).toBe("judge");
  });
});

describe("a flag with variants", () => {
  const flag: Flag = {
    key: "checkout-layout",
    state: "enabled",
    variants: {
      old: { value: "old", weight: 3 },
      wide: { value: "wide", weight: 1 },
      next: { value: "next", weight: 0 },
    },
    defaultVariant: "old",
    rollout: { steps: [10, 100], interval: "2m", variant: "next" },
  };

  it("steps the variant's share of the weights, the others keeping their proportions", () => {
    const started = decideRollout(flag, T0).next!;
    expect(started.variants).toEqual({
      old: { value: "old", weight: 68 },
      wide: { value: "wide", weight: 22 },
      next: { value: "next", weight: 10 },
    });
    expect(shareOf(started, "next")).toBe(10);
    const done = decideRollout(started, at(2), equal).next!;
    expect(done.variants?.next?.weight).toBe(100);
    expect(done.variants?.old?.weight).toBe(0);
    // Back from 100%: the control's weights all 0, so the defaultVariant takes the rest.
    expect(withShare(done, "next", 0).variants?.old?.weight).toBe(100);
  });

  it("queries treatment by the variant label and control by every other variant", () => {
    const plan = resolvePlan(flag);
    if ("problem" in plan) throw new Error(plan.problem);
    const queries = rolloutQueries("checkout-layout", plan);
    const treatment =
      'http_server_request_duration_seconds_count{feature_flag_key="checkout-layout",feature_flag_result_variant="next"}';
    // Counted only while the newest sample is fresh: 40 s, a third of the 2-minute window.
    expect(queries.treatment.requests).toBe(
      `(sum(increase(${treatment}[120s])) or vector(0)) and on() (time() - max(timestamp(${treatment})) < 40)`,
    );
    expect(queries.control.buckets).toContain('feature_flag_result_variant!="next"');
    expect(queries.control.errors).toContain('http_response_status_code=~"5.."');
  });

  it("refuses to step the defaultVariant", () => {
    expect(resolvePlan({ ...flag, rollout: { ...flag.rollout!, variant: "old" } })).toMatchObject({
      problem: expect.stringMatching(/other than its defaultVariant/),
    });
  });
});

describe("apportion", () => {
  it("adds up exactly, largest remainders first", () => {
    expect(apportion({ a: 1, b: 1, c: 1 }, 100, "a")).toEqual({ a: 34, b: 33, c: 33 });
    expect(apportion({ a: 0, b: 0 }, 40, "b")).toEqual({ a: 0, b: 40 });
  });
});
