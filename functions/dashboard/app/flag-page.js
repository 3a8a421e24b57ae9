// One flag: its definition, quick toggle and percentage, the editor, a live evaluation preview and its audit log.
// Every write carries If-Match with the revision on show; a 412 shows the newer version instead of overwriting it.
import { html, useEffect, useState } from "../vendor/preact-htm.js";
import { call, evaluate, flagPath, revisionTag } from "./api.js";
import { AuditTable } from "./audit.js";
import { FlagForm } from "./flag-form.js";
import { RolloutPanel } from "./flag-rollout.js";
import { errorText, Message, reach, when } from "./ui.js";

function Conflict({ newer, onUse }) {
  return html`<div class="conflict" role="alert">
    <p><strong>Changed meanwhile:</strong> nothing was saved, because the flag was changed after this page showed
      revision ${newer.shown}.
      ${newer.stored ? ` It is now at revision ${newer.stored.revision}, written by ${newer.stored.updatedBy} at ${when(newer.stored.updatedAt)}.` : " It has been deleted."}</p>
    ${newer.stored ? html`<pre class="definition" aria-label="the newer version">${JSON.stringify(newer.stored.flag, null, 2)}</pre>` : null}
    <button type="button" onClick=${onUse}>${newer.stored ? "Show the newer version" : "Back to the flags"}</button>
  </div>`;
}

function Preview({ flagKey, revision }) {
  const [targetingKey, setTargetingKey] = useState("user-1");
  const [attributes, setAttributes] = useState("{}");
  const [result, setResult] = useState(undefined);
  const [problem, setProblem] = useState(undefined);
  const run = async (event) => {
    event?.preventDefault();
    let context;
    try {
      context = JSON.parse(attributes || "{}");
      if (typeof context !== "object" || context === null || Array.isArray(context)) throw new Error("not an object");
    } catch (error) {
      setProblem(`Attributes must be a JSON object (${error.message})`);
      return;
    }
    setProblem(undefined);
    const answer = await evaluate(flagKey, { ...context, targetingKey });
    setResult(answer.ok ? answer.data : { error: answer.data?.errorDetails ?? errorText(answer) });
  };
  // Evaluated again whenever the flag changes, so the preview follows every write.
  useEffect(() => {
    run();
  }, [revision]);
  return html`<section aria-labelledby="preview-title">
    <h3 id="preview-title">Evaluation preview</h3>
    <form class="preview" onSubmit=${run}>
      <div class="field">
        <label for="preview-key">Targeting key</label>
        <input id="preview-key" value=${targetingKey} onInput=${(e) => setTargetingKey(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="preview-attributes">Attributes (JSON object)</label>
        <textarea id="preview-attributes" rows="3" value=${attributes}
          aria-describedby=${problem ? "preview-problem" : undefined}
          onInput=${(e) => setAttributes(e.currentTarget.value)}></textarea>
        ${problem ? html`<div class="problems" id="preview-problem">${problem}</div>` : null}
      </div>
      <button type="submit">Evaluate</button>
    </form>
    <div aria-live="polite" id="preview-result">
      ${
        result === undefined
          ? null
          : result.error
            ? html`<p class="message error">${result.error}</p>`
            : html`<dl class="result">
                <dt>value</dt><dd><code id="preview-value">${JSON.stringify(result.value)}</code></dd>
                <dt>variant</dt><dd>${result.variant ?? "-"}</dd>
                <dt>reason</dt><dd id="preview-reason">${result.reason}</dd>
              </dl>`
      }
    </div>
  </section>`;
}

