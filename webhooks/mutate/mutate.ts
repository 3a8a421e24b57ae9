// The mutating webhook's decision: AdmissionReview in, response with a JSON Patch (the edits the injection made) out.
import type { Operation } from "fast-json-patch";
import {
  type AdmissionReview,
  type AdmissionReviewResponse,
  allowResponse,
  denyResponse,
  isDeploymentWrite,
} from "../admission/review.ts";
import { patchOf } from "./draft.ts";
import { type OptInScope, planDeployment } from "./inject.ts";
import { ShapeError } from "./shape.ts";

/** What to do when the mutation itself fails: admit unchanged with a warning, or reject. */
export type OnError = "allow" | "deny";

export interface MutateOptions {
  scope: OptInScope;
  onError?: OnError;
}

export interface InjectionPlan {
  patch: Operation[];
  warnings: string[];
}

/**
 * The JSON Patch that injects a Deployment (empty when it did not opt in or has everything). Throws ShapeError.
 * The operations' values are the injected object's own (new) values: serialize them, do not change them.
 */
export function planInjection(object: unknown, scope: OptInScope, oldObject?: unknown): InjectionPlan {
  const plan = planDeployment(object, scope, oldObject);
  return { patch: plan.injected ? patchOf(plan.draft) : [], warnings: plan.warnings };
}

export function mutateReview(review: AdmissionReview, options: MutateOptions): AdmissionReviewResponse {
  const { request } = review;
  if (!isDeploymentWrite(request)) return allowResponse(request.uid);
  try {
    return allowResponse(request.uid, planInjection(request.object, options.scope, request.oldObject));
  } catch (error) {
    const reason =
      error instanceof ShapeError ? error.message : `internal error: ${(error as Error)?.message ?? error}`;
    if (options.onError === "deny") {
      return denyResponse(request.uid, `greenlight could not inject this Deployment: ${reason}`);
    }
    return allowResponse(request.uid, { warnings: [`greenlight: not injected: ${reason}`] });
  }
}
