// The Node adapter over a real node:http server, driven by raw sockets so the test controls what is on the wire.
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFlagsListener } from "../../functions/flags/http/node.ts";
import { readBody } from "../../functions/http/body.ts";
import type { HttpCore, HttpRequest } from "../../functions/http/message.ts";
import { type NodeListener, nodeListener } from "../../functions/http/node.ts";
import { createWebhookListener } from "../../webhooks/http/core.ts";
import { createMemoryStore, TEST_FLAGS } from "../flags/memory-store.ts";

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(listener: NodeListener): Promise<number> {
  const server = http.createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

interface Exchange {
  /** Everything the server sent, as text. */
  received: () => string;
  /** Resolves with the text once it holds a whole response (headers and a Content-Length body). */
  response: () => Promise<string>;
  /** Resolves when the server closed or reset the connection. */
  closed: Promise<void>;
  socket: net.Socket;
}

function connect(port: number): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    const waiting: Array<() => void> = [];
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      for (const wake of waiting.splice(0)) wake();
    });
    const closed = new Promise<void>((done) => {
      socket.on("close", () => done());
      socket.on("error", () => undefined);
    });
    const whole = (): boolean => {
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const length = /content-length: (\d+)/i.exec(text.slice(0, end));
      return length !== null && text.length >= end + 4 + Number(length[1]);
    };
    const response = (): Promise<string> =>
      new Promise((done) => {
        const check = (): void => {
          if (whole()) done(text);
          else waiting.push(check);
        };
        check();
      });
    socket.once("connect", () => resolve({ received: () => text, response, closed, socket }));
    socket.once("error", reject);
  });
}

const statusOf = (text: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
const bodyOf = (text: string): unknown => JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));

/** A core that reads the body with the same limit and says how many bytes it got and from whom. */
function countingCore(limit: number): HttpCore {
  return async (request: HttpRequest) => {
    const read = await readBody(request, limit);
    if (!read.ok)
      return { status: 413, headers: { "content-type": "application/json" }, body: '{"error":"too large"}' };
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ bytes: read.bytes.byteLength, client: request.clientAddress ?? null }),
    };
  };
}

describe("the Node adapter", () => {
  it("answers 413 to a declared Content-Length over the limit before the body is sent", async () => {
    const port = await serve(createWebhookListener({ bodyLimitBytes: 1024 }));
    const exchange = await connect(port);
    exchange.socket.write(
      "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n{",
    );
    const text = await exchange.response();
    expect(statusOf(text)).toBe(413);
    expect(bodyOf(text)).toEqual({ error: "body is larger than the 1024 byte limit" });
  });

  it("answers 413 in OFREP's shape on the flag API, before a 64 MB body is sent", async () => {
    const store = createMemoryStore({ seed: TEST_FLAGS });
    const port = await serve(createFlagsListener({ store, cache: createRuleCache(store) }));
    const exchange = await connect(port);
    exchange.socket.write(
      "POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n",
    );
    const text = await exchange.response();
    expect(statusOf(text)).toBe(413);
    expect(bodyOf(text)).toMatchObject({
      errorCode: "GENERAL",
      errorDetails: expect.stringMatching(/65536 byte limit/),
    });
  });

  it("cuts a chunked body at the limit, answers 413 while the client still sends, then closes after a bounded drain", async () => {
    const port = await serve(
      nodeListener(countingCore(100), { bodyLimitBytes: 100, lingerBytes: 1000, lingerMs: 60_000 }),
    );
    const exchange = await connect(port);
    exchange.socket.write("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    const chunk = "x".repeat(60);
    exchange.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    exchange.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const text = await exchange.response();
    expect(statusOf(text)).toBe(413);
    // The client goes on sending: past the linger bound the server closes the connection.
    const sending = setInterval(() => {
      if (!exchange.socket.destroyed) exchange.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    }, 1);
    await exchange.closed;
    clearInterval(sending);
  });

  it("passes a body within the limit whole, with the peer's address, and keeps the connection for the next request", async () => {
    const port = await serve(nodeListener(countingCore(100), { bodyLimitBytes: 100 }));
    const exchange = await connect(port);
    const body = "y".repeat(100);
    exchange.socket.write(`POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const first = await exchange.response();
    expect(statusOf(first)).toBe(200);
    expect(bodyOf(first)).toEqual({ bytes: 100, client: "127.0.0.1" });
    const before = exchange.received().length;
    exchange.socket.write("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok");
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (/\r\n\r\n\{"bytes":2,/.test(exchange.received().slice(before))) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
  });

  it("answers a core that answers at once, and gives a 500 (the server living on) to one that throws, rejects or answers what Node cannot write", async () => {
    const cores: Record<string, HttpCore> = {
      "/at-once": () => ({ status: 200, headers: { "content-type": "application/json" }, body: '{"at":"once"}' }),
      "/throws": () => {
        throw new Error("boom");
      },
      "/rejects": () => Promise.reject(new Error("boom")),
      "/bad-header": () => ({ status: 200, headers: { "x-bad": "line\r\nbreak" }, body: "{}" }),
    };
    const core: HttpCore = (request) => (cores[new URL(request.url).pathname] as HttpCore)(request);
    const port = await serve(nodeListener(core, { bodyLimitBytes: 100 }));
    for (const method of ["GET", "POST"]) {
      const exchange = await connect(port);
      const ask = async (path: string): Promise<string> => {
        const before = exchange.received().length;
        exchange.socket.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`);
        for (;;) {
          const text = exchange.received().slice(before);
          const end = text.indexOf("\r\n\r\n");
          const length = /content-length: (\d+)/i.exec(text);
          if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) return text;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      };
      expect(bodyOf(await ask("/at-once")), method).toEqual({ at: "once" });
      for (const path of ["/throws", "/rejects", "/bad-header"]) {
        const text = await ask(path);
        expect(statusOf(text), `${method} ${path}`).toBe(500);
        expect(bodyOf(text)).toEqual({ error: "internal error" });
      }
      // The same connection still serves.
      expect(statusOf(await ask("/at-once"))).toBe(200);
      exchange.socket.destroy();
    }
  });
});
