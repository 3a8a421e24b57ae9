// A short fingerprint of a pod template: blue/green's guard against switching back and forth, and the canary's
// revision (a new one restarts its analysis). Changes with any edit of the template, nothing else.
import { createHash } from "node:crypto";

function canonical(value: unknown): string {
  if (Array.isArray(value))
    return `[${value.map((item) => (item === undefined ? "null" : canonical(item))).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${canonical(member)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A short fingerprint of a pod template: changes with any edit of it (image, env, labels, a restart annotation). */
export function templateFingerprint(template: unknown): string {
  const plain: unknown = template === undefined ? null : JSON.parse(JSON.stringify(template));
  return createHash("sha256").update(canonical(plain)).digest("hex").slice(0, 16);
}
