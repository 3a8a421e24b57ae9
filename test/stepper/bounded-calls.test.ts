// Invariant 9 through the real client-node: a pass ends in time when the API server hangs, and a 429 is retried
// after its Retry-After when that fits before the pass must end.
import { ApiException } from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { boundedCall, retryAfterMs } from "../../functions/kube/calls.ts";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { systemClock } from "../../functions/kube/clock.ts";
import { runStep } from "../../functions/stepper/run.ts";
import { healthyReader, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";

let api: FakeApiServer;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  clients = createKubeClients(api.kubeConfig(), "bounded");
});
afterAll(() => api.close());
beforeEach(() => {
  api.reset();
  seedCanary(api);
});

describe("invariant 9: a pass ends before its deadline even when API calls hang", () => {
  it("cuts a hung VirtualService list off at the per-call timeout and reports it on the canary", async () => {
    api.failNext({ resource: "virtualservices", verb: "list" }, "timeout");
    const started = Date.now();
    const report = await runStep({ clients, reader: healthyReader, callTimeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(report.canaries[0]).toMatchObject({ outcome: "error" });
    expect(report.canaries[0]?.problem).toMatch(/no answer within 300 ms/);
  });

  it("cuts every call off at the pass's end, even with a long per-call timeout", async () => {
    api.failNext({ resource: "deployments", verb: "list" }, "timeout");
    const started = Date.now();
    const report = await runStep({
      clients,
      reader: healthyReader,
      callTimeoutMs: 60_000,
      endBy: new Date(Date.now() + 400),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(report.error).toMatch(/listing Deployments: no answer before the pass had to end/);
  });

  it("aborts the hung request itself, so no socket is left waiting", async () => {
    api.failNext({ resource: "deployments", verb: "list" }, "timeout");
    await runStep({ clients, reader: healthyReader, callTimeoutMs: 200 });
    // The next pass goes through on a fresh connection and writes as usual.
    const report = await runStep({ clients, reader: healthyReader });
    expect(report.canaries[0]).toMatchObject({ outcome: "written", phase: "Waiting" });
  });
});

describe("429 Too Many Requests", () => {
  it("is retried after Retry-After within the pass, and the step is written", async () => {
    api.failNext({ resource: "virtualservices", verb: "patch" }, 429);
    const report = await runStep({ clients, reader: healthyReader });
    expect(report.canaries[0]).toMatchObject({ outcome: "written", phase: "Waiting" });
    const patches = api.calls.filter((call) => call.resource === "virtualservices" && call.verb === "patch");
    expect(patches).toHaveLength(2);
  });

  it("is not retried when Retry-After would run past the pass's end", async () => {
    api.failNext({ resource: "virtualservices", verb: "patch" }, 429);
    const report = await runStep({ clients, reader: healthyReader, endBy: new Date(Date.now() + 500) });
    expect(report.canaries[0]).toMatchObject({ outcome: "error" });
    expect(report.canaries[0]?.problem).toMatch(/Too many requests/);
  });

  it("reads Retry-After as seconds or as an HTTP date, 1 s when absent", () => {
    const now = Date.parse("2026-12-07T10:00:00Z");
    const throttled = (headers: Record<string, string>) => new ApiException(429, "Too Many Requests", "{}", headers);
    expect(retryAfterMs(throttled({ "retry-after": "3" }), now)).toBe(3000);
    expect(retryAfterMs(throttled({ "retry-after": "Mon, 07 Dec 2026 10:00:05 GMT" }), now)).toBe(5000);
    expect(retryAfterMs(throttled({}), now)).toBe(1000);
    expect(retryAfterMs(new ApiException(500, "x", "{}", {}), now)).toBeUndefined();
  });

  it("gives up after two retries", async () => {
    let calls = 0;
    const always429 = () => {
      calls++;
      return Promise.reject(new ApiException(429, "Too Many Requests", "{}", { "retry-after": "0" }));
    };
    await expect(boundedCall({ clock: systemClock, timeoutMs: 1000 }, "test", always429)).rejects.toBeInstanceOf(
      ApiException,
    );
    expect(calls).toBe(3);
  });
});
