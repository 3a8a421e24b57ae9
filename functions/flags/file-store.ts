// The embedded flag store (Node): a JSON file and an audit log in a directory, used when Upstash is not configured.
/*
 * Layout of `dir` (default DEFAULT_FLAGS_DIR, `.greenlight` under the working directory):
 * - `flags.json`   `{ "version": n, "head": "<write id>", "flags": { key: StoredFlag } }`, pretty-printed; replaced
 *                  whole on every write (temp file, fsync, rename), so a reader never sees half a file. `head` is the
 *                  id of the write that produced `version` (absent in files from before write ids).
 * - `audit.jsonl`  one AuditEntry per line plus `writeId` and `prevWriteId` (the write it followed), appended and
 *                  fsynced before flags.json is replaced; an entry's id is the version its write produced. The log
 *                  is read back from flags.json's `head` along `prevWriteId`, so a line whose write never reached
 *                  flags.json (a crash, or a writer that lost its lock) is never shown, wherever it sits in the file.
 *                  Once the log holds more than 2 x auditMaxLen entries it is cut back to the newest auditMaxLen.
 * - `flags.lock/`  a directory, created (mkdir is atomic) around every read-modify-write, because `greenlight flags
 *                  set` and a running `greenlight flags serve` may write from two processes; writes within one
 *                  process also queue. It holds one directory named by the holder (`<pid>-<random>`), with the
 *                  holder's temp files; the holder renews its mtime and the lock's every lockStaleMs / 4 (a
 *                  heartbeat). A lock with no heartbeat for lockStaleMs (10 s) belongs to a
 *                  process that died or is stalled, and is taken over: moved aside and deleted, temp files and all.
 * - `usage.json`   evaluation counts (usage.ts): `{ "countingSince": ms, "lastEvaluated": { key: ms },
 *                  "days": { "2026-11-26": { key: { variant: n } } } }`, replaced whole under the same lock as the
 *                  flags (read, add, temp file, rename), so two flushes, or a flush and a delete, never lose each
 *                  other's counts; days older than USAGE_DAYS_KEPT are dropped on each flush, and a delete forgets
 *                  the flag's last evaluation.
 * Why the temp files live in the lock: a file is committed by renaming it from `flags.lock/<token>/` to its place,
 * and that one rename is also the check that the lock is still ours: the path exists only while our lock does (the
 * token is never reused, and nobody else creates it). A holder stalled past lockStaleMs (a paused process, a
 * blocked event loop) whose lock was taken over finds `flags.lock/<token>/` gone, so creating or renaming its temp
 * file fails and the write fails with a StoreUnavailableError naming the lock: it can never overwrite the newer
 * writer's flags.json, and the audit line it may have appended is not on the chain from `head`.
 * Every call reads the files again (no cached copy), so `version()` sees other processes' writes at once.
 * The first call, when flags.json does not exist, creates it from `seed` (each seed flag its own version, written
 * by "seed", with audit entries); an audit.jsonl left from before is kept aside (`audit.jsonl.before-<ms>`), since
 * its ids would repeat. A flags.json that does not parse is never overwritten: every call fails with a
 * StoreUnavailableError naming the file and the fix.
 */
import { randomBytes } from "node:crypto";
import {
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  utimes,
} from "node:fs/promises";
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
  preconditionsHold,
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
  type UsageBatch,
  type UsageQuery,
  type UsageReport,
  type WriteOptions,
  type WriteResult,
} from "./types.ts";
import { checkUsageBatch, oldestKeptDay, record, usageDay, usageDays, usageReport } from "./usage.ts";

/** Where `greenlight flags serve` and the CLI keep flags without Upstash: `.greenlight` in the working directory. */
export const DEFAULT_FLAGS_DIR = ".greenlight";

