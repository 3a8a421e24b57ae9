// A fake of what EKS does with a stepper's bearer token, for the tests: STS's GetCallerIdentity, which checks a
// presigned URL's SigV4 signature, and the API server's front door, which checks the token as aws-iam-authenticator
// does, asks STS who signed it, maps the role to access (an access entry) and passes the request on to the fake API
// server.
/*
 * Independent of functions/kube/eks-token.ts on purpose: the signature is recomputed with @smithy/signature-v4 (the
 * AWS SDK's signer) from the secret key the fake knows, and the token is read back with nothing of ours. The checks
 * follow aws-iam-authenticator's Verify (pkg/token/token.go): `k8s-aws-v1.` prefix, at most 4096 bytes, base64url
 * without padding, an https URL to an STS host, path "/", only the SigV4 and Action/Version parameters, each once,
 * Action GetCallerIdentity, x-k8s-aws-id among the signed headers, X-Amz-Expires from 0 to 900, and X-Amz-Date no
 * more than 15 minutes old; then GET the URL with `x-k8s-aws-id: <cluster>`. STS's error codes here are the common
 * ones (InvalidClientTokenId, SignatureDoesNotMatch); the wording of its messages is not STS's, word for word.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { SignatureV4 } from "@smithy/signature-v4";
import type { Checksum, SourceData } from "@smithy/types";
import type { FakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { generateWebhookCertificates } from "../../webhooks/certs/certs.ts";

const toBuffer = (data: SourceData): Buffer =>
  typeof data === "string"
    ? Buffer.from(data, "utf8")
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 and HMAC-SHA256 from node:crypto in the shape @smithy/signature-v4 takes (the SDK brings its own). */
export class NodeSha256 implements Checksum {
  private readonly secret: Buffer | undefined;
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : toBuffer(secret);
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", this.secret);
  }
  update(data: Uint8Array): void {
    this.hash.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The query @smithy/signature-v4 presigns for `GET https://<host>/?<query>` with `headers` signed: the reference
 * every signature here is checked against.
 */
export async function smithyPresign(options: {
  credentials: Credentials;
  region: string;
  host: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  signingDate: Date;
  expiresIn: number;
  service?: string;
}): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: options.service ?? "sts",
    region: options.region,
    credentials: options.credentials,
    sha256: NodeSha256,
  });
  const presigned = await signer.presign(
    {
      method: "GET",
      protocol: "https:",
      hostname: options.host,
      path: "/",
      query: options.query,
      headers: { host: options.host, ...options.headers },
    },
    { signingDate: options.signingDate, expiresIn: options.expiresIn },
  );
  return Object.fromEntries(Object.entries(presigned.query ?? {}).map(([name, value]) => [name, String(value)]));
}

/** The identity STS reports for one access key. */
export interface StsPrincipal extends Credentials {
  /** What GetCallerIdentity answers, e.g. arn:aws:sts::123456789012:assumed-role/StepperRole/greenlight-stepper. */
  arn: string;
  userId: string;
  account: string;
}

export interface StsCall {
  host: string;
  clusterId: string | undefined;
  accessKeyId: string | undefined;
  status: number;
  /** STS's error code when it refused. */
  code?: string;
}

export interface FakeSts {
  /** `http://127.0.0.1:<port>`: send a presigned URL's path and query here, with its Host header. */
  url: string;
  calls: StsCall[];
  close(): Promise<void>;
}

const STS_HOST = /^sts\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;
const LIFETIME_MS = 15 * 60_000;
const AUTH_PARAMS = new Set([
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Security-Token",
  "X-Amz-Signature",
]);

/** `20150830T123600Z` as a Date, or undefined. */
function parseAmzDate(text: string | null): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text ?? "");
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 0, h ?? 0, mi ?? 0, s ?? 0));
}

