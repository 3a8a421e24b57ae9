// The demo's two speeds and its two rollouts, apart from run.ts so that the command line loads without the clients.
import { type AppBehaviour, FAULTY, HEALTHY } from "./app.ts";
import type { CanaryTuning } from "./cluster.ts";

export interface DemoProfile {
  name: string;
  tuning: CanaryTuning;
  /** Time between stepper runs (the real stepper runs once a minute; the demo's interval is seconds). */
  tickMs: number;
  rps: number;
}

export const PROFILES = {
  full: {
    name: "full",
    tuning: { steps: [10, 30, 60, 100], intervalSeconds: 8, threshold: 2, minRequests: 20 },
    tickMs: 1_000,
    rps: 200,
  },
  fast: {
    name: "fast",
    tuning: { steps: [20, 50, 100], intervalSeconds: 3, threshold: 2, minRequests: 10 },
    tickMs: 500,
    rps: 120,
  },
} as const satisfies Record<string, DemoProfile>;

export interface Scenario {
  name: string;
  namespace: string;
  label: string;
  canary: Omit<AppBehaviour, "version">;
  expected: "Promoted" | "RolledBack";
}

export const SCENARIOS: readonly Scenario[] = [
  { name: "good", namespace: "demo-good", label: "v2 healthy", canary: HEALTHY, expected: "Promoted" },
  { name: "bad", namespace: "demo-bad", label: "v2 failing 20%, slow 10%", canary: FAULTY, expected: "RolledBack" },
];
