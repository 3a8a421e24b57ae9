// The embedded flag store (Node): a JSON file and an audit log in a directory, used when Upstash is not configured.
/*
 * Layout of `dir` (default DEFAULT_FLAGS_DIR, `.greenlight` under the working directory):
 * - `flags.json`   `{ "version": n, "flags": { key: StoredFlag } }`, pretty-printed; replaced whole on every write
 *                  (temp file in the same dir, fsync, rename), so a reader never sees half a file.
 * - `audit.jsonl`  one AuditEntry per line, appended (and fsynced) before flags.json is replaced; an entry's id is
 *                  the version its write produced. Entries past flags.json's version are writes that crashed between
 *                  the two steps and are ignored; a later write of that version supersedes them. Once the log holds
 *                  more than 2 x auditMaxLen entries it is cut back to the newest auditMaxLen.
 * - `flags.lock`   taken (created with `wx`) around every read-modify-write, because `greenlight flags set` and a
 *                  running `greenlight flags serve` may write from two processes; writes within one process also
 *                  queue. A lock older than 10 s belongs to a process that died or hung, and is taken over.
 * Every call reads the files again (no cached copy), so `version()` sees other processes' writes at once.
 * The first call, when flags.json does not exist, creates it from `seed` (each seed flag its own version, written
 * by "seed", with audit entries); an audit.jsonl left from before is moved aside (`audit.jsonl.before-<ms>`), since
 * its ids would repeat. A flags.json that does not parse is never overwritten: every call fails with a
 * StoreUnavailableError naming the file and the fix. Temp files a crash left behind (`.flags.json.*.tmp`) are
 * never read.
 */
import { randomBytes } from "node:crypto";
import { type FileHandle, link, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isObject } from "../contract/objects.ts";
import {
  auditLimit,
  causeMessage,
  checkFlag,
  checkKey,
  checkWriteOptions,
  DEFAULT_AUDIT_MAX_LEN,
  isProblem,
  positiveInteger,
  storedFlagOf,
} from "./store-errors.ts";
import {
  type AuditEntry,
  type Flag,
  type FlagStore,
  type RuleSet,
  StoreConflictError,
  type StoredFlag,
  StoreNotFoundError,
  StoreUnavailableError,
  type WriteOptions,
  type WriteResult,
} from "./types.ts";

/** Where `greenlight flags serve` and the CLI keep flags without Upstash: `.greenlight` in the working directory. */
export const DEFAULT_FLAGS_DIR = ".greenlight";

export interface FileStoreOptions {
  /** The directory holding flags.json, audit.jsonl and flags.lock; created when missing. */
  dir: string;
  /** The flags a fresh store starts with (when flags.json does not exist yet). */
  seed?: readonly Flag[];
  /** Audit entries kept; default 10000. */
  auditMaxLen?: number;
}

const STATE_FILE = "flags.json";
const AUDIT_FILE = "audit.jsonl";
const LOCK_FILE = "flags.lock";
/** A lock this old was left by a process that died (or hangs): take it over. */
const LOCK_STALE_MS = 10_000;
/** Past this, waiting is pointless (a stale lock is taken over after 10 s): report who holds it. */
const LOCK_GIVE_UP_MS = 30_000;
/** No audit line is shorter (`{"id":"1","at":"<24 chars>","actor":"","action":"put","key":"k","version":1}`). */
const MIN_AUDIT_LINE_BYTES = 64;

interface State {
  version: number;
  flags: Map<string, StoredFlag>;
}

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** An audit line read back, or undefined when it is not one (a torn last line after a crash, a hand edit). */
function auditEntryOf(value: unknown): AuditEntry | undefined {
  if (!isObject(value)) return undefined;
  const { id, at, actor, action, key, version, before, after } = value;
  if (typeof id !== "string" || typeof at !== "string" || typeof actor !== "string" || typeof key !== "string") {
    return undefined;
  }
  if ((action !== "put" && action !== "delete") || !Number.isSafeInteger(version) || id !== String(version)) {
    return undefined;
  }
  if ((before !== undefined && !isObject(before)) || (after !== undefined && !isObject(after))) return undefined;
  return value as unknown as AuditEntry;
}

