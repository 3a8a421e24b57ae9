// The Prometheus adapter against the run's real Prometheus (Debian) scraping the Istio-style test exporter.
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  analyse,
  builtinQueries,
  type CheckResult,
  type CheckTarget,
  type MetricsError,
} from "../../functions/canary/checks.ts";
import {
  createPrometheusReader,
  DEFAULT_PROMETHEUS_URL,
  prometheusUrlFromEnv,
  toMetricsError,
} from "../../functions/canary/prometheus.ts";
import { readCanarySettings } from "../../functions/canary/settings.ts";
import { exporterControl, type Workload } from "../../scripts/services/istio-exporter.ts";
import {
  freePort,
  type RunningPrometheus,
  startPrometheus,
  waitForSamples,
} from "../../scripts/services/prometheus.ts";
import { gl } from "./fixtures.ts";

const prometheusUrl = inject("prometheusUrl");
const exporterUrl = inject("exporterUrl");
const exporter = exporterControl(exporterUrl);
const reader = createPrometheusReader({ url: prometheusUrl });

// This file's own namespace on the shared exporter; a 10 s window keeps the wait for data short.
const namespace = "adapter-test";
const settings = readCanarySettings(gl({ interval: "10s", "min-requests": "10" }), "myapp").settings;

const workload = (deployment: string, traffic: Pick<Workload, "rps" | "errorRate" | "latencyMs">): Workload => ({
  namespace,
  deployment,
  version: deployment.endsWith("-v1") ? "v1.0" : "v2.0",
  service: "myapp",
  ...traffic,
});
const targetOf = (deployment: string): CheckTarget => ({
  namespace,
  deployment,
  version: "v2.0",
  service: "myapp",
});

const stable = workload("myapp-v1", { rps: 80, errorRate: 0.5, latencyMs: 3000 });
const healthy = workload("myapp-v2", { rps: 40, errorRate: 0.004, latencyMs: 120 });
const failing = workload("broken-v2", { rps: 40, errorRate: 0.2, latencyMs: 80 });
const idle = workload("idle-v2", { rps: 0, errorRate: 0, latencyMs: 100 });
const absent = targetOf("ghost-v2");

const queriesFor = (deployment: string) =>
  Object.fromEntries(builtinQueries(targetOf(deployment), settings).map((check) => [check.name, check.query]));

const numbers = (answer: number[] | MetricsError): number[] => {
  if (!Array.isArray(answer)) throw new Error(`expected numbers, got ${answer.kind}: ${answer.message}`);
  return answer;
};
const failure = (answer: number[] | MetricsError): MetricsError => {
  if (Array.isArray(answer)) throw new Error(`expected an error, got [${answer.join(", ")}]`);
  return answer;
};
const byName = (results: CheckResult[]) => Object.fromEntries(results.map((result) => [result.name, result]));

beforeAll(async () => {
  for (const each of [stable, healthy, failing, idle]) await exporter.set(each);
  // Data is there once every traffic workload's window holds enough requests and the idle one's rate exists
  // (two samples): the first scrape lands ~6 s after Prometheus starts.
  const enough = (values: number[]) => values.length === 1 && (values[0] ?? 0) >= settings.minRequests;
  await Promise.all([
    waitForSamples(prometheusUrl, queriesFor("myapp-v2")["request-count"] ?? "", { until: enough }),
    waitForSamples(prometheusUrl, queriesFor("broken-v2")["request-count"] ?? "", { until: enough }),
    waitForSamples(prometheusUrl, queriesFor("idle-v2")["error-rate"] ?? ""),
  ]);
}, 90_000);

afterAll(async () => {
  for (const each of [stable, healthy, failing, idle]) await exporter.remove(each);
});

