// Admin tokens: several at once, each with a label and a scope, so that a dashboard or a CI job gets read-only access
// of its own, a token is rotated without downtime (old and new accepted during a window, the old one optionally
// refused after a date) and the audit log names the token a write came with (its label, never the token).
/*
 * Edge-safe like the rest of the HTTP core: no Node built-ins, tokens compared with auth.ts's constantTimeEqual.
 * Configuration, in GREENLIGHT_ADMIN_TOKENS: comma-separated `label:scope:token[:not-after]` entries. The syntax is
 * plain text rather than JSON because the value goes through shells, serverless.yml and wrangler secrets, where
 * quoting JSON is where mistakes happen; labels, scopes and tokens never contain `:` or `,`, and a not-after date-time
 * (which has colons of its own) is everything after the third colon.
 */
import { parseStrictDateTime } from "../date-time.ts";
import { constantTimeEqual } from "./auth.ts";

export type TokenScope = "read" | "admin";
export const TOKEN_SCOPES: readonly TokenScope[] = ["read", "admin"];

export interface AdminToken {
  /** Named in the audit log and in answers to its holder; never secret. */
  readonly label: string;
  /** `read`: GET (and HEAD) on the admin routes only; `admin`: everything. */
  readonly scope: TokenScope;
  readonly token: string;
  /** Epoch milliseconds after which the token is refused: the end of a rotation window. */
  readonly notAfter?: number;
}

export type AdminTokens = readonly AdminToken[];

export const ADMIN_TOKEN_VARIABLE = "GREENLIGHT_ADMIN_TOKEN";
export const ADMIN_TOKENS_VARIABLE = "GREENLIGHT_ADMIN_TOKENS";
/** The label of GREENLIGHT_ADMIN_TOKEN's token (and of a token given alone, as `adminToken`). */
export const SINGLE_TOKEN_LABEL = "admin";
/** Weaker tokens are refused at start: 32 random bytes, what `openssl rand -hex 32` (64 hex characters) gives. */
export const MIN_TOKEN_BITS = 256;

const ALPHABETS: ReadonlyArray<[RegExp, number]> = [
  [/^[0-9]+$/, 10],
  [/^(?:[0-9a-f]+|[0-9A-F]+)$/, 16],
  [/^[a-z]+$/, 26],
  [/^[a-z0-9]+$/, 36],
  [/^[A-Za-z0-9]+$/, 62],
  [/^[A-Za-z0-9_=+/-]+$/, 64],
];

/**
 * An upper bound of the token's entropy in bits: its length times the bits of the smallest usual alphabet it fits
 * (digits, hex, letters, alphanumerics, base64 and base64url, else printable ASCII). Random tokens reach it; a
 * chosen word or a repeated pattern does not, hence the second rule: at least 10 distinct characters.
 */
export function tokenBits(token: string): number {
  const size = ALPHABETS.find(([alphabet]) => alphabet.test(token))?.[1] ?? 94;
  return new Set(token).size < 10 ? 0 : Math.floor(token.length * Math.log2(size));
}

/** Why `token` is too weak, or undefined; never quotes the token. */
export function tokenWeakness(token: string): string | undefined {
  const bits = tokenBits(token);
  if (bits >= MIN_TOKEN_BITS) return undefined;
  return bits === 0
    ? "a token of fewer than 10 distinct characters"
    : `a token of about ${bits} bits (${token.length} characters), under ${MIN_TOKEN_BITS}`;
}

/** What a token must be, for messages. */
export const TOKEN_ACCEPTED = `at least ${MIN_TOKEN_BITS} bits of randomness, e.g. 64 hex characters from \`openssl rand -hex 32\` or 43 base64url characters`;

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// Printable ASCII without space, `,` (between entries) and `:` (between fields).
const TOKEN = /^[\x21-\x2b\x2d-\x39\x3b-\x7e]+$/;

export const ADMIN_TOKENS_ACCEPTED =
  "comma-separated label:scope:token entries with an optional :not-after, e.g. " +
  "ci:read:<token>,deploy-2026:admin:<token>,deploy-2025:admin:<token>:2026-02-01T00:00:00Z " +
  "(label: 1 to 64 letters, digits, '.', '_' or '-', each label once; scope: read or admin; " +
  `token: ${TOKEN_ACCEPTED}, printable characters without spaces, ',' or ':', each token once; ` +
  "not-after: an RFC 3339 date-time with Z or an offset)";

export type TokensResult = { ok: true; tokens: AdminToken[] } | { ok: false; problem: string };

/** The one token of GREENLIGHT_ADMIN_TOKEN (or of a caller's `adminToken`): scope admin, label "admin". */
export const singleAdminToken = (token: string): AdminToken => ({ label: SINGLE_TOKEN_LABEL, scope: "admin", token });

/**
 * Reads GREENLIGHT_ADMIN_TOKENS. A problem names the entry by its position and, once known good, its label: never
 * by its text, which may be (or hold) a token, and problems end up in logs and 503 answers.
 */
