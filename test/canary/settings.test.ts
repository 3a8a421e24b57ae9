// readCanarySettings: every default, every parsed value, and every invalid value reported in the validator's words.
import { describe, expect, it } from "vitest";
import { DEFAULT_STEPS, readCanarySettings, stepsFromWeight } from "../../functions/canary/settings.ts";
import { validateAnnotations } from "../../functions/contract/validate.ts";
import { gl } from "./fixtures.ts";

const read = (entries: Record<string, string>) => readCanarySettings(gl(entries), "myapp");

/** The validator's errors for the same annotations: the stepper must say exactly the same. */
const validatorErrors = (entries: Record<string, string>) =>
  validateAnnotations(gl({ strategy: "canary", ...entries })).errors;

describe("defaults", () => {
  it("resolves every setting when nothing is annotated", () => {
    const { settings, problems } = readCanarySettings(undefined, "myapp");
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      steps: [5, 15, 25, 35, 45, 55, 65, 75, 85, 95],
      intervalSeconds: 300,
      threshold: 2,
      maxInconclusive: 3,
      maxErrorRate: 0.01,
      maxLatencyP95Ms: 500,
      maxLatencyP99Ms: 1000,
      minRequests: 10,
      router: "istio",
      route: "myapp",
      virtualService: "myapp",
      canaryService: "myapp-canary",
      checks: [],
      controls: {},
      blocking: [],
    });
    expect(settings.headerRoute).toBeUndefined();
  });

  it("returns a fresh steps list each time", () => {
    const first = read({}).settings.steps;
    first.push(100);
    expect(read({}).settings.steps).toEqual(DEFAULT_STEPS);
  });
});

describe("values", () => {
  it.each([
    [{ steps: "5,10,20,50,100" }, "steps", [5, 10, 20, 50, 100]],
    [{ "step-weight": "25" }, "steps", [25, 50, 75, 100]],
    [{ "step-weight": "30" }, "steps", [30, 60, 90, 100]],
    [{ "step-weight": "10", "max-weight": "50" }, "steps", [10, 20, 30, 40, 50]],
    [{ "step-weight": "20", "max-weight": "50" }, "steps", [20, 40, 50]],
    [{ "step-weight": "50", "max-weight": "50" }, "steps", [50]],
    [{ "max-weight": "50" }, "steps", [5, 15, 25, 35, 45, 50]],
    [{ "max-weight": "45" }, "steps", [5, 15, 25, 35, 45]],
    [{ interval: "1m30s" }, "intervalSeconds", 90],
    [{ interval: "10s" }, "intervalSeconds", 10],
    [{ threshold: "5" }, "threshold", 5],
    [{ "max-inconclusive": "1" }, "maxInconclusive", 1],
    [{ "max-error-rate": "0.5%" }, "maxErrorRate", 0.005],
    [{ "max-error-rate": "0.02" }, "maxErrorRate", 0.02],
    [{ "max-latency-p95": "1.5s" }, "maxLatencyP95Ms", 1500],
    [{ "max-latency-p99": "250" }, "maxLatencyP99Ms", 250],
    [{ "min-requests": "0" }, "minRequests", 0],
    [{ "header-route": "x-canary-test=true" }, "headerRoute", { header: "x-canary-test", value: "true" }],
    [{ "virtual-service": "checkout" }, "virtualService", "checkout"],
    [{ "virtual-service": "checkout" }, "route", "checkout"],
    [{ router: "gateway-api" }, "router", "gateway-api"],
    [{ router: "gateway-api", route: "shop", "virtual-service": "checkout" }, "route", "shop"],
    [{ router: "gateway-api", route: "shop", "virtual-service": "checkout" }, "virtualService", "shop"],
    [{ router: "gateway-api" }, "route", "myapp"],
    [{ "canary-service": "shop-next" }, "canaryService", "shop-next"],
    [{ paused: "true", promote: "false", abort: "true" }, "controls", { paused: true, promote: false, abort: true }],
  ] as const)("%j -> %s", (entries, field, value) => {
    const { settings, problems } = read(entries);
    expect(problems).toEqual([]);
    expect(settings[field]).toEqual(value);
  });

  it("stepsFromWeight appends max-weight when it is not a multiple", () => {
    expect(stepsFromWeight(40, 100)).toEqual([40, 80, 100]);
    expect(stepsFromWeight(1, 3)).toEqual([1, 2, 3]);
  });

  it("reads custom checks sorted by name", () => {
    const { settings, problems } = read({
      "check.saturation": '{"query": "max(cpu{namespace=\\"{{namespace}}\\"})", "max": 0.8}',
      "check.apdex": '{"query": "apdex", "min": 0.9}',
    });
    expect(problems).toEqual([]);
    expect(settings.checks).toEqual([
      { name: "apdex", query: "apdex", min: 0.9 },
      { name: "saturation", query: 'max(cpu{namespace="{{namespace}}"})', max: 0.8 },
    ]);
  });
});

