// The flags backend without `--url`: the store `greenlight flags serve` would use (Upstash by env, else ./.greenlight).
import { flagsConfigFromEnv } from "../../../functions/flags/config.ts";
import { compileRuleSet, evaluateAll, evaluateKey } from "../../../functions/flags/evaluate.ts";
import { applyRolloutControl } from "../../../functions/flags/rollout/step.ts";
import { readStaleReport } from "../../../functions/flags/stale.ts";
import {
  type FlagStore,
  StoreConflictError,
  StoreNotFoundError,
  StoreUnavailableError,
} from "../../../functions/flags/types.ts";
import { CliError } from "../errors.ts";
import { conflictMessage, type FlagsBackend, notFoundHint } from "./backend.ts";

export function createLocalBackend(env: NodeJS.ProcessEnv, cwd: string, actor: string): FlagsBackend {
  let store: FlagStore;
  let where: string;
  let defaultUnusedDays: number;
  try {
    const config = flagsConfigFromEnv(env, { cwd });
    store = config.store;
    where = config.where;
    defaultUnusedDays = config.unusedDays;
  } catch (error) {
    throw new CliError((error as Error).message);
  }

  /** Store errors a user can act on become one-line CliErrors; anything else is a bug and stays as it is. */
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof StoreConflictError) {
        throw new CliError(conflictMessage(error.key, error.expected, error.actual));
      }
      if (error instanceof StoreNotFoundError) {
        throw new CliError(`no flag "${error.key}" in ${where}: ${notFoundHint(error.key, await backend.keys())}`);
      }
      if (error instanceof StoreUnavailableError) {
        throw new CliError(`the flag store (${where}) is unavailable: ${error.message}`);
      }
      throw error;
    }
  };

  const backend: FlagsBackend = {
    where,

    list: () =>
      guard(async () => {
        const ruleSet = await store.load();
        const flags = Object.values(ruleSet.flags).sort((a, b) =>
          a.flag.key < b.flag.key ? -1 : a.flag.key > b.flag.key ? 1 : 0,
        ); // as the admin API sorts
        return { version: ruleSet.version, flags };
      }),

    get: (key) =>
      guard(async () => {
        const stored = await store.get(key);
        if (!stored) throw new StoreNotFoundError(key);
        return stored;
      }),

    put: (flag, ifMatch) =>
      guard(async () => {
        const before = await store.get(flag.key);
        const result = await store.put(flag, { actor, ...(ifMatch === undefined ? {} : { ifMatch }) });
        const stored = result.stored ?? (await store.get(flag.key));
        if (!stored) throw new StoreUnavailableError(`flag "${flag.key}" was written but cannot be read back`);
        return { version: result.version, flag: stored, created: before === undefined };
      }),

    remove: (key, ifMatch) =>
      guard(async () => {
        const result = await store.delete(key, { actor, ...(ifMatch === undefined ? {} : { ifMatch }) });
        return { version: result.version };
      }),

    audit: (limit) => guard(() => store.audit(limit === undefined ? {} : { limit })),

    stale: (query = {}) =>
      guard(async () => {
        const unusedDays = query.unusedDays ?? defaultUnusedDays; // unchangedDays: staleReport's default
        return readStaleReport(store, Date.now(), { unchangedDays: query.days, unusedDays });
      }),

    evaluate: (key, context) =>
      guard(async () => evaluateKey(compileRuleSet(await store.load()), key, context, Date.now())),

    evaluateAll: (context) => guard(async () => evaluateAll(compileRuleSet(await store.load()), context, Date.now())),

    controlRollout: (key, control, options = {}) =>
      guard(async () => {
        // Without --if-match the write is conditional on the revision read, read again when the stepper wrote first.
        const { ifMatch, reason } = options;
        const result = await applyRolloutControl(store, key, control, { actor, ifMatch, now: new Date(), reason });
        if ("error" in result) throw new CliError(result.error);
        const flag = result.written.stored ?? (await store.get(key));
        if (!flag) throw new StoreUnavailableError(`flag "${key}" was written but cannot be read back`);
        return { flag, summary: result.summary };
      }),

    async keys() {
      try {
        return Object.keys((await store.load()).flags);
      } catch {
        return [];
      }
    },
  };
  return backend;
}