export function parseAdminTokens(raw: string): TokensResult {
  const tokens: AdminToken[] = [];
  const entries = raw.split(",");
  for (const [index, text] of entries.entries()) {
    const entry = text.trim();
    const where = `entry ${index + 1}`;
    if (entry === "") return { ok: false, problem: `${where} is empty` };
    const fields = entry.split(":");
    if (fields.length < 3) {
      return { ok: false, problem: `${where} has ${fields.length} field${fields.length === 1 ? "" : "s"}, not 3 or 4` };
    }
    const [label = "", scope = "", token = ""] = fields;
    const notAfterText = fields.slice(3).join(":");
    if (!LABEL.test(label)) return { ok: false, problem: `${where} has an invalid label` };
    const named = `${where} ("${label}")`;
    if (!(TOKEN_SCOPES as readonly string[]).includes(scope)) {
      return { ok: false, problem: `${named} has a scope other than read or admin` };
    }
    if (!TOKEN.test(token)) return { ok: false, problem: `${named} has a token with a character outside the set` };
    const weakness = tokenWeakness(token);
    if (weakness !== undefined) return { ok: false, problem: `${named} has ${weakness}` };
    let notAfter: number | undefined;
    if (fields.length > 3) {
      const instant = parseStrictDateTime(notAfterText);
      if (instant === undefined) return { ok: false, problem: `${named} has a not-after that is not a date-time` };
      notAfter = instant.seconds * 1000 + Number(`0.${instant.fraction || "0"}`) * 1000;
    }
    const sameLabel = tokens.findIndex((other) => other.label === label);
    if (sameLabel >= 0) return { ok: false, problem: `${named} repeats the label of entry ${sameLabel + 1}` };
    // Configuration time, not a request: an ordinary comparison reveals nothing to a client.
    const sameToken = tokens.findIndex((other) => other.token === token);
    if (sameToken >= 0) return { ok: false, problem: `${named} repeats the token of entry ${sameToken + 1}` };
    tokens.push({ label, scope: scope as TokenScope, token, ...(notAfter === undefined ? {} : { notAfter }) });
  }
  return { ok: true, tokens };
}

export type AdminTokensResult = { ok: true; tokens: AdminToken[] | undefined } | { ok: false; message: string };

/**
 * The tokens of both variables: GREENLIGHT_ADMIN_TOKEN's labelled "admin", then GREENLIGHT_ADMIN_TOKENS'. Both are
 * held to the same strength (the admin API faces the internet on Lambda). `tokens` is undefined when neither is
 * set: the admin API is off. A problem is one line naming the variable and what it accepts.
 */
export function adminTokensOf(single: string | undefined, list: string | undefined): AdminTokensResult {
  const weakness = single === undefined ? undefined : tokenWeakness(single);
  if (weakness !== undefined) {
    return { ok: false, message: `${ADMIN_TOKEN_VARIABLE} is too weak: ${weakness}; accepted: ${TOKEN_ACCEPTED}` };
  }
  const tokens: AdminToken[] = single === undefined ? [] : [singleAdminToken(single)];
  if (list !== undefined) {
    const parsed = parseAdminTokens(list);
    if (!parsed.ok) {
      return {
        ok: false,
        message: `${ADMIN_TOKENS_VARIABLE} is invalid: ${parsed.problem}; accepted: ${ADMIN_TOKENS_ACCEPTED}`,
      };
    }
    for (const token of parsed.tokens) {
      if (single !== undefined && token.label === SINGLE_TOKEN_LABEL) {
        return {
          ok: false,
          message:
            `${ADMIN_TOKENS_VARIABLE} has a token labelled "${SINGLE_TOKEN_LABEL}", the label of ` +
            `${ADMIN_TOKEN_VARIABLE}'s token: rename it, or move ${ADMIN_TOKEN_VARIABLE}'s token into the list`,
        };
      }
      if (single !== undefined && token.token === single) {
        return {
          ok: false,
          message:
            `${ADMIN_TOKENS_VARIABLE}'s token "${token.label}" is ${ADMIN_TOKEN_VARIABLE}'s token too: ` +
            "each token once, so that the audit log names one label",
        };
      }
    }
    tokens.push(...parsed.tokens);
  }
  return { ok: true, tokens: tokens.length === 0 ? undefined : tokens };
}

export type TokenMatch =
  | { kind: "granted"; token: AdminToken }
  | { kind: "expired"; token: AdminToken }
  | { kind: "unknown" };

/**
 * Which configured token `presented` is. Every token is compared, with no early exit, so the time taken says neither
 * whether one matched nor which; `now` is epoch milliseconds.
 */
export function matchAdminToken(presented: string, tokens: AdminTokens, now: number): TokenMatch {
  let found: AdminToken | undefined;
  for (const candidate of tokens) {
    if (constantTimeEqual(presented, candidate.token)) found = candidate;
  }
  if (found === undefined) return { kind: "unknown" };
  if (found.notAfter !== undefined && now > found.notAfter) return { kind: "expired", token: found };
  return { kind: "granted", token: found };
}

/** A read-scope token may only read: GET, and HEAD which is GET without the body. */
export function scopeAllows(scope: TokenScope, method: string): boolean {
  if (scope === "admin") return true;
  const upper = method.toUpperCase();
  return upper === "GET" || upper === "HEAD";
}
