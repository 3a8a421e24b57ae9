// The greenlight annotation contract: every `greenlight.dev/*` key, its syntax, its default and where it applies.
import {
  type HeaderRoute,
  type Parsed,
  type PortRef,
  parseBoolean,
  parseChoice,
  parseDuration,
  parseHeaderRoute,
  parseHttpPath,
  parseInteger,
  parseLabelValue,
  parseLatency,
  parseNotifyUrl,
  parseObjectName,
  parsePort,
  parseRate,
  parseServiceName,
  parseSteps,
} from "./values.ts";

export const PREFIX = "greenlight.dev/";
export const STRATEGIES = ["canary", "blue-green", "rolling"] as const;
export type Strategy = (typeof STRATEGIES)[number];
/** The canary's traffic routers: whose weights greenlight steps. */
export const ROUTERS = ["istio", "gateway-api"] as const;
export type RouterKind = (typeof ROUTERS)[number];

/** How a canary's analyses are judged: against fixed thresholds, or against the stable version (issue 16). */
export const JUDGES = ["threshold", "compare"] as const;
export type JudgeKind = (typeof JUDGES)[number];

/** A false-alarm level: a probability above 0 and at most 20%, as a percentage or a fraction. */
export function parseAlpha(raw: string): Parsed<number> {
  const parsed = parseRate(raw);
  return parsed.ok && parsed.value > 0 && parsed.value <= 0.2
    ? parsed
    : { ok: false, problem: 'accepted: a probability above 0 and at most 20%, e.g. "2%" or "0.02"' };
}

/** A tolerated error-rate difference: above 0 and below 100%. */
export function parseTolerance(raw: string): Parsed<number> {
  const parsed = parseRate(raw);
  return parsed.ok && parsed.value > 0 && parsed.value < 1
    ? parsed
    : { ok: false, problem: 'accepted: a difference of error rates above 0, e.g. "0.5%" or "0.005"' };
}

/** A tolerated excess of P(canary slower) over one half: above 0 and below 50%. */
export function parseLatencyTolerance(raw: string): Parsed<number> {
  const parsed = parseRate(raw);
  return parsed.ok && parsed.value > 0 && parsed.value < 0.5
    ? parsed
    : { ok: false, problem: 'accepted: a probability above 0 and below 50%, e.g. "5%" or "0.05"' };
}

/**
 * Which part of greenlight reads a key; strategy-scoped keys are ignored (with a warning) under another strategy.
 * `notify` keys apply to every strategy, and are read from the Deployment and from its Namespace.
 */
export type Scope = "inject" | "strategy" | Strategy | "control" | "notify" | "status";

interface KeySpec<T> {
  scope: Scope;
  parse: (raw: string) => Parsed<T>;
  /** The default as users read it in the docs; absent when there is none. */
  default?: string;
  doc: string;
}

const spec = <T>(s: KeySpec<T>): KeySpec<T> => s;
const text = (raw: string): Parsed<string> => ({ ok: true, value: raw });

