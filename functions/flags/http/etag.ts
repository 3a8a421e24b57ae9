// Entity tags of the flag API: the bulk evaluation's ETag derived from its body (textHash and If-None-Match matching
// are functions/http/etag.ts's), and the admin API's write preconditions (If-Match, If-None-Match) read as RFC 9110
// sections 13.1.1, 13.1.2 and 13.2.2 say.
import { textHash } from "../../http/etag.ts";

/**
 * `"<version>-<hash of the body>"`: it changes whenever the body would (a write, or a time window opening at the
 * same version) and holds still otherwise, so an unchanged poll gets a 304.
 */
export function bodyEtag(version: number, body: string): string {
  return `"${version}-${textHash(body).toString(16)}"`;
}

/**
 * A 53-bit hash of a list of 53-bit hashes (each split into its two 32-bit halves), mixed as textHash mixes code
 * units: the bulk answer's hash from its parts' cached hashes, without walking the whole body again.
 */
export function hashOfHashes(hashes: readonly number[]): number {
  let a = 0xdeadbeef ^ hashes.length;
  let b = 0x41c6ce57;
  for (let i = 0; i < hashes.length; i++) {
    const hash = hashes[i] as number;
    const low = hash >>> 0;
    const high = (hash - low) / 4294967296;
    a = Math.imul(a ^ low, 2654435761);
    b = Math.imul(b ^ low, 1597334677);
    a = Math.imul(a ^ high, 2654435761);
    b = Math.imul(b ^ high, 1597334677);
  }
  a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  return 4294967296 * (2097151 & b) + (a >>> 0);
}

/**
 * `"<version>-<hash>"` of a body made of `parts` (the bulk answer: its flags' results, each serialized and hashed
 * once). Equal bodies are made of equal parts, so they get equal tags, as bodyEtag gives them; a different part
 * gives a different hash.
 */
export function partsEtag(version: number, partHashes: readonly number[]): string {
  return `"${version}-${hashOfHashes(partHashes).toString(16)}"`;
}

// ---- admin write preconditions ---------------------------------------------------------------------------------

/** One entity-tag of a field value; `opaque` keeps its quotes, since tags compare character by character. */
export interface EntityTag {
  weak: boolean;
  opaque: string;
}

/** An If-Match or If-None-Match field value: `*`, a list of entity-tags (maybe empty), or not one by the grammar. */
export type EntityTagField =
  | { kind: "any" }
  | { kind: "tags"; tags: EntityTag[] }
  | { kind: "malformed"; problem: string };

const isEtagc = (code: number): boolean =>
  code === 0x21 || (code >= 0x23 && code <= 0x7e) || (code >= 0x80 && code <= 0xff);
const isOws = (char: string | undefined): boolean => char === " " || char === "\t";

/**
 * Reads `"*" / #entity-tag` (RFC 9110 sections 13.1.1 and 13.1.2) with entity-tag = [ %s"W/" ] DQUOTE *etagc DQUOTE
 * (section 8.8.3) and list elements separated by commas and optional whitespace, empty elements ignored (section
 * 5.6.1). A quoted tag may hold a comma, so the list is scanned rather than split at commas.
 */
export function parseEntityTagField(value: string): EntityTagField {
  if (value.trim() === "*") return { kind: "any" };
  const tags: EntityTag[] = [];
  let i = 0;
  for (;;) {
    while (isOws(value[i]) || value[i] === ",") i++;
    if (i >= value.length) return { kind: "tags", tags };
    const start = i;
    const weak = value.startsWith("W/", i);
    if (weak) i += 2;
    if (value[i] !== '"') {
      const found = value[i] === "*" ? "* inside a list" : JSON.stringify(value.slice(start, start + 12));
      return { kind: "malformed", problem: `at character ${start + 1}: ${found} is not a quoted entity-tag` };
    }
    const open = i++;
    while (i < value.length && value[i] !== '"') {
      if (!isEtagc(value.charCodeAt(i))) {
        return {
          kind: "malformed",
          problem: `at character ${i + 1}: ${JSON.stringify(value[i])} cannot be inside an entity-tag`,
        };
      }
      i++;
    }
    if (i >= value.length) return { kind: "malformed", problem: `at character ${open + 1}: the quote is never closed` };
    tags.push({ weak, opaque: value.slice(open, ++i) });
    while (isOws(value[i])) i++;
    if (i < value.length && value[i] !== ",") {
      return {
        kind: "malformed",
        problem: `at character ${i + 1}: expected a comma after ${value.slice(start, i).trim()}`,
      };
    }
  }
}

