// Parsers for the value syntaxes the annotations use; each returns the value or says what is accepted.
import { isDns1123Label, isDns1123Subdomain, isLabelValue, isPortName } from "./syntax.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

export const parseBoolean = (raw: string): Parsed<boolean> =>
  raw === "true" ? ok(true) : raw === "false" ? ok(false) : bad('accepted: "true" or "false"');

const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Durations like `30s`, `5m`, `1h` or `1m30s`, in seconds; zero is refused. */
export function parseDuration(raw: string): Parsed<number> {
  const match = DURATION.exec(raw);
  const accepted = 'accepted: a positive duration in s, m or h, e.g. "30s", "5m", "1h", "1m30s"';
  if (!raw || !match) return bad(accepted);
  const seconds = Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
  return seconds > 0 ? ok(seconds) : bad(accepted);
}

const WAIT_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
const waitText = (ms: number): string =>
  ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;

/** Waits like `500ms`, `1.5s` or `1m`, in whole milliseconds, within minMs..maxMs (sub-second values matter). */
export function parseMilliseconds(raw: string, minMs: number, maxMs: number): Parsed<number> {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(raw);
  const value = match ? Number(match[1]) * (WAIT_UNITS[match[2] ?? ""] ?? Number.NaN) : Number.NaN;
  return value >= minMs && value <= maxMs
    ? ok(Math.round(value))
    : bad(`accepted: a wait from ${waitText(minMs)} to ${waitText(maxMs)} with its unit, e.g. "500ms", "5s", "1m"`);
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kb: 1000, kib: 1024, mb: 1_000_000, mib: 1024 * 1024 };

/** Sizes like `65536`, `64KiB`, `512kb`, `3MiB`, in bytes, within min..max. */
export function parseByteSize(raw: string, min: number, max: number): Parsed<number> {
  const accepted = `accepted: a size from ${min} to ${max} bytes, in bytes or with KB, KiB, MB or MiB, e.g. "64KiB", "3MiB"`;
  const match = /^(\d{1,12})\s*([a-z]*)$/i.exec(raw.trim());
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? "?"];
  if (!match || unit === undefined) return bad(accepted);
  const bytes = Number(match[1]) * unit;
  return bytes >= min && bytes <= max ? ok(bytes) : bad(accepted);
}

export function parseInteger(raw: string, min: number, max: number): Parsed<number> {
  const accepted = `accepted: an integer from ${min} to ${max}`;
  if (!/^\d+$/.test(raw)) return bad(accepted);
  const value = Number(raw);
  return value >= min && value <= max ? ok(value) : bad(accepted);
}

/** Canary steps: comma-separated integer weights, strictly increasing, each within 1..100. */
export function parseSteps(raw: string): Parsed<number[]> {
  const accepted = 'accepted: comma-separated integers from 1 to 100, strictly increasing, e.g. "5,10,20,50,100"';
  const parts = raw.split(",").map((part) => part.trim());
  const steps: number[] = [];
  for (const part of parts) {
    const step = parseInteger(part, 1, 100);
    if (!step.ok) return bad(`"${part}" is not a weight; ${accepted}`);
    const previous = steps.at(-1);
    if (previous !== undefined && step.value <= previous) {
      return bad(`${step.value} does not increase on ${previous}; ${accepted}`);
    }
    steps.push(step.value);
  }
  return ok(steps);
}

/** An error-rate ceiling as a fraction: `1%` or `0.01`. */
export function parseRate(raw: string): Parsed<number> {
  const accepted = 'accepted: a percentage like "1%" or "0.5%", or a fraction below 1 like "0.01"';
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(raw);
  if (percent) {
    const value = Number(percent[1]) / 100;
    return value <= 1 ? ok(value) : bad(accepted);
  }
  if (/^\d+(?:\.\d+)?$/.test(raw)) {
    // A bare "1" reads as 1% to many people and as 100% to others: only unambiguous fractions below 1 pass.
    const value = Number(raw);
    return value < 1 ? ok(value) : bad(accepted);
  }
  return bad(accepted);
}