/** The keys without the prefix. Names here are the only spelling used by webhook, validator, stepper and docs. */
export const KEYS = {
  inject: spec({ scope: "inject", parse: parseBoolean, default: "off", doc: "opt this Deployment in to mutation" }),
  app: spec({
    scope: "inject",
    parse: parseLabelValue,
    default: "label app.kubernetes.io/name, then label app, then the Deployment name",
    doc: "value of the injected app label",
  }),
  version: spec({
    scope: "inject",
    parse: parseLabelValue,
    default: "image tag of the first container (digest: sha-<12 hex>)",
    doc: "value of the injected version label",
  }),
  "probe-port": spec({
    scope: "inject",
    parse: parsePort,
    default: "the container's first containerPort",
    doc: "port of the injected httpGet probes, a number or a port name",
  }),
  "liveness-path": spec({
    scope: "inject",
    parse: parseHttpPath,
    default: "/health",
    doc: "path of the liveness probe",
  }),
  "readiness-path": spec({
    scope: "inject",
    parse: parseHttpPath,
    default: "/ready",
    doc: "path of the readiness probe",
  }),
  strategy: spec({
    scope: "strategy",
    parse: (raw: string) => parseChoice(raw, STRATEGIES),
    doc: "delivery strategy run by the scheduled function",
  }),
  router: spec({
    scope: "canary",
    parse: (raw: string) => parseChoice(raw, ROUTERS),
    default: "istio",
    doc: "traffic router: an Istio VirtualService or a Gateway API HTTPRoute",
  }),
  "virtual-service": spec({
    scope: "canary",
    parse: parseObjectName,
    default: "the app name",
    doc: "Istio VirtualService whose weights are stepped (router istio)",
  }),
  route: spec({
    scope: "canary",
    parse: parseObjectName,
    default: "the app name",
    doc: "Gateway API HTTPRoute whose backendRefs weights are stepped (router gateway-api)",
  }),
  "canary-service": spec({
    scope: "canary",
    parse: parseServiceName,
    default: "<app>-canary",
    doc: "the HTTPRoute backend Service that selects the canary's pods (router gateway-api)",
  }),
  steps: spec({
    scope: "canary",
    parse: parseSteps,
    default: "5,15,25,...,95 then promotion",
    doc: "canary weights, strictly increasing within 1..100",
  }),
  "step-weight": spec({
    scope: "canary",
    parse: (raw: string) => parseInteger(raw, 1, 100),
    doc: "instead of steps: weights step-weight, 2 x step-weight, ... up to max-weight",
  }),
  "max-weight": spec({
    scope: "canary",
    parse: (raw: string) => parseInteger(raw, 1, 100),
    default: "100",
    doc: "last weight before promotion (with step-weight)",
  }),
  interval: spec({
    scope: "canary",
    parse: parseDuration,
    default: "5m",
    doc: "time between steps and analysis window",
  }),
  threshold: spec({
    scope: "canary",
    parse: (raw: string) => parseInteger(raw, 1, 100),
    default: "2",
    doc: "consecutive failed analyses that roll back",
  }),
  "max-inconclusive": spec({
    scope: "canary",
    parse: (raw: string) => parseInteger(raw, 1, 100),
    default: "3",
    doc: "consecutive intervals of no data or errors before they count as a failure",
  }),
  "max-error-rate": spec({
    scope: "canary",
    parse: parseRate,
    default: "1%",
    doc: "highest 5xx share of canary requests",
  }),
  "max-latency-p95": spec({
    scope: "canary",
    parse: parseLatency,
    default: "500ms",
    doc: "highest canary p95 latency",
  }),
  "max-latency-p99": spec({
    scope: "canary",
    parse: parseLatency,
    default: "1000ms",
    doc: "highest canary p99 latency",
  }),
  "min-requests": spec({
    scope: "canary",
    parse: (raw: string) => parseInteger(raw, 0, 1_000_000_000),
    default: "10",
    doc: "fewest canary requests in the window for an analysis to count",
  }),
  judge: spec({
    scope: "canary",
    parse: (raw: string) => parseChoice(raw, JUDGES),
    default: "threshold",
    doc: "threshold: each window against the max-* ceilings; compare: the canary against the stable version, sequentially",
  }),
  "judge-alpha": spec({
    scope: "canary",
    parse: parseAlpha,
    default: "2%",
    doc: "judge compare: chance that a canary no worse than tolerated is ever rolled back (half to each comparison)",
  }),
  "judge-tolerance": spec({
    scope: "canary",
    parse: parseTolerance,
    default: "0.5%",
    doc: "judge compare: how much higher the canary's error rate may be than the stable's (a difference of rates)",
  }),
  "judge-latency-tolerance": spec({
    scope: "canary",
    parse: parseLatencyTolerance,
    default: "5%",
    doc: "judge compare: how far above one half P(a canary request is slower than a stable one) may be",
  }),
  "header-route": spec({
    scope: "canary",
    parse: parseHeaderRoute,
    doc: "requests with this header go to the canary, e.g. x-canary-test=true",
  }),
  service: spec({ scope: "blue-green", parse: parseServiceName, doc: "Service whose version selector is switched" }),
  "smoke-path": spec({
    scope: "blue-green",
    parse: parseHttpPath,
    default: "/health",
    doc: "path checked on the new version before the switch",
  }),
  "auto-promote": spec({
    scope: "blue-green",
    parse: parseBoolean,
    default: "false",
    doc: "switch automatically once the new version is ready",
  }),
  "auto-rollback": spec({
    scope: "rolling",
    parse: parseBoolean,
    default: "false",
    doc: "undo a rollout that fails its deadline",
  }),
  paused: spec({ scope: "control", parse: parseBoolean, default: "false", doc: "hold the rollout where it is" }),
  promote: spec({ scope: "control", parse: parseBoolean, default: "false", doc: "skip the remaining steps" }),
  abort: spec({ scope: "control", parse: parseBoolean, default: "false", doc: "roll back now" }),
  "notify-slack": spec({
    scope: "notify",
    parse: parseNotifyUrl,
    default: "the Namespace's annotation, then GREENLIGHT_NOTIFY_SLACK_URL",
    doc: 'Slack-compatible incoming webhook told of promotions, rollbacks, pauses, switches and undos; "off" for none',
  }),
  "notify-cloudevents": spec({
    scope: "notify",
    parse: parseNotifyUrl,
    default: "the Namespace's annotation, then GREENLIGHT_NOTIFY_CLOUDEVENTS_URL",
    doc: 'CloudEvents 1.0 HTTP receiver of the same events; "off" for none',
  }),
  injected: spec({ scope: "status", parse: text, doc: "written by the mutating webhook: the labels it set" }),
  status: spec({ scope: "status", parse: text, doc: "written by greenlight: rollout progress" }),
} as const;

