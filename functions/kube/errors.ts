// client-node's failures (ApiException, FetchError, a timed-out call) reduced to one typed error that says what
// failed and where, and whose code the callers act on (conflict, not found).
import { ApiException } from "@kubernetes/client-node";

/** A failure of one API call, reduced to what the run loop acts on. */
export class KubeError extends Error {
  constructor(
    message: string,
    readonly code: number | string | undefined,
  ) {
    super(message);
    this.name = "KubeError";
  }
  /** 409 Conflict, or 422 from a failed `test` op: someone else wrote first. */
  get isConflict(): boolean {
    return this.code === 409 || this.code === 422;
  }
  get isNotFound(): boolean {
    return this.code === 404;
  }
}

interface StatusBody {
  message?: string;
  reason?: string;
  details?: { name?: string; causes?: { message?: string }[] };
}

export function statusOf(error: ApiException<unknown>): StatusBody {
  try {
    return typeof error.body === "string" ? (JSON.parse(error.body) as StatusBody) : {};
  } catch {
    return {};
  }
}

/** Turns client-node's ApiException / FetchError into a KubeError whose message says what failed and where. */
export function toKubeError(error: unknown, what: string): KubeError {
  if (error instanceof KubeError) return error;
  if (error instanceof ApiException) {
    const status = statusOf(error);
    const cause = status.details?.causes?.[0]?.message;
    const detail = [status.message, cause].filter(Boolean).join(": ") || `HTTP ${error.code}`;
    return new KubeError(`${what}: ${detail}`, error.code);
  }
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  return new KubeError(`${what}: ${message}`, code);
}

/** A 404 that means "this API version is not served", as opposed to "this object does not exist". */
export function isUnservedVersion(error: unknown): boolean {
  if (!(error instanceof ApiException) || error.code !== 404) return false;
  return statusOf(error).details?.name === undefined;
}