/** A flag's ETag: its revision as a strong entity-tag (`"7"`); every write gives the flag a new revision. */
export const revisionEtag = (revision: number): string => `"${revision}"`;

/**
 * The revision a tag names as revisionEtag spells it, or undefined. Only the exact spelling: strong comparison is
 * character by character (RFC 9110 section 8.8.3.2), so `"007"` or `"7-abc"` name no revision. `"0"` names the
 * revision of a flag that does not exist (see parseWritePreconditions).
 */
function revisionOf(opaque: string): number | undefined {
  const match = /^"(0|[1-9]\d{0,15})"$/.exec(opaque);
  const revision = Number(match?.[1]);
  return match && Number.isSafeInteger(revision) ? revision : undefined;
}

/** The request's preconditions, as the store checks them and as the 412 answer explains them. */
export interface WritePreconditions {
  /** For the store (WriteOptions): the revisions the flag may be at (0: absent) and those it must not be at. */
  ifMatch?: number[];
  ifNoneMatch?: number[];
  /**
   * Why a write on a flag at `actual` (0: absent) fails, naming the header that fails first in RFC 9110 section
   * 13.2.2's order (If-Match, then If-None-Match); undefined when both hold.
   */
  failure(key: string, actual: number): string | undefined;
}

const IF_MATCH_ACCEPTS =
  'accepted: *, the flag\'s ETag such as "7", a comma-separated list of them, "0" for "only if the flag does not exist", or a bare revision such as 7';
const IF_NONE_MATCH_ACCEPTS = 'accepted: * (only if the flag does not exist) or entity-tags such as "7"';

/** The header's value for a message: as sent, cut short if long. */
const shown = (value: string): string => (value.length > 80 ? `${value.slice(0, 77)}...` : value);

const flagAt = (key: string, actual: number): string =>
  actual === 0
    ? `flag "${key}" does not exist`
    : actual < 0
      ? `flag "${key}" has a stored value without a revision`
      : `flag "${key}" is at revision ${actual} (ETag ${revisionEtag(actual)})`;

/**
 * Reads If-Match and If-None-Match of a PUT or DELETE (null: absent) as RFC 9110 says:
 * - If-Match (section 13.1.1) holds when the flag exists and, unless it is `*`, one listed tag matches its ETag by
 *   strong comparison: a weak tag (`W/"7"`) never matches, any other tag that is not a revision never matches.
 *   A value that is not `*` or a list of entity-tags matches nothing (412, not 400: the write cannot be meant for
 *   the flag as it is). Two greenlight extensions, kept from before: `"0"` in the list holds when the flag does not
 *   exist (create only; the RFC spelling is If-None-Match: *), and a value that is only a bare revision (`7`)
 *   reads as `"7"`.
 * - If-None-Match (section 13.1.2) holds when the flag does not exist if it is `*`, and otherwise when no listed tag
 *   matches its ETag by weak comparison (`W/"7"` and `"7"` both match revision 7). A malformed one holds for no
 *   flag either: a precondition that cannot be read is not taken as satisfied.
 * A write needs both; the store checks them in the same atomic step as the write.
 */
