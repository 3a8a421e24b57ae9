// Checks every greenlight annotation of an object: errors reject it, warnings are passed back to kubectl.
import {
  type Annotations,
  annotationName,
  describeProblem,
  isKnownKey,
  KEYS,
  type Key,
  PREFIX,
  readAnnotation,
} from "./annotations.ts";
import { closest } from "./closest.ts";
import { CHECK_PREFIX, isCheckName, parseCustomCheck } from "./custom-checks.ts";

type Complain = (names: string | string[], message: string) => void;

export interface AnnotationReport {
  errors: string[];
  warnings: string[];
}

/**
 * Validates the `greenlight.dev/*` annotations. With `previous` (the object before an UPDATE), a value that did not
 * change is only warned about, so tightening the rules never blocks unrelated edits of running workloads.
 */
export function validateAnnotations(annotations: Annotations | undefined, previous?: Annotations): AnnotationReport {
  const report: AnnotationReport = { errors: [], warnings: [] };
  const own = Object.entries(annotations ?? {}).filter(([name]) => name.startsWith(PREFIX));
  // A problem is old news only when every annotation it involves is as it was before the UPDATE.
  const complain: Complain = (names, message) => {
    const involved = typeof names === "string" ? [names] : names;
    if (previous !== undefined && involved.every((name) => previous[name] === annotations?.[name])) {
      report.warnings.push(`unchanged, so not rejected: ${message}`);
    } else {
      report.errors.push(message);
    }
  };

  for (const [name, raw] of own) {
    const key = name.slice(PREFIX.length);
    if (key.startsWith(CHECK_PREFIX)) {
      const checkName = key.slice(CHECK_PREFIX.length);
      if (!isCheckName(checkName)) {
        complain(name, `${name}: check name "${checkName}" is invalid: accepted: lower-case alphanumerics and '-'`);
        continue;
      }
      const parsed = parseCustomCheck(checkName, raw);
      if (!parsed.ok) complain(name, describeProblem(key, raw, parsed.problem));
      continue;
    }
    if (!isKnownKey(key)) {
      const guess = closest(key, Object.keys(KEYS));
      report.warnings.push(
        `${name} is not a greenlight annotation${guess ? `; did you mean ${annotationName(guess)}?` : ""}`,
      );
      continue;
    }
    const read = readAnnotation(annotations, key);
    if (read.present && !read.ok) complain(name, describeProblem(key, raw, read.problem));
  }

  checkCombinations(annotations ?? {}, report, complain);
  return report;
}

function checkCombinations(annotations: Annotations, report: AnnotationReport, complain: Complain): void {
  const has = (key: Key) => annotations[annotationName(key)] !== undefined;
  const isTrue = (key: Key) => annotations[annotationName(key)] === "true";
  const strategy = readAnnotation(annotations, "strategy");
  const chosen = strategy.present && strategy.ok ? strategy.value : undefined;

  if (has("steps") && (has("step-weight") || has("max-weight"))) {
    complain(
      [annotationName("steps"), annotationName("step-weight"), annotationName("max-weight")],
      `${annotationName("steps")} and ${annotationName("step-weight")}/${annotationName("max-weight")} conflict: set one of them`,
    );
  }
  const stepWeight = readAnnotation(annotations, "step-weight");
  const maxWeight = readAnnotation(annotations, "max-weight");
  if (stepWeight.present && stepWeight.ok && maxWeight.present && maxWeight.ok && maxWeight.value < stepWeight.value) {
    complain(
      [annotationName("max-weight"), annotationName("step-weight")],
      `${annotationName("max-weight")} (${maxWeight.value}) is below ${annotationName("step-weight")} (${stepWeight.value})`,
    );
  }
  if (isTrue("promote") && isTrue("abort")) {
    complain(
      [annotationName("promote"), annotationName("abort")],
      `${annotationName("promote")} and ${annotationName("abort")} are both "true": set one`,
    );
  }
  if (chosen === "blue-green" && !has("service")) {
    complain(
      [annotationName("strategy"), annotationName("service")],
      `${annotationName("service")} is required with ${annotationName("strategy")}: blue-green (the Service to switch)`,
    );
  }

  // Each router reads its own keys: the other router's are accepted, with a warning that they are ignored.
  const router = readAnnotation(annotations, "router");
  if (chosen === "canary" && (!router.present || router.ok)) {
    const routerName = router.present && router.ok ? router.value : "istio";
    const foreign: Key[] = routerName === "istio" ? ["route", "canary-service"] : ["virtual-service"];
    for (const key of foreign.filter(has)) {
      report.warnings.push(
        `${annotationName(key)} has no effect with ${annotationName("router")}: ${routerName}; it is ignored`,
      );
    }
  }

  // The judge reads its own keys: compare replaces the max-* ceilings, and its settings mean nothing to threshold.
  const judge = readAnnotation(annotations, "judge");
  if (chosen === "canary" && (!judge.present || judge.ok)) {
    const judgeName = judge.present && judge.ok ? judge.value : "threshold";
    const foreign: Key[] =
      judgeName === "compare"
        ? ["max-error-rate", "max-latency-p95", "max-latency-p99"]
        : ["judge-alpha", "judge-tolerance", "judge-latency-tolerance"];
    for (const key of foreign.filter(has)) {
      report.warnings.push(
        judgeName === "compare"
          ? `${annotationName(key)} has no effect with ${annotationName("judge")}: compare; it is ignored`
          : `${annotationName(key)} has no effect without ${annotationName("judge")}: compare; it is ignored`,
      );
    }
  }

  for (const [key, keySpec] of Object.entries(KEYS)) {
    const scope = keySpec.scope;
    if (!has(key as Key) || (scope !== "canary" && scope !== "blue-green" && scope !== "rolling")) continue;
    if (chosen !== scope) {
      report.warnings.push(
        `${annotationName(key)} has no effect without ${annotationName("strategy")}: ${scope}; it is ignored`,
      );
    }
  }
  const hasChecks = Object.keys(annotations).some((name) => name.startsWith(`${PREFIX}${CHECK_PREFIX}`));
  if (hasChecks && chosen !== "canary") {
    report.warnings.push(
      `${PREFIX}${CHECK_PREFIX}* checks have no effect without ${annotationName("strategy")}: canary`,
    );
  }
}
