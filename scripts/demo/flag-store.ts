// The flag demo's store: where it is (the one `npm start` serves, unless told otherwise), the demo flags written to
// it, and the view of it the demo's stepper passes get (the demo's own flags only).
import { resolve } from "node:path";
import { envValue, ENV as FLAG_ENV } from "../../functions/flags/env.ts";
import { EXAMPLE_FLAGS } from "../../functions/flags/examples.ts";
import { createFileStore, DEFAULT_FLAGS_DIR } from "../../functions/flags/file-store.ts";
import type { Flag, FlagStore } from "../../functions/flags/types.ts";
import { describeProblems, validateFlag } from "../../functions/flags/validate.ts";
import { type Env, localFlagsDir } from "../local/settings.ts";
import { DEMO_ACTOR, demoPlan, type FlagDemoProfile, type FlagScenario } from "./flag-profiles.ts";

export interface FlagStoreDirs {
  /** Where `npm start` keeps its flags: GREENLIGHT_FLAGS_DIR, else its home (GREENLIGHT_HOME, else `.greenlight`). */
  start: string;
  /** Where `greenlight flags` looks for them: GREENLIGHT_FLAGS_DIR, else `.greenlight` (it ignores GREENLIGHT_HOME). */
  cli: string;
}

/** Both directories, absolute, relative to `cwd`. */
export function flagStoreDirs(env: Env, cwd: string): FlagStoreDirs {
  return {
    start: localFlagsDir(env, cwd),
    cli: resolve(cwd, envValue(env, FLAG_ENV.flagsDir) ?? DEFAULT_FLAGS_DIR),
  };
}

/** A file store in `dir`, seeded (when new) with the example flags `npm start` seeds it with. */
export const openDemoStore = (dir: string): FlagStore => createFileStore({ dir, seed: EXAMPLE_FLAGS });

/** The demo flag of a scenario: a boolean flag at 0% whose `on` variant the plan steps. */
export function demoFlag(scenario: FlagScenario, profile: FlagDemoProfile): Flag {
  const flag: Flag = {
    key: scenario.key,
    description: `greenlight demo (npm run demo -- --flags): ${scenario.label}; expected ${scenario.expected}`,
    state: "partial",
    percentage: 0,
    owner: DEMO_ACTOR,
    rollout: demoPlan(profile),
  };
  const checked = validateFlag(flag);
  if (!checked.ok) throw new Error(`the demo flag ${scenario.key} is not valid: ${describeProblems(checked.problems)}`);
  return checked.flag;
}

/**
 * Writes every scenario's flag afresh (no precondition: a run replaces what an earlier one left, status included),
 * each with an audit entry by DEMO_ACTOR.
 */
export async function writeDemoFlags(
  store: FlagStore,
  scenarios: readonly FlagScenario[],
  profile: FlagDemoProfile,
): Promise<void> {
  for (const scenario of scenarios) await store.put(demoFlag(scenario, profile), { actor: DEMO_ACTOR });
}

/**
 * The store as the demo's passes see it: only `keys` are loaded, so flags of the user's own with a plan are not
 * judged on the demo's metrics (a pass steps every flag `load()` returns). Everything else goes to the store.
 */
export function onlyFlags(store: FlagStore, keys: readonly string[]): FlagStore {
  const wanted = new Set(keys);
  return {
    kind: store.kind,
    version: () => store.version(),
    load: async () => {
      const rules = await store.load();
      return {
        version: rules.version,
        flags: Object.fromEntries(Object.entries(rules.flags).filter(([key]) => wanted.has(key))),
      };
    },
    get: (key) => store.get(key),
    put: (flag, options) => store.put(flag, options),
    delete: (key, options) => store.delete(key, options),
    audit: (options) => store.audit(options),
  };
}
