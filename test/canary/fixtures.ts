// The seed's Istio objects for myapp (with its merged route item split in two, header route first) and test helpers.
import { readCanarySettings } from "../../functions/canary/settings.ts";
import type { CanaryStatus } from "../../functions/canary/status.ts";
import type { DestinationRule, VirtualService } from "../../functions/canary/virtual-service.ts";

/** Annotations from unprefixed keys: `{ steps: "5,10" }` -> `{ "greenlight.dev/steps": "5,10" }`. */
export const gl = (entries: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(entries).map(([key, value]) => [`greenlight.dev/${key}`, value]));

export const destinationRule = (): DestinationRule => ({
  apiVersion: "networking.istio.io/v1",
  kind: "DestinationRule",
  metadata: { name: "myapp", namespace: "production" },
  spec: {
    host: "myapp",
    subsets: [
      { name: "v1", labels: { version: "v1.0" } },
      { name: "v2", labels: { version: "v2.0" } },
    ],
  },
});

/** The seed's VirtualService as it was meant: the header route first, then the 90/10 weighted route. */
export const virtualService = (): VirtualService => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: "myapp", namespace: "production", labels: { team: "shop" } },
  spec: {
    hosts: ["myapp.example.com"],
    gateways: ["myapp-gateway"],
    http: [
      {
        match: [{ headers: { "x-canary-test": { exact: "true" } } }],
        route: [{ destination: { host: "myapp", subset: "v2" }, weight: 100 }],
      },
      {
        route: [
          { destination: { host: "myapp", subset: "v1" }, weight: 90 },
          { destination: { host: "myapp", subset: "v2" }, weight: 10 },
        ],
        timeout: "5s",
      },
    ],
  },
});

/** What a YAML loader makes of the seed's single merged item: the later `route` key wins, the weighted one is gone. */
export const seedAsWritten = (): VirtualService => {
  const vs = virtualService();
  const [header] = vs.spec?.http ?? [];
  return { ...vs, spec: { ...vs.spec, http: header ? [header] : [] } };
};

export const T0 = new Date("2025-06-01T12:00:00.000Z");
export const atSecond = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

/** Settings for the state machine tests: steps 10,50, interval 60s, threshold 2, max-inconclusive 2. */
export const testSettings = (extra: Record<string, string> = {}) =>
  readCanarySettings(
    gl({ steps: "10,50", interval: "60s", threshold: "2", "max-inconclusive": "2", ...extra }),
    "myapp",
  ).settings;

export const statusOf = (overrides: Partial<CanaryStatus> = {}): CanaryStatus => ({
  version: 1,
  phase: "Progressing",
  canaryVersion: "v2.0",
  stableVersion: "v1.0",
  stepIndex: 0,
  weights: { stable: 90, canary: 10 },
  lastStepAt: T0.toISOString(),
  failures: 0,
  inconclusive: 0,
  lastChecks: [],
  updatedAt: T0.toISOString(),
  ...overrides,
});
