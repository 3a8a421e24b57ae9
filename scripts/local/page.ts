// The local stack's status page (`/status`; the dashboard has `/`): endpoints, live flags and rollout statuses as plain
// HTML that works without JavaScript modules, kept fresh by an inline script allowed by its hash.
/*
 * Everything shown comes from LocalState (also served as JSON at /api/state). Flag descriptions, keys, segments,
 * canary, blue/green and rolling-update names and messages are user data: the server escapes them here, and the script
 * only ever sets textContent. The script and the stylesheet are inline and allowed by their hashes in PAGE_CSP, so
 * nothing else may run on the page.
 */
import { createHash } from "node:crypto";
import { escapeHtml } from "../../functions/http/html.ts";
import type { StepperView } from "./stepper-loop.ts";

export interface Endpoint {
  method: string;
  path: string;
  url: string;
  note: string;
}

export interface EndpointGroup {
  name: string;
  base: string;
  endpoints: Endpoint[];
}

export interface FlagRow {
  key: string;
  description?: string;
  state: string;
  /**
   * The flag's percentage as stored: the share of targeting keys that get a partial flag once targeting matched (100
   * when the flag sets none). Enabled and disabled flags do not read it: the page shows percentageText().
   */
  percentage: number;
  segments: string[];
  revision: number;
  updatedAt: string;
  updatedBy: string;
}

export interface LocalState {
  generatedAt: string;
  endpoints: EndpointGroup[];
  flags: { where: string; version?: number; items: FlagRow[]; error?: string };
  stepper: StepperView;
  tls: { caCertPath: string; fingerprint: string; bundlePath: string };
  /** The chart `npm run demo` writes, when it exists; `url` changes with the file so the page reloads it. */
  demo: { available: boolean; url?: string };
}

export const REFRESH_MS = 5_000;

export function weightsText(weights: { stable: number; canary: number } | undefined): string {
  return weights ? `${weights.stable} / ${weights.canary}` : "-";
}

/** Who gets the flag, as evaluation serves it: nobody when disabled, everyone when enabled, else its percentage. */
export function percentageText(flag: Pick<FlagRow, "state" | "percentage">): string {
  if (flag.state === "disabled") return "0%";
  if (flag.state === "enabled") return "100%";
  return `${flag.percentage}%`;
}

export function segmentsText(segments: readonly string[]): string {
  return segments.length > 0 ? segments.join(", ") : "-";
}

/** The stepper in one sentence, as the page shows it. */
export function stepperText(stepper: StepperView): string {
  if (stepper.status === "idle") return `stepper idle: ${stepper.message ?? "no cluster"}`;
  if (stepper.status === "starting") return "stepper starting: looking for a cluster";
  if (stepper.status === "stopped") return "stepper stopped";
  const where = `context ${stepper.context ?? "?"} at ${stepper.server ?? "?"}`;
  const dry = stepper.dryRun ? " (dry run: nothing is written)" : "";
  const last = stepper.lastPass
    ? `; last pass ${stepper.lastPass.finishedAt}${stepper.lastPass.error ? ` failed: ${stepper.lastPass.error}` : ""}`
    : "";
  return `stepper active every ${stepper.intervalSeconds}s against ${where}${dry}${last}`;
}

/** The empty-table line for one kind of rollout ("canaries", "blue/green services", "rolling updates"). */
export function emptyText(kind: string, stepper: StepperView): string {
  return stepper.status === "active" ? `no ${kind} found` : `no ${kind}: the stepper is ${stepper.status}`;
}

