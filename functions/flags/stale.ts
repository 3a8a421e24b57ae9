// Finds flags that should be cleaned up: past their `expires` date, or not written for a long time.
import type { RuleSet } from "./types.ts";

export type StaleReason = "expired" | "unchanged";

export interface StaleFlag {
  key: string;
  owner?: string;
  reasons: StaleReason[];
  expires?: string;
  updatedAt: string;
}

export interface StaleOptions {
  /** A flag not written for this many days is reported as unchanged; default 90. */
  unchangedDays?: number;
}

export const DEFAULT_UNCHANGED_DAYS = 90;
const DAY_MS = 86_400_000;

/** Pure: the stale flags of `ruleSet` at `nowMs`, sorted by key. Unparseable dates never make a flag stale. */
export function findStaleFlags(ruleSet: RuleSet, nowMs: number, options: StaleOptions = {}): StaleFlag[] {
  const unchangedMs = (options.unchangedDays ?? DEFAULT_UNCHANGED_DAYS) * DAY_MS;
  const stale: StaleFlag[] = [];
  for (const key of Object.keys(ruleSet.flags).sort()) {
    const stored = ruleSet.flags[key];
    if (!stored) continue;
    const { flag, updatedAt } = stored;
    const reasons: StaleReason[] = [];
    // A date-only `expires` means the start of that day (UTC): the flag is due on that day.
    const expiresAt = flag.expires === undefined ? Number.NaN : Date.parse(flag.expires);
    if (expiresAt <= nowMs) reasons.push("expired");
    const writtenAt = Date.parse(updatedAt);
    if (nowMs - writtenAt >= unchangedMs) reasons.push("unchanged");
    if (reasons.length === 0) continue;
    stale.push({
      key,
      ...(flag.owner === undefined ? {} : { owner: flag.owner }),
      reasons,
      ...(flag.expires === undefined ? {} : { expires: flag.expires }),
      updatedAt,
    });
  }
  return stale;
}
