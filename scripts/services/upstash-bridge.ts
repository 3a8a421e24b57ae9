// Upstash's REST API over a real redis-server, so the real @upstash/redis client runs against real Redis in tests.
/*
 * What @upstash/redis (v1.39, pkg/http.ts and pkg/pipeline.ts) sends, answered as Upstash answers it:
 * - `Authorization: Bearer <token>` (or `?_token=`) on every request; otherwise 401 `{error}`.
 * - `POST /` with one command as a JSON array (`["SET","k","v"]`) -> `{result}`; a Redis error -> 400 `{error}`.
 * - `POST /pipeline` with an array of commands -> 200 and one `{result}` | `{error}` per command, in order (not
 *   atomic). `POST /multi-exec` -> the same shape, run inside MULTI/EXEC on one connection (atomic); a transaction
 *   Redis discards as a whole (EXECABORT) -> 400 `{error}`.
 * - `Upstash-Encoding: base64` (the client's default): every string in a result is base64 of its bytes, nested
 *   ones too, except a top-level status reply "OK". The client base64-decodes every string of an array's first level
 *   without exception, so a status reply inside an array is encoded as well; integers stay numbers, nil is null.
 *   Without the header strings are UTF-8 text.
 * Test controls: `requests` counts HTTP requests, `commands` lists every command received (the store tests check
 * which commands were used); `stop()` closes the listener and destroys open sockets (connections are refused,
 * as when Upstash is unreachable), `start()` listens again on the same port. `hang(true)` makes it accept every new
 * request, read it and never answer (an Upstash that is up but stuck); `hang("after-running")` runs the commands
 * first, then never answers (the write happened, the client cannot know); `hang(false)` answers new requests again,
 * while requests already held stay unanswered until their client gives up or `stop()`/`close()`. `held` counts the
 * requests held open right now: it drops as clients cancel theirs, so a test sees that a timeout really aborted the
 * request. One redis connection per request, from a small pool; MULTI/EXEC always on a single connection.
 * Upstash's dialect: its Redis accepts a script shebang flag of its own, `#!lua flags=allow-key-locking`
 * (@upstash/ratelimit's scripts carry it), which redis-server 7 refuses; the bridge drops that flag, and only it,
 * before a script reaches Redis, and maps EVALSHA of the script as sent to the script Redis ran.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { RespConnection, type RespReply } from "./resp.ts";

export interface UpstashBridgeOptions {
  /** The redis-server to forward to, on 127.0.0.1. */
  redisPort: number;
  /** The bearer token clients must send. */
  token: string;
}

export interface RunningUpstashBridge {
  /** `http://127.0.0.1:<port>`, the same across stop/start. */
  url: string;
  token: string;
  /** HTTP requests received so far (rejected ones included). */
  readonly requests: number;
  /** Every command received so far, in order, as sent (`["evalsha", "<sha>", "3", ...]`). */
  readonly commands: readonly string[][];
  /** Closes the listener and every open connection: clients get "connection refused" until `start()`. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /**
   * true: new requests are read and never answered, their commands not run; "after-running": their commands run,
   * then no answer; false: answered again (requests already held stay held).
   */
  hang(mode: boolean | "after-running"): void;
  /** Requests held unanswered whose client has not closed the connection yet. */
  readonly held: number;
  /** Requests held unanswered since the bridge started, closed or not. */
  readonly hung: number;
  /** Stops for good and closes the redis connections. */
  close(): Promise<void>;
}

const MAX_IDLE_CONNECTIONS = 64;

/** Redis connections for the bridge: one per request at a time, kept for the next when healthy. */
class ConnectionPool {
  private readonly idle: RespConnection[] = [];

  constructor(private readonly port: number) {}

  async acquire(): Promise<RespConnection> {
    for (let connection = this.idle.pop(); connection; connection = this.idle.pop()) {
      if (connection.usable) return connection;
    }
    return RespConnection.connect(this.port);
  }

  release(connection: RespConnection, reusable: boolean): void {
    if (reusable && connection.usable && this.idle.length < MAX_IDLE_CONNECTIONS) this.idle.push(connection);
    else connection.close();
  }