export interface FileStoreOptions {
  /** The directory holding flags.json, audit.jsonl and flags.lock; created when missing. */
  dir: string;
  /** The flags a fresh store starts with (when flags.json does not exist yet). */
  seed?: readonly Flag[];
  /** Audit entries kept; default 10000. */
  auditMaxLen?: number;
  /** How long a lock may go without a heartbeat before another writer takes it over; default 10000 ms. */
  lockStaleMs?: number;
  /** The clock lock heartbeats are stamped and judged with; default Date.now (tests run one store's clock ahead). */
  now?: () => number;
  /**
   * Test seam, left out in product code: runs under the lock after the write's audit line is appended and just
   * before flags.json is replaced, the point where a stalled writer could do the most harm.
   */
  beforeCommit?: () => Promise<void> | void;
}

const STATE_FILE = "flags.json";
const AUDIT_FILE = "audit.jsonl";
const USAGE_FILE = "usage.json";
const LOCK_DIR = "flags.lock";
const DEFAULT_LOCK_STALE_MS = 10_000;
/** No audit line is shorter (`{"id":"1","at":"<24 chars>","actor":"","action":"put","key":"k","version":1}`). */
const MIN_AUDIT_LINE_BYTES = 64;

interface State {
  version: number;
  /** The write id of the write that produced `version`; undefined for a fresh store or a file from before ids. */
  head: string | undefined;
  flags: Map<string, StoredFlag>;
}

/** An audit line as stored: the entry, and where it sits in the chain of committed writes. */
interface AuditLine {
  entry: AuditEntry;
  writeId?: string;
  prevWriteId?: string;
}

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const newId = (): string => randomBytes(8).toString("hex");

/** usage.json as held in memory: every record without a prototype (flag keys such as "constructor" are valid). */
interface UsageState {
  countingSince: number | undefined;
  lastEvaluated: Record<string, number>;
  /** UTC day -> flag key -> variant -> evaluations. */
  days: Record<string, Record<string, Record<string, number>>>;
}

const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

/** usage.json's content, or a one-line reason it is not usage data. */
function usageStateOf(value: unknown): UsageState | string {
  if (!isObject(value)) return "is not a JSON object";
  const { countingSince, lastEvaluated, days } = value;
  if (countingSince !== undefined && !isCount(countingSince)) return "has a countingSince that is not a time in ms";
  if (!isObject(lastEvaluated) || !isObject(days)) return "lacks the lastEvaluated and days objects";
  const state: UsageState = { countingSince, lastEvaluated: record(), days: record() };
  for (const [key, at] of Object.entries(lastEvaluated)) {
    if (!isCount(at)) return `has lastEvaluated[${JSON.stringify(key)}] that is not a time in ms`;
    state.lastEvaluated[key] = at;
  }
  for (const [day, flags] of Object.entries(days)) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || !isObject(flags))
      return `has days[${JSON.stringify(day)}] that is not a day's counts`;
    const byFlag = record<Record<string, number>>();
    for (const [key, variants] of Object.entries(flags)) {
      if (!isObject(variants))
        return `has days[${JSON.stringify(day)}][${JSON.stringify(key)}] that is not counts by variant`;
      const counts = record<number>();
      for (const [variant, count] of Object.entries(variants)) {
        if (!isCount(count)) return `has a count in days[${JSON.stringify(day)}] that is not a whole number`;
        counts[variant] = count;
      }
      byFlag[key] = counts;
    }
    state.days[day] = byFlag;
  }
  return state;
}

/** An audit line read back, or undefined when it is not one (a torn last line after a crash, a hand edit). */
function auditLineOf(value: unknown): AuditLine | undefined {
  if (!isObject(value)) return undefined;
  const { writeId, prevWriteId, ...rest } = value;
  const { id, at, actor, token, action, key, version, before, after } = rest;
  if (typeof id !== "string" || typeof at !== "string" || typeof actor !== "string" || typeof key !== "string") {
    return undefined;
  }
  if (token !== undefined && typeof token !== "string") return undefined;
  if ((action !== "put" && action !== "delete") || !Number.isSafeInteger(version) || id !== String(version)) {
    return undefined;
  }
  if ((before !== undefined && !isObject(before)) || (after !== undefined && !isObject(after))) return undefined;
  if (
    (writeId !== undefined && typeof writeId !== "string") ||
    (prevWriteId !== undefined && typeof prevWriteId !== "string")
  ) {
    return undefined;
  }
  return {
    entry: rest as unknown as AuditEntry,
    ...(writeId === undefined ? {} : { writeId }),
    ...(prevWriteId === undefined ? {} : { prevWriteId }),
  };
}

