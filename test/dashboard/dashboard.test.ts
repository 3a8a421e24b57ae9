// The dashboard in a real browser (Debian's Chromium through playwright-core) against the local stack in-process:
// sign in, create, edit, preview, a conflicting write, delete, the audit log, read-only, a canary's timeline, axe.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AxeBuilder } from "@axe-core/playwright";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  canaryDeployment,
  destinationRule,
  healthyReader,
  virtualService,
} from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { createLogger } from "../../scripts/local/log.ts";
import { resolveSettings } from "../../scripts/local/settings.ts";
import { type LocalStack, startLocalStack } from "../../scripts/local/stack.ts";
import { launchChromium, measureLoad } from "./browser.ts";

/**
 * Where the screenshots of the main views go on every run (gitignored). The README's image, in the repository, is
 * written only when asked (`npm run screenshots`), so a test run leaves the working tree clean.
 */
const SHOTS = join(import.meta.dirname, "screenshots");
const README_IMAGE = join(import.meta.dirname, "../../docs/images/dashboard.png");
const UPDATE_README_IMAGE = process.env.GREENLIGHT_UPDATE_SCREENSHOTS === "1";

const adminToken = randomBytes(32).toString("hex");
const readToken = randomBytes(32).toString("hex");
const KEY = "checkout_v3";

let api: FakeApiServer;
let cwd: string;
let stack: LocalStack;
let browser: Browser;

async function newPage(options: { viewport?: { width: number; height: number } } = {}): Promise<Page> {
  // A context per page: axe-core's builder needs one, and each starts signed out (the token is in memory only).
  const context = await browser.newContext(options);
  const page = await context.newPage();
  // Closing the page closes its context; when the browser is closing already (afterAll), the context goes with it
  // and this close has nothing left to do: its "browser has been closed" rejection is not a failure.
  page.on("close", () => void context.close().catch(() => undefined));
  return page;
}

