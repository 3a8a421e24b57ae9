// The flag server on a real port, driven by the real OpenFeature OFREP clients: the web provider and the server provider.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { OFREPProvider } from "@openfeature/ofrep-provider";
import { OFREPWebProvider } from "@openfeature/ofrep-web-provider";
import { OpenFeature as ServerOpenFeature } from "@openfeature/server-sdk";
import { ErrorCode, ProviderEvents, OpenFeature as WebOpenFeature } from "@openfeature/web-sdk";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import type { FlagHttpOptions } from "../../functions/flags/http/handler.ts";
import { createMemoryStore, type MemoryStore, TEST_FLAGS } from "./memory-store.ts";

const ADMIN = "conformance-admin-token";

interface Exchange {
  path: string;
  ifNoneMatch: string | null;
  status: number;
  etag: string | null;
  body: string;
}

interface Running {
  baseUrl: string;
  store: MemoryStore;
  /** Every request the clients sent through `fetchImplementation`, with the answer's status and ETag. */
  exchanges: Exchange[];
  recordingFetch: typeof fetch;
  close(): Promise<void>;
}

const servers: Running[] = [];

async function start(options: Partial<FlagHttpOptions> = {}): Promise<Running> {
  const store = createMemoryStore({ seed: TEST_FLAGS });
  const cache = createRuleCache(store, { ttlMs: 60_000 });
  const app = createFlagsApp({ store, cache, adminToken: ADMIN, ...options });
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  const exchanges: Exchange[] = [];
  const recordingFetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const request = new Request(input, init);
    const body = await request.clone().text();
    const response = await fetch(request);
    exchanges.push({
      path: new URL(request.url).pathname,
      ifNoneMatch: request.headers.get("if-none-match"),
      status: response.status,
      etag: response.headers.get("etag"),
      body,
    });
    return response;
  }) as typeof fetch;
  const running: Running = {
    baseUrl: `http://127.0.0.1:${port}`,
    store,
    exchanges,
    recordingFetch,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(running);
  return running;
}

afterEach(async () => {
  // Both SDKs are process-wide singletons: close the providers (stops the web provider's polling) before the servers.
  await WebOpenFeature.clearProviders();
  await WebOpenFeature.clearContext();
  await ServerOpenFeature.clearProviders();
  for (const running of servers.splice(0)) await running.close();
});

function webProvider(running: Running, extra: Record<string, unknown> = {}): OFREPWebProvider {
  return new OFREPWebProvider({
    baseUrl: running.baseUrl,
    fetchImplementation: running.recordingFetch,
    cacheMode: "disabled",
    changeDetection: "polling",
    pollInterval: 0,
    ...extra,
  });
}