/** A latency ceiling in milliseconds: `500ms`, `1.5s`, or a bare number of milliseconds. */
export function parseLatency(raw: string): Parsed<number> {
  const accepted = 'accepted: a positive latency like "500ms", "1.5s" or "250" (milliseconds)';
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(raw);
  if (!match) return bad(accepted);
  const value = Number(match[1]) * (match[2] === "s" ? 1000 : 1);
  return value > 0 ? ok(value) : bad(accepted);
}

export interface HeaderRoute {
  header: string;
  value: string;
}

/** `name=value`: requests whose header equals the value go to the canary. Istio wants lower-case names. */
export function parseHeaderRoute(raw: string): Parsed<HeaderRoute> {
  const accepted = 'accepted: name=value with a lower-case header name, e.g. "x-canary-test=true"';
  const eq = raw.indexOf("=");
  if (eq <= 0) return bad(accepted);
  const header = raw.slice(0, eq);
  const value = raw.slice(eq + 1);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(header) || !/^[\x21-\x7e]+$/.test(value)) return bad(accepted);
  return ok({ header, value });
}

export type PortRef = number | string;

/** A container port: its number (1..65535) or its name. */
export function parsePort(raw: string): Parsed<PortRef> {
  if (/^\d+$/.test(raw)) {
    const port = Number(raw);
    return port >= 1 && port <= 65535 ? ok(port) : bad("accepted: a port number from 1 to 65535 or a port name");
  }
  return isPortName(raw)
    ? ok(raw)
    : bad("accepted: a port number from 1 to 65535 or a port name (lower-case, at most 15 characters)");
}

export function parseHttpPath(raw: string): Parsed<string> {
  return raw.startsWith("/") && raw.length <= 1024 && /^[\x21-\x7e]+$/.test(raw)
    ? ok(raw)
    : bad('accepted: an absolute HTTP path without spaces, e.g. "/health"');
}

export function parseLabelValue(raw: string): Parsed<string> {
  return raw !== "" && isLabelValue(raw)
    ? ok(raw)
    : bad("accepted: a label value, 1-63 characters of [A-Za-z0-9_.-] starting and ending alphanumeric");
}

export function parseObjectName(raw: string): Parsed<string> {
  return isDns1123Subdomain(raw)
    ? ok(raw)
    : bad("accepted: a Kubernetes object name (lower-case alphanumerics, '-' and '.')");
}

export function parseServiceName(raw: string): Parsed<string> {
  return isDns1123Label(raw) && /^[a-z]/.test(raw)
    ? ok(raw)
    : bad("accepted: a Service name (lower-case alphanumerics and '-', starting with a letter, at most 63)");
}

export function parseChoice<T extends string>(raw: string, choices: readonly T[]): Parsed<T> {
  const found = choices.find((choice) => choice === raw);
  return found !== undefined ? ok(found) : bad(`accepted: ${choices.map((c) => `"${c}"`).join(", ")}`);
}

/** Turns a notification channel off at this level (and below it: a Deployment's "off" beats its Namespace's URL). */
export const NOTIFY_OFF = "off";

/**
 * A notification receiver: an absolute http(s) URL with a host (at most 2048 characters, no spaces), or "off".
 * The URL is returned as written, so what the stepper sends to is exactly what the annotation says.
 */
export function parseNotifyUrl(raw: string): Parsed<string> {
  const accepted = `accepted: an absolute http:// or https:// URL, e.g. "https://hooks.slack.com/services/T0/B0/X", or "${NOTIFY_OFF}"`;
  if (raw === NOTIFY_OFF) return ok(raw);
  if (raw.length > 2048 || !/^[\x21-\x7e]+$/.test(raw)) return bad(accepted);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad(accepted);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") return bad(accepted);
  return ok(raw);
}
