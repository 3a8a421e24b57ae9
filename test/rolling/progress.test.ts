// readProgress follows `kubectl rollout status`: generation first, then the deadline, then each count in order.
import { describe, expect, it } from "vitest";
import { type DeploymentShape, describeCounts, readProgress } from "../../functions/deployment/progress.ts";

const deadline = {
  type: "Progressing",
  status: "False",
  reason: "ProgressDeadlineExceeded",
  message: 'ReplicaSet "web-abc" has timed out progressing.',
};

function deployment(
  status: NonNullable<DeploymentShape["status"]>,
  replicas?: number,
  generation = 4,
): DeploymentShape {
  return {
    metadata: { name: "web", generation },
    spec: replicas === undefined ? {} : { replicas },
    status: { observedGeneration: generation, ...status },
  };
}

describe("readProgress", () => {
  it("is complete when every replica is updated and available and no old pod is left", () => {
    const progress = readProgress(
      deployment({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 }, 3),
    );
    expect(progress).toMatchObject({ state: "complete", desired: 3, updated: 3, ready: 3, available: 3, total: 3 });
    expect(progress.message).toBe("successfully rolled out");
  });

  it("counts one desired replica when spec.replicas is unset, as the API server defaults it", () => {
    expect(readProgress(deployment({ replicas: 0, updatedReplicas: 0 })).desired).toBe(1);
    expect(readProgress(deployment({ replicas: 0, updatedReplicas: 0 })).state).toBe("progressing");
    expect(readProgress(deployment({}, 0))).toMatchObject({ desired: 0, state: "complete" });
  });

  it("judges nothing while the controller has not observed the latest generation, not even a deadline", () => {
    const progress = readProgress({
      metadata: { generation: 5 },
      spec: { replicas: 3 },
      status: { observedGeneration: 4, replicas: 3, updatedReplicas: 3, availableReplicas: 3, conditions: [deadline] },
    });
    expect(progress).toMatchObject({ state: "observing", observed: false });
    expect(progress.message).toBe("waiting for the Deployment controller to observe generation 5 (observed 4)");
  });

  it("fails on ProgressDeadlineExceeded before looking at any count, quoting the controller", () => {
    const progress = readProgress(
      deployment(
        { replicas: 3, updatedReplicas: 3, availableReplicas: 3, readyReplicas: 3, conditions: [deadline] },
        3,
      ),
    );
    expect(progress.state).toBe("failed");
    expect(progress.message).toBe('exceeded its progress deadline: ReplicaSet "web-abc" has timed out progressing.');
  });

  it("names what is missing, in kubectl's order: updated, then old pods, then availability", () => {
    const message = (status: NonNullable<DeploymentShape["status"]>) => readProgress(deployment(status, 10)).message;
    expect(message({ replicas: 11, updatedReplicas: 4, readyReplicas: 10, availableReplicas: 10 })).toBe(
      "4 of 10 new replicas have been updated",
    );
    expect(message({ replicas: 12, updatedReplicas: 10, readyReplicas: 10, availableReplicas: 9 })).toBe(
      "2 old replicas are pending termination",
    );
    expect(message({ replicas: 11, updatedReplicas: 10, readyReplicas: 10, availableReplicas: 9 })).toBe(
      "1 old replica is pending termination",
    );
    expect(message({ replicas: 10, updatedReplicas: 10, readyReplicas: 9, availableReplicas: 7 })).toBe(
      "7 of 10 updated replicas are available",
    );
  });

  it("says when the Deployment is paused, and reads absent or negative counts as zero", () => {
    const progress = readProgress({
      metadata: { generation: 1 },
      spec: { replicas: 2, paused: true },
      status: { observedGeneration: 1, updatedReplicas: -1 },
    });
    expect(progress).toMatchObject({ paused: true, updated: 0, ready: 0, available: 0, total: 0 });
    expect(progress.message).toBe("0 of 2 new replicas have been updated (paused)");
  });

  it("describes counts as one phrase", () => {
    expect(describeCounts({ desired: 10, updated: 6, ready: 9, available: 8 })).toBe(
      "updated 6/10, ready 9/10, available 8/10",
    );
  });
});