describe("OFREP web provider (bulk evaluation, static context)", () => {
  it("evaluates boolean, string, number and object flags with reasons and variants", async () => {
    const running = await start();
    await WebOpenFeature.setProviderAndWait(webProvider(running), { targetingKey: "user-1", segment: "beta" });
    const client = WebOpenFeature.getClient();

    expect(client.getBooleanDetails("banner", false)).toMatchObject({ value: true, reason: "STATIC", variant: "on" });
    expect(client.getBooleanDetails("checkout", true)).toMatchObject({
      value: false,
      reason: "DISABLED",
      variant: "off",
    });
    expect(client.getStringDetails("theme", "light")).toMatchObject({
      value: "dark",
      reason: "STATIC",
      variant: "dark",
    });
    expect(client.getNumberDetails("max-items", 0)).toMatchObject({ value: 10, variant: "ten" });
    expect(client.getObjectDetails("layout", {})).toMatchObject({
      value: { columns: 3, dense: true },
      variant: "grid",
    });
    expect(client.getBooleanDetails("beta-tools", false)).toMatchObject({ value: true, reason: "TARGETING_MATCH" });
    expect(client.getBooleanDetails("half", false).reason).toBe("SPLIT");

    const bulk = running.exchanges.filter((exchange) => exchange.path === "/ofrep/v1/evaluate/flags");
    expect(bulk).toHaveLength(1);
    expect(JSON.parse(bulk[0]?.body ?? "{}")).toEqual({ context: { targetingKey: "user-1", segment: "beta" } });
    expect(bulk[0]?.status).toBe(200);
    expect(bulk[0]?.etag).toMatch(/^"8-[0-9a-f]{1,14}"$/);
  });

  it("re-evaluates every flag in bulk when the context changes", async () => {
    const running = await start();
    await WebOpenFeature.setProviderAndWait(webProvider(running), { targetingKey: "user-1", segment: "beta" });
    const client = WebOpenFeature.getClient();
    expect(client.getBooleanDetails("beta-tools", false).value).toBe(true);

    await WebOpenFeature.setContext({ targetingKey: "user-1", segment: "internal" });
    expect(client.getBooleanDetails("beta-tools", true)).toMatchObject({
      value: false,
      reason: "DEFAULT",
      variant: "off",
    });
    const bodies = running.exchanges.map((exchange) => JSON.parse(exchange.body).context.segment);
    expect(bodies).toEqual(["beta", "internal"]);
  });

  it("gives the default value with an error code for unknown flags, split flags without a key and wrong types", async () => {
    const running = await start();
    await WebOpenFeature.setProviderAndWait(webProvider(running), { segment: "beta" });
    const client = WebOpenFeature.getClient();

    const missing = client.getBooleanDetails("no-such-flag", true);
    expect(missing).toMatchObject({ value: true, reason: "ERROR", errorCode: ErrorCode.FLAG_NOT_FOUND });
    const keyless = client.getBooleanDetails("half", true);
    expect(keyless).toMatchObject({ value: true, reason: "ERROR", errorCode: ErrorCode.TARGETING_KEY_MISSING });
    expect(keyless.errorMessage).toMatch(/targetingKey/);
    const mismatch = client.getNumberDetails("banner", 7);
    expect(mismatch).toMatchObject({ value: 7, errorCode: ErrorCode.TYPE_MISMATCH });
  });

  it("polls with If-None-Match, gets 304 while nothing changed, then sees a write and emits ConfigurationChanged", async () => {
    const running = await start();
    const provider = webProvider(running, { pollInterval: 50 });
    await WebOpenFeature.setProviderAndWait(provider, { targetingKey: "user-1" });
    const client = WebOpenFeature.getClient();
    expect(client.getBooleanDetails("banner", false).value).toBe(true);
    const firstEtag = running.exchanges[0]?.etag;
    expect(firstEtag).toBeTruthy();

    await vi.waitFor(
      () => {
        const polls = running.exchanges.slice(1);
        expect(polls.length).toBeGreaterThanOrEqual(2);
        expect(polls.every((poll) => poll.ifNoneMatch === firstEtag && poll.status === 304)).toBe(true);
      },
      { timeout: 10_000, interval: 20 },
    );

    const changed: string[][] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
      changed.push(details?.flagsChanged ?? []);
    });
    const write = await fetch(`${running.baseUrl}/admin/flags/banner`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ key: "banner", state: "disabled" }),
    });
    expect(write.status).toBe(200);

    await vi.waitFor(
      () => {
        expect(changed.some((keys) => keys.includes("banner"))).toBe(true);
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(client.getBooleanDetails("banner", true)).toMatchObject({ value: false, reason: "DISABLED" });
    const refreshed = running.exchanges.find((exchange) => exchange.status === 200 && exchange.etag !== firstEtag);
    expect(refreshed?.ifNoneMatch).toBe(firstEtag);
    expect(refreshed?.etag).toMatch(/^"9-/);
  });

  it("sends the API key it is given and is refused without it", async () => {
    const running = await start({ evaluationApiKey: "web-key" });
    await WebOpenFeature.setProviderAndWait(webProvider(running, { headers: [["Authorization", "Bearer web-key"]] }), {
      targetingKey: "user-1",
    });
    expect(WebOpenFeature.getClient().getBooleanDetails("banner", false).value).toBe(true);
    await WebOpenFeature.clearProviders();

    await expect(
      WebOpenFeature.setProviderAndWait(webProvider(running), { targetingKey: "user-1" }),
    ).rejects.toBeDefined();
    expect(running.exchanges.at(-1)?.status).toBe(401);
  });
});

