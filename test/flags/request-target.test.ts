// The flags core reads an ordinary request's path without parsing a URL: whatever the target, the path it routes
// by is the one `new URL` gives, and a target no URL can be made of is still refused.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseUrl, requestTarget } from "../../functions/flags/http/core.ts";

const PIECES = ["/", "a", "Z", "0", "-", "_", "~", ".", "..", "%2e", "%2F", "%", "?", "#", "\\", " ", "é", "//", "x=1"];

describe("requestTarget", () => {
  it("gives the path new URL gives, for any target the adapters could pass", () => {
    const target = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((parts) => parts.join(""));
    fc.assert(
      fc.property(
        target,
        fc.constantFrom("http://localhost", "http://localhost/", "https://flags.example.com/"),
        (tail, origin) => {
          const url = `${origin}${tail}`;
          const expected = parseUrl(url);
          const got = requestTarget(url);
          expect(got?.path, url).toBe(expected?.pathname);
          if (got !== undefined) expect(got.url.href, url).toBe(expected?.href);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("takes the plain path as it is, and parses the URL only when it is asked for", () => {
    const target = requestTarget("http://localhost/ofrep/v1/evaluate/flags");
    expect(target?.path).toBe("/ofrep/v1/evaluate/flags");
    expect(target?.url.searchParams.size).toBe(0);
    expect(requestTarget("http://localhost/admin/audit?limit=5")?.url.searchParams.get("limit")).toBe("5");
    expect(requestTarget("http://localhost/ofrep/./v1/../v1/evaluate/flags")?.path).toBe("/ofrep/v1/evaluate/flags");
    expect(requestTarget("http://localhost")?.path).toBe("/");
  });

  it("refuses what no URL can be made of", () => {
    expect(requestTarget("*")).toBeUndefined();
    expect(requestTarget("http://[::1/x")).toBeUndefined();
  });
});
