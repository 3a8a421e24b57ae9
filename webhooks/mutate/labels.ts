// Chooses the app and version labels for a Deployment and writes them where greenlight may write them.
import { type Annotations, annotationName, readAnnotation } from "../../functions/contract/annotations.ts";
import { versionFromImage } from "../../functions/contract/image.ts";
import { isLabelValue, sanitizeLabelValue } from "../../functions/contract/syntax.ts";

export type InjectedLabel = "app" | "version";
export const INJECTED_LABELS: readonly InjectedLabel[] = ["app", "version"];

export interface Chosen {
  value?: string;
  warnings: string[];
}

const invalid = (key: string, problem: string) => `${annotationName(key)} ignored: ${problem}`;

/** app: the annotation, then label app.kubernetes.io/name, then label app, then the Deployment name. */
export function chooseApp(
  annotations: Annotations,
  labelSources: readonly (Readonly<Record<string, string>> | undefined)[],
  name: string | undefined,
): Chosen {
  const warnings: string[] = [];
  const fromAnnotation = readAnnotation(annotations, "app");
  if (fromAnnotation.present) {
    if (fromAnnotation.ok) return { value: fromAnnotation.value, warnings };
    warnings.push(invalid("app", fromAnnotation.problem));
  }
  for (const labelKey of ["app.kubernetes.io/name", "app"]) {
    for (const labels of labelSources) {
      const value = labels?.[labelKey];
      if (value && isLabelValue(value)) return { value, warnings };
    }
  }
  const fromName = sanitizeLabelValue(name ?? "");
  if (fromName) return { value: fromName, warnings };
  warnings.push("no app label: the Deployment has no name, app label or greenlight.dev/app annotation");
  return { warnings };
}

/** version: the annotation, then the first container's image tag (digest -> sha-<12 hex>, no tag -> latest). */
export function chooseVersion(annotations: Annotations, firstImage: string | undefined): Chosen {
  const warnings: string[] = [];
  const fromAnnotation = readAnnotation(annotations, "version");
  if (fromAnnotation.present) {
    if (fromAnnotation.ok) return { value: fromAnnotation.value, warnings };
    warnings.push(invalid("version", fromAnnotation.problem));
  }
  if (firstImage === undefined) {
    warnings.push("no version label: the first container has no image");
    return { warnings };
  }
  const derived = versionFromImage(firstImage);
  if (derived.note) warnings.push(derived.note);
  return { value: derived.version, warnings };
}

/** The marker `greenlight.dev/injected: app=myapp,version=v2` records the label values greenlight owns. */
export function parseMarker(marker: string | undefined): Partial<Record<InjectedLabel, string>> {
  const owned: Partial<Record<InjectedLabel, string>> = {};
  for (const pair of (marker ?? "").split(",")) {
    const [key, value] = pair.split("=");
    if ((key === "app" || key === "version") && value) owned[key] = value;
  }
  return owned;
}

export const formatMarker = (labels: Partial<Record<InjectedLabel, string>>): string =>
  INJECTED_LABELS.filter((key) => labels[key] !== undefined)
    .map((key) => `${key}=${labels[key]}`)
    .join(",");

export type LabelOutcome = "set" | "kept" | "foreign";

/**
 * Sets a label when absent, or when it still holds the value greenlight wrote last time (so a new image tag moves
 * the version label along). A value someone else wrote is left alone ("foreign").
 */
export function setOwnedLabel(
  labels: Record<string, string>,
  key: InjectedLabel,
  value: string,
  previouslyOwned: string | undefined,
): LabelOutcome {
  const current = labels[key];
  if (current === value) return "kept";
  if (current === undefined || current === previouslyOwned) {
    labels[key] = value;
    return "set";
  }
  return "foreign";
}
