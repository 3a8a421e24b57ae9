// What every greenlight HTTP core reads and answers, whichever adapter carries it (Node, Lambda, Web/edge).
/*
 * A Web `Request` is an HttpRequest as it is (Workers, Vercel Edge); Node's http server and API Gateway events are
 * turned into a light one instead (node.ts, lambda.ts), since building Web Request and Response objects with their
 * streams costs more than answering an admission review or evaluating fifty flags. `toWebResponse` makes the
 * answer a Web `Response` where one is due.
 */

export interface HeaderReader {
  /** The header's value, repeated fields joined by ", "; null when absent. Names are case-insensitive. */
  get(name: string): string | null;
}

export interface HttpRequest {
  /** Upper case. */
  readonly method: string;
  /**
   * Absolute; only its path and query are read (the origin is fixed by the adapters: a Host header is forgeable).
   * A request target no URL can be made of (`*%` over raw HTTP) is passed as it is, for the core to refuse.
   */
  readonly url: string;
  readonly headers: HeaderReader;
  /** A Web request's body stream, read up to the core's body limit. */
  readonly body?: ReadableStream<Uint8Array> | null;
  /** A body already in memory: the Node adapter reads at most limit + 1 bytes, so an oversize one still shows. */
  readonly bodyBytes?: Uint8Array;
  /** The peer's address as the adapter knows it (socket, API Gateway's sourceIp, the edge's client header). */
  readonly clientAddress?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Text (JSON, the metrics exposition) or nothing (204, 304, HEAD). */
  body: string | null;
}

/**
 * A greenlight HTTP API: the webhooks' and the flags' are both one of these. It answers every request (no throw or
 * rejection). A core with nothing to wait for may answer at once instead of through a promise: on the webhook's hot
 * path the promises of an async chain cost more than the admission decision itself. Adapters take either.
 */
export type HttpCore = (request: HttpRequest) => Eventually<HttpResponse>;

/** A value at hand or one to wait for: what the hot paths return so that nothing waits when nothing has to. */
export type Eventually<T> = T | Promise<T>;

/** `next(value)`: at once when `value` is at hand, else when it settles (a rejection passes through). */
export function andThen<T, U>(value: Eventually<T>, next: (value: T) => Eventually<U>): Eventually<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** What `run` gives, or `recover`'s answer when it throws or rejects; at once when `run` answers at once. */
export function settle<T>(run: () => Eventually<T>, recover: (error: unknown) => T): Eventually<T> {
  try {
    const value = run();
    return value instanceof Promise ? value.catch(recover) : value;
  } catch (error) {
    return recover(error);
  }
}

export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/**
 * The origin the Node and Lambda adapters give every request's URL (a Host header is forgeable, so none is taken
 * from the request); only the path and query after it are read.
 */
export const ADAPTER_ORIGIN = "http://localhost";

/** A JSON response; `headers` are added after Content-Type. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { "Content-Type": JSON_CONTENT_TYPE, ...headers }, body: JSON.stringify(body) };
}

/** The answer to a request whose handling failed unexpectedly: a 500 that tells the client nothing more. */
export const internalError = (): HttpResponse => jsonResponse(500, { error: "internal error" });

/** An adapter's answer to a request it could not turn into an HttpRequest (a body broken off, a bad event). */
export const unreadableRequest = (error: unknown, headers: Record<string, string> = {}): HttpResponse =>
  jsonResponse(400, { error: `request could not be read: ${(error as Error)?.message ?? error}` }, headers);

export const toWebResponse = (response: HttpResponse): Response =>
  new Response(response.body, { status: response.status, headers: response.headers });

/** The path of an absolute URL without its query or fragment, and without parsing it (the hot path's routing). */
export function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return "/";
  let end = url.length;
  const query = url.indexOf("?", start);
  if (query >= 0) end = query;
  const fragment = url.indexOf("#", start);
  if (fragment >= 0 && fragment < end) end = fragment;
  return url.slice(start, end);
}
