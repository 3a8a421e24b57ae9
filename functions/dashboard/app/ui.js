// Small shared pieces of the dashboard: messages, who a flag reaches, dates, and the error list of a failed write.
import { html } from "../vendor/preact-htm.js";

/** Who gets the flag, as evaluation serves it: nobody when disabled, everyone when enabled, else its percentage. */
export function reach(flag) {
  if (flag.state === "disabled") return "0%";
  if (flag.state === "enabled") return "100%";
  return `${flag.percentage ?? 100}%`;
}

export const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-");

export const text = (value) => (value === undefined || value === null || value === "" ? "-" : String(value));

/** A message in a live region: status (polite) or alert (errors). */
export function Message({ message }) {
  if (!message) return null;
  const alert = message.kind === "error";
  return html`<div class=${`message ${message.kind}`} role=${alert ? "alert" : "status"}>${message.text}</div>`;
}

/** The server's error line of a failed call. */
export const errorText = (result) =>
  result.data?.error ?? (result.status === 0 ? "the server did not answer" : `HTTP ${result.status}`);

/** Problems (JSON Pointer paths) by the first segment of their path: `/percentage` → "percentage", `` → "". */
export function problemsByField(problems) {
  const byField = {};
  for (const problem of problems ?? []) {
    const field = problem.path.split("/")[1] ?? "";
    byField[field] ??= [];
    byField[field].push(problem);
  }
  return byField;
}

/** The problems of one field, linked to its input by id (aria-describedby). */
export function FieldProblems({ id, problems }) {
  if (!problems || problems.length === 0) return null;
  return html`<ul class="problems" id=${id}>
    ${problems.map((problem) => html`<li>${problem.path ? html`<code>${problem.path}</code>: ` : ""}${problem.message}</li>`)}
  </ul>`;
}