/**
 * The committed entries, newest first: from `head` back along `prevWriteId`. Where the chain starts (a line with
 * no `prevWriteId`: the first write after a file from before write ids), older lines without ids are read as they
 * used to be: the last line for each version wins.
 */
function committedEntries(lines: readonly AuditLine[], state: State): AuditEntry[] {
  const lastByVersion = (candidates: readonly AuditLine[], below: number): AuditEntry[] => {
    const byVersion = new Map<number, AuditEntry>();
    for (const { entry } of candidates) if (entry.version < below) byVersion.set(entry.version, entry);
    return [...byVersion.values()].sort((a, b) => b.version - a.version);
  };
  if (state.head === undefined) return lastByVersion(lines, state.version + 1);
  const byId = new Map<string, AuditLine>();
  for (const line of lines) if (line.writeId !== undefined) byId.set(line.writeId, line);
  const chain: AuditEntry[] = [];
  let next: string | undefined = state.head;
  let reachedStart = false;
  // Bounded by the number of lines, so a hand-edited cycle cannot loop forever.
  while (next !== undefined && chain.length < lines.length) {
    const line = byId.get(next);
    if (!line) break;
    chain.push(line.entry);
    next = line.prevWriteId;
    reachedStart = next === undefined;
  }
  const oldest = chain.at(-1)?.version ?? 0;
  const legacy = reachedStart
    ? lastByVersion(
        lines.filter((line) => line.writeId === undefined),
        oldest,
      )
    : [];
  return [...chain, ...legacy];
}

/** An audit line as written: the entry, its write's id and the id of the write it followed (none: the first). */
const auditLine = (entry: AuditEntry, writeId: string, prevWriteId: string | undefined) => ({
  ...entry,
  writeId,
  ...(prevWriteId === undefined ? {} : { prevWriteId }),
});

