// What `greenlight flags import --from unleash` would do: each Unleash feature set against the flags already stored.
/*
 * Pure: the caller reads the Unleash document (importUnleashFeatures) and the stored flags, this decides, per
 * feature, whether it maps to a flag to write, is skipped (the adapter's reason), conflicts with a stored flag of
 * the same key, or is already stored exactly so. Every flag to write has passed validateFlag here, with its final
 * key, so a caller that writes them cannot meet an invalid one halfway through.
 */
import { isObject } from "../contract/objects.ts";
import type { Flag, StoredFlag } from "./types.ts";
import type { UnleashImport } from "./unleash.ts";
import { describeProblems, FLAG_KEY_PATTERN, validateFlag } from "./validate.ts";

/**
 * - mapped: a flag to write (created, or with `overwrite` replacing `revision`);
 * - unchanged: stored under its key already with the same definition: nothing to write;
 * - conflict: a different flag is stored under its key and `overwrite` is off;
 * - skipped: the feature cannot be a greenlight flag; `reason` says why.
 */
export type ImportResult = "mapped" | "unchanged" | "conflict" | "skipped";

export interface ImportRow {
  /** The Unleash feature's name; an entry without a usable name is named by its place, like "(features[3])". */
  feature: string;
  result: ImportResult;
  /** The greenlight key (prefix + name); absent on skipped rows. */
  key?: string;
  /** The flag the feature maps to: written for mapped rows, shown for unchanged and conflict. */
  flag?: Flag;
  /**
   * The context field whose value must be the targetingKey for the split to pick Unleash's users, when it is not
   * userId (then sessionId), Unleash's default. As UnleashImport.stickiness.
   */
  stickiness?: string;
  /** The revision stored under `key`: replaced (mapped with overwrite), unchanged, or in conflict. */
  revision?: number;
  /** Why a feature was skipped, or what it conflicts with. */
  reason?: string;
}

export interface ImportPlanOptions {
  /** Put before every feature name to make the flag key, e.g. "unleash.". */
  prefix?: string;
  /** Replace a stored flag of the same key (the caller writes with If-Match on `revision`). */
  overwrite?: boolean;
}

/** A problem with the prefix itself (it could start no valid key), or undefined when it is usable. */
export function prefixProblem(prefix: string): string | undefined {
  if (prefix === "" || FLAG_KEY_PATTERN.test(`${prefix}a`)) return undefined;
  return `--prefix ${JSON.stringify(prefix)} cannot start a flag key: use letters, digits, ".", "_" and "-", starting with a letter or digit (keys are at most 128 characters)`;
}

/** The flag under another key; the split keeps hashing the Unleash name, so every user stays in its bucket. */
function rekey(flag: Flag, key: string): Flag {
  if (key === flag.key) return flag;
  const moved: Flag = { ...flag, key };
  // The salt defaults to the key: without this, a prefix would move users in and out of a percentage rollout.
  if (moved.percentage !== undefined && moved.salt === undefined) moved.salt = flag.key;
  return moved;
}

/** JSON with object keys sorted, so two flags compare equal whatever order their fields were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    isObject(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item,
  );
}

export const sameFlag = (a: Flag, b: Flag): boolean => canonical(a) === canonical(b);

/** One row per Unleash feature (and per unusable entry), sorted by feature name. */
export function planUnleashImport(
  imported: UnleashImport,
  existing: ReadonlyMap<string, StoredFlag>,
  options: ImportPlanOptions = {},
): ImportRow[] {
  const prefix = options.prefix ?? "";
  const rows: ImportRow[] = imported.skipped.map((skip) => ({
    feature: skip.name,
    result: "skipped",
    reason: skip.reason,
  }));
  for (const mapped of imported.flags) {
    const feature = mapped.key;
    const key = `${prefix}${feature}`;
    // The adapter validated the flag under its Unleash name; the final key (and salt) is checked again here.
    const checked = validateFlag(rekey(mapped, key));
    if (!checked.ok) {
      const why = describeProblems(checked.problems).replaceAll("\n", "; ");
      rows.push({ feature, result: "skipped", reason: `not a valid greenlight flag as "${key}": ${why}` });
      continue;
    }
    const row: ImportRow = { feature, result: "mapped", key, flag: checked.flag };
    const stickiness = Object.hasOwn(imported.stickiness, feature) ? imported.stickiness[feature] : undefined;
    if (stickiness !== undefined) row.stickiness = stickiness;
    const stored = existing.get(key);
    if (stored !== undefined) {
      row.revision = stored.revision;
      if (sameFlag(stored.flag, checked.flag)) {
        row.result = "unchanged";
      } else if (!options.overwrite) {
        row.result = "conflict";
        row.reason = `flag "${key}" exists already (revision ${stored.revision}) with another definition: --overwrite replaces it`;
      }
    }
    rows.push(row);
  }
  return rows.sort((a, b) => (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0));
}
