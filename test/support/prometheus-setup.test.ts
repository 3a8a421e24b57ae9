// The test setup's Prometheus helpers: finding or refusing the binary, the config it writes, waiting for samples.
import { accessSync, constants } from "node:fs";
import { describe, expect, inject, it } from "vitest";
import {
  ensurePrometheusBinary,
  INSTALL_HINT,
  prometheusConfig,
  waitForSamples,
} from "../../scripts/services/prometheus.ts";

describe("ensurePrometheusBinary", () => {
  it("finds the binary the run's setup made sure of", () => {
    const binary = ensurePrometheusBinary();
    expect(binary).toMatch(/\/prometheus$/);
    expect(() => accessSync(binary, constants.X_OK)).not.toThrow();
  });

  it("tells a user who is not root, in one line, what to install", () => {
    expect(() =>
      ensurePrometheusBinary({ searchPath: "", fallback: "/nonexistent/prometheus", isRoot: false }),
    ).toThrow(INSTALL_HINT);
    expect(INSTALL_HINT).toBe(
      "prometheus not found: run `sudo apt-get install -y prometheus` (Debian) and re-run npm test",
    );
  });
});

describe("prometheusConfig", () => {
  it("gives every target its own job with its scheme and path", () => {
    expect(prometheusConfig(["http://127.0.0.1:4000/metrics", "https://10.0.0.1:8443/stats/prometheus"], 1)).toBe(
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: target-0",
        "    scheme: http",
        '    metrics_path: "/metrics"',
        "    static_configs:",
        '      - targets: ["127.0.0.1:4000"]',
        "  - job_name: target-1",
        "    scheme: https",
        '    metrics_path: "/stats/prometheus"',
        "    static_configs:",
        '      - targets: ["10.0.0.1:8443"]',
        "",
      ].join("\n"),
    );
  });
});

describe("waitForSamples", () => {
  it("returns the values once the query has samples", async () => {
    expect(await waitForSamples(inject("prometheusUrl"), "vector(7)")).toEqual([7]);
  });

  it("gives up with the last answer when the data never comes", async () => {
    await expect(
      waitForSamples(inject("prometheusUrl"), "vector(1)", { until: () => false, timeoutMs: 300 }),
    ).rejects.toThrow(
      /^no samples for vector\(1\) from http:\/\/127\.0\.0\.1:\d+ within 0\.3 s \(last values \[1\]\)$/,
    );
  });
});