describe("builtin queries against real Prometheus", () => {
  it("give the configured error rate and latency of the canary workload, not the stable one's", async () => {
    const queries = queriesFor("myapp-v2");
    const [errorRate] = numbers(await reader.query(queries["error-rate"] ?? ""));
    const [p95] = numbers(await reader.query(queries["latency-p95"] ?? ""));
    const [p99] = numbers(await reader.query(queries["latency-p99"] ?? ""));
    const [count] = numbers(await reader.query(queries["request-count"] ?? ""));
    expect(errorRate).toBeCloseTo(0.004, 6);
    expect(p95).toBeCloseTo(120, 3);
    expect(p99).toBeGreaterThan(120);
    expect(p99).toBeLessThanOrEqual(250.001);
    expect(count).toBeGreaterThanOrEqual(settings.minRequests);
  });

  it("give a 20% error rate for a workload answering 20% 503s", async () => {
    const queries = queriesFor("broken-v2");
    expect(numbers(await reader.query(queries["error-rate"] ?? ""))[0]).toBeCloseTo(0.2, 6);
    expect(numbers(await reader.query(queries["latency-p95"] ?? ""))[0]).toBeCloseTo(80, 3);
  });

  it("give an empty vector for a workload without any series", async () => {
    const queries = queriesFor(absent.deployment);
    for (const name of ["error-rate", "latency-p95", "latency-p99", "request-count"]) {
      expect(numbers(await reader.query(queries[name] ?? ""))).toEqual([]);
    }
  });

  it("give NaN (kept as a number) for a workload whose series exist but see no traffic", async () => {
    const queries = queriesFor("idle-v2");
    expect(numbers(await reader.query(queries["error-rate"] ?? ""))).toEqual([Number.NaN]);
    expect(numbers(await reader.query(queries["latency-p95"] ?? ""))).toEqual([Number.NaN]);
    expect(numbers(await reader.query(queries["request-count"] ?? ""))).toEqual([0]);
  });
});

describe("analyse() with the Prometheus reader", () => {
  it("passes every check of a healthy canary", async () => {
    const results = byName(await analyse(reader, targetOf("myapp-v2"), settings));
    expect(Object.values(results).map((result) => [result.name, result.outcome])).toEqual([
      ["request-count", "pass"],
      ["error-rate", "pass"],
      ["latency-p95", "pass"],
      ["latency-p99", "pass"],
    ]);
    expect(results["error-rate"]?.value).toBeCloseTo(0.004, 6);
  });

  it("fails the error rate of a canary answering 20% 5xx", async () => {
    const results = byName(await analyse(reader, targetOf("broken-v2"), settings));
    expect(results["error-rate"]?.outcome).toBe("fail");
    expect(results["error-rate"]?.value).toBeCloseTo(0.2, 6);
    expect(results["latency-p95"]?.outcome).toBe("pass");
  });

  it("finds no data for a canary without traffic, with or without series", async () => {
    for (const deployment of ["idle-v2", absent.deployment]) {
      const results = await analyse(reader, targetOf(deployment), settings);
      expect(results.map((result) => result.outcome)).toEqual(["no-data", "no-data", "no-data", "no-data"]);
    }
  });

  it("reports a custom check's query error as an error outcome", async () => {
    const custom = readCanarySettings(
      gl({
        interval: "10s",
        "check.broken": JSON.stringify({
          query: 'rate(istio_requests_total{destination_workload="{{deployment}}"})',
          max: 1,
        }),
      }),
      "myapp",
    ).settings;
    const result = byName(await analyse(reader, targetOf("myapp-v2"), custom))["check.broken"];
    expect(result?.outcome).toBe("error");
    expect(result?.detail).toMatch(/^query error: Prometheus at http:\/\/127\.0\.0\.1:\d+ rejected the query/);
  });
});

