// Notifications from real passes against the fake API server with the real client-node: each transition arrives
// once (across passes, and across two concurrent passes: only the pass whose guarded write won sends), the
// Namespace's and the Deployment's annotations choose the receivers, and a receiver that is down or hangs never
// fails or holds up a pass.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { MetricsReader } from "../../functions/canary/checks.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { namespaceReader } from "../../functions/notify/namespaces.ts";
import { createNotifier, DEFAULT_NOTIFIER_SETTINGS, type NotifierSettings } from "../../functions/notify/notifier.ts";
import { runStep } from "../../functions/stepper/run.ts";
import {
  canaryDeployment,
  destinationRule,
  healthyReader,
  NAMESPACE,
  seedCanary,
  virtualService,
} from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, type JsonObject, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { cloudEventsOf, downUrl, type Receiver, recordingSleep, slackTextsOf, startReceiver } from "./receiver.ts";

const MINUTE = 60_000;
const start = new Date("2026-12-07T10:00:00Z");
const at = (minutes: number) => new Date(start.getTime() + minutes * MINUTE);

let api: FakeApiServer;
let clients: KubeClients;
let slack: Receiver;
let ce: Receiver;

beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "notify-test");
});
afterAll(() => api.close());
beforeEach(async () => {
  api.reset();
  seedCanary(api);
  slack = await startReceiver();
  ce = await startReceiver();
});
afterEach(async () => {
  await Promise.all([slack.close(), ce.close()]);
});

const notifier = (defaults: NotifierSettings["defaults"], extra: Partial<NotifierSettings> = {}) =>
  createNotifier({ ...DEFAULT_NOTIFIER_SETTINGS, defaults, ...extra }, { sleep: recordingSleep().sleep });

const both = () => notifier({ slack: slack.url, cloudevents: ce.url });

const pass = (minutes: number, options: { reader?: MetricsReader; notify?: ReturnType<typeof notifier> } = {}) =>
  runStep({ clients, reader: options.reader ?? healthyReader, now: at(minutes), notifier: options.notify ?? both() });

const cloudEvents = (receiver: Receiver = ce) => cloudEventsOf(receiver);
const types = (receiver: Receiver = ce) => cloudEvents(receiver).map((event) => event.type);
const slackTexts = (receiver: Receiver = slack) => slackTextsOf(receiver);

const failingReader: MetricsReader = {
  async query(promql) {
    if (promql.includes("_bucket")) return [100];
    if (promql.includes("response_code=~")) return [40];
    return [100];
  },
};
const silentReader: MetricsReader = { query: async () => [] };

const vs = () =>
  api.get("networking.istio.io/v1", "VirtualService", NAMESPACE, "myapp") as JsonObject & {
    spec: { http: { match?: unknown; route: { weight: number }[] }[] };
  };