// Kept in step with the server-side rows below: the same columns, the same "-" for absent values.
const SCRIPT = `
(function () {
  "use strict";
  function text(value) { return value === undefined || value === null || value === "" ? "-" : String(value); }
  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (value) {
      var td = document.createElement("td");
      td.textContent = text(value);
      tr.appendChild(td);
    });
    return tr;
  }
  function fill(id, rows, empty, columns) {
    var body = document.getElementById(id);
    if (!body) return;
    while (body.firstChild) body.removeChild(body.firstChild);
    if (rows.length === 0) {
      var tr = document.createElement("tr");
      var td = document.createElement("td");
      td.colSpan = columns;
      td.className = "empty";
      td.textContent = empty;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (cells) { body.appendChild(row(cells)); });
  }
  function weights(w) { return w ? w.stable + " / " + w.canary : "-"; }
  function percentage(f) { return f.state === "disabled" ? "0%" : f.state === "enabled" ? "100%" : f.percentage + "%"; }
  function stepperText(s) {
    if (s.status === "idle") return "stepper idle: " + (s.message || "no cluster");
    if (s.status === "starting") return "stepper starting: looking for a cluster";
    if (s.status === "stopped") return "stepper stopped";
    var line = "stepper active every " + s.intervalSeconds + "s against context " + (s.context || "?") + " at " + (s.server || "?");
    if (s.dryRun) line += " (dry run: nothing is written)";
    if (s.lastPass) line += "; last pass " + s.lastPass.finishedAt + (s.lastPass.error ? " failed: " + s.lastPass.error : "");
    return line;
  }
  function render(state) {
    fill("flag-rows", state.flags.items.map(function (f) {
      return [f.key, f.state, percentage(f), f.segments.length ? f.segments.join(", ") : "-", f.revision, f.description];
    }), state.flags.error ? "flag store unavailable: " + state.flags.error : "no flags", 6);
    var pass = state.stepper.lastPass;
    function empty(kind) {
      return state.stepper.status === "active" ? "no " + kind + " found" : "no " + kind + ": the stepper is " + state.stepper.status;
    }
    fill("canary-rows", pass ? pass.canaries.map(function (c) {
      return [c.namespace + "/" + c.deployment, c.phase, weights(c.weights), c.outcome, c.problem];
    }) : [], empty("canaries"), 5);
    fill("bluegreen-rows", pass && pass.blueGreen ? pass.blueGreen.map(function (b) {
      return [b.namespace + "/" + b.service, b.deployment, b.from, b.to, b.outcome, b.message];
    }) : [], empty("blue/green services"), 6);
    fill("rolling-rows", pass && pass.rolling ? pass.rolling.map(function (r) {
      return [r.namespace + "/" + r.deployment, r.phase, r.outcome, r.message, r.problem];
    }) : [], empty("rolling updates"), 5);
    document.getElementById("stepper").textContent = stepperText(state.stepper);
    document.getElementById("flags-version").textContent = state.flags.version === undefined ? "-" : String(state.flags.version);
    var demo = document.getElementById("demo");
    var img = document.getElementById("demo-chart");
    demo.hidden = !state.demo.available;
    if (state.demo.available && img.getAttribute("src") !== state.demo.url) img.setAttribute("src", state.demo.url);
    document.getElementById("updated").textContent = state.generatedAt;
  }
  function poll() {
    fetch("/api/state", { cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (state) { render(state); document.body.classList.remove("stale"); })
      .catch(function () { document.body.classList.add("stale"); });
  }
  setInterval(poll, ${REFRESH_MS});
})();
`;

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d2327; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #dcdcde; padding-bottom: 0.2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.6rem; border-bottom: 1px solid #f0f0f1; vertical-align: top; }
th { font-weight: 600; color: #50575e; }
code { font: 13px ui-monospace, monospace; }
.muted, .empty { color: #757575; }
.stale #updated::after { content: " (server not answering)"; color: #b32d2e; }
#demo img { max-width: 100%; border: 1px solid #dcdcde; }
`;

const sha256 = (text: string): string => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

/** Only the inline script and style above may run; data comes from this origin only. */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function cells(values: readonly unknown[]): string {
  return `<tr>${values.map((value) => `<td>${escapeHtml(value === undefined || value === "" ? "-" : value)}</td>`).join("")}</tr>`;
}

function emptyRow(text: string, columns: number): string {
  return `<tr><td colspan="${columns}" class="empty">${escapeHtml(text)}</td></tr>`;
}

function endpointRows(group: EndpointGroup): string {
  return group.endpoints
    .map((endpoint) => {
      // Plain GETs without a placeholder open in the browser; the rest are for curl and clients.
      const link =
        endpoint.method === "GET" && !endpoint.path.includes("{")
          ? `<a href="${escapeHtml(endpoint.url)}"><code>${escapeHtml(endpoint.url)}</code></a>`
          : `<code>${escapeHtml(endpoint.url)}</code>`;
      return `<tr><td><code>${escapeHtml(endpoint.method)}</code></td><td>${link}</td><td>${escapeHtml(endpoint.note)}</td></tr>`;
    })
    .join("");
}

export function renderPage(state: LocalState): string {
  const flagRows =
    state.flags.items.length > 0
      ? state.flags.items
          .map((flag) =>
            cells([
              flag.key,
              flag.state,
              percentageText(flag),
              segmentsText(flag.segments),
              flag.revision,
              flag.description,
            ]),
          )
          .join("")
      : emptyRow(state.flags.error ? `flag store unavailable: ${state.flags.error}` : "no flags", 6);
  const pass = state.stepper.lastPass;
  const canaryRows =
    pass && pass.canaries.length > 0
      ? pass.canaries
          .map((canary) =>
            cells([
              `${canary.namespace}/${canary.deployment}`,
              canary.phase,
              weightsText(canary.weights),
              canary.outcome,
              canary.problem,
            ]),
          )
          .join("")
      : emptyRow(emptyText("canaries", state.stepper), 5);
  const blueGreenRows =
    pass && pass.blueGreen.length > 0
      ? pass.blueGreen
          .map((item) =>
            cells([
              `${item.namespace}/${item.service}`,
              item.deployment,
              item.from,
              item.to,
              item.outcome,
              item.message,
            ]),
          )
          .join("")
      : emptyRow(emptyText("blue/green services", state.stepper), 6);
  const rollingRows =
    pass && pass.rolling.length > 0
      ? pass.rolling
          .map((item) =>
            cells([`${item.namespace}/${item.deployment}`, item.phase, item.outcome, item.message, item.problem]),
          )
          .join("")
      : emptyRow(emptyText("rolling updates", state.stepper), 5);
  const groups = state.endpoints
    .map(
      (group) =>
        `<h3>${escapeHtml(group.name)} <span class="muted">${escapeHtml(group.base)}</span></h3>
<table><thead><tr><th>method</th><th>URL</th><th>what it does</th></tr></thead><tbody>${endpointRows(group)}</tbody></table>`,
    )
    .join("\n");

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>greenlight local stack</title>
<style>${STYLE}</style>
</head>
<body>
<h1>greenlight local stack</h1>
<p class="muted">Updated <span id="updated">${escapeHtml(state.generatedAt)}</span>; refreshes every ${REFRESH_MS / 1000}s.</p>

<h2>Canaries</h2>
<p id="stepper">${escapeHtml(stepperText(state.stepper))}</p>
<table><thead><tr><th>deployment</th><th>phase</th><th>weight stable / canary</th><th>outcome</th><th>problem</th></tr></thead>
<tbody id="canary-rows">${canaryRows}</tbody></table>
<div id="demo"${state.demo.available ? "" : " hidden"}>
<h3>Demo canary</h3>
<img id="demo-chart" alt="weight timeline of the demo canaries (npm run demo)"${state.demo.available && state.demo.url ? ` src="${escapeHtml(state.demo.url)}"` : ""}>
</div>

<h2>Blue/green</h2>
<table><thead><tr><th>service</th><th>deployment</th><th>from</th><th>to</th><th>outcome</th><th>message</th></tr></thead>
<tbody id="bluegreen-rows">${blueGreenRows}</tbody></table>

<h2>Rolling updates</h2>
<table><thead><tr><th>deployment</th><th>phase</th><th>outcome</th><th>message</th><th>problem</th></tr></thead>
<tbody id="rolling-rows">${rollingRows}</tbody></table>

<h2>Flags <span class="muted">rule set version <span id="flags-version">${escapeHtml(state.flags.version ?? "-")}</span>, ${escapeHtml(state.flags.where)}</span></h2>
<table><thead><tr><th>key</th><th>state</th><th>percentage</th><th>segments</th><th>revision</th><th>description</th></tr></thead>
<tbody id="flag-rows">${flagRows}</tbody></table>

<h2>Endpoints</h2>
${groups}
<p class="muted">Webhook CA: <code>${escapeHtml(state.tls.caCertPath)}</code> (SHA-256 <code>${escapeHtml(state.tls.fingerprint)}</code>); caBundle in <code>${escapeHtml(state.tls.bundlePath)}</code>.</p>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
