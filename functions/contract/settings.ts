// One reader for settings from the environment, shared by every runtime (Lambda, edge, CronJob, CLI, local stack):
// a blank value counts as unset, and a value that does not parse stops the start with one line naming the variable,
// the value and what is accepted. Never a silent fallback: a misspelt `deny` must not quietly mean `allow`.
import type { Parsed } from "./values.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/** A bad setting; the message is one line naming the variable and what it accepts. */
export class SettingError extends Error {
  override readonly name = "SettingError";
}

/** The variable's value, trimmed; unset and blank are both undefined (templates pass '' for "not configured"). */
export function settingValue(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/**
 * The parsed value, or undefined when unset. Throws SettingError naming the variable and quoting the value, unless
 * `secret` (a token must never reach a log), then naming it alone.
 */
export function readSetting<T>(
  env: Env,
  name: string,
  parse: (raw: string) => Parsed<T>,
  options: { secret?: boolean } = {},
): T | undefined {
  const raw = settingValue(env, name);
  if (raw === undefined) return undefined;
  const parsed = parse(raw);
  if (parsed.ok) return parsed.value;
  const shown = options.secret ? name : `${name}=${JSON.stringify(raw)}`;
  throw new SettingError(`${shown} is invalid; ${parsed.problem}`);
}

/** readSetting with a default for unset. */
export function readSettingOr<T>(env: Env, name: string, parse: (raw: string) => Parsed<T>, fallback: T): T {
  return readSetting(env, name, parse) ?? fallback;
}

/** A parser for one of `choices`, accepted as written: `accepted: allow or deny`. */
export function oneOf<T extends string>(choices: readonly T[]): (raw: string) => Parsed<T> {
  const accepted = `accepted: ${choices.length > 1 ? `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}` : choices[0]}`;
  return (raw) => {
    const found = choices.find((choice) => choice === raw);
    return found === undefined ? { ok: false, problem: accepted } : { ok: true, value: found };
  };
}
