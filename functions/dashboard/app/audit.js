// The audit log (per flag or overall) and the stale-flag report.
import { html, useEffect, useState } from "../vendor/preact-htm.js";
import { call } from "./api.js";
import { errorText, Message, text, when } from "./ui.js";

/** What a write changed, in a few words: the fields whose values differ. */
function change(entry) {
  if (entry.action === "delete") return "deleted";
  if (!entry.before) return "created";
  const names = new Set([...Object.keys(entry.before), ...Object.keys(entry.after ?? {})]);
  const changed = [...names].filter(
    (name) => JSON.stringify(entry.before[name]) !== JSON.stringify(entry.after?.[name]),
  );
  if (changed.length === 0) return "rewritten unchanged";
  return changed
    .map((name) =>
      ["state", "percentage", "owner", "expires"].includes(name)
        ? `${name} ${text(entry.before[name])} → ${text(entry.after?.[name])}`
        : name,
    )
    .join(", ");
}

export function AuditTable({ flagKey, refresh }) {
  const [entries, setEntries] = useState(undefined);
  const [message, setMessage] = useState(undefined);
  useEffect(() => {
    (async () => {
      const result = await call("GET", "admin/audit?limit=1000");
      if (!result.ok) {
        setMessage({ kind: "error", text: `The audit log could not be read: ${errorText(result)}` });
        return;
      }
      setEntries(result.data.entries.filter((entry) => flagKey === undefined || entry.key === flagKey));
    })();
  }, [flagKey, refresh]);
  if (message) return html`<${Message} message=${message} />`;
  if (entries === undefined) return html`<p>Loading…</p>`;
  if (entries.length === 0) return html`<p>No writes recorded.</p>`;
  return html`<table class="audit">
    <thead><tr><th scope="col">when</th>${flagKey ? null : html`<th scope="col">flag</th>`}<th scope="col">action</th>
      <th scope="col">what changed</th><th scope="col">who</th><th scope="col">token</th><th scope="col">version</th></tr></thead>
    <tbody>
      ${entries.map(
        (entry) => html`<tr>
          <td>${when(entry.at)}</td>
          ${flagKey ? null : html`<td><a href=${`#/flags/${encodeURIComponent(entry.key)}`}>${entry.key}</a></td>`}
          <td>${entry.action}</td><td>${change(entry)}</td><td>${entry.actor}</td><td>${text(entry.token)}</td>
          <td>${entry.version}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

export function AuditView() {
  return html`<section aria-labelledby="audit-title">
    <h2 id="audit-title" tabindex="-1">Audit log</h2>
    <p>Every write to every flag, newest first.</p>
    <${AuditTable} />
  </section>`;
}

export function StaleView() {
  const [report, setReport] = useState(undefined);
  const [message, setMessage] = useState(undefined);
  useEffect(() => {
    (async () => {
      const result = await call("GET", "admin/stale");
      if (result.ok) setReport(result.data);
      else setMessage({ kind: "error", text: `The stale report could not be read: ${errorText(result)}` });
    })();
  }, []);
  return html`<section aria-labelledby="stale-title">
    <h2 id="stale-title" tabindex="-1">Stale flags</h2>
    <p>Flags past their expiry date, unchanged for 90 days, or (where the store counts evaluations) unused.</p>
    <${Message} message=${message} />
    ${
      report === undefined
        ? null
        : report.flags.length === 0
          ? html`<p>No stale flags.</p>`
          : html`<table>
            <thead><tr><th scope="col">flag</th><th scope="col">why</th><th scope="col">owner</th>
              <th scope="col">expires</th><th scope="col">last written</th><th scope="col">last evaluated</th></tr></thead>
            <tbody>${report.flags.map(
              (flag) => html`<tr>
                <td><a href=${`#/flags/${encodeURIComponent(flag.key)}`}>${flag.key}</a></td>
                <td>${flag.reasons.join(", ")}</td><td>${text(flag.owner)}</td><td>${text(flag.expires)}</td>
                <td>${when(flag.updatedAt)}</td><td>${flag.lastEvaluated === undefined ? "not counted" : text(flag.lastEvaluated)}</td>
              </tr>`,
            )}</tbody>
          </table>`
    }
  </section>`;
}
