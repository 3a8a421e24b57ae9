// How `greenlight flags rollout` shows a rollout on a terminal (-o json / yaml shows rollout/plan.ts rolloutView).
import { formatNumber } from "../../../functions/flags/rollout/checks.ts";
import { describeRollout } from "../../../functions/flags/rollout/plan.ts";
import type { RolloutCheckReading, StoredFlag } from "../../../functions/flags/types.ts";
import { formatTable } from "../../text/table.ts";

const shown = (check: RolloutCheckReading): string => {
  if (check.value === undefined) return "-";
  const rate = check.name === "error-rate";
  const text = (value: number) => (rate ? `${value > 0 ? "+" : ""}${formatNumber(value * 100)}%` : formatNumber(value));
  return check.lower !== undefined && check.upper !== undefined
    ? `${text(check.value)} in [${text(check.lower)}, ${text(check.upper)}]`
    : text(check.value);
};

const sample = (side?: { requests: number; errors?: number }): string =>
  side === undefined ? "-" : side.errors !== undefined ? `${side.errors}/${side.requests}` : String(side.requests);

/** The status as text: one line, then the last judgement's checks as a table. */
export function rolloutText(stored: StoredFlag): string {
  const { flag } = stored;
  let text = `${flag.key} (revision ${stored.revision}): ${describeRollout(flag)}\n`;
  const status = flag.rolloutStatus;
  if (status?.checkedAt) text += `last judged ${status.checkedAt}, ${status.judge?.windows ?? 0} window(s) counted\n`;
  const checks = status?.checks ?? [];
  if (checks.length > 0) {
    text += `\n${formatTable(
      ["CHECK", "OUTCOME", "VALUE", "TREATMENT", "CONTROL", "DETAIL"],
      checks.map((check) => [
        check.name,
        check.outcome,
        shown(check),
        sample(check.treatment),
        sample(check.control),
        check.detail,
      ]),
    )}`;
  }
  return text;
}
