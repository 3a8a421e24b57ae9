// Flag writes notify after they succeeded: created, changed, deleted, each once with its own id; a refused write
// tells nothing, and a receiver that is down never fails a write. Through the store the flag server builds.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { flagsConfigFromEnv } from "../../functions/flags/config.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { StoreConflictError } from "../../functions/flags/types.ts";
import { notifyingStore } from "../../functions/notify/flags.ts";
import { createNotifier, DEFAULT_NOTIFIER_SETTINGS, type NotifySummary } from "../../functions/notify/notifier.ts";
import { cloudEventsOf, downUrl, type Receiver, recordingSleep, startReceiver } from "./receiver.ts";

let dir: string;
let slack: Receiver;
let ce: Receiver;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "greenlight-notify-"));
  slack = await startReceiver();
  ce = await startReceiver();
});
afterEach(async () => {
  await Promise.all([slack.close(), ce.close(), rm(dir, { recursive: true, force: true })]);
});

const cloudEvents = () => cloudEventsOf(ce);
const write = { actor: "alice", token: "ops" };

describe("flag writes through the flag server's store", () => {
  it("created, changed and deleted arrive once each, in order, with the actor and the version", async () => {
    const config = flagsConfigFromEnv(
      {
        GREENLIGHT_FLAGS_DIR: dir,
        GREENLIGHT_NOTIFY_SLACK_URL: slack.url,
        GREENLIGHT_NOTIFY_CLOUDEVENTS_URL: ce.url,
        GREENLIGHT_NOTIFY_CLOUDEVENTS_MODE: "structured",
      },
      { cwd: dir },
    );
    const { store } = config;
    expect(store.kind).toBe("file");
    const created = await store.put({ key: "beta", state: "enabled" }, write);
    expect(created.created).toBe(true);
    await store.put({ key: "beta", state: "partial", percentage: 25 }, write);
    await store.delete("beta", write);
    expect(cloudEvents().map((e) => e.type)).toEqual([
      "dev.greenlight.flag.created",
      "dev.greenlight.flag.changed",
      "dev.greenlight.flag.deleted",
    ]);
    expect(ce.received[0]?.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
    expect(cloudEvents()[1]).toMatchObject({ source: "/admin/flags/beta", subject: "beta" });
    expect(cloudEvents()[1]?.data).toMatchObject({ key: "beta", actor: "alice", token: "ops", percentage: 25 });
    expect(new Set(cloudEvents().map((e) => e.id)).size).toBe(3);
    expect(JSON.parse(slack.received[1]?.body ?? "{}").text).toMatch(
      /^flag beta changed by alice: now partial at 25% \(token ops, rule-set version \d+\)$/,
    );
    // The rest of the store is the store's own.
    expect(await store.get("beta")).toBeUndefined();
  });

  it("a guarded rollout's step is told; the stepper's judgements that held are not, a person's edit is", async () => {
    const config = flagsConfigFromEnv(
      {
        GREENLIGHT_FLAGS_DIR: dir,
        GREENLIGHT_NOTIFY_CLOUDEVENTS_URL: ce.url,
        GREENLIGHT_NOTIFY_CLOUDEVENTS_MODE: "structured",
      },
      { cwd: dir },
    );
    const { store } = config;
    const rollout = { steps: [10, 100], interval: "1m" };
    const status = (since: string, checkedAt?: string) => ({
      phase: "progressing" as const,
      step: 0,
      share: 10,
      since,
      plan: "p",
      ...(checkedAt ? { checkedAt } : {}),
    });
    const flag = { key: "beta", state: "partial" as const, percentage: 10, rollout };
    const stepper = { actor: "greenlight-stepper" };
    // The start (since moves): told.
    await store.put({ ...flag, rolloutStatus: status("2026-12-07T10:00:00Z") }, stepper);
    // Two judgements that held (checkedAt moves, since does not): written, not told.
    await store.put({ ...flag, rolloutStatus: status("2026-12-07T10:00:00Z", "2026-12-07T10:01:00Z") }, stepper);
    await store.put({ ...flag, rolloutStatus: status("2026-12-07T10:00:00Z", "2026-12-07T10:02:00Z") }, stepper);
    // A person's edit of the same flag mid-rollout: told.
    await store.put(
      { ...flag, description: "new", rolloutStatus: status("2026-12-07T10:00:00Z", "2026-12-07T10:02:00Z") },
      write,
    );
    // The step up (since and checkedAt move together): told.
    const stepped = { ...status("2026-12-07T10:03:00Z", "2026-12-07T10:03:00Z"), step: 1, share: 100 };
    await store.put({ ...flag, percentage: 100, rolloutStatus: stepped }, stepper);
    expect((await store.get("beta"))?.flag.rolloutStatus?.share).toBe(100);
    expect(cloudEvents().map((e) => [e.type, (e.data as { actor?: string }).actor])).toEqual([
      ["dev.greenlight.flag.created", "greenlight-stepper"],
      ["dev.greenlight.flag.changed", "alice"],
      ["dev.greenlight.flag.changed", "greenlight-stepper"],
    ]);
  });

  it("a refused write tells nothing", async () => {
    const settled: NotifySummary[] = [];
    const notifier = createNotifier({ ...DEFAULT_NOTIFIER_SETTINGS, defaults: { cloudevents: ce.url } });
    const store = notifyingStore(createFileStore({ dir }), notifier, { onSettled: (s) => settled.push(s) });
    await store.put({ key: "a", state: "enabled" }, write);
    await expect(store.put({ key: "a", state: "disabled" }, { ...write, ifMatch: 0 })).rejects.toBeInstanceOf(
      StoreConflictError,
    );
    await expect(store.delete("missing", write)).rejects.toThrow();
    expect(cloudEvents().map((e) => e.type)).toEqual(["dev.greenlight.flag.created"]);
    expect(settled).toHaveLength(1);
  });

  it("a receiver that is down: the write succeeds, the delivery is reported failed", async () => {
    const settled: NotifySummary[] = [];
    const notifier = createNotifier(
      { ...DEFAULT_NOTIFIER_SETTINGS, defaults: { slack: await downUrl() } },
      { sleep: recordingSleep().sleep },
    );
    const store = notifyingStore(createFileStore({ dir }), notifier, { onSettled: (s) => settled.push(s) });
    const result = await store.put({ key: "a", state: "enabled" }, write);
    expect(result.created).toBe(true);
    expect((await store.get("a"))?.flag.state).toBe("enabled");
    expect(settled[0]).toMatchObject({ sent: 0, failed: 1 });
  });

  it("no notify variable: the store is the plain store", () => {
    const config = flagsConfigFromEnv({ GREENLIGHT_FLAGS_DIR: dir }, { cwd: dir });
    expect(Object.getPrototypeOf(config.store)).toBe(Object.prototype);
  });
});
