// The local stack's logger: pino JSON lines on stdout, or one readable line per record for a terminal, plus request logs.
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { type DestinationStream, type Logger, pino } from "pino";

export type LogFormat = "json" | "pretty";
export const LOG_FORMATS: readonly LogFormat[] = ["json", "pretty"];
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; default stdout. Tests pass a collector. */
  destination?: DestinationStream;
}

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
// Fields every record carries or that the line already shows; the rest are printed as key=value.
const HIDDEN = new Set(["level", "time", "pid", "hostname", "msg", "name"]);

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

function clock(time: unknown): string {
  const date = new Date(typeof time === "number" ? time : Date.now());
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function fieldText(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** One pino JSON record as `HH:MM:SS LEVEL [component] message key=value ...`; a line that is not JSON stays as it is. */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const level = LEVEL_NAMES[Number(record.level)] ?? String(record.level);
  const component = typeof record.component === "string" ? ` [${record.component}]` : "";
  const fields = Object.entries(record)
    .filter(([key]) => !HIDDEN.has(key) && key !== "component")
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  const rest = fields.length > 0 ? ` ${fields.join(" ")}` : "";
  return `${clock(record.time)} ${level.padEnd(5)}${component} ${String(record.msg ?? "")}${rest}\n`;
}

/** A destination that rewrites each JSON record with `prettyLine`: readable logs without pino-pretty. */
export function prettyDestination(out: { write(text: string): unknown }): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line !== "") out.write(prettyLine(line));
    },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const out = options.destination ?? process.stdout;
  const destination = options.format === "pretty" ? prettyDestination(out) : out;
  return pino({ level: options.level ?? "info", base: { name: "greenlight" } }, destination);
}

/**
 * Wraps a request listener so each answered request gets one debug line (method, path, status, milliseconds).
 * The query string is left out: it is the caller's, and nothing here needs it.
 */
export function withRequestLog(
  logger: Logger,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (!logger.isLevelEnabled("debug")) {
      listener(req, res);
      return;
    }
    const started = performance.now();
    res.once("finish", () => {
      logger.debug(
        {
          method: req.method,
          path: (req.url ?? "/").split("?")[0],
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
        },
        "request",
      );
    });
    listener(req, res);
  };
}
