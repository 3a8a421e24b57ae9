// The Vercel Edge Function entry (functions/flags/vercel.ts) in Vercel's `edge-runtime` VM, served over HTTP by
// edge-runtime's own server, with its settings on `process.env` as Vercel gives them, against real Redis behind
// the Upstash REST bridge. One bundle, one VM for the file.
/*
 * The bundle is esbuild's, as Vercel's build bundles an edge function: the entry and everything it imports in one
 * script, for a runtime with Web globals only. The VM has no `process`; Vercel's edge runtime defines
 * `process.env` with the project's variables, so the script here does the same before the entry runs.
 */
import { build, type Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingPackage } from "../../scripts/bench/edge.ts";
import { edgeSuite } from "./suite.ts";
import { type EdgeStore, SUITE_SETTINGS, startEdgeStore } from "./support.ts";

type EdgeRuntimeModule = typeof import("edge-runtime");

async function loadEdgeRuntime(): Promise<EdgeRuntimeModule> {
  try {
    return await import("edge-runtime");
  } catch {
    throw missingPackage("edge-runtime", "4");
  }
}

let edge: EdgeStore;
let server: { url: string; close(): Promise<void> };
let metafile: Metafile;
let exported: { config?: unknown; defaultType?: string };

beforeAll(async () => {
  const { EdgeRuntime, runServer } = await loadEdgeRuntime();
  edge = await startEdgeStore("edge-vercel-token");
  const bundle = await build({
    entryPoints: ["functions/flags/vercel.ts"],
    bundle: true,
    platform: "neutral",
    mainFields: ["module", "main"],
    format: "iife",
    globalName: "greenlightVercel",
    minify: true,
    metafile: true,
    write: false,
  });
  metafile = bundle.metafile;
  const env = { ...edge.secrets, ...SUITE_SETTINGS };
  const initialCode = [
    `globalThis.process = { env: ${JSON.stringify(env)} };`,
    bundle.outputFiles[0]?.text ?? "",
    "globalThis.__exported = { config: greenlightVercel.config, defaultType: typeof greenlightVercel.default };",
    "addEventListener('fetch', (event) => event.respondWith(greenlightVercel.default(event.request)));",
  ].join("\n");
  const runtime = new EdgeRuntime({ initialCode });
  exported = runtime.evaluate("globalThis.__exported") as typeof exported;
  const running = await runServer({ runtime, host: "127.0.0.1", port: 0 });
  server = { url: running.url.replace(/\/$/, ""), close: running.close };
});

afterAll(async () => {
  await server?.close();
  await edge?.close();
});

describe("the Vercel entry (functions/flags/vercel.ts)", () => {
  it("exports an edge function: config.runtime edge and a default handler", () => {
    expect(exported).toEqual({ config: { runtime: "edge" }, defaultType: "function" });
  });

  it("bundles without the admin API, the validator or the token parser", () => {
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain("functions/flags/http/ofrep-core.ts");
    for (const excluded of [
      "functions/flags/http/admin.ts",
      "functions/flags/validate.ts",
      "functions/flags/http/tokens.ts",
      "functions/flags/http/handler.ts",
      "functions/flags/env.ts",
    ]) {
      expect(inputs).not.toContain(excluded);
    }
    expect(inputs.filter((input) => input.includes("@upstash/ratelimit"))).toEqual([]);
  });
});

describe("the Vercel entry in edge-runtime", () => {
  edgeSuite(() => ({ url: server.url, edge }));
});
