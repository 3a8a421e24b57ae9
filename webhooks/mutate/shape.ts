// Safe access to the parts of a Deployment the mutation touches; a wrong shape becomes a ShapeError naming the field.

export type JsonObject = Record<string, unknown>;

export class ShapeError extends Error {
  constructor(
    readonly field: string,
    expected: string,
  ) {
    super(`${field} is not ${expected}`);
    this.name = "ShapeError";
  }
}

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The map at `parent[key]`, created empty when absent (the diff later turns that into an `add`). */
export function mapAt(parent: JsonObject, key: string, field: string): JsonObject {
  const value = parent[key];
  if (value === undefined || value === null) {
    const created: JsonObject = {};
    parent[key] = created;
    return created;
  }
  if (!isObject(value)) throw new ShapeError(field, "an object");
  return value;
}

/** The map at `parent[key]` when present, without creating it. */
export function optionalMap(parent: JsonObject, key: string, field: string): JsonObject | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new ShapeError(field, "an object");
  return value;
}

/** A map of strings (labels, annotations, matchLabels); a non-string value is a shape error. */
export function stringMap(parent: JsonObject, key: string, field: string, create: true): Record<string, string>;
export function stringMap(
  parent: JsonObject,
  key: string,
  field: string,
  create: false,
): Record<string, string> | undefined;
export function stringMap(
  parent: JsonObject,
  key: string,
  field: string,
  create: boolean,
): Record<string, string> | undefined {
  const map = create ? mapAt(parent, key, field) : optionalMap(parent, key, field);
  if (!map) return undefined;
  for (const [name, value] of Object.entries(map)) {
    if (typeof value !== "string") throw new ShapeError(`${field}["${name}"]`, "a string");
  }
  return map as Record<string, string>;
}

export function listAt(parent: JsonObject, key: string, field: string): unknown[] {
  const value = parent[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ShapeError(field, "a list");
  return value;
}
