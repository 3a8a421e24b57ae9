// The bulk answer's ETag: the same body always gets the same tag, and any change to it a different one.
import { describe, expect, it } from "vitest";
import { bodyEtag, textHash } from "../../functions/flags/http/etag.ts";

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
