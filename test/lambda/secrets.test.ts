// functions/secrets with the real AWS SDK v3 clients against the in-process fake of SSM and Secrets Manager, and the
// Lambda entries that use it: what is fetched, how often, within which deadline, and what a failure says.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createAwsFetcher } from "../../functions/secrets/aws.ts";
import {
  createSecretCache,
  type FetchSecret,
  resolveSecrets,
  SecretConfigError,
  SecretFetchError,
  secretRefsOf,
} from "../../functions/secrets/resolve.ts";
import { type RunningFakeSecrets, startFakeSecrets } from "../../scripts/fakes/aws-secrets.ts";
import { deploymentReview, httpApiEvent, lambdaContext } from "../../scripts/fakes/lambda-events.ts";
import { startRedis } from "../../scripts/services/redis.ts";
import { startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

const VALUES = {
  "/greenlight/prod/upstash-token": "upstash-value-3f9a",
  "/greenlight/prod/admin-token": "admin-value-71c0",
  "/greenlight/prod/prometheus-url": "https://greenlight:prom-value-55d2@prometheus.example.com",
};
const KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: x, user: {token: kube-value-0be4}}]\n";

let aws: RunningFakeSecrets;
/** What the test changed in process.env, put back after the file. */
const saved = new Map<string, string | undefined>();

function setEnv(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!saved.has(name)) saved.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

beforeAll(async () => {
  aws = await startFakeSecrets({
    parameters: { ...VALUES, "/greenlight/prod/empty": " " },
    secrets: { "greenlight/prod/stepper-kubeconfig": KUBECONFIG },
    binarySecrets: { "greenlight/prod/binary": new Uint8Array([1, 2, 3]) },
    denied: ["/greenlight/prod/not-yours"],
  });
  // The SDK's default chain, as on Lambda: region and credentials from the environment, the endpoints too.
  setEnv(aws.env());
});

afterAll(async () => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await aws?.close();
});

afterEach(() => {
  aws.delayMs = 0;
});

/** Every value the fake holds: none may appear in an error message. */
const allValues = [...Object.values(VALUES), KUBECONFIG, "kube-value-0be4"];

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught as Error,
  );
  if (error === undefined) throw new Error("expected a rejection");
  for (const value of allValues) expect(error.message).not.toContain(value);
  return error;
}

