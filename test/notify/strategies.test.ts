// Blue/green switches and switch backs, and rolling undos, notify from the strategy that wrote them, once.
import type { V1Deployment } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stepBlueGreen } from "../../functions/bluegreen/switch.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { createNotifier, DEFAULT_NOTIFIER_SETTINGS } from "../../functions/notify/notifier.ts";
import { guardRollout, isRolling } from "../../functions/rolling/guard.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { attachProxy, type FakeProxy } from "../../scripts/fakes/kube/fake-proxy.ts";
import { controllerSleep, NAMESPACE, seedBlueGreen } from "../bluegreen/objects.ts";
import { seedRollout } from "../rolling/objects.ts";
import { cloudEventsOf, type Receiver, recordingSleep, slackTextsOf, startReceiver } from "./receiver.ts";

let api: FakeApiServer;
let proxy: FakeProxy;
let clients: KubeClients;
let slack: Receiver;
let ce: Receiver;

beforeAll(async () => {
  api = await startFakeApiServer();
  proxy = attachProxy(api);
  clients = createKubeClients(api.kubeConfig(), "notify-strategies");
});
afterAll(() => api.close());
beforeEach(async () => {
  api.reset();
  slack = await startReceiver();
  ce = await startReceiver();
});
afterEach(async () => {
  await Promise.all([slack.close(), ce.close()]);
});

const batch = () =>
  createNotifier(
    { ...DEFAULT_NOTIFIER_SETTINGS, defaults: { slack: slack.url, cloudevents: ce.url } },
    { sleep: recordingSleep().sleep },
  ).batch();
const now = new Date("2026-12-07T10:00:00Z");
const cloudEvents = () => cloudEventsOf(ce);
const slackTexts = () => slackTextsOf(slack);

describe("blue/green", () => {
  const AUTO = { "greenlight.dev/auto-promote": "true" };
  beforeEach(() => {
    seedBlueGreen(api, { green: { annotations: AUTO }, blue: { annotations: AUTO } });
    proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "ok" }));
    proxy.route(NAMESPACE, "myapp-blue", () => ({ status: 200, body: "ok" }));
  });
  const green = (): Promise<V1Deployment> =>
    clients.apps.readNamespacedDeployment({ namespace: NAMESPACE, name: "myapp-green" });

  it("a verified switch is told once; the passes after it tell nothing", async () => {
    const notify = batch();
    const { sleep } = controllerSleep(api, true);
    const report = await stepBlueGreen({ clients, now, dryRun: false, sleep, notify }, await green());
    expect(report.outcome).toBe("switched");
    await stepBlueGreen({ clients, now, dryRun: false, sleep, notify }, await green());
    expect(await notify.settle()).toMatchObject({ sent: 2, failed: 0 });
    expect(cloudEvents().map((e) => e.type)).toEqual(["dev.greenlight.bluegreen.switched"]);
    expect(cloudEvents()[0]).toMatchObject({
      source: `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/myapp-green`,
      subject: `${NAMESPACE}/myapp`,
    });
    expect(cloudEvents()[0]?.data).toMatchObject({ service: "myapp", from: "blue", to: "green" });
    expect(slackTexts()).toEqual([expect.stringMatching(/^blue\/green production\/myapp switched: blue → green: /)]);
  });

  it("a switch whose endpoints do not follow: the switch and the switch back are both told", async () => {
    const notify = batch();
    const { sleep } = controllerSleep(api, false);
    const report = await stepBlueGreen({ clients, now, dryRun: false, sleep, notify }, await green());
    expect(report.outcome).toBe("switched-back");
    await notify.settle();
    expect(cloudEvents().map((e) => e.type)).toEqual([
      "dev.greenlight.bluegreen.switched",
      "dev.greenlight.bluegreen.switchedback",
    ]);
    expect(cloudEvents()[1]?.data).toMatchObject({ from: "green", to: "blue" });
    expect(new Set(cloudEvents().map((e) => e.id)).size).toBe(2);
  });
});

describe("rolling", () => {
  it("an undo is told once, however many passes follow", async () => {
    seedRollout(api, { counts: { updated: 1, ready: 3, available: 3, total: 4 }, condition: "deadline" });
    const notify = batch();
    for (const minutes of [0, 1, 2]) {
      const [found] = (await clients.apps.listNamespacedDeployment({ namespace: NAMESPACE })).items.filter(isRolling);
      if (!found) throw new Error("no rolling Deployment");
      await guardRollout({ clients, now: new Date(now.getTime() + minutes * 60_000), dryRun: false, notify }, found);
    }
    expect(await notify.settle()).toMatchObject({ sent: 2 });
    expect(cloudEvents().map((e) => e.type)).toEqual(["dev.greenlight.rolling.undone"]);
    expect(cloudEvents()[0]?.data).toMatchObject({ deployment: "myapp", from: "revision 2", to: "revision 1" });
    expect(slackTexts()[0]).toMatch(/^rolling update production\/myapp undone: revision 2 → 1: /);
  });
});