describe("canary notifications from runStep", () => {
  it("a promotion arrives once on each channel; the steps before it and the passes after it send nothing", async () => {
    for (const minutes of [0, 0.1, 0.5, 1.2]) await pass(minutes);
    expect(ce.received).toHaveLength(0);
    const promoted = await pass(2.3);
    expect(promoted.canaries[0]).toMatchObject({ outcome: "written", phase: "Promoted" });
    expect(promoted.notifications).toMatchObject({ sent: 2, failed: 0, dropped: 0 });
    for (const minutes of [3, 10]) expect((await pass(minutes)).notifications?.sent).toBe(0);
    expect(types()).toEqual(["dev.greenlight.canary.promoted"]);
    const [event] = cloudEvents();
    const uid = (api.get("apps/v1", "Deployment", NAMESPACE, "myapp-v2") as { metadata: { uid: string } }).metadata.uid;
    expect(event).toMatchObject({
      source: `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/myapp-v2`,
      subject: `${NAMESPACE}/myapp-v2`,
      time: at(2.3).toISOString(),
    });
    expect(event?.data).toMatchObject({ version: "v2.0", phase: "Promoted", weights: { stable: 0, canary: 100 } });
    expect(event?.id).toMatch(/^canary\.promoted-[0-9a-f]{32}$/);
    expect(uid).toBeTruthy();
    expect(slackTexts()).toEqual([
      expect.stringMatching(/^canary production\/myapp-v2 promoted: v2\.0: promoted v2\.0/),
    ]);
  });

  it("a rollback arrives once", async () => {
    for (const minutes of [0, 0.1]) await pass(minutes);
    for (const minutes of [1.2, 2.3, 3.4, 5]) await pass(minutes, { reader: failingReader });
    expect(types()).toEqual(["dev.greenlight.canary.rolledback"]);
    expect(slackTexts()[0]).toMatch(/^canary production\/myapp-v2 rolled back: v2\.0: rolled back v2\.0/);
  });

  it("a pause for drift arrives once, however many passes find it still paused", async () => {
    for (const minutes of [0, 0.1]) await pass(minutes);
    const edited = vs();
    const weighted = edited.spec.http.find((route) => !route.match);
    if (weighted) weighted.route = weighted.route.map((r, i) => ({ ...r, weight: i === 0 ? 63 : 37 }));
    api.put(edited);
    expect((await pass(1.5)).canaries[0]).toMatchObject({ phase: "Paused" });
    for (const minutes of [3, 4, 5]) await pass(minutes);
    expect(types()).toEqual(["dev.greenlight.canary.paused"]);
    expect(cloudEvents()[0]?.data).toMatchObject({ cause: "drift", phase: "Paused" });
    expect(slackTexts()[0]).toMatch(/^canary production\/myapp-v2 paused \(drift\): /);
  });

  it("no data: told at the first analysis without data, not at the next ones", async () => {
    for (const minutes of [0, 0.1]) await pass(minutes);
    await pass(1.2, { reader: silentReader });
    await pass(2.3, { reader: silentReader });
    expect(types()).toEqual(["dev.greenlight.canary.paused"]);
    expect(cloudEvents()[0]?.data).toMatchObject({ cause: "no-data", phase: "Progressing" });
    expect(slackTexts()[0]).toMatch(/^canary production\/myapp-v2 held: no data: /);
  });

  it("two concurrent passes: exactly one sends, the one whose guarded write won", async () => {
    for (const minutes of [0, 0.1, 1.2]) await pass(minutes);
    api.setLatency(30);
    const [a, b] = await Promise.all([pass(2.3), pass(2.3)]);
    api.setLatency(0);
    expect([a.canaries[0]?.outcome, b.canaries[0]?.outcome].sort()).toEqual(["conflict", "written"]);
    expect(types()).toEqual(["dev.greenlight.canary.promoted"]);
    expect(slack.received).toHaveLength(1);
    expect((a.notifications?.sent ?? 0) + (b.notifications?.sent ?? 0)).toBe(2);
  });

  it("a dry run notifies nothing", async () => {
    const report = await runStep({ clients, reader: healthyReader, now: at(0), dryRun: true, notifier: both() });
    expect(report.notifications).toBeUndefined();
    expect(ce.received).toHaveLength(0);
  });
});

/** The seed's canary objects, the Deployment annotated as given. */
function seedAnnotated(annotations: Record<string, string>): void {
  api.reset();
  api.put(canaryDeployment({ annotations }));
  api.put(destinationRule());
  api.put(virtualService());
}

