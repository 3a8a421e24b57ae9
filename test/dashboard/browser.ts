// Debian's Chromium for the dashboard's browser tests: found, installed with apt-get as root when missing (as the
// test setup does for Prometheus and Redis), launched headless through playwright-core.
import { gzipSync } from "node:zlib";
import { type Browser, chromium, type Page } from "playwright-core";
import { ensureBinary } from "../../scripts/services/apt.ts";

export const CHROMIUM_INSTALL_HINT =
  "chromium not found: run `sudo apt-get install -y chromium` (Debian) and re-run npm test";

/** PLATFORM.md's flags for this machine's Chromium. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export function ensureChromium(): string {
  return ensureBinary(
    { binary: "chromium", packageName: "chromium", hint: CHROMIUM_INSTALL_HINT },
    { fallback: "/usr/bin/chromium" },
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: ensureChromium(), args: FLAGS, headless: true });
}

/** Every response a page load fetched, with its body's gzip size: what the load costs over a compressing link. */
export async function measureLoad(page: Page, url: string): Promise<{ url: string; gzip: number }[]> {
  const pending: Promise<{ url: string; gzip: number }>[] = [];
  page.on("response", (response) => {
    pending.push(
      response
        .body()
        .then((body) => ({ url: response.url(), gzip: gzipSync(body, { level: 6 }).length }))
        .catch(() => ({ url: response.url(), gzip: 0 })),
    );
  });
  await page.goto(url, { waitUntil: "networkidle" });
  return Promise.all(pending);
}
