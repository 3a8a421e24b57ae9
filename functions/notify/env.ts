// Notifications configured by environment, for the stepper (Lambda, CronJob, `greenlight step`) and the flag server.
// Nothing set: no notifier at all, so nothing is looked up or sent. The receiver URLs may be given by name on
// Lambda (`_SECRET` / `_PARAMETER`, functions/secrets), as a Slack webhook URL is a credential.
import { type Env, oneOf, readSetting, readSettingOr } from "../contract/settings.ts";
import { NOTIFY_OFF, parseInteger, parseMilliseconds, parseNotifyUrl } from "../contract/values.ts";
import {
  createNotifier,
  DEFAULT_NOTIFIER_SETTINGS,
  type Notifier,
  type NotifierIo,
  type NotifierSettings,
} from "./notifier.ts";
import { CLOUDEVENTS_MODES, type CloudEventsMode, type Targets } from "./targets.ts";

export const NOTIFY_ENV = {
  /** on: notify (the default once a URL is set; with no URL, the annotations alone choose receivers); off: never. */
  enabled: "GREENLIGHT_NOTIFY",
  slack: "GREENLIGHT_NOTIFY_SLACK_URL",
  cloudevents: "GREENLIGHT_NOTIFY_CLOUDEVENTS_URL",
  mode: "GREENLIGHT_NOTIFY_CLOUDEVENTS_MODE",
  timeout: "GREENLIGHT_NOTIFY_TIMEOUT",
  attempts: "GREENLIGHT_NOTIFY_ATTEMPTS",
  budget: "GREENLIGHT_NOTIFY_BUDGET",
} as const;

/** The variables a Lambda may give by name rather than by value (functions/secrets/resolve.ts). */
export const NOTIFY_SECRETS = [NOTIFY_ENV.slack, NOTIFY_ENV.cloudevents] as const;

/** GREENLIGHT_NOTIFY_TIMEOUT and _BUDGET: `500ms`, `2s`, `1m`, from 1 ms to 10 minutes. */
const parseWait = (raw: string) => parseMilliseconds(raw, 1, 600_000);

/** A receiver URL from the environment; "off" is the same as unset. Named, never quoted, when it is wrong. */
function urlSetting(env: Env, name: string): string | undefined {
  const url = readSetting(env, name, parseNotifyUrl, { secret: true });
  return url === NOTIFY_OFF ? undefined : url;
}

/** The settings, or undefined when notifications are off (nothing set, or GREENLIGHT_NOTIFY=off). Throws SettingError. */
export function notifierSettingsFromEnv(env: Env): NotifierSettings | undefined {
  const enabled = readSetting(env, NOTIFY_ENV.enabled, oneOf(["on", "off"] as const));
  const defaults: Targets = {};
  const slack = urlSetting(env, NOTIFY_ENV.slack);
  const cloudevents = urlSetting(env, NOTIFY_ENV.cloudevents);
  if (slack !== undefined) defaults.slack = slack;
  if (cloudevents !== undefined) defaults.cloudevents = cloudevents;
  const fallback = DEFAULT_NOTIFIER_SETTINGS;
  const settings: NotifierSettings = {
    ...fallback,
    defaults,
    mode: readSettingOr<CloudEventsMode>(env, NOTIFY_ENV.mode, oneOf(CLOUDEVENTS_MODES), fallback.mode),
    timeoutMs: readSettingOr(env, NOTIFY_ENV.timeout, parseWait, fallback.timeoutMs),
    attempts: readSettingOr(env, NOTIFY_ENV.attempts, (raw) => parseInteger(raw, 1, 5), fallback.attempts),
    budgetMs: readSettingOr(env, NOTIFY_ENV.budget, parseWait, fallback.budgetMs),
  };
  if (enabled === "off") return undefined;
  const configured = slack !== undefined || cloudevents !== undefined;
  return enabled === "on" || configured ? settings : undefined;
}

/** The notifier the environment asks for, or undefined (then callers skip every notification step). */
export function notifierFromEnv(env: Env, io: NotifierIo = {}): Notifier | undefined {
  const settings = notifierSettingsFromEnv(env);
  return settings === undefined ? undefined : createNotifier(settings, io);
}
