// Packages the service with osls offline, checks the CloudFormation it would deploy, and runs the bundled handler.
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NAMESPACE, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { deploymentReview, httpApiEvent } from "../../scripts/fakes/lambda-events.ts";
import { startRedis } from "../../scripts/services/redis.ts";
import { startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const OSLS = join(ROOT, "node_modules/.bin/osls");
const PACKAGE_TIMEOUT_MS = 180_000;

interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}
interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

/** Offline packaging: no telemetry, no update checks, no AWS credentials or metadata service needed. */
function packageEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
    AWS_REGION: "eu-west-1",
    AWS_DEFAULT_REGION: "eu-west-1",
    AWS_EC2_METADATA_DISABLED: "true",
    CI: "1",
  };
}

function oslsPackage(outDir: string): Promise<{ output: string; ms: number }> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(OSLS, ["package", "--stage", "test", "--package", outDir], { cwd: ROOT, env: packageEnv() });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), PACKAGE_TIMEOUT_MS - 5_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = Math.round(performance.now() - started);
      if (code === 0) done({ output, ms });
      else fail(new Error(`osls package exited with ${code} after ${ms} ms:\n${output}`));
    });
  });
}

/** The `unzip` CLI where there is one (Debian: apt-get install unzip), else Python's zipfile module. */
async function extract(zip: string, into: string): Promise<void> {
  try {
    await run("unzip", ["-q", "-o", zip, "-d", into]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await run("python3", ["-m", "zipfile", "-e", zip, into]).catch((inner: NodeJS.ErrnoException) => {
      throw new Error(`cannot unzip ${zip}: install unzip (or python3) (${inner.message})`);
    });
  }
}

async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? filesUnder(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
    ),
  );
  return nested.flat();
}

/**
 * Imports the bundle in a plain Node process, as the Lambda runtime would, from a directory with no
 * node_modules: anything esbuild failed to inline, or a CJS `require` with no ESM shim, fails here.
 */
const RUNNER = `
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
const [bundle, eventsFile] = process.argv.slice(2);
const { handler } = await import(pathToFileURL(bundle).href);
const events = JSON.parse(await readFile(eventsFile, "utf8"));
const results = [];
for (const event of events) results.push(await handler(event, {}));
process.stdout.write(JSON.stringify(results));
`;

function withHeaders<T extends { headers?: Record<string, string | undefined> }>(
  event: T,
  headers: Record<string, string>,
): T {
  return { ...event, headers: { ...event.headers, ...headers } };
}

interface BundleResult {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
}

