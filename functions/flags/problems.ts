// The messages of the flag validator and the rollout plan's checks: a value shown short, an unknown field named with
// the field the user probably meant. Pure, like both validators (they run at the edge): no Node APIs.
import { closest } from "../contract/closest.ts";

/** A problem at a JSON Pointer (RFC 6901) into the input, saying what is accepted. */
export interface Problem {
  path: string;
  message: string;
}

/** Names people bring from other flag systems (and the seed's Python), keyed by their squashed spelling. */
const FIELD_ALIASES: Record<string, string> = {
  enabledfor: "segments",
  enabledsegments: "segments",
  audience: "segments",
  groups: "segments",
  rolloutpercentage: "percentage",
  rolloutpercent: "percentage",
  percent: "percentage",
  enabled: "state",
  status: "state",
  name: "key",
  id: "key",
  flagkey: "key",
  rules: "conditions",
  targeting: "conditions",
  constraints: "conditions",
  start: "startTime",
  startat: "startTime",
  startsat: "startTime",
  end: "endTime",
  endat: "endTime",
  endsat: "endTime",
  until: "endTime",
  expiry: "expires",
  expiresat: "expires",
  expireson: "expires",
  expiration: "expires",
  expirationdate: "expires",
  variations: "variants",
  default: "defaultVariant",
  defaultvalue: "defaultVariant",
  defaultvariation: "defaultVariant",
  team: "owner",
  maintainer: "owner",
  seed: "salt",
  desc: "description",
  field: "attribute",
  attr: "attribute",
  property: "attribute",
  context: "attribute",
  operator: "op",
  operation: "op",
  comparator: "op",
  values: "value",
  weights: "weight",
};

/** A problem for each field of `object` not in `known`, naming the accepted ones and, when it can, the one meant. */
export function unknownFields(
  object: Record<string, unknown>,
  known: readonly string[],
  path: string,
  problems: Problem[],
) {
  const accepted = `accepted: ${known.join(", ")}`;
  for (const name of Object.keys(object)) {
    if (known.includes(name)) continue;
    const guess = guessField(name, known);
    problems.push({
      path: `${path}/${escapePointer(name)}`,
      message: `unknown field; ${guess ? `did you mean "${guess}"? (${accepted})` : accepted}`,
    });
  }
}

function guessField(name: string, known: readonly string[]): string | undefined {
  const squashed = squash(name);
  const exact = known.find((field) => squash(field) === squashed);
  if (exact !== undefined) return exact;
  const alias = Object.hasOwn(FIELD_ALIASES, squashed) ? FIELD_ALIASES[squashed] : undefined;
  if (alias !== undefined && known.includes(alias)) return alias;
  const near = closest(squashed, known.map(squash));
  return near === undefined ? undefined : known.find((field) => squash(field) === near);
}

/** Lower case without '_', '-' and spaces: start_time, Start-Time and startTime all squash to "starttime". */
export const squash = (word: string): string => word.toLowerCase().replace(/[\s_-]/g, "");

export const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

export const escapePointer = (segment: string): string => segment.replace(/~/g, "~0").replace(/\//g, "~1");

/** Characters as JSON Schema's maxLength counts them: code points, so an emoji is one. */
export function codePoints(text: string): number {
  let count = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(index + 1))) index++;
    count++;
  }
  return count;
}

export const isLowSurrogate = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff;

/** The first `count` code points of `text`, without splitting a surrogate pair. */
function cut(text: string, count: number): string {
  let end = 0;
  for (let taken = 0; taken < count && end < text.length; taken++) {
    const unit = text.charCodeAt(end);
    end += unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(end + 1)) ? 2 : 1;
  }
  return text.slice(0, end);
}

/** A short rendering of a value for a message: strings quoted (and cut), containers by kind. */
export function show(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 && codePoints(value) > 60 ? `${cut(value, 57)}...` : value);
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return value.length === 0 ? "[]" : "an array";
  if (typeof value === "object") return isPlainObject(value) && Object.keys(value).length === 0 ? "{}" : "an object";
  return `a ${typeof value}`;
}
