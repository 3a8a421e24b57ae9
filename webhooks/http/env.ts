// The webhook's settings from the environment, for the Lambda (the CLI takes the same as flags): checked, never guessed.
import { type Env, oneOf, readSettingOr, SettingError } from "../../functions/contract/settings.ts";
import { parseByteSize } from "../../functions/contract/values.ts";
import type { OnError } from "../mutate/mutate.ts";
import { DEFAULT_BODY_LIMIT_BYTES, type WebhookAppOptions } from "./core.ts";

export const WEBHOOK_ENV = {
  onError: "GREENLIGHT_ON_ERROR",
  bodyLimit: "GREENLIGHT_WEBHOOK_BODY_LIMIT",
} as const;

/** What a body limit may be: the API server sends objects up to about 1.5 MB, twice on UPDATE (object and oldObject). */
export const BODY_LIMIT_RANGE = { min: 64 * 1024, max: 64 * 1024 * 1024 } as const;

export type WebhookSettings = { ok: true; options: WebhookAppOptions } | { ok: false; message: string };

const parseOnErrorMode = oneOf<OnError>(["allow", "deny"]);

/** GREENLIGHT_ON_ERROR (allow | deny, default allow) and GREENLIGHT_WEBHOOK_BODY_LIMIT (default 3 MiB); blank is unset. */
export function webhookSettingsFromEnv(env: Env): WebhookSettings {
  try {
    const onError = readSettingOr(env, WEBHOOK_ENV.onError, parseOnErrorMode, "allow");
    const bodyLimitBytes = readSettingOr(
      env,
      WEBHOOK_ENV.bodyLimit,
      (raw) => parseByteSize(raw, BODY_LIMIT_RANGE.min, BODY_LIMIT_RANGE.max),
      DEFAULT_BODY_LIMIT_BYTES,
    );
    return { ok: true, options: { onError, bodyLimitBytes } };
  } catch (error) {
    if (error instanceof SettingError) return { ok: false, message: error.message };
    throw error;
  }
}
