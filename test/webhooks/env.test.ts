// The webhook's settings from the environment, and the Lambda that refuses to guess when they are wrong.
import { describe, expect, it, vi } from "vitest";
import { deploymentReview, httpApiEvent, lambdaContext } from "../../scripts/fakes/lambda-events.ts";
import { DEFAULT_BODY_LIMIT_BYTES } from "../../webhooks/http/core.ts";
import { webhookSettingsFromEnv } from "../../webhooks/http/env.ts";

describe("webhookSettingsFromEnv", () => {
  it("defaults to allow and a 3 MiB body, blank counting as unset", () => {
    const expected = { ok: true, options: { onError: "allow", bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES } };
    expect(webhookSettingsFromEnv({})).toEqual(expected);
    expect(webhookSettingsFromEnv({ GREENLIGHT_ON_ERROR: " ", GREENLIGHT_WEBHOOK_BODY_LIMIT: "" })).toEqual(expected);
  });

  it("reads deny and a body limit with a unit", () => {
    expect(webhookSettingsFromEnv({ GREENLIGHT_ON_ERROR: "deny", GREENLIGHT_WEBHOOK_BODY_LIMIT: "8MiB" })).toEqual({
      ok: true,
      options: { onError: "deny", bodyLimitBytes: 8 * 1024 * 1024 },
    });
  });

  it("refuses a misspelt mode and a bad size, naming the variable and what is accepted", () => {
    expect(webhookSettingsFromEnv({ GREENLIGHT_ON_ERROR: "Deny" })).toEqual({
      ok: false,
      message: 'GREENLIGHT_ON_ERROR="Deny" is invalid; accepted: allow or deny',
    });
    const size = webhookSettingsFromEnv({ GREENLIGHT_WEBHOOK_BODY_LIMIT: "1KiB" });
    expect(size.ok).toBe(false);
    if (!size.ok)
      expect(size.message).toMatch(/^GREENLIGHT_WEBHOOK_BODY_LIMIT="1KiB" is invalid; accepted: a size from 65536/);
  });
});

describe("the webhook Lambda with a misspelt GREENLIGHT_ON_ERROR", () => {
  it("answers every request 500 with the reason instead of quietly allowing", async () => {
    const saved = process.env.GREENLIGHT_ON_ERROR;
    process.env.GREENLIGHT_ON_ERROR = "Deny";
    vi.resetModules();
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const { handler } = await import("../../webhooks/lambda.ts");
      const review = JSON.stringify(deploymentReview("uid-1", { "greenlight.dev/inject": "true" }));
      const result = await handler(httpApiEvent("POST", "/mutate", review), lambdaContext());
      expect(result.statusCode).toBe(500);
      expect(JSON.parse(result.body)).toEqual({
        error: 'the webhook is misconfigured: GREENLIGHT_ON_ERROR="Deny" is invalid; accepted: allow or deny',
      });
      expect(log).toHaveBeenCalledWith(expect.stringContaining('GREENLIGHT_ON_ERROR="Deny"'));
    } finally {
      log.mockRestore();
      if (saved === undefined) delete process.env.GREENLIGHT_ON_ERROR;
      else process.env.GREENLIGHT_ON_ERROR = saved;
      vi.resetModules();
    }
  });
});
