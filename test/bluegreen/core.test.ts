// The pure core of blue/green: readiness, the status annotation, the per-version Service rule, the patch, endpoints.
import jsonPatch from "fast-json-patch";
import { describe, expect, it } from "vitest";
import {
  autoPromotion,
  backoffDelays,
  findVersionService,
  judgeEndpoints,
  selectorMismatch,
  switchPatch,
} from "../../functions/bluegreen/decide.ts";
import { type BlueGreenStatus, formatBlueGreenStatus, parseBlueGreenStatus } from "../../functions/bluegreen/status.ts";
import { templateFingerprint } from "../../functions/deployment/fingerprint.ts";
import { assessRollout, type RolloutView } from "../../functions/deployment/readiness.ts";

const rollout = (status: NonNullable<RolloutView["status"]>, replicas = 3, generation = 2): RolloutView => ({
  metadata: { generation },
  spec: { replicas },
  status: { observedGeneration: generation, ...status },
});

const complete = { replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 };

describe("assessRollout", () => {
  it("is ready only when updated = ready = available = desired and no old pods are left", () => {
    expect(assessRollout(rollout(complete))).toMatchObject({
      ready: true,
      failed: false,
      message: "3 of 3 replicas updated, ready and available",
    });
    expect(assessRollout(rollout({ ...complete, updatedReplicas: 2, readyReplicas: 1 })).message).toBe(
      "not fully rolled out: 2 of 3 updated, 1 of 3 ready, 1 old replica still running",
    );
    expect(assessRollout(rollout({ ...complete, replicas: 5 })).message).toBe(
      "not fully rolled out: 2 old replicas still running",
    );
    expect(assessRollout(rollout({})).message).toBe(
      "not fully rolled out: 0 of 3 updated, 0 of 3 ready, 0 of 3 available",
    );
  });

  it("defaults spec.replicas to 1 and refuses a Deployment scaled to 0", () => {
    const one = { replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 };
    expect(assessRollout({ status: one }).ready).toBe(true);
    expect(assessRollout(rollout({}, 0))).toMatchObject({
      ready: false,
      message: "scaled to 0 replicas: there is nothing to switch traffic to",
    });
  });

  it("does not trust counts of a generation the controller has not observed", () => {
    const stale = {
      metadata: { generation: 3 },
      spec: { replicas: 3 },
      status: { observedGeneration: 2, ...complete },
    };
    expect(assessRollout(stale)).toMatchObject({
      ready: false,
      failed: false,
      message: "the Deployment controller has not observed generation 3 yet (observed: 2)",
    });
  });

  it("fails a rollout past its progress deadline, whatever the counts say", () => {
    const conditions = [
      { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: "timed out" },
    ];
    expect(assessRollout(rollout({ ...complete, conditions }))).toMatchObject({
      ready: false,
      failed: true,
      message: "the rollout exceeded its progress deadline (ProgressDeadlineExceeded: timed out)",
    });
  });
});

const status: BlueGreenStatus = {
  strategy: "blue-green",
  phase: "Switched",
  previous: "blue",
  current: "green",
  switchedAt: "2026-11-26T10:00:00.000Z",
  message: "switched from blue to green",
  previousTemplate: "aaaaaaaaaaaaaaaa",
  currentTemplate: "bbbbbbbbbbbbbbbb",
};

