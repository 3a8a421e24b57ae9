// Reading untrusted JSON objects (admission requests, API objects): a plain-object guard and their annotations.

export type JsonObject = Record<string, unknown>;

/** A JSON object: not null, not an array. The one such guard: every part of greenlight imports it from here. */
export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The string-valued annotations of an object, or undefined when it has none or is not shaped like an object. */
export function annotationsOf(object: unknown): Record<string, string> | undefined {
  if (!isObject(object) || !isObject(object.metadata) || !isObject(object.metadata.annotations)) return undefined;
  const entries = Object.entries(object.metadata.annotations).filter(
    (entry): entry is [string, string] => typeof entry[1] === "string",
  );
  return Object.fromEntries(entries);
}
