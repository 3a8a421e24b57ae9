// The error-rate e-processes (functions/judge/rates.ts): the projection and the window factor against their formulas,
// the e-variable property computed exactly over every outcome of small windows, and, on seeded rollouts with exact
// binomial errors, the false-alarm rate (at most alpha) and the power against a canary failing four times as often.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addRateWindow,
  emptyRateState,
  estimateRate,
  gridDifferences,
  project,
  RATE_GRID,
  type RateCounts,
  rateVerdict,
  windowLogFactor,
} from "../../functions/judge/rates.ts";
import { lnGamma } from "../../functions/judge/special.ts";
import { rollout } from "./judge-sampling.ts";

const counts = (requests: number, errors: number): RateCounts => ({ requests, errors });

/** ln of the binomial coefficient. */
const lnChoose = (n: number, k: number) => lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1);

/** E[F_w] under rates (a, b), summed over every outcome of a window of n_c and n_s requests. */
function expectedFactor(
  before: { canary: RateCounts; stable: RateCounts },
  sizes: { canary: number; stable: number },
  difference: number,
  side: "above" | "below",
  rates: { canary: number; stable: number },
): number {
  let total = 0;
  for (let xc = 0; xc <= sizes.canary; xc++) {
    for (let xs = 0; xs <= sizes.stable; xs++) {
      const logP =
        lnChoose(sizes.canary, xc) +
        xc * Math.log(rates.canary) +
        (sizes.canary - xc) * Math.log1p(-rates.canary) +
        lnChoose(sizes.stable, xs) +
        xs * Math.log(rates.stable) +
        (sizes.stable - xs) * Math.log1p(-rates.stable);
      const window = { canary: counts(sizes.canary, xc), stable: counts(sizes.stable, xs) };
      total += Math.exp(logP + windowLogFactor(before, window, difference, side));
    }
  }
  return total;
}

describe("the predictable estimate and the projection", () => {
  it("estimates (x + 1/2) / (n + 50)", () => {
    expect(estimateRate(counts(0, 0))).toBe(0.01);
    expect(estimateRate(counts(950, 10))).toBeCloseTo(10.5 / 1000, 15);
  });

  it("projects onto the line at the KL-closest point (the gradient is normal to the line)", () => {
    for (const [pc, ps, wc, ws, d] of [
      [0.02, 0.005, 300, 2700, 0.005],
      [0.001, 0.01, 10, 10, -0.002],
      [0.3, 0.1, 50, 5, 0.1],
      [0.004, 0.006, 1000, 9000, 0.0025],
    ] as const) {
      const q = project({ canary: pc, stable: ps }, { canary: wc, stable: ws }, d);
      expect(q.canary - q.stable).toBeCloseTo(d, 14);
      // d/dq of n_c KL(p_c‖q + d) + n_s KL(p_s‖q) at the projection: zero.
      const gradient = (n: number, p: number, r: number) => n * ((1 - p) / (1 - r) - p / r);
      const slope = gradient(wc, pc, q.canary) + gradient(ws, ps, q.stable);
      expect(Math.abs(slope)).toBeLessThan(1e-6 * (wc + ws));
    }
  });

  it("a heavy stable side barely moves: the canary's rate takes the difference", () => {
    const q = project({ canary: 0.02, stable: 0.005 }, { canary: 1, stable: 1e9 }, 0.005);
    expect(q.stable).toBeCloseTo(0.005, 6);
    expect(q.canary).toBeCloseTo(0.01, 6);
  });
});

