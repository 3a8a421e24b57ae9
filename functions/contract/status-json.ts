// The `greenlight.dev/status` annotation as JSON: the reading scaffold the canary, blue/green and rolling statuses share.
/*
 * Each strategy writes its own shape (functions/<strategy>/status.ts); all of them read it the same way: absent is
 * no status, text that is not JSON or a field out of shape is a `problem` naming the field, and nothing throws.
 */
import { annotationName } from "./annotations.ts";

export const STATUS_ANNOTATION = annotationName("status");

/** A field out of shape, thrown by a status reader and turned into a `problem` by `parseStatusAnnotation`. */
export class CorruptStatus extends Error {}

export const fail = (message: string): never => {
  throw new CorruptStatus(message);
};

/** Parses the annotation with `read` (which calls `fail` on a bad field); never throws for bad input. */
export function parseStatusAnnotation<T>(
  raw: string | undefined,
  read: (body: unknown) => T,
): { status?: T; problem?: string } {
  if (raw === undefined) return {};
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { problem: `${STATUS_ANNOTATION} is not JSON` };
  }
  try {
    return { status: read(body) };
  } catch (error) {
    if (error instanceof CorruptStatus) return { problem: `${STATUS_ANNOTATION} is corrupt: ${error.message}` };
    throw error;
  }
}
