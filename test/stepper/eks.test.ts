// The stepper on EKS, end to end: the Lambda handler signs its own token with the role's credentials, reaches the API
// server over TLS with the cluster's CA, and the token is checked as EKS checks it (the authenticator's rules, then
// STS recomputing the signature); a warm instance renews the token before it expires; the settings fail fast.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { eksToken } from "../../functions/kube/eks-token.ts";
import {
  clusterAccessFromEnv,
  eksClusterFromEnv,
  eksKubeConfig,
  loadKubeConfig,
} from "../../functions/stepper/config.ts";
import { createStepperHandler } from "../../functions/stepper/lambda.ts";
import { NAMESPACE, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { type EksFront, type FakeSts, startEksFront, startFakeSts } from "../kube/fake-eks.ts";
import { type KubeObject, renderAll } from "../manifests/kustomize.ts";

const CLUSTER = "greenlight-test_1";
const ROLE = "arn:aws:iam::123456789012:role/greenlight-prod-StepperRole-1A2B3C4D5E6F";
/** What Lambda puts in the function's environment: the role's temporary credentials (made up here). */
const ROLE_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: "ASIAQSTEPPEREXAMPLE1",
  AWS_SECRET_ACCESS_KEY: "c2VjcmV0LWtleS1vZi10aGUtc3RlcHBlci1yb2xl",
  AWS_SESSION_TOKEN: "IQoJb3JpZ2luX2VjEOr//////////wEaCWV1LXdlc3QtMSJGMEQCIHexample+session/token==",
  AWS_REGION: "eu-west-1",
};
const T0 = new Date("2026-11-26T10:00:00Z");
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

let api: FakeApiServer;
let sts: FakeSts;
let front: EksFront;
/** The clock of STS and the front door; the handler under test gets its own. */
let serverNow = T0;

beforeAll(async () => {
  api = await startFakeApiServer();
  sts = await startFakeSts({
    now: () => serverNow,
    principals: [
      {
        accessKeyId: ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID,
        secretAccessKey: ROLE_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
        sessionToken: ROLE_CREDENTIALS.AWS_SESSION_TOKEN,
        arn: "arn:aws:sts::123456789012:assumed-role/greenlight-prod-StepperRole-1A2B3C4D5E6F/greenlight-prod-stepper",
        userId: "AROAQSTEPPEREXAMPLE1:greenlight-prod-stepper",
        account: "123456789012",
      },
    ],
  });
  front = await startEksFront({ api, sts, clusterName: CLUSTER, principals: [ROLE], now: () => serverNow });
});

afterAll(async () => {
  await front?.close();
  await sts?.close();
  await api?.close();
});

beforeEach(() => {
  api.reset();
  seedCanary(api);
  sts.calls.length = 0;
  front.authentications.length = 0;
  serverNow = T0;
});

/** The stepper function's environment on EKS, as serverless.yml sets it, plus what Lambda adds. */
function eksEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    ...ROLE_CREDENTIALS,
    GREENLIGHT_EKS_CLUSTER: CLUSTER,
    GREENLIGHT_EKS_ENDPOINT: front.endpoint,
    GREENLIGHT_EKS_CA: front.certificateAuthority,
    GREENLIGHT_NAMESPACES: NAMESPACE,
    // Nobody listens here: the canary waits for metrics, which is all a pass needs to write its status.
    PROMETHEUS_URL: "http://127.0.0.1:9",
    PROMETHEUS_URL_PARAMETER: "",
    ...extra,
  };
}

/** Runs the handler silently (it logs a JSON line per pass). */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  try {
    return await run();
  } finally {
    log.mockRestore();
  }
}

const CONTEXT = { getRemainingTimeInMillis: () => 55_000 };

