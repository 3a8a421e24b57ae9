// The scheduled pass for blue/green Deployments: auto-promotion, holds, and no ping-pong between two colours.
import type { V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { formatBlueGreenStatus } from "../../functions/bluegreen/status.ts";
import { type BlueGreenReport, stepBlueGreen } from "../../functions/bluegreen/switch.ts";
import { templateFingerprint } from "../../functions/deployment/fingerprint.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { attachProxy, type FakeProxy } from "../../scripts/fakes/kube/fake-proxy.ts";
import {
  colorDeployment,
  controllerSleep,
  NAMESPACE,
  recordedEvents,
  rolledOut,
  seedBlueGreen,
  statusOf,
  storedService,
  writes,
} from "./objects.ts";

let api: FakeApiServer;
let proxy: FakeProxy;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  proxy = attachProxy(api);
  clients = createKubeClients(api.kubeConfig(), "bluegreen-step");
});
afterAll(() => api.close());

const AUTO = { "greenlight.dev/auto-promote": "true" };

beforeEach(() => {
  api.reset();
  seedBlueGreen(api, { green: { annotations: AUTO }, blue: { annotations: AUTO } });
  proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "ok" }));
  proxy.route(NAMESPACE, "myapp-blue", () => ({ status: 200, body: "ok" }));
});

const minute = (n: number) => new Date(Date.parse("2026-11-26T10:00:00Z") + n * 60_000);

/** The Deployment as the pass lists it (through client-node, like `listDeployments`). */
async function deployment(name: string): Promise<V1Deployment> {
  return clients.apps.readNamespacedDeployment({ namespace: NAMESPACE, name });
}

async function step(name: string, at = 0, options: { controller?: boolean; dryRun?: boolean } = {}) {
  const { sleep } = controllerSleep(api, options.controller ?? true);
  return stepBlueGreen({ clients, now: minute(at), dryRun: options.dryRun ?? false, sleep }, await deployment(name));
}

/** A new release of a colour: a new image, rolled out by the (absent) Deployment controller. */
function release(color: string, image: string, annotations: Record<string, string> = AUTO): void {
  api.put(colorDeployment(color, { image, annotations }));
  const stored = api.get("apps/v1", "Deployment", NAMESPACE, `myapp-${color}`) as { metadata: { generation: number } };
  const generation = stored.metadata.generation;
  api.put(colorDeployment(color, { image, annotations, status: rolledOut(3, generation) }));
}

const brief = (report: BlueGreenReport) => ({ outcome: report.outcome, message: report.message });

