// Retry-After (RFC 9110 section 10.2.3) as a wait: what a server that refused or shed a request asks the caller to do.

/** The wait a Retry-After value asks for, in milliseconds: delta-seconds or an HTTP date; undefined when neither. */
export function parseRetryAfter(raw: string | null | undefined, now: number): number | undefined {
  if (raw === null || raw === undefined) return undefined;
  const trimmed = raw.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date names its day and month ("Mon, 07 Dec 2026 10:00:05 GMT"); Date.parse alone would also take "-1".
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
