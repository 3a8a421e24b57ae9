// Bounded API calls: every Kubernetes call of a pass gets a timeout and an AbortSignal (client-node 1.4 sets none, so
// a hung API server would hold a pass until the Lambda or Job is killed), and a 429 is retried after its Retry-After
// when that still fits before the pass must end. Applied to the clients as a whole, so no call site can forget it.
import { ApiException, Observable, type RequestContext, type ResponseContext } from "@kubernetes/client-node";
import { parseRetryAfter } from "../http/retry-after.ts";
import type { KubeClients } from "./clients.ts";
import type { Clock } from "./clock.ts";
import { sleepOn } from "./clock.ts";

/** One API call waits at most this long by default: a healthy API server answers in milliseconds. */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;
/** A 429 is tried again at most this many times in one pass. */
export const MAX_THROTTLED_RETRIES = 2;
/** Retry-After absent or unreadable: wait this long (the API server's own default is 1 s). */
const DEFAULT_RETRY_AFTER_MS = 1_000;

export interface CallPolicy {
  clock: Clock;
  /** Per-call limit in milliseconds. */
  timeoutMs: number;
  /** No call runs past this instant (epoch ms): the pass must have ended by then. */
  endBy?: number;
}

/** The error a timed-out call rejects with: code ETIMEDOUT, like a socket timeout (toKubeError adds what failed). */
export class CallTimeout extends Error {
  readonly code = "ETIMEDOUT";
  constructor(message: string) {
    super(message);
    this.name = "CallTimeout";
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(error: unknown, now: number): number | undefined {
  if (!(error instanceof ApiException) || error.code !== 429) return undefined;
  const headers = (error.headers ?? {}) as Record<string, string | undefined>;
  const raw = headers["retry-after"] ?? headers["Retry-After"];
  return parseRetryAfter(raw === undefined ? undefined : String(raw), now) ?? DEFAULT_RETRY_AFTER_MS;
}

/** A client-node middleware that puts `signal` on the request, beside any signal another middleware set. */
function signalling(signal: AbortSignal) {
  return {
    pre(context: RequestContext): Observable<RequestContext> {
      const other = context.getSignal();
      context.setSignal(other ? AbortSignal.any([other, signal]) : signal);
      return new Observable(Promise.resolve(context));
    },
    post(context: ResponseContext): Observable<ResponseContext> {
      return new Observable(Promise.resolve(context));
    },
  };
}

interface CallOptions {
  middleware?: unknown[];
  middlewareMergeStrategy?: string;
  [key: string]: unknown;
}

/** `options` with our middleware appended (the call's own middleware, e.g. the service proxy's, kept first). */
function withSignal(options: unknown, signal: AbortSignal): CallOptions {
  const given = (options ?? {}) as CallOptions;
  const middleware = [...(given.middleware ?? []), signalling(signal)];
  return { ...given, middleware, middlewareMergeStrategy: given.middlewareMergeStrategy ?? "append" };
}

/** Runs one call under the policy: a timeout that aborts it, 429s retried while Retry-After fits. */
export async function boundedCall<T>(
  policy: CallPolicy,
  what: string,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const left = policy.endBy === undefined ? Number.POSITIVE_INFINITY : policy.endBy - policy.clock.now();
    if (left <= 0) throw new CallTimeout(`not started, the pass is out of time (${what})`);
    const limit = Math.min(policy.timeoutMs, left);
    const controller = new AbortController();
    let cancel: () => void = () => {};
    const timedOut = new Promise<never>((_, reject) => {
      cancel = policy.clock.setTimer(() => {
        const message =
          limit < policy.timeoutMs
            ? `no answer before the pass had to end (${Math.round(limit)} ms; ${what})`
            : `no answer within ${policy.timeoutMs} ms (${what})`;
        controller.abort(new CallTimeout(message));
        reject(new CallTimeout(message));
      }, limit);
    });
    try {
      return await Promise.race([call(controller.signal), timedOut]);
    } catch (error) {
      const wait = retryAfterMs(error, policy.clock.now());
      const fits = policy.endBy === undefined || policy.clock.now() + (wait ?? 0) < policy.endBy;
      if (wait === undefined || attempt >= MAX_THROTTLED_RETRIES || !fits) throw error;
      await sleepOn(policy.clock, wait);
    } finally {
      cancel();
    }
  }
}

const CLIENT_FIELDS = ["apps", "core", "custom", "events", "discovery"] as const;

/** The clients with every API method bounded by `policy`; each method's options gain the abort signal. */
export function boundedClients(clients: KubeClients, policy: CallPolicy): KubeClients {
  const bound: Record<string, unknown> = { ...clients };
  for (const field of CLIENT_FIELDS) {
    const api = (clients as unknown as Record<string, object | undefined>)[field];
    if (!api) continue;
    bound[field] = new Proxy(api, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== "function" || typeof property !== "string") return value;
        return (parameters: unknown, options?: unknown) =>
          boundedCall(policy, `${field}.${property}`, (signal) =>
            (value as (p: unknown, o: unknown) => Promise<unknown>).call(
              target,
              parameters,
              withSignal(options, signal),
            ),
          );
      },
    });
  }
  return bound as unknown as KubeClients;
}
