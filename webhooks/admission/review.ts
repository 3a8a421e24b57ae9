// AdmissionReview v1: checks that a body is one, and builds the responses the API server expects back.
import type { Operation } from "fast-json-patch";
import { isObject } from "../../functions/contract/objects.ts";
import { patchJson } from "./patch-json.ts";

export const ADMISSION_API_VERSION = "admission.k8s.io/v1";
export const MAX_WARNING_LENGTH = 120;

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  namespace?: string;
  name?: string;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: "AdmissionReview";
  request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  patchType?: "JSONPatch";
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: "AdmissionReview";
  response: AdmissionResponse;
}

const OPERATIONS = ["CREATE", "UPDATE", "DELETE", "CONNECT"] as const;

export type ReviewCheck = { ok: true; review: AdmissionReview } | { ok: false; message: string };

/** Accepts a parsed JSON body; names the first field that keeps it from being an AdmissionReview v1 request. */
export function parseAdmissionReview(body: unknown): ReviewCheck {
  const fail = (message: string): ReviewCheck => ({ ok: false, message });
  if (!isObject(body)) return fail("body must be a JSON object: an AdmissionReview");
  if (body.kind !== "AdmissionReview") return fail('kind must be "AdmissionReview"');
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    return fail(`apiVersion must be "${ADMISSION_API_VERSION}" (set admissionReviewVersions: ["v1"] in the webhook)`);
  }
  const request = body.request;
  if (!isObject(request)) return fail("request must be an object");
  if (typeof request.uid !== "string" || request.uid === "") return fail("request.uid must be a non-empty string");
  const kind = request.kind;
  if (
    !isObject(kind) ||
    typeof kind.kind !== "string" ||
    typeof kind.version !== "string" ||
    typeof kind.group !== "string"
  ) {
    return fail("request.kind must be {group, version, kind} strings");
  }
  if (!OPERATIONS.includes(request.operation as AdmissionRequest["operation"])) {
    return fail(`request.operation must be one of ${OPERATIONS.join(", ")}`);
  }
  if (request.subResource !== undefined && typeof request.subResource !== "string") {
    return fail("request.subResource must be a string when present");
  }
  if (request.dryRun !== undefined && typeof request.dryRun !== "boolean") {
    return fail("request.dryRun must be a boolean when present");
  }
  return { ok: true, review: body as unknown as AdmissionReview };
}

/** Warnings reach users through kubectl; the API server truncates long ones, so we keep them short ourselves. */
export const shortenWarning = (warning: string): string =>
  warning.length <= MAX_WARNING_LENGTH ? warning : `${warning.slice(0, MAX_WARNING_LENGTH - 1)}…`;

const wrap = (response: AdmissionResponse): AdmissionReviewResponse => ({
  apiVersion: ADMISSION_API_VERSION,
  kind: "AdmissionReview",
  response,
});

/** The patch allowResponse() encoded last: base64 by construction, so reviewResponseJson() need not check it. */
let lastPatch: string | undefined;

export function allowResponse(
  uid: string,
  options: { patch?: Operation[]; warnings?: string[] } = {},
): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (options.patch && options.patch.length > 0) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(patchJson(options.patch)).toString("base64");
    lastPatch = response.patch;
  }
  if (options.warnings && options.warnings.length > 0) response.warnings = options.warnings.map(shortenWarning);
  return wrap(response);
}

export function denyResponse(uid: string, message: string, warnings: string[] = []): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: false, status: { code: 422, reason: "Invalid", message } };
  if (warnings.length > 0) response.warnings = warnings.map(shortenWarning);
  return wrap(response);
}

const REVIEW_JSON_HEAD = `{"apiVersion":"${ADMISSION_API_VERSION}","kind":"AdmissionReview","response":{`;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * `JSON.stringify(answer)`, byte for byte, a few times faster for the small fixed shape this module builds (the
 * webhook serializes one per request): the envelope is constant and the base64 patch needs no escaping. Anything
 * else (a field added later, another envelope) goes through JSON.stringify.
 */
export function reviewResponseJson(answer: AdmissionReviewResponse): string {
  const { response } = answer;
  const envelope = Object.keys(answer);
  if (
    envelope.length !== 3 ||
    envelope[0] !== "apiVersion" ||
    envelope[1] !== "kind" ||
    envelope[2] !== "response" ||
    answer.apiVersion !== ADMISSION_API_VERSION ||
    answer.kind !== "AdmissionReview" ||
    typeof response !== "object" ||
    response === null ||
    Array.isArray(response)
  ) {
    return JSON.stringify(answer);
  }
  let json = REVIEW_JSON_HEAD;
  let separator = '"';
  for (const key of Object.keys(response)) {
    const value = response[key as keyof AdmissionResponse];
    if (value === undefined) continue;
    if (key === "allowed" && typeof value === "boolean") {
      json += `${separator}allowed":${value}`;
    } else if (key === "patch" && typeof value === "string" && (value === lastPatch || BASE64.test(value))) {
      json += `${separator}patch":"${value}"`;
    } else if (key === "uid" || key === "patchType" || key === "status" || key === "warnings") {
      json += `${separator}${key}":${JSON.stringify(value)}`;
    } else {
      return JSON.stringify(answer);
    }
    separator = ',"';
  }
  return `${json}}}`;
}

/** Reads the JSON Patch back out of a response (for the CLI and tests). */
export function decodePatch(response: AdmissionResponse): Operation[] {
  return response.patch ? (JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")) as Operation[]) : [];
}

/** Only CREATE and UPDATE of a whole apps/v1 Deployment are ours; everything else passes untouched. */
export function isDeploymentWrite(request: AdmissionRequest): boolean {
  return (
    (request.operation === "CREATE" || request.operation === "UPDATE") &&
    !request.subResource &&
    request.kind.group === "apps" &&
    request.kind.kind === "Deployment"
  );
}
