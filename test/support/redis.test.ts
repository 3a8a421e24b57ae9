// The test Redis helpers: the RESP client, private redis-server instances, and the Upstash REST bridge over them.
import { accessSync, constants } from "node:fs";
import { Redis } from "@upstash/redis";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRedisBinary, REDIS_INSTALL_HINT, type RunningRedis, startRedis } from "../../scripts/services/redis.ts";
import {
  encodeCommand,
  RespConnection,
  RespParser,
  type RespReply,
  redisCommand,
  startMonitor,
} from "../../scripts/services/resp.ts";
import { type RunningUpstashBridge, startUpstashBridge } from "../../scripts/services/upstash-bridge.ts";

const TOKEN = "bridge-test-token";
let redis: RunningRedis;
let bridge: RunningUpstashBridge;

beforeAll(async () => {
  redis = await startRedis();
  bridge = await startUpstashBridge({ redisPort: redis.port, token: TOKEN });
});

afterAll(async () => {
  await bridge?.close();
  await redis?.close();
});

/** RESP2 as the protocol spec writes it, independent of the parser under test. */
function encodeReply(reply: RespReply): Buffer {
  switch (reply.kind) {
    case "simple":
      return Buffer.from(`+${reply.value}\r\n`);
    case "error":
      return Buffer.from(`-${reply.message}\r\n`);
    case "integer":
      return Buffer.from(`:${reply.value}\r\n`);
    case "bulk":
      return Buffer.concat([Buffer.from(`$${reply.value.length}\r\n`), reply.value, Buffer.from("\r\n")]);
    case "nil":
      return Buffer.from("$-1\r\n");
    case "array":
      return Buffer.concat([Buffer.from(`*${reply.items.length}\r\n`), ...reply.items.map(encodeReply)]);
  }
}

const line = fc.string({ unit: "grapheme" }).filter((text) => !/[\r\n]/.test(text));
const replyArbitrary: fc.Arbitrary<RespReply> = fc.letrec<{ reply: RespReply }>((tie) => ({
  reply: fc.oneof(
    { depthSize: "small" },
    line.map((value): RespReply => ({ kind: "simple", value })),
    line.map((message): RespReply => ({ kind: "error", message })),
    fc.integer().map((value): RespReply => ({ kind: "integer", value })),
    fc.uint8Array({ maxLength: 40 }).map((bytes): RespReply => ({ kind: "bulk", value: Buffer.from(bytes) })),
    fc.constant<RespReply>({ kind: "nil" }),
    fc.array(tie("reply"), { maxLength: 4 }).map((items): RespReply => ({ kind: "array", items })),
  ),
})).reply;