describe("resolveSecrets with the AWS SDK", () => {
  it("fills X from X_PARAMETER (SSM, decrypted) and X_SECRET (Secrets Manager), signed for each service", async () => {
    const before = aws.calls.length;
    const env = {
      KEEP: "as is",
      UPSTASH_REDIS_REST_TOKEN_PARAMETER: "/greenlight/prod/upstash-token",
      GREENLIGHT_KUBECONFIG_SECRET: "greenlight/prod/stepper-kubeconfig",
      GREENLIGHT_ADMIN_TOKEN_PARAMETER: "",
    };
    const resolved = await resolveSecrets(
      env,
      ["UPSTASH_REDIS_REST_TOKEN", "GREENLIGHT_KUBECONFIG", "GREENLIGHT_ADMIN_TOKEN"],
      { cache: createSecretCache() },
    );
    expect(resolved).toEqual({
      ...env,
      UPSTASH_REDIS_REST_TOKEN: "upstash-value-3f9a",
      GREENLIGHT_KUBECONFIG: KUBECONFIG,
    });
    // The input is left alone; a blank name is no secret (serverless.yml passes '' for an optional one).
    expect(env).not.toHaveProperty("UPSTASH_REDIS_REST_TOKEN");
    expect("GREENLIGHT_ADMIN_TOKEN" in resolved).toBe(false);
    const calls = aws.calls.slice(before);
    expect(calls).toHaveLength(2);
    expect(calls).toContainEqual({
      target: "AmazonSSM.GetParameter",
      name: "/greenlight/prod/upstash-token",
      withDecryption: true,
      credentialScope: expect.stringMatching(/^AKIAFAKEFAKEFAKEFAKE\/\d{8}\/eu-west-1\/ssm\/aws4_request$/),
    });
    expect(calls).toContainEqual({
      target: "secretsmanager.GetSecretValue",
      name: "greenlight/prod/stepper-kubeconfig",
      credentialScope: expect.stringMatching(/\/eu-west-1\/secretsmanager\/aws4_request$/),
    });
  });

  it("fetches each name once per cache (once per Lambda instance), concurrent callers included", async () => {
    const cache = createSecretCache();
    const env = { PROMETHEUS_URL_PARAMETER: "/greenlight/prod/prometheus-url" };
    const before = aws.calls.length;
    const results = await Promise.all([
      resolveSecrets(env, ["PROMETHEUS_URL"], { cache }),
      resolveSecrets(env, ["PROMETHEUS_URL"], { cache }),
    ]);
    const again = await resolveSecrets(env, ["PROMETHEUS_URL"], { cache });
    for (const result of [...results, again])
      expect(result.PROMETHEUS_URL).toBe(VALUES["/greenlight/prod/prometheus-url"]);
    expect(aws.calls.length - before).toBe(1);
    // Another instance (another cache) asks for itself.
    await resolveSecrets(env, ["PROMETHEUS_URL"], { cache: createSecretCache() });
    expect(aws.calls.length - before).toBe(2);
  });

  it("hands back the environment as it is, loading nothing, when no secret is given by name", async () => {
    const fetch = vi.fn<FetchSecret>();
    const env = { UPSTASH_REDIS_REST_TOKEN: "local-token", GREENLIGHT_KUBECONFIG_SECRET: " " };
    const resolved = await resolveSecrets(env, ["UPSTASH_REDIS_REST_TOKEN", "GREENLIGHT_KUBECONFIG"], { fetch });
    expect(resolved).toEqual(env);
    expect(fetch).not.toHaveBeenCalled();
  });

  it("refuses a variable given both as a value and by name, or by both stores, naming both", () => {
    expect(() =>
      secretRefsOf({ GREENLIGHT_ADMIN_TOKEN: "x", GREENLIGHT_ADMIN_TOKEN_PARAMETER: "/a" }, ["GREENLIGHT_ADMIN_TOKEN"]),
    ).toThrow(
      new SecretConfigError(
        "GREENLIGHT_ADMIN_TOKEN and GREENLIGHT_ADMIN_TOKEN_PARAMETER are both set: set one (on Lambda, " +
          "GREENLIGHT_ADMIN_TOKEN_PARAMETER names where the value is kept and GREENLIGHT_ADMIN_TOKEN stays unset; " +
          "locally, GREENLIGHT_ADMIN_TOKEN alone)",
      ),
    );
    expect(() =>
      secretRefsOf({ GREENLIGHT_KUBECONFIG_PARAMETER: "/k", GREENLIGHT_KUBECONFIG_SECRET: "k" }, [
        "GREENLIGHT_KUBECONFIG",
      ]),
    ).toThrow(/GREENLIGHT_KUBECONFIG_PARAMETER and GREENLIGHT_KUBECONFIG_SECRET are both set: set one/);
  });

  it("says which name is missing and how to create it", async () => {
    const cache = createSecretCache();
    const parameter = await failure(resolveSecrets({ X_PARAMETER: "/greenlight/prod/nope" }, ["X"], { cache }));
    expect(parameter).toBeInstanceOf(SecretFetchError);
    expect(parameter.message).toMatch(
      /^X_PARAMETER=\/greenlight\/prod\/nope \(SSM\): no such parameter in this region: create it with `aws ssm put-parameter --type SecureString --name \/greenlight\/prod\/nope/,
    );
    const secret = await failure(resolveSecrets({ X_SECRET: "greenlight/prod/nope" }, ["X"], { cache }));
    expect(secret.message).toMatch(
      /^X_SECRET=greenlight\/prod\/nope \(Secrets Manager\): no such secret in this region: create it with `aws secretsmanager create-secret/,
    );
  });

  it("says when the role may not read a name", async () => {
    const error = await failure(
      resolveSecrets({ X_PARAMETER: "/greenlight/prod/not-yours" }, ["X"], { cache: createSecretCache() }),
    );
    expect(error.message).toMatch(
      /^X_PARAMETER=\/greenlight\/prod\/not-yours \(SSM\): the function's role may not read it/,
    );
    expect(error.message).toContain("AccessDeniedException");
  });

  it("refuses an empty value and a binary secret", async () => {
    const cache = createSecretCache();
    const empty = await failure(resolveSecrets({ X_PARAMETER: "/greenlight/prod/empty" }, ["X"], { cache }));
    expect(empty.message).toBe("X_PARAMETER=/greenlight/prod/empty (SSM) is empty: store the value of X there");
    const binary = await failure(resolveSecrets({ X_SECRET: "greenlight/prod/binary" }, ["X"], { cache }));
    expect(binary.message).toMatch(/stored as binary: store it as a string/);
  });

  it("gives up at the deadline with a message saying what to reach, and asks again next time", async () => {
    const cache = createSecretCache();
    const env = { UPSTASH_REDIS_REST_TOKEN_PARAMETER: "/greenlight/prod/upstash-token" };
    aws.delayMs = 3_000;
    const started = performance.now();
    const late = await failure(resolveSecrets(env, ["UPSTASH_REDIS_REST_TOKEN"], { cache, timeoutMs: 300 }));
    const took = performance.now() - started;
    expect(late).toBeInstanceOf(SecretFetchError);
    expect(late.message).toBe(
      "no answer within 0.3 s for UPSTASH_REDIS_REST_TOKEN_PARAMETER=/greenlight/prod/upstash-token (SSM): the " +
        "function must reach SSM (from a VPC, through a NAT gateway or an interface endpoint); it asks again on its " +
        "next invocation",
    );
    expect(took).toBeLessThan(1_500);
    // The failure was not kept: once SSM answers again, the same instance gets its value.
    aws.delayMs = 0;
    const resolved = await resolveSecrets(env, ["UPSTASH_REDIS_REST_TOKEN"], { cache, timeoutMs: 2_000 });
    expect(resolved.UPSTASH_REDIS_REST_TOKEN).toBe("upstash-value-3f9a");
  });

  it("reaches a given endpoint without the environment's, through createAwsFetcher's options", async () => {
    const fetch = createAwsFetcher({ region: "eu-west-1", ssmEndpoint: aws.url, secretsManagerEndpoint: aws.url });
    const signal = new AbortController().signal;
    const value = await fetch(
      { variable: "X", from: "X_PARAMETER", store: "parameter", name: "/greenlight/prod/admin-token" },
      signal,
    );
    expect(value).toBe("admin-value-71c0");
  });
});

