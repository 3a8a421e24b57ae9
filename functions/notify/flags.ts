// Flag writes as events: a store decorator that, after each successful put or delete, sends `flag.created`,
// `flag.changed` or `flag.deleted`. It is typed by shape, not by the flag store's own types, so this folder imports
// nothing of functions/flags (which imports it). The receivers are the environment's: flags have no annotations.
import { eventId, flagSource, makeEvent, type NotifyEvent } from "./event.ts";
import type { Notifier, NotifySummary } from "./notifier.ts";

interface FlagShape {
  key: string;
  state?: string;
  percentage?: number;
  description?: string;
}
interface WriteShape {
  actor: string;
  token?: string;
}
interface ResultShape {
  version: number;
  created?: boolean;
}

/** What the decorator needs of a store: put and delete (every other member is passed through untouched). */
export interface WritableFlagStore<F extends FlagShape, O extends WriteShape, R extends ResultShape> {
  put(flag: F, options: O): Promise<R>;
  delete(key: string, options: O): Promise<R>;
}

export interface FlagWrite {
  kind: "flag.created" | "flag.changed" | "flag.deleted";
  key: string;
  /** The rule-set version the write produced: with the key, it names this write. */
  version: number;
  actor: string;
  token?: string;
  flag?: FlagShape;
  now: Date;
}

export function flagNotification(write: FlagWrite): NotifyEvent {
  const verb = write.kind.slice("flag.".length);
  const state = write.flag?.state;
  const percentage = write.flag?.percentage;
  const what =
    write.kind === "flag.deleted"
      ? "removed from the rule set"
      : `${write.kind === "flag.created" ? "" : "now "}${state ?? "?"}${state === "partial" ? ` at ${percentage ?? 100}%` : ""}`;
  const by = `${write.token ? `token ${write.token}, ` : ""}rule-set version ${write.version}`;
  return makeEvent({
    id: eventId(write.kind, [write.key, write.version]),
    kind: write.kind,
    source: flagSource(write.key),
    subject: write.key,
    time: write.now.toISOString(),
    severity: write.kind === "flag.deleted" ? "warning" : "info",
    title: `flag ${write.key} ${verb} by ${write.actor}`,
    message: `${what} (${by})`,
    data: {
      key: write.key,
      version: write.version,
      actor: write.actor,
      ...(write.token ? { token: write.token } : {}),
      ...(state !== undefined ? { state } : {}),
      ...(percentage !== undefined ? { percentage } : {}),
    },
  });
}

export interface NotifyingOptions<F, O> {
  now?: () => Date;
  /**
   * Writes nobody needs to hear of (a guarded rollout's judgement that held its share: functions/flags gives
   * `isRolloutHold`); they are written as always, without a notification.
   */
  quiet?: (flag: F, write: O) => boolean;
  /** Each write's summary, once its deliveries settled (a log line, a test). */
  onSettled?: (summary: NotifySummary) => void;
}

/**
 * `store` whose put and delete notify after they succeeded. The write's answer waits for its deliveries at most the
 * notifier's budget (a Lambda may be frozen once it answers, so fire-and-forget would not reach the receiver); a
 * delivery still running then is dropped. A failed write notifies nothing, and a notification never fails a write.
 */
export function notifyingStore<
  F extends FlagShape,
  O extends WriteShape,
  R extends ResultShape,
  S extends WritableFlagStore<F, O, R>,
>(store: S, notifier: Notifier, options: NotifyingOptions<F, O> = {}): S {
  const now = options.now ?? (() => new Date());
  const tell = async (write: Omit<FlagWrite, "now">) => {
    try {
      const batch = notifier.batch();
      batch.notify(flagNotification({ ...write, now: now() }));
      // Awaited apart: `onSettled?.(await …)` would skip the wait itself when there is no onSettled.
      const summary = await batch.settle();
      options.onSettled?.(summary);
    } catch {
      // Never: a batch does not throw. Kept so a write's answer can never depend on its notification.
    }
  };
  const wrapped = Object.create(store) as S;
  wrapped.put = async (flag: F, write: O) => {
    const result = await store.put(flag, write);
    if (options.quiet?.(flag, write)) return result;
    await tell({
      kind: result.created ? "flag.created" : "flag.changed",
      key: flag.key,
      version: result.version,
      actor: write.actor,
      ...(write.token ? { token: write.token } : {}),
      flag,
    });
    return result;
  };
  wrapped.delete = async (key: string, write: O) => {
    const result = await store.delete(key, write);
    await tell({
      kind: "flag.deleted",
      key,
      version: result.version,
      actor: write.actor,
      ...(write.token ? { token: write.token } : {}),
    });
    return result;
  };
  return wrapped;
}
