// What one simulated timeline holds: the canary's policy, how each version behaves, the scrape and API faults, and
// the user actions on the way. `randomScenario(seed)` draws one; `canaryScenario(...)` builds one from a user's
// annotations and metric profiles (`greenlight canary simulate`).
import type { ApiFaults } from "./cluster.ts";
import { NO_FAULTS } from "./cluster.ts";
import type { ScrapeSettings } from "./metrics-store.ts";
import { createRandom, type Random } from "./random.ts";

/** A value that changes at given times: `[[0, 0.005], [720, 0.03]]` is 0.5%, then 3% from 12 minutes on. */
export type Schedule = readonly (readonly [atSeconds: number, value: number])[];

export const valueAt = (schedule: Schedule, seconds: number): number => {
  let value = schedule[0]?.[1] ?? 0;
  for (const [at, next] of schedule) if (at <= seconds) value = next;
  return value;
};

/** How pods of one pod template (a revision) start and serve. */
export interface RevisionProfile {
  startupSeconds: number;
  crashLoop: boolean;
  errorRate: Schedule;
  latencyP50Ms: Schedule;
  latencyP99Ms: Schedule;
  /** HTTP status the smoke path answers through the API server's proxy (blue/green); 200 when absent. */
  smokeStatus?: number;
}

export type UserAction =
  | { kind: "image-bump"; profile: RevisionProfile }
  | { kind: "scale"; replicas: number }
  | { kind: "weights"; canary: number }
  | { kind: "annotate"; name: "paused" | "promote" | "abort"; value: string | null }
  | { kind: "corrupt-status" }
  | { kind: "delete-canary" }
  | { kind: "delete-virtual-service" }
  | { kind: "restore" }
  | { kind: "blue-green-release"; profile: RevisionProfile }
  | { kind: "rolling-release"; profile: RevisionProfile };

export interface TimedAction {
  atSeconds: number;
  action: UserAction;
}

export interface Scenario {
  seed: number;
  /** Virtual minutes the timeline runs. */
  minutes: number;
  /** Seconds between world ticks (controller, traffic, scrapes). */
  tickSeconds: number;
  /** Seconds between scheduled passes (the schedule's rate: 60). */
  passSeconds: number;
  /** The canary Deployment's greenlight annotations, without the `greenlight.dev/` prefix. */
  annotations: Record<string, string>;
  replicas: number;
  maxSurge: string;
  maxUnavailable: string;
  progressDeadlineSeconds: number;
  rps: number;
  /** Share of requests carrying the header route's header. */
  headerShare: number;
  stable: RevisionProfile;
  canary: RevisionProfile;
  scrape: ScrapeSettings;
  faults: ApiFaults;
  /** A second stepper runs every pass at the same time (a Lambda retry, a CronJob and a laptop). */
  concurrentStepper: boolean;
  actions: TimedAction[];
  /** A blue/green pair (shop-blue serving, shop-green with auto-promote) beside the canary. */
  blueGreen?: boolean;
  /** A Deployment guarded by the rolling strategy beside the canary. */
  rolling?: boolean;
}

export const healthyProfile = (): RevisionProfile => ({
  startupSeconds: 5,
  crashLoop: false,
  errorRate: [[0, 0.001]],
  latencyP50Ms: [[0, 40]],
  latencyP99Ms: [[0, 200]],
});

const pickProfile = (random: Random): RevisionProfile => {
  const bad = random.chance(0.3);
  const turnsBadAt = random.chance(0.3) ? random.int(300, 1500) : undefined;
  const rate = bad ? random.pick([0.02, 0.05, 0.2]) : random.pick([0, 0.001, 0.004]);
  const errorRate: Schedule = turnsBadAt
    ? [
        [0, rate],
        [turnsBadAt, 0.08],
      ]
    : [[0, rate]];
  const slow = random.chance(0.15);
  return {
    startupSeconds: random.pick([0, 5, 20, 60, 150]),
    crashLoop: random.chance(0.08),
    errorRate,
    latencyP50Ms: [[0, slow ? 400 : random.pick([20, 50, 90])]],
    latencyP99Ms: [[0, slow ? 2500 : random.pick([150, 300, 700])]],
  };
};

