// Reading a request body with a limit, whichever adapter carried it: declared length first, then the bytes counted.
import type { HttpRequest } from "./message.ts";

export type BodyBytes = { ok: true; bytes: Uint8Array } | { ok: false; status: 413; message: string };

const tooLarge = (limitBytes: number): BodyBytes => ({
  ok: false,
  status: 413,
  message: `body is larger than the ${limitBytes} byte limit`,
});

const EMPTY = new Uint8Array(0);

/**
 * Tells the stream the rest is not wanted, without waiting: a cancel may settle late or never (Vercel's edge
 * runtime hands the function one branch of a tee of the body, and a branch's cancel settles only when every branch
 * is cancelled), and the 413 must not wait on it.
 */
function cancel(stream: { cancel(): Promise<void> } | null | undefined): void {
  stream?.cancel().catch(() => undefined);
}

/**
 * At most `limitBytes` of the body. A Content-Length over the limit is refused before a byte is read; the bytes
 * actually read are counted too, so a chunked or lying client cannot make the core hold more than the limit.
 */
export async function readBody(request: HttpRequest, limitBytes: number): Promise<BodyBytes> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limitBytes && /^\s*\d+\s*$/.test(declared)) {
    cancel(request.body);
    return tooLarge(limitBytes);
  }
  if (request.bodyBytes !== undefined) {
    return request.bodyBytes.byteLength > limitBytes ? tooLarge(limitBytes) : { ok: true, bytes: request.bodyBytes };
  }
  if (!request.body) return { ok: true, bytes: EMPTY };
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      cancel(reader);
      return tooLarge(limitBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return { ok: true, bytes: chunks[0] as Uint8Array };
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}
