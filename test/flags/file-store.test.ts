// The embedded file store beyond the shared contract: seeding, a corrupt file, two processes, crashes, the lock.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createFileStore, DEFAULT_FLAGS_DIR } from "../../functions/flags/file-store.ts";
import type { Flag, FlagStore } from "../../functions/flags/types.ts";
import { StoreConflictError, StoreUnavailableError } from "../../functions/flags/types.ts";

const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-file-store-"));
  dirs.push(dir);
  return dir;
}

const flag = (key: string, extra: Partial<Flag> = {}): Flag => ({ key, state: "enabled", ...extra });

const SEED: Flag[] = [
  flag("new-checkout", { state: "partial", percentage: 10 }),
  flag("dark-mode", { state: "disabled" }),
  flag("banner-color", { variants: { red: { value: "red", weight: 1 } }, defaultVariant: "red" }),
];

async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  return done;
}

async function appendToSegments(store: FlagStore, key: string, id: string): Promise<void> {
  for (;;) {
    const current = await store.get(key);
    if (!current) throw new Error(`flag ${key} vanished`);
    const next = { ...current.flag, segments: [...(current.flag.segments ?? []), id] };
    try {
      await store.put(next, { actor: id, ifMatch: current.revision });
      return;
    } catch (error) {
      if (!(error instanceof StoreConflictError)) throw error;
    }
  }
}

describe("where it keeps flags", () => {
  it('defaults to ".greenlight" (under the working directory)', () => {
    expect(DEFAULT_FLAGS_DIR).toBe(".greenlight");
  });

  it("creates the directory and flags.json, version and flags, on first use", async () => {
    const dir = join(await freshDir(), "nested", "state");
    const store = createFileStore({ dir });
    await store.put(flag("a"), { actor: "t" });
    const onDisk = JSON.parse(await readFile(join(dir, "flags.json"), "utf8"));
    expect(onDisk).toEqual({
      version: 1,
      head: expect.stringMatching(/^[0-9a-f]{16}$/),
      flags: { a: await store.get("a") },
    });
    const audit = (await readFile(join(dir, "audit.jsonl"), "utf8")).trim().split("\n");
    // Each line is the entry plus its write's id (flags.json's head) and the id of the write before it (none here).
    expect(audit.map((line) => JSON.parse(line))).toEqual(
      (await store.audit()).map((entry) => ({ ...entry, writeId: onDisk.head })),
    );
    // Nothing else stays behind: no lock, no temp file.
    expect((await readdir(dir)).sort()).toEqual(["audit.jsonl", "flags.json"]);
  });
});

describe("seeding", () => {
  it("starts a missing flags.json from the seed: one version per flag, written by seed, with audit entries", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir, seed: SEED });
    // The first call of any kind seeds; here a read.
    expect(await store.version()).toBe(3);
    const { flags } = await store.load();
    expect(Object.keys(flags).sort()).toEqual(["banner-color", "dark-mode", "new-checkout"]);
    SEED.forEach((seeded, index) => {
      expect(flags[seeded.key]).toMatchObject({ flag: seeded, revision: index + 1, updatedBy: "seed" });
    });
    expect(
      (await store.audit()).map(({ actor, action, key, version, before, after }) => ({
        actor,
        action,
        key,
        version,
        before,
        after,
      })),
    ).toEqual(
      [...SEED]
        .map((seeded, index) => ({
          actor: "seed",
          action: "put",
          key: seeded.key,
          version: index + 1,
          before: undefined,
          after: seeded,
        }))
        .reverse(),
    );
  });

  it("seeds only once: a later store on the same directory keeps what is there", async () => {
    const dir = await freshDir();
    const first = createFileStore({ dir, seed: SEED });
    await first.delete("dark-mode", { actor: "t" });
    const second = createFileStore({ dir, seed: [flag("other")] });
    expect(Object.keys((await second.load()).flags).sort()).toEqual(["banner-color", "new-checkout"]);
    expect(await second.version()).toBe(4);
  });

  it("re-seeds when flags.json is deleted, moving the old audit log aside instead of mixing it in", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir, seed: SEED });
    await store.put(flag("extra"), { actor: "t" });
    await rm(join(dir, "flags.json"));
    expect(await store.version()).toBe(3);
    expect((await store.audit()).map((entry) => entry.actor)).toEqual(["seed", "seed", "seed"]);
    const names = await readdir(dir);
    expect(names.filter((name) => name.startsWith("audit.jsonl.before-"))).toHaveLength(1);
  });

  it("refuses a seed with a repeated key, naming it", () => {
    expect(() => createFileStore({ dir: "unused", seed: [flag("a"), flag("b"), flag("a")] })).toThrow(
      'seed[2] repeats flag key "a": keys must be unique',
    );
  });

  it("rejects options out of range, naming them", () => {
    expect(() => createFileStore({ dir: "" })).toThrow('dir must be a non-empty path, got ""');
    expect(() => createFileStore({ dir: "x", auditMaxLen: 1.5 })).toThrow(
      "auditMaxLen must be a positive integer, got 1.5",
    );
    expect(() => createFileStore({ dir: "x", lockStaleMs: 0 })).toThrow(
      "lockStaleMs must be a positive integer, got 0",
    );
  });
});

