// A user's canary policy as a simulator scenario: the schedule flags' syntax, the Deployment's settings and their
// Kubernetes defaults, and the one-line errors naming the flag or field.
import { describe, expect, it } from "vitest";
import { canaryScenario, formatOffset, parseOffset, parseSchedule, pickDeployment } from "../../scripts/sim/policy.ts";
import { healthyProfile } from "../../scripts/sim/scenario.ts";

const canary = (annotations: Record<string, string>, spec: Record<string, unknown> = {}) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "shop-v2",
    annotations: { "greenlight.dev/strategy": "canary", ...annotations },
  },
  spec,
});

const problemOf = (text: string, unit: "rate" | "latency") => {
  const parsed = parseSchedule(text, unit);
  return parsed.ok ? undefined : parsed.problem;
};

describe("parseSchedule", () => {
  it("reads error rates as percentages or fractions, each later one from its start", () => {
    expect(parseSchedule("0.5%", "rate")).toEqual({ ok: true, value: [[0, 0.005]] });
    expect(parseSchedule("0.5%,3%@12m", "rate")).toEqual({
      ok: true,
      value: [
        [0, 0.005],
        [720, 0.03],
      ],
    });
    expect(parseSchedule("0.01@0, 0.2@1m30s, 100%@1h", "rate")).toEqual({
      ok: true,
      value: [
        [0, 0.01],
        [90, 0.2],
        [3600, 1],
      ],
    });
  });

  it("reads latencies in ms or s", () => {
    expect(parseSchedule("120ms", "latency")).toEqual({ ok: true, value: [[0, 120]] });
    expect(parseSchedule("120ms,1.2s@10m,250@20m", "latency")).toEqual({
      ok: true,
      value: [
        [0, 120],
        [600, 1200],
        [1200, 250],
      ],
    });
  });

  it("names the part that is wrong and what is accepted", () => {
    expect(problemOf("3%@x", "rate")).toBe('"3%@x": "x" is not a duration (e.g. 12m, 90s)');
    expect(problemOf("0.5%,3%@x", "rate")).toBe('"3%@x": "x" is not a duration (e.g. 12m, 90s)');
    expect(problemOf("5", "rate")).toBe('"5" is not an error rate (e.g. "0.5%", "3%" or "0.02")');
    expect(problemOf("1%,150%@2m", "rate")).toBe(
      '"150%@2m": "150%" is not an error rate (e.g. "0.5%", "3%" or "0.02")',
    );
    expect(problemOf("fast", "latency")).toBe('"fast" is not a latency (e.g. "120ms" or "1.2s")');
    expect(problemOf("0ms", "latency")).toMatch(/^"0ms" is not a latency/);
  });

  it("wants a start for every later value, increasing, and none but 0 for the first", () => {
    expect(problemOf("1%,2%", "rate")).toBe('"2%": say when it starts, e.g. "2%@12m"');
    expect(problemOf("1%,2%@5m,3%@5m", "rate")).toBe('"3%@5m": starts at 5m, not after the value before it (from 5m)');
    expect(problemOf("3%@12m", "rate")).toBe(
      '"3%@12m": the first value holds from the start; say what comes before, e.g. "0.1%,3%@12m"',
    );
    expect(problemOf("", "rate")).toMatch(/^"": empty; accepted: comma-separated values/);
    expect(problemOf("1%,,2%@1m", "rate")).toMatch(/^"1%,,2%@1m": value 2 is empty; /);
  });
});

describe("offsets", () => {
  it("parses and formats start times, zero included", () => {
    expect(parseOffset("0")).toEqual({ ok: true, value: 0 });
    expect(parseOffset("0s")).toEqual({ ok: true, value: 0 });
    expect(parseOffset("1h2m3s")).toEqual({ ok: true, value: 3723 });
    expect(parseOffset("-1m").ok).toBe(false);
    expect([0, 90, 720, 3723].map(formatOffset)).toEqual(["0s", "1m30s", "12m", "1h2m3s"]);
  });
});

describe("pickDeployment", () => {
  it("takes the first canary Deployment, else the first Deployment", () => {
    const stable = { kind: "Deployment", metadata: { name: "shop-v1" } };
    const service = { kind: "Service", metadata: { name: "shop" } };
    expect(pickDeployment([service, stable, canary({})])).toMatchObject({ metadata: { name: "shop-v2" } });
    expect(pickDeployment([service, stable])).toBe(stable);
    expect(() => pickDeployment([service, null], "x.yaml")).toThrow(
      "x.yaml: no Deployment in 2 document(s): pass the canary's manifest (kind: Deployment)",
    );
  });
});

