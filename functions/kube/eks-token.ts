// The bearer token of an EKS cluster, built the way `aws eks get-token` and aws-iam-authenticator build it: a
// SigV4-presigned STS GetCallerIdentity URL with the cluster's name signed in, base64url-encoded. Pure: credentials,
// region, cluster and clock in, token out; no network, no AWS SDK.
/*
 * How EKS reads it: the API server's authenticator decodes the URL, checks that it is an STS GetCallerIdentity URL
 * that signs the header `x-k8s-aws-id`, calls it with `x-k8s-aws-id: <its own cluster name>`, and STS answers with
 * the caller's ARN only when the signature holds, i.e. when the token was made for this cluster by someone holding
 * the role's secret key. The ARN (an assumed role is read as its role) is then looked up in the cluster's access
 * entries, which give the Kubernetes user and groups. STS accepts a presigned URL for 15 minutes after its
 * X-Amz-Date whatever X-Amz-Expires says (60 is what both tools send; the authenticator wants 0 to 900).
 *
 * SigV4 is written out here with node:crypto instead of loading @smithy/signature-v4: the Lambda bundle carries no
 * AWS SDK (the runtime's is used for secrets only, and loaded only when a secret is named), and the presign is fifty
 * lines. test/kube/eks-token.test.ts checks it against @smithy/signature-v4 and AWS's published vectors.
 */
import { createHash, createHmac } from "node:crypto";
import { type Env, SettingError, settingValue } from "../contract/settings.ts";
import type { Parsed } from "../contract/values.ts";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Present for temporary credentials (a Lambda's role always has one). */
  sessionToken?: string;
}

export interface EksTokenRequest {
  credentials: AwsCredentials;
  /** The region whose STS endpoint signs: the cluster's, or the caller's (any region's STS is accepted). */
  region: string;
  /** The EKS cluster's name, as `aws eks describe-cluster --name` takes it. */
  clusterName: string;
  /** The signing time; the token is good until 15 minutes after it. */
  now: Date;
}

export interface EksToken {
  /** `k8s-aws-v1.` and the presigned URL in base64url without padding: the bearer token. */
  token: string;
  /** The presigned STS URL inside the token. */
  url: string;
  issuedAt: Date;
  /** When a caller should build the next one (EKS_TOKEN_RENEW_AFTER_MS after issuedAt). */
  renewAt: Date;
  /** When the API server stops accepting it (EKS_TOKEN_LIFETIME_MS after issuedAt). */
  expiresAt: Date;
}

export const EKS_TOKEN_PREFIX = "k8s-aws-v1.";
/** The header that binds a token to one cluster; signed, never sent by the caller. */
export const CLUSTER_ID_HEADER = "x-k8s-aws-id";
/** X-Amz-Expires as `aws eks get-token` sends it; STS ignores it for this call (the lifetime below applies). */
export const EKS_PRESIGN_EXPIRES_SECONDS = 60;
/** How long STS accepts the presigned URL after its X-Amz-Date. */
export const EKS_TOKEN_LIFETIME_MS = 15 * 60_000;
/**
 * When to build a new token: 10 minutes leaves 5 for a pass that starts just before (a stepper pass lasts at most
 * 55 s) and for a clock a little off. `aws eks get-token` tells kubectl 14 minutes; we keep a wider margin.
 */
export const EKS_TOKEN_RENEW_AFTER_MS = 10 * 60_000;
/** aws-iam-authenticator refuses longer tokens. */
export const EKS_TOKEN_MAX_BYTES = 4096;

const STS_VERSION = "2011-06-15";
const ALGORITHM = "AWS4-HMAC-SHA256";
/** SHA-256 of an empty body: a presigned GET signs its (empty) payload. */
export const EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// ---------------------------------------------------------------------------------------------------------------
// settings

const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;

/** An EKS cluster name: 1-100 letters, digits, '-' and '_', starting with a letter or a digit (as EKS requires). */
export function parseEksClusterName(raw: string): Parsed<string> {
  return CLUSTER_NAME.test(raw)
    ? { ok: true, value: raw }
    : {
        ok: false,
        problem:
          "accepted: an EKS cluster name, 1 to 100 letters, digits, '-' and '_', starting with a letter or a digit " +
          "(aws eks list-clusters shows them)",
      };
}

/** An AWS region of the partitions whose STS lives at sts.<region>.amazonaws.com(.cn). */
export function parseAwsRegion(raw: string): Parsed<string> {
  if (!REGION.test(raw)) return { ok: false, problem: "accepted: an AWS region name, e.g. eu-west-1" };
  if (/-iso[a-z]?-/.test(raw)) {
    return { ok: false, problem: "the isolated partitions' STS endpoints are not supported" };
  }
  return { ok: true, value: raw };
}

