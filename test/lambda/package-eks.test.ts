// Packages serverless.yml for a stepper on EKS (eksClusterName, eksEndpoint, eksCertificateAuthority) and checks
// what changes: the three variables set, no kubeconfig secret named or readable, the secrets policy gone when nothing
// else is secret; then runs the bundled stepper under the Lambda runtime's Node against a fake EKS (an authenticating
// TLS front door, STS recomputing the signature, the fake API server behind).
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NAMESPACE, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { startEksFront, startFakeSts } from "../kube/fake-eks.ts";
import { type CfnTemplate, condition, evaluate, grants, type Json, roleStatements, ssmArn } from "./cfn.ts";
import { copyService, extract, filesUnder, lambdaNode, oslsPackage, PACKAGE_TIMEOUT_MS } from "./service.ts";

const run = promisify(execFile);

const KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b6c2f3e-1111-4a4a-9b9b-123456789abc";
const EKS = {
  eksClusterName: "prod-eu_1",
  eksEndpoint: "https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com",
  // Not a CA (the template only carries it): base64 of "-----BEGIN CERTIFICATE-----".
  eksCertificateAuthority: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
};

/** Imports the bundle in a fresh Node, as the Lambda runtime would, and runs one pass per event; prints the answers. */
const RUNNER = `
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
const [bundle, count] = process.argv.slice(2);
const { handler } = await import(pathToFileURL(bundle).href);
const results = [];
for (let i = 0; i < Number(count); i++) results.push(await handler({}, { getRemainingTimeInMillis: () => 55000 }));
process.stdout.write("\\n" + JSON.stringify({ node: process.version, results }));
`;

