// What the flags HTTP core reads and answers: the parts of a request it needs, and a plain response.
/*
 * A Web `Request` is a FlagRequest as it is (Workers, Vercel Edge, Lambda through fetch.ts); Node's http server
 * hands over a light one instead (node.ts), since building Web Request and Response objects with their streams
 * costs more than evaluating fifty flags. `toWebResponse` turns the answer into a Web `Response` where one is due.
 */

export interface HeaderReader {
  get(name: string): string | null;
}

export interface FlagRequest {
  readonly method: string;
  /** Absolute; only its path and query are read. */
  readonly url: string;
  readonly headers: HeaderReader;
  /** A Web request's body stream, read up to the body limit. */
  readonly body?: ReadableStream<Uint8Array> | null;
  /** A body already in memory (Node: read with a cap of limit + 1 bytes, so an oversize one still shows). */
  readonly bodyBytes?: Uint8Array;
}

export interface FlagResponse {
  status: number;
  headers: Record<string, string>;
  /** Text (JSON) or nothing (204, 304, HEAD). */
  body: string | null;
}

export const toWebResponse = (response: FlagResponse): Response =>
  new Response(response.body, { status: response.status, headers: response.headers });
