// Which ReplicaSet is new and which one an undo restores, on plain data (as client-node would hand it over).
import { describe, expect, it } from "vitest";
import {
  canonical,
  findNewRevision,
  findPreviousRevision,
  type PodTemplateShape,
  parseRevision,
  type ReplicaSetShape,
  restorableTemplate,
  revisionsOf,
  sameTemplate,
} from "../../functions/rolling/undo.ts";

const OWNER = { uid: "uid-web", name: "web" };

const template = (
  image: string,
  hash?: string,
): PodTemplateShape & { metadata: { labels: Record<string, string> } } => ({
  metadata: { labels: { app: "web", ...(hash ? { "pod-template-hash": hash } : {}) } },
  spec: { containers: [{ name: "web", image, ports: [{ containerPort: 8080 }] }] },
});

function replicaSet(
  image: string,
  revision: string | undefined,
  hash: string,
  owner: Partial<typeof OWNER> = OWNER,
): ReplicaSetShape {
  return {
    metadata: {
      name: `web-${hash}`,
      uid: `uid-${hash}`,
      labels: { app: "web", "pod-template-hash": hash },
      ...(revision ? { annotations: { "deployment.kubernetes.io/revision": revision } } : {}),
      ownerReferences: [{ kind: "Deployment", name: owner.name ?? "web", uid: owner.uid ?? "x", controller: true }],
    },
    spec: { template: template(image, hash) },
    status: { replicas: 2, readyReplicas: 1, availableReplicas: 1 },
  };
}

describe("revisionsOf", () => {
  it("keeps the ReplicaSets the Deployment controls, with a revision, highest first", () => {
    const revisions = revisionsOf(OWNER, [
      replicaSet("web:1", "1", "aaa"),
      replicaSet("web:3", "3", "ccc"),
      replicaSet("web:2", "2", "bbb"),
      replicaSet("web:9", "9", "zzz", { uid: "uid-other" }),
      replicaSet("web:8", undefined, "yyy"),
      {
        ...replicaSet("web:7", "7", "xxx"),
        metadata: { name: "orphan", annotations: { "deployment.kubernetes.io/revision": "7" } },
      },
    ]);
    expect(revisions.map((r) => [r.name, r.revision, r.hash])).toEqual([
      ["web-ccc", 3, "ccc"],
      ["web-bbb", 2, "bbb"],
      ["web-aaa", 1, "aaa"],
    ]);
    expect(revisions[0]).toMatchObject({ uid: "uid-ccc", replicas: 2, ready: 1, available: 1 });
  });

  it("matches by name when the owner's uid is unknown", () => {
    expect(revisionsOf({ name: "web" }, [replicaSet("web:1", "1", "aaa", { uid: "anything" })])).toHaveLength(1);
  });

  it("reads revisions as the controller writes them", () => {
    expect(parseRevision("12")).toBe(12);
    for (const raw of [undefined, "", "0", "-1", "1.5", "abc", "1e3"]) expect(parseRevision(raw)).toBeUndefined();
  });
});

describe("templates", () => {
  it("compare equal without pod-template-hash, key order, nulls or Dates turned to text", () => {
    const fromDeployment = template("web:2");
    const fromReplicaSet = {
      spec: { containers: [{ ports: [{ containerPort: 8080 }], image: "web:2", name: "web" }] },
      metadata: { creationTimestamp: null, labels: { "pod-template-hash": "bbb", app: "web" } },
    } as unknown as PodTemplateShape;
    expect(sameTemplate(fromDeployment, fromReplicaSet)).toBe(true);
    expect(sameTemplate(fromDeployment, template("web:3"))).toBe(false);
    expect(canonical({ b: [1, { d: null, c: "x" }], a: true })).toBe('{"a":true,"b":[1,{"c":"x"}]}');
  });

  it("restores a template as plain JSON without the hash label, leaving the ReplicaSet's copy alone", () => {
    const source = template("web:1", "aaa");
    const restored = restorableTemplate(source);
    expect(restored).toEqual(template("web:1"));
    expect(source.metadata.labels["pod-template-hash"]).toBe("aaa");
    expect(restorableTemplate({ metadata: { labels: { a: "b" } }, spec: { at: new Date(0) } })).toEqual({
      metadata: { labels: { a: "b" } },
      spec: { at: "1970-01-01T00:00:00.000Z" },
    });
  });
});

describe("findNewRevision and findPreviousRevision", () => {
  const revisions = revisionsOf(OWNER, [
    replicaSet("web:1", "1", "aaa"),
    replicaSet("web:2", "2", "bbb"),
    replicaSet("web:3", "4", "ccc"),
    replicaSet("web:1b", "3", "ddd"),
  ]);

  it("finds the ReplicaSet of the Deployment's template", () => {
    expect(findNewRevision(template("web:3"), revisions)?.name).toBe("web-ccc");
    expect(findNewRevision(template("web:2"), revisions)?.revision).toBe(2);
    expect(findNewRevision(template("web:new"), revisions)).toBeUndefined();
  });

  it("goes back to the highest revision below the current one, as kubectl rollout undo does", () => {
    const current = findNewRevision(template("web:3"), revisions);
    if (!current) throw new Error("no current revision");
    expect(findPreviousRevision(current, revisions)?.revision).toBe(3);
    expect(findPreviousRevision(current, revisions, ["ddd"])?.revision).toBe(2);
    const first = revisions.find((r) => r.revision === 1);
    if (!first) throw new Error("no first revision");
    expect(findPreviousRevision(first, revisions)).toBeUndefined();
  });

  it("never goes back to a ReplicaSet with the current template", () => {
    const twins = revisionsOf(OWNER, [replicaSet("web:1", "1", "aaa"), replicaSet("web:1", "2", "aab")]);
    const current = twins[0];
    if (!current) throw new Error("no revision");
    expect(findPreviousRevision(current, twins)).toBeUndefined();
  });
});