describe("the stepper Lambda on EKS", () => {
  it("steps the cluster with a token EKS accepts: signed by the role, for this cluster, checked by STS", async () => {
    let now = T0;
    const handler = createStepperHandler({ env: () => eksEnv(), now: () => now });
    const report = await quietly(() => handler({}, CONTEXT));
    expect(report.error).toBeUndefined();
    expect(report.canaries).toEqual([expect.objectContaining({ deployment: "myapp-v2", outcome: "written" })]);

    // Every call of the pass went through the front door, authenticated as the role by STS.
    expect(api.calls.length).toBeGreaterThan(0);
    expect(front.authentications.length).toBe(api.calls.length);
    expect(front.authentications.every((a) => a.accepted && a.principal === ROLE)).toBe(true);
    expect(new Set(front.authentications.map((a) => a.signedAt))).toEqual(new Set(["20261126T100000Z"]));
    // STS saw the cluster's name in x-k8s-aws-id on the regional endpoint, from the role's access key.
    expect(sts.calls.length).toBe(api.calls.length);
    for (const call of sts.calls) {
      expect(call).toEqual({
        host: "sts.eu-west-1.amazonaws.com",
        clusterId: CLUSTER,
        accessKeyId: ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID,
        status: 200,
      });
    }
    now = minutes(1);
    serverNow = minutes(1);
    const second = await quietly(() => handler({}, CONTEXT));
    expect(second.error).toBeUndefined();
  });

  it("renews the token of a warm instance after 10 minutes, not before, so it never sends an expired one", async () => {
    let now = T0;
    const handler = createStepperHandler({ env: () => eksEnv(), now: () => now });
    const signedAtOfPass = async (at: Date): Promise<Array<string | undefined>> => {
      now = at;
      serverNow = at;
      const before = front.authentications.length;
      const report = await quietly(() => handler({}, CONTEXT));
      expect(report.error, at.toISOString()).toBeUndefined();
      return [...new Set(front.authentications.slice(before).map((a) => a.signedAt))];
    };
    expect(await signedAtOfPass(T0)).toEqual(["20261126T100000Z"]);
    expect(await signedAtOfPass(minutes(5))).toEqual(["20261126T100000Z"]);
    expect(await signedAtOfPass(new Date(minutes(10).getTime() - 1000))).toEqual(["20261126T100000Z"]);
    expect(await signedAtOfPass(minutes(10))).toEqual(["20261126T101000Z"]);
    expect(await signedAtOfPass(minutes(19))).toEqual(["20261126T101000Z"]);
    // An instance idle for longer than a token lives: the first pass after it signs a new one.
    expect(await signedAtOfPass(minutes(47))).toEqual(["20261126T104700Z"]);
    expect(front.authentications.every((a) => a.accepted)).toBe(true);
  });

  it("the same token, kept past 15 minutes, is refused: the renewal is what keeps the passes going", async () => {
    const access = clusterAccessFromEnv(eksEnv(), { now: T0 });
    expect(access.renewAt).toEqual(minutes(10));
    const { createKubeClients } = await import("../../functions/kube/clients.ts");
    const clients = createKubeClients(access.config);
    serverNow = minutes(14);
    await expect(clients.apps.listNamespacedDeployment({ namespace: NAMESPACE })).resolves.toBeDefined();
    serverNow = new Date(minutes(15).getTime() + 1000);
    await expect(clients.apps.listNamespacedDeployment({ namespace: NAMESPACE })).rejects.toMatchObject({ code: 401 });
    expect(front.authentications.at(-1)).toEqual({
      accepted: false,
      reason: "X-Amz-Date parameter is expired (15 minute expiration)",
    });
  });

  it("is refused by STS when the token was signed for another cluster, or with another key", async () => {
    const call = (config: ReturnType<typeof loadKubeConfig>) =>
      import("../../functions/kube/clients.ts").then(({ createKubeClients }) =>
        createKubeClients(config).apps.listNamespacedDeployment({ namespace: NAMESPACE }),
      );
    // A token for another cluster, sent to this one: the x-k8s-aws-id the front door sends is not the one signed.
    const otherToken = loadKubeConfig(eksEnv({ GREENLIGHT_EKS_CLUSTER: "another-cluster" }), {
      now: T0,
    }).getCurrentUser()?.token;
    expect(otherToken).toMatch(/^k8s-aws-v1\./);
    const cluster = eksClusterFromEnv(eksEnv());
    if (cluster === undefined) throw new Error("no EKS settings");
    await expect(call(eksKubeConfig(cluster, otherToken ?? ""))).rejects.toMatchObject({ code: 401 });
    expect(front.authentications.at(-1)).toMatchObject({ accepted: false, reason: "sts: SignatureDoesNotMatch" });
    // A token signed with a secret STS does not know for that key.
    await expect(
      call(loadKubeConfig(eksEnv({ AWS_SECRET_ACCESS_KEY: "not-the-role-secret" }), { now: T0 })),
    ).rejects.toMatchObject({ code: 401 });
    expect(front.authentications.at(-1)).toMatchObject({ accepted: false, reason: "sts: SignatureDoesNotMatch" });
    // Another session's token for the same key.
    await expect(
      call(loadKubeConfig(eksEnv({ AWS_SESSION_TOKEN: "another-session" }), { now: T0 })),
    ).rejects.toMatchObject({ code: 401 });
    expect(front.authentications.at(-1)).toMatchObject({ accepted: false, reason: "sts: InvalidClientTokenId" });
    expect(api.calls).toEqual([]);
  });

  it("checks the API server's certificate against GREENLIGHT_EKS_CA", async () => {
    const { generateCa, caBundleOf } = await import("../../webhooks/certs/certs.ts");
    const stranger = caBundleOf(generateCa({ commonName: "not-the-cluster-ca" }).certPem);
    const handler = createStepperHandler({ env: () => eksEnv({ GREENLIGHT_EKS_CA: stranger }), now: () => T0 });
    // The pass reaches no API server it cannot verify: it fails, and nothing was sent to the front door.
    await expect(quietly(() => handler({}, CONTEXT))).rejects.toThrow(/unable to verify the first certificate/);
    expect(front.authentications).toEqual([]);
  });
});