export function parseWritePreconditions(ifMatch: string | null, ifNoneMatch: string | null): WritePreconditions {
  const bare = ifMatch === null ? null : /^[ \t]*(\d+)[ \t]*$/.exec(ifMatch);
  const matchField: EntityTagField | undefined =
    ifMatch === null
      ? undefined
      : bare?.[1] !== undefined
        ? { kind: "tags", tags: [{ weak: false, opaque: `"${bare[1]}"` }] }
        : parseEntityTagField(ifMatch);
  const noneField = ifNoneMatch === null ? undefined : parseEntityTagField(ifNoneMatch);

  // If-Match's own list (strong comparison: weak tags and tags naming no revision drop out), then the store's.
  const matchRevisions =
    matchField?.kind === "tags"
      ? [
          ...new Set(
            matchField.tags
              .filter((tag) => !tag.weak)
              .map((tag) => revisionOf(tag.opaque))
              .filter((revision): revision is number => revision !== undefined),
          ),
        ]
      : [];
  // If-None-Match's list (weak comparison: W/ does not matter). A flag that does not exist has no entity-tag, so
  // `"0"` names nothing here: it is greenlight's spelling in If-Match only.
  const noneRevisions = new Set<number>();
  for (const tag of noneField?.kind === "tags" ? noneField.tags : []) {
    const revision = revisionOf(tag.opaque);
    if (revision !== undefined && revision > 0) noneRevisions.add(revision);
  }
  // The store's conjunction of both: revisions allowed (undefined: any) and ruled out.
  let allowed: number[] | undefined =
    matchField === undefined || matchField.kind === "any" ? undefined : matchRevisions;
  if (noneField?.kind === "any") allowed = (allowed ?? [0]).filter((revision) => revision === 0);
  if (noneField?.kind === "malformed") allowed = [];
  const forbidden = new Set(noneRevisions);
  if (matchField?.kind === "any") forbidden.add(0);

  function ifMatchFailure(key: string, actual: number): string | undefined {
    if (ifMatch === null || matchField === undefined) return undefined;
    if (matchField.kind === "malformed") {
      return `header If-Match is not * or a list of entity-tags (${matchField.problem}), so it matches no flag; ${IF_MATCH_ACCEPTS}`;
    }
    if (matchField.kind === "any") {
      return actual === 0
        ? `${flagAt(key, actual)} (If-Match: * needs one): create it without If-Match, or with If-None-Match: *`
        : undefined;
    }
    if (matchRevisions.includes(actual)) return undefined;
    const weakNote = matchField.tags.some((tag) => tag.weak)
      ? ' (a weak tag such as W/"7" never matches: If-Match compares entity-tags strongly)'
      : "";
    const retry =
      actual > 0
        ? `: re-read it and retry with If-Match: ${revisionEtag(actual)}`
        : actual === 0
          ? ": create it without If-Match, or with If-None-Match: *"
          : ": replace it without If-Match";
    return `${flagAt(key, actual)}, which If-Match: ${shown(ifMatch)} does not match${weakNote}${retry}`;
  }

  function ifNoneMatchFailure(key: string, actual: number): string | undefined {
    if (ifNoneMatch === null || noneField === undefined) return undefined;
    if (noneField.kind === "malformed") {
      return `header If-None-Match is not * or a list of entity-tags (${noneField.problem}), so it holds for no flag; ${IF_NONE_MATCH_ACCEPTS}`;
    }
    if (noneField.kind === "any") {
      return actual === 0
        ? undefined
        : `${flagAt(key, actual)}, and If-None-Match: * writes only a flag that does not exist`;
    }
    return noneRevisions.has(actual)
      ? `${flagAt(key, actual)}, which If-None-Match: ${shown(ifNoneMatch)} rules out`
      : undefined;
  }

  return {
    ...(allowed === undefined ? {} : { ifMatch: allowed }),
    ...(forbidden.size === 0 ? {} : { ifNoneMatch: [...forbidden] }),
    failure: (key, actual) => ifMatchFailure(key, actual) ?? ifNoneMatchFailure(key, actual),
  };
}
