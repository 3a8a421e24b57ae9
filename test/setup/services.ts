// vitest globalSetup: one Istio-style exporter and one Prometheus scraping it, shared by every test file of a run.
/*
 * Started once per run because Prometheus's first scraped sample lands ~6 s after it starts; starting both takes
 * ~0.1 s, and nothing here waits for that first scrape (tests that need data call `waitForSamples`). Tests read
 * the URLs with `inject("prometheusUrl")` / `inject("exporterUrl")` and drive the exporter with `exporterControl`,
 * each in its own namespace. Installs Prometheus and redis-server with apt-get when missing and running as root (see
 * scripts/services/apt.ts), or fails the run with one line saying what to install.
 */
import type { TestProject } from "vitest/node";
import { startIstioExporter } from "../../scripts/services/istio-exporter.ts";
import { ensurePrometheusBinary, type RunningPrometheus, startPrometheus } from "../../scripts/services/prometheus.ts";
import { ensureRedisBinary } from "../../scripts/services/redis.ts";

declare module "vitest" {
  export interface ProvidedContext {
    prometheusUrl: string;
    exporterUrl: string;
  }
}

/** The error as vitest prints it: the message line alone, without a code frame and stack. */
function oneLineError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const line = new Error(message);
  line.stack = `Error: ${message}`;
  return line;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const exporter = await startIstioExporter();
  let prometheus: RunningPrometheus;
  try {
    ensurePrometheusBinary();
    // Each flag store test file starts its own redis-server (milliseconds); the binary is checked once, here.
    ensureRedisBinary();
    prometheus = await startPrometheus({ scrapeTargets: [exporter.metricsUrl], scrapeIntervalSeconds: 1 });
  } catch (error) {
    await exporter.close();
    throw oneLineError(error);
  }
  project.provide("prometheusUrl", prometheus.url);
  project.provide("exporterUrl", exporter.url);
  return async () => {
    await prometheus.close();
    await exporter.close();
  };
}