export function pickAction(random: Random): UserAction {
  switch (random.int(0, 11)) {
    case 10:
      return {
        kind: "blue-green-release",
        profile: { ...pickProfile(random), smokeStatus: random.pick([200, 200, 503]) },
      };
    case 11:
      // Half the releases crash-loop, so the guard's undo is exercised, not only its watching.
      return { kind: "rolling-release", profile: { ...pickProfile(random), crashLoop: random.chance(0.5) } };
    case 0:
    case 1:
      return { kind: "image-bump", profile: pickProfile(random) };
    case 2:
      return { kind: "scale", replicas: random.int(1, 6) };
    case 3:
      return { kind: "weights", canary: random.pick([0, 33, 50, 100]) };
    case 4:
      return {
        kind: "annotate",
        name: random.pick(["paused", "promote", "abort"] as const),
        value: random.pick(["true", "false", null]),
      };
    case 5:
      return { kind: "corrupt-status" };
    case 6:
      return random.chance(0.5) ? { kind: "delete-canary" } : { kind: "delete-virtual-service" };
    default:
      return { kind: "annotate", name: "paused", value: random.pick(["true", "false"]) };
  }
}

/** A random timeline: policy, profiles, faults and actions all drawn from `seed`. */
export function randomScenario(seed: number): Scenario {
  const random = createRandom(seed);
  const steps = random.pick(["10,50", "5,25,50,75", "20,40,60,80", "50"]);
  const interval = random.pick([60, 120, 180]);
  const minutes = random.pick([25, 35, 45]);
  const actionCount = random.pick([0, 0, 1, 2, 3]);
  const actions: TimedAction[] = Array.from({ length: actionCount }, () => ({
    atSeconds: random.int(1, minutes * 6 - 1) * 10,
    action: pickAction(random),
  })).sort((a, b) => a.atSeconds - b.atSeconds);
  const faulty = random.chance(0.4);
  const outage = random.chance(0.2) ? [{ fromMs: random.int(5, minutes - 5) * 60_000, toMs: 0 }] : [];
  for (const window of outage) window.toMs = window.fromMs + random.int(2, 8) * 60_000;
  const maxSurge = random.pick(["25%", "1", "0"]);
  // Both 0 is refused by the API server: nothing could ever move.
  const maxUnavailable = maxSurge === "0" ? random.pick(["25%", "1"]) : random.pick(["25%", "1", "0"]);
  return {
    seed,
    minutes,
    tickSeconds: 10,
    passSeconds: 60,
    annotations: {
      strategy: "canary",
      "virtual-service": "myapp",
      steps,
      interval: `${interval}s`,
      threshold: String(random.int(1, 3)),
      "max-error-rate": random.pick(["1%", "2%"]),
      "max-latency-p99": random.pick(["1000ms", "1500ms"]),
      "min-requests": String(random.pick([10, 50, 200])),
      ...(random.chance(0.5) ? { "header-route": "x-canary=true" } : {}),
    },
    replicas: random.int(1, 5),
    maxSurge,
    maxUnavailable,
    progressDeadlineSeconds: random.pick([120, 300, 600]),
    rps: random.pick([0.2, 2, 20, 100]),
    headerShare: random.pick([0, 0.05]),
    stable: healthyProfile(),
    canary: pickProfile(random),
    scrape: {
      intervalSeconds: random.pick([15, 30]),
      lagSeconds: random.pick([0, 10, 45]),
      missProbability: random.pick([0, 0.05, 0.3]),
      outages: outage,
    },
    faults: faulty
      ? {
          latencyMs: [5, random.pick([50, 2000])],
          throttled: random.pick([0, 0.05]),
          serverError: random.pick([0, 0.03]),
          hang: random.pick([0, 0.01]),
          lostAnswer: random.pick([0, 0.05]),
          deletedMidFlight: random.pick([0, 0.01]),
          conflict: random.pick([0, 0.05]),
        }
      : NO_FAULTS,
    concurrentStepper: random.chance(0.2),
    actions,
    blueGreen: random.chance(0.4),
    rolling: random.chance(0.4),
  };
}