describe("canaryScenario", () => {
  it("simulates a Gateway API policy on the simulated Istio mesh: its router keys are dropped", () => {
    const { scenario, warnings } = canaryScenario({
      deployment: canary({
        "greenlight.dev/steps": "10,50",
        "greenlight.dev/router": "gateway-api",
        "greenlight.dev/route": "shop",
        "greenlight.dev/canary-service": "shop-canary",
      }),
    });
    expect(warnings).toEqual([]);
    expect(scenario.annotations).toEqual({ strategy: "canary", steps: "10,50", "virtual-service": "myapp" });
  });

  it("keeps the policy without its prefix, the simulator's VirtualService, and Kubernetes' defaults", () => {
    const { scenario, name, steps, intervalSeconds, warnings } = canaryScenario({
      deployment: canary({
        "greenlight.dev/steps": "10,50",
        "greenlight.dev/interval": "2m",
        "greenlight.dev/virtual-service": "shop-routes",
        "greenlight.dev/threshold": "1",
        "other.io/keep-out": "x",
      }),
    });
    expect(name).toBe("shop-v2");
    expect(warnings).toEqual([]);
    expect(steps).toEqual([10, 50]);
    expect(intervalSeconds).toBe(120);
    expect(scenario.annotations).toEqual({
      strategy: "canary",
      steps: "10,50",
      interval: "2m",
      threshold: "1",
      "virtual-service": "myapp",
    });
    expect(scenario).toMatchObject({
      replicas: 1,
      maxSurge: "25%",
      maxUnavailable: "25%",
      progressDeadlineSeconds: 600,
      rps: 20,
      seed: 1,
      // 2 steps x 2m, the 5 s start-up, and 5 minutes.
      minutes: 10,
      tickSeconds: 10,
      passSeconds: 60,
      stable: healthyProfile(),
      canary: healthyProfile(),
      scrape: { intervalSeconds: 15, lagSeconds: 0, missProbability: 0, outages: [] },
      concurrentStepper: false,
      actions: [],
    });
  });

  it("reads the Deployment's spec and the profile flags", () => {
    const { scenario } = canaryScenario({
      deployment: canary(
        {},
        { replicas: 3, progressDeadlineSeconds: 120, strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } },
      ),
      flags: {
        errorRate: "0.5%,3%@12m",
        latencyP50: "50ms",
        latencyP99: "120ms,2s@4m",
        rps: "2.5",
        startup: "90s",
        crashLoop: true,
        minutes: "30",
        seed: "42",
        scrapeInterval: "30s",
        scrapeLag: "10s",
      },
    });
    expect(scenario).toMatchObject({
      replicas: 3,
      maxSurge: "1",
      maxUnavailable: "0",
      progressDeadlineSeconds: 120,
      rps: 2.5,
      minutes: 30,
      seed: 42,
      scrape: { intervalSeconds: 30, lagSeconds: 10 },
      canary: {
        startupSeconds: 90,
        crashLoop: true,
        errorRate: [
          [0, 0.005],
          [720, 0.03],
        ],
        latencyP50Ms: [[0, 50]],
        latencyP99Ms: [
          [0, 120],
          [240, 2000],
        ],
      },
    });
  });

  it("runs long enough for the default steps, and no longer than 4 hours", () => {
    // 10 default steps x 5m + 5.
    expect(canaryScenario({ deployment: canary({}) }).scenario.minutes).toBe(56);
    const slow = canaryScenario({ deployment: canary({ "greenlight.dev/interval": "1h" }) });
    expect(slow.scenario.minutes).toBe(240);
  });

  it("refuses what it cannot simulate, in one line naming the flag or field", () => {
    const fails = (input: Parameters<typeof canaryScenario>[0]) => {
      try {
        canaryScenario(input);
      } catch (error) {
        expect((error as Error).name).toBe("PolicyError");
        return (error as Error).message;
      }
      throw new Error("no error");
    };
    expect(fails({ deployment: canary({}), flags: { errorRate: "3%@x" } })).toBe(
      '--error-rate "3%@x": "x" is not a duration (e.g. 12m, 90s)',
    );
    expect(fails({ deployment: canary({}), flags: { rps: "lots" } })).toMatch(/^--rps "lots": accepted: /);
    expect(fails({ deployment: canary({}), flags: { minutes: "0" } })).toBe(
      '--minutes "0": accepted: an integer from 1 to 1440',
    );
    expect(fails({ deployment: canary({}), flags: { latencyP99: "200ms,20ms@3m" } })).toBe(
      "--latency-p99 20ms is below --latency-p50 40ms from 3m on: p99 must be at least p50",
    );
    expect(fails({ deployment: canary({ "greenlight.dev/steps": "5,3" }) })).toBe(
      'shop-v2: greenlight.dev/steps: "5,3" is invalid: 3 does not increase on 5; accepted: comma-separated integers from 1 to 100, strictly increasing, e.g. "5,10,20,50,100"',
    );
    expect(fails({ deployment: { kind: "Deployment", metadata: { name: "plain" } } })).toBe(
      "plain: greenlight.dev/strategy is not set: only a canary can be simulated (set greenlight.dev/strategy: canary)",
    );
    expect(fails({ deployment: canary({}, { replicas: "two" }) })).toBe(
      'shop-v2: spec.replicas: "two" is invalid: accepted: an integer from 1 to 1000',
    );
    expect(
      fails({ deployment: canary({}, { strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: "0%" } } }) }),
    ).toBe(
      "shop-v2: spec.strategy.rollingUpdate: maxSurge and maxUnavailable are both 0: accepted: at least one above 0",
    );
  });
});
