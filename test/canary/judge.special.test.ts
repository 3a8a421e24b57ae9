// The judge's special functions against tabulated values (computed with Python's math.lgamma, math.erfc and
// statistics.NormalDist, which use the C library and Wichura's AS241).
import { describe, expect, it } from "vitest";
import { lnBeta, lnGamma, normalCdf, normalQuantile, xLogY } from "../../functions/judge/special.ts";

const close = (actual: number, expected: number, relative: number) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(relative * Math.max(1, Math.abs(expected)));

describe("lnGamma and lnBeta", () => {
  it.each([
    [0.5, 0.5723649429247004],
    [10, 12.801827480081467],
    [1e6, 12815504.569147611],
    [0.1, 2.2527126517342055],
    [3.7, 1.4280723266653883],
    [1, 0],
    [2, 0],
  ])("lnGamma(%d) = %d", (x, expected) => close(lnGamma(x), expected, 1e-13));

  it("is NaN outside x > 0 and satisfies Γ(x + 1) = x Γ(x)", () => {
    expect(lnGamma(0)).toBeNaN();
    expect(lnGamma(-1)).toBeNaN();
    for (const x of [0.01, 0.3, 1.7, 42.5, 12345.6]) close(lnGamma(x + 1), Math.log(x) + lnGamma(x), 1e-12);
  });

  it("B(1/2, 1/2) = π and B(a, 1) = 1/a", () => {
    close(lnBeta(0.5, 0.5), Math.log(Math.PI), 1e-14);
    for (const a of [0.5, 3, 250]) close(lnBeta(a, 1), -Math.log(a), 1e-13);
  });

  it("xLogY takes 0 ln 0 as 0", () => {
    expect(xLogY(0, 0)).toBe(0);
    expect(xLogY(2, 0)).toBe(Number.NEGATIVE_INFINITY);
    close(xLogY(3, Math.E), 3, 1e-15);
  });
});

describe("normalCdf", () => {
  it.each([
    [-8, 6.220960574271819e-16],
    [-3, 0.0013498980316300957],
    [-1.96, 0.024997895148220435],
    [-0.5, 0.3085375387259869],
    [0, 0.5],
    [0.3, 0.6179114221889526],
    [1, 0.8413447460685429],
    [2.5, 0.9937903346742238],
    [5, 0.9999997133484281],
  ])("Φ(%d) = %d", (z, expected) => {
    // Relative accuracy in the lower tail, absolute near 1.
    expect(Math.abs(normalCdf(z) - expected)).toBeLessThanOrEqual(Math.max(1e-15, expected * 1e-13));
  });

  it("is symmetric", () => {
    for (const z of [0.1, 0.47, 0.5, 1.3, 3.9, 4.1, 6]) close(normalCdf(z) + normalCdf(-z), 1, 1e-15);
  });
});

describe("normalQuantile", () => {
  it.each([
    [1e-10, -6.361340902404056],
    [0.001, -3.090232306167813],
    [0.01, -2.3263478740408408],
    [0.025, -1.9599639845400538],
    [0.3, -0.5244005127080407],
    [0.5, 0],
    [0.9, 1.2815515655446008],
    [0.99, 2.3263478740408408],
    [0.999999, 4.753424308817089],
  ])("Φ⁻¹(%d) = %d", (p, expected) => close(normalQuantile(p), expected, 1e-12));

  it("inverts normalCdf, and is ±∞ or NaN outside (0, 1)", () => {
    for (const z of [-5, -2, -0.1, 0.7, 3]) close(normalQuantile(normalCdf(z)), z, 1e-9);
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1)).toBe(Number.POSITIVE_INFINITY);
    expect(normalQuantile(2)).toBeNaN();
  });
});
