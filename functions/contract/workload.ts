// Which app and version a Deployment is: the webhook writes them as labels, the stepper reads them back the same way.
import { type Annotations, readOrWarn } from "./annotations.ts";
import { versionFromImage } from "./image.ts";
import { isLabelValue, sanitizeLabelValue } from "./syntax.ts";

export interface Chosen {
  value?: string;
  warnings: string[];
}

/** app: the annotation, then label app.kubernetes.io/name, then label app, then the Deployment name. */
export function chooseApp(
  annotations: Annotations,
  labelSources: readonly (Readonly<Record<string, string>> | undefined)[],
  name: string | undefined,
): Chosen {
  const warnings: string[] = [];
  const fromAnnotation = readOrWarn(annotations, "app", warnings);
  if (fromAnnotation !== undefined) return { value: fromAnnotation, warnings };
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
  const fromAnnotation = readOrWarn(annotations, "version", warnings);
  if (fromAnnotation !== undefined) return { value: fromAnnotation, warnings };
  if (firstImage === undefined) {
    warnings.push("no version label: the first container has no image");
    return { warnings };
  }
  const derived = versionFromImage(firstImage);
  if (derived.note) warnings.push(derived.note);
  return { value: derived.version, warnings };
}
