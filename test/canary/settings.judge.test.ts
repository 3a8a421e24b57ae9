// The judge's settings: absent under threshold (the default, so today's settings are unchanged), the contract's
// defaults under compare, and invalid values reported in the validator's words and replaced by their defaults.
import { describe, expect, it } from "vitest";
import { COMPARE_DEFAULTS, readCanarySettings } from "../../functions/canary/settings.ts";
import { defaultOf } from "../../functions/contract/annotations.ts";
import { validateAnnotations } from "../../functions/contract/validate.ts";
import { gl } from "./fixtures.ts";

const read = (entries: Record<string, string>) => readCanarySettings(gl(entries), "myapp");

describe("greenlight.dev/judge", () => {
  it("defaults to threshold, which leaves the settings as they were", () => {
    expect(defaultOf("judge")).toBe("threshold");
    expect(read({}).settings.judge).toBeUndefined();
    expect(read({ judge: "threshold", "judge-alpha": "1%" }).settings.judge).toBeUndefined();
  });

  it("compare reads its settings, with the documented defaults", () => {
    expect(COMPARE_DEFAULTS).toEqual({ alpha: 0.02, tolerance: 0.005, latencyTolerance: 0.05 });
    expect(read({ judge: "compare" }).settings.judge).toEqual(COMPARE_DEFAULTS);
    expect(
      read({ judge: "compare", "judge-alpha": "0.01", "judge-tolerance": "1%", "judge-latency-tolerance": "10%" })
        .settings.judge,
    ).toEqual({ alpha: 0.01, tolerance: 0.01, latencyTolerance: 0.1 });
  });

  it("reports an invalid value as the validator does and falls back to the default", () => {
    const entries = { judge: "compare", "judge-alpha": "30%", "judge-tolerance": "-1%" };
    const { settings, problems } = read(entries);
    expect(settings.judge).toEqual(COMPARE_DEFAULTS);
    expect(problems).toEqual(validateAnnotations(gl({ strategy: "canary", ...entries })).errors);
    expect(problems).toHaveLength(2);
    const unknown = read({ judge: "kayenta" });
    expect(unknown.settings.judge).toBeUndefined();
    expect(unknown.problems).toEqual(['greenlight.dev/judge: "kayenta" is invalid: accepted: "threshold", "compare"']);
  });
});
