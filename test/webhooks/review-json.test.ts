import { describe, expect, it } from "vitest";
import {
  ADMISSION_API_VERSION,
  type AdmissionReviewResponse,
  allowResponse,
  denyResponse,
  reviewResponseJson,
} from "../../webhooks/admission/review.ts";

describe("reviewResponseJson", () => {
  const answers: Array<[string, AdmissionReviewResponse]> = [
    ["a bare allow", allowResponse("uid-1")],
    [
      "an allow with a patch and warnings",
      allowResponse('u"id\u2028', {
        patch: [{ op: "add", path: "/metadata/labels/app", value: 'caf\u00e9 "x" \n' }],
        warnings: ["w\u00e9", "x".repeat(200)],
      }),
    ],
    ["a deny", denyResponse("uid-2", 'bad "thing"\n', ["one"])],
    [
      "fields in another order",
      { kind: "AdmissionReview", apiVersion: ADMISSION_API_VERSION, response: { allowed: true, uid: "u" } },
    ],
    [
      "an undefined field",
      {
        apiVersion: ADMISSION_API_VERSION,
        kind: "AdmissionReview",
        response: { uid: "u", allowed: false, patch: undefined },
      },
    ],
    [
      "a patch that is not base64",
      {
        apiVersion: ADMISSION_API_VERSION,
        kind: "AdmissionReview",
        response: { uid: "u", allowed: true, patch: 'a"b' },
      },
    ],
    [
      "a field it does not know",
      {
        apiVersion: ADMISSION_API_VERSION,
        kind: "AdmissionReview",
        response: { uid: "u", allowed: true, auditAnnotations: { a: "b" } } as AdmissionReviewResponse["response"],
      },
    ],
  ];
  it.each(answers)("writes %s exactly as JSON.stringify does", (_, answer) => {
    expect(reviewResponseJson(answer)).toBe(JSON.stringify(answer));
  });
});
