// The safety invariants, checked after every pass of every timeline against the simulator's ground truth (pods, the
// traffic actually served), never against what the stepper believed. Each violation names its invariant.
import { parseStatus } from "../../functions/canary/status.ts";
import type { VirtualService } from "../../functions/canary/virtual-service.ts";
import type { RunReport } from "../../functions/stepper/run.ts";
import type { WriteRecord } from "./cluster.ts";

export type InvariantId =
  | "1-ready-before-weight"
  | "2-promoted-on-measured-traffic"
  | "3-new-revision-restarts"
  | "4-weights-and-fields"
  | "5-rollback-holds"
  | "6-one-writer"
  | "7-blue-green-ready"
  | "8-rolling-undo-once"
  | "9-pass-deadline"
  | "10-unreadable-status";

export interface Violation {
  invariant: InvariantId;
  atSeconds: number;
  message: string;
}

/** The world as the checker sees it at one instant. */
export interface Snapshot {
  atMs: number;
  vs?: VirtualService;
  weights?: { stable: number; canary: number };
  statusRaw?: string;
  /** Ground truth: every pod of the canary is of its current template, Ready, and there are `replicas` of them. */
  canaryReady: boolean;
  /** The canary's current pod-template-hash (undefined when the Deployment is gone). */
  canaryHash?: string;
  /** `greenlight.dev/abort` and `promote` on the canary as they read. */
  abort: boolean;
  promote: boolean;
  /** Blue/green: the version the main Service selects, and which colours are fully rolled out and ready. */
  shopVersion?: string;
  readyColours: string[];
  /** Rolling: the guarded Deployment's current pod-template-hash, and whether its rollout has truly failed. */
  rollingHash?: string;
  rollingFailing: boolean;
}

export interface PassRecord {
  before: Snapshot;
  after: Snapshot;
  reports: RunReport[];
  /** Writes made during this pass (by any stepper). */
  writes: WriteRecord[];
  endedAtMs: number;
  endBy: number;
}

export interface CheckerSettings {
  steps: readonly number[];
  maxErrorRate: number;
  headerRoute: boolean;
  startMs: number;
  /** The Deployment the rolling guard watches (its template writes are undos). */
  rollingDeployment?: string;
}

/** The route that splits traffic between the two subsets (the header route sends only to the canary). */
const weightedRoute = (vs: VirtualService | undefined) =>
  vs?.spec?.http?.find(
    (route) => (route.route ?? []).length >= 2 && route.route?.some((entry) => entry.destination?.subset === "canary"),
  );

export function weightsOf(vs: VirtualService | undefined): { stable: number; canary: number } | undefined {
  const route = weightedRoute(vs);
  if (!route?.route) return undefined;
  const of = (subset: string) => route.route?.find((entry) => entry.destination?.subset === subset)?.weight ?? 0;
  return { stable: of("stable"), canary: of("canary") };
}

/** The route's fields greenlight must never touch, as text. */
const untouched = (vs: VirtualService | undefined): string => {
  const route = weightedRoute(vs);
  return JSON.stringify({
    hosts: vs?.spec?.hosts,
    labels: vs?.metadata?.labels,
    name: route?.name,
    timeout: route?.timeout,
    retries: route?.retries,
  });
};