describe("the status annotation", () => {
  it("reads back what it writes, as the same text", () => {
    const text = formatBlueGreenStatus(status);
    expect(parseBlueGreenStatus(text)).toEqual({ status });
    expect(formatBlueGreenStatus(parseBlueGreenStatus(text).status as BlueGreenStatus)).toBe(text);
    const bare = { ...status, previousTemplate: undefined, currentTemplate: undefined };
    expect(formatBlueGreenStatus(bare)).not.toContain("Template");
  });

  it("holds the failed smoke checks' templates, with or without a switch recorded", () => {
    const failures = [{ version: "green", template: "cccccccccccccccc", failedAt: "2026-11-26T10:05:00.000Z" }];
    const alone = formatBlueGreenStatus(undefined, failures);
    expect(JSON.parse(alone)).toEqual({ strategy: "blue-green", smokeFailures: failures });
    expect(parseBlueGreenStatus(alone)).toEqual({ smokeFailures: failures });
    const both = formatBlueGreenStatus(status, failures);
    expect(parseBlueGreenStatus(both)).toEqual({ status, smokeFailures: failures });
    expect(formatBlueGreenStatus(status, parseBlueGreenStatus(both).smokeFailures)).toBe(both);
    expect(formatBlueGreenStatus(status, [])).toBe(formatBlueGreenStatus(status));
    const broken = (smokeFailures: unknown) =>
      parseBlueGreenStatus(JSON.stringify({ ...status, smokeFailures })).problem;
    expect(broken({})).toBe("greenlight.dev/status is corrupt: smokeFailures must be a list");
    expect(broken([{ version: "green", template: "" }])).toBe(
      "greenlight.dev/status is corrupt: smokeFailures[0].template must be a non-empty string",
    );
    expect(parseBlueGreenStatus('{"strategy":"blue-green"}').problem).toBe(
      "greenlight.dev/status is corrupt: phase must be one of Switched, SwitchedBack, RolledBack",
    );
  });

  it("reports a corrupt or foreign annotation with the field at fault, never throws", () => {
    expect(parseBlueGreenStatus(undefined)).toEqual({});
    expect(parseBlueGreenStatus("[")).toEqual({ problem: "greenlight.dev/status is not JSON" });
    expect(parseBlueGreenStatus('{"version":1,"phase":"Progressing"}').problem).toBe(
      'greenlight.dev/status records strategy undefined, not "blue-green"',
    );
    const broken = (patch: object) => parseBlueGreenStatus(JSON.stringify({ ...status, ...patch })).problem;
    expect(broken({ phase: "Done" })).toBe(
      "greenlight.dev/status is corrupt: phase must be one of Switched, SwitchedBack, RolledBack",
    );
    expect(broken({ previous: "" })).toBe("greenlight.dev/status is corrupt: previous must be a non-empty string");
    expect(broken({ switchedAt: "yesterday" })).toBe(
      "greenlight.dev/status is corrupt: switchedAt must be an ISO 8601 time",
    );
    expect(broken({ currentTemplate: 7 })).toBe(
      "greenlight.dev/status is corrupt: currentTemplate must be a non-empty string",
    );
  });
});

const service = (name: string, selector?: Record<string, string>) => ({
  metadata: { name },
  spec: { ...(selector ? { selector } : {}), ports: [{ port: 80 }] },
});

describe("findVersionService", () => {
  const target = {
    main: "myapp",
    labels: { app: "myapp", version: "green", tier: "web" },
    version: "green",
    deployment: "production/myapp-green",
  };

  it("picks the one Service besides the main one that selects this version's pods only", () => {
    const services = [
      service("myapp", { app: "myapp", version: "green" }),
      service("myapp-all", { app: "myapp" }),
      service("myapp-blue", { app: "myapp", version: "blue" }),
      service("myapp-green", { app: "myapp", version: "green" }),
      service("other", { app: "other", version: "green" }),
      service("headless"),
    ];
    expect(findVersionService(services, target)).toEqual({ service: services[3] });
  });

  it("names the problem when there is none or several", () => {
    const none = findVersionService([service("myapp", { version: "green" })], target);
    expect("problem" in none && none.problem).toMatch(
      /^no Service besides myapp selects version green of production\/myapp-green/,
    );
    const several = findVersionService(
      [service("myapp-green", { version: "green" }), service("green", { app: "myapp", version: "green" })],
      target,
    );
    expect("problem" in several && several.problem).toMatch(
      /^several Services select version green .* \(myapp-green, green\)/,
    );
  });
});

describe("switchPatch", () => {
  const main = {
    metadata: { name: "myapp", annotations: { owner: "team" } },
    spec: { selector: { app: "myapp", version: "blue" } },
  };

  it("applies to the Service it was made from, and fails its test on any other version", () => {
    const patch = switchPatch({ service: main, from: "blue", to: "green", status: "{}" });
    const applied = jsonPatch.applyPatch(structuredClone(main), patch, true, false).newDocument;
    expect(applied.spec.selector).toEqual({ app: "myapp", version: "green" });
    expect(applied.metadata.annotations).toEqual({ owner: "team", "greenlight.dev/status": "{}" });
    const moved = { ...main, spec: { selector: { app: "myapp", version: "red" } } };
    expect(() => jsonPatch.applyPatch(structuredClone(moved), patch, true, false)).toThrow(/Test operation failed/);
  });

  it("creates the annotations map when the Service has none, and guards on the prior status when given", () => {
    const bare = { metadata: { name: "myapp" }, spec: { selector: { version: "blue" } } };
    const patch = switchPatch({ service: bare, from: "blue", to: "green", status: "{}", priorStatus: "old" });
    expect(patch).toEqual([
      { op: "test", path: "/spec/selector/version", value: "blue" },
      { op: "test", path: "/metadata/annotations/greenlight.dev~1status", value: "old" },
      { op: "replace", path: "/spec/selector/version", value: "green" },
      { op: "add", path: "/metadata/annotations", value: { "greenlight.dev/status": "{}" } },
    ]);
  });

  it("refuses up front a switch whose selector would match none of the pods", () => {
    expect(selectorMismatch(main, { app: "myapp", version: "green" }, "green")).toBeUndefined();
    expect(selectorMismatch(main, { name: "myapp", version: "green" }, "green")).toBe(
      "with version=green the selector of Service myapp (app=myapp,version=green) would not select its pods (pod template lacks app=myapp)",
    );
  });
});

