// What the local stack remembers of its canaries between passes: a bounded ring of points per canary, for the
// dashboard's timelines (`GET /api/rollouts`).
/*
 * One point per pass that saw the canary: when, its phase and weights, what the pass did, and each check's value and
 * outcome. Rings are keyed by namespace/deployment and hold the last `capacity` points (default 240: four hours at
 * one pass a minute); at most `maxCanaries` rings are kept, the one updated longest ago dropped first. Pure: the
 * caller says when (`at`).
 */
import type { CanaryReport } from "../../functions/canary/step.ts";

export interface CheckPoint {
  name: string;
  /** Absent when the query returned nothing usable (see `detail`). */
  value?: number;
  threshold: number;
  outcome: string;
  detail?: string;
}

export interface TimelinePoint {
  /** ISO 8601. */
  at: string;
  phase?: string;
  weights?: { stable: number; canary: number };
  outcome: string;
  problem?: string;
  checks: CheckPoint[];
}

export interface CanaryTimeline {
  namespace: string;
  deployment: string;
  points: TimelinePoint[];
}

export interface RolloutHistory {
  /** Adds one point per canary of a pass. */
  record(canaries: readonly CanaryReport[], at: Date): void;
  /** Every canary's timeline, oldest point first, sorted by namespace/deployment. */
  timelines(): CanaryTimeline[];
}

export const DEFAULT_HISTORY_CAPACITY = 240;
export const DEFAULT_MAX_CANARIES = 200;

/** A canary's phase, weights, outcome and problem, as the stepper's view and the timelines both show them. */
export function canaryState(report: CanaryReport): Pick<TimelinePoint, "phase" | "weights" | "outcome" | "problem"> {
  return {
    ...(report.phase === undefined ? {} : { phase: report.phase }),
    ...(report.weights === undefined
      ? {}
      : { weights: { stable: report.weights.stable, canary: report.weights.canary } }),
    outcome: report.outcome,
    ...(report.problem === undefined ? {} : { problem: report.problem }),
  };
}

export function pointOf(report: CanaryReport, at: Date): TimelinePoint {
  return {
    at: at.toISOString(),
    ...canaryState(report),
    checks: (report.checks ?? []).map((check) => ({
      name: check.name,
      ...(check.value === undefined ? {} : { value: check.value }),
      threshold: check.threshold,
      outcome: check.outcome,
      ...(check.detail === undefined ? {} : { detail: check.detail }),
    })),
  };
}

export function createRolloutHistory(options: { capacity?: number; maxCanaries?: number } = {}): RolloutHistory {
  const capacity = Math.max(1, options.capacity ?? DEFAULT_HISTORY_CAPACITY);
  const maxCanaries = Math.max(1, options.maxCanaries ?? DEFAULT_MAX_CANARIES);
  // Map order is insertion order: a ring is moved to the end when it gets a point, so the first is the stalest.
  const rings = new Map<string, CanaryTimeline>();
  return {
    record(canaries, at) {
      for (const report of canaries) {
        const id = `${report.namespace}/${report.deployment}`;
        const ring = rings.get(id) ?? { namespace: report.namespace, deployment: report.deployment, points: [] };
        rings.delete(id);
        ring.points.push(pointOf(report, at));
        if (ring.points.length > capacity) ring.points.splice(0, ring.points.length - capacity);
        rings.set(id, ring);
      }
      while (rings.size > maxCanaries) {
        const stalest = rings.keys().next().value;
        if (stalest === undefined) break;
        rings.delete(stalest);
      }
    },
    timelines() {
      return [...rings.values()]
        .map((ring) => structuredClone(ring))
        .sort((a, b) => `${a.namespace}/${a.deployment}`.localeCompare(`${b.namespace}/${b.deployment}`));
    },
  };
}