describe("osls package", () => {
  let work = "";
  let outDir = "";
  let template: CfnTemplate;
  let packagedMs = 0;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "greenlight-package-"));
    outDir = join(work, "package");
    const { ms } = await oslsPackage(outDir);
    packagedMs = ms;
    console.info(`osls package took ${packagedMs} ms`);
    template = JSON.parse(
      await readFile(join(outDir, "cloudformation-template-update-stack.json"), "utf8"),
    ) as CfnTemplate;
  }, PACKAGE_TIMEOUT_MS);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const resourcesOfType = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);

  const functionWith = (handler: string) =>
    resourcesOfType("AWS::Lambda::Function").find((f) => f.Properties.Handler === handler);

  it("declares the webhook Lambda on nodejs20.x arm64 with its handler", () => {
    expect(resourcesOfType("AWS::Lambda::Function")).toHaveLength(3);
    expect(functionWith("webhooks/lambda.handler")?.Properties).toMatchObject({
      Handler: "webhooks/lambda.handler",
      Runtime: "nodejs20.x",
      Architectures: ["arm64"],
      MemorySize: 256,
      Timeout: 10,
      Environment: { Variables: { GREENLIGHT_ON_ERROR: "allow" } },
    });
    const logs = resourcesOfType("AWS::Logs::LogGroup");
    expect(logs[0]?.Properties).toMatchObject({ RetentionInDays: 14 });
  });

  it("declares the stepper on a one-minute schedule, one pass at a time", () => {
    expect(functionWith("functions/stepper/lambda.handler")?.Properties).toMatchObject({
      Runtime: "nodejs20.x",
      Timeout: 55,
      ReservedConcurrentExecutions: 1,
    });
    const rules = resourcesOfType("AWS::Events::Rule");
    expect(rules.map((rule) => rule.Properties.ScheduleExpression)).toEqual(["rate(1 minute)"]);
  });

  it("drops a failed or late stepper pass instead of retrying it: the next minute's pass replaces it", () => {
    const stepper = Object.entries(template.Resources).find(
      ([, resource]) => resource.Properties.Handler === "functions/stepper/lambda.handler",
    )?.[0];
    const configs = resourcesOfType("AWS::Lambda::EventInvokeConfig");
    // Only the stepper is invoked asynchronously (the others sit behind API Gateway) and only it is configured.
    expect(configs).toHaveLength(1);
    expect(configs[0]?.Properties).toEqual({
      FunctionName: { Ref: stepper },
      DestinationConfig: {},
      Qualifier: "$LATEST",
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  it("declares the flag function with its Upstash and admin settings", () => {
    expect(functionWith("functions/flags/lambda.handler")?.Properties).toMatchObject({
      Runtime: "nodejs20.x",
      Timeout: 10,
      Environment: {
        Variables: expect.objectContaining({
          UPSTASH_REDIS_REST_URL: "",
          UPSTASH_REDIS_REST_TOKEN: "",
          GREENLIGHT_ADMIN_TOKEN: "",
          GREENLIGHT_FLAGS_CACHE_TTL: "5s",
        }),
      },
    });
  });

  it("routes the webhook and flag paths through one HTTP API", () => {
    expect(resourcesOfType("AWS::ApiGatewayV2::Api")).toHaveLength(1);
    const routes = resourcesOfType("AWS::ApiGatewayV2::Route")
      .map((r) => r.Properties.RouteKey)
      .sort();
    expect(routes).toEqual([
      "DELETE /admin/flags/{key}",
      "GET /admin/audit",
      "GET /admin/flags",
      "GET /admin/flags/{key}",
      "GET /admin/stale",
      "GET /flags/healthz",
      "GET /healthz",
      "GET /metrics",
      "OPTIONS /admin/flags",
      "OPTIONS /admin/flags/{key}",
      "OPTIONS /ofrep/v1/evaluate/flags",
      "OPTIONS /ofrep/v1/evaluate/flags/{key}",
      "POST /mutate",
      "POST /mutate/namespace",
      "POST /ofrep/v1/evaluate/flags",
      "POST /ofrep/v1/evaluate/flags/{key}",
      "POST /validate",
      "PUT /admin/flags/{key}",
    ]);
    const integrations = resourcesOfType("AWS::ApiGatewayV2::Integration");
    expect(integrations[0]?.Properties).toMatchObject({ IntegrationType: "AWS_PROXY", PayloadFormatVersion: "2.0" });
  });

  it("grants the functions nothing beyond their logs", () => {
    const role = resourcesOfType("AWS::IAM::Role")[0];
    const policies = role?.Properties.Policies as Array<{ PolicyDocument: { Statement: Array<{ Action: string[] }> } }>;
    const actions = policies.flatMap((p) => p.PolicyDocument.Statement.flatMap((s) => s.Action));
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) expect(action).toMatch(/^logs:/);
  });

  it("writes a zip holding a single bundled .mjs", async () => {
    const zip = join(outDir, "webhook.zip");
    const { size } = await stat(zip);
    console.info(`webhook.zip is ${size} bytes (${(size / 1024).toFixed(1)} KiB)`);
    expect(size).toBeGreaterThan(0);

    const unpacked = join(work, "unzipped");
    await extract(zip, unpacked);
    const files = await filesUnder(unpacked);
    expect(files).toContain("webhooks/lambda.mjs");
    expect(files.some((f) => f.startsWith("node_modules/"))).toBe(false);
  });

  it("loads the bundled handler in plain Node and answers /healthz and /mutate", async () => {
    const unpacked = join(work, "unzipped");
    if (!existsSync(join(unpacked, "webhooks/lambda.mjs"))) await extract(join(outDir, "webhook.zip"), unpacked);
    const review = deploymentReview("uid-bundle", { "greenlight.dev/inject": "true" });
    const events = [httpApiEvent("GET", "/healthz"), httpApiEvent("POST", "/mutate", JSON.stringify(review))];
    const runner = join(work, "runner.mjs");
    const eventsFile = join(work, "events.json");
    await writeFile(runner, RUNNER);
    await writeFile(eventsFile, JSON.stringify(events));

    const { stdout } = await run(process.execPath, [runner, join(unpacked, "webhooks/lambda.mjs"), eventsFile], {
      cwd: work,
      env: { PATH: process.env.PATH ?? "", GREENLIGHT_ON_ERROR: "allow" },
    });
    const [health, mutate] = JSON.parse(stdout) as BundleResult[];

    expect(health?.statusCode).toBe(200);
    expect(JSON.parse(health?.body ?? "")).toEqual({ status: "ok" });

    expect(mutate?.statusCode).toBe(200);
    expect(mutate?.headers?.["content-type"]).toMatch(/^application\/json/);
    const answer = JSON.parse(mutate?.body ?? "") as { response: { uid: string; allowed: boolean; patch?: string } };
    expect(answer.response).toMatchObject({ uid: "uid-bundle", allowed: true });
    const patch = Buffer.from(answer.response.patch ?? "", "base64").toString("utf8");
    expect(patch).toContain("v2.0");
    expect(patch).toMatch(/livenessProbe|readinessProbe/);
  });

  it("loads the bundled flag function in plain Node and serves flags from Redis through the Upstash API", async () => {
    const redis = await startRedis();
    const bridge = await startUpstashBridge({ redisPort: redis.port, token: "bundle-token" });
    try {
      const unpacked = join(work, "flags");
      await extract(join(outDir, "flags.zip"), unpacked);
      expect(await filesUnder(unpacked)).toEqual(["functions/flags/lambda.mjs"]);
      const admin = { authorization: `Bearer 94867e91eabf5550b9acb049c22be36d4e276ca0472ba74f5927207a0517fd12` };
      const flag = { state: "partial", segments: ["beta"], description: "from the bundle" };
      const events = [
        withHeaders(httpApiEvent("PUT", "/admin/flags/bundle_flag", JSON.stringify(flag)), admin),
        httpApiEvent("POST", "/ofrep/v1/evaluate/flags/bundle_flag", JSON.stringify({ context: { segment: "beta" } })),
        httpApiEvent("POST", "/ofrep/v1/evaluate/flags/bundle_flag", JSON.stringify({ context: { segment: "qa" } })),
        httpApiEvent("GET", "/flags/healthz"),
      ];
      const runner = join(work, "runner.mjs");
      const eventsFile = join(work, "flag-events.json");
      await writeFile(runner, RUNNER);
      await writeFile(eventsFile, JSON.stringify(events));
      const { stdout } = await run(
        process.execPath,
        [runner, join(unpacked, "functions/flags/lambda.mjs"), eventsFile],
        {
          cwd: work,
          env: {
            PATH: process.env.PATH ?? "",
            UPSTASH_REDIS_REST_URL: bridge.url,
            UPSTASH_REDIS_REST_TOKEN: bridge.token,
            GREENLIGHT_ADMIN_TOKEN: "94867e91eabf5550b9acb049c22be36d4e276ca0472ba74f5927207a0517fd12",
          },
        },
      );
      const [put, beta, qa, health] = JSON.parse(stdout) as BundleResult[];
      expect(put?.statusCode).toBe(201);
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
    } finally {
      await bridge.close();
      await redis.close();
    }
  });

  it("loads the bundled stepper in plain Node and runs a pass against a cluster", async () => {
    const api = await startFakeApiServer();
    try {
      seedCanary(api);
      const unpacked = join(work, "stepper");
      await extract(join(outDir, "stepper.zip"), unpacked);
      expect(await filesUnder(unpacked)).toEqual(["functions/stepper/lambda.mjs"]);
      const runner = join(work, "runner.mjs");
      const eventsFile = join(work, "scheduled.json");
      await writeFile(runner, RUNNER);
      await writeFile(eventsFile, JSON.stringify([{ source: "aws.events", "detail-type": "Scheduled Event" }]));
      const { stdout } = await run(
        process.execPath,
        [runner, join(unpacked, "functions/stepper/lambda.mjs"), eventsFile],
        {
          cwd: work,
          env: {
            PATH: process.env.PATH ?? "",
            GREENLIGHT_KUBECONFIG: Buffer.from(api.kubeConfig().exportConfig()).toString("base64"),
            PROMETHEUS_URL: "http://127.0.0.1:9",
          },
        },
      );
      // The handler logs one JSON line per pass; the runner's result comes after it.
      const [logLine = "", result = ""] = stdout.split("\n");
      expect(JSON.parse(logLine)).toMatchObject({ msg: "greenlight step", deferred: 0 });
      const [report] = JSON.parse(result) as { canaries: { deployment: string; outcome: string; phase: string }[] }[];
      expect(report?.canaries).toEqual([
        expect.objectContaining({ deployment: "myapp-v2", outcome: "written", phase: "Waiting" }),
      ]);
      const status = (
        api.get("networking.istio.io/v1", "VirtualService", NAMESPACE, "myapp") as {
          metadata: { annotations: Record<string, string> };
        }
      ).metadata.annotations["greenlight.dev/status"];
      expect(JSON.parse(status ?? "{}").phase).toBe("Waiting");
    } finally {
      await api.close();
    }
  });
});