/** The regional STS host that signs and verifies the token (the endpoint `aws eks get-token --region` uses). */
export function stsHost(region: string): string {
  return `sts.${region}.${region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com"}`;
}

/**
 * The credentials and region the Lambda runtime puts in its environment (the function role's, temporary), read at
 * each call so that a renewed set is used. Throws SettingError naming the first variable missing; never quotes a key.
 */
export function awsCredentialsFromEnv(env: Env): { credentials: AwsCredentials; region: string } {
  const required = (name: string): string => {
    const value = settingValue(env, name);
    if (value === undefined) {
      throw new SettingError(
        `${name} is not set: the EKS token is signed with the credentials of the function's role, which Lambda ` +
          "puts in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION",
      );
    }
    return value;
  };
  const accessKeyId = required("AWS_ACCESS_KEY_ID");
  if (!ACCESS_KEY_ID.test(accessKeyId)) {
    throw new SettingError("AWS_ACCESS_KEY_ID is invalid; accepted: an access key id, 16 to 128 upper-case A-Z, 0-9");
  }
  const secretAccessKey = required("AWS_SECRET_ACCESS_KEY");
  const sessionToken = settingValue(env, "AWS_SESSION_TOKEN");
  const regionRaw = required("AWS_REGION");
  const region = parseAwsRegion(regionRaw);
  if (!region.ok) throw new SettingError(`AWS_REGION=${JSON.stringify(regionRaw)} is invalid; ${region.problem}`);
  return {
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) },
    region: region.value,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// SigV4, query-string form

/** RFC 3986 percent-encoding, as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is encoded, upper-case hex. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");
const hmac = (key: string | Buffer, text: string): Buffer => createHmac("sha256", key).update(text, "utf8").digest();

/** `20150830T123600Z`: X-Amz-Date's form of `date` (UTC, whole seconds). */
export function amzDate(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new Error("the signing time is not a valid date");
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
}

export interface CanonicalRequestInput {
  method: string;
  /** Already in canonical form (`/`, `/test.txt`). */
  path: string;
  /** Parameter names and values, unencoded; encoded and sorted here. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Signed headers by name (any case), unencoded values. */
  headers: Readonly<Record<string, string>>;
  payloadHash: string;
}

/** The encoded, sorted query string SigV4 signs (and the presigned URL carries). */
export function canonicalQuery(query: ReadonlyArray<readonly [string, string]>): string {
  return query
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

/** `host;x-k8s-aws-id`: the signed headers' names, lower-case and sorted. */
export function signedHeaderNames(headers: Readonly<Record<string, string>>): string {
  return Object.keys(headers)
    .map((name) => name.toLowerCase())
    .sort()
    .join(";");
}

/** SigV4 step 1: the canonical request. */
export function canonicalRequest(input: CanonicalRequestInput): string {
  const headers = Object.entries(input.headers)
    .map(([name, value]) => [name.toLowerCase(), value.trim().replace(/\s+/g, " ")] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    input.method,
    input.path,
    canonicalQuery(input.query),
    headers.map(([name, value]) => `${name}:${value}\n`).join(""),
    headers.map(([name]) => name).join(";"),
    input.payloadHash,
  ].join("\n");
}

/** `20150830/us-east-1/service/aws4_request`. */
export const credentialScope = (date: Date, region: string, service: string): string =>
  `${amzDate(date).slice(0, 8)}/${region}/${service}/aws4_request`;

/** SigV4 step 2: what the signing key signs. */
export function stringToSign(date: Date, scope: string, canonical: string): string {
  return [ALGORITHM, amzDate(date), scope, sha256Hex(canonical)].join("\n");
}

/** SigV4 step 3: the key derived from the secret for one day, region and service. */
export function signingKey(secretAccessKey: string, date: Date, region: string, service: string): Buffer {
  const day = hmac(`AWS4${secretAccessKey}`, amzDate(date).slice(0, 8));
  return hmac(hmac(hmac(day, region), service), "aws4_request");
}

/** SigV4 step 4: the signature, hex. */
export const signature = (key: Buffer, toSign: string): string =>
  createHmac("sha256", key).update(toSign, "utf8").digest("hex");

export interface PresignInput {
  method: string;
  host: string;
  path: string;
  query: ReadonlyArray<readonly [string, string]>;
  /** Headers signed besides `host` (their names in X-Amz-SignedHeaders); the caller must send them. */
  headers?: Readonly<Record<string, string>>;
  service: string;
  region: string;
  credentials: AwsCredentials;
  now: Date;
  expiresSeconds: number;
  /** Default the empty payload's hash; S3 presigns UNSIGNED-PAYLOAD. */
  payloadHash?: string;
}

/**
 * A SigV4 presigned https URL: the authentication parameters (and X-Amz-Security-Token, signed, for temporary
 * credentials) join the query, which is sorted as signed, and X-Amz-Signature comes last.
 */
export function presignUrl(input: PresignInput): string {
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(input.path)) throw new Error(`path ${input.path} is not in canonical form`);
  const headers = { host: input.host, ...input.headers };
  const scope = credentialScope(input.now, input.region, input.service);
  const query: Array<readonly [string, string]> = [
    ...input.query,
    ["X-Amz-Algorithm", ALGORITHM],
    ["X-Amz-Credential", `${input.credentials.accessKeyId}/${scope}`],
    ["X-Amz-Date", amzDate(input.now)],
    ["X-Amz-Expires", String(input.expiresSeconds)],
    ["X-Amz-SignedHeaders", signedHeaderNames(headers)],
  ];
  if (input.credentials.sessionToken) query.push(["X-Amz-Security-Token", input.credentials.sessionToken]);
  const canonical = canonicalRequest({
    method: input.method,
    path: input.path,
    query,
    headers,
    payloadHash: input.payloadHash ?? EMPTY_PAYLOAD_SHA256,
  });
  const key = signingKey(input.credentials.secretAccessKey, input.now, input.region, input.service);
  const signed = signature(key, stringToSign(input.now, scope, canonical));
  return `https://${input.host}${input.path}?${canonicalQuery(query)}&X-Amz-Signature=${signed}`;
}

