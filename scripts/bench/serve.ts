// One benchmark target in a process of its own: `node --import tsx scripts/bench/serve.ts <greenlight|echo>`.
// Prints {"event":"listening","port":N,...} once it listens on 127.0.0.1; then each `mark` line on stdin starts a
// measured run and each `report` line answers with the GC pauses and event-loop use since the mark. It stops on
// SIGTERM, SIGINT or the end of stdin (so it never outlives the harness).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type EventLoopUtilization, performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import express, { type Express } from "express";
import { createWebhookApp } from "../../webhooks/http/app.ts";
import { BODY_LIMIT, gcRecorder, SERVER_KINDS, type ServerKind, type ServerMessage } from "./protocol.ts";

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
  const server = http.createServer(kind === "greenlight" ? createWebhookApp() : echoApp());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });

  const gc = gcRecorder();
  let since: EventLoopUtilization = performance.eventLoopUtilization();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    gc.stop();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);

  const commands = createInterface({ input: process.stdin });
  commands.on("line", (line) => {
    const command = line.trim();
    if (command === "mark") {
      gc.reset();
      since = performance.eventLoopUtilization();
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
