// The dashboard's entry: settings from the page, sign-in, navigation by URL hash, and the view for each route.
import { html, render, useEffect, useRef, useState } from "../vendor/preact-htm.js";
import { setApiBase, setToken, tokenScope } from "./api.js";
import { AuditView, StaleView } from "./audit.js";
import { NewFlag } from "./flag-form.js";
import { FlagPage } from "./flag-page.js";
import { FlagList } from "./flags.js";
import { RolloutsView } from "./rollouts.js";
import { Message } from "./ui.js";

const root = document.getElementById("app");
const settings = {
  api: root.dataset.api ?? "/",
  rollouts: root.dataset.rollouts,
  status: root.dataset.status,
};
setApiBase(settings.api);

/** The route of a hash: ["flags"], ["flags", key], ["new"], ["audit"], ["stale"], ["rollouts"]. */
function route(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return ["flags"];
  return parts;
}

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function SignIn({ onSignedIn }) {
  const [value, setValue] = useState("");
  const [message, setMessage] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setToken(value.trim());
    const result = await tokenScope();
    setBusy(false);
    if (!result.ok) {
      setToken("");
      setMessage({ kind: "error", text: `Not signed in: ${result.message}` });
      return;
    }
    setValue("");
    onSignedIn(result.scope);
  };
  return html`<section class="signin" aria-labelledby="signin-title">
    <h2 id="signin-title">Sign in</h2>
    <p>Paste a flag admin token: one with scope <code>admin</code> may change flags, one with scope <code>read</code>
      only look. <code>npm start</code> prints one. It is kept in this tab's memory only: a reload signs you out.</p>
    <form onSubmit=${submit}>
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="off" required value=${value}
        onInput=${(event) => setValue(event.currentTarget.value)} />
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>
    <${Message} message=${message} />
  </section>`;
}

function Nav({ current, scope, onSignOut }) {
  const links = [
    ["flags", "Flags"],
    ["audit", "Audit log"],
    ["stale", "Stale flags"],
    ...(settings.rollouts ? [["rollouts", "Rollouts"]] : []),
  ];
  return html`<nav aria-label="Main">
    <ul>
      ${links.map(
        ([id, label]) =>
          html`<li><a href=${`#/${id}`} aria-current=${current === id ? "page" : undefined}>${label}</a></li>`,
      )}
    </ul>
    ${
      scope
        ? html`<span class="who">${scope === "admin" ? "signed in, may change flags" : "signed in read-only"}</span>
          <button type="button" class="link" onClick=${onSignOut}>Sign out</button>`
        : null
    }
    ${settings.status ? html`<a class="status-link" href=${settings.status}>status page</a>` : null}
  </nav>`;
}

function App() {
  const hash = useHash();
  const [scope, setScope] = useState(undefined);
  const [view, key] = route(hash);
  const main = useRef(null);
  // Focus moves to the new view's heading, so keyboard and screen-reader users land where the content changed.
  useEffect(() => {
    main.current?.querySelector("h2")?.focus();
  }, [hash, scope === undefined]);
  const signOut = () => {
    setToken("");
    setScope(undefined);
  };
  const readOnly = scope !== "admin";
  let content;
  if (view === "rollouts" && settings.rollouts)
    content = html`<${RolloutsView} url=${settings.rollouts} signedIn=${scope !== undefined} />`;
  else if (scope === undefined) content = html`<${SignIn} onSignedIn=${setScope} />`;
  else if (view === "flags" && key) content = html`<${FlagPage} key=${key} flagKey=${key} readOnly=${readOnly} />`;
  else if (view === "new" && !readOnly) content = html`<${NewFlag} />`;
  else if (view === "audit") content = html`<${AuditView} />`;
  else if (view === "stale") content = html`<${StaleView} />`;
  else content = html`<${FlagList} readOnly=${readOnly} />`;
  return html`<header>
      <h1>greenlight</h1>
      <${Nav} current=${view === "new" ? "flags" : view} scope=${scope} onSignOut=${signOut} />
    </header>
    <main ref=${main}>${content}</main>`;
}

root.textContent = "";
render(html`<${App} />`, root);
