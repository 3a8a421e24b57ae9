// Size-capped JSON request bodies for the flags HTTP core, and how a JSON value is named in messages.
import { type BodyBytes, readBody } from "../../http/body.ts";
import { andThen, type Eventually, type HttpRequest } from "../../http/message.ts";

export type BodyRead =
  | { ok: true; value: unknown; empty: false }
  | { ok: true; value: undefined; empty: true }
  | { ok: false; status: 400 | 413; message: string };

/**
 * At most `limitBytes` of the body (functions/http/body.ts), parsed as JSON; an empty body is reported as such.
 * Answered at once, like readBody, when the body needs no waiting.
 */
export function readJsonBody(request: HttpRequest, limitBytes: number): Eventually<BodyRead> {
  return andThen(readBody(request, limitBytes), jsonOf);
}

const jsonOf = (read: BodyBytes): BodyRead => (read.ok ? parseJson(read.bytes) : read);

/** One decoder for every body: a non-streaming decode() starts afresh each call, a failed one included. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

function parseJson(bytes: Uint8Array): BodyRead {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { ok: false, status: 400, message: "body is not JSON: it is not valid UTF-8 text" };
  }
  if (text.trim() === "") return { ok: true, value: undefined, empty: true };
  try {
    return { ok: true, value: JSON.parse(text) as unknown, empty: false };
  } catch (error) {
    return { ok: false, status: 400, message: `body is not JSON: ${(error as Error).message}` };
  }
}

/** "an array", "null", "a string": what a value is, for messages saying what was sent instead. */
export function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return type === "object" ? "an object" : `a ${type}`;
}