function xmlError(response: ServerResponse, status: number, code: string, message: string): void {
  const body =
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code>` +
    `<Message>${message}</Message></Error><RequestId>fake</RequestId></ErrorResponse>`;
  response.writeHead(status, { "content-type": "text/xml" });
  response.end(body);
}

/**
 * STS answering GetCallerIdentity for presigned GET URLs signed by one of `principals`, on 127.0.0.1. It recomputes
 * the signature with @smithy/signature-v4 over the request as it arrives (its Host and its signed headers), refuses a
 * URL more than 15 minutes past its X-Amz-Date by `now`, and answers XML (JSON when asked, as the authenticator asks).
 */
export async function startFakeSts(options: { principals: StsPrincipal[]; now?: () => Date }): Promise<FakeSts> {
  const now = options.now ?? (() => new Date());
  const byKey = new Map(options.principals.map((principal) => [principal.accessKeyId, principal]));
  const calls: StsCall[] = [];

  const server = createServer((req, res) => {
    const host = String(req.headers.host ?? "");
    const url = new URL(req.url ?? "/", `https://${host}`);
    const params = url.searchParams;
    const clusterId = req.headers["x-k8s-aws-id"] as string | undefined;
    const accessKeyId = params.get("X-Amz-Credential")?.split("/")[0];
    const call: StsCall = { host, clusterId, accessKeyId, status: 0 };
    calls.push(call);
    const refuse = (status: number, code: string, message: string): void => {
      Object.assign(call, { status, code });
      xmlError(res, status, code, message);
    };
    void (async () => {
      const region = STS_HOST.exec(host)?.[1];
      if (req.method !== "GET" || url.pathname !== "/" || region === undefined) {
        return refuse(400, "InvalidAction", `not a presigned STS GET: ${req.method} ${host}${url.pathname}`);
      }
      if (params.get("Action") !== "GetCallerIdentity" || params.get("Version") !== "2011-06-15") {
        return refuse(400, "InvalidAction", "the fake answers GetCallerIdentity of 2011-06-15 only");
      }
      const [, day, scopeRegion, service, terminator] = (params.get("X-Amz-Credential") ?? "").split("/");
      const date = parseAmzDate(params.get("X-Amz-Date"));
      const expires = Number(params.get("X-Amz-Expires"));
      if (
        params.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256" ||
        date === undefined ||
        day !== params.get("X-Amz-Date")?.slice(0, 8) ||
        scopeRegion !== region ||
        service !== "sts" ||
        terminator !== "aws4_request" ||
        !Number.isInteger(expires)
      ) {
        return refuse(400, "IncompleteSignature", "the SigV4 query parameters are malformed");
      }
      const principal = accessKeyId === undefined ? undefined : byKey.get(accessKeyId);
      if (principal === undefined) {
        return refuse(403, "InvalidClientTokenId", "The security token included in the request is invalid.");
      }
      if ((params.get("X-Amz-Security-Token") ?? undefined) !== principal.sessionToken) {
        return refuse(403, "InvalidClientTokenId", "The security token included in the request is invalid.");
      }
      const age = now().getTime() - date.getTime();
      if (age > LIFETIME_MS) return refuse(403, "SignatureDoesNotMatch", "Signature expired");
      if (age < -LIFETIME_MS) return refuse(403, "SignatureDoesNotMatch", "Signature not yet current");
      const signedNames = (params.get("X-Amz-SignedHeaders") ?? "").split(";");
      const headers: Record<string, string> = {};
      for (const name of signedNames) {
        const value = req.headers[name];
        if (typeof value !== "string") {
          return refuse(403, "SignatureDoesNotMatch", `the signed header ${name} was not sent`);
        }
        if (name !== "host") headers[name] = value;
      }
      const query = Object.fromEntries([...params].filter(([name]) => !AUTH_PARAMS.has(name)));
      const expected = await smithyPresign({
        credentials: principal,
        region,
        host,
        query,
        headers,
        signingDate: date,
        expiresIn: expires,
      });
      const given = Buffer.from(params.get("X-Amz-Signature") ?? "");
      const wanted = Buffer.from(expected["X-Amz-Signature"] ?? "");
      if (
        expected["X-Amz-SignedHeaders"] !== params.get("X-Amz-SignedHeaders") ||
        given.length !== wanted.length ||
        !timingSafeEqual(given, wanted)
      ) {
        return refuse(
          403,
          "SignatureDoesNotMatch",
          "The request signature we calculated does not match the signature you provided.",
        );
      }
      call.status = 200;
      const result = { Arn: principal.arn, UserId: principal.userId, Account: principal.account };
      if (String(req.headers.accept ?? "").includes("application/json")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            GetCallerIdentityResponse: {
              GetCallerIdentityResult: result,
              ResponseMetadata: { RequestId: "fake" },
            },
          }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "text/xml" });
      res.end(
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
          `<Arn>${result.Arn}</Arn><UserId>${result.UserId}</UserId><Account>${result.Account}</Account>` +
          `</GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>` +
          `</GetCallerIdentityResponse>`,
      );
    })().catch((error: unknown) => refuse(500, "InternalFailure", String(error)));
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** One bearer token the front door looked at. */
export interface Authentication {
  /** The X-Amz-Date inside the token, when it got that far. */
  signedAt?: string;
  /** The role the token's signer maps to (an assumed role is read as its role), when STS answered. */
  principal?: string;
  accepted: boolean;
  reason?: string;
}