export function FlagPage({ flagKey, readOnly }) {
  const [stored, setStored] = useState(undefined);
  const [message, setMessage] = useState(undefined);
  const [conflict, setConflict] = useState(undefined);
  const [percentage, setPercentage] = useState("");
  const [auditTick, setAuditTick] = useState(0);

  const load = async () => {
    const result = await call("GET", flagPath(flagKey));
    if (!result.ok) {
      setStored(null);
      setMessage({ kind: "error", text: `Flag ${flagKey} could not be read: ${errorText(result)}` });
      return;
    }
    setStored(result.data);
    setPercentage(String(result.data.flag.percentage ?? 100));
    setConflict(undefined);
  };
  useEffect(() => {
    load();
  }, [flagKey]);

  /** PUT the whole definition, conditional on the revision on show. */
  const write = async (flag, what) => {
    const result = await call("PUT", flagPath(flagKey), { body: flag, ifMatch: revisionTag(stored.revision) });
    if (result.status === 412) {
      await conflicted();
      return { ...result, handled: true };
    }
    if (result.ok) written(result.data.flag, what);
    else if (!result.data?.problems) {
      setMessage({ kind: "error", text: `${what} failed: ${errorText(result)}` });
    }
    return result;
  };

  /** A 412: the flag changed after the page showed it; fetch and show the newer version. */
  const conflicted = async () => {
    const now = await call("GET", flagPath(flagKey));
    setConflict({ shown: stored.revision, stored: now.ok ? now.data : undefined });
    setMessage(undefined);
  };

  /** A write made elsewhere on the page (a rollout control) that answered with the stored flag. */
  const written = (next, what) => {
    setStored(next);
    setPercentage(String(next.flag.percentage ?? 100));
    setConflict(undefined);
    setMessage({ kind: "ok", text: `${what}: now at revision ${next.revision}.` });
    setAuditTick((tick) => tick + 1);
  };

  const remove = async () => {
    if (!confirm(`Delete flag ${flagKey}? Clients then get their default value.`)) return;
    const result = await call("DELETE", flagPath(flagKey), { ifMatch: revisionTag(stored.revision) });
    if (result.status === 412) {
      await conflicted();
      return;
    }
    if (!result.ok) {
      setMessage({ kind: "error", text: `Delete failed: ${errorText(result)}` });
      return;
    }
    location.hash = "#/flags";
  };

  const useNewer = () => {
    if (conflict?.stored) load();
    else location.hash = "#/flags";
  };

  // The heading is there from the start (same element once loaded), so the focus the app gives it stays.
  if (stored === undefined) {
    return html`<section aria-labelledby="flag-title">
      <h2 id="flag-title" tabindex="-1">${flagKey}</h2>
      <p>Loading…</p>
    </section>`;
  }
  if (stored === null)
    return html`<section><h2 tabindex="-1">${flagKey}</h2><${Message} message=${message} /></section>`;
  const { flag } = stored;
  const on = flag.state !== "disabled";

  return html`<section aria-labelledby="flag-title">
    <h2 id="flag-title" tabindex="-1">${flag.key}</h2>
    <p class="muted">${flag.description ?? ""}</p>
    <p>State <strong id="flag-state">${flag.state}</strong>, reaching <strong id="flag-reach">${reach(flag)}</strong>;
      revision <strong id="flag-revision">${stored.revision}</strong>, written by ${stored.updatedBy} at ${when(stored.updatedAt)}.</p>
    <${Message} message=${message} />
    ${conflict ? html`<${Conflict} newer=${conflict} onUse=${useNewer} />` : null}
    ${
      readOnly
        ? null
        : html`<div class="actions">
          <button type="button" onClick=${() => write({ ...flag, state: on ? "disabled" : "enabled" }, on ? "Turned off" : "Turned on")}>
            ${on ? "Turn off" : "Turn on"}
          </button>
          <form class="inline" onSubmit=${(event) => {
            event.preventDefault();
            const value = Number(percentage);
            write(
              { ...flag, percentage: Number.isFinite(value) && percentage.trim() !== "" ? value : percentage },
              "Percentage changed",
            );
          }}>
            <label for="quick-percentage">Set the percentage to</label>
            <input id="quick-percentage" inputmode="numeric" size="4" value=${percentage}
              onInput=${(e) => setPercentage(e.currentTarget.value)} />
            <button type="submit">Set percentage</button>
          </form>
          <button type="button" class="danger" onClick=${remove}>Delete flag</button>
        </div>`
    }
    <${RolloutPanel} stored=${stored} readOnly=${readOnly} onWritten=${written} onConflict=${conflicted} />
    <div class="columns">
      <section aria-labelledby="definition-title">
        <h3 id="definition-title">Definition</h3>
        <pre class="definition" tabindex="0" aria-label="definition as JSON">${JSON.stringify(flag, null, 2)}</pre>
      </section>
      <${Preview} flagKey=${flag.key} revision=${stored.revision} />
    </div>
    ${
      readOnly
        ? null
        : html`<details class="editor">
          <summary>Edit the definition</summary>
          <${FlagForm} key=${stored.revision} initial=${flag} isNew=${false}
            onSave=${(definition) => write(definition, "Saved")} submitLabel="Save" />
        </details>`
    }
    <section aria-labelledby="flag-audit-title">
      <h3 id="flag-audit-title">Audit log of ${flag.key}</h3>
      <${AuditTable} flagKey=${flag.key} refresh=${auditTick} />
    </section>
  </section>`;
}
