// The local stack's settings from command-line flags and environment variables (flag first); pure, so it is tested alone.
import { isIP } from "node:net";
import { resolve } from "node:path";
import { settingValue } from "../../functions/contract/settings.ts";
import { parseDuration } from "../../functions/contract/values.ts";
import { ENV as FLAG_ENV } from "../../functions/flags/env.ts";
import type { OnError } from "../../webhooks/mutate/mutate.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/** A setting the user got wrong; the message names the flag (and variable) and what is accepted. */
export class LocalConfigError extends Error {
  override readonly name = "LocalConfigError";
}

export const DEFAULT_PORTS = { page: 8080, webhook: 8443, flags: 8081 } as const;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_STEP_INTERVAL_MS = 60_000;
export const DEFAULT_HOME = ".greenlight";

/**
 * Where `npm start` keeps its flag files, absolute (relative to `cwd`): GREENLIGHT_FLAGS_DIR, else the stack's home
 * (`home`, by default GREENLIGHT_HOME, else `.greenlight`).
 */
export function localFlagsDir(
  env: Env,
  cwd: string,
  home: string = settingValue(env, ENV_NAMES.home) ?? DEFAULT_HOME,
): string {
  return resolve(cwd, settingValue(env, FLAG_ENV.flagsDir) ?? home);
}

export type PortName = keyof typeof DEFAULT_PORTS;

/** Each port's flag and variable, for messages: a taken port names the flag to change. */
export const PORT_SOURCES: Record<PortName, { flag: string; env: string; what: string }> = {
  page: { flag: "--port", env: "GREENLIGHT_PORT", what: "the / page" },
  webhook: { flag: "--webhook-port", env: "GREENLIGHT_WEBHOOK_PORT", what: "the webhooks" },
  flags: { flag: "--flags-port", env: "GREENLIGHT_FLAGS_PORT", what: "the flag API" },
};

export const ENV_NAMES = {
  host: "GREENLIGHT_HOST",
  publicHost: "GREENLIGHT_PUBLIC_HOST",
  home: "GREENLIGHT_HOME",
  stepInterval: "GREENLIGHT_STEP_INTERVAL",
  logLevel: "GREENLIGHT_LOG_LEVEL",
  logFormat: "GREENLIGHT_LOG_FORMAT",
} as const;

/** What `greenlight start` was given; every field optional (absent: the variable, then the default). */
export interface StartFlags {
  port?: string;
  webhookPort?: string;
  flagsPort?: string;
  host?: string;
  publicHost?: string;
  home?: string;
  stepInterval?: string;
  dryRun?: boolean;
  /** commander's `--no-rate-limit` sets it false. */
  rateLimit?: boolean;
  onError?: string;
  logLevel?: string;
  logFormat?: string;
}

export interface LocalSettings {
  host: string;
  /** The name clients (and a cluster's API server) use to reach this machine; in the certificate and the URLs. */
  publicHost: string;
  /** Absolute: the CA, the flag files (unless GREENLIGHT_FLAGS_DIR says otherwise) and demo.svg live here. */
  home: string;
  ports: Record<PortName, number>;
  stepIntervalMs: number;
  dryRun: boolean;
  /** The flag API's abuse limits (false: off, as GREENLIGHT_RATE_LIMIT=off). */
  rateLimit: boolean;
  onError: OnError;
  logLevel: LogLevel;
  logFormat: LogFormat;
}

function present(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** `--flag` when the value came from the flag, `VARIABLE` when from the environment. */
function pick(flag: string | undefined, env: Env, name: string): { raw?: string; from: string } | undefined {
  const fromFlag = present(flag);
  if (fromFlag !== undefined) return { raw: fromFlag, from: "flag" };
  const fromEnv = present(env[name]);
  return fromEnv === undefined ? undefined : { raw: fromEnv, from: name };
}

function source(flag: string, envName: string, from: string): string {
  return from === "flag" ? flag : `${envName} (or ${flag})`;
}

export function parsePort(raw: string, label: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new LocalConfigError(`${label} ${JSON.stringify(raw)} is not a port: use 0..65535 (0 picks a free one)`);
  }
  return port;
}

