// Where a watched rollout stands, for `greenlight rollout watch|status`: done, failed (and why), or still going.
//
// API:
// - `verdictOf(view) -> { verdict, reason }`, on plain data, first match wins:
//   1. greenlight rolled this rollout back (the status records an undo and the Deployment runs the restored
//      template): failed, naming both revisions. Checked first, because the restored template then rolls out
//      fine and would otherwise read as success.
//   2. progress deadline exceeded: failed. 3. new pods crash-loop: failed, naming them.
//   4. complete by `kubectl rollout status`'s rules: done. 5. anything else: progressing.

import type { Progress } from "../deployment/progress.ts";
import { type CrashLoop, describeCrashLoops } from "./health.ts";
import type { RollingStatus } from "./status.ts";

export type Verdict = "done" | "failed" | "progressing";

export interface VerdictInput {
  name: string;
  progress: Progress;
  /** pod-template-hash of the ReplicaSet of the current template, when the controller has made it. */
  currentHash?: string;
  crashLoops: readonly CrashLoop[];
  status?: RollingStatus;
}

export function verdictOf(view: VerdictInput): { verdict: Verdict; reason: string } {
  const { status, progress } = view;
  if (
    (status?.phase === "RolledBack" || status?.phase === "Failed") &&
    status.rolledBackFrom &&
    status.rolledBackTo &&
    view.currentHash === status.rolledBackTo.podTemplateHash
  ) {
    return {
      verdict: "failed",
      reason: `greenlight rolled revision ${status.rolledBackFrom.revision} back to revision ${status.rolledBackTo.revision}: ${status.message}`,
    };
  }
  if (progress.state === "failed") return { verdict: "failed", reason: progress.message };
  if (view.crashLoops.length > 0) {
    return { verdict: "failed", reason: `new pods crash-loop: ${describeCrashLoops(view.crashLoops)}` };
  }
  if (progress.state === "complete") return { verdict: "done", reason: progress.message };
  return { verdict: "progressing", reason: progress.message };
}