describe("a corrupt flags.json", () => {
  it("fails every call with StoreUnavailableError naming the file and the fix, and is never overwritten", async () => {
    const dir = await freshDir();
    const file = join(dir, "flags.json");
    await writeFile(file, '{"version": 3, "flags": {');
    const store = createFileStore({ dir, seed: SEED });
    const calls = [
      () => store.version(),
      () => store.load(),
      () => store.get("a"),
      () => store.put(flag("a"), { actor: "t" }),
      () => store.delete("a", { actor: "t" }),
      () => store.audit(),
    ];
    for (const call of calls) {
      const error = await call().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not valid JSON \\(.+\\): fix it by hand, or delete it to start over from the built-in flags`,
        ),
      );
    }
    expect(await readFile(file, "utf8")).toBe('{"version": 3, "flags": {');
  });

  it("names the part that is wrong when the JSON parses", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir });
    await writeFile(join(dir, "flags.json"), JSON.stringify({ version: "2", flags: {} }));
    await expect(store.version()).rejects.toThrow(
      `${join(dir, "flags.json")} has version "2", not a non-negative integer`,
    );
    await writeFile(
      join(dir, "flags.json"),
      JSON.stringify({
        version: 2,
        flags: { a: { flag: { key: "b", state: "enabled" }, revision: 1, updatedAt: "x", updatedBy: "y" } },
      }),
    );
    await expect(store.load()).rejects.toThrow(`has flags["a"] that has flag.key "b", not "a"`);
  });
});

describe("two processes on one directory", () => {
  it("see each other's writes at once (nothing cached)", async () => {
    const dir = await freshDir();
    const cli = createFileStore({ dir });
    const server = createFileStore({ dir });
    expect(await server.version()).toBe(0);
    await cli.put(flag("a"), { actor: "cli" });
    expect(await server.version()).toBe(1);
    expect((await server.get("a"))?.updatedBy).toBe("cli");
    await server.delete("a", { actor: "admin" });
    expect(await cli.get("a")).toBeUndefined();
  });

  it("interleave 40 read-modify-writes on one flag without losing any", { timeout: 120_000 }, async () => {
    const dir = await freshDir();
    // Two stores: separate queues, so only the lock file keeps them apart, as between two processes.
    const stores = [createFileStore({ dir }), createFileStore({ dir })];
    await stores[0]?.put(flag("shared", { segments: [] }), { actor: "setup" });
    const ids = Array.from({ length: 40 }, (_, i) => `p${i % 2}-w${i}`);
    await Promise.all(ids.map((id, i) => appendToSegments(stores[i % 2] as FlagStore, "shared", id)));

    const final = await stores[1]?.get("shared");
    expect([...(final?.flag.segments ?? [])].sort()).toEqual([...ids].sort());
    expect(await stores[0]?.version()).toBe(41);
    const audit = await stores[0]?.audit({ limit: 100 });
    expect(audit?.map((entry) => entry.version)).toEqual(Array.from({ length: 41 }, (_, i) => 41 - i));
  });

  it("interleave blind writes from both without losing a version or an audit entry", async () => {
    const dir = await freshDir();
    const [a, b] = [createFileStore({ dir }), createFileStore({ dir })];
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).put(flag(`f${i}`), { actor: `writer-${i % 2}` })),
    );
    expect(await b.version()).toBe(30);
    const { flags } = await a.load();
    expect(Object.keys(flags)).toHaveLength(30);
    expect(new Set(Object.values(flags).map((stored) => stored.revision)).size).toBe(30);
    expect((await b.audit()).map((entry) => entry.key).sort()).toEqual(Object.keys(flags).sort());
  });
});

describe("crashes", () => {
  it("ignores a temp file left by a write that crashed before its rename", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir, seed: SEED });
    const before = await store.load();
    await writeFile(join(dir, ".flags.json.99999.abcdef123456.tmp"), '{"version": 99, "flags": {"half');
    expect(await store.load()).toEqual(before);
    expect((await store.put(flag("after-crash"), { actor: "t" })).version).toBe(4);
    expect(await readdir(dir)).toContain(".flags.json.99999.abcdef123456.tmp");
  });

  it("ignores a torn audit line and starts the next entry on a line of its own", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir });
    await store.put(flag("a"), { actor: "t" });
    await writeFile(join(dir, "audit.jsonl"), '{"id":"2","at":"2025-01-01T00:0', { flag: "a" });
    expect((await store.audit()).map((entry) => entry.version)).toEqual([1]);
    await store.put(flag("b"), { actor: "t" });
    expect((await store.audit()).map((entry) => [entry.version, entry.key])).toEqual([
      [2, "b"],
      [1, "a"],
    ]);
  });

  it("ignores the audit entry of a write that crashed before replacing flags.json", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir });
    await store.put(flag("a"), { actor: "t" });
    const orphan = {
      id: "2",
      at: new Date().toISOString(),
      actor: "ghost",
      action: "put",
      key: "g",
      version: 2,
      after: flag("g"),
    };
    await writeFile(join(dir, "audit.jsonl"), `${JSON.stringify(orphan)}\n`, { flag: "a" });
    expect((await store.audit()).map((entry) => entry.actor)).toEqual(["t"]);
    await store.put(flag("b"), { actor: "real" });
    expect((await store.audit()).map((entry) => [entry.version, entry.actor])).toEqual([
      [2, "real"],
      [1, "t"],
    ]);
  });
});

describe("the lock", () => {
  it("makes a write wait while another process holds flags.lock", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir });
    await store.version();
    const lock = join(dir, "flags.lock");
    await mkdir(join(lock, "1-0123456789abcdef"), { recursive: true });
    const write = store.put(flag("a"), { actor: "t" });
    expect(await settled(write)).toBe(false);
    await rm(lock, { recursive: true });
    expect((await write).version).toBe(1);
  });

  it("takes over a lock with no heartbeat for 10 s (its holder died), temp files and all, and removes it when done", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir });
    await store.version();
    const lock = join(dir, "flags.lock");
    const holder = join(lock, "999999-0123456789abcdef");
    await mkdir(holder, { recursive: true });
    await writeFile(join(holder, "0123.tmp"), '{"version": 99');
    const past = new Date(Date.now() - 11_000);
    for (const path of [holder, lock]) await utimes(path, past, past);
    expect((await store.put(flag("a"), { actor: "t" })).version).toBe(1);
    await expect(stat(lock)).rejects.toMatchObject({ code: "ENOENT" });
    expect((await readdir(dir)).filter((name) => name.includes("lock"))).toEqual([]);
  });

  it("waits for, then takes over, the lock file of an older greenlight", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir, lockStaleMs: 400 });
    await store.version();
    const lock = join(dir, "flags.lock");
    await writeFile(lock, JSON.stringify({ pid: 999999, token: "old-style", at: new Date().toISOString() }));
    const write = store.put(flag("a"), { actor: "t" });
    expect(await settled(write)).toBe(false);
    expect((await write).version).toBe(1);
    expect((await readdir(dir)).filter((name) => name.includes("lock"))).toEqual([]);
  });

  it("gives up after three lock lifetimes of a live holder, naming its process", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir, lockStaleMs: 100 });
    await store.version();
    const holder = join(dir, "flags.lock", "4242-0123456789abcdef");
    await mkdir(holder, { recursive: true });
    // A live holder: its heartbeat keeps the lock fresh.
    const heartbeat = setInterval(() => {
      const at = new Date();
      void utimes(holder, at, at).catch(() => undefined);
    }, 20);
    try {
      await expect(store.put(flag("a"), { actor: "t" })).rejects.toThrow(
        `${join(dir, "flags.lock")} has been held for over 0.3 s with a live heartbeat (held by process 4242): if no greenlight process is using ${dir}, delete it`,
      );
    } finally {
      clearInterval(heartbeat);
    }
    expect(await store.version()).toBe(0);
  });

  it("reports a directory it cannot write to as unavailable", async () => {
    const parent = await freshDir();
    const blocker = join(parent, "file");
    await writeFile(blocker, "not a directory");
    const store = createFileStore({ dir: join(blocker, "state") });
    await expect(store.version()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.put(flag("a"), { actor: "t" })).rejects.toThrow(`cannot create ${join(blocker, "state")}`);
  });
});

describe("the audit log", () => {
  it("is cut back to the newest auditMaxLen entries once it holds more than twice that", async () => {
    const dir = await freshDir();
    const store = createFileStore({ dir, auditMaxLen: 3 });
    const lines = async () => (await readFile(join(dir, "audit.jsonl"), "utf8")).trim().split("\n").length;
    for (let i = 1; i <= 6; i++) await store.put(flag(`f${i}`), { actor: "t" });
    expect(await lines()).toBe(6);
    await store.put(flag("f7"), { actor: "t" });
    expect(await lines()).toBe(3);
    expect((await store.audit()).map((entry) => entry.version)).toEqual([7, 6, 5]);
  });
});
