// A fake of the two AWS APIs greenlight's Lambdas read secrets from, in-process on 127.0.0.1, for the real SDK clients.
/*
 * It speaks what @aws-sdk/client-ssm and @aws-sdk/client-secrets-manager send: the AWS JSON 1.1 protocol, `POST /`
 * with `X-Amz-Target: AmazonSSM.GetParameter` or `secretsmanager.GetSecretValue` and a JSON body, answered with the
 * service's JSON shape or, on error, a 400 whose `__type` the SDK turns into the named exception
 * (ParameterNotFound, ResourceNotFoundException, AccessDeniedException). Point a client at it with
 * `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL_SECRETS_MANAGER` (or the client's `endpoint`) and any fake credentials.
 *
 * It checks that each request is SigV4-signed for the right service (the Authorization header's credential scope),
 * not the signature itself; and it records every call (never the values) for the tests to count.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeSecretCall {
  target: string;
  /** The parameter name or secret id asked for. */
  name: string;
  /** From the Authorization header: `<access key>/<date>/<region>/<service>/aws4_request`. */
  credentialScope: string;
  /** GetParameter's WithDecryption flag. */
  withDecryption?: boolean;
}

export interface FakeSecretsOptions {
  /** SSM parameters (SecureString), by name. */
  parameters?: Record<string, string>;
  /** Secrets Manager secrets (SecretString), by name. */
  secrets?: Record<string, string>;
  /** Secrets stored as SecretBinary, by name. */
  binarySecrets?: Record<string, Uint8Array>;
  /** Names the caller may not read: AccessDeniedException, as IAM answers. */
  denied?: string[];
  region?: string;
  accountId?: string;
}

export interface RunningFakeSecrets {
  /** `http://127.0.0.1:<port>`: the endpoint for both services. */
  url: string;
  calls: FakeSecretCall[];
  parameters: Map<string, string>;
  secrets: Map<string, string>;
  /** Every answer waits this long first (to test deadlines); 0 by default. */
  delayMs: number;
  /** The environment that points SDK v3 clients here, with fake credentials and no metadata service. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

const TARGET_SERVICE: Readonly<Record<string, string>> = {
  "AmazonSSM.GetParameter": "ssm",
  "secretsmanager.GetSecretValue": "secretsmanager",
};

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => done(Buffer.concat(chunks).toString("utf8")));
    request.on("error", fail);
  });
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/x-amz-json-1.1",
    "content-length": Buffer.byteLength(text),
    "x-amzn-requestid": "fake-request",
  });
  response.end(text);
}

/** An AWS JSON 1.1 error: the SDK reads the exception's name from `__type`. */
const failure = (response: ServerResponse, type: string, message: string, status = 400): void =>
  answer(response, status, { __type: type, message, Message: message });

export async function startFakeSecrets(options: FakeSecretsOptions = {}): Promise<RunningFakeSecrets> {
  const region = options.region ?? "eu-west-1";
  const accountId = options.accountId ?? "123456789012";
  const parameters = new Map(Object.entries(options.parameters ?? {}));
  const secrets = new Map(Object.entries(options.secrets ?? {}));
  const binary = new Map(Object.entries(options.binarySecrets ?? {}));
  const denied = new Set(options.denied ?? []);
  const calls: FakeSecretCall[] = [];

  const state = { delayMs: 0 };

  const server = createServer(async (request, response) => {
    const text = await readBody(request);
    if (state.delayMs > 0) await new Promise((wake) => setTimeout(wake, state.delayMs));
    if (response.destroyed) return;
    const target = String(request.headers["x-amz-target"] ?? "");
    const service = TARGET_SERVICE[target];
    if (request.method !== "POST" || service === undefined) {
      failure(response, "UnknownOperationException", `the fake does not implement ${target || "this request"}`);
      return;
    }
    const scope = /Credential=([^,\s]+)/.exec(String(request.headers.authorization ?? ""))?.[1] ?? "";
    if (!scope.endsWith(`/${region}/${service}/aws4_request`)) {
      failure(response, "InvalidSignatureException", `not signed for ${service} in ${region}: ${scope}`, 403);
      return;
    }
    let input: { Name?: unknown; WithDecryption?: unknown; SecretId?: unknown };
    try {
      input = JSON.parse(text) as typeof input;
    } catch {
      failure(response, "SerializationException", "the body is not JSON");
      return;
    }
    const name = String(service === "ssm" ? input.Name : input.SecretId);
    calls.push({
      target,
      name,
      credentialScope: scope,
      ...(service === "ssm" ? { withDecryption: input.WithDecryption === true } : {}),
    });
    if (denied.has(name)) {
      const action = service === "ssm" ? "ssm:GetParameter" : "secretsmanager:GetSecretValue";
      failure(response, "AccessDeniedException", `User is not authorized to perform: ${action} on resource: ${name}`);
      return;
    }
    if (service === "ssm") {
      const value = parameters.get(name);
      if (value === undefined) {
        failure(response, "ParameterNotFound", "");
        return;
      }
      answer(response, 200, {
        Parameter: {
          Name: name,
          Type: "SecureString",
          Value: input.WithDecryption === true ? value : Buffer.from(`encrypted:${name}`).toString("base64"),
          Version: 1,
          DataType: "text",
          ARN: `arn:aws:ssm:${region}:${accountId}:parameter${name.startsWith("/") ? "" : "/"}${name}`,
          LastModifiedDate: Date.now() / 1000,
        },
      });
      return;
    }
    const stored = secrets.get(name);
    const bytes = binary.get(name);
    if (stored === undefined && bytes === undefined) {
      failure(response, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
      return;
    }
    answer(response, 200, {
      ARN: `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-AbCdEf`,
      Name: name,
      VersionId: "00000000-0000-0000-0000-000000000001",
      VersionStages: ["AWSCURRENT"],
      CreatedDate: Date.now() / 1000,
      ...(stored === undefined
        ? { SecretBinary: Buffer.from(bytes ?? []).toString("base64") }
        : { SecretString: stored }),
    });
  });

  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    calls,
    parameters,
    secrets,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(value: number) {
      state.delayMs = value;
    },
    env: () => ({
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: "AKIAFAKEFAKEFAKEFAKE",
      AWS_SECRET_ACCESS_KEY: "fake-secret-access-key",
      AWS_ENDPOINT_URL_SSM: url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
      AWS_EC2_METADATA_DISABLED: "true",
    }),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
