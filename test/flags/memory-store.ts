// An in-memory FlagStore test double with call counting and failure switches, for the cache and HTTP tests.
import { preconditionsHold } from "../../functions/flags/store-errors.ts";
import {
  type AuditEntry,
  type Flag,
  type FlagStore,
  type FlagUsage,
  type RuleSet,
  StoreConflictError,
  type StoredFlag,
  StoreNotFoundError,
  StoreUnavailableError,
  type UsageBatch,
  type UsageQuery,
  type UsageReport,
  type WriteOptions,
  type WriteResult,
} from "../../functions/flags/types.ts";
import {
  checkUsageBatch,
  oldestKeptDay,
  usageDay,
  usageDays,
  record as usageRecord,
} from "../../functions/flags/usage.ts";

export type StoreMethod = "version" | "load" | "get" | "put" | "delete" | "audit" | "recordUsage" | "readUsage";

export interface MemoryStoreOptions {
  /** Flags present before the first call; each gets its own version (1, 2, ...) as if written one by one. */
  seed?: readonly Flag[];
  /** The clock behind `updatedAt` and the audit `at`. */
  now?: () => number;
  kind?: FlagStore["kind"];
  /**
   * Implement recordUsage and readUsage (as the Upstash and file stores do). Off by default: a store without them,
   * as the cache and HTTP tests that count store calls expect.
   */
  usage?: boolean;
}

export interface MemoryStore extends FlagStore {
  /** Calls per method, failed ones included. */
  readonly calls: Record<StoreMethod, number>;
  /** Every call so far, failed ones included. */
  readonly totalCalls: number;
  /** While true, every call rejects with StoreUnavailableError. */
  down: boolean;
  /** The next `count` calls reject with StoreUnavailableError (or `error`). */
  failNext(count?: number, error?: Error): void;
  resetCalls(): void;
}

// Copies keep callers from mutating the store's state through what it returned, as a real store would.
const copy = <T>(value: T): T => structuredClone(value);