describe("osls package for a stepper on EKS", () => {
  let work = "";
  /** EKS alone: the stepper has no secret at all. */
  let bare: CfnTemplate;
  /** EKS with a Prometheus URL parameter and a customer KMS key: one secret, in SSM. */
  let withSecret: CfnTemplate;
  let outDir = "";

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "greenlight-package-eks-"));
    const packaged = async (name: string, params: Record<string, string>): Promise<CfnTemplate> => {
      const service = join(work, `service-${name}`);
      await copyService(service);
      const out = join(work, `package-${name}`);
      const { ms } = await oslsPackage({ cwd: service, outDir: out, params });
      console.info(`osls package (EKS, ${name}) took ${ms} ms`);
      if (name === "bare") outDir = out;
      return JSON.parse(await readFile(join(out, "cloudformation-template-update-stack.json"), "utf8")) as CfnTemplate;
    };
    [bare, withSecret] = await Promise.all([
      packaged("bare", EKS),
      packaged("with-secret", {
        ...EKS,
        kubeconfigSecret: "acme/stepper/kubeconfig",
        prometheusUrlParameter: "/acme/stepper/prometheus-url",
        secretsKmsKeyArn: KMS_KEY,
      }),
    ]);
  }, PACKAGE_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const stepperEnvironment = (template: CfnTemplate) =>
    (
      evaluate(template, template.Resources.StepperLambdaFunction?.Properties as Json) as {
        Environment: { Variables: Record<string, string> };
      }
    ).Environment.Variables;

  it("hands the stepper the cluster's name, endpoint and CA, and no kubeconfig secret name", () => {
    for (const template of [bare, withSecret]) {
      expect(condition(template, "StepperOnEks")).toBe(true);
      const variables = stepperEnvironment(template);
      expect(variables).toMatchObject({
        GREENLIGHT_EKS_CLUSTER: EKS.eksClusterName,
        GREENLIGHT_EKS_ENDPOINT: EKS.eksEndpoint,
        GREENLIGHT_EKS_CA: EKS.eksCertificateAuthority,
      });
      // Not even blank: the variable is left out, whatever kubeconfigSecret says.
      expect(Object.keys(variables)).not.toContain("GREENLIGHT_KUBECONFIG_SECRET");
    }
    expect(stepperEnvironment(withSecret).PROMETHEUS_URL_PARAMETER).toBe("/acme/stepper/prometheus-url");
  });

  it("gives the stepper's role no secrets policy when nothing else is secret: its logs and its failure queue", () => {
    expect(condition(bare, "StepperHasSecrets")).toBe(false);
    expect(grants(roleStatements(bare, "StepperRole"))).toEqual({
      "logs:CreateLogStream": ["StepperLogGroup.Arn"],
      "logs:PutLogEvents": ["StepperLogGroup.Arn"],
      "sqs:SendMessage": ["StepperFailureQueue.Arn"],
    });
    const role = evaluate(bare, bare.Resources.StepperRole?.Properties as Json) as {
      Policies: Array<{ PolicyName: string }>;
    };
    expect(role.Policies.map((policy) => policy.PolicyName)).toEqual(["logs", "failures"]);
  });

  it("keeps the other secrets' grants without the kubeconfig's, and the key through SSM only", () => {
    const statements = roleStatements(withSecret, "StepperRole");
    expect(grants(statements)).toEqual({
      "logs:CreateLogStream": ["StepperLogGroup.Arn"],
      "logs:PutLogEvents": ["StepperLogGroup.Arn"],
      "ssm:GetParameter": [ssmArn("/acme/stepper/prometheus-url")],
      "sqs:SendMessage": ["StepperFailureQueue.Arn"],
      "kms:Decrypt": [KMS_KEY],
    });
    expect(statements.find((s) => s.Action.includes("kms:Decrypt"))?.Condition).toEqual({
      StringEquals: { "kms:ViaService": ["ssm.eu-west-1.amazonaws.com"] },
    });
  });

  it("outputs the stepper role's ARN, the access entry's principal", () => {
    expect(bare.Outputs?.StepperRoleArn).toEqual({
      Description: "IAM role of the stepper function (its EKS access entry's principal)",
      Value: { "Fn::GetAtt": ["StepperRole", "Arn"] },
    });
  });

  it("runs the bundled stepper under the runtime's Node: it signs its token and EKS lets it in", async () => {
    const cluster = EKS.eksClusterName;
    const role = "arn:aws:iam::123456789012:role/greenlight-test-StepperRole-0A1B2C3D4E5F";
    const credentials = {
      AWS_ACCESS_KEY_ID: "ASIAQBUNDLEEXAMPLE01",
      AWS_SECRET_ACCESS_KEY: "YnVuZGxlZC1zdGVwcGVyLXNlY3JldC1rZXk",
      AWS_SESSION_TOKEN: "IQoJb3JpZ2luX2VjEOr//////////wEaCWV1LXdlc3QtMSJGMEQCIHbundle+session/token==",
      AWS_REGION: "eu-west-1",
    };
    const [node, api] = await Promise.all([lambdaNode(), startFakeApiServer()]);
    const sts = await startFakeSts({
      principals: [
        {
          accessKeyId: credentials.AWS_ACCESS_KEY_ID,
          secretAccessKey: credentials.AWS_SECRET_ACCESS_KEY,
          sessionToken: credentials.AWS_SESSION_TOKEN,
          arn: "arn:aws:sts::123456789012:assumed-role/greenlight-test-StepperRole-0A1B2C3D4E5F/greenlight-test-stepper",
          userId: "AROAQBUNDLEEXAMPLE01:greenlight-test-stepper",
          account: "123456789012",
        },
      ],
    });
    const front = await startEksFront({ api, sts, clusterName: cluster, principals: [role] });
    try {
      seedCanary(api);
      const dir = join(work, "run-stepper");
      await extract(join(outDir, "stepper.zip"), dir);
      // No AWS SDK next to it: on EKS the stepper fetches no secret and needs none.
      expect(await filesUnder(dir)).toEqual(["functions/stepper/lambda.mjs"]);
      const runner = join(work, "runner.mjs");
      await writeFile(runner, RUNNER);
      const { stdout } = await run(node, [runner, join(dir, "functions/stepper/lambda.mjs"), "2"], {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? "",
          ...credentials,
          GREENLIGHT_EKS_CLUSTER: cluster,
          GREENLIGHT_EKS_ENDPOINT: front.endpoint,
          GREENLIGHT_EKS_CA: front.certificateAuthority,
          GREENLIGHT_NAMESPACES: NAMESPACE,
          PROMETHEUS_URL: "http://127.0.0.1:9",
          PROMETHEUS_URL_PARAMETER: "",
        },
      });
      const answer = JSON.parse(stdout.trimEnd().split("\n").at(-1) ?? "{}") as {
        node: string;
        results: Array<{ canaries: Array<{ deployment: string; outcome: string }>; error?: string }>;
      };
      expect(Number(answer.node.slice(1).split(".")[0])).toBe(24);
      expect(answer.results[0]?.canaries).toEqual([
        expect.objectContaining({ deployment: "myapp-v2", outcome: "written" }),
      ]);
      expect(answer.results.map((result) => result.error)).toEqual([undefined, undefined]);
      // Every call of both passes authenticated as the role, with one token (the instance keeps it 10 minutes).
      expect(front.authentications.length).toBe(api.calls.length);
      expect(front.authentications.every((a) => a.accepted && a.principal === role)).toBe(true);
      expect(new Set(front.authentications.map((a) => a.signedAt)).size).toBe(1);
      expect(sts.calls.every((call) => call.status === 200 && call.clusterId === cluster)).toBe(true);
      expect(stdout).not.toContain(credentials.AWS_SECRET_ACCESS_KEY);
    } finally {
      await front.close();
      await sts.close();
      await api.close();
    }
  });
});
