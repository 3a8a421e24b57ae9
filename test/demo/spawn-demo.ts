// `npm run demo` in a child process (`node --import tsx`, so signals reach it directly), its output collected as it
// comes. Shared by demo.test.ts and flag-demo.test.ts.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface RunningDemo {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

export function startDemo(args: string[]): RunningDemo {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/demo/index.ts", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Whether anything still answers at the URL (a stopped Prometheus refuses the connection). */
export async function answers(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}