describe("receivers chosen by annotation", () => {
  async function promote(notify: ReturnType<typeof notifier>) {
    for (const minutes of [0, 0.1, 1.2]) await pass(minutes, { notify });
    return pass(2.3, { notify });
  }

  it("the Namespace's annotation wins over the environment's, read once for the pass", async () => {
    const other = await startReceiver();
    try {
      api.put({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: NAMESPACE, annotations: { "greenlight.dev/notify-slack": other.url } },
      });
      const report = await promote(both());
      expect(report.notifications?.sent).toBe(2);
      expect(slack.received).toHaveLength(0);
      expect(slackTexts(other)).toHaveLength(1);
      expect(types()).toEqual(["dev.greenlight.canary.promoted"]);
      expect(api.calls.filter((c) => c.resource === "namespaces" && c.verb === "get")).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it("the Deployment's wins over the Namespace's; off turns a channel off", async () => {
    seedAnnotated({ "greenlight.dev/notify-cloudevents": ce.url, "greenlight.dev/notify-slack": "off" });
    api.put({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: NAMESPACE, annotations: { "greenlight.dev/notify-cloudevents": "off" } },
    });
    const report = await promote(both());
    expect(report.notifications?.sent).toBe(1);
    expect(types()).toEqual(["dev.greenlight.canary.promoted"]);
    expect(slack.received).toHaveLength(0);
    // Both channels decided on the Deployment: its Namespace is not read at all.
    expect(api.calls.filter((c) => c.resource === "namespaces")).toHaveLength(0);
  });

  it("annotations alone, without an environment URL (GREENLIGHT_NOTIFY=on)", async () => {
    seedAnnotated({ "greenlight.dev/notify-cloudevents": ce.url });
    await promote(notifier({}));
    expect(types()).toEqual(["dev.greenlight.canary.promoted"]);
  });

  it("a Namespace the stepper may not read: the environment's receivers, and a warning saying what to grant", async () => {
    api.failNext({ verb: "get", resource: "namespaces" }, 403);
    const report = await promote(both());
    expect(report.notifications?.sent).toBe(2);
    expect(report.notifications?.warnings[0]).toMatch(/get on namespaces/);
  });

  it("namespaceReader reads each Namespace once", async () => {
    api.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: "a", annotations: { x: "1" } } });
    const read = namespaceReader(clients);
    const [first, second] = await Promise.all([read("a"), read("a")]);
    expect(first).toEqual({ annotations: { x: "1" } });
    expect(second).toBe(first);
    expect((await read("missing")).problem).toMatch(/not found/);
    expect(api.calls.filter((c) => c.resource === "namespaces")).toHaveLength(2);
  });
});

describe("receivers that fail never fail or hold up a pass", () => {
  it("down: the pass is written as usual, the deliveries are reported failed after their bounded retries", async () => {
    const down = notifier({ slack: await downUrl(), cloudevents: await downUrl() });
    for (const minutes of [0, 0.1, 1.2]) await pass(minutes, { notify: down });
    const report = await pass(2.3, { notify: down });
    expect(report.canaries[0]).toMatchObject({ outcome: "written", phase: "Promoted" });
    expect(report.error).toBeUndefined();
    expect(report.notifications).toMatchObject({ sent: 0, failed: 2, dropped: 0 });
    expect(report.notifications?.deliveries.map((d) => d.attempts)).toEqual([3, 3]);
  });

  it("500 then 200: retried, sent once", async () => {
    slack.answers.push(500);
    for (const minutes of [0, 0.1, 1.2]) await pass(minutes);
    const report = await pass(2.3);
    expect(report.notifications).toMatchObject({ sent: 2, failed: 0 });
    expect(slack.received).toHaveLength(2);
    expect(report.notifications?.deliveries.find((d) => d.channel === "slack")?.attempts).toBe(2);
  });

  it("hanging: the pass waits at most its budget, and reports the delivery dropped", async () => {
    slack.answers.push("hang");
    const hanging = notifier({ slack: slack.url, cloudevents: ce.url }, { timeoutMs: 60_000, budgetMs: 100 });
    for (const minutes of [0, 0.1, 1.2]) await pass(minutes, { notify: hanging });
    const report = await pass(2.3, { notify: hanging });
    expect(report.canaries[0]).toMatchObject({ outcome: "written", phase: "Promoted" });
    expect(report.notifications).toMatchObject({ sent: 1, dropped: 1 });
    expect(slack.hanging).toBe(1);
  });
});
