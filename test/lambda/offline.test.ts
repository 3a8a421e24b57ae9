// Starts serverless-offline once on serverless.yml and calls the webhook and flag routes through its API Gateway.
/*
 * What runs: `osls offline start` (osls 4.3.1, serverless-offline 14.8.2) with serverless.yml as it is, so
 * serverless-esbuild bundles each function exactly as `osls package` does and serverless-offline routes the
 * declared httpApi events (payload v2) to those bundles, each in a worker thread.
 * Where: a throwaway copy of the repository (sources and serverless.yml, node_modules linked), because
 * - serverless-esbuild builds into `<service>/.esbuild` and `osls package` deletes that folder when it is done:
 *   test/lambda/package.test.ts, running in parallel, would pull the bundles out from under this server;
 * - in offline mode serverless-esbuild watches the service's sources and rebuilds on every change: edits made in
 *   the working tree while this file runs must not swap the handlers mid-test.
 * Secrets come as on AWS: serverless.yml hands the functions names only, and they fetch the values at run time
 * through the real AWS SDK from a fake SSM / Secrets Manager endpoint (scripts/fakes/aws-secrets.ts), reached through
 * AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL_SECRETS_MANAGER (serverless-offline passes the AWS_ variables on). The flag
 * function's Upstash token is that of a real redis-server behind the test bridge; the stepper, which
 * serverless-offline schedules every minute, gets a kubeconfig for a port nobody listens on, so a pass that fires
 * during the run fails fast and touches nothing. Fake AWS credentials, no network beyond loopback.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningFakeSecrets, startFakeSecrets } from "../../scripts/fakes/aws-secrets.ts";
import { deploymentReview, type Operation } from "../../scripts/fakes/lambda-events.ts";
import { freePort, launchOnFreePort, spawnOwned, stopOwned } from "../../scripts/services/children.ts";
import { type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

import { copyService, OSLS, WEBHOOK_PATH_SECRET } from "./service.ts";

/** Bundling three functions on two cores takes seconds; a cold machine and a busy test run, more. */
const READY_TIMEOUT_MS = 150_000;
const STOP_GRACE_MS = 5_000;
/** As strong as the flag function demands of an admin token (256 bits). */
const ADMIN_TOKEN = "5087746c7f4aae9e38d6f6f969f1d38ba75ffe3f46dd65d2e0a1e755e29d12ea";
/** The names serverless.yml hands the functions at stage "test" (and the one optional secret this run turns on). */
const UPSTASH_TOKEN_PARAMETER = "/greenlight/test/upstash-token";
const ADMIN_TOKEN_PARAMETER = "/greenlight/test/admin-token";
const KUBECONFIG_SECRET = "greenlight/test/stepper-kubeconfig";
/** The webhook routes, behind their secret first segment. */
const HOOK = `/${WEBHOOK_PATH_SECRET}`;

interface Offline {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>`: API Gateway as serverless-offline emulates it. */
  url: string;
  /** The end of what osls printed (a handler's crash is told there, not in the 502 it answers). */
  output(): string;
}

/** A kubeconfig for a port that refuses connections: a scheduled stepper pass fails at once and reaches nothing. */
function unreachableKubeconfig(port: number): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: none, cluster: {server: 'https://127.0.0.1:${port}', insecure-skip-tls-verify: true}}]`,
    "users: [{name: none, user: {token: none}}]",
    "contexts: [{name: none, context: {cluster: none, user: none}}]",
    "current-context: none",
  ].join("\n");
}

/**
 * Starts `osls offline start` in `service` through coreutils `env` (working directory and variables), under
 * children.ts's ownership: its own process group, killed with this process at the latest.
 */
async function startOffline(
  service: string,
  variables: Record<string, string>,
  params: Record<string, string>,
): Promise<Offline> {
  let started: Offline | undefined;
  const launch = async (httpPort: number): Promise<void> => {
    const lambdaPort = await freePort();
    const assignments = Object.entries(variables).map(([name, value]) => `${name}=${value}`);
    // No --noPrependStageInUrl: serverless-offline never puts the stage in httpApi paths ($default, as deployed).
    const args = ["offline", "start", "--stage", "test", "--host", "127.0.0.1"];
    args.push("--httpPort", String(httpPort), "--lambdaPort", String(lambdaPort));
    for (const [name, value] of Object.entries(params)) args.push("--param", `${name}=${value}`);
    const child = spawnOwned(
      "/usr/bin/env",
      ["-C", service, ...assignments, OSLS, ...args],
      ["ignore", "pipe", "pipe"],
    );
    let text = "";
    const output = () => text;
    started = { child, url: `http://127.0.0.1:${httpPort}`, output };
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`osls offline start was not ready within ${READY_TIMEOUT_MS} ms:\n${text}`)),
        READY_TIMEOUT_MS,
      );
      const collect = (chunk: Buffer) => {
        text = (text + chunk.toString("utf8")).slice(-20_000);
        if (text.includes(`Server ready: http://127.0.0.1:${httpPort}`)) {
          clearTimeout(timer);
          ready();
        }
      };
      child.stdout?.on("data", collect);
      child.stderr?.on("data", collect);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`osls offline start exited (${signal ?? `code ${code}`}) before it was ready:\n${text}`));
      });
    });
  };
  const stop = async (): Promise<void> => {
    if (started) await stopOwned(started.child, STOP_GRACE_MS);
  };
  await launchOnFreePort(launch, stop, (error) => /EADDRINUSE|address already in use/i.test(String(error)));
  if (!started) throw new Error("osls offline start did not start");
  return started;
}