describe("a window's factor", () => {
  const before = { canary: counts(600, 12), stable: counts(5400, 27) };
  const window = { canary: counts(300, 7), stable: counts(2700, 14) };

  it("is the likelihood ratio of the estimate over its projection, written out", () => {
    const pc = 12.5 / 650;
    const ps = 27.5 / 5450;
    const q = project({ canary: pc, stable: ps }, { canary: 300, stable: 2700 }, 0.005);
    const log = (x: number, n: number, p: number) => x * Math.log(p) + (n - x) * Math.log(1 - p);
    const expected = log(7, 300, pc) + log(14, 2700, ps) - log(7, 300, q.canary) - log(14, 2700, q.stable);
    expect(windowLogFactor(before, window, 0.005, "above")).toBeCloseTo(expected, 10);
  });

  it("bets nothing when the estimate sits on the hypothesis's side, or the window is empty", () => {
    // The estimate (1.9% - 0.5%) is above 0.005: the "below" test of d0 = 0.005 does not bet.
    expect(windowLogFactor(before, window, 0.005, "below")).toBe(0);
    expect(windowLogFactor(before, window, 0.02, "above")).toBe(0);
    expect(windowLogFactor(before, { canary: counts(0, 0), stable: counts(0, 0) }, 0, "above")).toBe(0);
  });

  it("is an e-variable: its exact expectation is 1 at the projection and at most 1 anywhere in the hypothesis", () => {
    const small = { canary: counts(10, 1), stable: counts(40, 0) };
    const sizes = { canary: 6, stable: 9 };
    const rates = { canary: estimateRate(small.canary), stable: estimateRate(small.stable) };
    const d0 = 0.005;
    const q = project(rates, sizes, d0);
    expect(expectedFactor(small, sizes, d0, "above", q)).toBeCloseTo(1, 12);
    for (const [a, b] of [
      [q.canary, q.stable],
      [0.01, 0.01],
      [0.0001, 0.2],
      [0.205, 0.2],
      [0.5, 0.495],
    ] as const) {
      expect(expectedFactor(small, sizes, d0, "above", { canary: a, stable: b })).toBeLessThanOrEqual(1 + 1e-12);
    }
  });

  it("is an e-variable for random estimates, window sizes, grid points and sides (exact expectations)", () => {
    fc.assert(
      fc.property(
        fc.record({
          canaryErrors: fc.integer({ min: 0, max: 40 }),
          stableErrors: fc.integer({ min: 0, max: 40 }),
          canarySize: fc.integer({ min: 1, max: 7 }),
          stableSize: fc.integer({ min: 1, max: 7 }),
          grid: fc.constantFrom(...RATE_GRID),
          tolerance: fc.constantFrom(0.005, 0.02, 0.1),
          side: fc.constantFrom("above" as const, "below" as const),
          // Where in the hypothesis the true rates lie: the stable rate, and how far past d0 the difference is.
          stable: fc.double({ min: 0.001, max: 0.6, noNaN: true }),
          beyond: fc.double({ min: 0, max: 0.3, noNaN: true }),
        }),
        (c) => {
          const before = { canary: counts(100, c.canaryErrors), stable: counts(100, c.stableErrors) };
          const d0 = gridDifferences(c.tolerance)[RATE_GRID.indexOf(c.grid)] as number;
          // "above" tests difference ≤ d0: true rates at or below the line; "below" the mirror image.
          const difference = c.side === "above" ? d0 - c.beyond : d0 + c.beyond;
          const canary = c.stable + difference;
          fc.pre(canary > 0 && canary < 1);
          const sizes = { canary: c.canarySize, stable: c.stableSize };
          const expectation = expectedFactor(before, sizes, d0, c.side, { canary, stable: c.stable });
          expect(expectation).toBeLessThanOrEqual(1 + 1e-9);
        },
      ),
      { numRuns: 300, seed: 20261601 },
    );
  });
});

describe("the verdict", () => {
  it("needs both sides' evidence to clear 1/alpha from the grid's end up to the tolerance", () => {
    let state = emptyRateState();
    for (let minute = 0; minute < 12; minute++) {
      state = addRateWindow(state, { canary: counts(300, 6), stable: counts(2700, 13) }, 0.005);
    }
    const result = rateVerdict(state, { alpha: 0.01, tolerance: 0.005 });
    expect(result.estimate).toBeCloseTo(6 / 300 - 13 / 2700, 12);
    expect(result.verdict).toBe("regression");
    expect(result.lower).toBeGreaterThanOrEqual(0.005);
    expect(result.upper).toBeGreaterThan(result.estimate);
    expect(result.logEvidence.regression).toBeGreaterThanOrEqual(Math.log(100));
    // The same evidence at a stricter level may not suffice.
    expect(rateVerdict(state, { alpha: 1e-12, tolerance: 0.005 }).verdict).toBe("inconclusive");
  });

  it("is inconclusive without data, with the whole range as its interval", () => {
    const result = rateVerdict(emptyRateState(), { alpha: 0.01, tolerance: 0.005 });
    expect(result).toMatchObject({ lower: -1, upper: 1, verdict: "inconclusive" });
    expect(result.estimate).toBeNaN();
  });
});

describe("on seeded rollouts with binomial errors (50 rps, 1-minute windows, steps 10/20/50/100)", () => {
  const tolerance = 0.005;

  it("rolls back at most alpha of A/A rollouts, and promotes nearly all of them within an hour", () => {
    const alpha = 0.01;
    const runs = 1000;
    const outcomes = Array.from({ length: runs }, (_, i) => rollout(1000 + i, 0.005, 0.005, { alpha, tolerance }));
    const regressions = outcomes.filter((o) => o.outcome === "regression").length;
    expect(regressions).toBeLessThanOrEqual(alpha * runs);
    expect(outcomes.filter((o) => o.outcome === "promoted").length).toBeGreaterThanOrEqual(0.97 * runs);
  });

  it("keeps both errors at most alpha at the edge of the hypothesis (canary = stable + tolerance)", () => {
    const alpha = 0.05;
    const runs = 600;
    const outcomes = Array.from({ length: runs }, (_, i) =>
      rollout(5000 + i, 0.005 + tolerance, 0.005, { alpha, tolerance, minutes: 40 }),
    );
    // A canary exactly at the tolerance may be called neither a regression nor a pass more than alpha of the time.
    expect(outcomes.filter((o) => o.outcome === "regression").length).toBeLessThanOrEqual(alpha * runs);
    expect(outcomes.filter((o) => o.outcome === "promoted").length).toBeLessThanOrEqual(alpha * runs);
  });

  it("stops a canary failing four times as often (2% vs 0.5%) in at least 95% of rollouts", () => {
    const runs = 300;
    const outcomes = Array.from({ length: runs }, (_, i) => rollout(9000 + i, 0.02, 0.005, { alpha: 0.01, tolerance }));
    expect(outcomes.filter((o) => o.outcome === "regression").length).toBeGreaterThanOrEqual(0.95 * runs);
    expect(outcomes.filter((o) => o.outcome === "promoted").length).toBe(0);
  });
});
