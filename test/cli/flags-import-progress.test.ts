// `greenlight flags import --apply` shows its progress on a terminal (a redrawn line on stderr, erased before the
// report) and nothing of it anywhere else. The terminal is a real pseudo-terminal from `script` (bsdutils), as in
// live-canary.test.ts.
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runCli } from "./run.ts";

const BIN = fileURLToPath(new URL("../../scripts/greenlight.mjs", import.meta.url));
const FEATURES = ["checkout", "search", "banner"];
const ESCAPE = String.fromCharCode(27);

async function setup(): Promise<{ env: NodeJS.ProcessEnv; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-import-progress-"));
  const file = join(dir, "features.json");
  const features = FEATURES.map((name) => ({ name, enabled: true, strategies: [{ name: "default" }] }));
  await writeFile(file, JSON.stringify({ version: 2, features }));
  const env = {
    ...process.env,
    UPSTASH_REDIS_REST_URL: "",
    UPSTASH_REDIS_REST_TOKEN: "",
    GREENLIGHT_ADMIN_TOKEN: "",
    UNLEASH_API_TOKEN: "",
    GREENLIGHT_FLAGS_DIR: join(dir, "store"),
  };
  return { env, file };
}

describe("greenlight flags import --apply progress", () => {
  it("redraws one progress line on a terminal, erased before the report", async () => {
    const { env, file } = await setup();
    const command = `stty cols 120 rows 40; exec '${process.execPath}' '${BIN}' flags import --from unleash '${file}' --apply`;
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      env: { ...env, TERM: "xterm-256color", NO_COLOR: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    for (let done = 1; done <= FEATURES.length; done++) {
      expect(output).toContain(`importing: ${done}/${FEATURES.length}`);
    }
    // The progress line is erased (cursor to column 0, clear to the end) before the report's table is written.
    const lastProgress = output.lastIndexOf("importing: ");
    expect(output.indexOf("FEATURE", lastProgress)).toBeGreaterThan(lastProgress);
    expect(output.slice(lastProgress, output.indexOf("FEATURE", lastProgress))).toMatch(
      new RegExp(`${ESCAPE}\\[\\d*[JK]`),
    );
    expect(output).toMatch(/wrote 3 flags to .* \(3 created, 0 replaced\)/);
  }, 60_000);

  it("writes no progress through a pipe", async () => {
    const { env, file } = await setup();
    const result = await runCli(["flags", "import", "--from", "unleash", file, "--apply"], undefined, env);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain("importing:");
    expect(result.stderr.trim()).toMatch(/^wrote 3 flags to .* \(3 created, 0 replaced\)$/);
  }, 60_000);
});
