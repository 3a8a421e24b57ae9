// Canary settings from a Deployment's annotations: every value resolved to a default when absent or invalid.
//
// API: `readCanarySettings(annotations, appName) -> { settings, problems }`.
// - `problems` holds every invalid value, in the validator's words (`describeProblem`); the run loop reports them.
// - An invalid value never takes effect: tuning values (steps, interval, thresholds, ...) fall back to their
//   defaults, which still gate the rollout. An invalid control (`paused`, `promote`, `abort`) or custom check
//   cannot fall back to anything safe (a dropped check is a missing gate, an unreadable `abort` may be a user
//   trying to stop the rollout), so those problems are also listed in `settings.blocking` and pause the canary
//   until they are fixed; a valid `abort: "true"` still rolls back.
import {
  type Annotations,
  annotationName,
  defaultOf,
  describeProblem,
  type HeaderRoute,
  type Key,
  PREFIX,
  type RouterKind,
  readAnnotation,
  type ValueOf,
} from "../contract/annotations.ts";
import { CHECK_PREFIX, type CustomCheck, isCheckName, parseCustomCheck } from "../contract/custom-checks.ts";

/** The manual controls as read; `undefined` means absent or invalid (an invalid one is in `blocking`). */
export interface CanaryControls {
  paused?: boolean;
  promote?: boolean;
  abort?: boolean;
}

/** The comparative judge's settings (greenlight.dev/judge: compare). */
export interface CompareSettings {
  /** False-alarm level over the whole rollout, split evenly over the error-rate and latency comparisons. */
  alpha: number;
  /** Tolerated error-rate difference, canary minus stable. */
  tolerance: number;
  /** Tolerated excess of P(canary request slower than a stable one) over one half. */
  latencyTolerance: number;
}

export interface CanarySettings {
  /** Canary weights of the steps, strictly increasing within 1..100; promotion follows the last one. */
  steps: number[];
  /** Time between steps, and the analysis window. */
  intervalSeconds: number;
  /** Consecutive failed analyses that roll back. */
  threshold: number;
  /** Consecutive inconclusive analyses (no data or errors) from which each one counts as a failure. */
  maxInconclusive: number;
  /** Highest 5xx share, as a fraction (0.01 = 1%). */
  maxErrorRate: number;
  maxLatencyP95Ms: number;
  maxLatencyP99Ms: number;
  /** Fewest canary requests in the window for the traffic checks to count. */
  minRequests: number;
  headerRoute?: HeaderRoute;
  /** Whose weights are stepped (greenlight.dev/router). */
  router: RouterKind;
  /** The name of the route object under `router`: the VirtualService (istio) or the HTTPRoute (gateway-api). */
  route: string;
  /**
   * Equal to `route` under either router (under istio it is greenlight.dev/virtual-service). Kept for callers that
   * key on it, such as the stepper's one-canary-per-route claims; new code reads `route`.
   */
  virtualService: string;
  /** The HTTPRoute backend Service that selects the canary (greenlight.dev/canary-service); gateway-api only. */
  canaryService: string;
  checks: CustomCheck[];
  /**
   * Present under `greenlight.dev/judge: compare`: the canary is judged against the stable version by sequential
   * tests, and the max-error-rate / max-latency ceilings are not used. Absent under threshold (the default).
   */
  judge?: CompareSettings;
  controls: CanaryControls;
  /** Problems that pause the canary until fixed: invalid controls, invalid custom checks. */
  blocking: string[];
}

export const DEFAULT_STEPS: readonly number[] = [5, 15, 25, 35, 45, 55, 65, 75, 85, 95];

/** The contract's documented defaults, parsed once: docs/ARCHITECTURE.md and the stepper read the same text. */
export const CANARY_DEFAULTS = {
  intervalSeconds: defaultOf("interval"),
  threshold: defaultOf("threshold"),
  maxInconclusive: defaultOf("max-inconclusive"),
  maxErrorRate: defaultOf("max-error-rate"),
  maxLatencyP95Ms: defaultOf("max-latency-p95"),
  maxLatencyP99Ms: defaultOf("max-latency-p99"),
  minRequests: defaultOf("min-requests"),
} as const;

/** The comparative judge's documented defaults. */
export const COMPARE_DEFAULTS: CompareSettings = {
  alpha: defaultOf("judge-alpha"),
  tolerance: defaultOf("judge-tolerance"),
  latencyTolerance: defaultOf("judge-latency-tolerance"),
};

/** `w, 2w, ...` up to `max`, with `max` itself last when it is not a multiple of `w`. */
export function stepsFromWeight(stepWeight: number, maxWeight: number): number[] {
  const steps: number[] = [];
  for (let weight = stepWeight; weight <= maxWeight; weight += stepWeight) steps.push(weight);
  if (steps.at(-1) !== maxWeight) steps.push(maxWeight);
  return steps;
}

/**
 * Reads the canary settings. `appName` is the Deployment's app (its `app` label as the mutating webhook chose
 * it), the default VirtualService name.
 */