describe("the Lambda entries with secrets given by name", () => {
  afterEach(() => {
    vi.resetModules();
  });

  it("flags: answers 503 naming the parameter while it is missing, then serves once it exists", async () => {
    const redis = await startRedis();
    const bridge = await startUpstashBridge({ redisPort: redis.port, token: "created-later" });
    setEnv({
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN_PARAMETER: "/greenlight/prod/upstash-token-later",
      UPSTASH_REDIS_REST_TOKEN: undefined,
      GREENLIGHT_ADMIN_TOKEN: undefined,
      GREENLIGHT_ADMIN_TOKENS: undefined,
    });
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      vi.resetModules();
      const { handler } = await import("../../functions/flags/lambda.ts");
      const first = await handler(httpApiEvent("GET", "/flags/healthz"), lambdaContext());
      expect(first.statusCode).toBe(503);
      expect(first.body).toContain(
        "flags are misconfigured: UPSTASH_REDIS_REST_TOKEN_PARAMETER=/greenlight/prod/upstash-token-later (SSM): no such parameter",
      );
      expect(log).toHaveBeenCalledWith(expect.stringContaining("UPSTASH_REDIS_REST_TOKEN_PARAMETER"));
      // The parameter is created: the same instance picks it up at its next request, without a restart.
      aws.parameters.set("/greenlight/prod/upstash-token-later", bridge.token);
      const second = await handler(httpApiEvent("GET", "/flags/healthz"), lambdaContext());
      expect(second.statusCode).toBe(200);
      expect(JSON.parse(second.body)).toMatchObject({ status: "ok", store: "upstash" });
    } finally {
      log.mockRestore();
      aws.parameters.delete("/greenlight/prod/upstash-token-later");
      setEnv({ UPSTASH_REDIS_REST_URL: undefined, UPSTASH_REDIS_REST_TOKEN_PARAMETER: undefined });
      await bridge.close();
      await redis.close();
    }
  });

  it("stepper: a pass that cannot get its kubeconfig fails, logging its JSON line with the reason", async () => {
    setEnv({ GREENLIGHT_KUBECONFIG: undefined, GREENLIGHT_KUBECONFIG_SECRET: "greenlight/prod/missing-kubeconfig" });
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      vi.resetModules();
      const { handler } = await import("../../functions/stepper/lambda.ts");
      await expect(handler({}, { getRemainingTimeInMillis: () => 55_000 })).rejects.toThrow(
        /^GREENLIGHT_KUBECONFIG_SECRET=greenlight\/prod\/missing-kubeconfig \(Secrets Manager\): no such secret/,
      );
      const line = JSON.parse(String(log.mock.calls[0]?.[0])) as { msg: string; error: string };
      expect(line.msg).toBe("greenlight step");
      expect(line.error).toMatch(/GREENLIGHT_KUBECONFIG_SECRET=greenlight\/prod\/missing-kubeconfig/);
    } finally {
      log.mockRestore();
      setEnv({ GREENLIGHT_KUBECONFIG_SECRET: undefined });
    }
  });
});

