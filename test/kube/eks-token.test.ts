// The EKS bearer token: SigV4 against AWS's published vectors and against the AWS SDK's own signer
// (@smithy/signature-v4), the token's shape as aws-iam-authenticator reads it, its renewal, and its settings.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  amzDate,
  awsCredentialsFromEnv,
  canonicalRequest,
  credentialScope,
  EKS_TOKEN_LIFETIME_MS,
  EKS_TOKEN_PREFIX,
  EKS_TOKEN_RENEW_AFTER_MS,
  EMPTY_PAYLOAD_SHA256,
  eksToken,
  eksTokenDue,
  eksTokenUrl,
  parseAwsRegion,
  parseEksClusterName,
  presignGetCallerIdentity,
  presignUrl,
  signature,
  signingKey,
  stringToSign,
  stsHost,
} from "../../functions/kube/eks-token.ts";
import { type Credentials, smithyPresign } from "./fake-eks.ts";

/** The AWS documentation's example credentials (not a key of anyone's). */
const EXAMPLE = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const AT = new Date("2026-03-14T09:26:53.589Z");
const LAMBDA_CREDENTIALS = {
  accessKeyId: "ASIAQEXAMPLE7STEPPER",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
  // A session token carries '+', '/' and '=' like a real one, which the query must encode.
  sessionToken: "IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMSJHMEUCIQD+example/session+token==",
};