export interface EksFront {
  /** `https://127.0.0.1:<port>`: GREENLIGHT_EKS_ENDPOINT. */
  endpoint: string;
  /** base64 of the CA's PEM that signed the front's certificate: GREENLIGHT_EKS_CA. */
  certificateAuthority: string;
  authentications: Authentication[];
  close(): Promise<void>;
}

const ALLOWED_PARAMS = new Set([
  "action",
  "version",
  "x-amz-algorithm",
  "x-amz-credential",
  "x-amz-date",
  "x-amz-expires",
  "x-amz-security-token",
  "x-amz-signature",
  "x-amz-signedheaders",
]);

/** arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION -> arn:aws:iam::ACCOUNT:role/ROLE, as EKS reads a role session. */
export function canonicalArn(arn: string): string {
  const match = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(arn);
  return match ? `arn:${match[1]}:iam::${match[2]}:role/${match[3]}` : arn;
}

/** What aws-iam-authenticator's Verify checks before it calls STS; the reason it refuses, or the URL. */
function readToken(authorization: string | undefined, now: Date): { url: URL; signedAt: string } | string {
  const token = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
  if (token === undefined) return "no bearer token";
  if (token.length > 4096) return "token is too large";
  if (!token.startsWith("k8s-aws-v1.")) return 'token is missing expected "k8s-aws-v1." prefix';
  const body = token.slice("k8s-aws-v1.".length);
  if (!/^[A-Za-z0-9_-]*$/.test(body)) return "illegal base64 data (base64url without padding expected)";
  let url: URL;
  try {
    url = new URL(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    return "the token is not a URL";
  }
  if (url.protocol !== "https:") return `unexpected scheme ${url.protocol} in pre-signed URL`;
  if (!STS_HOST.test(url.host)) return `unexpected hostname ${url.host} in pre-signed URL`;
  if (url.pathname !== "/") return "unexpected path in pre-signed URL";
  const lower = new Map<string, string>();
  for (const name of new Set(url.searchParams.keys())) {
    if (!ALLOWED_PARAMS.has(name.toLowerCase())) return `non-whitelisted query parameter ${name}`;
    const values = url.searchParams.getAll(name);
    if (values.length !== 1) return "query parameter with multiple values not supported";
    lower.set(name.toLowerCase(), values[0] ?? "");
  }
  if (lower.get("action") !== "GetCallerIdentity") return "unexpected action parameter in pre-signed URL";
  if (!(lower.get("x-amz-signedheaders") ?? "").split(";").includes("x-k8s-aws-id")) {
    return "client did not sign the x-k8s-aws-id header in the pre-signed URL";
  }
  const expires = Number(lower.get("x-amz-expires"));
  if (!Number.isInteger(expires) || expires < 0 || expires > 900) return "invalid X-Amz-Expires parameter";
  const signedAt = lower.get("x-amz-date") ?? "";
  const date = parseAmzDate(signedAt);
  if (date === undefined) return "error parsing X-Amz-Date parameter";
  if (now.getTime() > date.getTime() + LIFETIME_MS) return "X-Amz-Date parameter is expired (15 minute expiration)";
  return { url, signedAt };
}

function getJson(sts: FakeSts, url: URL, clusterName: string): Promise<{ status: number; body: string }> {
  const target = new URL(sts.url);
  return new Promise((done, fail) => {
    const call = request(
      {
        host: target.hostname,
        port: target.port,
        method: "GET",
        path: `${url.pathname}${url.search}`,
        headers: { host: url.host, "x-k8s-aws-id": clusterName, accept: "application/json" },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => done({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    call.on("error", fail);
    call.end();
  });
}

function unauthorized(res: ServerResponse): void {
  res.writeHead(401, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    }),
  );
}

/** Passes an authenticated request to the fake API server, as the user it knows. */
function forward(req: IncomingMessage, res: ServerResponse, api: FakeApiServer): void {
  const target = new URL(api.url);
  const upstream = request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: target.host, authorization: `Bearer ${api.token}` },
    },
    (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    },
  );
  upstream.on("error", (error) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(String(error));
  });
  req.pipe(upstream);
}

