// Reads the dashboard's files from disk once (the Node adapter of the dashboard core; the core itself does no I/O).
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DASHBOARD_ASSETS, type DashboardFiles, type LoadedAsset } from "./assets.ts";

/** The file the asset list is resolved against: the first of DASHBOARD_ASSETS, an app module. */
const MARKER = DASHBOARD_ASSETS[0]?.file ?? "functions/dashboard/app/main.js";

/**
 * The repository root: the nearest directory above this module that holds the dashboard's files. This module runs
 * from its source (an ES module: import.meta.url) or inside the compiled CLI (dist/cli/<build>/greenlight.cjs,
 * CommonJS: scripts/build-cli.mjs defines import.meta.url as undefined there, and __filename is the bundle).
 */
export function defaultRoot(): string {
  const url: string | undefined = import.meta.url;
  let dir = dirname(url === undefined ? __filename : fileURLToPath(url));
  for (;;) {
    if (existsSync(join(dir, MARKER))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`dashboard files not found above ${dirname(url ?? __filename)}: ${MARKER}`);
    dir = parent;
  }
}

/** Every asset read and hashed; throws naming the missing file and the root it was looked for under. */
export function loadDashboardFiles(root: string = defaultRoot()): DashboardFiles {
  const files = new Map<string, LoadedAsset>();
  for (const asset of DASHBOARD_ASSETS) {
    let body: string;
    try {
      body = readFileSync(join(root, asset.file), "utf8");
    } catch (error) {
      throw new Error(
        `dashboard file ${asset.file} is missing under ${root} (${(error as NodeJS.ErrnoException).code ?? "unreadable"}): ` +
          "run `npm install` in the repository, or package the file beside the function",
      );
    }
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    files.set(asset.path, { body, contentType: asset.contentType, etag });
  }
  return files;
}