export type Key = keyof typeof KEYS;
export type ValueOf<K extends Key> = (typeof KEYS)[K] extends KeySpec<infer T> ? T : never;
export type { HeaderRoute, PortRef };

/*
 * Every known key's full name, made once. A name built anew on each read is a fresh string, which V8 must look up in
 * its string table before every property read with it; a name kept is looked up once.
 */
const NAMES = new Map<string, string>(Object.keys(KEYS).map((key) => [key, `${PREFIX}${key}`]));

export const annotationName = (key: Key | string): string => NAMES.get(key) ?? `${PREFIX}${key}`;

export const isKnownKey = (key: string): key is Key => Object.hasOwn(KEYS, key);

export type Annotations = Readonly<Record<string, string>>;

export type Read<T> =
  | { present: false }
  | { present: true; ok: true; value: T }
  | { present: true; ok: false; problem: string };

/** Reads one annotation through its parser; the stepper and the webhooks go through here, never around it. */
export function readAnnotation<K extends Key>(annotations: Annotations | undefined, key: K): Read<ValueOf<K>> {
  const raw = annotations?.[annotationName(key)];
  if (raw === undefined) return { present: false };
  const parsed = (KEYS[key].parse as (raw: string) => Parsed<ValueOf<K>>)(raw);
  return parsed.ok
    ? { present: true, ok: true, value: parsed.value }
    : { present: true, ok: false, problem: parsed.problem };
}

/**
 * The value of an annotation, or undefined when it is absent or invalid; an invalid one adds the warning every
 * surface uses for a value it falls back from: `greenlight.dev/<key> ignored: <what is accepted>`.
 */
export function readOrWarn<K extends Key>(
  annotations: Annotations | undefined,
  key: K,
  warnings: string[],
): ValueOf<K> | undefined {
  const read = readAnnotation(annotations, key);
  if (!read.present) return undefined;
  if (read.ok) return read.value;
  warnings.push(`${annotationName(key)} ignored: ${read.problem}`);
  return undefined;
}

/**
 * The documented default of a key, parsed with the key's own parser, so the number the stepper uses and the text
 * the docs show cannot drift apart. Only for keys whose default is a value (not prose such as "the app name").
 */
export function defaultOf<K extends Key>(key: K): ValueOf<K> {
  const spec = KEYS[key] as KeySpec<ValueOf<K>>;
  const parsed = spec.default === undefined ? undefined : spec.parse(spec.default);
  if (!parsed?.ok) throw new Error(`${annotationName(key)} has no parseable default`);
  return parsed.value;
}

/** The problem text as every surface prints it: `greenlight.dev/steps: "5,3" is invalid: ...`. */
export const describeProblem = (key: string, raw: string, problem: string): string =>
  `${annotationName(key)}: ${JSON.stringify(raw)} is invalid: ${problem}`;
