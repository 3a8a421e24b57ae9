// A file-store writer run as its own process by file-store.stolen-lock.test.ts, so that the test can freeze it
// (SIGSTOP) while it holds the lock, as a paused VM, a suspended laptop or a stuck process would be frozen.
/*
 * argv: <dir> <lockStaleMs>. Writes flag "contested" as actor "stalled". Just before it would replace flags.json it
 * prints "at-commit" and waits for a line on stdin, which the test sends after freezing and thawing it. Prints
 * its outcome as one JSON line: {"ok":true,"version":n} or {"ok":false,"name":...,"message":...}.
 */
import { createInterface } from "node:readline";
import { createFileStore } from "../../functions/flags/file-store.ts";

const [dir, staleMs] = process.argv.slice(2);
if (dir === undefined || staleMs === undefined) throw new Error("usage: stalled-writer.child.ts <dir> <lockStaleMs>");

const lines = createInterface({ input: process.stdin });
const nextLine = (): Promise<string> => new Promise((resolve) => lines.once("line", resolve));

const store = createFileStore({
  dir,
  lockStaleMs: Number(staleMs),
  beforeCommit: async () => {
    const go = nextLine();
    process.stdout.write("at-commit\n");
    await go;
  },
});

try {
  const result = await store.put({ key: "contested", state: "disabled" }, { actor: "stalled" });
  process.stdout.write(`${JSON.stringify({ ok: true, version: result.version })}\n`);
} catch (error) {
  const { name, message } = error as Error;
  process.stdout.write(`${JSON.stringify({ ok: false, name, message })}\n`);
}
lines.close();
