// A flag's guarded rollout: where its plan stands (phase, share, step, the last judgement's checks) and, for an admin
// token, pause, resume and abort, each conditional on the revision on show.
import { html, useEffect, useState } from "../vendor/preact-htm.js";
import { call, flagPath, revisionTag } from "./api.js";
import { errorText, Message, text, when } from "./ui.js";

/** The controls that apply in each phase, with their labels: resume restarts a rolled-back or aborted rollout. */
function controlsFor(phase) {
  if (phase === "progressing")
    return [
      ["pause", "Pause rollout"],
      ["abort", "Abort rollout"],
    ];
  if (phase === "paused")
    return [
      ["resume", "Resume rollout"],
      ["abort", "Abort rollout"],
    ];
  if (phase === "rolled-back" || phase === "aborted") return [["resume", "Restart rollout"]];
  return [];
}

const number = (value) => (value === undefined ? "-" : String(Math.round(value * 10000) / 10000));

export function RolloutPanel({ stored, readOnly, onWritten, onConflict }) {
  const { flag } = stored;
  const plan = flag.rollout;
  const status = flag.rolloutStatus;
  const [summary, setSummary] = useState(undefined);
  const [message, setMessage] = useState(undefined);

  useEffect(() => {
    if (!plan) return;
    (async () => {
      const result = await call("GET", `${flagPath(flag.key)}/rollout`);
      setSummary(result.ok ? result.data.summary : undefined);
    })();
  }, [flag.key, stored.revision, plan]);

  if (!plan) return null;

  const control = async (name) => {
    const result = await call("POST", `${flagPath(flag.key)}/rollout/${name}`, {
      ifMatch: revisionTag(stored.revision),
    });
    if (result.status === 412) {
      onConflict();
      return;
    }
    if (!result.ok) {
      setMessage({ kind: "error", text: `The ${name} was refused: ${errorText(result)}` });
      return;
    }
    setMessage(undefined);
    onWritten(result.data.flag, `Rollout ${result.data.summary ?? `${name}d`}`);
  };

  const phase = status?.phase;
  return html`<section aria-labelledby="rollout-title" class="rollout">
    <h3 id="rollout-title">Guarded rollout</h3>
    <p id="rollout-summary">${summary ?? (status ? `${status.phase} at ${status.share}%` : "not started: the next stepper pass starts it")}</p>
    <p id="rollout-steps">Steps ${plan.steps.join(", ")}% every ${plan.interval}${plan.variant ? ` for variant ${plan.variant}` : ""}.
      ${status ? ` Step ${status.step + 1} of ${plan.steps.length} since ${when(status.since)}; last judged ${when(status.checkedAt)}.` : ""}</p>
    ${
      status?.checks?.length
        ? html`<table>
          <caption>Checks of the last judgement</caption>
          <thead><tr><th scope="col">check</th><th scope="col">outcome</th><th scope="col">value</th>
            <th scope="col">bound</th><th scope="col">detail</th></tr></thead>
          <tbody>${status.checks.map(
            (check) => html`<tr><td>${check.name}</td><td>${check.outcome}</td><td>${number(check.value)}</td>
              <td>${check.threshold === undefined ? "-" : `${check.comparison ?? "max"} ${number(check.threshold)}`}</td>
              <td>${text(check.detail)}</td></tr>`,
          )}</tbody>
        </table>`
        : null
    }
    ${
      readOnly || !phase
        ? null
        : html`<div class="actions">
          ${controlsFor(phase).map(
            ([name, label]) =>
              html`<button type="button" class=${name === "abort" ? "danger" : ""} onClick=${() => control(name)}>${label}</button>`,
          )}
        </div>`
    }
    <${Message} message=${message} />
  </section>`;
}

export const FLAG_POLL_MS = 10_000;

/** Every flag with a rollout plan and where it stands, for the rollouts view (signed in only); controls on its page. */
export function FlagRollouts() {
  const [flags, setFlags] = useState(undefined);
  const [message, setMessage] = useState(undefined);
  useEffect(() => {
    let live = true;
    const poll = async () => {
      const result = await call("GET", "admin/flags");
      if (!live) return;
      if (result.ok) {
        setFlags(result.data.flags.filter((stored) => stored.flag.rollout));
        setMessage(undefined);
      } else setMessage({ kind: "error", text: `Flag rollouts could not be read: ${errorText(result)}` });
    };
    poll();
    const timer = setInterval(poll, FLAG_POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  if (message) return html`<${Message} message=${message} />`;
  if (flags === undefined) return null;
  return html`<table>
    <caption>Flag rollouts (pause, resume or abort on the flag's page)</caption>
    <thead><tr><th scope="col">flag</th><th scope="col">phase</th><th scope="col">share</th><th scope="col">step</th>
      <th scope="col">why</th></tr></thead>
    <tbody>${
      flags.length === 0
        ? html`<tr><td colspan="5">no flag has a rollout plan</td></tr>`
        : flags.map(({ flag }) => {
            const status = flag.rolloutStatus;
            return html`<tr>
              <td><a href=${`#/flags/${encodeURIComponent(flag.key)}`}>${flag.key}</a></td>
              <td>${status?.phase ?? "not started"}</td><td>${status ? `${status.share}%` : "-"}</td>
              <td>${status ? `${status.step + 1} of ${flag.rollout.steps.length}` : "-"}</td><td>${text(status?.reason)}</td>
            </tr>`;
          })
    }</tbody>
  </table>`;
}
