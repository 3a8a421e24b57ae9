// Sending to real local receivers: retried only when asking again can help, at most `attempts` times, each request
// cut off by its timeout, and a batch that never waits past its budget (the rest reported as dropped).
import { HTTP } from "cloudevents";
import { afterEach, describe, expect, it } from "vitest";
import { deliver } from "../../functions/notify/deliver.ts";
import { flagNotification } from "../../functions/notify/flags.ts";
import { createNotifier, DEFAULT_NOTIFIER_SETTINGS, type NotifierSettings } from "../../functions/notify/notifier.ts";
import { downUrl, type Receiver, recordingSleep, startReceiver } from "./receiver.ts";

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});
async function receiver(answers: Parameters<typeof startReceiver>[0] = []) {
  const started = await startReceiver(answers);
  receivers.push(started);
  return started;
}

const message = { headers: { "content-type": "application/json" }, body: '{"text":"hi"}' };
const policy = (extra: Partial<Parameters<typeof deliver>[2]> = {}) => ({
  timeoutMs: 2_000,
  attempts: 3,
  backoffMs: 100,
  fetch,
  sleep: recordingSleep().sleep,
  ...extra,
});
const never = new AbortController().signal;

describe("deliver", () => {
  it("retries a 500 and succeeds on the 200 that follows, backing off in between", async () => {
    const flaky = await receiver([500]);
    const { sleep, waits } = recordingSleep();
    const result = await deliver(flaky.url, message, policy({ sleep }), never);
    expect(result).toEqual({ outcome: "sent", attempts: 2, status: 200, detail: "HTTP 200" });
    expect(flaky.received).toHaveLength(2);
    expect(waits).toEqual([100]);
  });

  it("gives up after `attempts` tries of a receiver that keeps failing, doubling the wait", async () => {
    const failing = await receiver([503, 503, 503, 503, 503]);
    const { sleep, waits } = recordingSleep();
    const result = await deliver(failing.url, message, policy({ sleep }), never);
    expect(result).toMatchObject({ outcome: "failed", attempts: 3, status: 503 });
    expect(failing.received).toHaveLength(3);
    expect(waits).toEqual([100, 200]);
  });

  it("retries a 429, honouring a short Retry-After, but never a 400", async () => {
    const limited = await receiver([429]);
    expect((await deliver(limited.url, message, policy(), never)).outcome).toBe("sent");
    const refusing = await receiver([400]);
    const result = await deliver(refusing.url, message, policy(), never);
    expect(result).toMatchObject({ outcome: "failed", attempts: 1, status: 400, detail: "HTTP 400" });
    expect(refusing.received).toHaveLength(1);
  });

  it("a receiver that is down: network errors, retried, failed, never thrown", async () => {
    const result = await deliver(await downUrl(), message, policy(), never);
    expect(result).toMatchObject({ outcome: "failed", attempts: 3 });
    expect(result.detail).toMatch(/^network error: /);
    expect(result.detail).not.toContain("/hook");
  });

  it("a receiver that hangs: each request is cut off by its timeout", async () => {
    const hanging = await receiver(["hang", "hang"]);
    const result = await deliver(hanging.url, message, policy({ timeoutMs: 50, attempts: 2 }), never);
    expect(result).toEqual({ outcome: "failed", attempts: 2, detail: "no answer within 50 ms" });
    expect(hanging.received).toHaveLength(2);
  });
});

const settings = (defaults: NotifierSettings["defaults"], extra: Partial<NotifierSettings> = {}): NotifierSettings => ({
  ...DEFAULT_NOTIFIER_SETTINGS,
  defaults,
  ...extra,
});
const event = flagNotification({
  kind: "flag.created",
  key: "k",
  version: 1,
  actor: "a",
  now: new Date("2026-12-07T10:00:00Z"),
});

describe("a notify batch", () => {
  it("sends to both channels and counts what arrived", async () => {
    const slack = await receiver();
    const ce = await receiver();
    const batch = createNotifier(settings({ slack: slack.url, cloudevents: ce.url })).batch();
    batch.notify(event);
    const summary = await batch.settle();
    expect(summary).toMatchObject({ sent: 2, failed: 0, dropped: 0, warnings: [] });
    expect(JSON.parse(slack.received[0]?.body ?? "{}").text).toBe(`${event.title}: ${event.message}`);
    const received = ce.received[0];
    const parsed = HTTP.toEvent({ headers: received?.headers ?? {}, body: received?.body });
    expect(parsed).toMatchObject({ id: event.id, type: "dev.greenlight.flag.created", source: "/admin/flags/k" });
    expect(summary.deliveries.map((d) => d.receiver)).toEqual([
      slack.url.replace("/hook", ""),
      ce.url.replace("/hook", ""),
    ]);
  });

  it("waits at most its budget: a hanging receiver is aborted and reported as dropped, the other still counted", async () => {
    const hanging = await receiver(["hang"]);
    const ok = await receiver();
    const notifier = createNotifier(
      settings({ slack: hanging.url, cloudevents: ok.url }, { timeoutMs: 60_000, budgetMs: 100 }),
    );
    const batch = notifier.batch();
    batch.notify(event);
    const summary = await batch.settle();
    expect(summary).toMatchObject({ sent: 1, failed: 0, dropped: 1 });
    expect(summary.deliveries.find((d) => d.channel === "slack")).toMatchObject({ outcome: "dropped" });
    expect(hanging.hanging).toBe(1);
  });

  it("an event after the batch settled is not sent, and says so", async () => {
    const ok = await receiver();
    const batch = createNotifier(settings({ slack: ok.url })).batch();
    await batch.settle();
    batch.notify(event);
    expect((await batch.settle()).warnings[0]).toMatch(/came after the batch settled/);
    expect(ok.received).toHaveLength(0);
  });
});