describe("OFREP server provider (single evaluation, dynamic context)", () => {
  async function serverClient(running: Running, headers?: Record<string, string>) {
    await ServerOpenFeature.setProviderAndWait(
      new OFREPProvider({ baseUrl: running.baseUrl, fetchImplementation: running.recordingFetch, headers }),
    );
    return ServerOpenFeature.getClient();
  }

  it("evaluates each kind of flag with reason and variant, one request per evaluation", async () => {
    const running = await start();
    const client = await serverClient(running);
    const context = { targetingKey: "user-7", segment: "beta" };
    expect(await client.getBooleanDetails("banner", false, context)).toMatchObject({
      value: true,
      reason: "STATIC",
      variant: "on",
    });
    expect(await client.getStringDetails("theme", "light", context)).toMatchObject({ value: "dark", variant: "dark" });
    expect(await client.getNumberDetails("max-items", 1, context)).toMatchObject({ value: 10, variant: "ten" });
    expect(await client.getObjectDetails("layout", {}, context)).toMatchObject({ value: { columns: 3, dense: true } });
    expect(await client.getBooleanDetails("beta-tools", false, context)).toMatchObject({
      value: true,
      reason: "TARGETING_MATCH",
    });
    expect((await client.getBooleanDetails("half", false, context)).reason).toBe("SPLIT");
    expect(running.exchanges.map((exchange) => exchange.path)).toEqual([
      "/ofrep/v1/evaluate/flags/banner",
      "/ofrep/v1/evaluate/flags/theme",
      "/ofrep/v1/evaluate/flags/max-items",
      "/ofrep/v1/evaluate/flags/layout",
      "/ofrep/v1/evaluate/flags/beta-tools",
      "/ofrep/v1/evaluate/flags/half",
    ]);
    expect(JSON.parse(running.exchanges[0]?.body ?? "{}").context).toMatchObject(context);
  });

  it("reports TARGETING_KEY_MISSING, FLAG_NOT_FOUND and INVALID_CONTEXT with the default value", async () => {
    const running = await start();
    const client = await serverClient(running);
    const keyless = await client.getBooleanDetails("half", true, { segment: "beta" });
    expect(keyless).toMatchObject({ value: true, reason: "ERROR", errorCode: ErrorCode.TARGETING_KEY_MISSING });
    expect(keyless.errorMessage).toMatch(/targetingKey/);
    expect(running.exchanges.at(-1)?.status).toBe(400);

    const missing = await client.getStringDetails("no-such-flag", "fallback", { targetingKey: "u" });
    expect(missing).toMatchObject({ value: "fallback", errorCode: ErrorCode.FLAG_NOT_FOUND });
    expect(running.exchanges.at(-1)?.status).toBe(404);

    const invalid = await client.getBooleanDetails("banner", false, { targetingKey: 42 as unknown as string });
    expect(invalid).toMatchObject({ value: false, errorCode: ErrorCode.INVALID_CONTEXT });
    expect(invalid.errorMessage).toMatch(/context.targetingKey must be a string/);
  });

  it("surfaces a 500 (no rules while the store is down) as GENERAL with the server's details", async () => {
    const running = await start();
    running.store.down = true;
    const client = await serverClient(running);
    const details = await client.getBooleanDetails("banner", false, { targetingKey: "u" });
    expect(details).toMatchObject({ value: false, reason: "ERROR", errorCode: ErrorCode.GENERAL });
    expect(details.errorMessage).toMatch(/no flag rules available/);
    expect(running.exchanges.at(-1)?.status).toBe(500);
  });

  it("sends the API key as a bearer token; without it the evaluation fails to the default", async () => {
    const running = await start({ evaluationApiKey: "server-key" });
    const keyed = await serverClient(running, { Authorization: "Bearer server-key" });
    expect((await keyed.getBooleanDetails("banner", false, { targetingKey: "u" })).value).toBe(true);
    await ServerOpenFeature.clearProviders();
    const unkeyed = await serverClient(running);
    const refused = await unkeyed.getBooleanDetails("banner", false, { targetingKey: "u" });
    expect(refused).toMatchObject({ value: false, reason: "ERROR" });
    expect(running.exchanges.at(-1)?.status).toBe(401);
  });
});
