// Helpers shared by the webhook tests: decode and apply a response's JSON Patch, validate the result as a Deployment.
import jsonPatch, { type Operation } from "fast-json-patch";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import type { AdmissionResponse } from "../../webhooks/admission/review.ts";

type DeploymentData = ConstructorParameters<typeof Deployment>[0];

/** Kubernetes label-value syntax, written out here rather than imported from the code under test. */
export const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The response's patch as JSON Patch operations ([] when there is none), checking the patchType on the way. */
export function patchOf(response: AdmissionResponse): Operation[] {
  if (response.patch === undefined) return [];
  if (response.patchType !== "JSONPatch") throw new Error(`patchType is ${String(response.patchType)}`);
  const ops: unknown = JSON.parse(Buffer.from(response.patch, "base64").toString("utf8"));
  if (!Array.isArray(ops)) throw new Error("patch is not a JSON array");
  return ops as Operation[];
}

/** Applies the operations to a deep copy with validation on (a bad path throws), as the API server would. */
export function applyOps<T>(document: T, ops: Operation[]): T {
  const copy = structuredClone(document);
  return jsonPatch.applyPatch(copy, ops, true).newDocument;
}

/** Throws when the object is not a valid apps/v1 Deployment by the OpenAPI schema. */
export function validateDeployment(object: unknown): void {
  new Deployment(object as DeploymentData).validate();
}

export function isValidDeployment(object: unknown): boolean {
  try {
    validateDeployment(object);
    return true;
  } catch {
    return false;
  }
}

/** Walks a dotted path of object keys; undefined as soon as one is missing. */
export function at(object: unknown, ...keys: (string | number)[]): unknown {
  let current: unknown = object;
  for (const key of keys) {
    if (typeof key === "number") {
      if (!Array.isArray(current)) return undefined;
      current = current[key];
    } else {
      if (!isJsonObject(current)) return undefined;
      current = current[key];
    }
  }
  return current;
}
