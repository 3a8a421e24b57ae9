// The bulk answer's ETag: the same body always gets the same tag, and any change to it a different one. And the
// admin API's write preconditions: entity-tag lists read by RFC 9110's grammar, and what they ask of the store.
import { describe, expect, it } from "vitest";
import {
  bodyEtag,
  parseEntityTagField,
  parseWritePreconditions,
  revisionEtag,
} from "../../functions/flags/http/etag.ts";
import { textHash } from "../../functions/http/etag.ts";

describe("bodyEtag", () => {
  it("is the version and a hash of the body, stable across calls", () => {
    const body = JSON.stringify({ flags: [{ key: "a", value: true, reason: "STATIC", variant: "on" }] });
    expect(bodyEtag(7, body)).toMatch(/^"7-[0-9a-f]{1,14}"$/);
    expect(bodyEtag(7, body)).toBe(bodyEtag(7, `${body}`));
    expect(bodyEtag(8, body)).not.toBe(bodyEtag(7, body));
  });

  it("changes with any one character of the body, including non-ASCII ones", () => {
    const base = `{"flags":[${Array.from({ length: 50 }, (_, i) => `{"key":"f${i}","value":${i % 2 === 0}}`).join(",")}]}`;
    const seen = new Set([textHash(base)]);
    for (let i = 0; i < base.length; i += 7) {
      for (const replacement of ["x", "é", "中"]) {
        const changed = base.slice(0, i) + replacement + base.slice(i + 1);
        if (changed === base) continue;
        seen.add(textHash(changed));
      }
    }
    // Every variant got a hash of its own (a 53-bit hash has no business colliding on a few hundred inputs).
    const variants = 1 + Math.ceil(base.length / 7) * 3;
    expect(seen.size).toBe(variants);
  });
});

describe("parseEntityTagField (RFC 9110 sections 8.8.3 and 5.6.1)", () => {
  it("reads *, single tags, weak tags and lists with optional whitespace and empty elements", () => {
    expect(parseEntityTagField(" * ")).toEqual({ kind: "any" });
    expect(parseEntityTagField('"7"')).toEqual({ kind: "tags", tags: [{ weak: false, opaque: '"7"' }] });
    expect(parseEntityTagField('W/"7"')).toEqual({ kind: "tags", tags: [{ weak: true, opaque: '"7"' }] });
    expect(parseEntityTagField(' ,"a" ,\tW/"b",, "" ,')).toEqual({
      kind: "tags",
      tags: [
        { weak: false, opaque: '"a"' },
        { weak: true, opaque: '"b"' },
        { weak: false, opaque: '""' },
      ],
    });
    expect(parseEntityTagField("")).toEqual({ kind: "tags", tags: [] });
  });

  it("keeps a comma inside a quoted tag, and obs-text (bytes 0x80-0xFF, as Node reads header bytes)", () => {
    expect(parseEntityTagField('"a,b", "\u00e9"')).toEqual({
      kind: "tags",
      tags: [
        { weak: false, opaque: '"a,b"' },
        { weak: false, opaque: '"\u00e9"' },
      ],
    });
  });

  it("says where a value stops being a list of entity-tags", () => {
    const problem = (value: string) => {
      const field = parseEntityTagField(value);
      return field.kind === "malformed" ? field.problem : field.kind;
    };
    expect(problem("7")).toBe('at character 1: "7" is not a quoted entity-tag');
    expect(problem('w/"7"')).toBe(`at character 1: ${JSON.stringify('w/"7"')} is not a quoted entity-tag`);
    expect(problem('"7", *')).toBe("at character 6: * inside a list is not a quoted entity-tag");
    expect(problem('"7" "8"')).toBe('at character 5: expected a comma after "7"');
    expect(problem('"7')).toBe("at character 1: the quote is never closed");
    expect(problem('"a b"')).toBe('at character 3: " " cannot be inside an entity-tag');
    expect(problem('"\u20ac"')).toBe('at character 2: "\u20ac" cannot be inside an entity-tag');
  });
});

describe("parseWritePreconditions", () => {
  const options = (ifMatch: string | null, ifNoneMatch: string | null = null) => {
    const { ifMatch: allowed, ifNoneMatch: forbidden } = parseWritePreconditions(ifMatch, ifNoneMatch);
    return { ifMatch: allowed, ifNoneMatch: forbidden };
  };

  it("spells a flag's ETag as its revision in quotes", () => {
    expect(revisionEtag(7)).toBe('"7"');
  });

  it("asks the store for nothing without the headers", () => {
    expect(options(null)).toEqual({ ifMatch: undefined, ifNoneMatch: undefined });
  });

  it("turns If-Match into the revisions the flag may be at: strong tags naming a revision only", () => {
    expect(options('"3", W/"4", "x", "005", "6"')).toEqual({ ifMatch: [3, 6], ifNoneMatch: undefined });
    expect(options('"0"')).toEqual({ ifMatch: [0], ifNoneMatch: undefined });
    expect(options("12")).toEqual({ ifMatch: [12], ifNoneMatch: undefined });
    expect(options('W/"3"')).toEqual({ ifMatch: [], ifNoneMatch: undefined });
    expect(options("nonsense")).toEqual({ ifMatch: [], ifNoneMatch: undefined });
    expect(options('"99999999999999999999"')).toEqual({ ifMatch: [], ifNoneMatch: undefined });
  });

  it("turns If-Match: * into ruling out 0 (the flag must exist)", () => {
    expect(options("*")).toEqual({ ifMatch: undefined, ifNoneMatch: [0] });
  });

  it("turns If-None-Match into revisions ruled out (weak comparison), and * into allowing only 0", () => {
    expect(options(null, '"3", W/"4", "0"')).toEqual({ ifMatch: undefined, ifNoneMatch: [3, 4] });
    expect(options(null, "*")).toEqual({ ifMatch: [0], ifNoneMatch: undefined });
    expect(options('"3"', "*")).toEqual({ ifMatch: [], ifNoneMatch: undefined });
    expect(options('"0", "3"', "*")).toEqual({ ifMatch: [0], ifNoneMatch: undefined });
    expect(options(null, "garbage")).toEqual({ ifMatch: [], ifNoneMatch: undefined });
  });

  it("explains a failure by the header that fails first, and nothing when both hold", () => {
    const both = parseWritePreconditions('"3"', '"3"');
    expect(both.failure("k", 4)).toBe(
      'flag "k" is at revision 4 (ETag "4"), which If-Match: "3" does not match: re-read it and retry with If-Match: "4"',
    );
    expect(both.failure("k", 3)).toBe('flag "k" is at revision 3 (ETag "3"), which If-None-Match: "3" rules out');
    expect(parseWritePreconditions('"3"', '"2"').failure("k", 3)).toBeUndefined();
    expect(parseWritePreconditions("*", null).failure("k", 0)).toMatch(
      /^flag "k" does not exist \(If-Match: \* needs one\)/,
    );
  });
});