/** A FlagStore in files under `options.dir` (see the header for the layout and the guarantees). */
export function createFileStore(options: FileStoreOptions): FlagStore {
  if (typeof options?.dir !== "string" || options.dir === "") {
    throw new TypeError(`dir must be a non-empty path, got ${JSON.stringify(options?.dir)}`);
  }
  const { dir } = options;
  const maxLen = positiveInteger("auditMaxLen", options.auditMaxLen, DEFAULT_AUDIT_MAX_LEN);
  const staleMs = positiveInteger("lockStaleMs", options.lockStaleMs, DEFAULT_LOCK_STALE_MS);
  const now = options.now ?? Date.now;
  const seed = [...(options.seed ?? [])];
  const seen = new Set<string>();
  for (const [index, flag] of seed.entries()) {
    checkFlag(flag);
    if (seen.has(flag.key)) throw new TypeError(`seed[${index}] repeats flag key "${flag.key}": keys must be unique`);
    seen.add(flag.key);
  }
  const statePath = join(dir, STATE_FILE);
  const auditPath = join(dir, AUDIT_FILE);
  const lockPath = join(dir, LOCK_DIR);
  const usagePath = join(dir, USAGE_FILE);
  const corrupt = (problem: string) =>
    new StoreUnavailableError(
      `${statePath} ${problem}: fix it by hand, or delete it to start over from the built-in flags (its audit log is kept aside)`,
    );

  // ---- reading -------------------------------------------------------------------------------------------------

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
    const { version, head, flags } = parsed;
    if (!(Number.isSafeInteger(version) && (version as number) >= 0)) {
      throw corrupt(`has version ${JSON.stringify(version)}, not a non-negative integer`);
    }
    if (head !== undefined && (typeof head !== "string" || head === "")) {
      throw corrupt(`has head ${JSON.stringify(head)?.slice(0, 60)}, not the id of a write (a non-empty string)`);
    }
    if (!isObject(flags)) throw corrupt(`has flags ${JSON.stringify(flags)?.slice(0, 60)}, not an object`);
    const state: State = { version: version as number, head, flags: new Map() };
    for (const [key, value] of Object.entries(flags)) {
      const storedFlag = storedFlagOf(value, key);
      if (isProblem(storedFlag)) throw corrupt(`has flags[${JSON.stringify(key)}] that ${storedFlag.problem}`);
      if (storedFlag.revision > state.version) {
        throw corrupt(`has flags[${JSON.stringify(key)}] at revision ${storedFlag.revision}, past version ${version}`);
      }
      state.flags.set(key, storedFlag);
    }
    return state;
  }

  async function readAudit(): Promise<AuditLine[]> {
    let text: string;
    try {
      text = await readFile(auditPath, "utf8");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return [];
      throw new StoreUnavailableError(`cannot read ${auditPath}: ${causeMessage(error)}`, { cause: error });
    }
    const lines: AuditLine[] = [];
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        const parsed = auditLineOf(JSON.parse(line));
        if (parsed) lines.push(parsed);
      } catch {
        // A torn line (a crash mid-append): the write it belonged to never reached flags.json.
      }
    }
    return lines;
  }

  /** usage.json (empty before the first flush); one that is not usage data fails the call, naming the fix. */
  async function readUsageState(): Promise<UsageState> {
    let text: string;
    try {
      text = await readFile(usagePath, "utf8");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return { countingSince: undefined, lastEvaluated: record(), days: record() };
      throw new StoreUnavailableError(`cannot read ${usagePath}: ${causeMessage(error)}`, { cause: error });
    }
    let state: UsageState | string;
    try {
      state = usageStateOf(JSON.parse(text));
    } catch (error) {
      state = `is not valid JSON (${causeMessage(error)})`;
    }
    if (typeof state === "string") {
      throw new StoreUnavailableError(
        `${usagePath} ${state}: delete it to start counting afresh (the flags are not affected)`,
      );
    }
    return state;
  }

  // ---- the lock ------------------------------------------------------------------------------------------------

  interface HeldLock {
    token: string;
    /** `flags.lock/<token>`: exists exactly while the lock is ours; holds our temp files. */
    ownDir: string;
    /** Set by the heartbeat when ownDir is gone: another writer took the lock over. */
    lost: boolean;
  }

  const lockLost = () =>
    new StoreUnavailableError(
      `${lockPath} was taken over by another writer while this write held it (its heartbeat had stopped for over ${staleMs} ms: was this process paused or its event loop blocked?): this write was not made and the other writer's stands; retry it`,
    );

  let queue: Promise<unknown> = Promise.resolve();

  /** Runs `work` after every earlier call of this store (one process's writes never race each other). */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  }

  /** How long ago the lock last showed life (it or a holder's directory changed), or undefined when it is gone. */
  async function lockAge(): Promise<number | undefined> {
    let newest: number;
    try {
      const info = await stat(lockPath);
      newest = info.mtimeMs;
      // The heartbeat renews the lock directory's mtime too, so a fresh one needs no look inside (waiters poll
      // often). A plain file is the lock of an older greenlight: its mtime is all there is.
      if (info.isDirectory() && now() - newest >= staleMs) {
        for (const name of await readdir(lockPath)) {
          const holder = await stat(join(lockPath, name)).catch(() => undefined);
          if (holder) newest = Math.max(newest, holder.mtimeMs);
        }
      }
    } catch {
      return undefined; // Released meanwhile.
    }
    return now() - newest;
  }

  /**
   * Takes a lock without a heartbeat for staleMs away (true), or leaves a live one alone (false). Moving it aside is
   * atomic, so of several writers taking over, one moves it and the others find it gone. Deleting it takes its
   * holder's directory along, which is what makes a stalled holder's commit fail instead of overwrite.
   */
  async function breakStaleLock(): Promise<boolean> {
    const age = await lockAge();
    if (age === undefined) return true;
    if (age < staleMs) return false;
    const aside = `${lockPath}.stale-${newId()}`;
    try {
      await rename(lockPath, aside);
    } catch {
      return true; // Someone else took it over or it was released: try again.
    }
    // Had the holder released it and another writer taken it between our look and the rename, that writer's
    // commit now fails like a stalled holder's: a failed write, never a lost one.
    await rm(aside, { recursive: true, force: true }).catch(() => undefined);
    return true;
  }

  /** Renews the heartbeat; our directory being gone means the lock was taken over. */
  async function beat(held: HeldLock): Promise<void> {
    const at = new Date(now());
    try {
      await utimes(held.ownDir, at, at);
    } catch (error) {
      if (errorCode(error) === "ENOENT") held.lost = true;
      return;
    }
    // The lock directory too, for an older greenlight that judges a lock by its own mtime.
    await utimes(lockPath, at, at).catch(() => undefined);
  }

  /** Who holds the lock (its directory is named `<pid>-<random>`), for the message of a writer that gave up. */
  async function describeHolder(): Promise<string> {
    const names = await readdir(lockPath).catch(() => []);
    const pids = names.map((name) => /^(\d+)-[0-9a-f]+$/.exec(name)?.[1]).filter((pid) => pid !== undefined);
    return pids.length > 0 ? `held by process ${pids.join(", ")}` : "no holder has marked it";
  }

  async function acquire(): Promise<HeldLock> {
    const token = `${process.pid}-${newId()}`;
    const held: HeldLock = { token, ownDir: join(lockPath, token), lost: false };
    const giveUpAt = Date.now() + 3 * staleMs;
    for (;;) {
      let created = false;
      try {
        await mkdir(lockPath);
        created = true;
        await mkdir(held.ownDir);
        return held;
      } catch (error) {
        const code = errorCode(error);
        // ENOENT: another writer took our fresh lock over before we marked it; try again.
        if (code !== "EEXIST" && code !== "ENOENT") {
          // Created but not marked (disk full?): a lock left behind would stall everyone for lockStaleMs.
          if (created) await release(held);
          throw new StoreUnavailableError(`cannot create ${lockPath}: ${causeMessage(error)}`, { cause: error });
        }
      }
      if (await breakStaleLock()) continue;
      if (Date.now() > giveUpAt) {
        throw new StoreUnavailableError(
          `${lockPath} has been held for over ${(3 * staleMs) / 1000} s with a live heartbeat (${await describeHolder()}): if no greenlight process is using ${dir}, delete it`,
        );
      }
      await sleep(2 + Math.random() * 10);
    }
  }

  /**
   * Gives the lock up. Our directory's path is ours alone, so removing it never touches another holder's; the lock
   * directory then goes only if empty (ENOTEMPTY: it was taken over meanwhile and belongs to its new holder).
   */
  async function release(held: HeldLock): Promise<void> {
    // Our temp files are renamed away or deleted by now, so rmdir suffices; rm -r only if one was left behind.
    await rmdir(held.ownDir).catch(() => rm(held.ownDir, { recursive: true, force: true }).catch(() => undefined));
    await rmdir(lockPath).catch(() => undefined);
  }

  /** Runs `work` with this process's queue and the cross-process lock held, heartbeating all along. */
  function locked<T>(work: (held: HeldLock) => Promise<T>): Promise<T> {
    return exclusive(async () => {
      const held = await acquire();
      const heartbeat = setInterval(() => void beat(held), Math.max(1, Math.floor(staleMs / 4)));
      // A heartbeat must not keep a CLI process alive once its work is done.
      heartbeat.unref();
      try {
        return await work(held);
      } finally {
        clearInterval(heartbeat);
        await release(held);
      }
    });
  }

  // ---- writing -------------------------------------------------------------------------------------------------

  /**
   * Writes `text` to `path` whole: a temp file inside the lock directory, fsync, rename into place, fsync the dir.
   * The rename fails when the lock was taken over (its directory, with the temp file, was moved away): then
   * nothing was replaced and the error says the lock was lost.
   */
  async function commit(held: HeldLock, path: string, text: string): Promise<void> {
    const temp = join(held.ownDir, `${newId()}.tmp`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, "wx");
      await handle.writeFile(text, "utf8");
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(temp, path);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      if (errorCode(error) === "ENOENT" && (held.lost || !(await stat(held.ownDir).catch(() => undefined)))) {
        throw lockLost();
      }
      throw error;
    }
    // The rename itself is durable once the directory is synced (not possible on every platform: best effort).
    const dirHandle = await open(dir, "r").catch(() => undefined);
    await dirHandle?.sync().catch(() => undefined);
    await dirHandle?.close();
  }

  async function writeState(held: HeldLock, state: State): Promise<void> {
    const flags = Object.fromEntries([...state.flags.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const head = state.head === undefined ? {} : { head: state.head };
    await commit(held, statePath, `${JSON.stringify({ version: state.version, ...head, flags }, null, 2)}\n`);
  }

  const auditText = (lines: readonly object[]): string => lines.map((line) => JSON.stringify(line)).join("\n");

  /** Appends lines (fsynced), starting on a fresh line if a crash left the last one torn. */
  async function appendAudit(lines: readonly object[]): Promise<void> {
    const handle = await open(auditPath, "a+");
    try {
      const { size } = await handle.stat();
      let prefix = "";
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = "\n";
      }
      await handle.appendFile(`${prefix}${auditText(lines)}\n`, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Cuts the log back to the newest auditMaxLen lines once it holds more than twice that. */
  async function trimAudit(held: HeldLock): Promise<void> {
    const { size } = await stat(auditPath);
    if (size / MIN_AUDIT_LINE_BYTES <= 2 * maxLen) return;
    const lines = (await readFile(auditPath, "utf8")).split("\n").filter((line) => line.trim() !== "");
    if (lines.length <= 2 * maxLen) return;
    await commit(held, auditPath, `${lines.slice(-maxLen).join("\n")}\n`);
  }

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

  /**
   * Creates flags.json from the seed; the lock must be held. An older audit log is kept aside by a hard link and
   * replaced (both through the lock, so a seeder that lost its lock destroys nothing), not mixed in.
   */
  async function createSeeded(held: HeldLock): Promise<State> {
    let aside = `${auditPath}.before-${Date.now()}`;
    for (;;) {
      try {
        await link(auditPath, aside);
        break;
      } catch (error) {
        if (errorCode(error) === "ENOENT") break;
        if (errorCode(error) !== "EEXIST") throw error;
        aside = `${auditPath}.before-${Date.now()}-${newId()}`;
      }
    }
    const at = new Date().toISOString();
    const state: State = { version: 0, head: undefined, flags: new Map() };
    const lines: object[] = [];
    for (const flag of seed) {
      const version = ++state.version;
      const after = copy(flag);
      const writeId = newId();
      state.flags.set(flag.key, { flag: after, revision: version, updatedAt: at, updatedBy: "seed" });
      const entry: AuditEntry = {
        id: String(version),
        at,
        actor: "seed",
        action: "put",
        key: flag.key,
        version,
        after,
      };
      lines.push(auditLine(entry, writeId, state.head));
      state.head = writeId;
    }
    await commit(held, auditPath, lines.length === 0 ? "" : `${auditText(lines)}\n`);
    await writeState(held, state);
    return state;
  }

  /** The current state for a reader, creating it from the seed on first use. */
  async function current(): Promise<State> {
    await ensureDir();
    const state = await readState();
    if (state) return state;
    return locked(async (held) => (await readState()) ?? (await createSeeded(held)));
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
      return locked(async (held) => {
        const state = (await readState()) ?? (await createSeeded(held));
        const existing = state.flags.get(key);
        // A delete of nothing is "not found" whatever the preconditions say (as in the Upstash store).
        if (action === "delete" && !existing) throw new StoreNotFoundError(key);
        const actual = existing?.revision ?? 0;
        if (!preconditionsHold(writeOptions, actual)) throw new StoreConflictError(key, writeOptions, actual);
        const version = state.version + 1;
        const entry = change(state, existing, version, new Date().toISOString());
        const writeId = newId();
        // Not the real check (the commit's rename is), but a writer whose heartbeat already found the lock
        // taken over adds no line to the log.
        if (held.lost) throw lockLost();
        await appendAudit([auditLine(entry, writeId, state.head)]);
        state.version = version;
        state.head = writeId;
        await options.beforeCommit?.();
        await writeState(held, state);
        // The write is done; forgetting a deleted flag's last evaluation is best effort (a flush may add it back).
        if (action === "delete") await forgetUsage(held, key).catch(() => undefined);
        // The write is done; a failed trim is retried by the next write rather than reported as a failed write.
        await trimAudit(held).catch(() => undefined);
        const after = state.flags.get(key);
        return action === "put" && after
          ? { version, stored: copy(after), created: existing === undefined }
          : { version };
      });
    });
  }

  async function writeUsageState(held: HeldLock, state: UsageState): Promise<void> {
    const { countingSince, lastEvaluated, days } = state;
    await commit(held, usagePath, `${JSON.stringify({ countingSince, lastEvaluated, days })}\n`);
  }

  /** Drops a deleted flag's last evaluation (the lock held), so that a flag made again under its key starts unused. */
  async function forgetUsage(held: HeldLock, key: string): Promise<void> {
    const state = await readUsageState();
    if (!Object.hasOwn(state.lastEvaluated, key)) return;
    delete state.lastEvaluated[key];
    await writeUsageState(held, state);
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
          ...(writeOptions.token === undefined ? {} : { token: writeOptions.token }),
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
          ...(writeOptions.token === undefined ? {} : { token: writeOptions.token }),
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
        const state = await current();
        const bound = before === undefined ? Number.POSITIVE_INFINITY : Number(before);
        return committedEntries(await readAudit(), state)
          .filter((entry) => entry.version < bound)
          .slice(0, limit);
      });
    },

    async recordUsage(batch: UsageBatch): Promise<void> {
      checkUsageBatch(batch);
      if (batch.counts.length === 0) return;
      await fsCall(async () => {
        await ensureDir();
        await locked(async (held) => {
          const state = await readUsageState();
          const day = usageDay(batch.at);
          const byFlag = state.days[day] ?? record<Record<string, number>>();
          state.days[day] = byFlag;
          for (const { key, variant, count } of batch.counts) {
            const variants = byFlag[key] ?? record<number>();
            byFlag[key] = variants;
            variants[variant] = (variants[variant] ?? 0) + count;
            state.lastEvaluated[key] = Math.max(state.lastEvaluated[key] ?? 0, batch.at);
          }
          state.countingSince = Math.min(state.countingSince ?? batch.countingSince, batch.countingSince);
          const oldest = oldestKeptDay(batch.at);
          for (const kept of Object.keys(state.days)) if (kept < oldest) delete state.days[kept];
          if (held.lost) throw lockLost();
          await writeUsageState(held, state);
        });
      });
    },

    async readUsage(query: UsageQuery = {}): Promise<UsageReport> {
      return fsCall(async () => {
        const state = await readUsageState();
        const counts = usageDays(query.now ?? Date.now(), query.days ?? 0).flatMap((day) =>
          Object.entries(state.days[day] ?? {}).flatMap(([key, variants]) =>
            Object.entries(variants).map(([variant, count]) => ({ key, variant, count })),
          ),
        );
        return usageReport(Object.entries(state.lastEvaluated), counts, state.countingSince);
      });
    },
  };
}
