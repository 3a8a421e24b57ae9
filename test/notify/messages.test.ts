// The two wire formats of one event: the Slack message and the CloudEvents HTTP message (parsed back with the
// cloudevents package), and the event ids receivers deduplicate on.
import { type CloudEvent, HTTP } from "cloudevents";
import { describe, expect, it } from "vitest";
import { cloudEventMessage } from "../../functions/notify/cloudevent.ts";
import { flagNotification } from "../../functions/notify/flags.ts";
import { blueGreenNotification, canaryNotification, rollingNotification } from "../../functions/notify/rollouts.ts";
import { escapeSlack, slackMessage } from "../../functions/notify/slack.ts";

const now = new Date("2026-12-07T10:00:00Z");
const progressing = {
  phase: "Progressing",
  weights: { stable: 50, canary: 50 },
  inconclusive: 0,
  stepIndex: 1,
  lastChecks: [{ name: "error-rate", outcome: "pass" }],
};
const transition = {
  namespace: "shop",
  deployment: "web-v2",
  uid: "uid-1",
  version: "v2",
  revision: "abc",
  route: "web",
  prior: progressing,
  priorText: '{"phase":"Progressing"}',
  message: "promoted v2: all 2 steps passed",
  now,
};

const parse = (message: { headers: Record<string, string>; body: string }) =>
  HTTP.toEvent({ headers: message.headers, body: message.body }) as CloudEvent<Record<string, unknown>>;

