// patchJson writes what JSON.stringify writes for every patch, and the probes it reuses are shared and frozen.
import fc from "fast-check";
import type { Operation } from "fast-json-patch";
import { describe, expect, it } from "vitest";
import { patchJson, sharedValue } from "../../webhooks/admission/patch-json.ts";
import { isDeploymentWrite } from "../../webhooks/admission/review.ts";
import { planInjection } from "../../webhooks/mutate/mutate.ts";
import { loadReview, REVIEW_FIXTURES } from "../fixtures/load.ts";

/** Strings with what JSON escapes: quotes, backslashes, controls, DEL, non-ASCII, lone surrogates. */
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: fc.constantFrom('"', "\\", "\n", "\u0000", "\u007f", "\u2028", "é", "\ud800", "~", "/", "a") }),
);

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ op: fc.constantFrom("add", "replace", "test"), path: text, value: fc.jsonValue() }),
  fc.record({ op: fc.constantFrom("add", "replace"), path: text, value: text }),
  fc.record({
    op: fc.constantFrom("add", "replace"),
    path: text,
    value: fc.jsonValue().map((v) => sharedValue({ v })),
  }),
  fc.record({ op: fc.constant("remove"), path: text }),
  fc.record({ op: fc.constantFrom("move", "copy"), from: text, path: text }),
  // The same keys in another order, or one more: JSON.stringify keeps the object's own order.
  fc.record({ path: text, op: fc.constant("add"), value: text }),
  fc.record({ op: fc.constant("add"), path: text, value: text, extra: fc.jsonValue() }),
) as fc.Arbitrary<Operation>;

describe("patchJson", () => {
  it("writes JSON.stringify(patch) for every patch, shared values or not", () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 12 }), (patch) => {
        expect(patchJson(patch)).toBe(JSON.stringify(patch));
      }),
      { numRuns: 1000 },
    );
  });

  it("writes the webhook's own patches, fixture by fixture, as JSON.stringify does", () => {
    for (const name of REVIEW_FIXTURES) {
      const review = loadReview(name);
      if (!isDeploymentWrite(review.request)) continue;
      const { patch } = planInjection(review.request.object, "namespace", review.request.oldObject);
      expect(patchJson(patch), name).toBe(JSON.stringify(patch));
    }
  });

  it("shares one frozen probe between patches that add the same one, so no patch can change another's", () => {
    const first = planInjection(loadReview("create").request.object, "annotation").patch;
    const second = planInjection(loadReview("create").request.object, "annotation").patch;
    const probes = (patch: Operation[]) =>
      patch.filter((op) => op.path.endsWith("Probe")).map((op) => (op as { value: object }).value);
    expect(probes(first).length).toBeGreaterThan(0);
    expect(probes(second)).toEqual(probes(first));
    probes(first).forEach((value, index) => {
      expect(value).toBe(probes(second)[index]);
      expect(Object.isFrozen(value)).toBe(true);
      expect(Object.isFrozen((value as { httpGet: object }).httpGet)).toBe(true);
    });
  });

  it("makes the right probe for every path and port, past the bound of those it keeps", () => {
    const withPath = (path: string) => {
      const review = loadReview("create");
      const object = review.request.object as { metadata: { annotations: Record<string, string> } };
      object.metadata.annotations["greenlight.dev/liveness-path"] = path;
      const { patch } = planInjection(object, "annotation");
      return patch.filter((op) => op.path.endsWith("/livenessProbe")).map((op) => (op as { value: object }).value);
    };
    for (let index = 0; index < 600; index++) {
      const path = `/health/${index}`;
      const made = withPath(path);
      expect(made.length).toBeGreaterThan(0);
      for (const value of made) expect((value as { httpGet: { path: string } }).httpGet.path).toBe(path);
      // The same path again is the same object, until the bound clears the memory.
      expect(withPath(path)).toEqual(made);
      for (const [at, value] of withPath(path).entries()) expect(value).toBe(made[at]);
    }
  });
});
