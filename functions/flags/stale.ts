// Finds flags that should be cleaned up: past their `expires` date, not written for a long time, or not evaluated.
/*
 * "unused" follows LaunchDarkly's "inactive" (created over 7 days ago, not requested for 7 days) with a configurable
 * number of days, and Unleash's "last seen" (the newest evaluation any SDK reported). Usage is counted from the
 * deployment of the version that counts it, so "never evaluated" means "not since counting began": such a flag is
 * reported only once counting has run the N days and the flag was last written at least N days ago (LaunchDarkly's
 * "new" flag, created recently and never requested, is not inactive either; the store keeps no creation date, the
 * last write stands in for it).
 */
import type { FlagStore, RuleSet, UsageReport } from "./types.ts";
import { DAY_MS } from "./usage.ts";

export type StaleReason = "expired" | "unchanged" | "unused";

export interface StaleFlag {
  key: string;
  owner?: string;
  reasons: StaleReason[];
  expires?: string;
  updatedAt: string;
  /** With usage: the last evaluation recorded (ISO 8601), null when none was since counting began. */
  lastEvaluated?: string | null;
}

export interface StaleOptions {
  /** A flag not written for this many days is reported as unchanged; default 90. */
  unchangedDays?: number;
  /** With `usage`: a flag not evaluated for this many days is reported as unused; default 30. */
  unusedDays?: number;
  /** What the store recorded (FlagStore.readUsage); absent: no `unused` reason and no `lastEvaluated`. */
  usage?: UsageReport;
}

/** How the usage part of a report was made: for readers to tell "never evaluated" from "not counted long enough". */
export interface UsageSummary {
  unusedDays: number;
  /** When counting began (ISO 8601); null: nothing was recorded yet. */
  countingSince: string | null;
}

export interface StaleReport {
  flags: StaleFlag[];
  /** Present when the store counts usage. */
  usage?: UsageSummary;
}

export const DEFAULT_UNCHANGED_DAYS = 90;
export const DEFAULT_UNUSED_DAYS = 30;
/** The largest number of days either threshold takes (about ten years). */
export const MAX_STALE_DAYS = 3650;

/** Pure: the stale flags of `ruleSet` at `nowMs`, sorted by key. Unparseable dates never make a flag stale. */
export function findStaleFlags(ruleSet: RuleSet, nowMs: number, options: StaleOptions = {}): StaleFlag[] {
  const unchangedMs = (options.unchangedDays ?? DEFAULT_UNCHANGED_DAYS) * DAY_MS;
  const unusedMs = (options.unusedDays ?? DEFAULT_UNUSED_DAYS) * DAY_MS;
  const { usage } = options;
  // Counting must have run the whole window before a flag never seen can be called unused.
  const countedLongEnough = usage?.countingSince !== undefined && nowMs - usage.countingSince >= unusedMs;
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
    const lastAt = usage && Object.hasOwn(usage.flags, key) ? usage.flags[key]?.lastEvaluatedAt : undefined;
    if (usage) {
      const unused =
        lastAt !== undefined ? nowMs - lastAt >= unusedMs : countedLongEnough && nowMs - writtenAt >= unusedMs;
      if (unused) reasons.push("unused");
    }
    if (reasons.length === 0) continue;
    stale.push({
      key,
      ...(flag.owner === undefined ? {} : { owner: flag.owner }),
      reasons,
      ...(flag.expires === undefined ? {} : { expires: flag.expires }),
      updatedAt,
      ...(usage ? { lastEvaluated: lastAt === undefined ? null : new Date(lastAt).toISOString() } : {}),
    });
  }
  return stale;
}

/** The report `GET /admin/stale` and `greenlight flags stale` give: the stale flags, and how usage was counted. */
export function staleReport(ruleSet: RuleSet, nowMs: number, options: StaleOptions = {}): StaleReport {
  const flags = findStaleFlags(ruleSet, nowMs, options);
  if (!options.usage) return { flags };
  const since = options.usage.countingSince;
  return {
    flags,
    usage: {
      unusedDays: options.unusedDays ?? DEFAULT_UNUSED_DAYS,
      countingSince: since === undefined ? null : new Date(since).toISOString(),
    },
  };
}

/**
 * staleReport of what `store` holds: two store calls, the flags and then what usage recorded (none when the store
 * counts no usage). `GET /admin/stale` and the local `greenlight flags stale` read it so.
 */
export async function readStaleReport(
  store: Pick<FlagStore, "load" | "readUsage">,
  nowMs: number,
  options: Omit<StaleOptions, "usage"> = {},
): Promise<StaleReport> {
  const ruleSet = await store.load();
  const usage = await store.readUsage?.();
  return staleReport(ruleSet, nowMs, { ...options, ...(usage === undefined ? {} : { usage }) });
}
