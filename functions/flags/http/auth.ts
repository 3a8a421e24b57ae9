// Credentials for the flags HTTP core: constant-time secret comparison, bearer tokens, API keys and the actor header.
import type { HeaderReader } from "../../http/message.ts";

const encoder = new TextEncoder();

/**
 * True when `a` and `b` are the same string. Runs over the longer input whatever the contents, with no early exit,
 * so the time taken does not reveal how much of a guessed token was right (no node:crypto: this runs at the edge).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  const length = Math.max(left.length, right.length);
  let difference = left.length ^ right.length;
  for (let i = 0; i < length; i++) difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return difference === 0;
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if there is one. */
export function bearerToken(headers: HeaderReader): string | undefined {
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(headers.get("authorization") ?? "");
  return match?.[1];
}

/** The request carries `secret` as a bearer token or, when `allowApiKeyHeader`, as `X-API-Key` (OFREP's two schemes). */
export function presentsSecret(headers: HeaderReader, secret: string, allowApiKeyHeader: boolean): boolean {
  const bearer = bearerToken(headers);
  if (bearer !== undefined && constantTimeEqual(bearer, secret)) return true;
  const apiKey = allowApiKeyHeader ? headers.get("x-api-key")?.trim() : undefined;
  return apiKey !== undefined && apiKey !== "" && constantTimeEqual(apiKey, secret);
}

export const ACTOR_HEADER = "X-Greenlight-Actor";
export const DEFAULT_ACTOR = "admin";
const ACTOR = /^[\x20-\x7e]{1,100}$/;

/** Who made an admin write, as the store records it: the person, and the label of the token they came with. */
export interface Writer {
  actor: string;
  token?: string;
}

export type ActorResult = { ok: true; actor: string; writer: Writer } | { ok: false; message: string };

/**
 * Who made an admin write, for the audit log: the person is the X-Greenlight-Actor header or, without one, the
 * token's label (the best name there is for whoever holds it; "admin" for GREENLIGHT_ADMIN_TOKEN's token, as
 * before). `tokenLabel` is the label of the token the request was let in with, recorded beside the person.
 */
export function actorOf(headers: HeaderReader, tokenLabel?: string): ActorResult {
  const raw = headers.get(ACTOR_HEADER);
  const token = tokenLabel === undefined ? {} : { token: tokenLabel };
  if (raw === null) {
    const actor = tokenLabel ?? DEFAULT_ACTOR;
    return { ok: true, actor, writer: { actor, ...token } };
  }
  const actor = raw.trim();
  if (ACTOR.test(actor)) return { ok: true, actor, writer: { actor, ...token } };
  return {
    ok: false,
    message: `header ${ACTOR_HEADER} is invalid; accepted: 1 to 100 printable ASCII characters, e.g. "alice@example.com"`,
  };
}