export function readCanarySettings(
  annotations: Annotations | undefined,
  appName: string,
): { settings: CanarySettings; problems: string[] } {
  const problems: string[] = [];
  const blocking: string[] = [];
  const own = annotations ?? {};

  /** The parsed value, or undefined after recording the problem. */
  function read<K extends Key>(key: K, sink: string[][] = [problems]): ValueOf<K> | undefined {
    const result = readAnnotation(own, key);
    if (!result.present) return undefined;
    if (result.ok) return result.value;
    const problem = describeProblem(key, own[annotationName(key)] ?? "", result.problem);
    for (const list of sink) list.push(problem);
    return undefined;
  }

  const settings: CanarySettings = {
    steps: readSteps(own, read, problems),
    intervalSeconds: read("interval") ?? CANARY_DEFAULTS.intervalSeconds,
    threshold: read("threshold") ?? CANARY_DEFAULTS.threshold,
    maxInconclusive: read("max-inconclusive") ?? CANARY_DEFAULTS.maxInconclusive,
    maxErrorRate: read("max-error-rate") ?? CANARY_DEFAULTS.maxErrorRate,
    maxLatencyP95Ms: read("max-latency-p95") ?? CANARY_DEFAULTS.maxLatencyP95Ms,
    maxLatencyP99Ms: read("max-latency-p99") ?? CANARY_DEFAULTS.maxLatencyP99Ms,
    minRequests: read("min-requests") ?? CANARY_DEFAULTS.minRequests,
    router: read("router") ?? defaultOf("router"),
    route: appName,
    virtualService: read("virtual-service") ?? appName,
    canaryService: read("canary-service") ?? `${appName}-canary`,
    checks: readChecks(own, [problems, blocking]),
    controls: {},
    blocking,
  };
  // Only the chosen router's name is read: the validator warns that the other one is ignored.
  if (settings.router === "gateway-api") {
    settings.route = read("route") ?? appName;
    settings.virtualService = settings.route;
  } else {
    settings.route = settings.virtualService;
  }
  // Every judge key is read, so an invalid one is reported whichever judge runs; only compare uses them.
  const judge = read("judge") ?? defaultOf("judge");
  const compare: CompareSettings = {
    alpha: read("judge-alpha") ?? COMPARE_DEFAULTS.alpha,
    tolerance: read("judge-tolerance") ?? COMPARE_DEFAULTS.tolerance,
    latencyTolerance: read("judge-latency-tolerance") ?? COMPARE_DEFAULTS.latencyTolerance,
  };
  if (judge === "compare") settings.judge = compare;
  const headerRoute = read("header-route");
  if (headerRoute) settings.headerRoute = headerRoute;
  for (const control of ["paused", "promote", "abort"] as const) {
    const value = read(control, [problems, blocking]);
    if (value !== undefined) settings.controls[control] = value;
  }
  return { settings, problems };
}

type Reader = <K extends Key>(key: K) => ValueOf<K> | undefined;

function readSteps(annotations: Annotations, read: Reader, problems: string[]): number[] {
  const steps = read("steps");
  const stepWeight = read("step-weight");
  const maxWeight = read("max-weight");
  const has = (key: Key) => annotations[annotationName(key)] !== undefined;
  if (has("steps") && (has("step-weight") || has("max-weight"))) {
    // Same words as the validator; the explicit list is what the user wrote out in full, so it wins.
    problems.push(
      `${annotationName("steps")} and ${annotationName("step-weight")}/${annotationName("max-weight")} conflict: set one of them`,
    );
    return steps ?? [...DEFAULT_STEPS];
  }
  if (steps) return steps;
  if (stepWeight !== undefined && maxWeight !== undefined && maxWeight < stepWeight) {
    problems.push(
      `${annotationName("max-weight")} (${maxWeight}) is below ${annotationName("step-weight")} (${stepWeight})`,
    );
    return [...DEFAULT_STEPS];
  }
  if (stepWeight !== undefined) return stepsFromWeight(stepWeight, maxWeight ?? 100);
  if (maxWeight !== undefined) {
    // max-weight alone caps the default steps.
    const capped = DEFAULT_STEPS.filter((weight) => weight < maxWeight);
    return [...capped, maxWeight];
  }
  return [...DEFAULT_STEPS];
}

function readChecks(annotations: Annotations, sinks: string[][]): CustomCheck[] {
  const checks: CustomCheck[] = [];
  const checkPrefix = `${PREFIX}${CHECK_PREFIX}`;
  for (const [name, raw] of Object.entries(annotations)) {
    if (!name.startsWith(checkPrefix)) continue;
    const checkName = name.slice(checkPrefix.length);
    let problem: string | undefined;
    if (!isCheckName(checkName)) {
      problem = `${name}: check name "${checkName}" is invalid: accepted: lower-case alphanumerics and '-'`;
    } else {
      const parsed = parseCustomCheck(checkName, raw);
      if (parsed.ok) checks.push(parsed.value);
      else problem = describeProblem(name.slice(PREFIX.length), raw, parsed.problem);
    }
    if (problem) for (const sink of sinks) sink.push(problem);
  }
  return checks.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
