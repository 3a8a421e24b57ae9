// The AWS SDK v3 side of functions/secrets: SSM GetParameter (decrypted) and Secrets Manager GetSecretValue.
/*
 * The SDK is not bundled (serverless.yml excludes @aws-sdk/*: the Lambda Node runtime ships it) and is imported
 * dynamically, on the first fetch: a bundle run without secret names, as in the tests that import a bundle from a
 * directory without node_modules, never needs it. Static imports of an external package would be hoisted to the
 * top of the bundle by esbuild and fail at load.
 *
 * Region, credentials and endpoints come from the SDK's usual chain: on Lambda, AWS_REGION and the function's role;
 * AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL_SECRETS_MANAGER point the clients elsewhere (a VPC endpoint's private
 * name needs nothing: it resolves to the endpoint), which is how the tests reach their fake endpoint.
 */
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { FetchSecret, SecretRef } from "./resolve.ts";

export interface AwsFetcherOptions {
  /** Default: the SDK's (AWS_REGION on Lambda). */
  region?: string;
  /** Default: the SDK's (AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL, else the regional endpoint). */
  ssmEndpoint?: string;
  /** Default: the SDK's (AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL, else the regional endpoint). */
  secretsManagerEndpoint?: string;
  /**
   * Attempts per fetch, default 3 (the SDK's own default): a throttled or failed call is retried with backoff,
   * all within the deadline resolveSecrets sets.
   */
  maxAttempts?: number;
}

/** Why a call failed, by the SDK error's name, with what to check; the SDK's own message is kept after it. */
const HINTS: Readonly<Record<string, (ref: SecretRef) => string>> = {
  ParameterNotFound: (ref) =>
    `no such parameter in this region: create it with \`aws ssm put-parameter --type SecureString --name ${ref.name} ` +
    "--value ...`, or correct the name",
  ResourceNotFoundException: (ref) =>
    `no such secret in this region: create it with \`aws secretsmanager create-secret --name ${ref.name} ` +
    "--secret-string ...`, or correct the name",
  AccessDeniedException: () =>
    "the function's role may not read it: serverless.yml grants exactly the names it passes (an SSM name must " +
    'start with "/"), and a customer-managed KMS key needs the secretsKmsKeyArn parameter',
  DecryptionFailure: () => "it cannot be decrypted: a customer-managed KMS key needs the secretsKmsKeyArn parameter",
  InvalidKeyId: () => "its KMS key is disabled or not usable: check the key, and the secretsKmsKeyArn parameter",
  CredentialsProviderError: () =>
    "no AWS credentials: on Lambda they come from the function's role; elsewhere set AWS_PROFILE or " +
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
  ExpiredTokenException: () => "the AWS credentials have expired",
  UnrecognizedClientException: () => "the AWS credentials are not valid for this account or endpoint",
};

function explain(error: unknown, ref: SecretRef): Error {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  if (/region is missing/i.test(message)) {
    return new Error(`no AWS region: set AWS_REGION (Lambda sets it) (${message})`);
  }
  const hint = HINTS[name]?.(ref);
  // The SDK says "UnknownError" when the service sent no message (SSM's ParameterNotFound does not).
  const cause = message === "" || message === "UnknownError" ? name : `${name}: ${message}`;
  return new Error(hint === undefined ? cause : `${hint} (${cause})`);
}

/** Fetches through the real SDK clients, each created once (on its first use) and reused by every later fetch. */
export function createAwsFetcher(options: AwsFetcherOptions = {}): FetchSecret {
  const common = {
    ...(options.region === undefined ? {} : { region: options.region }),
    maxAttempts: options.maxAttempts ?? 3,
  };
  let ssm: Promise<{ client: SSMClient; module: typeof import("@aws-sdk/client-ssm") }> | undefined;
  let secretsManager:
    | Promise<{ client: SecretsManagerClient; module: typeof import("@aws-sdk/client-secrets-manager") }>
    | undefined;

  const ssmClient = () => {
    ssm ??= import("@aws-sdk/client-ssm").then((module) => ({
      module,
      client: new module.SSMClient({
        ...common,
        ...(options.ssmEndpoint === undefined ? {} : { endpoint: options.ssmEndpoint }),
      }),
    }));
    return ssm;
  };
  const secretsManagerClient = () => {
    secretsManager ??= import("@aws-sdk/client-secrets-manager").then((module) => ({
      module,
      client: new module.SecretsManagerClient({
        ...common,
        ...(options.secretsManagerEndpoint === undefined ? {} : { endpoint: options.secretsManagerEndpoint }),
      }),
    }));
    return secretsManager;
  };

  return async (ref, signal) => {
    if (ref.store === "parameter") {
      const { client, module } = await ssmClient();
      let value: string | undefined;
      try {
        const answer = await client.send(new module.GetParameterCommand({ Name: ref.name, WithDecryption: true }), {
          abortSignal: signal,
        });
        value = answer.Parameter?.Value;
      } catch (error) {
        throw explain(error, ref);
      }
      if (value === undefined) throw new Error("SSM answered without a value");
      return value;
    }
    const { client, module } = await secretsManagerClient();
    let answer: { SecretString?: string | undefined; SecretBinary?: Uint8Array | undefined };
    try {
      answer = await client.send(new module.GetSecretValueCommand({ SecretId: ref.name }), { abortSignal: signal });
    } catch (error) {
      throw explain(error, ref);
    }
    if (answer.SecretString === undefined) {
      throw new Error(
        answer.SecretBinary === undefined
          ? "Secrets Manager answered without a value"
          : "the secret is stored as binary: store it as a string (--secret-string)",
      );
    }
    return answer.SecretString;
  };
}