  closeAll(): void {
    for (const connection of this.idle.splice(0)) connection.close();
  }
}

type Json = string | number | null | Json[];

/** A reply as Upstash's JSON puts it; `top` is the whole result of one command (where a bare "OK" stays). */
function replyJson(reply: RespReply, base64: boolean, top: boolean): Json {
  switch (reply.kind) {
    case "simple":
      return base64 && !(top && reply.value === "OK")
        ? Buffer.from(reply.value, "utf8").toString("base64")
        : reply.value;
    case "bulk":
      return base64 ? reply.value.toString("base64") : reply.value.toString("utf8");
    case "integer":
      return reply.value;
    case "nil":
      return null;
    case "error":
      // Only inside arrays (a script returning an error in a table): Upstash would print it as a string.
      return base64 ? Buffer.from(reply.message, "utf8").toString("base64") : reply.message;
    case "array":
      return reply.items.map((item) => replyJson(item, base64, false));
  }
}

type Entry = { result: Json } | { error: string };

const entry = (reply: RespReply, base64: boolean): Entry =>
  reply.kind === "error" ? { error: reply.message } : { result: replyJson(reply, base64, true) };

class BadRequest extends Error {}

/** A command from the body: a non-empty array of strings, numbers and booleans (sent as their text). */
function commandOf(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequest('ERR a command must be a non-empty JSON array, like ["GET","key"]');
  }
  return value.map((arg) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number" || typeof arg === "boolean") return String(arg);
    throw new BadRequest(`ERR command arguments must be strings or numbers, got ${JSON.stringify(arg)}`);
  });
}

function commandsOf(value: unknown): string[][] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequest('ERR the body must be a non-empty JSON array of commands, like [["GET","key"]]');
  }
  return value.map(commandOf);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

/** Starts the bridge on a free port of 127.0.0.1, forwarding to the redis-server on `redisPort`. */
const sha1 = (text: string): string => createHash("sha1").update(text).digest("hex");

/** `#!lua flags=allow-key-locking,no-writes` -> `#!lua flags=no-writes`; `#!lua flags=allow-key-locking` -> `#!lua`. */
function withoutUpstashFlags(script: string): string {
  return script.replace(/^#!lua flags=([^\n]*)/, (_line, flags: string) => {
    const kept = flags.split(",").filter((flag) => flag.trim() !== "allow-key-locking" && flag.trim() !== "");
    return kept.length === 0 ? "#!lua" : `#!lua flags=${kept.join(",")}`;
  });
}

/** Rewrites scripts into what redis-server runs, remembering each sent script's SHA1 for EVALSHA. */
function upstashDialect(scripts: Map<string, string>): (command: string[]) => string[] {
  return (command) => {
    const name = command[0]?.toLowerCase();
    if ((name === "eval" || name === "eval_ro") && command[1] !== undefined) {
      const script = withoutUpstashFlags(command[1]);
      if (script === command[1]) return command;
      scripts.set(sha1(command[1]), sha1(script));
      return [command[0] as string, script, ...command.slice(2)];
    }
    if (name === "script" && command[1]?.toLowerCase() === "load" && command[2] !== undefined) {
      const script = withoutUpstashFlags(command[2]);
      if (script !== command[2]) scripts.set(sha1(command[2]), sha1(script));
      return [command[0] as string, command[1], script];
    }
    if ((name === "evalsha" || name === "evalsha_ro") && command[1] !== undefined) {
      const ran = scripts.get(command[1].toLowerCase());
      return ran === undefined ? command : [command[0] as string, ran, ...command.slice(2)];
    }
    return command;
  };
}