// ---------------------------------------------------------------------------------------------------------------
// the token

/** The presigned STS GetCallerIdentity URL for `clusterName`, as aws-iam-authenticator and `aws eks get-token` sign. */
export function presignGetCallerIdentity(request: EksTokenRequest): string {
  const name = parseEksClusterName(request.clusterName);
  if (!name.ok) throw new Error(`the cluster name ${JSON.stringify(request.clusterName)} is invalid; ${name.problem}`);
  const region = parseAwsRegion(request.region);
  if (!region.ok) throw new Error(`the region ${JSON.stringify(request.region)} is invalid; ${region.problem}`);
  return presignUrl({
    method: "GET",
    host: stsHost(region.value),
    path: "/",
    query: [
      ["Action", "GetCallerIdentity"],
      ["Version", STS_VERSION],
    ],
    headers: { [CLUSTER_ID_HEADER]: name.value },
    service: "sts",
    region: region.value,
    credentials: request.credentials,
    now: request.now,
    expiresSeconds: EKS_PRESIGN_EXPIRES_SECONDS,
  });
}

/** A bearer token for the EKS cluster, with when to renew it and when it expires. */
export function eksToken(request: EksTokenRequest): EksToken {
  const url = presignGetCallerIdentity(request);
  const token = EKS_TOKEN_PREFIX + Buffer.from(url, "utf8").toString("base64url");
  if (token.length > EKS_TOKEN_MAX_BYTES) {
    throw new Error(
      `the EKS token is ${token.length} bytes, more than the ${EKS_TOKEN_MAX_BYTES} the cluster's authenticator ` +
        "accepts (an unusually long AWS_SESSION_TOKEN?)",
    );
  }
  // Signed to the second: the validity counts from X-Amz-Date, not from the milliseconds of `now`.
  const issued = Math.floor(request.now.getTime() / 1000) * 1000;
  return {
    token,
    url,
    issuedAt: new Date(issued),
    renewAt: new Date(issued + EKS_TOKEN_RENEW_AFTER_MS),
    expiresAt: new Date(issued + EKS_TOKEN_LIFETIME_MS),
  };
}

/** Whether `token` should be replaced at `now`: it is due for renewal, or the clock went back before it was made. */
export const eksTokenDue = (token: Pick<EksToken, "issuedAt" | "renewAt">, now: Date): boolean =>
  now.getTime() >= token.renewAt.getTime() || now.getTime() < token.issuedAt.getTime();

/** The presigned URL inside a token; throws when it is not one of ours. */
export function eksTokenUrl(token: string): string {
  if (!token.startsWith(EKS_TOKEN_PREFIX)) throw new Error(`not an EKS token: no ${EKS_TOKEN_PREFIX} prefix`);
  const body = token.slice(EKS_TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new Error("not an EKS token: not base64url without padding");
  return Buffer.from(body, "base64url").toString("utf8");
}
