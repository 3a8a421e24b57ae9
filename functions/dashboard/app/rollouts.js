// Rollouts on the local stack: the stepper, every canary (phase, weights, a live timeline), blue/green Services and
// rolling updates, polled from /api/rollouts every two seconds.
import { html, useEffect, useRef, useState } from "../vendor/preact-htm.js";
import { drawTimeline, worstOutcome } from "./chart.js";
import { FlagRollouts } from "./flag-rollout.js";
import { text, when } from "./ui.js";

export const POLL_MS = 2000;

function stepperSentence(stepper) {
  if (stepper.status === "idle") return `The stepper is idle: ${stepper.message ?? "no cluster"}.`;
  if (stepper.status === "starting") return "The stepper is starting: looking for a cluster.";
  if (stepper.status === "stopped") return "The stepper has stopped.";
  const last = stepper.lastPass ? `; last pass ${when(stepper.lastPass.finishedAt)}` : "";
  return `The stepper runs every ${stepper.intervalSeconds}s against context ${stepper.context ?? "?"}${stepper.dryRun ? " (dry run)" : ""}${last}.`;
}

const weights = (w) => (w ? `${w.stable} / ${w.canary}` : "-");

function Timeline({ timeline }) {
  const element = useRef(null);
  const chart = useRef(undefined);
  useEffect(() => {
    let live = true;
    drawTimeline(element.current, timeline, chart.current).then((drawn) => {
      if (live) chart.current = drawn;
      else drawn.destroy();
    });
    return () => {
      live = false;
    };
  }, [timeline]);
  useEffect(() => () => chart.current?.destroy(), []);
  const id = `${timeline.namespace}/${timeline.deployment}`;
  // The passes that changed something or analysed the canary; the quiet ones in between are only in the chart.
  const last = timeline.points
    .filter((point) => point.outcome !== "unchanged" || point.checks.length > 0)
    .slice(-8)
    .reverse();
  return html`<figure class="timeline" data-canary=${id}>
    <figcaption>${id}: weights over time, each check's value as a share of its limit, and a marker per analysis (● pass, ▲ fail, grey ● inconclusive)</figcaption>
    <div class="chart" ref=${element} role="img" aria-label=${`timeline of ${id}, ${timeline.points.length} passes; the table below lists the latest`}></div>
    <table class="points">
      <caption>Latest changes and analyses of ${id}</caption>
      <thead><tr><th scope="col">when</th><th scope="col">phase</th><th scope="col">stable / canary</th>
        <th scope="col">outcome</th><th scope="col">checks</th></tr></thead>
      <tbody>${last.map(
        (point) => html`<tr>
          <td>${when(point.at)}</td><td>${text(point.phase)}</td><td>${weights(point.weights)}</td><td>${point.outcome}</td>
          <td>${
            point.checks.length === 0
              ? "-"
              : point.checks.map((check) => `${check.name} ${check.value ?? "no value"} ${check.outcome}`).join("; ")
          }${worstOutcome(point) === "fail" ? " (failed)" : ""}</td>
        </tr>`,
      )}</tbody>
    </table>
  </figure>`;
}

function Table({ caption, headers, rows, empty }) {
  return html`<table>
    <caption>${caption}</caption>
    <thead><tr>${headers.map((header) => html`<th scope="col">${header}</th>`)}</tr></thead>
    <tbody>${
      rows.length === 0
        ? html`<tr><td colspan=${headers.length}>${empty}</td></tr>`
        : rows.map((row) => html`<tr>${row.map((cell) => html`<td>${text(cell)}</td>`)}</tr>`)
    }</tbody>
  </table>`;
}

export function RolloutsView({ url, signedIn }) {
  const [data, setData] = useState(undefined);
  const [stale, setStale] = useState(false);
  useEffect(() => {
    let live = true;
    const poll = async () => {
      try {
        const response = await fetch(url, { cache: "no-store", credentials: "omit" });
        if (!response.ok) throw new Error(String(response.status));
        const next = await response.json();
        if (live) {
          setData(next);
          setStale(false);
        }
      } catch {
        if (live) setStale(true);
      }
    };
    poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [url]);
  if (data === undefined) return html`<section><h2 tabindex="-1">Rollouts</h2><p>Loading…</p></section>`;
  const pass = data.stepper.lastPass;
  const empty = (kind) =>
    data.stepper.status === "active" ? `no ${kind} found` : `no ${kind}: the stepper is ${data.stepper.status}`;
  return html`<section aria-labelledby="rollouts-title">
    <h2 id="rollouts-title" tabindex="-1">Rollouts</h2>
    <p id="stepper-sentence">${stepperSentence(data.stepper)}${stale ? " (the server is not answering; showing the last answer)" : ""}</p>
    <${Table} caption="Canaries" headers=${["deployment", "phase", "stable / canary", "outcome", "problem"]}
      empty=${empty("canaries")}
      rows=${(pass?.canaries ?? []).map((c) => [`${c.namespace}/${c.deployment}`, c.phase, weights(c.weights), c.outcome, c.problem])} />
    ${data.canaries.map((timeline) => html`<${Timeline} key=${`${timeline.namespace}/${timeline.deployment}`} timeline=${timeline} />`)}
    <${Table} caption="Blue/green Services" headers=${["service", "deployment", "from", "to", "outcome", "message"]}
      empty=${empty("blue/green services")}
      rows=${(pass?.blueGreen ?? []).map((b) => [`${b.namespace}/${b.service}`, b.deployment, b.from, b.to, b.outcome, b.message])} />
    <${Table} caption="Rolling updates" headers=${["deployment", "phase", "outcome", "message", "problem"]}
      empty=${empty("rolling updates")}
      rows=${(pass?.rolling ?? []).map((r) => [`${r.namespace}/${r.deployment}`, r.phase, r.outcome, r.message, r.problem])} />
    ${signedIn ? html`<${FlagRollouts} />` : html`<p>Sign in to see the flags' guarded rollouts too.</p>`}
  </section>`;
}
