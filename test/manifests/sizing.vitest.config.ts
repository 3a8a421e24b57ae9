// `npm run size`: measures a stepper pass and the webhook server and checks the manifests' memory requests and
// limits against the peaks. Kept out of `npm test`: a peak depends on the machine and its load, and a test suite
// must not fail on a busy day; run it after changing what a pass loads or the manifests' resources.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/manifests/memory-sizing.ts"],
    testTimeout: 300_000,
    pool: "forks",
  },
});