describe("the EKS settings", () => {
  /** The message the handler fails its pass with, and the JSON line it logs. */
  async function failure(env: Record<string, string | undefined>): Promise<string> {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const handler = createStepperHandler({ env: () => env, now: () => T0 });
      const error = await handler({}, CONTEXT).then(
        () => new Error("the pass did not fail"),
        (reason: unknown) => reason as Error,
      );
      const line = JSON.parse(String(log.mock.calls.at(-1)?.[0])) as { msg: string; error: string };
      expect(line).toEqual({ msg: "greenlight step", error: error.message });
      return error.message;
    } finally {
      log.mockRestore();
    }
  }

  it("wants all three or none, naming what is missing", async () => {
    expect(await failure(eksEnv({ GREENLIGHT_EKS_ENDPOINT: "", GREENLIGHT_EKS_CA: undefined }))).toMatch(
      /^GREENLIGHT_EKS_CLUSTER is set but GREENLIGHT_EKS_ENDPOINT and GREENLIGHT_EKS_CA are not: the EKS route needs all three/,
    );
    expect(await failure(eksEnv({ GREENLIGHT_EKS_CLUSTER: " " }))).toMatch(
      /^GREENLIGHT_EKS_ENDPOINT and GREENLIGHT_EKS_CA are set but GREENLIGHT_EKS_CLUSTER is not/,
    );
    expect(eksClusterFromEnv({})).toBeUndefined();
    expect(eksClusterFromEnv({ GREENLIGHT_EKS_CLUSTER: "", GREENLIGHT_EKS_ENDPOINT: "", GREENLIGHT_EKS_CA: "" })).toBe(
      undefined,
    );
  });

  it("refuses a kubeconfig next to them, by value or by name, before fetching anything, saying which to drop", async () => {
    expect(await failure(eksEnv({ GREENLIGHT_KUBECONFIG: "apiVersion: v1\nkind: Config\n" }))).toBe(
      "GREENLIGHT_KUBECONFIG and GREENLIGHT_EKS_CLUSTER are both set: drop GREENLIGHT_KUBECONFIG to sign in with " +
        "the role's EKS access entry, or drop GREENLIGHT_EKS_CLUSTER, GREENLIGHT_EKS_ENDPOINT and GREENLIGHT_EKS_CA " +
        "to keep the kubeconfig",
    );
    // Had it tried Secrets Manager, the error would be a fetch's (no endpoint, no SDK configured here).
    expect(await failure(eksEnv({ GREENLIGHT_KUBECONFIG_SECRET: "greenlight/prod/stepper-kubeconfig" }))).toMatch(
      /^GREENLIGHT_KUBECONFIG_SECRET and GREENLIGHT_EKS_CLUSTER are both set: drop GREENLIGHT_KUBECONFIG_SECRET /,
    );
  });

  it("names a bad cluster name, endpoint or CA", async () => {
    expect(await failure(eksEnv({ GREENLIGHT_EKS_CLUSTER: "prod.eu" }))).toMatch(
      /^GREENLIGHT_EKS_CLUSTER="prod.eu" is invalid; accepted: an EKS cluster name, 1 to 100 letters, digits, '-' and '_'/,
    );
    for (const endpoint of [
      "http://ABC.gr7.eu-west-1.eks.amazonaws.com",
      "ABC.gr7.eu-west-1.eks.amazonaws.com",
      "https://ABC.gr7.eu-west-1.eks.amazonaws.com/api",
    ]) {
      expect(await failure(eksEnv({ GREENLIGHT_EKS_ENDPOINT: endpoint }))).toMatch(
        /^GREENLIGHT_EKS_ENDPOINT=".*" is invalid; accepted: the cluster's https URL/,
      );
    }
    const pem = Buffer.from(front.certificateAuthority, "base64").toString();
    for (const ca of [pem, Buffer.from("not a certificate").toString("base64")]) {
      expect(await failure(eksEnv({ GREENLIGHT_EKS_CA: ca }))).toMatch(
        /^GREENLIGHT_EKS_CA is invalid; accepted: base64 of the CA's PEM/,
      );
    }
  });

  it("names the AWS variable that is missing", async () => {
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) {
      expect(await failure(eksEnv({ [name]: undefined })), name).toMatch(new RegExp(`^${name} is not set: `));
    }
  });

  it("leaves the kubeconfig route as it was when none of them is set", () => {
    const access = clusterAccessFromEnv(
      { GREENLIGHT_KUBECONFIG: api.kubeConfig().exportConfig(), GREENLIGHT_EKS_CLUSTER: "" },
      { inlineOnly: true },
    );
    expect(access.renewAt).toBeUndefined();
    expect(access.config.getCurrentUser()?.token).toBe(api.token);
  });

  it("builds the KubeConfig in memory: the endpoint, its CA, the token as the user's bearer token", () => {
    const config = loadKubeConfig(eksEnv(), { now: T0 });
    expect(config.getCurrentCluster()).toMatchObject({
      name: CLUSTER,
      server: front.endpoint,
      caData: front.certificateAuthority,
      skipTLSVerify: false,
    });
    const expected = eksToken({
      credentials: {
        accessKeyId: ROLE_CREDENTIALS.AWS_ACCESS_KEY_ID,
        secretAccessKey: ROLE_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
        sessionToken: ROLE_CREDENTIALS.AWS_SESSION_TOKEN,
      },
      region: "eu-west-1",
      clusterName: CLUSTER,
      now: T0,
    });
    expect(config.getCurrentUser()?.token).toBe(expected.token);
  });
});

