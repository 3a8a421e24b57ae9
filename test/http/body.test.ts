// readBody over a streamed body (the Web adapter's path): a body over the limit is answered 413 after what the
// client still sends is read and dropped, within DISCARD_BYTES and DISCARD_MS; past either bound the rest is cancelled.
import { describe, expect, it } from "vitest";
import { DISCARD_BYTES, readBody } from "../../functions/http/body.ts";
import type { HttpRequest } from "../../functions/http/message.ts";

const LIMIT = 1024;

function streamed(body: ReadableStream<Uint8Array>): HttpRequest {
  return { method: "POST", url: "http://localhost/x", headers: { get: () => null }, body };
}

/** A stream of `chunks` chunks of `size` bytes, counting what was pulled and whether it was cancelled. */
function source(chunks: number, size: number, pause?: () => Promise<void>) {
  const seen = { pulled: 0, cancelled: false };
  let left = chunks;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pause && seen.pulled > 0) await pause();
      if (left === 0) {
        controller.close();
        return;
      }
      left -= 1;
      seen.pulled += 1;
      controller.enqueue(new Uint8Array(size));
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

describe("readBody on a streamed body", () => {
  it("keeps a body within the limit whole", async () => {
    const { stream } = source(4, 256);
    const read = await readBody(streamed(stream), LIMIT);
    expect(read.ok && read.bytes.byteLength).toBe(1024);
  });

  it("reads the rest of a body over the limit to its end before answering 413", async () => {
    const { stream, seen } = source(10, 512);
    const read = await readBody(streamed(stream), LIMIT);
    expect(read).toMatchObject({ ok: false, status: 413, message: "body is larger than the 1024 byte limit" });
    expect(seen.pulled).toBe(10);
  });

  it("stops reading after DISCARD_BYTES more and cancels the rest", async () => {
    const size = 64 * 1024;
    const { stream, seen } = source(1_000, size);
    const read = await readBody(streamed(stream), LIMIT);
    expect(read.ok).toBe(false);
    expect(seen.cancelled).toBe(true);
    // The chunk that crossed the limit, then at most DISCARD_BYTES (and the chunk that crossed that).
    expect(seen.pulled).toBeLessThanOrEqual(1 + DISCARD_BYTES / size + 1);
  });

  it("stops waiting for a slow sender after DISCARD_MS and cancels the rest", async () => {
    // After the first chunk each pull waits until the test releases it: the sender never sends again by itself.
    let release: () => void = () => undefined;
    const { stream, seen } = source(10, 2048, () => new Promise<void>((resolve) => (release = resolve)));
    const read = await readBody(streamed(stream), LIMIT);
    expect(read.ok).toBe(false);
    expect(seen.cancelled).toBe(true);
    release();
  }, 10_000);
});
