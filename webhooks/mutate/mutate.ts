// The mutating webhook's decision: AdmissionReview in, response with a JSON Patch (a diff of the injected copy) out.
import jsonPatch from "fast-json-patch";
import {
  type AdmissionReview,
  type AdmissionReviewResponse,
  allowResponse,
  denyResponse,
  isDeploymentWrite,
} from "../admission/review.ts";
import { injectDeployment, type OptInScope } from "./inject.ts";
import { ShapeError } from "./shape.ts";

/** What to do when the mutation itself fails: admit unchanged with a warning, or reject. */
export type OnError = "allow" | "deny";

export interface MutateOptions {
  scope: OptInScope;
  onError?: OnError;
}

export function mutateReview(review: AdmissionReview, options: MutateOptions): AdmissionReviewResponse {
  const { request } = review;
  if (!isDeploymentWrite(request)) return allowResponse(request.uid);
  try {
    const injection = injectDeployment(request.object, options.scope);
    if (!injection.injected) return allowResponse(request.uid, { warnings: injection.warnings });
    const patch = jsonPatch.compare(request.object as object, injection.object);
    return allowResponse(request.uid, { patch, warnings: injection.warnings });
  } catch (error) {
    const reason =
      error instanceof ShapeError ? error.message : `internal error: ${(error as Error)?.message ?? error}`;
    if (options.onError === "deny") {
      return denyResponse(request.uid, `greenlight could not inject this Deployment: ${reason}`);
    }
    return allowResponse(request.uid, { warnings: [`greenlight: not injected: ${reason}`] });
  }
}
