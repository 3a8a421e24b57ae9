// The bulk answer built from each result's cached JSON: the same text JSON.stringify({ flags }) writes, and an ETag
// that follows the body (equal bodies, equal tags; any other body, another tag), cache hit or miss.
import { describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { evaluateAll } from "../../functions/flags/evaluate.ts";
import { hashOfHashes } from "../../functions/flags/http/etag.ts";
import { createFlagHandler } from "../../functions/flags/http/handler.ts";
import type { EvaluationContext } from "../../functions/flags/types.ts";
import { createMemoryStore, LAUNCH_AT, TEST_FLAGS } from "./memory-store.ts";

const CONTEXTS: EvaluationContext[] = [
  {},
  { targetingKey: "user-1" },
  { targetingKey: "user-1", segment: "beta" },
  { targetingKey: "user-2", segment: "beta", country: "NL", plan: "pro" },
  { targetingKey: "user-1" },
  {},
  { targetingKey: "ünï-中", segment: "internal" },
];

function setup(nowMs: number) {
  const store = createMemoryStore({ seed: TEST_FLAGS });
  const cache = createRuleCache(store, { ttlMs: 60_000 });
  const now = () => nowMs;
  return { cache, handle: createFlagHandler({ store, cache, now, onError: () => undefined }) };
}

const bulk = (context: EvaluationContext) =>
  new Request("https://flags.example.com/ofrep/v1/evaluate/flags", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ context }),
  });

describe("the OFREP bulk answer", () => {
  for (const [when, at] of [
    ["before the launch window", Date.parse(LAUNCH_AT) - 60_000],
    ["inside the launch window", Date.parse(LAUNCH_AT) + 60_000],
  ] as const) {
    it(`is byte for byte JSON.stringify({ flags }) of evaluateAll, ${when}, for repeated and changing contexts`, async () => {
      const { cache, handle } = setup(at);
      const tags = new Map<string, string>();
      for (const context of [...CONTEXTS, ...CONTEXTS]) {
        const response = await handle(bulk(context));
        expect(response.status).toBe(200);
        const snapshot = await cache.current();
        const expected = JSON.stringify({ flags: evaluateAll(snapshot!.set, context, at) });
        const body = await response.text();
        expect(body).toBe(expected);
        const etag = response.headers.get("etag") ?? "";
        expect(etag).toMatch(/^"8-[0-9a-f]{1,14}"$/);
        const seen = tags.get(body);
        if (seen !== undefined) expect(etag).toBe(seen);
        tags.set(body, etag);
      }
      // Different bodies, different tags.
      expect(new Set(tags.values()).size).toBe(tags.size);
    });
  }

  it("hashes lists of hashes apart when any one of them, or their number, differs", () => {
    const base = Array.from({ length: 50 }, (_, i) => i * 2654435761 + 2 ** 40 * (i % 7));
    const seen = new Set([hashOfHashes(base)]);
    for (let i = 0; i < base.length; i++) {
      const changed = [...base];
      changed[i] = (changed[i] as number) + 1;
      seen.add(hashOfHashes(changed));
      const high = [...base];
      high[i] = (high[i] as number) + 2 ** 33;
      seen.add(hashOfHashes(high));
    }
    seen.add(hashOfHashes(base.slice(1)));
    seen.add(hashOfHashes([...base, 0]));
    expect(seen.size).toBe(1 + base.length * 2 + 2);
  });
});
