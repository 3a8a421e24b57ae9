// The latency rank comparison (functions/judge/ranks.ts): θ and its variance from buckets against a brute-force count
// over every pair of requests, the alpha spent over looks, and on seeded multinomial sequences the false-alarm rate
// (at most alpha over all looks) and the power against a canary 1.5 times as slow.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareLatency, lookAlpha } from "../../functions/judge/ranks.ts";
import { normalCdf, normalQuantile } from "../../functions/judge/special.ts";
import { createRandom, type Random } from "../../scripts/sim/random.ts";

/** Every request's bucket index, expanded from per-bucket counts. */
const expand = (counts: readonly number[]) => counts.flatMap((count, bucket) => Array<number>(count).fill(bucket));

/** θ and DeLong's variance by comparing every pair. */
function bruteForce(canary: readonly number[], stable: readonly number[]) {
  const xs = expand(canary);
  const ys = expand(stable);
  const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0);
  const v10 = xs.map((x) => ys.reduce((sum, y) => sum + psi(x, y), 0) / ys.length);
  const v01 = ys.map((y) => xs.reduce((sum, x) => sum + psi(x, y), 0) / xs.length);
  const theta = v10.reduce((a, b) => a + b, 0) / xs.length;
  const variance = (values: number[]) => values.reduce((sum, v) => sum + (v - theta) ** 2, 0) / (values.length - 1);
  return { theta, delong: variance(v10) / xs.length + variance(v01) / ys.length };
}

describe("θ = P(canary slower) + ½ P(same bucket)", () => {
  it("is ½ for identical histograms, 1 or 0 when one version is always slower", () => {
    const options = { alpha: 0.01, tolerance: 0.05, look: 1 };
    expect(compareLatency([5, 10, 5, 0], [5, 10, 5, 0], options).estimate).toBeCloseTo(0.5, 15);
    expect(compareLatency([0, 0, 4, 4], [4, 4, 0, 0], options)).toMatchObject({ estimate: 1, verdict: "regression" });
    expect(compareLatency([4, 4, 0, 0], [0, 0, 4, 4], options)).toMatchObject({ estimate: 0, verdict: "pass" });
  });

  it("a hand-counted example: canary [1, 2] against stable [2, 1] requests in two buckets", () => {
    // Pairs: canary in bucket 0 (1) vs stable 0 (2 ties) and 1 (1 faster): 2 × ½ + 0 = 1;
    // canary in bucket 1 (2) vs stable 0 (2 slower) and 1 (1 tie): 2 × (2 + ½) = 5. θ = 6 / (3 × 3).
    const result = compareLatency([1, 2], [2, 1], { alpha: 0.01, tolerance: 0.05, look: 1 });
    expect(result.estimate).toBeCloseTo(6 / 9, 15);
    expect(result).toMatchObject({ canaryRequests: 3, stableRequests: 3 });
  });

  it("matches a brute-force count over every pair, θ and its interval's half-width", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(6), fc.nat(6)), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 30 }),
        (buckets, look) => {
          const canary = buckets.map(([c]) => c);
          const stable = buckets.map(([, s]) => s);
          const nc = canary.reduce((a, b) => a + b, 0);
          const ns = stable.reduce((a, b) => a + b, 0);
          fc.pre(nc >= 2 && ns >= 2);
          const result = compareLatency(canary, stable, { alpha: 0.02, tolerance: 0.05, look });
          const brute = bruteForce(canary, stable);
          expect(result.estimate).toBeCloseTo(brute.theta, 12);
          // The interval is θ ± z(1 - α_k/2) · sd with sd at least DeLong's (clipped to [0, 1]).
          const z = normalQuantile(1 - lookAlpha(0.02, look) / 2);
          const half = Math.max(result.upper - result.estimate, result.estimate - result.lower);
          if (result.lower > 0 && result.upper < 1) {
            expect(half).toBeGreaterThanOrEqual(z * Math.sqrt(brute.delong) - 1e-12);
          }
        },
      ),
      { numRuns: 300, seed: 20261602 },
    );
  });

  it("uses the tie-corrected null variance when it is the larger (every request in one bucket: no spread)", () => {
    const result = compareLatency([0, 50, 0], [0, 450, 0], { alpha: 0.01, tolerance: 0.05, look: 1 });
    expect(result).toMatchObject({ estimate: 0.5, lower: 0.5, upper: 0.5, verdict: "pass" });
  });

  it("refuses histograms of different buckets or fewer than two requests a version", () => {
    expect(() => compareLatency([1, 1], [1, 1, 1], { alpha: 0.01, tolerance: 0.05, look: 1 })).toThrow(RangeError);
    expect(() => compareLatency([1, 0], [5, 5], { alpha: 0.01, tolerance: 0.05, look: 1 })).toThrow(RangeError);
  });
});

