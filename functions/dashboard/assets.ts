// The dashboard's files: the app's own ES modules and stylesheet, and the vendor ES modules served as they are.
/*
 * No build step: the browser loads these files unchanged. htm's standalone module holds Preact, its hooks and htm in
 * one file with no imports, and uPlot's ESM build imports nothing either, so no import map (an inline script) and no
 * rewriting of bare specifiers is needed. Paths are relative to the repository root (the Lambda's task root).
 */

export interface DashboardAsset {
  /** Path below the dashboard's base URL, e.g. `app/main.js`. */
  path: string;
  /** Path of the file below the root. */
  file: string;
  contentType: string;
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

const APP_MODULES = [
  "main",
  "api",
  "ui",
  "flags",
  "flag-page",
  "flag-form",
  "flag-rollout",
  "audit",
  "rollouts",
  "chart",
];

export const DASHBOARD_ASSETS: readonly DashboardAsset[] = [
  ...APP_MODULES.map((name) => ({
    path: `app/${name}.js`,
    file: `functions/dashboard/app/${name}.js`,
    contentType: JS,
  })),
  { path: "app/style.css", file: "functions/dashboard/app/style.css", contentType: CSS },
  { path: "vendor/preact-htm.js", file: "node_modules/htm/preact/standalone.module.js", contentType: JS },
  { path: "vendor/uplot.js", file: "node_modules/uplot/dist/uPlot.esm.js", contentType: JS },
  { path: "vendor/uplot.css", file: "node_modules/uplot/dist/uPlot.min.css", contentType: CSS },
];

/** A file's contents with its type and ETag, as the core serves it. */
export interface LoadedAsset {
  body: string;
  contentType: string;
  etag: string;
}

/** Loaded assets by their path below the base URL. */
export type DashboardFiles = ReadonlyMap<string, LoadedAsset>;
