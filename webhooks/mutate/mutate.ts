// The mutating webhook's decision: AdmissionReview in, response with a JSON Patch (the paths the injection copied) out.
import type { Operation } from "fast-json-patch";
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

export interface InjectionPlan {
  patch: Operation[];
  warnings: string[];
}

const escapePathComponent = (key: string): string =>
  key.indexOf("/") === -1 && key.indexOf("~") === -1 ? key : key.replace(/~/g, "~0").replace(/\//g, "~1");

type Json = Record<string, unknown> | unknown[];

/** A list's indices as the keys compare() walks: "0", "1", ... */
function indexKeys(length: number): string[] {
  const keys = new Array<string>(length);
  for (let index = 0; index < length; index++) keys[index] = String(index);
  return keys;
}

const isContainer = (value: unknown): value is Json => typeof value === "object" && value !== null;

/**
 * The operations turning `before` into `after`, exactly as fast-json-patch's compare() lists them (same walk, same
 * order, same paths), for an `after` that the mutation made by copying only the path to each change
 * (shape.ts): a subtree still shared with the input is skipped at once, and nothing is deep-copied, since every
 * value an operation carries (a label, a probe, a map the mutation created) is new and owned by the result.
 */
function changes(before: Json, after: Json, patch: Operation[], path: string): void {
  if (before === after) return;
  const beforeIsList = Array.isArray(before);
  const afterIsList = Array.isArray(after);
  const oldKeys = beforeIsList ? indexKeys(before.length) : Object.keys(before);
  const newKeys = afterIsList ? indexKeys(after.length) : Object.keys(after);
  const was = before as Record<string, unknown>;
  const is = after as Record<string, unknown>;
  let deleted = false;
  for (let t = oldKeys.length - 1; t >= 0; t--) {
    const key = oldKeys[t] as string;
    const oldValue = was[key];
    if (Object.hasOwn(is, key) && !(is[key] === undefined && oldValue !== undefined && !afterIsList)) {
      const newValue = is[key];
      if (isContainer(oldValue) && isContainer(newValue) && Array.isArray(oldValue) === Array.isArray(newValue)) {
        changes(oldValue, newValue, patch, `${path}/${escapePathComponent(key)}`);
      } else if (oldValue !== newValue) {
        patch.push({ op: "replace", path: `${path}/${escapePathComponent(key)}`, value: jsonCopy(newValue) });
      }
    } else if (beforeIsList === afterIsList) {
      patch.push({ op: "remove", path: `${path}/${escapePathComponent(key)}` });
      deleted = true;
    } else {
      patch.push({ op: "replace", path, value: after });
    }
  }
  if (!deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    if (!Object.hasOwn(was, key) && is[key] !== undefined) {
      patch.push({ op: "add", path: `${path}/${escapePathComponent(key)}`, value: jsonCopy(is[key]) });
    }
  }
}

/** compare() copies each value through JSON: what is not JSON (undefined) becomes null. Objects are new already. */
const jsonCopy = (value: unknown): unknown => (value === undefined ? null : value);

/**
 * The JSON Patch that injects a Deployment (empty when it did not opt in or has everything). Throws ShapeError.
 * The operations' values are the injected object's own (new) values: serialize them, do not change them.
 */
export function planInjection(object: unknown, scope: OptInScope, oldObject?: unknown): InjectionPlan {
  const injection = injectDeployment(object, scope, oldObject);
  const patch: Operation[] = [];
  if (injection.injected) changes(object as Json, injection.object, patch, "");
  return { patch, warnings: injection.warnings };
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
