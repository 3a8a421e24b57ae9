// The treatment's share of a flag, read and written: a boolean flag's `percentage` (the share served `on`), or the
// stepped variant's share of the variant weights. Pure.
import type { Flag, Variant } from "../types.ts";

/** The boolean flag's treatment: the variant name its `on` results carry (functions/flags/evaluate.ts). */
export const BOOLEAN_TREATMENT = "on";

/** The treatment variant of a flag under its plan: `rollout.variant` for flags with variants, `on` otherwise. */
export const treatmentOf = (flag: Flag): string =>
  flag.variants ? (flag.rollout?.variant ?? "") : (flag.rollout?.variant ?? BOOLEAN_TREATMENT);

/** The treatment's share in percent, rounded: for a boolean flag its percentage, else the variant's share of weights. */
export function shareOf(flag: Flag, variant: string): number {
  if (!flag.variants) return flag.percentage ?? 100;
  const weights = Object.values(flag.variants).map((entry) => entry.weight);
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const own = flag.variants[variant]?.weight ?? 0;
  return total > 0 ? Math.round((own / total) * 100) : 0;
}

/**
 * Integer weights adding up to `total`, in proportion to `weights` (largest remainders first, ties by name order);
 * all to `fallback` when every weight is 0.
 */
export function apportion(weights: Record<string, number>, total: number, fallback: string): Record<string, number> {
  const names = Object.keys(weights).sort();
  const sum = names.reduce((acc, name) => acc + (weights[name] ?? 0), 0);
  if (sum <= 0) return Object.fromEntries(names.map((name) => [name, name === fallback ? total : 0]));
  const exact = names.map((name) => ((weights[name] ?? 0) / sum) * total);
  const result = exact.map(Math.floor);
  let left = total - result.reduce((acc, value) => acc + value, 0);
  const order = names
    .map((_, index) => index)
    .sort((a, b) => exact[b]! - result[b]! - (exact[a]! - result[a]!) || a - b);
  for (const index of order) {
    if (left <= 0) break;
    result[index] = result[index]! + 1;
    left--;
  }
  return Object.fromEntries(names.map((name, index) => [name, result[index]!]));
}

/**
 * The flag with the treatment at `share` percent. A boolean flag gets `percentage: share`. A flag with variants gets
 * weights adding up to 100: `share` for the treatment, the rest shared by the other variants in proportion to their
 * weights (all of it to the defaultVariant, or the first other variant, when they are all 0).
 */
export function withShare(flag: Flag, variant: string, share: number): Flag {
  if (!flag.variants) return { ...flag, percentage: share };
  const others = Object.fromEntries(
    Object.entries(flag.variants)
      .filter(([name]) => name !== variant)
      .map(([name, entry]) => [name, entry.weight]),
  );
  const names = Object.keys(others).sort();
  const fallback =
    flag.defaultVariant !== undefined && flag.defaultVariant !== variant ? flag.defaultVariant : names[0];
  const rest = apportion(others, 100 - share, fallback ?? "");
  const variants: Record<string, Variant> = {};
  for (const [name, entry] of Object.entries(flag.variants)) {
    variants[name] = { ...entry, weight: name === variant ? share : (rest[name] ?? 0) };
  }
  return { ...flag, variants };
}