describe("manifests/overlays/eks-access-entry", () => {
  const rendered = renderAll();
  const objects = rendered.get("overlays/eks-access-entry") ?? [];
  type Binding = KubeObject & { roleRef: { kind: string; name: string }; subjects: Array<Record<string, string>> };

  it("binds the access entry's group to the stepper's ClusterRole, per namespace as the stepper base does", () => {
    const bindings = objects.filter((o): o is Binding => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding");
    const base = (rendered.get("stepper") ?? []).filter((o) => o.kind === "RoleBinding");
    expect(bindings.map((b) => `${b.kind} ${b.metadata.namespace}/${b.metadata.name}`)).toEqual(
      base.map((b) => `RoleBinding ${b.metadata.namespace}/${b.metadata.name}`),
    );
    for (const binding of bindings) {
      expect(binding.roleRef).toMatchObject({ kind: "ClusterRole", name: "greenlight-stepper" });
      expect(binding.subjects).toEqual([
        { kind: "Group", apiGroup: "rbac.authorization.k8s.io", name: "greenlight-stepper" },
      ]);
    }
    // The same rules as the ServiceAccount's, so test/manifests/rbac.test.ts's checks of a pass hold for the group.
    const role = (list: KubeObject[]) => list.find((o) => o.kind === "ClusterRole");
    expect(role(objects)).toEqual(role(rendered.get("stepper") ?? []));
  });

  it("installs nothing that runs and no ServiceAccount: the stepper runs in Lambda, no token in the cluster", () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(["ClusterRole", "RoleBinding"]);
  });
});
