// Packages serverless.yml with every optional setting given (the optional secrets, a customer KMS key, a VPC for the
// stepper, other limits) and checks what each role is then allowed, as CloudFormation would decide its conditions.
/*
 * In a copy of the service: serverless-esbuild builds into `<service>/.esbuild` and `osls package` deletes that
 * folder when it is done, so two packagings of one directory at once (test/lambda/package.test.ts runs in
 * parallel) would pull the bundles out from under each other.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CfnTemplate, evaluate, grants, type Json, roleStatements, secretArn, ssmArn } from "./cfn.ts";
import { copyService, filesUnder, oslsPackage, PACKAGE_TIMEOUT_MS, SECRET_MARKERS } from "./service.ts";

const KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b6c2f3e-1111-4a4a-9b9b-123456789abc";

const PARAMS = {
  upstashTokenParameter: "/acme/flags/upstash",
  adminTokenParameter: "/acme/flags/admin-token",
  adminTokensParameter: "/acme/flags/admin-tokens",
  flagsApiKeyParameter: "/acme/flags/api-key",
  kubeconfigSecret: "acme/stepper/kubeconfig",
  prometheusUrlParameter: "/acme/stepper/prometheus-url",
  secretsKmsKeyArn: KMS_KEY,
  stepperSubnetIds: "subnet-0aaa,subnet-0bbb",
  stepperSecurityGroupIds: "sg-0ccc",
  // From the command line every parameter is a string.
  webhookConcurrency: "5",
  flagsConcurrency: "7",
  httpApiRateLimit: "10",
  httpApiBurstLimit: "20",
};

describe("osls package with every option set", () => {
  let work = "";
  let template: CfnTemplate;
  let outDir = "";

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "greenlight-package-options-"));
    const service = join(work, "service");
    await copyService(service);
    outDir = join(work, "package");
    const { ms } = await oslsPackage({ cwd: service, outDir, params: PARAMS, env: { ...SECRET_MARKERS } });
    console.info(`osls package (every option) took ${ms} ms`);
    template = JSON.parse(
      await readFile(join(outDir, "cloudformation-template-update-stack.json"), "utf8"),
    ) as CfnTemplate;
  }, PACKAGE_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const functionProperties = (logicalId: string) =>
    evaluate(template, template.Resources[logicalId]?.Properties as Json) as Record<string, Json>;

  it("grants the flag function exactly the four parameters it is given, and the key only through SSM", () => {
    const statements = roleStatements(template, "FlagsRole");
    expect(grants(statements)).toEqual({
      "logs:CreateLogStream": ["FlagsLogGroup.Arn"],
      "logs:PutLogEvents": ["FlagsLogGroup.Arn"],
      "ssm:GetParameter": [
        ssmArn("/acme/flags/admin-token"),
        ssmArn("/acme/flags/admin-tokens"),
        ssmArn("/acme/flags/api-key"),
        ssmArn("/acme/flags/upstash"),
      ],
      "kms:Decrypt": [KMS_KEY],
    });
    expect(statements.find((s) => s.Action.includes("kms:Decrypt"))?.Condition).toEqual({
      StringEquals: { "kms:ViaService": "ssm.eu-west-1.amazonaws.com" },
    });
    expect(functionProperties("FlagsLambdaFunction").Environment).toMatchObject({
      Variables: {
        UPSTASH_REDIS_REST_TOKEN_PARAMETER: "/acme/flags/upstash",
        GREENLIGHT_ADMIN_TOKEN_PARAMETER: "/acme/flags/admin-token",
        GREENLIGHT_ADMIN_TOKENS_PARAMETER: "/acme/flags/admin-tokens",
        GREENLIGHT_FLAGS_API_KEY_PARAMETER: "/acme/flags/api-key",
      },
    });
  });

  it("grants the stepper its secret, its Prometheus parameter, the key through both services, and the VPC policy", () => {
    const statements = roleStatements(template, "StepperRole");
    expect(grants(statements)).toEqual({
      "logs:CreateLogStream": ["StepperLogGroup.Arn"],
      "logs:PutLogEvents": ["StepperLogGroup.Arn"],
      "secretsmanager:GetSecretValue": [secretArn("acme/stepper/kubeconfig")],
      "ssm:GetParameter": [ssmArn("/acme/stepper/prometheus-url")],
      "sqs:SendMessage": ["StepperFailureQueue.Arn"],
      "kms:Decrypt": [KMS_KEY],
    });
    expect(statements.find((s) => s.Action.includes("kms:Decrypt"))?.Condition).toEqual({
      StringEquals: {
        "kms:ViaService": ["secretsmanager.eu-west-1.amazonaws.com", "ssm.eu-west-1.amazonaws.com"],
      },
    });
    const role = evaluate(template, template.Resources.StepperRole?.Properties as Json) as Record<string, Json>;
    expect(role.ManagedPolicyArns).toEqual(["arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]);
  });

  it("puts the stepper, and only the stepper, in the given subnets and security group", () => {
    expect(functionProperties("StepperLambdaFunction").VpcConfig).toEqual({
      SubnetIds: ["subnet-0aaa", "subnet-0bbb"],
      SecurityGroupIds: ["sg-0ccc"],
    });
    expect(functionProperties("WebhookLambdaFunction").VpcConfig).toBeUndefined();
    expect(functionProperties("FlagsLambdaFunction").VpcConfig).toBeUndefined();
    expect(functionProperties("StepperLambdaFunction").Environment).toMatchObject({
      Variables: {
        GREENLIGHT_KUBECONFIG_SECRET: "acme/stepper/kubeconfig",
        PROMETHEUS_URL_PARAMETER: "/acme/stepper/prometheus-url",
        // Not on EKS (package-eks.test.ts packages that): the kubeconfig above is how it reaches its cluster.
        GREENLIGHT_EKS_CLUSTER: "",
      },
    });
  });

  it("leaves the webhook its logs only, whatever else is configured", () => {
    expect(grants(roleStatements(template, "WebhookRole"))).toEqual({
      "logs:CreateLogStream": ["WebhookLogGroup.Arn"],
      "logs:PutLogEvents": ["WebhookLogGroup.Arn"],
    });
  });

  it("takes the limits from the command line", () => {
    // osls's schema turns reservedConcurrency into a number; the stage's settings (a resources extension, which
    // osls does not validate) keep the command line's string, which CloudFormation converts to the number.
    expect(functionProperties("WebhookLambdaFunction").ReservedConcurrentExecutions).toBe(5);
    expect(functionProperties("FlagsLambdaFunction").ReservedConcurrentExecutions).toBe(7);
    const settings = functionProperties("HttpApiStage").DefaultRouteSettings as Record<string, Json>;
    expect(settings.DetailedMetricsEnabled).toBe(false);
    expect(Number(settings.ThrottlingRateLimit)).toBe(10);
    expect(Number(settings.ThrottlingBurstLimit)).toBe(20);
  });

  it("still writes none of the secrets in osls's environment", async () => {
    for (const file of await filesUnder(outDir)) {
      if (file.endsWith(".zip")) continue; // The bundles are the same code as in package.test.ts, which scans them.
      const text = await readFile(join(outDir, file), "utf8");
      expect(text.includes("SECRET-MARKER"), file).toBe(false);
    }
  });
});
