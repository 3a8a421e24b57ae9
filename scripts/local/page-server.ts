// The `/` page's HTTP app: the page, its JSON (/api/state), the demo chart and a health check.
import { readFile } from "node:fs/promises";
import express, { type ErrorRequestHandler, type Express, type Response } from "express";
import { type LocalState, PAGE_CSP, renderPage } from "./page.ts";

export interface PageAppOptions {
  state(): Promise<LocalState>;
  /** `<home>/demo.svg`, written by `npm run demo`; served at /demo.svg while it exists. */
  demoPath: string;
  /** Told about failures answered with a bare 500. */
  onError?: (error: unknown) => void;
}

// The chart is a file another program wrote: served so that, even opened on its own, nothing in it can run.
const SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

function noStore(res: Response): Response {
  return res.set({
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  });
}

export function createPageApp(options: PageAppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.get("/", async (_req, res) => {
    const state = await options.state();
    noStore(res).set("Content-Security-Policy", PAGE_CSP).type("html").send(renderPage(state));
  });
  app.get("/api/state", async (_req, res) => {
    noStore(res).json(await options.state());
  });
  app.get("/demo.svg", async (_req, res) => {
    let svg: Buffer;
    try {
      svg = await readFile(options.demoPath);
    } catch {
      noStore(res)
        .status(404)
        .json({ error: `no demo chart at ${options.demoPath}: run \`npm run demo\` to draw one` });
      return;
    }
    noStore(res).set("Content-Security-Policy", SVG_CSP).type("image/svg+xml").send(svg);
  });
  app.get("/healthz", (_req, res) => {
    noStore(res).json({ status: "ok" });
  });
  app.use((req, res) => {
    noStore(res)
      .status(404)
      .json({ error: `no route for ${req.method} ${req.path}; try GET /, /api/state, /demo.svg or /healthz` });
  });
  const failed: ErrorRequestHandler = (error, _req, res, _next) => {
    options.onError?.(error);
    noStore(res).status(500).json({ error: "internal error" });
  };
  app.use(failed);
  return app;
}
