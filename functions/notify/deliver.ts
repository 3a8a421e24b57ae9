// One HTTP POST to one receiver, with a per-request timeout and a bounded retry: at most `attempts` tries, waiting
// backoffMs, 2 x backoffMs, ... between them, retried only after a network error, a timeout, a 429 or a 5xx (another
// answer will not change by asking again). Never throws: the outcome says what happened.
import { parseRetryAfter } from "../http/retry-after.ts";

/** What is POSTed: the Slack JSON or the CloudEvent, as headers and a body. */
export interface HttpMessage {
  headers: Record<string, string>;
  body: string;
}

export interface DeliveryPolicy {
  /** One request waits at most this long. */
  timeoutMs: number;
  /** Tries at most, the first included. */
  attempts: number;
  /** Wait before the second try; doubles each time. A Retry-After up to 4 x this is honoured instead. */
  backoffMs: number;
  fetch: typeof fetch;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

export type DeliveryOutcome = "sent" | "failed" | "dropped";

export interface DeliveryResult {
  outcome: DeliveryOutcome;
  attempts: number;
  /** The last HTTP status, when an answer came. */
  status?: number;
  /** The last answer or error, in a few words (never the URL: a Slack webhook's path is its secret). */
  detail: string;
}

/** An abortable wait on the system clock. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

const retryable = (status: number): boolean => status === 429 || status >= 500;

function describeError(error: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const text = cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
  return `network error: ${text}`;
}

export async function deliver(
  url: string,
  message: HttpMessage,
  policy: DeliveryPolicy,
  signal: AbortSignal,
): Promise<DeliveryResult> {
  let last: DeliveryResult = { outcome: "dropped", attempts: 0, detail: "not sent: out of time" };
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (signal.aborted) return { ...last, outcome: "dropped", attempts: attempt - 1 };
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    let wait = policy.backoffMs * 2 ** (attempt - 1);
    try {
      const response = await policy.fetch(url, {
        method: "POST",
        headers: message.headers,
        body: message.body,
        signal: AbortSignal.any([signal, timeout]),
        redirect: "manual",
      });
      // The body is not needed; reading it frees the connection for the next request.
      await response.arrayBuffer().catch(() => undefined);
      const detail = `HTTP ${response.status}`;
      if (response.ok) return { outcome: "sent", attempts: attempt, status: response.status, detail };
      last = { outcome: "failed", attempts: attempt, status: response.status, detail };
      if (!retryable(response.status)) return last;
      const after = parseRetryAfter(response.headers.get("retry-after"), Date.now());
      if (after !== undefined && after <= policy.backoffMs * 4) wait = after;
    } catch (error) {
      if (signal.aborted) return { ...last, outcome: "dropped", attempts: attempt };
      last = { outcome: "failed", attempts: attempt, detail: describeError(error, timeout.aborted, policy.timeoutMs) };
    }
    if (attempt < policy.attempts) await policy.sleep(wait, signal);
  }
  return last;
}
