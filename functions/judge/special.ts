// Special functions for the judge's statistics, written out so that the core has no dependency: the log-gamma and
// log-beta functions (the Beta-binomial mixture), the standard normal distribution function and its inverse.
//
// Accuracy (checked in test/canary/judge.special.test.ts against tabulated values): lnGamma to about 1e-14 relative
// for x > 0 (Lanczos, g = 7, n = 9, as in Numerical Recipes 3rd ed. 6.1 and Boost), normalCdf to about 1e-14 absolute
// (the complementary error function by W. J. Cody's rational approximations, 1969), normalQuantile to about 1e-15
// (P. J. Acklam's rational approximation, refined by one Halley step on normalCdf).

const LANCZOS_G = 7;
const LANCZOS = [
  0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406, 12.507343278686905,
  -0.13857109526572012, 0.000009984369578019572, 1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0. */
export function lnGamma(x: number): number {
  if (!(x > 0)) return Number.NaN;
  if (x < 0.5) {
    // Reflection: Γ(x) Γ(1 - x) = π / sin(πx); keeps the series in its accurate range.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  }
  const z = x - 1;
  let sum = LANCZOS[0] as number;
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] as number) / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b) = ln Γ(a) + ln Γ(b) - ln Γ(a + b), for a, b > 0. */
export const lnBeta = (a: number, b: number): number => lnGamma(a) + lnGamma(b) - lnGamma(a + b);

/** `x * ln(y)` with 0 * ln(0) = 0, the convention of likelihoods with no events of a kind. */
export const xLogY = (x: number, y: number): number => (x === 0 ? 0 : x * Math.log(y));

// erfc(x) for x >= 0, Cody's three ranges.
const A = [3.1611237438705655, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315];
const B = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.236833439171];
const C = [
  0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.6351381974001, 881.952221241769, 1712.0476126340707,
  2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-8,
];
const D = [
  15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597, 4362.619090143247,
  3439.3676741437216, 1230.3393548037495,
];
const P = [
  0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 0.0006587491615298378,
  0.016315387137302097,
];
const Q = [2.568520192289822, 1.8729528499234673, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918];
const SQRT_PI_INVERSE = 0.5641895835477563;

function erfcPositive(x: number): number {
  if (x <= 0.46875) {
    // erfc = 1 - erf, erf by the first rational function.
    const y = x * x;
    let numerator = (A[4] as number) * y;
    let denominator = y;
    for (let i = 0; i < 3; i++) {
      numerator = (numerator + (A[i] as number)) * y;
      denominator = (denominator + (B[i] as number)) * y;
    }
    return 1 - (x * (numerator + (A[3] as number))) / (denominator + (B[3] as number));
  }
  let value: number;
  if (x <= 4) {
    let numerator = (C[8] as number) * x;
    let denominator = x;
    for (let i = 0; i < 7; i++) {
      numerator = (numerator + (C[i] as number)) * x;
      denominator = (denominator + (D[i] as number)) * x;
    }
    value = (numerator + (C[7] as number)) / (denominator + (D[7] as number));
  } else {
    if (x > 27) return 0;
    const z = 1 / (x * x);
    let numerator = (P[5] as number) * z;
    let denominator = z;
    for (let i = 0; i < 4; i++) {
      numerator = (numerator + (P[i] as number)) * z;
      denominator = (denominator + (Q[i] as number)) * z;
    }
    value = (z * (numerator + (P[4] as number))) / (denominator + (Q[4] as number));
    value = (SQRT_PI_INVERSE - value) / x;
  }
  // exp(-x^2) split in two factors to keep the rounding of x^2 out of the exponent (Cody's trick).
  const head = Math.trunc(x * 16) / 16;
  const tail = (x - head) * (x + head);
  return Math.exp(-head * head) * Math.exp(-tail) * value;
}

/** The standard normal distribution function Φ(z). */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  const x = Math.abs(z) / Math.SQRT2;
  const upper = 0.5 * erfcPositive(x);
  return z >= 0 ? 1 - upper : upper;
}

// Acklam's coefficients.
const AQ = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
];
const BQ = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const CQ = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const DQ = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
const LOW = 0.02425;

/** Φ⁻¹(p) for 0 < p < 1: the z with Φ(z) = p. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? Number.NEGATIVE_INFINITY : p === 1 ? Number.POSITIVE_INFINITY : Number.NaN;
  // The upper half by symmetry: 1 - p is exact there, and the refinement below is accurate in the lower tail.
  if (p > 0.5) return -normalQuantile(1 - p);
  let x: number;
  const a = AQ as [number, number, number, number, number, number];
  const b = BQ as [number, number, number, number, number];
  const c = CQ as [number, number, number, number, number, number];
  const d = DQ as [number, number, number, number];
  if (p < LOW || p > 1 - LOW) {
    const q = Math.sqrt(-2 * Math.log(p < LOW ? p : 1 - p));
    x =
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    if (p > 1 - LOW) x = -x;
  } else {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  // One Halley step on Φ brings the approximation (1.15e-9 relative) to full precision.
  const error = normalCdf(x) - p;
  const u = error * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}