describe("alpha spent over looks", () => {
  it("gives the k-th look α / (k (k + 1)), which sum to α (1 - 1/(K + 1)) over K looks", () => {
    let spent = 0;
    for (let k = 1; k <= 1000; k++) spent += lookAlpha(0.02, k);
    expect(spent).toBeCloseTo(0.02 * (1 - 1 / 1001), 15);
    expect(lookAlpha(0.02, 1)).toBe(0.01);
  });
});

// Istio's bucket bounds and a log-normal latency (p50 and p99 as the simulator takes them).
const BOUNDS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const Z99 = 2.3263478740408408;
function bucketShares(p50: number, p99: number): number[] {
  const sigma = Math.log(p99 / p50) / Z99;
  const cdf = BOUNDS.map((bound) => normalCdf(Math.log(bound / p50) / sigma));
  return [...cdf, 1].map((value, i) => value - (i === 0 ? 0 : (cdf[i - 1] as number)));
}

/** n requests drawn into buckets with the given shares. */
function draw(random: Random, n: number, shares: readonly number[]): number[] {
  const counts = shares.map(() => 0);
  for (let i = 0; i < n; i++) {
    let u = random.next();
    let bucket = 0;
    while (bucket < shares.length - 1 && u >= (shares[bucket] as number)) u -= shares[bucket++] as number;
    counts[bucket] = (counts[bucket] as number) + 1;
  }
  return counts;
}

/** Looks once a window (300 canary and 2,700 stable requests each) until a verdict, at most `looks`. */
function sequence(seed: number, canaryShares: number[], stableShares: number[], alpha: number, looks = 20) {
  const random = createRandom(seed);
  const canary = canaryShares.map(() => 0);
  const stable = stableShares.map(() => 0);
  for (let look = 1; look <= looks; look++) {
    draw(random, 300, canaryShares).forEach((count, i) => {
      canary[i] = (canary[i] as number) + count;
    });
    draw(random, 2700, stableShares).forEach((count, i) => {
      stable[i] = (stable[i] as number) + count;
    });
    const { verdict } = compareLatency(canary, stable, { alpha, tolerance: 0.05, look });
    if (verdict !== "inconclusive") return verdict;
  }
  return "inconclusive";
}

describe("on seeded sequences of latencies in Istio's buckets", () => {
  const stable = bucketShares(40, 100);

  it("calls an identical canary a regression at most alpha of the time over all its looks", () => {
    const alpha = 0.05;
    const runs = 400;
    const verdicts = Array.from({ length: runs }, (_, i) => sequence(100 + i, stable, stable, alpha));
    expect(verdicts.filter((v) => v === "regression").length).toBeLessThanOrEqual(alpha * runs);
    expect(verdicts.filter((v) => v === "pass").length).toBeGreaterThanOrEqual(0.9 * runs);
  });

  it("finds a canary 1.5 times as slow (p50 and p99 +50%) in at least 95% of sequences", () => {
    const runs = 200;
    const slower = bucketShares(60, 150);
    const verdicts = Array.from({ length: runs }, (_, i) => sequence(900 + i, slower, stable, 0.01));
    expect(verdicts.filter((v) => v === "regression").length).toBeGreaterThanOrEqual(0.95 * runs);
  });
});
