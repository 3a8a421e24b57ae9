// RFC 3339 dates and date-times for flags: one parser, read strictly when a flag is written, leniently when evaluated.
/*
 * Why two readings: a written flag takes only the one unambiguous RFC 3339 form (exact fractions, so startTime < endTime
 * holds to the nanosecond), while evaluation also reads what a request's context may carry (a date alone, lower-case
 * t/z, no seconds) as epoch milliseconds; for every text the strict reading accepts, both name the same instant.
 */

/** An instant as UTC seconds and the exact fraction digits (trailing zeros dropped), so comparisons lose nothing. */
export type Instant = { seconds: number; fraction: string };

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:([Tt])(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):(\d{2})))?$/;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil); Date.UTC maps years 0-99
// to 19xx, so it is done by hand.
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

const isLeap = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

interface Time {
  /** "T" or "t". */
  separator: string;
  hour: number;
  minute: number;
  second: number | undefined;
  fraction: string | undefined;
  /** "Z" or "z"; undefined when the zone is a numeric offset. */
  utc: string | undefined;
  /** The offset east of UTC in minutes (0 for Z). */
  offsetMinutes: number;
}

/**
 * The fields of an ISO 8601 date (`2025-03-01`) or date-time with its offset (`2025-03-01T12:00:00Z`, `...T12:00+01:00`,
 * fractions of a second allowed), every one in range; undefined for anything else. A date-time without an offset is
 * refused: it would mean a different instant in every runtime's time zone.
 */
function readParts(text: string): { days: number; time?: Time } | undefined {
  if (text.length > 40) return undefined;
  const match = DATE_TIME.exec(text);
  if (match === null) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12) return undefined;
  const monthDays = month === 2 && isLeap(year) ? 29 : MONTH_DAYS[month - 1]!;
  if (day < 1 || day > monthDays) return undefined;
  const days = daysFromCivil(year, month, day);
  if (match[4] === undefined) return { days };
  // The regex makes the zone optional only together with the whole time part: a time always has one.
  const hour = Number(match[5]);
  const minute = Number(match[6]);
  const second = match[7] === undefined ? undefined : Number(match[7]);
  if (hour > 23 || minute > 59 || (second ?? 0) > 59) return undefined;
  let offsetMinutes = 0;
  if (match[10] !== undefined) {
    const offsetHours = Number(match[11]);
    const offsetMinutesPart = Number(match[12]);
    if (offsetHours > 23 || offsetMinutesPart > 59) return undefined;
    offsetMinutes = (match[10] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutesPart);
  }
  return {
    days,
    time: { separator: match[4], hour, minute, second, fraction: match[8], utc: match[9], offsetMinutes },
  };
}

/** Write time: a date alone in RFC 3339's full-date form (`2027-06-30`), a real day of the calendar. */
export const isStrictDate = (text: string): boolean => {
  const parts = readParts(text);
  return parts !== undefined && parts.time === undefined;
};

/**
 * Write time: an RFC 3339 date-time (upper-case 'T', seconds, 'Z' or a ±hh:mm offset), as UTC seconds and the exact
 * fraction digits; undefined for anything else, a date alone and the lenient forms `parseInstant` reads included.
 */
export function parseStrictDateTime(text: string): Instant | undefined {
  const parts = readParts(text);
  const time = parts?.time;
  if (parts === undefined || time === undefined) return undefined;
  if (time.separator !== "T" || time.second === undefined || time.utc === "z") return undefined;
  const seconds = parts.days * 86_400 + time.hour * 3600 + time.minute * 60 + time.second - time.offsetMinutes * 60;
  return { seconds, fraction: (time.fraction ?? "").replace(/0+$/, "") };
}

export function compareInstants(a: Instant, b: Instant): number {
  if (a.seconds !== b.seconds) return a.seconds - b.seconds;
  return a.fraction === b.fraction ? 0 : a.fraction < b.fraction ? -1 : 1;
}

/**
 * Evaluation time: epoch milliseconds of an ISO 8601 date-time with its offset (`2025-03-01T12:00:00Z`,
 * `...T12:00+01:00`, lower-case `t`/`z`, fractions of a second allowed) or of a date alone (`2025-03-01`, midnight
 * UTC); undefined for anything else, a date-time without an offset included.
 */
export function parseInstant(text: unknown): number | undefined {
  if (typeof text !== "string") return undefined;
  const parts = readParts(text);
  if (parts === undefined) return undefined;
  let ms = parts.days * 86_400_000;
  const time = parts.time;
  if (time === undefined) return ms;
  ms += ((time.hour * 60 + time.minute) * 60 + (time.second ?? 0)) * 1000;
  if (time.fraction !== undefined) ms += Number(`0.${time.fraction}`) * 1000;
  if (time.utc === undefined) {
    const offset = Math.abs(time.offsetMinutes) * 60_000;
    ms += time.offsetMinutes < 0 ? offset : -offset;
  }
  return ms;
}
