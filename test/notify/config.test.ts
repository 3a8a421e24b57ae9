// Where notifications go: the annotations (validated at admission like every other), their precedence over the
// Namespace's and the environment's, and the environment's settings.
import { describe, expect, it } from "vitest";
import { validateAnnotations } from "../../functions/contract/validate.ts";
import { NOTIFY_ENV, notifierFromEnv, notifierSettingsFromEnv } from "../../functions/notify/env.ts";
import { resolveTargets } from "../../functions/notify/targets.ts";
import { reviewOf } from "../../scripts/fakes/admission-review.ts";
import { validateReview } from "../../webhooks/validate/validate.ts";

const SLACK = "https://hooks.slack.com/services/T0/B0/secret";
const CE = "https://events.example.com/greenlight";

function deployment(annotations: Record<string, string>) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "shop", annotations },
    spec: { selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } } } },
  };
}

describe("notify annotations at admission", () => {
  it("accepts http(s) URLs and off, on any strategy, without a warning", () => {
    const report = validateAnnotations({
      "greenlight.dev/strategy": "rolling",
      "greenlight.dev/notify-slack": SLACK,
      "greenlight.dev/notify-cloudevents": "off",
    });
    expect(report).toEqual({ errors: [], warnings: [] });
    expect(
      validateAnnotations({ "greenlight.dev/notify-cloudevents": "http://receiver.ns.svc:8080/x" }).errors,
    ).toEqual([]);
  });

  it.each([
    ["ftp://example.com/x", "notify-slack"],
    ["hooks.slack.com/services/T0", "notify-slack"],
    ["https://", "notify-cloudevents"],
    ["https://exa mple.com", "notify-cloudevents"],
    ["OFF", "notify-cloudevents"],
  ])("rejects %s on %s, naming the annotation and what is accepted", (value, key) => {
    const answer = validateReview(reviewOf(deployment({ [`greenlight.dev/${key}`]: value })));
    expect(answer.response.allowed).toBe(false);
    expect(answer.response.status?.message).toBe(
      `greenlight.dev/${key}: ${JSON.stringify(value)} is invalid: accepted: an absolute http:// or https:// URL, ` +
        'e.g. "https://hooks.slack.com/services/T0/B0/X", or "off"',
    );
  });

  it("suggests the right key for a misspelt one", () => {
    const report = validateAnnotations({ "greenlight.dev/notify-slak": SLACK });
    expect(report.warnings).toEqual([
      "greenlight.dev/notify-slak is not a greenlight annotation; did you mean greenlight.dev/notify-slack?",
    ]);
  });
});

describe("resolveTargets", () => {
  const defaults = { slack: "https://env.example/slack", cloudevents: "https://env.example/ce" };

  it("takes the environment's where nothing is annotated", () => {
    expect(resolveTargets(defaults, {}, [])).toEqual(defaults);
  });

  it("the Deployment's wins over the Namespace's, which wins over the environment's; off turns a channel off", () => {
    const namespace = {
      "greenlight.dev/notify-slack": "https://ns.example/slack",
      "greenlight.dev/notify-cloudevents": "off",
    };
    expect(resolveTargets(defaults, { namespace }, [])).toEqual({ slack: "https://ns.example/slack" });
    const deployment = { "greenlight.dev/notify-slack": "off", "greenlight.dev/notify-cloudevents": CE };
    expect(resolveTargets(defaults, { namespace, deployment }, [])).toEqual({ cloudevents: CE });
  });

  it("skips an invalid Namespace annotation with a warning naming it (admission does not see Namespaces)", () => {
    const warnings: string[] = [];
    const namespace = { "greenlight.dev/notify-slack": "slack please" };
    expect(resolveTargets(defaults, { namespace, namespaceName: "shop" }, warnings)).toEqual(defaults);
    expect(warnings).toEqual([
      'greenlight.dev/notify-slack on Namespace shop ignored: accepted: an absolute http:// or https:// URL, e.g. "https://hooks.slack.com/services/T0/B0/X", or "off"',
    ]);
  });
});

describe("notifier settings from the environment", () => {
  it("nothing set: no notifier at all", () => {
    expect(notifierFromEnv({})).toBeUndefined();
    expect(notifierFromEnv({ [NOTIFY_ENV.slack]: "" })).toBeUndefined();
  });

  it("a URL set: notify there, with the defaults; GREENLIGHT_NOTIFY=off wins; =on notifies by annotation alone", () => {
    expect(notifierSettingsFromEnv({ [NOTIFY_ENV.slack]: SLACK })).toEqual({
      defaults: { slack: SLACK },
      mode: "binary",
      timeoutMs: 5000,
      attempts: 3,
      backoffMs: 500,
      budgetMs: 5000,
    });
    expect(notifierFromEnv({ [NOTIFY_ENV.slack]: SLACK, [NOTIFY_ENV.enabled]: "off" })).toBeUndefined();
    expect(notifierSettingsFromEnv({ [NOTIFY_ENV.enabled]: "on" })?.defaults).toEqual({});
  });

  it("reads mode, timeout, attempts and budget", () => {
    const settings = notifierSettingsFromEnv({
      [NOTIFY_ENV.cloudevents]: CE,
      [NOTIFY_ENV.mode]: "structured",
      [NOTIFY_ENV.timeout]: "1500ms",
      [NOTIFY_ENV.attempts]: "2",
      [NOTIFY_ENV.budget]: "2s",
    });
    expect(settings).toMatchObject({ mode: "structured", timeoutMs: 1500, attempts: 2, budgetMs: 2000 });
  });

  it("refuses bad values in one line naming the variable; a URL (a credential) is named, never quoted", () => {
    expect(() => notifierFromEnv({ [NOTIFY_ENV.slack]: "hooks.slack.com/services/T0/B0/secret" })).toThrow(
      'GREENLIGHT_NOTIFY_SLACK_URL is invalid; accepted: an absolute http:// or https:// URL, e.g. "https://hooks.slack.com/services/T0/B0/X", or "off"',
    );
    expect(() => notifierFromEnv({ [NOTIFY_ENV.slack]: SLACK, [NOTIFY_ENV.mode]: "batch" })).toThrow(
      'GREENLIGHT_NOTIFY_CLOUDEVENTS_MODE="batch" is invalid; accepted: binary or structured',
    );
    expect(() => notifierFromEnv({ [NOTIFY_ENV.slack]: SLACK, [NOTIFY_ENV.attempts]: "9" })).toThrow(
      'GREENLIGHT_NOTIFY_ATTEMPTS="9" is invalid; accepted: an integer from 1 to 5',
    );
    expect(() => notifierFromEnv({ [NOTIFY_ENV.slack]: SLACK, [NOTIFY_ENV.budget]: "5" })).toThrow(
      /GREENLIGHT_NOTIFY_BUDGET="5" is invalid; accepted: a wait from 1ms to 10m/,
    );
    expect(() => notifierFromEnv({ [NOTIFY_ENV.enabled]: "yes" })).toThrow(
      'GREENLIGHT_NOTIFY="yes" is invalid; accepted: on or off',
    );
  });
});
