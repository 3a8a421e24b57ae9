// An open-loop, evenly paced load generator in the manner of wrk2, run as a child of the harness:
//   node --import tsx scripts/bench/pace.ts --url URL --body FILE [--rate 500] [--connections 10] [--duration 10]
// Request i is due at start + i/rate whatever happened to the ones before it; latency runs from that due time, not
// from the moment the request went out, so a stalled server is charged for every request it held up (no coordinated
// omission). Requests go over a keep-alive pool of --connections sockets, taken in turn; when all are busy, the
// next request waits for one, and that wait counts too. Prints {"event":"measuring"} on stdout when the
// warm-up is over, and one PacedResult as JSON when the run is.
import { readFile } from "node:fs/promises";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { gcRecorder, type PacedResult, percentiles } from "./protocol.ts";

const USAGE =
  "usage: node --import tsx scripts/bench/pace.ts --url URL --body FILE [--rate PER_SECOND] [--connections N] " +
  "[--duration SECONDS] [--warmup SECONDS] [--drain SECONDS]";

interface Options {
  url: URL;
  body: Buffer;
  rate: number;
  connections: number;
  duration: number;
  warmup: number;
  drain: number;
}

async function options(argv: string[]): Promise<Options> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: "string" },
      body: { type: "string" },
      rate: { type: "string", default: "500" },
      connections: { type: "string", default: "10" },
      duration: { type: "string", default: "10" },
      warmup: { type: "string", default: "1" },
      drain: { type: "string", default: "5" },
    },
    strict: true,
  });
  if (values.url === undefined || values.body === undefined) throw new Error(USAGE);
  const positive = (name: string, text: string, whole: boolean) => {
    const value = Number(text);
    if (!(value > 0) || (whole && !Number.isInteger(value))) throw new Error(`--${name} must be above 0\n${USAGE}`);
    return value;
  };
  return {
    url: new URL(values.url),
    body: await readFile(values.body),
    rate: positive("rate", values.rate, false),
    connections: positive("connections", values.connections, true),
    duration: positive("duration", values.duration, false),
    warmup: Number(values.warmup) >= 0 ? Number(values.warmup) : 1,
    drain: positive("drain", values.drain, false),
  };
}

/** One request; resolves with the status code, or the error. Never rejects. */
function post(agent: http.Agent, opts: Options): Promise<number | Error> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: number | Error) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const request = http.request(
      {
        agent,
        hostname: opts.url.hostname,
        port: opts.url.port,
        path: `${opts.url.pathname}${opts.url.search}`,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": String(opts.body.length) },
      },
      (response) => {
        response.once("end", () => settle(response.statusCode ?? 0));
        response.once("error", settle);
        response.resume();
      },
    );
    request.once("error", settle);
    request.end(opts.body);
  });
}

async function pace(opts: Options): Promise<PacedResult> {
  const { rate, connections, duration, warmup } = opts;
  // FIFO hands out the idle socket that has waited longest, so the load spreads over the whole pool.
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: connections,
    maxFreeSockets: connections,
    scheduling: "fifo",
  });
  const gc = gcRecorder();
  try {
    // Open the pool first: one request per socket, all at once, so no measured request pays for a connect.
    await Promise.all(Array.from({ length: connections }, () => post(agent, opts)));

    const interval = 1000 / rate;
    const warmupCount = Math.round(rate * warmup);
    const measured = Math.round(rate * duration);
    const total = warmupCount + measured;
    const latencies = new Float64Array(measured);
    const lags = new Float64Array(measured);
    const fromSend = new Float64Array(measured);
    let ok = 0;
    let non2xx = 0;
    let errors = 0;
    let answered = 0;
    let lastAnswer = 0;
    const errorSamples = new Set<string>();
    let allAnswered: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      allAnswered = resolve;
    });

    const start = performance.now() + interval;
    const windowStart = start + warmupCount * interval;
    const fire = (index: number) => {
      const due = start + index * interval;
      const slot = index - warmupCount;
      if (slot === 0) {
        gc.reset();
        // Tells the harness the measured window starts, so the server's GC count covers just that window.
        process.stdout.write(`${JSON.stringify({ event: "measuring" })}\n`);
      }
      const sent = performance.now();
      if (slot >= 0) lags[slot] = sent - due;
      void post(agent, opts).then((outcome) => {
        if (slot < 0) return;
        const now = performance.now();
        if (typeof outcome !== "number") {
          errors++;
          if (errorSamples.size < 5) errorSamples.add(outcome.message);
        } else if (outcome >= 200 && outcome < 300) {
          fromSend[ok] = now - sent;
          latencies[ok++] = now - due;
        } else {
          non2xx++;
          if (errorSamples.size < 5) errorSamples.add(`HTTP ${outcome}`);
        }
        lastAnswer = now;
        if (++answered === measured) allAnswered();
      });
    };

    // Each tick sends every request that has come due (several, if this process was held up), then sleeps until
    // the next one is due. Timers fire up to about a millisecond late: `sendLag` shows how late, and it is part of
    // every latency, so the generator errs against the server, never for it.
    let next = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        while (next < total && start + next * interval <= now) fire(next++);
        if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
        else resolve();
      };
      setTimeout(tick, Math.max(0, start - performance.now()));
    });
    let drainTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise<void>((resolve) => {
        drainTimer = setTimeout(resolve, opts.drain * 1000);
      }),
    ]);
    clearTimeout(drainTimer);

    const elapsed = Math.max(duration, (lastAnswer - windowStart) / 1000);
    return {
      rate,
      connections,
      seconds: duration,
      scheduled: measured,
      ok,
      non2xx,
      errors,
      timeouts: measured - answered,
      errorSamples: [...errorSamples],
      achievedRate: ok / elapsed,
      latency: percentiles(latencies.subarray(0, ok)),
      sendLag: percentiles(lags),
      fromSend: percentiles(fromSend.subarray(0, ok)),
      generatorGc: gc.read(),
    };
  } finally {
    gc.stop();
    agent.destroy();
  }
}

try {
  const result = await pace(await options(process.argv.slice(2)));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