/** Whether any process of the group led by `pid` still exists (osls and the esbuild service it spawned). */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

describe("serverless-offline on serverless.yml", () => {
  let work = "";
  let redis: RunningRedis | undefined;
  let bridge: RunningUpstashBridge | undefined;
  let aws: RunningFakeSecrets | undefined;
  let offline: Offline | undefined;

  const call = async (
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    if (!offline) throw new Error("serverless-offline is not running");
    const response = await fetch(`${offline.url}${path}`, {
      method,
      headers: { "content-type": "application/json", ...init.headers },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const answer: Answer = { status: response.status, headers: response.headers, body: await response.text() };
    // No route here is meant to fail: a 5xx is a handler that crashed or timed out, and osls's log says which.
    if (answer.status >= 500) {
      throw new Error(
        `${method} ${path} answered ${answer.status} ${answer.body}\nosls:\n${offline.output().slice(-3000)}`,
      );
    }
    return answer;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "greenlight-offline-"));
    const service = join(work, "service");
    await copyService(service);
    redis = await startRedis();
    bridge = await startUpstashBridge({ redisPort: redis.port, token: "offline-token" });
    aws = await startFakeSecrets({
      parameters: { [UPSTASH_TOKEN_PARAMETER]: bridge.token, [ADMIN_TOKEN_PARAMETER]: ADMIN_TOKEN },
      secrets: { [KUBECONFIG_SECRET]: unreachableKubeconfig(await freePort()) },
    });
    offline = await startOffline(
      service,
      {
        SLS_TELEMETRY_DISABLED: "1",
        SLS_NOTIFICATIONS_MODE: "off",
        CI: "1",
        // Region, fake credentials and the two endpoints; serverless-offline hands every AWS_ variable on.
        ...aws.env(),
        // serverless.yml reads this one with ${env:...}; the secrets are fetched by name.
        UPSTASH_REDIS_REST_URL: bridge.url,
      },
      {
        webhookPathSecret: WEBHOOK_PATH_SECRET,
        adminTokenParameter: ADMIN_TOKEN_PARAMETER,
        prometheusUrl: `http://127.0.0.1:${await freePort()}`,
      },
    );
  }, READY_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    if (offline) await stopOwned(offline.child, STOP_GRACE_MS);
    await bridge?.close();
    await aws?.close();
    await redis?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("answers GET /healthz from the webhook function", async () => {
    const health = await call("GET", "/healthz");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: "ok" });
  });

  it("answers POST /mutate with an AdmissionReview carrying a JSON patch", async () => {
    const review = deploymentReview("uid-offline", { "greenlight.dev/inject": "true" });
    const answer = await call("POST", `${HOOK}/mutate`, { body: review });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
    const { response } = JSON.parse(answer.body) as {
      response: { uid: string; allowed: boolean; patchType?: string; patch?: string };
    };
    expect(response).toMatchObject({ uid: "uid-offline", allowed: true, patchType: "JSONPatch" });
    const patch = JSON.parse(Buffer.from(response.patch ?? "", "base64").toString("utf8")) as Operation[];
    const paths = patch.map((operation) => operation.path);
    expect(paths).toContain("/spec/template/metadata/labels/version");
    expect(paths.some((path) => path.endsWith("/livenessProbe"))).toBe(true);
    expect(paths.some((path) => path.startsWith("/spec/selector"))).toBe(false);
  });

  it("answers POST /validate through its own route", async () => {
    const review = deploymentReview("uid-validate", { "greenlight.dev/strategy": "canary" });
    const answer = await call("POST", `${HOOK}/validate`, { body: review });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ kind: "AdmissionReview", response: { uid: "uid-validate" } });
  });

  it("routes only what serverless.yml declares: other methods and paths never reach a function", async () => {
    // The webhook's core would answer these itself; API Gateway has no route for them. Without the secret segment
    // the webhook routes do not exist, with a wrong one neither.
    for (const [method, path] of [
      ["POST", "/healthz"],
      ["GET", `${HOOK}/mutate`],
      ["POST", "/mutate"],
      ["POST", "/validate"],
      ["GET", "/metrics"],
      ["POST", "/0000000000000000/mutate"],
      ["GET", "/flags/healthz/extra"],
    ] as const) {
      const answer = await call(method, path);
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.body).toMatch(/route not found/i);
    }
  });

  it("answers GET /flags/healthz from the flag function, on the Upstash store", async () => {
    const health = await call("GET", "/flags/healthz");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: "ok", store: "upstash" });
    // Its token came from SSM, by the name serverless.yml gave it, through the real SDK: signed for SSM, decrypted.
    const fetched = (aws?.calls ?? []).filter((c) => c.name === UPSTASH_TOKEN_PARAMETER);
    expect(fetched.length).toBeGreaterThan(0);
    expect(fetched[0]).toMatchObject({ target: "AmazonSSM.GetParameter", withDecryption: true });
    expect(fetched[0]?.credentialScope).toMatch(/\/eu-west-1\/ssm\/aws4_request$/);
  });

  it("answers GET /<secret>/metrics from the webhook function", async () => {
    const metrics = await call("GET", `${HOOK}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^# HELP /m);
  });

  it("refuses an admin write without the admin token", async () => {
    const answer = await call("PUT", "/admin/flags/offline_flag", { body: { state: "enabled" } });
    expect(answer.status).toBe(401);
    // No write script ran; the failed authentication was counted by the abuse limit (its own keys).
    const scripts = (bridge?.commands ?? []).filter((command) => command[0]?.toLowerCase().startsWith("eval"));
    const limitKeys = (command: string[]) => command.some((arg) => arg.startsWith("greenlight:ratelimit:authFailures"));
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.every(limitKeys)).toBe(true);
  });

  it("stores a flag with PUT /admin/flags/{key} and evaluates it with OFREP", async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const flag = { state: "partial", segments: ["beta"], description: "through serverless-offline" };
    const put = await call("PUT", "/admin/flags/offline_flag", { body: flag, headers: admin });
    expect(put.status).toBe(201);
    // The write went through the Upstash REST API into the real Redis.
    expect(bridge?.commands.some((command) => command[0]?.toLowerCase().startsWith("eval"))).toBe(true);

    const beta = await call("POST", "/ofrep/v1/evaluate/flags/offline_flag", {
      body: { context: { segment: "beta" } },
    });
    expect(beta.status).toBe(200);
    expect(JSON.parse(beta.body)).toMatchObject({ key: "offline_flag", value: true, reason: "TARGETING_MATCH" });

    const qa = await call("POST", "/ofrep/v1/evaluate/flags/offline_flag", { body: { context: { segment: "qa" } } });
    expect(JSON.parse(qa.body)).toMatchObject({ key: "offline_flag", value: false, reason: "DEFAULT" });

    const missing = await call("POST", "/ofrep/v1/evaluate/flags/no_such_flag", { body: { context: {} } });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ key: "no_such_flag", errorCode: "FLAG_NOT_FOUND" });
  });

  it("evaluates every flag with bulk OFREP and answers 304 to its ETag", async () => {
    const context = { context: { segment: "beta" } };
    const bulk = await call("POST", "/ofrep/v1/evaluate/flags", { body: context });
    expect(bulk.status).toBe(200);
    const { flags } = JSON.parse(bulk.body) as { flags: Array<{ key: string; value: unknown }> };
    expect(flags).toContainEqual(expect.objectContaining({ key: "offline_flag", value: true }));
    const etag = bulk.headers.get("etag");
    expect(etag).toBeTruthy();
    const again = await call("POST", "/ofrep/v1/evaluate/flags", {
      body: context,
      headers: { "if-none-match": etag ?? "" },
    });
    expect(again.status).toBe(304);
  });

  it("stops when told, leaving no process and no listener behind", async () => {
    const running = offline;
    if (!running?.child.pid) throw new Error("serverless-offline is not running");
    const pid = running.child.pid;
    await stopOwned(running.child, STOP_GRACE_MS);
    offline = undefined;
    // The group's other members (esbuild's service process) get the same signal; give them a moment to go.
    for (let i = 0; i < 50 && groupAlive(pid); i++) await sleep(100);
    expect(groupAlive(pid)).toBe(false);
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
  });
});