async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target).join(" ")})`);
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(`${stack.urls.page}/`);
  // Keyboard only: focus the token field, type, Enter.
  await page.getByLabel("Admin token").focus();
  await page.keyboard.type(token);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Flags", level: 2 }).waitFor();
}

async function adminCall(method: string, path: string, body?: unknown, ifMatch?: string): Promise<Response> {
  return fetch(`${stack.urls.flags}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${adminToken}`,
      "Content-Type": "application/json",
      "X-Greenlight-Actor": "someone-else",
      ...(ifMatch ? { "If-Match": ifMatch } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  await mkdir(join(README_IMAGE, ".."), { recursive: true });
  api = await startFakeApiServer();
  cwd = await mkdtemp(join(tmpdir(), "greenlight-dashboard-"));
  stack = await startLocalStack({
    ...resolveSettings({ port: "0", webhookPort: "0", flagsPort: "0" }, {}, cwd),
    stepIntervalMs: 400,
    rateLimit: false,
    cwd,
    env: { GREENLIGHT_ADMIN_TOKENS: `ops:admin:${adminToken},viewer:read:${readToken}` },
    logger: createLogger({ level: "silent" }),
    kubeConfig: api.kubeConfig(),
    reader: healthyReader,
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await api?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

// Each test drives a real browser; under a loaded machine a test may take longer than the suite's default 30 s.
describe("the dashboard in Chromium", { timeout: 90_000 }, () => {
  it("loads in under 150 KB compressed, without uPlot until the rollouts view", async () => {
    const page = await newPage();
    try {
      const loaded = await measureLoad(page, `${stack.urls.page}/`);
      const total = loaded.reduce((sum, item) => sum + item.gzip, 0);
      expect(loaded.map((item) => new URL(item.url).pathname)).toContain("/app/main.js");
      expect(loaded.some((item) => item.url.includes("uplot.js"))).toBe(false);
      expect(total).toBeLessThan(150 * 1024);
      await page.getByLabel("Admin token").waitFor();
      expect(await seriousViolations(page)).toEqual([]);
      // A wrong token is refused with the server's reason, and nothing is signed in.
      await page.getByLabel("Admin token").fill("not-a-token");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("alert").getByText("Not signed in: the bearer token is not an admin token").waitFor();
      expect(await page.getByRole("heading", { name: "Flags", level: 2 }).count()).toBe(0);
    } finally {
      await page.close();
    }
  });

  it("lets an admin create a flag, change its percentage, preview it, lose a race, delete it and read the audit", async () => {
    const page = await newPage({ viewport: { width: 1280, height: 860 } });
    page.on("dialog", (dialog) => dialog.accept());
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    try {
      await signIn(page, adminToken);
      await page.getByText("signed in, may change flags").waitFor();
      await page.getByRole("link", { name: "new_ui_interface" }).waitFor();
      expect(await page.getByRole("cell", { name: "0%" }).count()).toBeGreaterThan(0); // the disabled payment_feature
      await page.screenshot({ path: join(SHOTS, "flags.png") });
      expect(await seriousViolations(page)).toEqual([]);

      // Filters: by owner, then by search.
      await page.getByLabel("Owner").selectOption("payments");
      await page.getByText("1 of 3 flags").waitFor();
      await page.getByLabel("Owner").selectOption("");
      await page.getByLabel("Search").fill("modern ui");
      await page.getByText("1 of 3 flags").waitFor();

      // Create: a partial flag at 0%.
      await page.getByRole("link", { name: "New flag" }).click();
      await page.getByLabel("Key").fill(KEY);
      await page.getByLabel("Description").fill("The third checkout");
      await page.getByLabel("State").selectOption("partial");
      await page.getByLabel("Percentage", { exact: true }).fill("0");
      await page.getByLabel("Owner").fill("payments");
      await page.getByRole("button", { name: "Create flag" }).click();
      await page.getByRole("heading", { name: KEY, level: 2 }).waitFor();
      expect(await page.locator("#flag-reach").textContent()).toBe("0%");
      // The preview: user-1 is outside a 0% split.
      await expectPreview(page, "false", "SPLIT"); // outside a 0% split
      expect(await seriousViolations(page)).toEqual([]);

      // Percentage to 100: the preview follows.
      await page.getByLabel("Set the percentage to").fill("100");
      await page.getByRole("button", { name: "Set percentage" }).click();
      await page.getByText("Percentage changed: now at revision").waitFor();
      expect(await page.locator("#flag-reach").textContent()).toBe("100%");
      await expectPreview(page, "true", "TARGETING_MATCH"); // 100%: everyone who matches
      await page.screenshot({ path: join(SHOTS, "flag.png"), fullPage: true });
      if (UPDATE_README_IMAGE) await page.screenshot({ path: README_IMAGE });

      // The server's problem shown at the field it names.
      await page.getByText("Edit the definition").click();
      const editor = page.locator(".flag-form");
      await editor.getByLabel("Percentage").fill("150");
      await editor.getByRole("button", { name: "Save" }).click();
      const problem = page.locator("#field-percentage-problems");
      await problem.waitFor();
      expect(await problem.textContent()).toContain("/percentage");
      expect(await editor.getByLabel("Percentage").getAttribute("aria-invalid")).toBe("true");

      // Someone else writes meanwhile: the page's next write is refused with the newer version shown.
      const shown = Number(await page.locator("#flag-revision").textContent());
      const current = (await (await adminCall("GET", `/admin/flags/${KEY}`)).json()) as { flag: object };
      const meanwhile = await adminCall(
        "PUT",
        `/admin/flags/${KEY}`,
        { ...current.flag, description: "changed by someone else" },
        `"${shown}"`,
      );
      expect(meanwhile.status).toBe(200);
      await page.getByRole("button", { name: "Turn off" }).click();
      const conflict = page.locator(".conflict");
      await conflict.waitFor();
      expect(await conflict.textContent()).toContain("Changed meanwhile");
      expect(await conflict.textContent()).toContain(`It is now at revision ${shown + 1}, written by someone-else`);
      expect(await conflict.textContent()).toContain("changed by someone else");
      await page.screenshot({ path: join(SHOTS, "conflict.png"), fullPage: true });
      expect(await seriousViolations(page)).toEqual([]);
      // Nothing was turned off.
      const after = (await (await adminCall("GET", `/admin/flags/${KEY}`)).json()) as { flag: { state: string } };
      expect(after.flag.state).toBe("partial");
      await page.getByRole("button", { name: "Show the newer version" }).click();
      await page
        .locator("#flag-revision")
        .getByText(String(shown + 1))
        .waitFor();

      // Delete, from the newer version on show.
      await page.getByRole("button", { name: "Delete flag" }).click();
      await page.getByRole("heading", { name: "Flags", level: 2 }).waitFor();
      expect((await adminCall("GET", `/admin/flags/${KEY}`)).status).toBe(404);

      // The audit log, reached by keyboard: every write to the flag, ours and the other one.
      await page.getByRole("link", { name: "Audit log" }).focus();
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Audit log", level: 2 }).waitFor();
      const rows = page.locator("table.audit tbody tr").filter({ hasText: KEY });
      await rows.first().waitFor();
      const texts = await rows.allTextContents();
      expect(texts.some((row) => row.includes("created"))).toBe(true);
      expect(texts.some((row) => row.includes("percentage 0 → 100"))).toBe(true);
      expect(texts.some((row) => row.includes("someone-else"))).toBe(true);
      expect(texts.some((row) => row.includes("deleted"))).toBe(true);
      await page.screenshot({ path: join(SHOTS, "audit.png"), fullPage: true });
      expect(await seriousViolations(page)).toEqual([]);

      await page.getByRole("link", { name: "Stale flags" }).click();
      await page.getByRole("heading", { name: "Stale flags", level: 2 }).waitFor();
      expect(await seriousViolations(page)).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("shows a read-only token no write control", async () => {
    const page = await newPage();
    try {
      await signIn(page, readToken);
      await page.getByText("signed in read-only").waitFor();
      // Keyboard focus is visible: Tab from the view's heading lands on the search field, drawn with an outline.
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(
        "(() => { const e = document.activeElement; const s = getComputedStyle(e); return [e.id, s.outlineStyle, s.outlineWidth]; })()",
      );
      expect(focused).toEqual(["search", "solid", "3px"]);
      await page.getByRole("link", { name: "new_ui_interface" }).click();
      await page.getByRole("heading", { name: "new_ui_interface", level: 2 }).waitFor();
      await page.locator("#preview-reason").waitFor();
      // The new view's heading has the focus, so the next Tab starts from its content.
      expect(await page.evaluate("document.activeElement.id")).toBe("flag-title");
      for (const name of ["Turn off", "Turn on", "Set percentage", "Delete flag", "Save"]) {
        expect(await page.getByRole("button", { name }).count(), name).toBe(0);
      }
      expect(await page.getByText("Edit the definition").count()).toBe(0);
      await page.getByRole("link", { name: "Flags", exact: true }).click();
      await page.getByRole("heading", { name: "Flags", level: 2 }).waitFor();
      expect(await page.getByRole("link", { name: "New flag" }).count()).toBe(0);
      // The token is in no URL and no storage.
      expect(page.url()).not.toContain(readToken);
      // A string, so that this file needs no DOM types: run in the page as it is.
      const stored = await page.evaluate(
        "JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie",
      );
      expect(stored).not.toContain(readToken);
    } finally {
      await page.close();
    }
  });

  it("shows where a flag's guarded rollout stands and pauses it with the revision on show", async () => {
    const key = "guarded_checkout";
    const plan = { steps: [10, 50, 100], interval: "5m" };
    const created = await adminCall("PUT", `/admin/flags/${key}`, {
      key,
      state: "partial",
      percentage: 0,
      rollout: plan,
    });
    expect(created.status, await created.clone().text()).toBe(201);
    // The local stepper starts it on its next pass; its first judgement is five minutes away, so one is written here,
    // over the status the stepper wrote (same plan fingerprint: the stepper leaves it until it is due).
    type Stored = { revision: number; flag: { rolloutStatus?: Record<string, unknown> } };
    let started: Stored | undefined;
    for (let i = 0; i < 200 && started?.flag.rolloutStatus === undefined; i += 1) {
      started = (await (await adminCall("GET", `/admin/flags/${key}`)).json()) as Stored;
      if (started.flag.rolloutStatus === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(started?.flag.rolloutStatus).toMatchObject({ phase: "progressing", step: 0, share: 10 });
    const judged = await adminCall(
      "PUT",
      `/admin/flags/${key}`,
      {
        ...started?.flag,
        rolloutStatus: {
          ...started?.flag.rolloutStatus,
          checks: [
            { name: "error-rate", outcome: "pass", value: 0.001, threshold: 0.005, comparison: "max", detail: "ok" },
          ],
        },
      },
      `"${started?.revision}"`,
    );
    expect(judged.status, await judged.clone().text()).toBe(200);
    const page = await newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(page, adminToken);
      await page.getByRole("link", { name: key }).click();
      const panel = page.locator("section.rollout");
      await panel.locator("#rollout-steps").getByText("Step 1 of 3").waitFor();
      expect(await panel.locator("table").textContent()).toContain("error-rate");
      expect(await seriousViolations(page)).toEqual([]);
      await panel.getByRole("button", { name: "Pause rollout" }).click();
      await panel.getByRole("button", { name: "Resume rollout" }).waitFor();
      await page.getByText("Rollout paused at 10%: now at revision").waitFor();
      const after = (await (await adminCall("GET", `/admin/flags/${key}`)).json()) as {
        flag: { rolloutStatus: { phase: string } };
      };
      expect(after.flag.rolloutStatus.phase).toBe("paused");
      await page.screenshot({ path: join(SHOTS, "flag-rollout.png"), fullPage: true });

      // The rollouts view lists it for a signed-in user.
      await page.getByRole("link", { name: "Rollouts" }).click();
      const row = page.getByRole("row").filter({ hasText: key });
      await row.getByRole("cell", { name: "paused", exact: true }).waitFor();
    } finally {
      await page.close();
      await adminCall("DELETE", `/admin/flags/${key}`);
    }
  });

  it("draws a canary's timeline and moves it as the stepper steps", async () => {
    const page = await newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${stack.urls.page}/#/rollouts`);
      await page.getByText("no canaries found").waitFor();
      // A canary appears while the page watches; it steps every second: 10%, 50%, then promoted, healthy throughout.
      api.put(canaryDeployment({ annotations: { "greenlight.dev/interval": "1s" } }));
      api.put(destinationRule());
      api.put(virtualService());
      const figure = page.locator('figure[data-canary="production/myapp-v2"]');
      await figure.locator("canvas").first().waitFor();
      // The first step, then an analysed pass with its checks, then the next weight.
      await figure.locator("tbody").getByText("90 / 10").first().waitFor({ timeout: 20_000 });
      await figure
        .locator("tbody")
        .getByText(/request.* pass/)
        .first()
        .waitFor({ timeout: 20_000 });
      await figure.locator("tbody").getByText("50 / 50").first().waitFor({ timeout: 20_000 });
      await page.screenshot({ path: join(SHOTS, "rollouts.png"), fullPage: true });
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

/** The preview shows `value` for user-1, with the evaluator's reason. */
async function expectPreview(page: Page, value: string, reason: string): Promise<void> {
  await page.locator("#preview-value").getByText(value, { exact: true }).waitFor();
  expect(await page.locator("#preview-reason").textContent()).toBe(reason);
}
