// The flag list: search by key or description, filters by state, owner and staleness.
import { html, useEffect, useState } from "../vendor/preact-htm.js";
import { call } from "./api.js";
import { errorText, Message, reach, text, when } from "./ui.js";

export function FlagList({ readOnly }) {
  const [flags, setFlags] = useState(undefined);
  const [stale, setStale] = useState(new Map());
  const [message, setMessage] = useState(undefined);
  const [search, setSearch] = useState("");
  const [state, setState] = useState("");
  const [owner, setOwner] = useState("");
  const [staleOnly, setStaleOnly] = useState(false);

  useEffect(() => {
    (async () => {
      const [list, report] = await Promise.all([call("GET", "admin/flags"), call("GET", "admin/stale")]);
      if (!list.ok) {
        setMessage({ kind: "error", text: `Flags could not be read: ${errorText(list)}` });
        return;
      }
      setFlags(list.data.flags);
      if (report.ok) setStale(new Map(report.data.flags.map((item) => [item.key, item.reasons])));
    })();
  }, []);

  const owners = [...new Set((flags ?? []).map((stored) => stored.flag.owner).filter(Boolean))].sort();
  const needle = search.trim().toLowerCase();
  const shown = (flags ?? []).filter(({ flag }) => {
    if (needle && !`${flag.key} ${flag.description ?? ""}`.toLowerCase().includes(needle)) return false;
    if (state && flag.state !== state) return false;
    if (owner && (flag.owner ?? "") !== owner) return false;
    if (staleOnly && !stale.has(flag.key)) return false;
    return true;
  });

  return html`<section aria-labelledby="flags-title">
    <h2 id="flags-title" tabindex="-1">Flags</h2>
    ${readOnly ? null : html`<p><a class="button" href="#/new">New flag</a></p>`}
    <form class="filters" role="search" onSubmit=${(event) => event.preventDefault()}>
      <div>
        <label for="search">Search</label>
        <input id="search" type="search" value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} />
      </div>
      <div>
        <label for="filter-state">State</label>
        <select id="filter-state" value=${state} onChange=${(e) => setState(e.currentTarget.value)}>
          <option value="">any</option>
          <option value="enabled">enabled</option>
          <option value="partial">partial</option>
          <option value="disabled">disabled</option>
        </select>
      </div>
      <div>
        <label for="filter-owner">Owner</label>
        <select id="filter-owner" value=${owner} onChange=${(e) => setOwner(e.currentTarget.value)}>
          <option value="">any</option>
          ${owners.map((name) => html`<option value=${name}>${name}</option>`)}
        </select>
      </div>
      <div class="check">
        <input id="filter-stale" type="checkbox" checked=${staleOnly} onChange=${(e) => setStaleOnly(e.currentTarget.checked)} />
        <label for="filter-stale">Stale only</label>
      </div>
    </form>
    <${Message} message=${message} />
    ${
      flags === undefined
        ? html`<p>Loading…</p>`
        : html`<table>
          <caption>${shown.length} of ${flags.length} flags</caption>
          <thead><tr><th scope="col">key</th><th scope="col">state</th><th scope="col">who gets it</th>
            <th scope="col">owner</th><th scope="col">stale</th><th scope="col">revision</th><th scope="col">updated</th></tr></thead>
          <tbody>
            ${shown.map(
              ({ flag, revision, updatedAt }) => html`<tr>
                <td><a href=${`#/flags/${encodeURIComponent(flag.key)}`}>${flag.key}</a>
                  ${flag.description ? html`<div class="muted">${flag.description}</div>` : null}</td>
                <td>${flag.state}</td><td>${reach(flag)}</td><td>${text(flag.owner)}</td>
                <td>${stale.has(flag.key) ? stale.get(flag.key).join(", ") : "-"}</td>
                <td>${revision}</td><td>${when(updatedAt)}</td>
              </tr>`,
            )}
          </tbody>
        </table>`
    }
  </section>`;
}
