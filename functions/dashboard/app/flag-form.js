// The flag editor: the common fields as inputs, every other field as JSON, and the server's problems (JSON Pointer
// paths) shown at the field they name. Creating sends If-None-Match: * so an existing flag is never overwritten.
import { html, useState } from "../vendor/preact-htm.js";
import { call, flagPath } from "./api.js";
import { errorText, FieldProblems, Message, problemsByField } from "./ui.js";

const FORM_FIELDS = ["key", "description", "state", "percentage", "owner", "expires", "segments"];

/** The form's values for a flag definition. */
export function formValues(flag) {
  const rest = {};
  for (const [name, value] of Object.entries(flag)) if (!FORM_FIELDS.includes(name)) rest[name] = value;
  return {
    key: flag.key ?? "",
    description: flag.description ?? "",
    state: flag.state ?? "disabled",
    percentage: flag.percentage === undefined ? "" : String(flag.percentage),
    owner: flag.owner ?? "",
    expires: flag.expires ?? "",
    segments: (flag.segments ?? []).join(", "),
    other: Object.keys(rest).length > 0 ? JSON.stringify(rest, null, 2) : "",
  };
}

/** The definition the form's values stand for; `other` that is not a JSON object is a problem at `other`. */
export function definitionOf(values) {
  let rest = {};
  if (values.other.trim() !== "") {
    try {
      rest = JSON.parse(values.other);
    } catch (error) {
      return { ok: false, problems: [{ path: "/other", message: `not JSON: ${error.message}` }] };
    }
    if (typeof rest !== "object" || rest === null || Array.isArray(rest)) {
      return { ok: false, problems: [{ path: "/other", message: "must be a JSON object of further fields" }] };
    }
  }
  const flag = { ...rest, key: values.key.trim(), state: values.state };
  if (values.description.trim()) flag.description = values.description.trim();
  // A number the server then judges; text that is no number is sent as it is, for the server to name.
  if (values.percentage.trim() !== "") {
    const number = Number(values.percentage);
    flag.percentage = Number.isFinite(number) ? number : values.percentage;
  }
  if (values.owner.trim()) flag.owner = values.owner.trim();
  if (values.expires.trim()) flag.expires = values.expires.trim();
  const segments = values.segments
    .split(",")
    .map((segment) => segment.trim())
    .filter(Boolean);
  if (segments.length > 0) flag.segments = segments;
  return { ok: true, flag };
}

function Field({ name, label, problems, hint, children }) {
  const id = `field-${name}`;
  const own = problems[name];
  return html`<div class=${own ? "field invalid" : "field"}>
    <label for=${id}>${label}</label>
    ${children(id, own ? `${id}-problems` : hint ? `${id}-hint` : undefined, own !== undefined)}
    ${hint ? html`<div class="hint" id=${`${id}-hint`}>${hint}</div>` : null}
    <${FieldProblems} id=${`${id}-problems`} problems=${own} />
  </div>`;
}

/**
 * The editor. `onSave(definition)` returns the call's result; a 400 with problems is shown at the fields, anything
 * else is the caller's to show (it returns { handled: true } for those).
 */
export function FlagForm({ initial, isNew, onSave, submitLabel }) {
  const [values, setValues] = useState(() => formValues(initial));
  const [problems, setProblems] = useState({});
  const [message, setMessage] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const set = (name) => (event) => setValues({ ...values, [name]: event.currentTarget.value });

  const submit = async (event) => {
    event.preventDefault();
    const definition = definitionOf(values);
    if (!definition.ok) {
      setProblems(problemsByField(definition.problems));
      setMessage({ kind: "error", text: "The flag was not saved: see the marked fields." });
      return;
    }
    setBusy(true);
    const result = await onSave(definition.flag);
    setBusy(false);
    if (result.ok || result.handled) {
      setProblems({});
      setMessage(undefined);
      return;
    }
    const byField = problemsByField(result.data?.problems);
    // Problems under fields the form has no input for belong to the JSON of the other fields.
    const shown = {};
    for (const [field, list] of Object.entries(byField)) {
      const target = FORM_FIELDS.includes(field) ? field : field === "" ? "" : "other";
      shown[target] = [...(shown[target] ?? []), ...list];
    }
    setProblems(shown);
    setMessage({ kind: "error", text: `The flag was not saved: ${errorText(result).split("\n")[0]}` });
  };

  const input =
    (name, type = "text", extra = {}) =>
    (id, describedBy, invalid) =>
      html`<input id=${id} name=${name} type=${type} value=${values[name]} onInput=${set(name)}
      aria-describedby=${describedBy} aria-invalid=${invalid ? "true" : undefined} ...${extra} />`;

  return html`<form class="flag-form" onSubmit=${submit} novalidate>
    ${
      isNew
        ? html`<${Field} name="key" label="Key" problems=${problems} hint="letters, digits, _ . - (as flags are named in code)">
            ${input("key", "text", { required: true, autocomplete: "off" })}
          <//>`
        : null
    }
    <${Field} name="description" label="Description" problems=${problems}>${input("description")}<//>
    <${Field} name="state" label="State" problems=${problems}>
      ${(id, describedBy, invalid) => html`<select id=${id} name="state" value=${values.state} onChange=${set("state")}
        aria-describedby=${describedBy} aria-invalid=${invalid ? "true" : undefined}>
        <option value="disabled">disabled: nobody</option>
        <option value="partial">partial: a percentage, after targeting</option>
        <option value="enabled">enabled: everyone who matches</option>
      </select>`}
    <//>
    <${Field} name="percentage" label="Percentage" problems=${problems} hint="0 to 100, for partial flags">
      ${input("percentage", "text", { inputmode: "numeric" })}
    <//>
    <${Field} name="owner" label="Owner" problems=${problems}>${input("owner")}<//>
    <${Field} name="expires" label="Expires" problems=${problems} hint="a date, e.g. 2027-06-30">${input("expires")}<//>
    <${Field} name="segments" label="Segments" problems=${problems} hint="comma-separated">${input("segments")}<//>
    <${Field} name="other" label="Other fields (JSON)" problems=${problems}
      hint="conditions, variants, defaultVariant, salt, startTime, endTime">
      ${(id, describedBy, invalid) => html`<textarea id=${id} name="other" rows="6" value=${values.other}
        onInput=${set("other")} aria-describedby=${describedBy} aria-invalid=${invalid ? "true" : undefined}></textarea>`}
    <//>
    <${FieldProblems} id="field--problems" problems=${problems[""]} />
    <button type="submit" disabled=${busy}>${submitLabel}</button>
    <${Message} message=${message} />
  </form>`;
}

export function NewFlag() {
  const [created, setCreated] = useState(undefined);
  const save = async (flag) => {
    const result = await call("PUT", flagPath(flag.key || "-"), { body: flag, ifNoneMatch: "*" });
    if (result.ok) {
      setCreated(flag.key);
      location.hash = `#/flags/${encodeURIComponent(flag.key)}`;
    }
    return result;
  };
  return html`<section aria-labelledby="new-title">
    <h2 id="new-title" tabindex="-1">New flag</h2>
    ${created ? html`<p role="status">Created ${created}.</p>` : null}
    <${FlagForm} initial=${{ state: "disabled" }} isNew=${true} onSave=${save} submitLabel="Create flag" />
  </section>`;
}
