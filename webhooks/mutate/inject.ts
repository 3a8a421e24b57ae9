// The mutation itself: decides whether a Deployment opted in, then injects labels, probes and the marker.
import { type Annotations, annotationName, readOrWarn } from "../../functions/contract/annotations.ts";
import { annotationsOf } from "../../functions/contract/objects.ts";
import { chooseApp, chooseVersion } from "../../functions/contract/workload.ts";
import { applyDraft, type DraftMap, draftOf, openMap, setValue } from "./draft.ts";
import {
  formatMarker,
  INJECTED_LABELS,
  type InjectedLabel,
  type LabelOutcome,
  ownedLabelOutcome,
  parseMarker,
} from "./labels.ts";
import { injectProbes, readProbeSettings } from "./probes.ts";
import { isObject, type JsonObject, readList, readMap, readStringMap, ShapeError } from "./shape.ts";

/** How the Deployment reached us: its own annotation opts it in, or its namespace's label opts in all. */
export type OptInScope = "annotation" | "namespace";

export type OptIn = { inject: true; warnings: string[] } | { inject: false; warnings: string[] };

export function decideOptIn(annotations: Annotations, scope: OptInScope): OptIn {
  // An invalid value (a typo like "yes") counts as absent: a labelled namespace injects, any other does not.
  const warnings: string[] = [];
  const value = readOrWarn(annotations, "inject", warnings);
  return { inject: scope === "namespace" ? value !== false : value === true, warnings };
}

export interface DeploymentPlan {
  /** The edits: maps and lists opened and values set, the input itself untouched (draft.ts). */
  draft: DraftMap;
  injected: boolean;
  warnings: string[];
}

export interface Injection {
  /** The mutated object: changed paths are copies, the rest is shared with the input, which is never changed. */
  object: JsonObject;
  injected: boolean;
  warnings: string[];
}

/** The map at `key`, opened for edits; a value there that is not a map is a ShapeError naming `field`. */
const open = (parent: DraftMap, key: string, field: string): DraftMap =>
  openMap(parent, key, readMap(parent.before, key, field));

/** The same for a map of strings (labels, annotations): a value that is not a string is a ShapeError. */
function openStrings(
  parent: DraftMap,
  key: string,
  field: string,
): { draft: DraftMap; values: Record<string, string> } {
  const values = readStringMap(parent.before, key, field);
  return { draft: openMap(parent, key, values), values: values ?? {} };
}

/**
 * Decides what injecting a Deployment changes, without changing it. Throws ShapeError when the object is not shaped
 * like a Deployment where it matters.
 */
export function planDeployment(input: unknown, scope: OptInScope, oldObject?: unknown): DeploymentPlan {
  if (!isObject(input)) throw new ShapeError("object", "an object");
  const root = draftOf(input);
  const metadata = open(root, "metadata", "metadata");
  const present = readStringMap(metadata.before, "annotations", "metadata.annotations");
  const annotations = present ?? {};
  const optIn = decideOptIn(annotations, scope);
  if (!optIn.inject) return { draft: draftOf(input), injected: false, warnings: optIn.warnings };

  const warnings = [...optIn.warnings];
  const spec = open(root, "spec", "spec");
  const template = open(spec, "template", "spec.template");
  const templateMetadata = open(template, "metadata", "spec.template.metadata");
  const podSpec = open(template, "spec", "spec.template.spec");
  const selector = readMap(spec.before, "selector", "spec.selector");
  const pinned = selector ? readStringMap(selector, "matchLabels", "spec.selector.matchLabels") : undefined;
  const expressions = selector ? readList(selector, "matchExpressions", "spec.selector.matchExpressions") : [];

  const labels = openStrings(metadata, "labels", "metadata.labels");
  const templateLabels = openStrings(templateMetadata, "labels", "spec.template.metadata.labels");
  const containers = readList(podSpec.before, "containers", "spec.template.spec.containers");
  const first = containers[0];
  const firstImage = isObject(first) && typeof first.image === "string" ? first.image : undefined;
  const name = [metadata.before.name, metadata.before.generateName].find((n): n is string => typeof n === "string");

  const chosen: Record<InjectedLabel, ReturnType<typeof chooseApp>> = {
    app: chooseApp(annotations, [labels.values, templateLabels.values], name),
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
      const outcome = ownedLabelOutcome(templateLabels.values[key], value, owned[key]);
      if (outcome === "set") setValue(templateLabels.draft, key, value);
      if (outcome === "foreign")
        warnings.push(`template label ${key}=${templateLabels.values[key]} kept; greenlight would set ${value}`);
      outcomes.push(outcome);
    }
    const outcome = ownedLabelOutcome(labels.values[key], value, owned[key]);
    if (outcome === "set") setValue(labels.draft, key, value);
    if (outcome === "foreign") warnings.push(`label ${key}=${labels.values[key]} kept; greenlight would set ${value}`);
    outcomes.push(outcome);
    if (outcomes.some((o) => o !== "foreign")) nowOwned[key] = value;
  }

  const probes = readProbeSettings(annotations);
  warnings.push(...probes.warnings, ...injectProbes(podSpec, probes));

  // Checked above already: opened as read.
  setValue(openMap(metadata, "annotations", present), annotationName("injected"), formatMarker(nowOwned) || "none");
  return { draft: root, injected: true, warnings };
}

/** The injected Deployment itself (for `greenlight inject -f`). Throws ShapeError like planDeployment. */
export function injectDeployment(input: unknown, scope: OptInScope, oldObject?: unknown): Injection {
  const plan = planDeployment(input, scope, oldObject);
  return {
    object: plan.injected ? applyDraft(plan.draft) : (input as JsonObject),
    injected: plan.injected,
    warnings: plan.warnings,
  };
}
