// The mutation itself: decides whether a Deployment opted in, then injects labels, probes and the marker.
import { type Annotations, annotationName, readOrWarn } from "../../functions/contract/annotations.ts";
import { annotationsOf } from "../../functions/contract/objects.ts";
import { chooseApp, chooseVersion } from "../../functions/contract/workload.ts";
import {
  formatMarker,
  INJECTED_LABELS,
  type InjectedLabel,
  type LabelOutcome,
  parseMarker,
  setOwnedLabel,
} from "./labels.ts";
import { injectProbes, readProbeSettings } from "./probes.ts";
import {
  isObject,
  type JsonObject,
  readList,
  readMap,
  readStringMap,
  ShapeError,
  writableMap,
  writableStringMap,
} from "./shape.ts";

/** How the Deployment reached us: its own annotation opts it in, or its namespace's label opts in all. */
export type OptInScope = "annotation" | "namespace";

export type OptIn = { inject: true; warnings: string[] } | { inject: false; warnings: string[] };

export function decideOptIn(annotations: Annotations, scope: OptInScope): OptIn {
  // An invalid value (a typo like "yes") counts as absent: a labelled namespace injects, any other does not.
  const warnings: string[] = [];
  const value = readOrWarn(annotations, "inject", warnings);
  return { inject: scope === "namespace" ? value !== false : value === true, warnings };
}

export interface Injection {
  /** The mutated object: changed paths are copies, the rest is shared with the input, which is never changed. */
  object: JsonObject;
  injected: boolean;
  warnings: string[];
}

/** Throws ShapeError when the object is not shaped like a Deployment where it matters. */
export function injectDeployment(input: unknown, scope: OptInScope, oldObject?: unknown): Injection {
  if (!isObject(input)) throw new ShapeError("object", "an object");
  const object: JsonObject = { ...input };
  const metadata = writableMap(object, "metadata", "metadata");
  const annotations = readStringMap(metadata, "annotations", "metadata.annotations") ?? {};
  const optIn = decideOptIn(annotations, scope);
  if (!optIn.inject) return { object: input, injected: false, warnings: optIn.warnings };

  const warnings = [...optIn.warnings];
  const spec = writableMap(object, "spec", "spec");
  const template = writableMap(spec, "template", "spec.template");
  const templateMetadata = writableMap(template, "metadata", "spec.template.metadata");
  const podSpec = writableMap(template, "spec", "spec.template.spec");
  const selector = readMap(spec, "selector", "spec.selector");
  const pinned = selector ? readStringMap(selector, "matchLabels", "spec.selector.matchLabels") : undefined;
  const expressions = selector ? readList(selector, "matchExpressions", "spec.selector.matchExpressions") : [];

  const labels = writableStringMap(metadata, "labels", "metadata.labels");
  const templateLabels = writableStringMap(templateMetadata, "labels", "spec.template.metadata.labels");
  const containers = readList(podSpec, "containers", "spec.template.spec.containers");
  const first = containers[0];
  const firstImage = isObject(first) && typeof first.image === "string" ? first.image : undefined;
  const name = [metadata.name, metadata.generateName].find((n): n is string => typeof n === "string");

  const chosen: Record<InjectedLabel, ReturnType<typeof chooseApp>> = {
    app: chooseApp(annotations, [labels, templateLabels], name),
    version: chooseVersion(annotations, firstImage),
  };
  const owned = parseMarker(
    annotations[annotationName("injected")] ??
      // `kubectl replace` or a GitOps re-apply drops the marker from the new object; the old one still has it.
      annotationsOf(oldObject)?.[annotationName("injected")],
  );
  const nowOwned: Partial<Record<InjectedLabel, string>> = {};

  for (const key of INJECTED_LABELS) {
    const { value, warnings: notes } = chosen[key];
    warnings.push(...notes);
    if (value === undefined) continue;
    // A label is greenlight's where it holds the value greenlight wrote (or would write); the marker remembers it.
    const outcomes: LabelOutcome[] = [];
    const pinnedValue = pinned?.[key];
    const pinnedByExpression = expressions.some((e) => isObject(e) && e.key === key);
    if ((pinnedValue !== undefined && pinnedValue !== value) || (pinnedValue === undefined && pinnedByExpression)) {
      // Changing a selector-bound template label would make the API server reject the Deployment.
      warnings.push(
        `spec.selector pins ${key}${pinnedValue ? `=${pinnedValue}` : ""}; template ${key} label left as is`,
      );
    } else {
      const outcome = setOwnedLabel(templateLabels, key, value, owned[key]);
      if (outcome === "foreign")
        warnings.push(`template label ${key}=${templateLabels[key]} kept; greenlight would set ${value}`);
      outcomes.push(outcome);
    }
    const outcome = setOwnedLabel(labels, key, value, owned[key]);
    if (outcome === "foreign") warnings.push(`label ${key}=${labels[key]} kept; greenlight would set ${value}`);
    outcomes.push(outcome);
    if (outcomes.some((o) => o !== "foreign")) nowOwned[key] = value;
  }

  const probes = readProbeSettings(annotations);
  warnings.push(...probes.warnings, ...injectProbes(podSpec, probes));

  const writableAnnotations = writableStringMap(metadata, "annotations", "metadata.annotations");
  writableAnnotations[annotationName("injected")] = formatMarker(nowOwned) || "none";
  return { object, injected: true, warnings };
}
