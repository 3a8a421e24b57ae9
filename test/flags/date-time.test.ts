// The one RFC 3339 parser: the strict reading (flags as written) and the lenient one (evaluation) agree where both read.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStrictDate, parseInstant, parseStrictDateTime } from "../../functions/flags/date-time.ts";

describe("strict and lenient readings", () => {
  it("name the same instant for every text the strict reading accepts", () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date("0000-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z") }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (date, offsetMinutes) => {
          if (Number.isNaN(date.getTime())) return;
          const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, -1);
          if (!/^\d{4}-/.test(local)) return;
          const sign = offsetMinutes < 0 ? "-" : "+";
          const zone = `${sign}${String(Math.floor(Math.abs(offsetMinutes) / 60)).padStart(2, "0")}:${String(Math.abs(offsetMinutes) % 60).padStart(2, "0")}`;
          const text = `${local}${zone}`;
          const strict = parseStrictDateTime(text);
          expect(strict).toBeDefined();
          expect(parseInstant(text)).toBe(date.getTime());
          expect(strict!.seconds * 1000 + Number(strict!.fraction.padEnd(3, "0"))).toBe(date.getTime());
        },
      ),
      { numRuns: 1000 },
    );
  });

  it.each(["2025-03-01", "2025-03-01t00:00:00Z", "2025-03-01T00:00:00z", "2025-03-01T12:34Z"])(
    "only the lenient reading takes the date-time %s",
    (text) => {
      expect(parseInstant(text)).toBeDefined();
      expect(parseStrictDateTime(text)).toBeUndefined();
    },
  );

  it("takes a date alone as a date, not as a date-time", () => {
    expect(isStrictDate("2027-06-30")).toBe(true);
    expect(isStrictDate("2027-06-30T00:00:00Z")).toBe(false);
    expect(isStrictDate("2027-02-29")).toBe(false);
  });
});
