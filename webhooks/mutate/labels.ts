// Writes the app and version labels where greenlight may write them, and remembers which ones it owns.

export type InjectedLabel = "app" | "version";
export const INJECTED_LABELS: readonly InjectedLabel[] = ["app", "version"];

/** The marker `greenlight.dev/injected: app=myapp,version=v2` records the label values greenlight owns. */
export function parseMarker(marker: string | undefined): Partial<Record<InjectedLabel, string>> {
  const owned: Partial<Record<InjectedLabel, string>> = {};
  if (!marker) return owned;
  for (const pair of marker.split(",")) {
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
 * Whether greenlight sets a label: when absent, or when it still holds the value greenlight wrote last time (so a
 * new image tag moves the version label along). A value someone else wrote is left alone ("foreign").
 */
export function ownedLabelOutcome(
  current: string | undefined,
  value: string,
  previouslyOwned: string | undefined,
): LabelOutcome {
  if (current === value) return "kept";
  if (current === undefined || current === previouslyOwned) return "set";
  return "foreign";
}