describe("SigV4, against AWS's published vectors", () => {
  it("signs the test suite's get-vanilla-query-order-key-case as published", () => {
    // aws-sig-v4-test-suite: GET /?Param2=value2&Param1=value1, host example.amazonaws.com, 20150830T123600Z.
    const date = new Date("2015-08-30T12:36:00Z");
    const canonical = canonicalRequest({
      method: "GET",
      path: "/",
      query: [
        ["Param2", "value2"],
        ["Param1", "value1"],
      ],
      headers: { Host: "example.amazonaws.com", "X-Amz-Date": amzDate(date) },
      payloadHash: EMPTY_PAYLOAD_SHA256,
    });
    expect(canonical).toBe(
      [
        "GET",
        "/",
        "Param1=value1&Param2=value2",
        "host:example.amazonaws.com",
        "x-amz-date:20150830T123600Z",
        "",
        "host;x-amz-date",
        EMPTY_PAYLOAD_SHA256,
      ].join("\n"),
    );
    const scope = credentialScope(date, "us-east-1", "service");
    const toSign = stringToSign(date, scope, canonical);
    expect(toSign).toBe(
      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" +
        "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
    );
    expect(signature(signingKey(EXAMPLE.secretAccessKey, date, "us-east-1", "service"), toSign)).toBe(
      "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    );
  });

  it("presigns the S3 documentation's example URL exactly (query-string authentication)", () => {
    // "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", its GET test.txt example.
    const url = presignUrl({
      method: "GET",
      host: "examplebucket.s3.amazonaws.com",
      path: "/test.txt",
      query: [],
      service: "s3",
      region: "us-east-1",
      credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
      now: new Date("2013-05-24T00:00:00Z"),
      expiresSeconds: 86400,
      payloadHash: "UNSIGNED-PAYLOAD",
    });
    expect(url).toBe(
      "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
  });
});

/** The query of a presigned URL, as name -> value (each name once). */
function queryOf(url: string): Record<string, string> {
  const params = new URL(url).searchParams;
  const names = [...params.keys()];
  expect(new Set(names).size).toBe(names.length);
  return Object.fromEntries(params);
}

/** The same request presigned by the AWS SDK's signer. */
const reference = (credentials: Credentials, region: string, cluster: string, now: Date) =>
  smithyPresign({
    credentials,
    region,
    host: stsHost(region),
    query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
    headers: { "x-k8s-aws-id": cluster },
    signingDate: now,
    expiresIn: 60,
  });

describe("the presigned GetCallerIdentity URL, against @smithy/signature-v4", () => {
  it("has the query the SDK presigns, signature included, with and without a session token", async () => {
    for (const credentials of [LAMBDA_CREDENTIALS, EXAMPLE]) {
      const url = presignGetCallerIdentity({ credentials, region: "eu-west-1", clusterName: "prod-eu", now: AT });
      expect(queryOf(url)).toEqual(await reference(credentials, "eu-west-1", "prod-eu", AT));
    }
  });

  it("agrees with the SDK on any credentials, region, cluster name and time", async () => {
    const regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1", "il-central-1"];
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^(AKIA|ASIA)[A-Z0-9]{16}$/),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.option(fc.string({ minLength: 1, maxLength: 400 }), { nil: undefined }),
        fc.constantFrom(...regions),
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/),
        fc.date({ min: new Date("2015-01-01T00:00:00Z"), max: new Date("2099-12-31T23:59:59Z"), noInvalidDate: true }),
        async (accessKeyId, secretAccessKey, sessionToken, region, cluster, now) => {
          const credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
          const url = presignGetCallerIdentity({ credentials, region, clusterName: cluster, now });
          expect(queryOf(url)).toEqual(await reference(credentials, region, cluster, now));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("signs what the authenticator needs: STS host and path, Action, host;x-k8s-aws-id, X-Amz-Expires 60", () => {
    const url = new URL(
      presignGetCallerIdentity({ credentials: LAMBDA_CREDENTIALS, region: "eu-west-1", clusterName: "c1", now: AT }),
    );
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe("https://sts.eu-west-1.amazonaws.com/");
    expect([...url.searchParams.keys()]).toEqual([
      "Action",
      "Version",
      "X-Amz-Algorithm",
      "X-Amz-Credential",
      "X-Amz-Date",
      "X-Amz-Expires",
      "X-Amz-Security-Token",
      "X-Amz-SignedHeaders",
      "X-Amz-Signature",
    ]);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: "GetCallerIdentity",
      Version: "2011-06-15",
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Credential": "ASIAQEXAMPLE7STEPPER/20260314/eu-west-1/sts/aws4_request",
      "X-Amz-Date": "20260314T092653Z",
      "X-Amz-Expires": "60",
      "X-Amz-Security-Token": LAMBDA_CREDENTIALS.sessionToken,
      "X-Amz-SignedHeaders": "host;x-k8s-aws-id",
    });
    // Encoded as SigV4 encodes: '/', '+' and '=' of the session token are percent-encoded in the URL itself.
    expect(url.search).toContain("X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F%2F");
    expect(url.search).toContain("token%3D%3D&");
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("uses each partition's STS host", () => {
    expect(stsHost("eu-central-1")).toBe("sts.eu-central-1.amazonaws.com");
    expect(stsHost("us-gov-east-1")).toBe("sts.us-gov-east-1.amazonaws.com");
    expect(stsHost("cn-northwest-1")).toBe("sts.cn-northwest-1.amazonaws.com.cn");
  });
});

describe("the token", () => {
  it("is k8s-aws-v1. and the URL in base64url without padding, as `aws eks get-token` writes it", () => {
    // Lengths of every remainder mod 3, so some URL would need padding.
    for (const cluster of ["a", "ab", "abc", "prod_eu-1"]) {
      const made = eksToken({ credentials: LAMBDA_CREDENTIALS, region: "eu-west-1", clusterName: cluster, now: AT });
      expect(made.token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
      expect(made.token.slice(EKS_TOKEN_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(made.token.slice(EKS_TOKEN_PREFIX.length), "base64url").toString()).toBe(made.url);
      expect(eksTokenUrl(made.token)).toBe(made.url);
      expect(made.token.length).toBeLessThanOrEqual(4096);
    }
  });

  it("is issued at its X-Amz-Date (to the second), renewed after 10 minutes, and expires after 15", () => {
    const made = eksToken({ credentials: EXAMPLE, region: "eu-west-1", clusterName: "c1", now: AT });
    expect(made.issuedAt.toISOString()).toBe("2026-03-14T09:26:53.000Z");
    expect(made.renewAt.getTime() - made.issuedAt.getTime()).toBe(EKS_TOKEN_RENEW_AFTER_MS);
    expect(made.expiresAt.getTime() - made.issuedAt.getTime()).toBe(EKS_TOKEN_LIFETIME_MS);
    expect(EKS_TOKEN_RENEW_AFTER_MS).toBe(600_000);
    expect(EKS_TOKEN_LIFETIME_MS).toBe(900_000);
    const at = (ms: number) => new Date(made.issuedAt.getTime() + ms);
    expect(eksTokenDue(made, at(0))).toBe(false);
    expect(eksTokenDue(made, at(EKS_TOKEN_RENEW_AFTER_MS - 1))).toBe(false);
    expect(eksTokenDue(made, at(EKS_TOKEN_RENEW_AFTER_MS))).toBe(true);
    // A clock set back before the token was made: make another rather than trust it.
    expect(eksTokenDue(made, at(-1))).toBe(true);
  });

  it("refuses what is not a token of this form", () => {
    expect(() => eksTokenUrl("k8s-aws-v2.abc")).toThrow(/no k8s-aws-v1\. prefix/);
    expect(() => eksTokenUrl("k8s-aws-v1.abc=")).toThrow(/base64url without padding/);
  });

  it("refuses a cluster name or region EKS would not have", () => {
    const make =
      (clusterName: string, region = "eu-west-1") =>
      () =>
        eksToken({ credentials: EXAMPLE, region, clusterName, now: AT });
    expect(make("-prod")).toThrow(/the cluster name "-prod" is invalid; accepted: an EKS cluster name/);
    expect(make("bad.name")).toThrow(/cluster name/);
    expect(make("Prod_EU-1")).not.toThrow();
    expect(make("ok", "eu_west_1")).toThrow(/the region "eu_west_1" is invalid/);
  });
});

describe("the settings it reads", () => {
  it("accepts EKS cluster names: 1 to 100 letters, digits, '-' and '_', from a letter or a digit", () => {
    for (const name of ["a", "7", "Prod_EU-1", "x".repeat(100)]) expect(parseEksClusterName(name).ok, name).toBe(true);
    for (const name of ["", "x".repeat(101), "-a", "_a", "a.b", "a b", "ä"]) {
      expect(parseEksClusterName(name).ok, name).toBe(false);
    }
  });

  it("accepts region names, and refuses the isolated partitions by name", () => {
    for (const region of ["eu-west-1", "us-gov-west-1", "ap-southeast-5", "cn-north-1", "mx-central-1"]) {
      expect(parseAwsRegion(region).ok, region).toBe(true);
    }
    for (const region of ["", "eu-west", "EU-WEST-1", "euwest1", "eu-west-1a"]) {
      expect(parseAwsRegion(region), region).toEqual({
        ok: false,
        problem: "accepted: an AWS region name, e.g. eu-west-1",
      });
    }
    expect(parseAwsRegion("us-iso-east-1")).toEqual({
      ok: false,
      problem: "the isolated partitions' STS endpoints are not supported",
    });
  });

  it("takes the Lambda role's credentials from the environment, the session token optional", () => {
    const env = {
      AWS_ACCESS_KEY_ID: LAMBDA_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LAMBDA_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: LAMBDA_CREDENTIALS.sessionToken,
      AWS_REGION: "eu-west-1",
    };
    expect(awsCredentialsFromEnv(env)).toEqual({ credentials: LAMBDA_CREDENTIALS, region: "eu-west-1" });
    expect(awsCredentialsFromEnv({ ...env, AWS_SESSION_TOKEN: "" }).credentials).toEqual({
      accessKeyId: LAMBDA_CREDENTIALS.accessKeyId,
      secretAccessKey: LAMBDA_CREDENTIALS.secretAccessKey,
    });
  });

  it("names the variable that is missing or wrong, and never quotes a key", () => {
    const env = {
      AWS_ACCESS_KEY_ID: LAMBDA_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LAMBDA_CREDENTIALS.secretAccessKey,
      AWS_REGION: "eu-west-1",
    };
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) {
      expect(() => awsCredentialsFromEnv({ ...env, [name]: " " }), name).toThrow(
        new RegExp(`^${name} is not set: the EKS token is signed with the credentials of the function's role`),
      );
    }
    const message = (() => {
      try {
        awsCredentialsFromEnv({ ...env, AWS_ACCESS_KEY_ID: "not-a-key-wJalrXUtnFEMI" });
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toMatch(/^AWS_ACCESS_KEY_ID is invalid; accepted: an access key id/);
    expect(message).not.toContain("wJalrXUtnFEMI");
    expect(() => awsCredentialsFromEnv({ ...env, AWS_REGION: "moon-1" })).toThrow(
      /^AWS_REGION="moon-1" is invalid; accepted: an AWS region name/,
    );
  });
});