/** A FlagStore in files under `options.dir` (see the header for the layout and the guarantees). */
export function createFileStore(options: FileStoreOptions): FlagStore {
  if (typeof options?.dir !== "string" || options.dir === "") {
    throw new TypeError(`dir must be a non-empty path, got ${JSON.stringify(options?.dir)}`);
  }
  const { dir } = options;
  const maxLen = positiveInteger("auditMaxLen", options.auditMaxLen, DEFAULT_AUDIT_MAX_LEN);
  const seed = [...(options.seed ?? [])];
  const seen = new Set<string>();
  for (const [index, flag] of seed.entries()) {
    checkFlag(flag);
    if (seen.has(flag.key)) throw new TypeError(`seed[${index}] repeats flag key "${flag.key}": keys must be unique`);
    seen.add(flag.key);
  }
  const statePath = join(dir, STATE_FILE);
  const auditPath = join(dir, AUDIT_FILE);
  const lockPath = join(dir, LOCK_FILE);
  const corrupt = (problem: string) =>
    new StoreUnavailableError(
      `${statePath} ${problem}: fix it by hand, or delete it to start over from the built-in flags (its audit log is kept aside)`,
    );

  // ---- files ----------------------------------------------------------------------------------------------------

  /** flags.json, or undefined when it does not exist yet. */
  async function readState(): Promise<State | undefined> {
    let text: string;
    try {
      text = await readFile(statePath, "utf8");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return undefined;
      throw new StoreUnavailableError(`cannot read ${statePath}: ${causeMessage(error)}`, { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw corrupt(`is not valid JSON (${causeMessage(error)})`);
    }
    if (!isObject(parsed)) throw corrupt("is not a JSON object with version and flags");
    const { version, flags } = parsed;
    if (!(Number.isSafeInteger(version) && (version as number) >= 0)) {
      throw corrupt(`has version ${JSON.stringify(version)}, not a non-negative integer`);
    }
    if (!isObject(flags)) throw corrupt(`has flags ${JSON.stringify(flags)?.slice(0, 60)}, not an object`);
    const state: State = { version: version as number, flags: new Map() };
    for (const [key, value] of Object.entries(flags)) {
      const stored = storedFlagOf(value, key);
      if (isProblem(stored)) throw corrupt(`has flags[${JSON.stringify(key)}] that ${stored.problem}`);
      if (stored.revision > state.version) {
        throw corrupt(`has flags[${JSON.stringify(key)}] at revision ${stored.revision}, past version ${version}`);
      }
      state.flags.set(key, stored);
    }
    return state;
  }

  /** Writes `text` to `path` whole: temp file in the same dir, fsync, rename over, fsync the dir. */
  async function replaceFile(path: string, text: string): Promise<void> {
    const temp = join(dir, `.${STATE_FILE}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    let handle: FileHandle | undefined = await open(temp, "wx");
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(temp, path);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    // The rename itself is durable once the directory is synced (not possible on every platform: best effort).
    const dirHandle = await open(dir, "r").catch(() => undefined);
    await dirHandle?.sync().catch(() => undefined);
    await dirHandle?.close();
  }

  async function writeState(state: State): Promise<void> {
    const flags = Object.fromEntries([...state.flags.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    await replaceFile(statePath, `${JSON.stringify({ version: state.version, flags }, null, 2)}\n`);
  }

  /** Appends entries (fsynced), starting on a fresh line if a crash left the last one torn. */
  async function appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    const handle = await open(auditPath, "a+");
    try {
      const { size } = await handle.stat();
      let prefix = "";
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = "\n";
      }
      await handle.appendFile(`${prefix}${entries.map((entry) => JSON.stringify(entry)).join("\n")}\n`, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Cuts the log back to the newest auditMaxLen lines once it holds more than twice that. */
  async function trimAudit(): Promise<void> {
    const { size } = await stat(auditPath);
    if (size / MIN_AUDIT_LINE_BYTES <= 2 * maxLen) return;
    const lines = (await readFile(auditPath, "utf8")).split("\n").filter((line) => line.trim() !== "");
    if (lines.length <= 2 * maxLen) return;
    await replaceFile(auditPath, `${lines.slice(-maxLen).join("\n")}\n`);
  }

  async function readAudit(): Promise<AuditEntry[]> {
    let text: string;
    try {
      text = await readFile(auditPath, "utf8");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return [];
      throw new StoreUnavailableError(`cannot read ${auditPath}: ${causeMessage(error)}`, { cause: error });
    }
    const entries: AuditEntry[] = [];
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        const entry = auditEntryOf(JSON.parse(line));
        if (entry) entries.push(entry);
      } catch {
        // A torn line (a crash mid-append): the write it belonged to never reached flags.json.
      }
    }
    return entries;
  }

  // ---- locking --------------------------------------------------------------------------------------------------

  let queue: Promise<unknown> = Promise.resolve();

  /** Runs `work` after every earlier call of this store (one process's writes never race each other). */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  }

  /** The lock file's token, or undefined when it is gone or unreadable. */
  async function lockToken(path: string): Promise<string | undefined> {
    try {
      const holder = JSON.parse(await readFile(path, "utf8")) as { token?: unknown };
      return typeof holder.token === "string" ? holder.token : undefined;
    } catch {
      return undefined;
    }
  }

  /** Takes a stale lock away (true), or leaves a live one alone (false). */
  async function breakStaleLock(): Promise<boolean> {
    let age: number;
    try {
      age = Date.now() - (await stat(lockPath)).mtimeMs;
    } catch {
      return true; // Released meanwhile: try again.
    }
    if (age < LOCK_STALE_MS) return false;
    const staleToken = await lockToken(lockPath);
    // Renaming is atomic: of several processes taking over, one moves the lock aside, the others find it gone.
    const aside = `${lockPath}.stale-${randomBytes(6).toString("hex")}`;
    try {
      await rename(lockPath, aside);
    } catch {
      return true;
    }
    if ((await lockToken(aside)) !== staleToken) {
      // Between our look and the rename another process took the lock over and made a fresh one: give it back.
      await link(aside, lockPath).catch(() => undefined);
    }
    await unlink(aside).catch(() => undefined);
    return true;
  }

  async function withLock<T>(work: () => Promise<T>): Promise<T> {
    const token = `${process.pid}-${randomBytes(8).toString("hex")}`;
    const giveUpAt = Date.now() + LOCK_GIVE_UP_MS;
    for (;;) {
      let handle: FileHandle | undefined;
      try {
        handle = await open(lockPath, "wx");
        await handle.writeFile(JSON.stringify({ pid: process.pid, token, at: new Date().toISOString() }));
        await handle.close();
        break;
      } catch (error) {
        if (handle) {
          // Created but not written (disk full?): an empty lock would stall everyone for 10 s.
          await handle.close().catch(() => undefined);
          await unlink(lockPath).catch(() => undefined);
        }
        if (errorCode(error) !== "EEXIST") {
          throw new StoreUnavailableError(`cannot create ${lockPath}: ${causeMessage(error)}`, { cause: error });
        }
      }
      if (await breakStaleLock()) continue;
      if (Date.now() > giveUpAt) {
        const holder = await readFile(lockPath, "utf8").catch(() => "(unreadable)");
        throw new StoreUnavailableError(
          `${lockPath} has been held for over ${LOCK_GIVE_UP_MS / 1000} s (${holder.trim()}): if no greenlight process is using ${dir}, delete it`,
        );
      }
      await sleep(2 + Math.random() * 10);
    }
    try {
      return await work();
    } finally {
      // Only our own lock: if we were so slow that another process took it over, that one is theirs.
      if ((await lockToken(lockPath)) === token) await unlink(lockPath).catch(() => undefined);
    }
  }

  /** Runs a read-modify-write with this process's queue and the cross-process lock held. */
  const locked = <T>(work: () => Promise<T>): Promise<T> => exclusive(() => withLock(work));

  // ---- state ----------------------------------------------------------------------------------------------------

  let dirReady: Promise<void> | undefined;
  const ensureDir = (): Promise<void> => {
    dirReady ??= mkdir(dir, { recursive: true }).then(
      () => undefined,
      (error: unknown) => {
        dirReady = undefined;
        throw new StoreUnavailableError(`cannot create ${dir}: ${causeMessage(error)}`, { cause: error });
      },
    );
    return dirReady;
  };

  /** Creates flags.json from the seed; the lock must be held. An older audit log is moved aside, not mixed in. */
  async function createSeeded(): Promise<State> {
    await rename(auditPath, `${auditPath}.before-${Date.now()}`).catch((error: unknown) => {
      if (errorCode(error) !== "ENOENT") throw error;
    });
    const at = new Date().toISOString();
    const state: State = { version: 0, flags: new Map() };
    const entries: AuditEntry[] = [];
    for (const flag of seed) {
      const version = ++state.version;
      const after = copy(flag);
      state.flags.set(flag.key, { flag: after, revision: version, updatedAt: at, updatedBy: "seed" });
      entries.push({ id: String(version), at, actor: "seed", action: "put", key: flag.key, version, after });
    }
    if (entries.length > 0) await appendAudit(entries);
    await writeState(state);
    return state;
  }

  /** The current state for a reader, creating it from the seed on first use. */
  async function current(): Promise<State> {
    await ensureDir();
    const state = await readState();
    if (state) return state;
    return locked(async () => (await readState()) ?? (await createSeeded()));
  }

  /** One write under the lock: `change` gets the state and returns what to record, or throws a verdict. */
  function write(
    action: AuditEntry["action"],
    key: string,
    writeOptions: WriteOptions,
    change: (state: State, existing: StoredFlag | undefined, version: number, at: string) => AuditEntry,
  ): Promise<WriteResult> {
    return fsCall(async () => {
      await ensureDir();
      return locked(async () => {
        const state = (await readState()) ?? (await createSeeded());
        const existing = state.flags.get(key);
        // A delete of nothing is "not found" whatever If-Match says (as in the Upstash store).
        if (action === "delete" && !existing) throw new StoreNotFoundError(key);
        const actual = existing?.revision ?? 0;
        if (writeOptions.ifMatch !== undefined && writeOptions.ifMatch !== actual) {
          throw new StoreConflictError(key, writeOptions.ifMatch, actual);
        }
        const version = state.version + 1;
        const entry = change(state, existing, version, new Date().toISOString());
        await appendAudit([entry]);
        state.version = version;
        await writeState(state);
        // The write is done; a failed trim is retried by the next write rather than reported as a failed write.
        await trimAudit().catch(() => undefined);
        const stored = state.flags.get(key);
        return action === "put" && stored ? { version, stored: copy(stored) } : { version };
      });
    });
  }

  /** File system failures become StoreUnavailableError; the store's own verdicts pass through. */
  async function fsCall<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (
        error instanceof StoreUnavailableError ||
        error instanceof StoreConflictError ||
        error instanceof StoreNotFoundError
      ) {
        throw error;
      }
      throw new StoreUnavailableError(`flag files in ${dir}: ${causeMessage(error)}`, { cause: error });
    }
  }

  return {
    kind: "file",

    version: () => fsCall(async () => (await current()).version),

    load: () =>
      fsCall(async (): Promise<RuleSet> => {
        const state = await current();
        return {
          version: state.version,
          flags: Object.fromEntries([...state.flags.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
        };
      }),

    async get(key) {
      checkKey(key, "key");
      return fsCall(async () => (await current()).flags.get(key));
    },

    async put(flag: Flag, writeOptions: WriteOptions): Promise<WriteResult> {
      checkFlag(flag);
      checkWriteOptions(writeOptions);
      const after = copy(flag);
      return write("put", flag.key, writeOptions, (state, existing, version, at) => {
        state.flags.set(flag.key, { flag: after, revision: version, updatedAt: at, updatedBy: writeOptions.actor });
        return {
          id: String(version),
          at,
          actor: writeOptions.actor,
          action: "put",
          key: flag.key,
          version,
          ...(existing ? { before: existing.flag } : {}),
          after,
        };
      });
    },

    async delete(key: string, writeOptions: WriteOptions): Promise<WriteResult> {
      checkKey(key, "key");
      checkWriteOptions(writeOptions);
      return write("delete", key, writeOptions, (state, existing, version, at) => {
        state.flags.delete(key);
        return {
          id: String(version),
          at,
          actor: writeOptions.actor,
          action: "delete",
          key,
          version,
          ...(existing ? { before: existing.flag } : {}),
        };
      });
    },

    async audit(auditOptions = {}) {
      const limit = auditLimit(auditOptions.limit);
      const { before } = auditOptions;
      // An id this store never issued pages past everything (as a paged-out id would).
      if (before !== undefined && !/^\d+$/.test(before)) return [];
      return fsCall(async () => {
        const { version } = await current();
        // The last line for a version wins: an earlier one is from a write that crashed before flags.json.
        const byVersion = new Map<number, AuditEntry>();
        for (const entry of await readAudit()) if (entry.version <= version) byVersion.set(entry.version, entry);
        const bound = before === undefined ? Number.POSITIVE_INFINITY : Number(before);
        return [...byVersion.values()]
          .filter((entry) => entry.version < bound)
          .sort((a, b) => b.version - a.version)
          .slice(0, limit);
      });
    },
  };
}
