// Access to the parts of a Deployment the mutation touches: reads check the shape (a wrong one becomes a ShapeError
// naming the field), writes are recorded apart (draft.ts), so the input is never changed.

import { isObject, type JsonObject } from "../../functions/contract/objects.ts";

export { isObject, type JsonObject };

export class ShapeError extends Error {
  constructor(
    readonly field: string,
    expected: string,
  ) {
    super(`${field} is not ${expected}`);
    this.name = "ShapeError";
  }
}

/** The map at `parent[key]` when present, without creating or copying it. */
export function readMap(parent: JsonObject, key: string, field: string): JsonObject | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new ShapeError(field, "an object");
  return value;
}

function checkStrings(map: JsonObject, field: string): Record<string, string> {
  // Keys, not entries: an annotations map holds the large last-applied configuration, and entries would be pairs made anew.
  for (const name of Object.keys(map)) {
    if (typeof map[name] !== "string") throw new ShapeError(`${field}["${name}"]`, "a string");
  }
  return map as Record<string, string>;
}

/** A map of strings (labels, annotations, matchLabels) when present; a non-string value is a shape error. */
export function readStringMap(parent: JsonObject, key: string, field: string): Record<string, string> | undefined {
  const map = readMap(parent, key, field);
  return map && checkStrings(map, field);
}

export function readList(parent: JsonObject, key: string, field: string): readonly unknown[] {
  const value = parent[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ShapeError(field, "a list");
  return value;
}
