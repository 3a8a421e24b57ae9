import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One exporter and one Prometheus for the whole run (Prometheus's first sample takes ~6 s).
    globalSetup: ["test/setup/services.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