describe("RESP", () => {
  it("parses any sequence of replies, however the bytes are split into chunks", () => {
    fc.assert(
      fc.property(
        fc.array(replyArbitrary, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (replies, cuts) => {
          const bytes = Buffer.concat(replies.map(encodeReply));
          const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
          const parser = new RespParser();
          const parsed: RespReply[] = [];
          let start = 0;
          for (const point of [...points, bytes.length]) {
            parsed.push(...parser.push(bytes.subarray(start, point)));
            start = point;
          }
          expect(parsed).toEqual(replies);
        },
      ),
    );
  });

  it("encodes a command as an array of bulk strings, byte lengths for multi-byte text", () => {
    expect(encodeCommand(["SET", "k", "é", 5]).toString("utf8")).toBe(
      "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n$1\r\n5\r\n",
    );
  });

  it("talks to redis-server: replies in order, binary-safe values, errors as replies", async () => {
    const connection = await RespConnection.connect(redis.port);
    try {
      const binary = Buffer.from([0, 255, 13, 10, 128]);
      const replies = await connection.sendMany([
        ["SET", "resp:bin", binary],
        ["GET", "resp:bin"],
        ["INCR", "resp:bin"],
        ["GET", "resp:none"],
      ]);
      expect(replies).toEqual([
        { kind: "simple", value: "OK" },
        { kind: "bulk", value: binary },
        { kind: "error", message: "ERR value is not an integer or out of range" },
        { kind: "nil" },
      ]);
    } finally {
      connection.close();
    }
  });
});

describe("redis-server for tests", () => {
  it("finds the binary the run's setup made sure of", () => {
    const binary = ensureRedisBinary();
    expect(binary).toMatch(/\/redis-server$/);
    expect(() => accessSync(binary, constants.X_OK)).not.toThrow();
  });

  it("tells a user who is not root, in one line, what to install", () => {
    expect(() => ensureRedisBinary({ searchPath: "", fallback: "/nonexistent/redis-server", isRoot: false })).toThrow(
      REDIS_INSTALL_HINT,
    );
    expect(REDIS_INSTALL_HINT).toBe(
      "redis-server not found: run `sudo apt-get install -y redis-server` (Debian) and re-run npm test",
    );
  });

  it("runs a private, empty server that stops, restarts on the same port and closes", async () => {
    const own = await startRedis();
    try {
      expect(own.port).not.toBe(6379);
      expect(own.port).not.toBe(redis.port);
      expect(await redisCommand(own.port, "DBSIZE")).toBe(0);
      expect(await redisCommand(own.port, "CONFIG", "GET", "save")).toEqual(["save", ""]);
      expect(await redisCommand(own.port, "CONFIG", "GET", "appendonly")).toEqual(["appendonly", "no"]);
      await redisCommand(own.port, "SET", "k", "v");

      await own.stop();
      await expect(redisCommand(own.port, "PING")).rejects.toThrow(/ECONNREFUSED/);
      await own.restart();
      expect(await redisCommand(own.port, "PING")).toBe("PONG");
      expect(await redisCommand(own.port, "GET", "k")).toBeNull();
    } finally {
      await own.close();
    }
    await expect(redisCommand(own.port, "PING")).rejects.toThrow(/ECONNREFUSED/);
  });
});

/** A raw request to the bridge, for checking the wire format the client relies on. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${bridge.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const BASE64 = { "upstash-encoding": "base64" };

describe("Upstash REST bridge: the wire format", () => {
  it("answers one command with {result}: plain, or base64 for every string but a bare OK", async () => {
    expect(await post("/", ["SET", "wire:k", "bar"], BASE64)).toEqual({ status: 200, body: { result: "OK" } });
    expect(await post("/", ["GET", "wire:k"], BASE64)).toEqual({ status: 200, body: { result: b64("bar") } });
    expect(await post("/", ["GET", "wire:k"])).toEqual({ status: 200, body: { result: "bar" } });
    expect(await post("/", ["PING"], BASE64)).toEqual({ status: 200, body: { result: b64("PONG") } });
    expect(await post("/", ["SET", "wire:ok", "OK"], BASE64)).toEqual({ status: 200, body: { result: "OK" } });
    // A stored value "OK" is a bulk string: encoded like any other.
    expect(await post("/", ["GET", "wire:ok"], BASE64)).toEqual({ status: 200, body: { result: b64("OK") } });
    expect(await post("/", ["GET", "wire:missing"], BASE64)).toEqual({ status: 200, body: { result: null } });
    expect(await post("/", ["INCR", "wire:n"], BASE64)).toEqual({ status: 200, body: { result: 1 } });
  });

  it("encodes strings nested in arrays, keeps numbers and nulls", async () => {
    await post("/", ["HSET", "wire:h", "f", "v"]);
    expect(await post("/", ["HGETALL", "wire:h"], BASE64)).toEqual({
      status: 200,
      body: { result: [b64("f"), b64("v")] },
    });
    expect(await post("/", ["EVAL", "return {1, 'x', {'OK', 2}}", "0"], BASE64)).toEqual({
      status: 200,
      body: { result: [1, b64("x"), [b64("OK"), 2]] },
    });
    expect(await post("/", ["MGET", "wire:k", "wire:missing"], BASE64)).toEqual({
      status: 200,
      body: { result: [b64("bar"), null] },
    });
  });

  it("answers a Redis error with HTTP 400 and {error}", async () => {
    expect(await post("/", ["INCR", "wire:k"])).toEqual({
      status: 400,
      body: { error: "ERR value is not an integer or out of range" },
    });
    expect(await post("/", ["NOSUCHCOMMAND"])).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^ERR unknown command/) },
    });
    expect(await post("/", { not: "a command" })).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^ERR /) },
    });
  });

  it("answers a pipeline with one {result} or {error} per command, HTTP 200", async () => {
    expect(
      await post(
        "/pipeline",
        [
          ["SET", "wire:p", "1"],
          ["INCR", "wire:k"],
          ["INCR", "wire:p"],
        ],
        BASE64,
      ),
    ).toEqual({
      status: 200,
      body: [{ result: "OK" }, { error: "ERR value is not an integer or out of range" }, { result: 2 }],
    });
  });

  it("runs /multi-exec inside MULTI/EXEC on one connection, and rejects a transaction Redis discards", async () => {
    const monitor = await startMonitor(redis.port);
    try {
      expect(
        await post(
          "/multi-exec",
          [
            ["SET", "wire:m", "a"],
            ["GET", "wire:m"],
          ],
          BASE64,
        ),
      ).toEqual({
        status: 200,
        body: [{ result: "OK" }, { result: b64("a") }],
      });
      await redisCommand(redis.port, "ECHO", "multi-exec-done");
      for (let i = 0; i < 500 && !monitor.lines.some((text) => text.includes("multi-exec-done")); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const lines = monitor.lines.filter((text) => /"(MULTI|EXEC)"|"wire:m"/.test(text));
      expect(lines.map((text) => /\] "([^"]*)"/.exec(text)?.[1]?.toUpperCase())).toEqual([
        "MULTI",
        "SET",
        "GET",
        "EXEC",
      ]);
      // MONITOR names the client (`[0 127.0.0.1:port]`): all four came over one connection.
      const clients = lines.map((text) => /\[\d+ ([^\]]+)\]/.exec(text)?.[1]);
      expect(new Set(clients).size).toBe(1);
    } finally {
      monitor.close();
    }
    expect(await post("/multi-exec", [["SET", "wire:m", "b"], ["NOSUCHCOMMAND"]])).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^EXECABORT/) },
    });
    expect(await redisCommand(redis.port, "GET", "wire:m")).toBe("a");
  });

  it("refuses a missing or wrong token with 401", async () => {
    expect(await post("/", ["PING"], { authorization: "Bearer nope" })).toEqual({
      status: 401,
      body: { error: "WRONGPASS invalid or missing auth token" },
    });
    const response = await fetch(bridge.url, { method: "POST", body: '["PING"]' });
    expect(response.status).toBe(401);
  });
});

describe("Upstash REST bridge: the real @upstash/redis client", () => {
  const client = (options: { token?: string; automaticDeserialization?: boolean } = {}) =>
    new Redis({
      url: bridge.url,
      token: options.token ?? TOKEN,
      enableTelemetry: false,
      retry: false,
      automaticDeserialization: options.automaticDeserialization ?? false,
    });

  it("sets and gets, counting requests", async () => {
    const redisClient = client();
    const before = bridge.requests;
    expect(await redisClient.set("client:k", "v")).toBe("OK");
    expect(await redisClient.get("client:k")).toBe("v");
    expect(bridge.requests - before).toBe(2);
  });

  it("round-trips unicode and binary-ish text through base64 exactly", async () => {
    const redisClient = client();
    const values = [
      "héllo wörld 🌍 日本",
      "OK",
      "YmFy",
      "\u0000\u0001\u001f tab\t newline\n",
      '{"a":1}',
      "",
      "null",
      "42",
    ];
    for (const [i, value] of values.entries()) await redisClient.set(`client:v${i}`, value);
    expect(await redisClient.mget(...values.map((_, i) => `client:v${i}`))).toEqual(values);
    for (const [i, value] of values.entries()) expect(await redisClient.get(`client:v${i}`)).toBe(value);
  });

  it("pipelines and runs transactions", async () => {
    const redisClient = client();
    const pipelined = await redisClient.pipeline().set("client:p", "1").incr("client:p").get("client:p").exec();
    expect(pipelined).toEqual(["OK", 2, "2"]);
    const transaction = await redisClient.multi().hset("client:h", { a: "x", b: "ÿ" }).hgetall("client:h").exec();
    expect(transaction).toEqual([2, ["a", "x", "b", "ÿ"]]);
    await expect(redisClient.pipeline().set("client:s", "a").incr("client:s").exec()).rejects.toThrow(
      "Command 2 [ incr ] failed: ERR value is not an integer or out of range",
    );
  });

  it("reads streams (three levels of nesting) and script results", async () => {
    const redisClient = client();
    const id = await redisClient.xadd("client:stream", "*", { field: "välue", n: "1" });
    expect(await redisClient.xrevrange("client:stream", "+", "-")).toEqual([[id, ["field", "välue", "n", "1"]]]);
    expect(await redisClient.eval("return {ARGV[1], 7}", [], ["ü"])).toEqual(["ü", 7]);
  });

  it("rejects with Upstash's error when the token is wrong", async () => {
    await expect(client({ token: "wrong" }).get("client:k")).rejects.toThrow(
      /^WRONGPASS invalid or missing auth token/,
    );
  });

  it("refuses connections while stopped and serves again after start", async () => {
    const redisClient = client();
    await bridge.stop();
    try {
      await expect(redisClient.get("client:k")).rejects.toThrow(/fetch failed/);
    } finally {
      await bridge.start();
    }
    expect(await redisClient.get("client:k")).toBe("v");
  });
});
