// One benchmark target in a process of its own: `node --import tsx scripts/bench/serve.ts <greenlight|flags|flags-express|echo|floor>`.
// Prints {"event":"listening","port":N,...} once it listens on 127.0.0.1; then each `mark` line on stdin starts a
// measured run and each `report` line answers with the GC pauses and event-loop use since the mark. It stops on
// SIGTERM, SIGINT or the end of stdin (so it never outlives the harness).

import { mkdtemp, readFile, rm } from "node:fs/promises";
import http, { type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { type EventLoopUtilization, performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import express, { type Express } from "express";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { createFileStore } from "../../functions/flags/file-store.ts";
import { createFlagsApp } from "../../functions/flags/http/express.ts";
import { createFlagsListener } from "../../functions/flags/http/node.ts";
import { memoryLimits } from "../../functions/flags/limits.ts";
import { createWebhookListener } from "../../webhooks/http/core.ts";
import { bulkFlags } from "./flag-rules.ts";
import {
  BODY_LIMIT,
  FLOOR_ANSWER,
  FLOOR_BUSY_MICROSECONDS,
  gcRecorder,
  SERVER_KINDS,
  type ServerKind,
  type ServerMessage,
} from "./protocol.ts";

/** The baseline: express with the same JSON body parser, answering with the parsed body. */
function echoApp(): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(express.json({ limit: BODY_LIMIT, type: () => true, strict: false }));
  app.post("/echo", (req, res) => {
    res.json(req.body);
  });
  return app;
}

/**
 * The floor: a bare node:http listener that reads the whole body, JSON.parses it and answers fixed bytes. No
 * framework, no work on the parsed value: what any Node server answering this body costs at the least.
 */
function floorListener(busyMicroseconds = 0, answer = Buffer.from(FLOOR_ANSWER)): RequestListener {
  const headers = { "content-type": "application/json; charset=utf-8", "content-length": String(answer.length) };
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400, headers).end(answer);
        return;
      }
      if (busyMicroseconds > 0) {
        const until = performance.now() + busyMicroseconds / 1000;
        while (performance.now() < until) {
          // busy: the calibration's fixed work per request
        }
      }
      res.writeHead(200, headers).end(answer);
    });
  };
}

/**
 * The flag server on a file store seeded with the bench's bulk flags: the core's plain Node listener (`flags`), or
 * the same listener mounted in express (`flags-express`, `createFlagsApp`, how a user mounts the core in an express app).
 */
async function flagsApp(mount: "node" | "express"): Promise<{ app: RequestListener; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "greenlight-bench-store-"));
  const store = createFileStore({ dir, seed: bulkFlags() });
  // The limits `flags serve` runs with, counted in memory as there, with a rate the bench never reaches: what is
  // measured is the cost of counting every request, not of refusing them.
  const unreachable = { requests: 1_000_000_000, windowMs: 60_000 };
  const limits = memoryLimits({ ofrep: unreachable, admin: unreachable, authFailures: unreachable });
  // Usage counted as `flags serve` counts it (GREENLIGHT_FLAGS_USAGE_FLUSH's default): one Map increment a request.
  const options = { store, cache: createRuleCache(store, { usage: {} }), limits };
  return {
    app: mount === "express" ? createFlagsApp(options) : createFlagsListener(options),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

async function appFor(kind: ServerKind): Promise<{ app: RequestListener; cleanup: () => Promise<void> }> {
  const none = async () => {};
  if (kind === "greenlight") return { app: createWebhookListener(), cleanup: none };
  if (kind === "flags") return flagsApp("node");
  if (kind === "flags-express") return flagsApp("express");
  if (kind === "floor") return { app: floorListener(), cleanup: none };
  if (kind === "floor-busy") return { app: floorListener(FLOOR_BUSY_MICROSECONDS), cleanup: none };
  if (kind === "floor-same") {
    const file = process.argv[3];
    if (file === undefined) throw new Error("serve.ts floor-same needs the answer's file after the kind");
    return { app: floorListener(0, await readFile(file)), cleanup: none };
  }
  return { app: echoApp(), cleanup: none };
}

const isKind = (value: string | undefined): value is ServerKind => SERVER_KINDS.some((kind) => kind === value);

function send(message: ServerMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main(): Promise<void> {
  const kind = process.argv[2];
  if (!isKind(kind)) {
    process.stderr.write(`usage: node --import tsx scripts/bench/serve.ts <${SERVER_KINDS.join("|")}>\n`);
    process.exitCode = 2;
    return;
  }
  const { app, cleanup } = await appFor(kind);
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });

  const gc = gcRecorder();
  let since: EventLoopUtilization = performance.eventLoopUtilization();
  let cpuSince = process.cpuUsage();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    gc.stop();
    server.closeAllConnections();
    server.close(() => {
      cleanup().finally(() => process.exit(0));
    });
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);

  const commands = createInterface({ input: process.stdin });
  commands.on("line", (line) => {
    const command = line.trim();
    if (command === "mark") {
      gc.reset();
      since = performance.eventLoopUtilization();
      cpuSince = process.cpuUsage();
      send({ event: "marked" });
    } else if (command === "report") {
      // Let GC entries of the last moments reach the observer's buffer first.
      setImmediate(() => {
        send({
          event: "report",
          report: {
            gc: gc.read(),
            eventLoopUtilization: performance.eventLoopUtilization(since).utilization,
            rssMiB: process.memoryUsage.rss() / 2 ** 20,
            cpuMs: ((cpu) => (cpu.user + cpu.system) / 1000)(process.cpuUsage(cpuSince)),
          },
        });
      });
    }
  });
  commands.once("close", stop);

  send({
    event: "listening",
    port: (server.address() as AddressInfo).port,
    pid: process.pid,
    execArgv: process.execArgv,
  });
}

await main();
