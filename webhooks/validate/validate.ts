// The validating webhook's decision: reject a Deployment whose greenlight annotations are wrong, naming each one.
import { validateAnnotations } from "../../functions/contract/validate.ts";
import {
  type AdmissionReview,
  type AdmissionReviewResponse,
  allowResponse,
  denyResponse,
  isDeploymentWrite,
} from "../admission/review.ts";
import { isObject } from "../mutate/shape.ts";

function annotationsOf(object: unknown): Record<string, string> | undefined {
  if (!isObject(object) || !isObject(object.metadata) || !isObject(object.metadata.annotations)) return undefined;
  const entries = Object.entries(object.metadata.annotations).filter(
    (entry): entry is [string, string] => typeof entry[1] === "string",
  );
  return Object.fromEntries(entries);
}

export function validateReview(review: AdmissionReview): AdmissionReviewResponse {
  const { request } = review;
  if (!isDeploymentWrite(request)) return allowResponse(request.uid);
  const previous = request.operation === "UPDATE" ? (annotationsOf(request.oldObject) ?? {}) : undefined;
  const report = validateAnnotations(annotationsOf(request.object), previous);
  if (report.errors.length > 0) return denyResponse(request.uid, report.errors.join("; "), report.warnings);
  return allowResponse(request.uid, { warnings: report.warnings });
}
