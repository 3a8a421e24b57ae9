// A JSON Patch as text, reusing the text of values the mutation makes once and shares between requests.
/*
 * `JSON.stringify(patch)` costs about as much as the rest of the admission decision, most of it for the probe
 * objects. Those are the same for the same path, port and kind, so probes.ts makes each once, frozen, and keeps its
 * text here (`sharedValue`); `patchJson` then writes that text instead of serializing the object again. The result
 * is `JSON.stringify(patch)` character for character (test/webhooks/patch-json.test.ts).
 */
import type { Operation } from "fast-json-patch";
import { deepFreeze } from "../../functions/contract/objects.ts";

const texts = new WeakMap<object, string>();

/** Freezes `value` all the way down and keeps its JSON text; it may then be shared by any number of patches. */
export function sharedValue<T extends object>(value: T): T {
  texts.set(deepFreeze(value), JSON.stringify(value));
  return value;
}

/** Strings that JSON.stringify writes as they are between quotes: no quote, backslash, control or non-ASCII. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

const stringJson = (text: string): string => (PLAIN.test(text) ? `"${text}"` : JSON.stringify(text));

/** `JSON.stringify(patch)`, with the kept text of every shared value. */
export function patchJson(patch: readonly Operation[]): string {
  const parts: string[] = [];
  for (const operation of patch) {
    const keys = Object.keys(operation);
    const { op, path } = operation;
    const value = (operation as { value?: unknown }).value;
    const kept =
      typeof value === "string"
        ? stringJson(value)
        : typeof value === "object" && value !== null
          ? texts.get(value)
          : undefined;
    if (keys.length === 3 && keys[0] === "op" && keys[1] === "path" && keys[2] === "value" && kept !== undefined) {
      parts.push(`{"op":${stringJson(op)},"path":${stringJson(path)},"value":${kept}}`);
    } else {
      parts.push(JSON.stringify(operation));
    }
  }
  return `[${parts.join(",")}]`;
}
