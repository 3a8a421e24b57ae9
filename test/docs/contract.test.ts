// The annotation table in docs/ARCHITECTURE.md and the contract in code list the same keys.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { defaultOf, KEYS } from "../../functions/contract/annotations.ts";
import { CHECK_PREFIX } from "../../functions/contract/custom-checks.ts";

describe("docs/ARCHITECTURE.md annotation contract", () => {
  it("documents every key of the contract and no other", async () => {
    const doc = await readFile(new URL("../../docs/ARCHITECTURE.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## The annotation contract"));
    const documented = [...section.matchAll(/^\| `([a-z0-9.<>-]+)`\s*\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...Object.keys(KEYS), `${CHECK_PREFIX}<name>`].sort());
  });

  it("states the canary defaults the stepper uses, in the contract's own syntax", async () => {
    const doc = await readFile(new URL("../../docs/ARCHITECTURE.md", import.meta.url), "utf8");
    for (const key of ["interval", "threshold", "max-inconclusive", "max-error-rate", "max-latency-p95"] as const) {
      expect(doc).toMatch(new RegExp(`\\| \`${key}\`[^\\n]*\`${KEYS[key].default}\``));
    }
    expect(() => defaultOf("app")).toThrow(/no parseable default/);
  });
});