describe("judgeEndpoints", () => {
  const pods = new Map<string, string | undefined>([
    ["g-0", "green"],
    ["g-1", "green"],
    ["b-0", "blue"],
    ["x-0", undefined],
  ]);
  const at = (name: string, ready?: boolean) => ({
    addresses: [`10.0.0.${name.length}`],
    ...(ready === undefined ? {} : { conditions: { ready } }),
    targetRef: { kind: "Pod", name },
  });
  const slice = (...endpoints: object[]) => ({ endpoints });

  it("passes only when every endpoint is a pod of the version and one is ready (ready absent means ready)", () => {
    expect(judgeEndpoints([slice(at("g-0", true), at("g-1"))], pods, "green")).toEqual({
      ok: true,
      ready: 2,
      detail: "2 ready endpoints, all version green",
    });
    expect(judgeEndpoints([slice(at("g-0"), at("b-0", false))], pods, "green")).toMatchObject({
      ok: false,
      detail: "1 of 2 endpoints are not pods of version green: b-0 (version blue)",
    });
    expect(judgeEndpoints([slice(at("g-0", false))], pods, "green")).toMatchObject({
      ok: false,
      detail: "no ready endpoint (1 not ready)",
    });
    expect(judgeEndpoints([slice()], pods, "green")).toMatchObject({ ok: false, detail: "no endpoints" });
    expect(judgeEndpoints([], pods, "green").ok).toBe(false);
  });

  it("reads every slice and counts a pod listed in several once, ready when any slice says so", () => {
    const slices = [slice(at("g-0", false), at("g-1")), slice(at("g-0", true)), slice(at("g-1"))];
    expect(judgeEndpoints(slices, pods, "green")).toEqual({
      ok: true,
      ready: 2,
      detail: "2 ready endpoints, all version green",
    });
    expect(judgeEndpoints([slice(at("g-0")), slice(at("b-0"))], pods, "green").detail).toBe(
      "1 of 2 endpoints are not pods of version green: b-0 (version blue)",
    );
  });

  it("counts endpoints it cannot attribute to a pod of the version as foreign", () => {
    const endpoints = [at("g-0"), { addresses: ["192.168.0.9"] }, at("gone"), at("x-0")];
    expect(judgeEndpoints([slice(...endpoints)], pods, "green").detail).toBe(
      "3 of 4 endpoints are not pods of version green: 192.168.0.9 (not a Pod), gone (no such pod), x-0 (version unlabelled)",
    );
  });
});

describe("autoPromotion, backoff and fingerprints", () => {
  it("holds a served version and the exact template the Service left; promotes anything else", () => {
    expect(autoPromotion({ version: "green", served: "green", fingerprint: "x" })).toEqual({
      promote: false,
      message: "already serving green",
    });
    expect(autoPromotion({ version: "blue", served: "green", fingerprint: "aaaaaaaaaaaaaaaa", status })).toEqual({
      promote: false,
      message:
        "the Service left blue at 2026-11-26T10:00:00.000Z (switched to green); roll its Deployment out again or switch by hand",
    });
    expect(autoPromotion({ version: "blue", served: "green", fingerprint: "cccccccccccccccc", status })).toEqual({
      promote: true,
    });
    expect(autoPromotion({ version: "red", served: "green", fingerprint: "aaaaaaaaaaaaaaaa", status }).promote).toBe(
      true,
    );
  });

  it("doubles the waits between attempts", () => {
    expect(backoffDelays(5, 1000)).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffDelays(1, 1000)).toEqual([]);
    expect(backoffDelays(0, 1000)).toEqual([]);
  });

  it("fingerprints templates by content, not key order", () => {
    const a = {
      metadata: { labels: { app: "x", version: "v1" } },
      spec: { containers: [{ name: "c", image: "x:1" }] },
    };
    const b = {
      spec: { containers: [{ image: "x:1", name: "c" }] },
      metadata: { labels: { version: "v1", app: "x" } },
    };
    expect(templateFingerprint(a)).toBe(templateFingerprint(b));
    expect(templateFingerprint(a)).toMatch(/^[0-9a-f]{16}$/);
    const c = structuredClone(a);
    if (c.spec.containers[0]) c.spec.containers[0].image = "x:2";
    expect(templateFingerprint(c)).not.toBe(templateFingerprint(a));
  });
});
