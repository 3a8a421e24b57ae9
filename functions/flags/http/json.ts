// JSON responses and size-capped JSON request bodies for the flags HTTP core.
import type { FlagRequest, FlagResponse } from "./message.ts";

export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** A JSON response; `headers` are added after Content-Type. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): FlagResponse {
  return { status, headers: { "Content-Type": JSON_CONTENT_TYPE, ...headers }, body: JSON.stringify(body) };
}

export type BodyRead =
  | { ok: true; value: unknown; empty: false }
  | { ok: true; value: undefined; empty: true }
  | { ok: false; status: 400 | 413; message: string };

const tooLarge = (limitBytes: number): BodyRead => ({
  ok: false,
  status: 413,
  message: `body is larger than the ${limitBytes} byte limit`,
});

/**
 * Reads at most `limitBytes` of the body and parses it as JSON. Content-Length is checked first, and the bytes
 * actually read are counted too: a chunked or lying client cannot make the handler buffer more than the limit.
 */
export async function readJsonBody(request: FlagRequest, limitBytes: number): Promise<BodyRead> {
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limitBytes) {
    await request.body?.cancel().catch(() => undefined);
    return tooLarge(limitBytes);
  }
  if (request.bodyBytes !== undefined) {
    return request.bodyBytes.byteLength > limitBytes ? tooLarge(limitBytes) : parseJson(request.bodyBytes);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limitBytes) {
        await reader.cancel().catch(() => undefined);
        return tooLarge(limitBytes);
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return parseJson(bytes);
}

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