export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const now = options.now ?? Date.now;
  const flags = new Map<string, StoredFlag>();
  const entries: AuditEntry[] = [];
  let version = 0;
  let failures: Array<Error | undefined> = [];
  const calls: Record<StoreMethod, number> = {
    version: 0,
    load: 0,
    get: 0,
    put: 0,
    delete: 0,
    audit: 0,
    recordUsage: 0,
    readUsage: 0,
  };
  // Usage as the real stores keep it: the earliest counting start, each flag's latest evaluation, daily counts.
  let countingSince: number | undefined;
  const lastEvaluated = new Map<string, number>();
  const days = new Map<string, Map<string, Map<string, number>>>();

  function enter(method: StoreMethod): void {
    calls[method]++;
    if (store.down) throw new StoreUnavailableError("memory store is down (test switch)");
    if (failures.length > 0) {
      const error = failures.shift();
      throw error ?? new StoreUnavailableError(`memory store failed ${method} (test switch)`);
    }
  }

  // The preconditions as the real stores check them (0: absent); a JS turn is atomic, so no lock is needed.
  function checkMatch(key: string, options: WriteOptions): void {
    const actual = flags.get(key)?.revision ?? 0;
    if (!preconditionsHold(options, actual)) throw new StoreConflictError(key, options, actual);
  }

  function record(entry: Omit<AuditEntry, "id" | "at">): void {
    entries.push({ id: String(entries.length + 1), at: new Date(now()).toISOString(), ...entry });
  }

  function write(flag: Flag, options: WriteOptions): WriteResult {
    checkMatch(flag.key, options);
    const before = flags.get(flag.key)?.flag;
    version++;
    const stored: StoredFlag = {
      flag: copy(flag),
      revision: version,
      updatedAt: new Date(now()).toISOString(),
      updatedBy: options.actor,
    };
    flags.set(flag.key, stored);
    record({
      actor: options.actor,
      ...(options.token === undefined ? {} : { token: options.token }),
      action: "put",
      key: flag.key,
      version,
      ...(before ? { before } : {}),
      after: copy(flag),
    });
    return { version, stored: copy(stored), created: before === undefined };
  }

  for (const flag of options.seed ?? []) write(flag, { actor: "seed" });

  const store: MemoryStore = {
    kind: options.kind ?? "file",
    down: false,
    calls,
    get totalCalls() {
      return Object.values(calls).reduce((sum, count) => sum + count, 0);
    },
    failNext(count = 1, error?: Error) {
      failures = [...failures, ...Array.from({ length: count }, () => error)];
    },
    resetCalls() {
      for (const method of Object.keys(calls) as StoreMethod[]) calls[method] = 0;
    },
    async version() {
      enter("version");
      return version;
    },
    async load(): Promise<RuleSet> {
      enter("load");
      const snapshot: Record<string, StoredFlag> = {};
      for (const key of [...flags.keys()].sort()) snapshot[key] = copy(flags.get(key)!);
      return { version, flags: snapshot };
    },
    async get(key) {
      enter("get");
      const stored = flags.get(key);
      return stored ? copy(stored) : undefined;
    },
    async put(flag, options) {
      enter("put");
      return write(flag, options);
    },
    async delete(key, options) {
      enter("delete");
      const existing = flags.get(key);
      if (!existing) throw new StoreNotFoundError(key);
      checkMatch(key, options);
      flags.delete(key);
      lastEvaluated.delete(key);
      version++;
      record({
        actor: options.actor,
        ...(options.token === undefined ? {} : { token: options.token }),
        action: "delete",
        key,
        version,
        before: copy(existing.flag),
      });
      return { version };
    },
    async audit(options = {}) {
      enter("audit");
      const limit = options.limit ?? 100;
      const newestFirst = [...entries].reverse();
      const start =
        options.before === undefined ? 0 : newestFirst.findIndex((entry) => entry.id === options.before) + 1;
      // An unknown `before` id pages past everything rather than restarting from the newest entry.
      if (options.before !== undefined && start === 0) return [];
      return copy(newestFirst.slice(start, start + limit));
    },
    ...(options.usage ? { recordUsage, readUsage } : {}),
  };

  async function recordUsage(batch: UsageBatch): Promise<void> {
    enter("recordUsage");
    checkUsageBatch(batch);
    if (batch.counts.length === 0) return;
    const day = usageDay(batch.at);
    const byFlag = days.get(day) ?? new Map<string, Map<string, number>>();
    days.set(day, byFlag);
    for (const { key, variant, count } of batch.counts) {
      const variants = byFlag.get(key) ?? new Map<string, number>();
      byFlag.set(key, variants);
      variants.set(variant, (variants.get(variant) ?? 0) + count);
      lastEvaluated.set(key, Math.max(lastEvaluated.get(key) ?? 0, batch.at));
    }
    countingSince = Math.min(countingSince ?? batch.countingSince, batch.countingSince);
    const oldest = oldestKeptDay(batch.at);
    for (const kept of days.keys()) if (kept < oldest) days.delete(kept);
  }

  async function readUsage(query: UsageQuery = {}): Promise<UsageReport> {
    enter("readUsage");
    const report = usageRecord<FlagUsage>();
    for (const [key, at] of lastEvaluated) report[key] = { lastEvaluatedAt: at, variants: usageRecord() };
    for (const day of usageDays(query.now ?? now(), query.days ?? 0)) {
      for (const [key, variants] of days.get(day) ?? []) {
        const usage = report[key];
        if (!usage) continue;
        for (const [variant, count] of variants) usage.variants[variant] = (usage.variants[variant] ?? 0) + count;
      }
    }
    return { ...(countingSince === undefined ? {} : { countingSince }), flags: report };
  }

  return store;
}

/** When `launch` opens: the test clocks start before it, so advancing past it opens a window at the same version. */
export const LAUNCH_AT = "2026-07-01T00:00:00Z";

/** A flag of every kind the HTTP tests evaluate; each result is plain from the definition (see docs/FLAGS.md). */
export const TEST_FLAGS: readonly Flag[] = [
  { key: "banner", state: "enabled", owner: "web" },
  { key: "checkout", state: "disabled", owner: "payments", expires: "2026-01-31" },
  {
    key: "theme",
    state: "enabled",
    variants: { dark: { value: "dark", weight: 1 }, light: { value: "light", weight: 0 } },
    defaultVariant: "light",
  },
  {
    key: "max-items",
    state: "enabled",
    variants: { ten: { value: 10, weight: 1 }, five: { value: 5, weight: 0 } },
    defaultVariant: "five",
  },
  {
    key: "layout",
    state: "enabled",
    variants: { grid: { value: { columns: 3, dense: true }, weight: 1 }, list: { value: { columns: 1 }, weight: 0 } },
    defaultVariant: "list",
  },
  { key: "beta-tools", state: "partial", segments: ["beta"] },
  { key: "half", state: "partial", percentage: 50 },
  { key: "launch", state: "enabled", startTime: LAUNCH_AT },
];