describe("query results", () => {
  it.each([
    ["vector(2)", [2]],
    ["3", [3]],
    ["vector(1) / 0", [Number.POSITIVE_INFINITY]],
    ["-vector(1) / 0", [Number.NEGATIVE_INFINITY]],
    ["vector(0) / 0", [Number.NaN]],
    ["1 / 0", [Number.POSITIVE_INFINITY]],
    ["0 / 0", [Number.NaN]],
    ["vector(1) > 2", []],
  ])("%s -> %j", async (query, expected) => {
    const answer = await reader.query(query);
    if (!Array.isArray(answer)) expect.fail(`${answer.kind}: ${answer.message}`);
    expect(answer).toEqual(expected);
  });

  it("gives one number a series, worst-first judging left to the core", async () => {
    const values = numbers(
      await reader.query(
        `sum by (destination_workload) (rate(istio_requests_total{reporter="destination",destination_workload_namespace="${namespace}"}[10s]))`,
      ),
    );
    expect(values).toHaveLength(4);
  });
});

describe("errors as MetricsError kinds", () => {
  it("a syntax error is a query error naming the URL and the parse error", async () => {
    const error = failure(await reader.query("sum(rate("));
    expect(error.kind).toBe("query");
    expect(error.message).toBe(
      `Prometheus at ${prometheusUrl} rejected the query (bad_data: invalid parameter "query": 1:10: parse error: ` +
        "unclosed left parenthesis): fix the PromQL",
    );
  });

  it("a query that fails to evaluate is a query error", async () => {
    const selector = `istio_requests_total{destination_workload_namespace="${namespace}"}`;
    const error = failure(await reader.query(`${selector} + on() ${selector}`));
    expect(error.kind).toBe("query");
    expect(error.message).toContain("execution: ");
  });

  it("a range vector result is a query error with a hint", async () => {
    const error = failure(
      await reader.query(`istio_requests_total{destination_workload_namespace="${namespace}"}[1m]`),
    );
    expect(error).toEqual({
      kind: "query",
      message:
        `Prometheus at ${prometheusUrl} returned a matrix for an instant query: the check's PromQL must give a ` +
        "vector or a scalar (wrap a range selector in rate(), increase() or *_over_time())",
    });
  });

  it("a closed port is a network error that says what to check", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const error = failure(await createPrometheusReader({ url }).query("vector(1)"));
    expect(error).toEqual({
      kind: "network",
      message: `Prometheus at ${url} unreachable (ECONNREFUSED): check PROMETHEUS_URL and that Prometheus is running`,
    });
  });

  it("a server that never answers is a timeout", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const url = `http://127.0.0.1:${port}`;
      const error = failure(await createPrometheusReader({ url, timeoutMs: 200 }).query("vector(1)"));
      expect(error).toEqual({
        kind: "timeout",
        message: `Prometheus at ${url} did not answer within 200 ms: check its load, or raise the timeout`,
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("a server that is not Prometheus is an http error pointing at PROMETHEUS_URL", async () => {
    const other: Server = createHttpServer((_request, response) => {
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("404 page not found");
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const { port } = other.address() as { port: number };
    try {
      const url = `http://127.0.0.1:${port}/prometheus`;
      const error = failure(await createPrometheusReader({ url }).query("vector(1)"));
      expect(error.kind).toBe("http");
      expect(error.message).toBe(
        `Prometheus at ${url} answered without Prometheus's API JSON (404 page not found): check that ` +
          "PROMETHEUS_URL points at Prometheus itself (its /api/v1 must be below it)",
      );
    } finally {
      other.closeAllConnections();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  describe("a private Prometheus that stops", () => {
    let own: RunningPrometheus;

    beforeAll(async () => {
      own = await startPrometheus({ scrapeTargets: [`${exporterUrl}/metrics`] });
    });
    afterAll(async () => {
      await own?.close();
    });

    it("answers, then gives network errors while stopped, then answers again after a restart", async () => {
      const ownReader = createPrometheusReader({ url: own.url, timeoutMs: 2_000 });
      expect(await ownReader.query("vector(1)")).toEqual([1]);
      await own.stop();
      for (const query of builtinQueries(targetOf("myapp-v2"), settings)) {
        expect(failure(await ownReader.query(query.query)).kind).toBe("network");
      }
      const results = await analyse(ownReader, targetOf("myapp-v2"), settings);
      expect(results.map((result) => result.outcome)).toEqual(["error", "error", "error", "error"]);
      expect(results[0]?.detail).toMatch(/^network error: Prometheus at .* unreachable \(ECONN(REFUSED|RESET)\)/);
      await own.restart();
      expect(await ownReader.query("vector(1)")).toEqual([1]);
    });
  });
});

describe("toMetricsError (the rejection shapes prometheus-query 3.5.1 produced above)", () => {
  const url = "http://user:secret@prometheus:9090";
  it.each([
    [
      { status: "error", errorType: "network_error", error: "getaddrinfo ENOTFOUND prometheus", code: "ENOTFOUND" },
      "network",
      "Prometheus at http://user:***@prometheus:9090 unreachable (ENOTFOUND): check the host name in PROMETHEUS_URL",
    ],
    [
      { status: "error", errorType: "network_error", error: "write EPROTO ...wrong version number\n", code: "EPROTO" },
      "network",
      "Prometheus at http://user:***@prometheus:9090 unreachable (EPROTO): check http vs https in PROMETHEUS_URL",
    ],
    [
      {
        status: "error",
        errorType: "http_error",
        httpStatus: 503,
        error: "query timed out in expression evaluation",
        prometheus: { status: "error", errorType: "timeout", error: "query timed out in expression evaluation" },
      },
      "timeout",
      "Prometheus at http://user:***@prometheus:9090 timed out evaluating the query (timeout: query timed out in " +
        "expression evaluation): simplify it or raise the timeout",
    ],
    [
      {
        status: "error",
        errorType: "http_error",
        httpStatus: 503,
        error: "TSDB not ready",
        prometheus: { status: "error", errorType: "unavailable", error: "TSDB not ready" },
      },
      "http",
      "Prometheus at http://user:***@prometheus:9090 answered HTTP 503 (unavailable: TSDB not ready): check that " +
        "Prometheus is healthy",
    ],
    [
      new Error("Unexpected resultType: histogram"),
      "other",
      "Prometheus at http://user:***@prometheus:9090: Unexpected resultType: histogram",
    ],
    ["Endpoint is required", "other", "Prometheus at http://user:***@prometheus:9090: Endpoint is required"],
  ] as const)("%j -> %s", (rejection, kind, message) => {
    expect(toMetricsError(rejection, url, 10_000)).toEqual({ kind, message });
  });
});

describe("prometheusUrlFromEnv", () => {
  it("defaults to the local Prometheus and trims a trailing slash", () => {
    expect(prometheusUrlFromEnv({})).toBe(DEFAULT_PROMETHEUS_URL);
    expect(prometheusUrlFromEnv({ PROMETHEUS_URL: " " })).toBe(DEFAULT_PROMETHEUS_URL);
    expect(prometheusUrlFromEnv({ PROMETHEUS_URL: "https://metrics.example.com/prometheus/" })).toBe(
      "https://metrics.example.com/prometheus",
    );
  });

  it.each([
    ["prometheus:9090", 'PROMETHEUS_URL "prometheus:9090" must use http or https, not prometheus'],
    ["not a url", 'PROMETHEUS_URL "not a url" is not a URL: use e.g. http://prometheus.monitoring:9090'],
    ["ftp://prometheus", 'PROMETHEUS_URL "ftp://prometheus" must use http or https, not ftp'],
    [
      "http://prometheus:9090/?x=1",
      'PROMETHEUS_URL "http://prometheus:9090/?x=1" must not carry a query or fragment: give Prometheus\'s base URL',
    ],
  ])("rejects %s", (value, message) => {
    expect(() => prometheusUrlFromEnv({ PROMETHEUS_URL: value })).toThrow(message);
  });

  it("refuses a timeout that is not positive", () => {
    expect(() => createPrometheusReader({ url: prometheusUrl, timeoutMs: 0 })).toThrow(
      "the Prometheus query timeout must be a positive number of milliseconds, got 0",
    );
  });
});
