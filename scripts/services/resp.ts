// A minimal RESP2 client over node:net, for the tests' redis-server: the Upstash bridge, PINGs, TTL checks, MONITOR.
/*
 * Replies keep their RESP type (`simple` vs `bulk` matters to the bridge: Upstash leaves the status reply "OK"
 * unencoded and base64-encodes every other string). Commands are pipelined on one socket and answered in order;
 * replies nobody waits for (MONITOR's feed) go to `onPush`. Bulk strings stay bytes (Buffer): values are binary-safe.
 */
import { connect, type Socket } from "node:net";

export type RespReply =
  | { kind: "simple"; value: string }
  | { kind: "error"; message: string }
  | { kind: "integer"; value: number }
  | { kind: "bulk"; value: Buffer }
  | { kind: "nil" }
  | { kind: "array"; items: RespReply[] };

export type RespArgument = string | number | Buffer;

const CRLF = Buffer.from("\r\n");

/** A command as RESP2 sends it: an array of bulk strings. */
export function encodeCommand(args: readonly RespArgument[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg), "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/** One reply parsed from `buffer` at `offset`, with where the next one starts; undefined while incomplete. */
function parseAt(buffer: Buffer, offset: number): { reply: RespReply; next: number } | undefined {
  if (offset >= buffer.length) return undefined;
  const lineEnd = buffer.indexOf(CRLF, offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString("utf8", offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case "+":
      return { reply: { kind: "simple", value: line }, next: after };
    case "-":
      return { reply: { kind: "error", message: line }, next: after };
    case ":":
      return { reply: { kind: "integer", value: Number(line) }, next: after };
    case "$": {
      const length = Number(line);
      if (length < 0) return { reply: { kind: "nil" }, next: after };
      if (buffer.length < after + length + 2) return undefined;
      return {
        reply: { kind: "bulk", value: Buffer.from(buffer.subarray(after, after + length)) },
        next: after + length + 2,
      };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { reply: { kind: "nil" }, next: after };
      const items: RespReply[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parseAt(buffer, next);
        if (!item) return undefined;
        items.push(item.reply);
        next = item.next;
      }
      return { reply: { kind: "array", items }, next };
    }
    default:
      throw new Error(`RESP: unexpected type byte ${JSON.stringify(type)} at offset ${offset}`);
  }
}

/** Incremental parser: feed it socket chunks, get back every reply they completed. */
export class RespParser {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RespReply[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const replies: RespReply[] = [];
    let offset = 0;
    for (;;) {
      const parsed = parseAt(this.buffer, offset);
      if (!parsed) break;
      replies.push(parsed.reply);
      offset = parsed.next;
    }
    this.buffer = this.buffer.subarray(offset);
    return replies;
  }
}

interface Pending {
  resolve: (reply: RespReply) => void;
  reject: (error: Error) => void;
}

/** One connection to redis-server; commands are answered in the order they were sent. */
export class RespConnection {
  /** Replies that arrive while no command waits (MONITOR's feed). */
  onPush: ((reply: RespReply) => void) | undefined;
  private readonly pending: Pending[] = [];
  private readonly parser = new RespParser();
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      let replies: RespReply[];
      try {
        replies = this.parser.push(chunk);
      } catch (error) {
        socket.destroy(error as Error);
        return;
      }
      for (const reply of replies) {
        const waiter = this.pending.shift();
        if (waiter) waiter.resolve(reply);
        else this.onPush?.(reply);
      }
    });
    socket.on("error", (error) => {
      this.failure ??= error;
    });
    socket.on("close", () => {
      this.failure ??= new Error("connection to redis-server closed");
      for (const waiter of this.pending.splice(0)) waiter.reject(this.failure);
    });
  }

  static connect(port: number, host = "127.0.0.1", timeoutMs = 2_000): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.setNoDelay(true);
      const timer = setTimeout(
        () => socket.destroy(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", reject);
        resolve(new RespConnection(socket));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** False once the socket closed or failed: a pool must not hand it out again. */
  get usable(): boolean {
    return this.failure === undefined && !this.socket.destroyed;
  }

  send(args: readonly RespArgument[]): Promise<RespReply> {
    return this.sendMany([args]).then((replies) => replies[0] as RespReply);
  }

  /** Pipelines the commands in one write; resolves with their replies in order. */
  sendMany(commands: ReadonlyArray<readonly RespArgument[]>): Promise<RespReply[]> {
    if (this.failure) return Promise.reject(this.failure);
    const replies = commands.map(
      () => new Promise<RespReply>((resolve, reject) => this.pending.push({ resolve, reject })),
    );
    this.socket.write(Buffer.concat(commands.map(encodeCommand)));
    return Promise.all(replies);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A reply as plain data: strings for simple and bulk strings (UTF-8), numbers, null, arrays; errors throw. */
export function replyValue(reply: RespReply): unknown {
  switch (reply.kind) {
    case "simple":
      return reply.value;
    case "bulk":
      return reply.value.toString("utf8");
    case "integer":
      return reply.value;
    case "nil":
      return null;
    case "array":
      return reply.items.map(replyValue);
    case "error":
      throw new Error(reply.message);
  }
}

/** Runs one command on a connection of its own: for the occasional check (TTL, TYPE, PING) in tests. */
export async function redisCommand(port: number, ...args: RespArgument[]): Promise<unknown> {
  const connection = await RespConnection.connect(port);
  try {
    return replyValue(await connection.send(args));
  } finally {
    connection.close();
  }
}

export interface Monitor {
  /** Every command redis-server ran since the monitor started, as MONITOR prints it (`... "GET" "key"`). */
  readonly lines: string[];
  /** The command names (upper case) seen so far, scripts' own calls included. */
  commands(): string[];
  close(): void;
}

/** Starts MONITOR on a connection of its own; resolves once redis-server acknowledged it. */
export async function startMonitor(port: number): Promise<Monitor> {
  const connection = await RespConnection.connect(port);
  const lines: string[] = [];
  connection.onPush = (reply) => {
    if (reply.kind === "simple") lines.push(reply.value);
  };
  const ack = await connection.send(["MONITOR"]);
  if (ack.kind !== "simple" || ack.value !== "OK") {
    connection.close();
    throw new Error(`MONITOR answered ${JSON.stringify(replyValue(ack))}`);
  }
  return {
    lines,
    // A line reads `1700000000.123456 [0 127.0.0.1:5555] "SET" "k" "v"`; the first quoted word is the command.
    commands: () => lines.map((line) => /\] "([^"]*)"/.exec(line)?.[1]?.toUpperCase() ?? "").filter(Boolean),
    close: () => connection.close(),
  };
}