/**
 * The cluster's API endpoint over TLS (a CA of its own, certificate for 127.0.0.1), authenticating every request
 * with an EKS token through `sts` and the access entries `principals` (role ARNs), then serving it from `api`.
 */
export async function startEksFront(options: {
  api: FakeApiServer;
  sts: FakeSts;
  clusterName: string;
  /** The IAM role ARNs with an access entry. */
  principals: string[];
  now?: () => Date;
}): Promise<EksFront> {
  const now = options.now ?? (() => new Date());
  const certificates = generateWebhookCertificates({
    service: "eks-front",
    namespace: "test",
    ipAddresses: ["127.0.0.1"],
  });
  const authentications: Authentication[] = [];

  const server = createHttpsServer(
    { cert: certificates.serving.certPem, key: certificates.serving.keyPem },
    (req, res) => {
      void (async () => {
        const read = readToken(req.headers.authorization, now());
        if (typeof read === "string") {
          authentications.push({ accepted: false, reason: read });
          return unauthorized(res);
        }
        const answer = await getJson(options.sts, read.url, options.clusterName);
        if (answer.status !== 200) {
          const code = /<Code>([^<]+)<\/Code>/.exec(answer.body)?.[1] ?? String(answer.status);
          authentications.push({ signedAt: read.signedAt, accepted: false, reason: `sts: ${code}` });
          return unauthorized(res);
        }
        const arn = (
          JSON.parse(answer.body) as { GetCallerIdentityResponse: { GetCallerIdentityResult: { Arn: string } } }
        ).GetCallerIdentityResponse.GetCallerIdentityResult.Arn;
        const principal = canonicalArn(arn);
        if (!options.principals.includes(principal)) {
          authentications.push({ signedAt: read.signedAt, principal, accepted: false, reason: "no access entry" });
          return unauthorized(res);
        }
        authentications.push({ signedAt: read.signedAt, principal, accepted: true });
        forward(req, res, options.api);
      })().catch((error: unknown) => {
        authentications.push({ accepted: false, reason: String(error) });
        if (!res.headersSent) unauthorized(res);
      });
    },
  );
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://127.0.0.1:${port}`,
    certificateAuthority: certificates.caBundle,
    authentications,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
