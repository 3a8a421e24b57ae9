// Packages the service with osls offline, checks the CloudFormation it would deploy (per-function roles, secrets by
// name only, closed webhook routes, throttling, the stepper's failure handling), and runs each bundled handler under
// the Node.js of the Lambda runtime it declares, reading its secrets from a fake SSM / Secrets Manager endpoint.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningFakeSecrets, startFakeSecrets } from "../../scripts/fakes/aws-secrets.ts";
import { NAMESPACE, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { deploymentReview, httpApiEvent } from "../../scripts/fakes/lambda-events.ts";
import { startRedis } from "../../scripts/services/redis.ts";
import { startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";
import { type CfnTemplate, condition, evaluate, grants, type Json, roleStatements, secretArn, ssmArn } from "./cfn.ts";
import {
  extract,
  filesUnder,
  lambdaNode,
  oslsPackage,
  PACKAGE_TIMEOUT_MS,
  ROOT,
  SECRET_MARKERS,
  WEBHOOK_PATH_SECRET,
} from "./service.ts";

const run = promisify(execFile);

/** An admin token as strong as the flag function demands (256 bits: `openssl rand -hex 32`). */
const ADMIN_TOKEN = "5b0c1f6e9a2d47c8b3e1f0a9d8c7b6a5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9";

/** The Lambda runtime's major version from serverless.yml's `nodejs24.x`. */
const runtimeMajor = (runtime: unknown): number => Number(/^nodejs(\d+)\.x$/.exec(String(runtime))?.[1] ?? Number.NaN);

/**
 * Imports the bundle in a fresh Node process, as the Lambda runtime would, and calls its handler with each event;
 * prints the Node version it ran under and the answers as the last line.
 */
const RUNNER = `
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
const [bundle, eventsFile] = process.argv.slice(2);
const { handler } = await import(pathToFileURL(bundle).href);
const events = JSON.parse(await readFile(eventsFile, "utf8"));
const results = [];
for (const event of events) results.push(await handler(event, { getRemainingTimeInMillis: () => 55000 }));
process.stdout.write("\\n" + JSON.stringify({ node: process.version, results }));
`;

interface BundleResult {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
}

interface BundleRun<T> {
  node: string;
  results: T[];
  /** What the handler logged before the answers (the stepper's JSON line per pass). */
  log: string[];
}

function withHeaders<T extends { headers?: Record<string, string | undefined> }>(
  event: T,
  headers: Record<string, string>,
): T {
  return { ...event, headers: { ...event.headers, ...headers } };
}

describe("osls package", () => {
  let work = "";
  let outDir = "";
  let template: CfnTemplate;
  let node = "";

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "greenlight-package-"));
    outDir = join(work, "package");
    const [{ ms }, binary] = await Promise.all([
      oslsPackage({ cwd: ROOT, outDir, env: { ...SECRET_MARKERS } }),
      lambdaNode(),
    ]);
    node = binary;
    console.info(`osls package took ${ms} ms`);
    template = JSON.parse(
      await readFile(join(outDir, "cloudformation-template-update-stack.json"), "utf8"),
    ) as CfnTemplate;
  }, PACKAGE_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const resourcesOfType = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);
  const functionWith = (handler: string) =>
    resourcesOfType("AWS::Lambda::Function").find((f) => f.Properties.Handler === handler);
  const logicalIdOf = (handler: string) =>
    Object.entries(template.Resources).find(([, resource]) => resource.Properties.Handler === handler)?.[0];
  const environmentOf = (handler: string) =>
    (functionWith(handler)?.Properties.Environment as { Variables: Record<string, string> } | undefined)?.Variables;

  /**
   * Runs a bundle from `zip` under the Lambda's Node, in `dir`. With `sdk`, `dir/node_modules/@aws-sdk` links to
   * the repository's AWS SDK, as the Lambda runtime provides it; without, the bundle must need no package at all.
   */
  async function runBundle<T>(
    zip: string,
    entry: string,
    events: unknown[],
    env: Record<string, string>,
    options: { sdk?: boolean } = {},
  ): Promise<BundleRun<T>> {
    const dir = join(work, `run-${zip}-${options.sdk ? "sdk" : "bare"}`);
    if (!existsSync(dir)) {
      await extract(join(outDir, zip), dir);
      expect(await filesUnder(dir)).toEqual([entry]);
      if (options.sdk) {
        await mkdir(join(dir, "node_modules"));
        await symlink(join(ROOT, "node_modules/@aws-sdk"), join(dir, "node_modules/@aws-sdk"), "dir");
      }
    }
    const runner = join(work, "runner.mjs");
    const eventsFile = join(dir, "events.json");
    await writeFile(runner, RUNNER);
    await writeFile(eventsFile, JSON.stringify(events));
    const { stdout } = await run(node, [runner, join(dir, entry), eventsFile], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    const lines = stdout.trimEnd().split("\n");
    const last = JSON.parse(lines.at(-1) ?? "{}") as { node: string; results: T[] };
    return { ...last, log: lines.slice(0, -1).filter((line) => line !== "") };
  }

  it("declares the three functions on nodejs24.x arm64, each with a role of its own", () => {
    const functions = resourcesOfType("AWS::Lambda::Function");
    expect(functions).toHaveLength(3);
    const roles = functions.map((f) => {
      expect(f.Properties).toMatchObject({ Runtime: "nodejs24.x", Architectures: ["arm64"] });
      return (f.Properties.Role as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
    });
    expect(roles.sort()).toEqual(["FlagsRole", "StepperRole", "WebhookRole"]);
    // No shared role for osls to widen: each function's statements are in its own role only.
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
    expect(resourcesOfType("AWS::IAM::Role")).toHaveLength(3);
    for (const role of resourcesOfType("AWS::IAM::Role")) {
      expect(role.Properties.AssumeRolePolicyDocument).toEqual({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
      });
    }
    const logs = resourcesOfType("AWS::Logs::LogGroup");
    expect(logs.map((group) => group.Properties.RetentionInDays)).toEqual([14, 14, 14]);
  });

  it("declares the webhook with its settings, its path prefix and a concurrency cap", () => {
    expect(functionWith("webhooks/lambda.handler")?.Properties).toMatchObject({
      MemorySize: 256,
      Timeout: 10,
      ReservedConcurrentExecutions: 20,
      Environment: {
        Variables: { GREENLIGHT_ON_ERROR: "allow", GREENLIGHT_WEBHOOK_PATH_PREFIX: `/${WEBHOOK_PATH_SECRET}` },
      },
    });
  });

  it("declares the stepper on a one-minute schedule, one pass at a time", () => {
    expect(functionWith("functions/stepper/lambda.handler")?.Properties).toMatchObject({
      Timeout: 55,
      ReservedConcurrentExecutions: 1,
    });
    const rules = resourcesOfType("AWS::Events::Rule");
    expect(rules.map((rule) => rule.Properties.ScheduleExpression)).toEqual(["rate(1 minute)"]);
  });

  it("drops a failed or late stepper pass instead of retrying it, and records it in the failure queue", () => {
    const configs = resourcesOfType("AWS::Lambda::EventInvokeConfig");
    // Only the stepper is invoked asynchronously (the others sit behind API Gateway) and only it is configured.
    expect(configs).toHaveLength(1);
    expect(configs[0]?.Properties).toEqual({
      FunctionName: { Ref: logicalIdOf("functions/stepper/lambda.handler") },
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": ["StepperFailureQueue", "Arn"] } } },
      Qualifier: "$LATEST",
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
    expect(template.Resources.StepperFailureQueue).toMatchObject({
      Type: "AWS::SQS::Queue",
      Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
    });
  });

  it("alarms when stepper passes keep failing: 3 of the last 5 minutes, to a topic of its own", () => {
    const alarms = resourcesOfType("AWS::CloudWatch::Alarm");
    expect(alarms).toHaveLength(1);
    expect(alarms[0]?.Properties).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: logicalIdOf("functions/stepper/lambda.handler") } }],
      Statistic: "Sum",
      Period: 60,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: "AlarmTopic" }],
      OKActions: [{ Ref: "AlarmTopic" }],
    });
    expect(template.Resources.AlarmTopic?.Type).toBe("AWS::SNS::Topic");
  });

  it("hands the functions the names of their secrets, never a value", () => {
    expect(environmentOf("functions/flags/lambda.handler")).toMatchObject({
      UPSTASH_REDIS_REST_URL: "",
      UPSTASH_REDIS_REST_TOKEN_PARAMETER: "/greenlight/test/upstash-token",
      GREENLIGHT_ADMIN_TOKEN_PARAMETER: "",
      GREENLIGHT_ADMIN_TOKENS_PARAMETER: "",
      GREENLIGHT_FLAGS_API_KEY_PARAMETER: "",
      GREENLIGHT_FLAGS_CACHE_TTL: "5s",
      GREENLIGHT_NOTIFY_SLACK_URL_PARAMETER: "",
      GREENLIGHT_NOTIFY_CLOUDEVENTS_URL: "",
    });
    // As CloudFormation gives them: the kubeconfig's name is conditional (left out on EKS), here it is set.
    expect(evaluate(template, environmentOf("functions/stepper/lambda.handler") as Json)).toEqual({
      PROMETHEUS_URL: "",
      PROMETHEUS_URL_PARAMETER: "",
      GREENLIGHT_KUBECONFIG_SECRET: "greenlight/test/stepper-kubeconfig",
      GREENLIGHT_EKS_CLUSTER: "",
      GREENLIGHT_EKS_ENDPOINT: "",
      GREENLIGHT_EKS_CA: "",
      GREENLIGHT_NAMESPACES: "",
      GREENLIGHT_NOTIFY_SLACK_URL_PARAMETER: "",
      GREENLIGHT_NOTIFY_CLOUDEVENTS_URL: "",
      GREENLIGHT_NOTIFY_CLOUDEVENTS_MODE: "",
      GREENLIGHT_NOTIFY: "",
    });
    expect(condition(template, "StepperOnEks")).toBe(false);
    // PROMETHEUS_URL stays a plain variable for a URL without credentials, from a parameter, never from the shell.
    for (const f of resourcesOfType("AWS::Lambda::Function")) {
      const variables = Object.keys((f.Properties.Environment as { Variables: Record<string, string> }).Variables);
      for (const secret of Object.keys(SECRET_MARKERS).filter((name) => name !== "PROMETHEUS_URL")) {
        expect(variables).not.toContain(secret);
      }
    }
  });

  it("writes none of the secrets in osls's environment anywhere in its output, zips included", async () => {
    const texts: Array<[string, string]> = [];
    for (const file of await filesUnder(outDir)) {
      if (!file.endsWith(".zip")) {
        texts.push([file, await readFile(join(outDir, file), "utf8")]);
        continue;
      }
      const into = join(work, "scan", file);
      await mkdir(into, { recursive: true });
      await extract(join(outDir, file), into);
      for (const inner of await filesUnder(into))
        texts.push([`${file}:${inner}`, await readFile(join(into, inner), "utf8")]);
    }
    // The scan reads what it should: the template, and the bundles inside the zips.
    expect(texts.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        "cloudformation-template-update-stack.json",
        "webhook.zip:webhooks/lambda.mjs",
        "flags.zip:functions/flags/lambda.mjs",
        "stepper.zip:functions/stepper/lambda.mjs",
      ]),
    );
    expect(texts.some(([, text]) => text.includes("greenlight step"))).toBe(true);
    for (const [name, text] of texts) {
      expect(text.includes("SECRET-MARKER"), `${name} holds a secret from the environment`).toBe(false);
      for (const value of Object.values(SECRET_MARKERS)) expect(text.includes(value), name).toBe(false);
    }
  });

  it("closes the webhook routes and /metrics behind the secret path segment; /healthz and the flag routes stay open", () => {
    expect(resourcesOfType("AWS::ApiGatewayV2::Api")).toHaveLength(1);
    const routes = resourcesOfType("AWS::ApiGatewayV2::Route")
      .map((r) => r.Properties.RouteKey)
      .sort();
    const secret = `/${WEBHOOK_PATH_SECRET}`;
    expect(routes).toEqual(
      [
        "DELETE /admin/flags/{key}",
        "GET /admin/audit",
        "GET /admin/flags",
        "GET /admin/flags/{key}",
        "GET /admin/flags/{key}/rollout",
        "OPTIONS /admin/flags/{key}/rollout",
        "OPTIONS /admin/flags/{key}/rollout/{control}",
        "POST /admin/flags/{key}/rollout/{control}",
        "GET /admin/stale",
        "GET /flags/healthz",
        "GET /healthz",
        `GET ${secret}/metrics`,
        "OPTIONS /admin/flags",
        "OPTIONS /admin/flags/{key}",
        "OPTIONS /ofrep/v1/evaluate/flags",
        "OPTIONS /ofrep/v1/evaluate/flags/{key}",
        "POST /ofrep/v1/evaluate/flags",
        "POST /ofrep/v1/evaluate/flags/{key}",
        `POST ${secret}/mutate`,
        `POST ${secret}/mutate/namespace`,
        `POST ${secret}/validate`,
        "PUT /admin/flags/{key}",
      ].sort(),
    );
    // No catch-all that would hand the function a guessed path.
    expect(routes.some((route) => /\{proxy\+?\}|\$default/.test(String(route)))).toBe(false);
    const integrations = resourcesOfType("AWS::ApiGatewayV2::Integration");
    expect(integrations[0]?.Properties).toMatchObject({ IntegrationType: "AWS_PROXY", PayloadFormatVersion: "2.0" });
  });

  it("throttles every route of the HTTP API and caps the HTTP functions' concurrency", () => {
    const [stage] = resourcesOfType("AWS::ApiGatewayV2::Stage");
    expect(stage?.Properties).toMatchObject({
      StageName: "$default",
      DefaultRouteSettings: { DetailedMetricsEnabled: false, ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
    expect(functionWith("webhooks/lambda.handler")?.Properties.ReservedConcurrentExecutions).toBe(20);
    expect(functionWith("functions/flags/lambda.handler")?.Properties.ReservedConcurrentExecutions).toBe(50);
  });

  it("grants the webhook its own log group and nothing else", () => {
    expect(grants(roleStatements(template, "WebhookRole"))).toEqual({
      "logs:CreateLogStream": ["WebhookLogGroup.Arn"],
      "logs:PutLogEvents": ["WebhookLogGroup.Arn"],
    });
  });

  it("grants the flag function its log group and exactly its one SSM parameter (the optional ones are off)", () => {
    expect(grants(roleStatements(template, "FlagsRole"))).toEqual({
      "logs:CreateLogStream": ["FlagsLogGroup.Arn"],
      "logs:PutLogEvents": ["FlagsLogGroup.Arn"],
      "ssm:GetParameter": [ssmArn("/greenlight/test/upstash-token")],
    });
  });

  it("grants the stepper its log group, its kubeconfig secret and its failure queue; no VPC, no KMS key", () => {
    // Not on EKS: the kubeconfig secret is the stepper's one secret.
    expect(condition(template, "StepperReadsKubeconfig")).toBe(true);
    expect(grants(roleStatements(template, "StepperRole"))).toEqual({
      "logs:CreateLogStream": ["StepperLogGroup.Arn"],
      "logs:PutLogEvents": ["StepperLogGroup.Arn"],
      "secretsmanager:GetSecretValue": [secretArn("greenlight/test/stepper-kubeconfig")],
      "sqs:SendMessage": ["StepperFailureQueue.Arn"],
    });
    const role = evaluate(template, template.Resources.StepperRole?.Properties as Json) as Record<string, Json>;
    expect(role.ManagedPolicyArns).toBeUndefined();
    const stepper = evaluate(template, functionWith("functions/stepper/lambda.handler")?.Properties as Json) as Record<
      string,
      Json
    >;
    expect(stepper.VpcConfig).toBeUndefined();
  });

  it("writes a zip holding a single bundled .mjs", async () => {
    const zip = join(outDir, "webhook.zip");
    const { size } = await stat(zip);
    console.info(`webhook.zip is ${size} bytes (${(size / 1024).toFixed(1)} KiB)`);
    expect(size).toBeGreaterThan(0);
    const unpacked = join(work, "unzipped");
    await extract(zip, unpacked);
    const files = await filesUnder(unpacked);
    expect(files).toEqual(["webhooks/lambda.mjs"]);
  });

  it("runs the bundled webhook under the runtime's Node, with no package at hand, behind its path prefix", async () => {
    const review = deploymentReview("uid-bundle", { "greenlight.dev/inject": "true" });
    const secret = `/${WEBHOOK_PATH_SECRET}`;
    const events = [
      httpApiEvent("GET", "/healthz"),
      httpApiEvent("POST", `${secret}/mutate`, JSON.stringify(review)),
      httpApiEvent("POST", "/mutate", JSON.stringify(review)),
      httpApiEvent("GET", `${secret}/metrics`),
      httpApiEvent("GET", "/metrics"),
    ];
    const { node: version, results } = await runBundle<BundleResult>("webhook.zip", "webhooks/lambda.mjs", events, {
      GREENLIGHT_ON_ERROR: "allow",
      GREENLIGHT_WEBHOOK_PATH_PREFIX: secret,
    });
    const runtime = functionWith("webhooks/lambda.handler")?.Properties.Runtime;
    expect(Number(version.slice(1).split(".")[0])).toBe(runtimeMajor(runtime));
    const [health, mutate, unprefixed, metrics, openMetrics] = results;

    expect(health?.statusCode).toBe(200);
    expect(JSON.parse(health?.body ?? "")).toEqual({ status: "ok" });

    expect(mutate?.statusCode).toBe(200);
    expect(mutate?.headers?.["content-type"]).toMatch(/^application\/json/);
    const answer = JSON.parse(mutate?.body ?? "") as { response: { uid: string; allowed: boolean; patch?: string } };
    expect(answer.response).toMatchObject({ uid: "uid-bundle", allowed: true });
    const patch = Buffer.from(answer.response.patch ?? "", "base64").toString("utf8");
    expect(patch).toContain("v2.0");
    expect(patch).toMatch(/livenessProbe|readinessProbe/);

    expect(unprefixed?.statusCode).toBe(404);
    expect(metrics?.statusCode).toBe(200);
    expect(metrics?.body).toMatch(/^# HELP /m);
    expect(openMetrics?.statusCode).toBe(404);
  });

  describe("with its secrets in a fake SSM and Secrets Manager", () => {
    let aws: RunningFakeSecrets;
    beforeAll(async () => {
      aws = await startFakeSecrets();
    });
    afterAll(async () => {
      await aws?.close();
    });

    it("runs the bundled flag function under the runtime's Node: tokens fetched once from SSM, flags from Upstash", async () => {
      const redis = await startRedis();
      const bridge = await startUpstashBridge({ redisPort: redis.port, token: "bundle-token" });
      try {
        aws.parameters.set("/greenlight/test/upstash-token", bridge.token);
        aws.parameters.set("/greenlight/test/admin-token", ADMIN_TOKEN);
        const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
        const flag = { state: "partial", segments: ["beta"], description: "from the bundle" };
        const events = [
          withHeaders(httpApiEvent("PUT", "/admin/flags/bundle_flag", JSON.stringify(flag)), admin),
          httpApiEvent(
            "POST",
            "/ofrep/v1/evaluate/flags/bundle_flag",
            JSON.stringify({ context: { segment: "beta" } }),
          ),
          httpApiEvent("POST", "/ofrep/v1/evaluate/flags/bundle_flag", JSON.stringify({ context: { segment: "qa" } })),
          httpApiEvent("GET", "/flags/healthz"),
        ];
        const before = aws.calls.length;
        const { results } = await runBundle<BundleResult>(
          "flags.zip",
          "functions/flags/lambda.mjs",
          events,
          {
            ...aws.env(),
            UPSTASH_REDIS_REST_URL: bridge.url,
            // As serverless.yml hands them over: names only (the blank ones are optional secrets left off).
            UPSTASH_REDIS_REST_TOKEN_PARAMETER: "/greenlight/test/upstash-token",
            GREENLIGHT_ADMIN_TOKEN_PARAMETER: "/greenlight/test/admin-token",
            GREENLIGHT_ADMIN_TOKENS_PARAMETER: "",
            GREENLIGHT_FLAGS_API_KEY_PARAMETER: "",
          },
          { sdk: true },
        );
        const [put, beta, qa, health] = results;
        expect(put?.statusCode, put?.body).toBe(201);
        expect(JSON.parse(beta?.body ?? "")).toMatchObject({
          key: "bundle_flag",
          value: true,
          reason: "TARGETING_MATCH",
        });
        expect(JSON.parse(qa?.body ?? "")).toMatchObject({ key: "bundle_flag", value: false, reason: "DEFAULT" });
        expect(health?.statusCode).toBe(200);
        expect(JSON.parse(health?.body ?? "")).toMatchObject({ status: "ok", store: "upstash" });
        // The write went through the Upstash REST API into the real Redis.
        expect(bridge.commands.some((command) => command[0]?.toLowerCase().startsWith("eval"))).toBe(true);
        // Four requests, one fetch per name: the instance keeps what it fetched. Signed for SSM, decrypted.
        const calls = aws.calls.slice(before);
        expect(calls.map((call) => call.name).sort()).toEqual([
          "/greenlight/test/admin-token",
          "/greenlight/test/upstash-token",
        ]);
        for (const call of calls) {
          expect(call).toMatchObject({ target: "AmazonSSM.GetParameter", withDecryption: true });
          expect(call.credentialScope).toMatch(/\/eu-west-1\/ssm\/aws4_request$/);
        }
      } finally {
        await bridge.close();
        await redis.close();
      }
    });

    it("answers 503 naming the parameter when a secret cannot be fetched, and never prints a value", async () => {
      const { results } = await runBundle<BundleResult>(
        "flags.zip",
        "functions/flags/lambda.mjs",
        [httpApiEvent("GET", "/flags/healthz")],
        {
          ...aws.env(),
          UPSTASH_REDIS_REST_URL: "https://eu1-example-12345.upstash.io",
          UPSTASH_REDIS_REST_TOKEN_PARAMETER: "/greenlight/test/missing-token",
        },
        { sdk: true },
      );
      expect(results[0]?.statusCode).toBe(503);
      expect(results[0]?.body).toContain("UPSTASH_REDIS_REST_TOKEN_PARAMETER=/greenlight/test/missing-token (SSM)");
      expect(results[0]?.body).toContain("aws ssm put-parameter");
    });

    it("runs the bundled stepper under the runtime's Node with its kubeconfig from Secrets Manager", async () => {
      const api = await startFakeApiServer();
      try {
        seedCanary(api);
        aws.secrets.set("greenlight/test/stepper-kubeconfig", api.kubeConfig().exportConfig());
        // A Prometheus URL carrying basic auth, as it would sit in a SecureString parameter (nobody listens there).
        aws.parameters.set("/greenlight/test/prometheus-url", "http://greenlight:prom-password@127.0.0.1:9");
        const before = aws.calls.length;
        const scheduled = { source: "aws.events", "detail-type": "Scheduled Event" };
        const { results, log } = await runBundle<{
          canaries: { deployment: string; outcome: string; phase: string }[];
        }>(
          "stepper.zip",
          "functions/stepper/lambda.mjs",
          [scheduled, scheduled],
          {
            ...aws.env(),
            GREENLIGHT_KUBECONFIG_SECRET: "greenlight/test/stepper-kubeconfig",
            PROMETHEUS_URL_PARAMETER: "/greenlight/test/prometheus-url",
            PROMETHEUS_URL: "",
          },
          { sdk: true },
        );
        // The handler logs one JSON line per pass.
        expect(log.map((line) => JSON.parse(line) as { msg: string })).toEqual([
          expect.objectContaining({ msg: "greenlight step", deferred: 0 }),
          expect.objectContaining({ msg: "greenlight step", deferred: 0 }),
        ]);
        expect(results[0]?.canaries).toEqual([
          expect.objectContaining({ deployment: "myapp-v2", outcome: "written", phase: "Waiting" }),
        ]);
        const status = (
          api.get("networking.istio.io/v1", "VirtualService", NAMESPACE, "myapp") as {
            metadata: { annotations: Record<string, string> };
          }
        ).metadata.annotations["greenlight.dev/status"];
        // The second pass went on from the first one's status (the phase it wrote is the one stored now).
        expect(JSON.parse(status ?? "{}").phase).toBe(results[1]?.canaries[0]?.phase);
        // Two passes, one fetch of each secret.
        expect(aws.calls.slice(before).map((call) => [call.target, call.name])).toEqual(
          expect.arrayContaining([
            ["secretsmanager.GetSecretValue", "greenlight/test/stepper-kubeconfig"],
            ["AmazonSSM.GetParameter", "/greenlight/test/prometheus-url"],
          ]),
        );
        expect(aws.calls.slice(before)).toHaveLength(2);
        expect(log.join("\n")).not.toContain("prom-password");
      } finally {
        await api.close();
      }
    });
  });
});