/** A write of the route whose status annotation starts a rollout over: Waiting, step -1, canary 0%. */
function writesRestart(write: WriteRecord): boolean {
  if (write.kind !== "VirtualService") return false;
  return write.patch.some((op) => {
    if ((op.op !== "add" && op.op !== "replace") || !op.path.endsWith("/greenlight.dev~1status")) return false;
    const status = parseStatus(typeof op.value === "string" ? op.value : undefined).status;
    return status?.phase === "Waiting" && status.stepIndex === -1 && status.weights.canary === 0;
  });
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** Requests the canary's ready pods served, per template hash and canary weight at the time. */
  private readonly served = new Map<string, Map<number, { requests: number; errors: number }>>();
  private lastHash: string | undefined;
  private restartPending = false;
  private rolledBackHash: string | undefined;
  /** Undos of the rolling Deployment, by the pod-template-hash they undid. */
  private readonly undos = new Map<string, number>();

  constructor(private readonly settings: CheckerSettings) {}

  private fail(invariant: InvariantId, atMs: number, message: string): void {
    this.violations.push({ invariant, atSeconds: Math.round((atMs - this.settings.startMs) / 1000), message });
  }

  /** Traffic of one tick: what the canary's pods of `hash` served while the route gave it `weight`. */
  observeTraffic(hash: string, weight: number, requests: number, errors: number): void {
    let byWeight = this.served.get(hash);
    if (!byWeight) {
      byWeight = new Map();
      this.served.set(hash, byWeight);
    }
    const entry = byWeight.get(weight) ?? { requests: 0, errors: 0 };
    entry.requests += requests;
    entry.errors += errors;
    byWeight.set(weight, entry);
  }

  afterPass(pass: PassRecord): void {
    const { before, after } = pass;
    const at = before.atMs;
    const priorStatus = parseStatus(before.statusRaw);
    const nextStatus = parseStatus(after.statusRaw);
    const raised = (before.weights?.canary ?? 0) < (after.weights?.canary ?? 0);

    // 9: the pass ended in time, whatever hung.
    if (pass.endedAtMs > pass.endBy) {
      this.fail("9-pass-deadline", at, `the pass ended ${pass.endedAtMs - pass.endBy} ms after its end-by instant`);
    }
    for (const report of pass.reports) {
      if (report.error && !/listing Deployments/.test(report.error)) {
        this.fail("9-pass-deadline", at, `the pass failed as a whole: ${report.error}`);
      }
    }

    // 3: a new pod template mid-analysis restarts from 0% before any weight goes to it.
    const inFlight = (phase: string | undefined) =>
      phase === "Waiting" || phase === "Progressing" || phase === "Paused";
    if (
      before.canaryHash &&
      this.lastHash &&
      before.canaryHash !== this.lastHash &&
      inFlight(priorStatus.status?.phase)
    ) {
      this.restartPending = true;
    }
    if (before.canaryHash) this.lastHash = before.canaryHash;
    // Two steppers in one pass: one may write the restart (step -1 at 0%) and the other, reading it, the first step.
    if (this.restartPending && pass.writes.some(writesRestart)) this.restartPending = false;
    if (this.restartPending && raised) {
      this.fail(
        "3-new-revision-restarts",
        at,
        `canary weight raised ${before.weights?.canary}% -> ${after.weights?.canary}% on a new pod template before its rollout restarted from 0%`,
      );
    }
    const restarted = nextStatus.status && nextStatus.status.stepIndex === -1 && after.weights?.canary === 0;
    const ended = nextStatus.status?.phase === "Promoted" || nextStatus.status?.phase === "RolledBack";
    if (restarted || ended || !after.vs) this.restartPending = false;

    // 1: weight only ever rises onto a fully rolled-out, ready canary.
    if (raised && !before.canaryReady) {
      this.fail(
        "1-ready-before-weight",
        at,
        `canary weight raised ${before.weights?.canary}% -> ${after.weights?.canary}% while its new ReplicaSet was not fully rolled out and ready`,
      );
    }

    // 4: what greenlight writes is two integers summing to 100, with everything else on the route kept.
    if (pass.writes.some((write) => write.kind === "VirtualService") && after.vs) {
      const weights = after.weights;
      if (
        !weights ||
        !Number.isInteger(weights.stable) ||
        !Number.isInteger(weights.canary) ||
        weights.stable < 0 ||
        weights.canary < 0 ||
        weights.stable + weights.canary !== 100
      ) {
        this.fail("4-weights-and-fields", at, `weights after a write: ${JSON.stringify(weights)}`);
      }
      if (untouched(before.vs) !== untouched(after.vs)) {
        this.fail(
          "4-weights-and-fields",
          at,
          `fields outside the weights changed: ${untouched(before.vs)} -> ${untouched(after.vs)}`,
        );
      }
      if (this.settings.headerRoute && after.vs.spec?.http?.[0]?.match === undefined) {
        this.fail("4-weights-and-fields", at, "the header route is not the first http route after a write");
      }
    }

    // 6: every write is guarded, and two passes at once never both write the route.
    for (const write of pass.writes) {
      if (write.patch[0]?.op !== "test") {
        this.fail("6-one-writer", at, `${write.kind} ${write.name} written by ${write.by} without a leading test op`);
      }
    }
    // Two writes guarded by the same reading both acted on one state: the second overwrote the first blindly.
    const guards = pass.writes
      .filter((write) => write.kind === "VirtualService" || write.kind === "Deployment")
      .map((write) => `${write.kind}/${write.name} ${JSON.stringify(write.patch[0])}`);
    if (new Set(guards).size < guards.length) {
      this.fail("6-one-writer", at, "two writes of one object in one pass were guarded by the same reading");
    }

    // 5: a rollback puts stable at 100% in the same write, and nothing steps forward until the revision changes.
    if (nextStatus.status?.phase === "RolledBack" && priorStatus.status?.phase !== "RolledBack") {
      if (after.weights?.canary !== 0)
        this.fail("5-rollback-holds", at, `RolledBack written with canary at ${after.weights?.canary}%`);
      this.rolledBackHash = before.canaryHash;
    }
    if (this.rolledBackHash !== undefined && raised && before.canaryHash === this.rolledBackHash) {
      this.fail(
        "5-rollback-holds",
        at,
        `canary weight raised to ${after.weights?.canary}% after a rollback, on the same revision`,
      );
    }
    if (before.canaryHash !== this.rolledBackHash && before.canaryHash !== undefined) this.rolledBackHash = undefined;
    // A hand-corrupted status erases the rollback's memory; the stepper pauses and a person decides (invariant 10).
    if (priorStatus.problem) this.rolledBackHash = undefined;

    // 10: an unreadable status never sends everything back to stable, unless the user aborted.
    if (before.statusRaw !== undefined && priorStatus.problem && !before.abort) {
      // A route deleted during the pass (a fault, a person) moved no weight: there is nothing left to judge.
      const lowered = after.weights !== undefined && after.weights.canary < (before.weights?.canary ?? 0);
      if (lowered)
        this.fail(
          "10-unreadable-status",
          at,
          `an unreadable status moved the canary from ${before.weights?.canary}% to ${after.weights?.canary}%`,
        );
    }

    // 7: the main Service only ever moves to a version whose Deployment is fully rolled out and ready.
    if (after.shopVersion !== before.shopVersion && after.shopVersion !== undefined) {
      if (!before.readyColours.includes(after.shopVersion)) {
        this.fail(
          "7-blue-green-ready",
          at,
          `the Service was switched to ${after.shopVersion}, which was not fully rolled out and ready`,
        );
      }
    }

    // 8: an undo of a rolling update only for a rollout that truly failed, and at most once per revision.
    const undos = pass.writes.filter(
      (write) =>
        write.kind === "Deployment" &&
        write.name === this.settings.rollingDeployment &&
        write.patch.some((op) => op.path === "/spec/template"),
    );
    for (const _undo of undos) {
      if (!before.rollingHash) break;
      const count = (this.undos.get(before.rollingHash) ?? 0) + 1;
      this.undos.set(before.rollingHash, count);
      if (count > 1) this.fail("8-rolling-undo-once", at, `revision ${before.rollingHash} undone ${count} times`);
      if (!before.rollingFailing) {
        this.fail(
          "8-rolling-undo-once",
          at,
          `revision ${before.rollingHash} undone while within its deadline and healthy`,
        );
      }
    }

    // 2: promoted by analysis only after every step's weight carried requests of this very revision, none failing much.
    const promotedNow = nextStatus.status?.phase === "Promoted" && priorStatus.status?.phase !== "Promoted";
    // A promote by annotation is a person's call; a leftover `promote` the stepper held does not make it one.
    const byHand = pass.reports.some((report) =>
      report.canaries.some((canary) => canary.events.some((event) => /promoted by .*promote/.test(event.message))),
    );
    if (promotedNow && !byHand && before.canaryHash) {
      const byWeight = this.served.get(before.canaryHash) ?? new Map<number, { requests: number; errors: number }>();
      // A step may have run at more weight than planned (resumed after a hand edit), never at less.
      const servedAtLeast = (step: number) =>
        [...byWeight].some(([weight, entry]) => weight >= step && entry.requests > 0);
      const missing = this.settings.steps.filter((step) => !servedAtLeast(step));
      if (missing.length > 0) {
        this.fail(
          "2-promoted-on-measured-traffic",
          at,
          `promoted though no request reached this revision's ready pods at canary ${missing.join("%, ")}% or more`,
        );
      }
      let requests = 0;
      let errors = 0;
      for (const [weight, entry] of byWeight) {
        if (weight === 0) continue;
        requests += entry.requests;
        errors += entry.errors;
      }
      const limit = Math.max(3 * this.settings.maxErrorRate, this.settings.maxErrorRate + 0.02);
      if (requests >= 1000 && errors / requests > limit) {
        this.fail(
          "2-promoted-on-measured-traffic",
          at,
          `promoted a revision that failed ${((100 * errors) / requests).toFixed(1)}% of ${requests} requests (max-error-rate ${(100 * this.settings.maxErrorRate).toFixed(1)}%, judged against ${(100 * limit).toFixed(1)}%)`,
        );
      }
    }
  }
}
