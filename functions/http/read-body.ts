// Reading a Node request's body with a cap, for the webhook and flag listeners (and serverless-http's requests).
import type { IncomingMessage } from "node:http";

/**
 * The body, capped at `cap` bytes: the rest is read and dropped, so the client can finish sending and still read
 * the 413 (answering before draining would reset the connection under it). Callers read `limit + 1` bytes to tell an oversize body.
 */
export function readCapped(req: IncomingMessage & { body?: unknown }, cap: number): Promise<Buffer> {
  // serverless-http hands over the body already buffered.
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body.subarray(0, cap));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    req.on("data", (chunk: Buffer) => {
      if (kept >= cap) return;
      const part = chunk.subarray(0, cap - kept);
      chunks.push(part);
      kept += part.length;
    });
    // A small body arrives in one chunk: no copy then.
    req.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