describe("stepBlueGreen", () => {
  it("promotes a ready auto-promote version once; later passes leave it, and never switch back to the old colour", async () => {
    const promoted = await step("myapp-green", 0);
    expect(promoted).toMatchObject({ outcome: "switched", from: "blue", to: "green", deployment: "myapp-green" });
    expect(storedService(api).spec.selector.version).toBe("green");
    expect(statusOf(api)).toMatchObject({ previousTemplate: expect.any(String), currentTemplate: expect.any(String) });

    expect(brief(await step("myapp-green", 1))).toEqual({ outcome: "unchanged", message: "already serving green" });
    // blue is ready and auto-promote too, but it is the exact template the Service was switched away from.
    const blue = await step("myapp-blue", 1);
    expect(blue.outcome).toBe("unchanged");
    expect(blue.message).toBe(
      `the Service left blue at ${minute(0).toISOString()} (switched to green); roll its Deployment out again or switch by hand`,
    );
    expect(storedService(api).spec.selector.version).toBe("green");

    // The next release goes to blue (the seed's alternation): now it is promoted.
    release("blue", "myapp:v3.0");
    expect((await step("myapp-blue", 2)).outcome).toBe("switched");
    expect(storedService(api).spec.selector.version).toBe("blue");
    expect(recordedEvents(api).map((event) => [event.reason, event.regarding.name])).toEqual([
      ["BlueGreenSwitched", "myapp-green"],
      ["BlueGreenSwitched", "myapp-blue"],
    ]);
  });

  it("does not retry a version whose switch was undone until it is rolled out again", async () => {
    expect((await step("myapp-green", 0, { controller: false })).outcome).toBe("switched-back");
    const retry = await step("myapp-green", 1);
    expect(retry.outcome).toBe("unchanged");
    expect(retry.message).toMatch(/^the Service left green at .* \(its endpoints failed verification, switched back\)/);
    release("green", "myapp:v2.1");
    expect((await step("myapp-green", 2)).outcome).toBe("switched");
  });

  it("records a failing smoke check's Event once per pod template, reports the failure every pass, then switches", async () => {
    proxy.route(NAMESPACE, "myapp-green", () => ({ status: 500, body: "database unreachable" }));
    const smokeEvents = () => recordedEvents(api).filter((event) => event.reason === "BlueGreenSmokeFailed");
    const passes = [];
    for (const at of [0, 1, 2]) passes.push(await step("myapp-green", at));
    for (const pass of passes) {
      expect(brief(pass)).toEqual({
        outcome: "failed",
        message:
          "smoke check of version green failed 5 times (GET myapp-green:80/health, last: HTTP 500: database unreachable); Service production/myapp still selects version blue",
      });
    }
    expect(passes.map((pass) => pass.events.length)).toEqual([1, 0, 0]);
    expect(smokeEvents().map((event) => event.regarding.name)).toEqual(["myapp-green"]);
    // The record is the status annotation alone: the selector never moved, and later passes wrote nothing.
    const first = await deployment("myapp-green");
    const fingerprint = templateFingerprint(first.spec?.template);
    expect(statusOf(api)).toEqual({
      strategy: "blue-green",
      smokeFailures: [{ version: "green", template: fingerprint, failedAt: minute(0).toISOString() }],
    });
    expect(storedService(api).spec.selector.version).toBe("blue");
    expect(writes(api).filter((call) => call.resource === "services")).toHaveLength(1);

    // A new rollout of green (a new template) that fails too is a new revision: one new Event, then quiet again.
    release("green", "myapp:v2.1");
    expect((await step("myapp-green", 3)).events.map((event) => event.reason)).toEqual(["BlueGreenSmokeFailed"]);
    expect((await step("myapp-green", 4)).events).toEqual([]);
    expect(smokeEvents()).toHaveLength(2);
    expect((statusOf(api).smokeFailures as { template: string }[]).map((failure) => failure.template)).not.toContain(
      fingerprint,
    );

    // Fixed: the next pass switches, and the switch's status no longer carries green's failure.
    proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "ok" }));
    expect((await step("myapp-green", 5)).outcome).toBe("switched");
    expect(storedService(api).spec.selector.version).toBe("green");
    expect(statusOf(api)).toMatchObject({ phase: "Switched", previous: "blue", current: "green" });
    expect(statusOf(api).smokeFailures).toBeUndefined();
    expect(recordedEvents(api).map((event) => event.reason)).toEqual([
      "BlueGreenSmokeFailed",
      "BlueGreenSmokeFailed",
      "BlueGreenSwitched",
    ]);
  });

  it("records no smoke Event when another writer changed the status first, and one on a later pass", async () => {
    const red = { version: "red", template: "cccccccccccccccc", failedAt: minute(0).toISOString() };
    let meanwhile = true;
    proxy.route(NAMESPACE, "myapp-green", () => {
      // Another pass records red's failed smoke check while this one checks green.
      if (meanwhile) {
        const service = storedService(api);
        const annotations = { "greenlight.dev/status": formatBlueGreenStatus(undefined, [red]) };
        api.put({ ...service, metadata: { ...service.metadata, annotations } });
        meanwhile = false;
      }
      return { status: 500, body: "down" };
    });
    const raced = await step("myapp-green", 0);
    expect(raced.outcome).toBe("failed");
    expect(raced.events).toEqual([]);
    expect(raced.warnings.at(-1)).toMatch(
      /^the failed smoke check of green is not recorded in greenlight.dev\/status of Service production\/myapp: another writer changed the Service first \(patching Service production\/myapp: .*\); its BlueGreenSmokeFailed Event waits for the next pass$/,
    );
    const later = await step("myapp-green", 1);
    expect(later.events.map((event) => event.reason)).toEqual(["BlueGreenSmokeFailed"]);
    expect((statusOf(api).smokeFailures as { version: string }[]).map((failure) => failure.version)).toEqual([
      "red",
      "green",
    ]);
  });

  it("waits for a version that is still rolling out, and fails one past its progress deadline", async () => {
    api.put(colorDeployment("green", { annotations: AUTO, status: { readyReplicas: 1, availableReplicas: 1 } }));
    const waiting = await step("myapp-green");
    expect(waiting.outcome).toBe("waiting");
    expect(waiting.message).toContain("not fully rolled out: 1 of 3 ready, 1 of 3 available");
    api.put(
      colorDeployment("green", {
        annotations: AUTO,
        status: { conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }] },
      }),
    );
    expect((await step("myapp-green")).outcome).toBe("failed");
    expect(writes(api)).toHaveLength(0);
    expect(proxy.requests).toHaveLength(0);
  });

  it("holds when paused or without auto-promote, before any API call", async () => {
    api.put(colorDeployment("green", { annotations: { ...AUTO, "greenlight.dev/paused": "true" } }));
    const paused = await step("myapp-green");
    expect(brief(paused)).toEqual({ outcome: "unchanged", message: 'paused (greenlight.dev/paused: "true")' });
    api.put(colorDeployment("green"));
    const manual = await step("myapp-green");
    expect(brief(manual)).toEqual({
      outcome: "unchanged",
      message:
        'greenlight.dev/auto-promote is not "true": switch by hand with greenlight bluegreen switch myapp --to green -n production',
    });
    const calls = api.calls.filter((call) => call.resource !== "deployments");
    expect(calls).toHaveLength(0);
  });

  it("reports a misconfigured Deployment instead of guessing", async () => {
    const noService = colorDeployment("green", { annotations: AUTO }) as {
      metadata: { annotations: Record<string, string> };
    };
    delete noService.metadata.annotations["greenlight.dev/service"];
    api.put(noService);
    expect(brief(await step("myapp-green"))).toEqual({
      outcome: "failed",
      message: "greenlight.dev/service is required with greenlight.dev/strategy: blue-green (the Service to switch)",
    });
    api.put(colorDeployment("green", { annotations: { ...AUTO, "greenlight.dev/service": "My_Service" } }));
    expect((await step("myapp-green")).message).toMatch(
      /^greenlight.dev\/service: "My_Service" is invalid: accepted: a Service name/,
    );
    api.put(colorDeployment("green", { annotations: { ...AUTO, "greenlight.dev/service": "shop" } }));
    expect(brief(await step("myapp-green"))).toEqual({
      outcome: "failed",
      message: "Service production/shop not found",
    });
  });

  it("dry-run: the pass says what it would write, and writes nothing", async () => {
    const before = api.resourceVersion();
    const report = await step("myapp-green", 0, { dryRun: true });
    expect(report).toMatchObject({ outcome: "dry-run", message: "would switch production/myapp from blue to green" });
    expect(api.resourceVersion()).toBe(before);
  });
});