export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<RunningUpstashBridge> {
  const pool = new ConnectionPool(options.redisPort);
  const seen: string[][] = [];
  let requests = 0;
  const dialect = upstashDialect(new Map());
  let hanging: boolean | "after-running" = false;
  const held = new Set<ServerResponse>();
  let hung = 0;

  /** Keeps `response` open and unanswered; it leaves `held` when the client (or stop()) closes the connection. */
  const hold = (response: ServerResponse): void => {
    hung++;
    held.add(response);
    response.once("close", () => held.delete(response));
  };

  /** Runs commands on one pooled connection; `transaction` wraps them in MULTI/EXEC. */
  const run = async (commands: string[][], transaction: boolean): Promise<RespReply[]> => {
    const connection = await pool.acquire();
    let reusable = false;
    try {
      const ran = commands.map(dialect);
      const wire = transaction ? [["MULTI"], ...ran, ["EXEC"]] : ran;
      const replies = await connection.sendMany(wire);
      // A connection left inside MULTI (or MONITOR, SUBSCRIBE...) must not serve the next request.
      reusable = !commands.some(([name]) => /^(multi|monitor|subscribe|psubscribe|ssubscribe)$/i.test(name ?? ""));
      return replies;
    } finally {
      pool.release(connection, reusable);
    }
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    requests++;
    // Decided on arrival: a request that came in while hanging stays unanswered even if hang(false) follows.
    const mode = hanging;
    const send = (to: ServerResponse, status: number, body: unknown): void => {
      if (mode === false) answer(to, status, body);
      else hold(to);
    };
    const url = new URL(request.url ?? "/", "http://bridge.local");
    if (request.method !== "POST") {
      send(response, 405, { error: "ERR this bridge answers POST only (as @upstash/redis sends)" });
      return;
    }
    const bearer = request.headers.authorization;
    if (bearer !== `Bearer ${options.token}` && url.searchParams.get("_token") !== options.token) {
      send(response, 401, { error: "WRONGPASS invalid or missing auth token" });
      return;
    }
    const base64 = String(request.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    let body: unknown;
    try {
      body = JSON.parse(await readBody(request));
    } catch {
      send(response, 400, { error: "ERR the body is not JSON" });
      return;
    }
    if (mode === true) {
      hold(response);
      return;
    }
    try {
      if (url.pathname === "/") {
        const command = commandOf(body);
        seen.push(command);
        const [reply] = await run([command], false);
        if (!reply) throw new Error("no reply");
        send(response, reply.kind === "error" ? 400 : 200, entry(reply, base64));
      } else if (url.pathname === "/pipeline") {
        const commands = commandsOf(body);
        seen.push(...commands);
        const replies = await run(commands, false);
        send(
          response,
          200,
          replies.map((reply) => entry(reply, base64)),
        );
      } else if (url.pathname === "/multi-exec") {
        const commands = commandsOf(body);
        seen.push(...commands);
        const replies = await run(commands, true);
        const exec = replies.at(-1);
        if (exec?.kind === "error") send(response, 400, { error: exec.message });
        else if (exec?.kind === "array")
          send(
            response,
            200,
            exec.items.map((reply) => entry(reply, base64)),
          );
        else send(response, 400, { error: "ERR transaction discarded" });
      } else {
        send(response, 400, {
          error: `ERR this bridge has no ${url.pathname} endpoint (only /, /pipeline, /multi-exec)`,
        });
      }
    } catch (error) {
      if (error instanceof BadRequest) send(response, 400, { error: error.message });
      else send(response, 502, { error: `ERR redis-server unreachable: ${(error as Error).message}` });
    }
  };

  let server: Server | undefined;
  let port = 0;

  const start = async (): Promise<void> => {
    if (server) return;
    const listening = createServer((request, response) => {
      handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) answer(response, 500, { error: `ERR bridge failure: ${String(error)}` });
      });
    });
    await new Promise<void>((resolve, reject) => {
      listening.once("error", reject);
      listening.listen(port, "127.0.0.1", () => {
        listening.off("error", reject);
        resolve();
      });
    });
    // Not waited on by the event loop: a forgotten bridge must not keep the test process alive.
    listening.unref();
    port = (listening.address() as AddressInfo).port;
    server = listening;
  };

  const stop = async (): Promise<void> => {
    const current = server;
    if (!current) return;
    server = undefined;
    const closed = new Promise<void>((resolve) => current.close(() => resolve()));
    current.closeAllConnections();
    await closed;
  };

  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    token: options.token,
    get requests() {
      return requests;
    },
    commands: seen,
    stop,
    start,
    hang(mode) {
      hanging = mode;
    },
    get held() {
      return held.size;
    },
    get hung() {
      return hung;
    },
    close: async () => {
      await stop();
      pool.closeAll();
    },
  };
}