function port(name: PortName, flag: string | undefined, env: Env): number {
  const { flag: flagName, env: envName } = PORT_SOURCES[name];
  const picked = pick(flag, env, envName);
  if (picked?.raw === undefined) return DEFAULT_PORTS[name];
  return parsePort(picked.raw, source(flagName, envName, picked.from));
}

const HOST_NAME = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;

function hostName(raw: string, label: string): string {
  const bare = raw.replace(/^\[(.*)\]$/, "$1");
  if (isIP(bare) !== 0 || (HOST_NAME.test(bare) && bare.length <= 253)) return bare;
  throw new LocalConfigError(
    `${label} ${JSON.stringify(raw)} is neither a host name nor an IP address: use e.g. 127.0.0.1, 0.0.0.0 or localhost`,
  );
}

/** Wildcard binds answer on every address; clients need a concrete one. */
export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

function choice<T extends string>(raw: string, choices: readonly T[], label: string): T {
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  throw new LocalConfigError(`${label} ${JSON.stringify(raw)} is not supported: use ${choices.join(", ")}`);
}

/**
 * Resolves every setting; `isTty` picks the default log format (pretty lines on a terminal, JSON otherwise).
 * Throws LocalConfigError on the first bad value.
 */
export function resolveSettings(flags: StartFlags, env: Env, cwd: string, isTty = false): LocalSettings {
  const hostPick = pick(flags.host, env, ENV_NAMES.host);
  const host =
    hostPick?.raw === undefined
      ? DEFAULT_HOST
      : hostName(hostPick.raw, source("--host", ENV_NAMES.host, hostPick.from));
  const publicPick = pick(flags.publicHost, env, ENV_NAMES.publicHost);
  const publicHost =
    publicPick?.raw === undefined
      ? isWildcard(host)
        ? "localhost"
        : host
      : hostName(publicPick.raw, source("--public-host", ENV_NAMES.publicHost, publicPick.from));
  if (isWildcard(publicHost)) {
    throw new LocalConfigError(
      `--public-host ${publicHost} is a wildcard: pass the name clients use to reach this machine, e.g. localhost`,
    );
  }

  const homePick = pick(flags.home, env, ENV_NAMES.home);
  const home = resolve(cwd, homePick?.raw ?? DEFAULT_HOME);

  const intervalPick = pick(flags.stepInterval, env, ENV_NAMES.stepInterval);
  let stepIntervalMs = DEFAULT_STEP_INTERVAL_MS;
  if (intervalPick?.raw !== undefined) {
    const parsed = parseDuration(intervalPick.raw);
    if (!parsed.ok) {
      throw new LocalConfigError(
        `${source("--step-interval", ENV_NAMES.stepInterval, intervalPick.from)} ${JSON.stringify(intervalPick.raw)} is invalid; ${parsed.problem}`,
      );
    }
    stepIntervalMs = parsed.value * 1000;
  }

  const levelPick = pick(flags.logLevel, env, ENV_NAMES.logLevel);
  const logLevel =
    levelPick?.raw === undefined
      ? "info"
      : choice(levelPick.raw, LOG_LEVELS, source("--log-level", ENV_NAMES.logLevel, levelPick.from));
  const formatPick = pick(flags.logFormat, env, ENV_NAMES.logFormat);
  const logFormat =
    formatPick?.raw === undefined
      ? isTty
        ? "pretty"
        : "json"
      : choice(formatPick.raw, LOG_FORMATS, source("--log-format", ENV_NAMES.logFormat, formatPick.from));

  return {
    host,
    publicHost,
    home,
    ports: {
      page: port("page", flags.port, env),
      webhook: port("webhook", flags.webhookPort, env),
      flags: port("flags", flags.flagsPort, env),
    },
    stepIntervalMs,
    dryRun: flags.dryRun ?? false,
    rateLimit: flags.rateLimit ?? true,
    onError: choice(flags.onError ?? "allow", ["allow", "deny"] as const, "--on-error"),
    logLevel,
    logFormat,
  };
}

/** The address a client on this machine dials: a wildcard bind answers on loopback too. */
export function dialHost(host: string): string {
  return host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
}

/** `host:port` as it goes in a URL (IPv6 in brackets). */
export function urlHost(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
