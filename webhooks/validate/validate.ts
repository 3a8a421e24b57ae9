// The validating webhook's decision: reject a Deployment whose greenlight annotations are wrong, naming each one.

import { annotationsOf } from "../../functions/contract/objects.ts";
import { validateAnnotations } from "../../functions/contract/validate.ts";
import {
  type AdmissionReview,
  type AdmissionReviewResponse,
  allowResponse,
  denyResponse,
  isDeploymentWrite,
} from "../admission/review.ts";

export function validateReview(review: AdmissionReview): AdmissionReviewResponse {
  const { request } = review;
  if (!isDeploymentWrite(request)) return allowResponse(request.uid);
  const previous = request.operation === "UPDATE" ? (annotationsOf(request.oldObject) ?? {}) : undefined;
  const report = validateAnnotations(annotationsOf(request.object), previous);
  if (report.errors.length > 0) return denyResponse(request.uid, report.errors.join("; "), report.warnings);
  return allowResponse(request.uid, { warnings: report.warnings });
}
