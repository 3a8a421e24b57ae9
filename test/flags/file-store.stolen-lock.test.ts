// The file store's lock when its holder stalls: a holder whose lock was taken over fails its write (naming the lock)
// instead of overwriting the newer writer's flags.json, and the audit log keeps only writes that were committed.
import { spawn } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { type Flag, StoreUnavailableError, type WriteResult } from "../../functions/flags/types.ts";

const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-stolen-lock-"));
  dirs.push(dir);
  return dir;
}

const flag = (key: string, extra: Partial<Flag> = {}): Flag => ({ key, state: "enabled", ...extra });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let done = false;
  const mark = () => {
    done = true;
  };
  promise.then(mark, mark);
  await sleep(ms);
  return done;
}

/** The raw audit lines, in file order. */
async function auditLines(dir: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(dir, "audit.jsonl"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const lockLeftovers = async (dir: string) => (await readdir(dir)).filter((name) => name.includes("lock"));

describe("a writer that stalls while holding the lock", () => {
  it("fails with StoreUnavailableError naming the lock once another writer took the lock over; the other's write stands", async () => {
    const dir = await freshDir();
    let stall: () => Promise<void> = async () => undefined;
    const slow = createFileStore({ dir, beforeCommit: () => stall() });
    // Another process whose clock runs a minute ahead: to it, the slow writer's lock has had no heartbeat for a
    // minute, as if the slow writer had been frozen that long.
    const other = createFileStore({ dir, now: () => Date.now() + 60_000 });
    await slow.put(flag("contested", { description: "first" }), { actor: "setup" });

    let otherResult: WriteResult | undefined;
    stall = async () => {
      // Runs under the slow writer's lock, after its audit line and before its flags.json rename.
      otherResult = await other.put(flag("contested", { description: "other" }), { actor: "other", ifMatch: 1 });
    };
    const error = await slow
      .put(flag("contested", { description: "slow" }), { actor: "slow", ifMatch: 1 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(
      `${join(dir, "flags.lock")} was taken over by another writer while this write held it (its heartbeat had stopped for over 10000 ms: was this process paused or its event loop blocked?): this write was not made and the other writer's stands; retry it`,
    );
    expect(otherResult).toMatchObject({ version: 2, created: false });

    // flags.json holds the other writer's result.
    expect(await slow.load()).toEqual({ version: 2, flags: { contested: otherResult?.stored } });
    const onDisk = JSON.parse(await readFile(join(dir, "flags.json"), "utf8"));
    expect(onDisk.flags.contested.flag.description).toBe("other");

    // The audit log: version 2 is the other writer's; the slow writer's line is in the file, but not on the chain
    // of committed writes, although it claims version 2 too.
    const strip = (entries: Array<{ version: number; actor: string; after?: Flag }>) =>
      entries.map((entry) => [entry.version, entry.actor, entry.after?.description]);
    expect(strip(await slow.audit())).toEqual([
      [2, "other", "other"],
      [1, "setup", "first"],
    ]);
    expect((await auditLines(dir)).map((line) => [line.version, line.actor])).toEqual([
      [1, "setup"],
      [2, "slow"],
      [2, "other"],
    ]);

    // A stalled writer's line can also land after the committed one (it appended after the takeover): still not
    // taken for version 2.
    const late = { ...(await auditLines(dir))[1], writeId: "0123456789abcdef", actor: "late" };
    await appendFile(join(dir, "audit.jsonl"), `${JSON.stringify(late)}\n`);
    expect(strip(await other.audit())).toEqual([
      [2, "other", "other"],
      [1, "setup", "first"],
    ]);

    // Nothing of either lock is left, and the slow store writes again on top of the other's write.
    expect(await lockLeftovers(dir)).toEqual([]);
    stall = async () => undefined;
    expect((await slow.put(flag("contested", { description: "again" }), { actor: "slow", ifMatch: 2 })).version).toBe(
      3,
    );
    expect(strip(await other.audit())).toEqual([
      [3, "slow", "again"],
      [2, "other", "other"],
      [1, "setup", "first"],
    ]);
  });

  it("keeps its lock past the lock's lifetime while its heartbeat runs: the other writer waits rather than taking over", async () => {
    const dir = await freshDir();
    const lockStaleMs = 500;
    let stall: () => Promise<void> = async () => undefined;
    const slow = createFileStore({ dir, lockStaleMs, beforeCommit: () => stall() });
    const other = createFileStore({ dir, lockStaleMs });
    await slow.put(flag("contested"), { actor: "setup" });

    let waiting: Promise<WriteResult> | undefined;
    stall = async () => {
      stall = async () => undefined;
      waiting = other.put(flag("contested", { description: "other" }), { actor: "other" });
      // Twice the lock's lifetime (a waiter gives up after three): the slow writer is alive (its event loop
      // runs), so its heartbeat keeps the lock.
      expect(await settlesWithin(waiting, 2 * lockStaleMs)).toBe(false);
    };
    const slowResult = await slow.put(flag("contested", { description: "slow" }), { actor: "slow" });
    expect(slowResult.version).toBe(2);
    expect((await waiting)?.version).toBe(3);
    expect((await other.audit()).map((entry) => [entry.version, entry.actor])).toEqual([
      [3, "other"],
      [2, "slow"],
      [1, "setup"],
    ]);
  });

  it.skipIf(process.platform === "win32")(
    "in a process frozen (SIGSTOP) past the lock's lifetime, fails when it thaws; the writer that took over stands",
    { timeout: 60_000 },
    async () => {
      const dir = await freshDir();
      const lockStaleMs = 300;
      await createFileStore({ dir, lockStaleMs }).put(flag("contested"), { actor: "setup" });

      const root = fileURLToPath(new URL("../..", import.meta.url));
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "test/flags/stalled-writer.child.ts", dir, String(lockStaleMs)],
        { cwd: root, stdio: ["pipe", "pipe", "inherit"] },
      );
      const output: string[] = [];
      createInterface({ input: child.stdout }).on("line", (line) => output.push(line));
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      const until = async (done: () => boolean, what: string) => {
        for (let waited = 0; !done(); waited += 20) {
          if (waited > 30_000) throw new Error(`gave up waiting for ${what}; child printed ${JSON.stringify(output)}`);
          await sleep(20);
        }
      };

      try {
        await until(() => output.includes("at-commit"), "the child to reach its commit");
        child.kill("SIGSTOP");
        // The frozen child holds the lock; after lockStaleMs without its heartbeat, this writer takes over.
        const other = await createFileStore({ dir, lockStaleMs }).put(flag("contested", { state: "partial" }), {
          actor: "other",
        });
        expect(other.version).toBe(2);
      } finally {
        child.stdin.write("go\n");
        child.kill("SIGCONT");
      }
      await until(() => output.some((line) => line.startsWith("{")), "the child's outcome");
      const outcome = JSON.parse(output.find((line) => line.startsWith("{")) ?? "{}");
      expect(outcome).toMatchObject({ ok: false, name: "StoreUnavailableError" });
      expect(outcome.message).toContain(`${join(dir, "flags.lock")} was taken over by another writer`);
      expect(await exited).toBe(0);

      const store = createFileStore({ dir });
      expect((await store.get("contested"))?.flag).toEqual(flag("contested", { state: "partial" }));
      expect((await store.audit()).map((entry) => [entry.version, entry.actor])).toEqual([
        [2, "other"],
        [1, "setup"],
      ]);
      expect(await lockLeftovers(dir)).toEqual([]);
    },
  );
});
