// What both demos (run.ts, flag-run.ts) do around their rollouts: stop what they started, and wait for Prometheus's
// first scrape before the first judgement.
import { setTimeout as sleep } from "node:timers/promises";
import type { MetricsReader } from "../../functions/canary/checks.ts";

const FIRST_SCRAPE_LIMIT_MS = 90_000;

/** Things to stop, newest first. A failure to stop one is reported and the rest are still stopped. */
export class Teardown {
  readonly #steps: { what: string; stop: () => Promise<unknown> }[] = [];
  add(what: string, stop: () => Promise<unknown>): void {
    this.#steps.push({ what, stop });
  }
  async run(log: (line: string) => void): Promise<void> {
    for (const step of this.#steps.reverse()) {
      try {
        await step.stop();
      } catch (error) {
        log(`stopping ${step.what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.#steps.length = 0;
  }
}

/** Prometheus's own account of why a target has not been scraped yet (`/api/v1/targets`), if it has one. */
async function scrapeProblem(prometheusUrl: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${prometheusUrl}/api/v1/targets`, { signal: AbortSignal.timeout(2_000) });
    const body = (await response.json()) as { data?: { activeTargets?: { health?: string; lastError?: string }[] } };
    const targets = body.data?.activeTargets ?? [];
    if (targets.length === 0) return "no target discovered yet";
    const failing = targets.find((target) => target.lastError);
    return failing ? `${failing.health}: ${failing.lastError}` : undefined;
  } catch (error) {
    return `targets API: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export interface FirstScrape {
  /** What was scraped, for the messages: "the router", "the apps". */
  what: string;
  /** The query whose answer says the scrape landed. */
  promql: string;
  /** True once the answer's samples show every target scraped. */
  landed: (samples: readonly number[]) => boolean;
}

/** Until Prometheus has scraped the demo's targets once (about 6 s after it starts); says why when it takes long. */
export async function waitForFirstScrape(
  prometheusUrl: string,
  reader: MetricsReader,
  scrape: FirstScrape,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const started = Date.now();
  const deadline = started + FIRST_SCRAPE_LIMIT_MS;
  let nextReport = started + 15_000;
  for (;;) {
    const answer = await reader.query(scrape.promql);
    if (Array.isArray(answer) && scrape.landed(answer)) return;
    if (Date.now() >= nextReport) {
      // On a busy machine this can take much longer than usual: say what Prometheus says rather than go quiet.
      nextReport = Date.now() + 15_000;
      const problem = await scrapeProblem(prometheusUrl);
      log(`  still waiting after ${Math.round((Date.now() - started) / 1000)} s${problem ? ` (${problem})` : ""}`);
    }
    if (Date.now() >= deadline) {
      const why = Array.isArray(answer) ? ((await scrapeProblem(prometheusUrl)) ?? "no series yet") : answer.message;
      throw new Error(`Prometheus has not scraped ${scrape.what} after ${FIRST_SCRAPE_LIMIT_MS / 1000} s (${why})`);
    }
    await sleep(250, undefined, { signal });
  }
}
