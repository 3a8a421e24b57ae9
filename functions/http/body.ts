// Reading a request body with a limit, whichever adapter carried it: declared length first, then the bytes counted.
import type { Eventually, HttpRequest } from "./message.ts";

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
 * What a body over the limit may still send, read and dropped, before the 413 goes out. The byte bound is the Node
 * adapter's linger too (node.ts); the wait is shorter than its 5 s, because here the answer waits with it.
 */
export const DISCARD_BYTES = 1024 * 1024;
export const DISCARD_MS = 2_000;

/**
 * Reads and drops the rest of a body that went over the limit, up to DISCARD_BYTES or DISCARD_MS, then cancels what
 * is left. Answering while the client still writes lets some runtimes (workerd) close the connection under it, and
 * the client then sees a reset instead of the 413; a client that sends far more, or slowly, gets the cancel.
 */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  let dropped = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), DISCARD_MS);
  });
  try {
    while (dropped <= DISCARD_BYTES) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "late" || next.done) break;
      dropped += next.value.byteLength;
    }
  } catch {
    // A body that fails while being dropped changes nothing: the answer is the 413.
  } finally {
    clearTimeout(timer);
  }
  cancel(reader);
}

/**
 * At most `limitBytes` of the body. A Content-Length over the limit is refused before a byte is read; the bytes
 * actually read are counted too, so a chunked or lying client cannot make the core hold more than the limit.
 * Answered at once (no promise) when there is nothing to wait for: a declared length over the limit, a body the
 * adapter already holds, or none at all; the hot paths then skip an await.
 */
export function readBody(request: HttpRequest, limitBytes: number): Eventually<BodyBytes> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limitBytes && /^\s*\d+\s*$/.test(declared)) {
    cancel(request.body);
    return tooLarge(limitBytes);
  }
  if (request.bodyBytes !== undefined) {
    return request.bodyBytes.byteLength > limitBytes ? tooLarge(limitBytes) : { ok: true, bytes: request.bodyBytes };
  }
  if (!request.body) return { ok: true, bytes: EMPTY };
  return readStream(request.body, limitBytes);
}

/** A streamed body (the Web adapter's), read up to the limit; what is over it is dropped (discardRest) before the 413. */
async function readStream(body: ReadableStream<Uint8Array>, limitBytes: number): Promise<BodyBytes> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await discardRest(reader);
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
