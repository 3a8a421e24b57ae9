// The webhook's settings from the environment, for the Lambda (the CLI takes the same as flags): checked, never guessed.
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

export function parseOnErrorMode(raw: string): OnError | undefined {
  const mode = raw.trim();
  return mode === "allow" || mode === "deny" ? mode : undefined;
}

/** GREENLIGHT_ON_ERROR (allow | deny, default allow) and GREENLIGHT_WEBHOOK_BODY_LIMIT (default 3 MiB); blank is unset. */
export function webhookSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): WebhookSettings {
  const rawMode = env[WEBHOOK_ENV.onError]?.trim() ?? "";
  const onError = rawMode === "" ? "allow" : parseOnErrorMode(rawMode);
  if (onError === undefined) {
    return {
      ok: false,
      message: `${WEBHOOK_ENV.onError}=${JSON.stringify(rawMode)} is invalid; accepted: allow or deny`,
    };
  }
  const rawLimit = env[WEBHOOK_ENV.bodyLimit]?.trim() ?? "";
  if (rawLimit === "") return { ok: true, options: { onError, bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES } };
  const limit = parseByteSize(rawLimit, BODY_LIMIT_RANGE.min, BODY_LIMIT_RANGE.max);
  if (!limit.ok) {
    return { ok: false, message: `${WEBHOOK_ENV.bodyLimit}=${JSON.stringify(rawLimit)} is invalid; ${limit.problem}` };
  }
  return { ok: true, options: { onError, bodyLimitBytes: limit.value } };
}
