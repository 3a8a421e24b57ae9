// Reading untrusted JSON objects (admission requests, API objects): a plain-object guard and their annotations.

export type JsonObject = Record<string, unknown>;

/** A JSON object: not null, not an array. The one such guard: every part of greenlight imports it from here. */
export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Freezes `value` and everything it holds, and returns it. A part frozen already is taken as frozen through (so a
 * shared frozen part is not walked again, and a cycle ends).
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** The string-valued annotations of an object, or undefined when it has none or is not shaped like an object. */
export function annotationsOf(object: unknown): Record<string, string> | undefined {
  if (!isObject(object) || !isObject(object.metadata) || !isObject(object.metadata.annotations)) return undefined;
  const entries = Object.entries(object.metadata.annotations).filter(
    (entry): entry is [string, string] => typeof entry[1] === "string",
  );
  return Object.fromEntries(entries);
}
