// Retry-After as a wait, read the same way by the Kubernetes calls and the notification deliveries.
import { describe, expect, it } from "vitest";
import { parseRetryAfter } from "../../functions/http/retry-after.ts";

const NOW = Date.parse("2026-12-07T10:00:00Z");

describe("parseRetryAfter", () => {
  it("reads delta-seconds and an HTTP date, a date in the past as no wait", () => {
    expect(parseRetryAfter("3", NOW)).toBe(3000);
    expect(parseRetryAfter(" 0 ", NOW)).toBe(0);
    expect(parseRetryAfter("Mon, 07 Dec 2026 10:00:05 GMT", NOW)).toBe(5000);
    expect(parseRetryAfter("Mon, 07 Dec 2026 09:59:00 GMT", NOW)).toBe(0);
  });

  it("gives undefined for an absent or unreadable value (the caller picks its default)", () => {
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter("soon", NOW)).toBeUndefined();
    expect(parseRetryAfter("-1", NOW)).toBeUndefined();
  });
});