describe("the webhook Lambda behind its secret path prefix", () => {
  const PREFIX = "/3c0f9a8b7e6d5c4b3a29180716253443";

  async function webhookHandler(prefix: string | undefined) {
    setEnv({ GREENLIGHT_WEBHOOK_PATH_PREFIX: prefix, GREENLIGHT_ON_ERROR: undefined });
    vi.resetModules();
    return (await import("../../webhooks/lambda.ts")).handler;
  }

  afterAll(() => {
    setEnv({ GREENLIGHT_WEBHOOK_PATH_PREFIX: undefined });
    vi.resetModules();
  });

  it("serves the webhook under the prefix, /healthz without it, and 404 elsewhere", async () => {
    const handler = await webhookHandler(PREFIX);
    const review = JSON.stringify(deploymentReview("uid-prefix", { "greenlight.dev/inject": "true" }));
    const mutate = await handler(httpApiEvent("POST", `${PREFIX}/mutate`, review), lambdaContext());
    expect(mutate.statusCode).toBe(200);
    expect(JSON.parse(mutate.body)).toMatchObject({ response: { uid: "uid-prefix", allowed: true } });
    // A named stage in front of the path is stripped first, as before.
    const staged = await handler(
      httpApiEvent("POST", `${PREFIX}/validate`, review, { stage: "prod" }),
      lambdaContext(),
    );
    expect(staged.statusCode).toBe(200);
    expect((await handler(httpApiEvent("GET", "/healthz"), lambdaContext())).statusCode).toBe(200);
    expect((await handler(httpApiEvent("GET", `${PREFIX}/metrics`), lambdaContext())).statusCode).toBe(200);
    for (const path of ["/mutate", "/metrics", `${PREFIX}x/mutate`, `/x${PREFIX}/mutate`, PREFIX]) {
      const answer = await handler(httpApiEvent("POST", path, review), lambdaContext());
      expect(answer.statusCode, path).toBe(404);
      expect(answer.body).toBe('{"message":"Not Found"}');
    }
  });

  it("refuses a short prefix with a 500 that says what to set, without printing it", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const handler = await webhookHandler("/short");
      const answer = await handler(httpApiEvent("GET", "/healthz"), lambdaContext());
      expect(answer.statusCode).toBe(500);
      expect(answer.body).toContain("GREENLIGHT_WEBHOOK_PATH_PREFIX must be");
      expect(answer.body).toContain("openssl rand -hex 16");
      expect(answer.body).not.toContain("/short");
    } finally {
      log.mockRestore();
    }
  });

  it("serves the plain paths when no prefix is set (the handler tests, a hand-made deployment)", async () => {
    const handler = await webhookHandler(undefined);
    expect((await handler(httpApiEvent("GET", "/healthz"), lambdaContext())).statusCode).toBe(200);
    const review = JSON.stringify(deploymentReview("uid-plain", {}));
    expect((await handler(httpApiEvent("POST", "/mutate", review), lambdaContext())).statusCode).toBe(200);
  });
});