describe("canary events", () => {
  it("promotion: type, source naming the Deployment, subject, data, and a Slack text naming it", () => {
    const event = canaryNotification({
      ...transition,
      status: { ...progressing, phase: "Promoted", weights: { stable: 0, canary: 100 } },
    });
    expect(event).toMatchObject({
      type: "dev.greenlight.canary.promoted",
      source: "/apis/apps/v1/namespaces/shop/deployments/web-v2",
      subject: "shop/web-v2",
      severity: "info",
      namespace: "shop",
    });
    if (!event) throw new Error("no event");
    const slack = slackMessage(event);
    expect(slack.text).toBe("canary shop/web-v2 promoted: v2: promoted v2: all 2 steps passed");
    expect(slack.blocks[0]).toMatchObject({ type: "section", text: { type: "mrkdwn" } });
    expect(JSON.stringify(slack.blocks[1])).toContain("stable 0 / canary 100");

    for (const mode of ["binary", "structured"] as const) {
      const ce = parse(cloudEventMessage(event, mode));
      expect(ce).toMatchObject({
        specversion: "1.0",
        id: event.id,
        type: "dev.greenlight.canary.promoted",
        source: "/apis/apps/v1/namespaces/shop/deployments/web-v2",
        subject: "shop/web-v2",
        time: "2026-12-07T10:00:00.000Z",
        datacontenttype: "application/json",
      });
      expect(ce.data).toMatchObject({ namespace: "shop", deployment: "web-v2", version: "v2", phase: "Promoted" });
    }
    expect(cloudEventMessage(event, "binary").headers).toMatchObject({ "ce-type": "dev.greenlight.canary.promoted" });
    expect(cloudEventMessage(event, "structured").headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
  });

  it("rollback and pause are warnings; a pause says the cause its decision gave (drift when the route was edited)", () => {
    const rolledBack = canaryNotification({
      ...transition,
      status: { ...progressing, phase: "RolledBack", weights: { stable: 100, canary: 0 } },
    });
    expect(rolledBack).toMatchObject({ type: "dev.greenlight.canary.rolledback", severity: "warning" });
    const drift = canaryNotification({
      ...transition,
      pauseCause: "drift",
      status: { ...progressing, phase: "Paused", reason: "VirtualService weights were edited by hand" },
    });
    expect(drift).toMatchObject({ type: "dev.greenlight.canary.paused", title: "canary shop/web-v2 paused (drift)" });
    expect(drift?.data.cause).toBe("drift");
    const requested = canaryNotification({
      ...transition,
      pauseCause: "requested",
      status: { ...progressing, phase: "Paused", reason: 'paused by greenlight.dev/paused: "true"' },
    });
    expect(requested?.data.cause).toBe("requested");
    // A pause whose decision named no cause is told as "other", never guessed from the reason's wording.
    const unnamed = canaryNotification({
      ...transition,
      status: { ...progressing, phase: "Paused", reason: "paused by x" },
    });
    expect(unnamed?.data.cause).toBe("other");
  });

  it("the first analysis without data is a hold worth telling; the next ones, and a pause that stays, are not", () => {
    const noData = { ...progressing, inconclusive: 1, lastChecks: [{ name: "request-rate", outcome: "no-data" }] };
    const first = canaryNotification({ ...transition, status: noData });
    expect(first).toMatchObject({ type: "dev.greenlight.canary.paused", title: "canary shop/web-v2 held: no data" });
    expect(first?.data.cause).toBe("no-data");
    expect(
      canaryNotification({ ...transition, prior: noData, status: { ...noData, inconclusive: 2 } }),
    ).toBeUndefined();
    const paused = { ...progressing, phase: "Paused", reason: "drift" };
    expect(
      canaryNotification({ ...transition, prior: paused, status: { ...paused, reason: "other" } }),
    ).toBeUndefined();
    // A plain step is not told.
    expect(canaryNotification({ ...transition, status: { ...progressing, stepIndex: 2 } })).toBeUndefined();
  });

  it("ids are deterministic from the object, the transition and the state it leaves", () => {
    const status = { ...progressing, phase: "Promoted" };
    const a = canaryNotification({ ...transition, status });
    const b = canaryNotification({ ...transition, status, now: new Date("2026-12-07T11:00:00Z") });
    expect(a?.id).toBe(b?.id);
    expect(canaryNotification({ ...transition, uid: "uid-2", status })?.id).not.toBe(a?.id);
    expect(canaryNotification({ ...transition, priorText: "{}", status })?.id).not.toBe(a?.id);
    expect(canaryNotification({ ...transition, status: { ...status, phase: "RolledBack" } })?.id).not.toBe(a?.id);
  });
});

describe("blue/green, rolling and flag events", () => {
  it("blue/green switch and switch back", () => {
    const base = { namespace: "shop", deployment: "web-green", service: "web", uid: "svc", now, message: "m" };
    const switched = blueGreenNotification({ ...base, kind: "bluegreen.switched", from: "blue", to: "green" });
    expect(switched).toMatchObject({
      type: "dev.greenlight.bluegreen.switched",
      subject: "shop/web",
      title: "blue/green shop/web switched: blue → green",
      severity: "info",
    });
    const back = blueGreenNotification({ ...base, kind: "bluegreen.switchedback", from: "green", to: "blue" });
    expect(back).toMatchObject({ title: "blue/green shop/web switched back: green → blue", severity: "warning" });
    expect(parse(cloudEventMessage(back, "binary")).data).toMatchObject({ service: "web", from: "green", to: "blue" });
  });

  it("rolling undo", () => {
    const event = rollingNotification({
      namespace: "shop",
      deployment: "api",
      uid: "u",
      resourceVersion: "7",
      from: 3,
      to: 2,
      message: "deadline exceeded",
      now,
    });
    expect(event).toMatchObject({
      type: "dev.greenlight.rolling.undone",
      title: "rolling update shop/api undone: revision 3 → 2",
      source: "/apis/apps/v1/namespaces/shop/deployments/api",
    });
    expect(slackMessage(event).text).toBe("rolling update shop/api undone: revision 3 → 2: deadline exceeded");
  });

  it("flag writes name the flag, the actor and the version; no namespace, so only the environment's receivers", () => {
    const event = flagNotification({
      kind: "flag.changed",
      key: "new-checkout",
      version: 12,
      actor: "alice",
      flag: { key: "new-checkout", state: "partial", percentage: 25 },
      now,
    });
    expect(event).toMatchObject({
      type: "dev.greenlight.flag.changed",
      source: "/admin/flags/new-checkout",
      subject: "new-checkout",
      title: "flag new-checkout changed by alice",
    });
    expect(event.namespace).toBeUndefined();
    expect(event.message).toBe("now partial at 25% (rule-set version 12)");
    expect(flagNotification({ kind: "flag.deleted", key: "x", version: 3, actor: "a", now }).id).not.toBe(
      flagNotification({ kind: "flag.deleted", key: "x", version: 4, actor: "a", now }).id,
    );
  });

  it("escapes Slack markup in every string it did not write itself", () => {
    expect(escapeSlack("<!channel> & <https://x|y>")).toBe("&lt;!channel&gt; &amp; &lt;https://x|y&gt;");
    const event = flagNotification({ kind: "flag.created", key: "k", version: 1, actor: "<!here>", now });
    expect(slackMessage(event).text).not.toContain("<!here>");
  });
});
