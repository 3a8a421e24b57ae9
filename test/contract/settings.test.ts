// The one settings reader: blank is unset, a bad value stops with one line naming the variable, secrets unquoted.
import { describe, expect, it } from "vitest";
import { oneOf, readSetting, readSettingOr, SettingError, settingValue } from "../../functions/contract/settings.ts";
import { parseInteger } from "../../functions/contract/values.ts";

const count = (raw: string) => parseInteger(raw, 1, 10);

describe("readSetting", () => {
  it("treats unset and blank alike, and trims", () => {
    expect(settingValue({}, "X")).toBeUndefined();
    expect(settingValue({ X: "  " }, "X")).toBeUndefined();
    expect(settingValue({ X: " 3 " }, "X")).toBe("3");
    expect(readSetting({ X: "" }, "X", count)).toBeUndefined();
    expect(readSettingOr({}, "X", count, 7)).toBe(7);
    expect(readSettingOr({ X: " 4" }, "X", count, 7)).toBe(4);
  });

  it("stops on a value that does not parse, naming the variable, the value and what is accepted", () => {
    expect(() => readSetting({ X: "eleven" }, "X", count)).toThrow(
      new SettingError('X="eleven" is invalid; accepted: an integer from 1 to 10'),
    );
    let message = "";
    try {
      readSetting({ TOKEN: "s3cret value" }, "TOKEN", () => ({ ok: false, problem: "accepted: no spaces" }), {
        secret: true,
      });
    } catch (error) {
      expect(error).toBeInstanceOf(SettingError);
      message = (error as Error).message;
    }
    expect(message).toBe("TOKEN is invalid; accepted: no spaces");
  });

  it("reads a choice as written, never guessing at case", () => {
    const mode = oneOf(["allow", "deny"] as const);
    expect(readSetting({ M: "deny" }, "M", mode)).toBe("deny");
    expect(() => readSetting({ M: "Deny" }, "M", mode)).toThrow('M="Deny" is invalid; accepted: allow or deny');
  });
});
