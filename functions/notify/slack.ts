// The Slack incoming-webhook message of an event: `text` (the notification's fallback and what other Slack-compatible
// receivers, such as Mattermost or Rocket.Chat, show) and Block Kit `blocks` with the message and the key facts.
import type { NotifyData, NotifyEvent } from "./event.ts";

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

export type SlackBlock =
  | { type: "section"; text: { type: "mrkdwn"; text: string } }
  | { type: "context"; elements: { type: "mrkdwn"; text: string }[] };

/** Slack's mrkdwn treats &, < and > as markup: every greenlight string is escaped, so a value cannot forge a link. */
export const escapeSlack = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Section text is limited to 3000 characters by Slack. */
const SECTION_LIMIT = 3000;

const clip = (text: string, limit: number): string => (text.length > limit ? `${text.slice(0, limit - 1)}…` : text);

const ICON: Readonly<Record<NotifyEvent["severity"], string>> = { info: ":white_check_mark:", warning: ":warning:" };

/** The facts shown under the message, in this order, when the event's data has them. */
const FACTS = ["namespace", "deployment", "service", "version", "from", "to", "weights", "cause", "actor", "revision"];

function factText(data: NotifyData, key: string): string | undefined {
  const value = data[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value)
      .map(([name, part]) => `${name} ${String(part)}`)
      .join(" / ");
  }
  return String(value);
}

export function slackMessage(event: NotifyEvent): SlackMessage {
  const title = escapeSlack(event.title);
  const facts = FACTS.flatMap((key) => {
    const text = factText(event.data, key);
    return text === undefined ? [] : [`*${key}* ${escapeSlack(text)}`];
  });
  return {
    text: `${title}: ${escapeSlack(clip(event.message, 500))}`,
    blocks: [
      {
        type: "section",
        text: {
          type: "mrkdwn",
          text: clip(`${ICON[event.severity]} *${title}*\n${escapeSlack(event.message)}`, SECTION_LIMIT),
        },
      },
      {
        type: "context",
        elements: [
          { type: "mrkdwn", text: clip([...facts, `\`${escapeSlack(event.type)}\``].join("  ·  "), SECTION_LIMIT) },
        ],
      },
    ],
  };
}
