// Kubernetes name and label syntax checks and the sanitiser that turns an image tag into a label value.

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export const isLabelValue = (value: string): boolean => value.length <= 63 && LABEL_VALUE.test(value);

export const isDns1123Label = (value: string): boolean => value.length <= 63 && DNS1123_LABEL.test(value);

export const isDns1123Subdomain = (value: string): boolean => value.length <= 253 && DNS1123_SUBDOMAIN.test(value);

/** IANA_SVC_NAME, the syntax of a named container port: 1-15 chars, a letter somewhere, no "--". */
export const isPortName = (value: string): boolean =>
  value.length <= 15 && PORT_NAME.test(value) && /[a-z]/.test(value) && !value.includes("--");

/**
 * Turns arbitrary text into a label value: characters outside [-A-Za-z0-9_.] become "-", the result is cut to
 * 63 characters and trimmed until it starts and ends with an alphanumeric. Returns "" when nothing is left.
 */
export function sanitizeLabelValue(text: string): string {
  // A label value already (an image tag, most often) is left as it is: one test instead of three replaces.
  if (isLabelValue(text)) return text;
  let value = text.replace(/[^-A-Za-z0-9_.]/g, "-").slice(0, 63);
  value = value.replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
  return value;
}