describe("invalid values: reported like the validator, and the default used", () => {
  it.each([
    ["steps", "5,3", "steps", DEFAULT_STEPS],
    ["steps", "0,50", "steps", DEFAULT_STEPS],
    ["step-weight", "0", "steps", DEFAULT_STEPS],
    ["max-weight", "101", "steps", DEFAULT_STEPS],
    ["interval", "5 minutes", "intervalSeconds", 300],
    ["interval", "0s", "intervalSeconds", 300],
    ["threshold", "0", "threshold", 2],
    ["max-inconclusive", "many", "maxInconclusive", 3],
    ["max-error-rate", "1", "maxErrorRate", 0.01],
    ["max-latency-p95", "fast", "maxLatencyP95Ms", 500],
    ["max-latency-p99", "-1ms", "maxLatencyP99Ms", 1000],
    ["min-requests", "-1", "minRequests", 10],
    ["header-route", "X-Canary=true", "headerRoute", undefined],
    ["virtual-service", "My_VS", "virtualService", "myapp"],
    ["router", "nginx", "router", "istio"],
    ["canary-service", "Shop_Canary", "canaryService", "myapp-canary"],
  ] as const)("%s: %j", (key, raw, field, fallback) => {
    const { settings, problems } = read({ [key]: raw });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith(`greenlight.dev/${key}: ${JSON.stringify(raw)} is invalid: `)).toBe(true);
    expect(validatorErrors({ [key]: raw })).toContain(problems[0]);
    expect(settings[field]).toEqual(fallback);
    expect(settings.blocking).toEqual([]);
  });

  it("steps with step-weight: the conflict is reported and the explicit steps win", () => {
    const entries = { steps: "10,20", "step-weight": "5" };
    const { settings, problems } = read(entries);
    expect(settings.steps).toEqual([10, 20]);
    expect(problems).toEqual([validatorErrors(entries)[0]]);
  });

  it("max-weight below step-weight: reported, default steps", () => {
    const entries = { "step-weight": "50", "max-weight": "20" };
    const { settings, problems } = read(entries);
    expect(settings.steps).toEqual(DEFAULT_STEPS);
    expect(problems).toEqual(validatorErrors(entries));
  });

  it.each(["paused", "promote", "abort"] as const)("an invalid %s is a blocking problem and reads as unset", (key) => {
    const { settings, problems } = read({ [key]: "yes" });
    expect(problems).toEqual([`greenlight.dev/${key}: "yes" is invalid: accepted: "true" or "false"`]);
    expect(settings.blocking).toEqual(problems);
    expect(settings.controls[key]).toBeUndefined();
    expect(validatorErrors({ [key]: "yes" })).toEqual(problems);
  });

  it.each([
    ["check.latency", "not json"],
    ["check.latency", '{"query": "up"}'],
    ["check.latency", '{"query": "up", "max": 1, "min": 0}'],
    ["check.latency", '{"query": "up{{{pod}}}", "max": 1}'],
    ["check.Bad_Name", '{"query": "up", "max": 1}'],
  ])("an invalid custom check %s=%s is a blocking problem and is not run", (key, raw) => {
    const { settings, problems } = read({ [key]: raw });
    expect(problems).toHaveLength(1);
    expect(settings.blocking).toEqual(problems);
    expect(settings.checks).toEqual([]);
    expect(validatorErrors({ [key]: raw })).toEqual(problems);
  });

  it("keeps the valid checks next to an invalid one", () => {
    const { settings } = read({ "check.ok": '{"query": "up", "min": 1}', "check.bad": "{}" });
    expect(settings.checks.map((check) => check.name)).toEqual(["ok"]);
    expect(settings.blocking).toHaveLength(1);
  });
});
