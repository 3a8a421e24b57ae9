// Every Prometheus query has a wall-clock deadline and is cancelled at it, whatever the server does meanwhile.
/*
 * Stand-ins on 127.0.0.1 (node:http): one accepts each query and never answers; one answers the headers at once and
 * then trickles the body a byte at a time, which axios's own `timeout` (a socket idle timeout once headers are in)
 * never stops. Both must fail within the deadline, as a timeout naming Prometheus and the deadline, with the
 * connection closed by the client; the canary's analysis counts such a query as it counts an unreachable Prometheus
 * (outcome "error"), and the decision holds the step as inconclusive.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { analyse, type CheckTarget, type MetricsError } from "../../functions/canary/checks.ts";
import { decideCanary } from "../../functions/canary/decide.ts";
import { createPrometheusReader } from "../../functions/canary/prometheus.ts";
import { atSecond, statusOf, testSettings } from "./fixtures.ts";

const DEADLINE_MS = 300;
/** Generous for a loaded 2-core machine: the timers themselves fire within a few ms of the deadline. */
const SLACK_MS = 400;

interface StandIn {
  url: string;
  /** Queries received. */
  readonly received: number;
  /** Queries whose connection is still open: the client has not cancelled them. */
  readonly open: number;
  close(): Promise<void>;
}

const running: StandIn[] = [];

afterEach(async () => {
  for (const standIn of running.splice(0)) await standIn.close();
});

/** A Prometheus stand-in on 127.0.0.1 that treats every request with `behave`. */
async function standIn(behave: (request: IncomingMessage, response: ServerResponse) => void): Promise<StandIn> {
  let received = 0;
  const open = new Set<ServerResponse>();
  const server: Server = createServer((request, response) => {
    received++;
    open.add(response);
    response.once("close", () => open.delete(response));
    behave(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const result: StandIn = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get received() {
      return received;
    },
    get open() {
      return open.size;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  running.push(result);
  return result;
}

/** Accepts the query and never answers. */
const holding = () => standIn(() => {});

/** Answers 200 and the start of a result at once, then one space every 50 ms for a minute. */
const trickling = () =>
  standIn((request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.write('{"status":"success","data":{"resultType":"vector","result":[');
    const timer = setInterval(() => response.write(" "), 50);
    const stop = setTimeout(() => response.end("]}}"), 60_000);
    request.socket.once("close", () => {
      clearInterval(timer);
      clearTimeout(stop);
    });
  });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timedQuery(url: string): Promise<{ ms: number; answer: number[] | MetricsError }> {
  const started = performance.now();
  const answer = await createPrometheusReader({ url, timeoutMs: DEADLINE_MS }).query("vector(1)");
  return { ms: performance.now() - started, answer };
}

/** The stand-in sees every query's connection closed soon after the deadline: the client cancelled it. */
async function expectCancelled(server: StandIn): Promise<void> {
  for (let waited = 0; server.open > 0 && waited < SLACK_MS; waited += 10) await sleep(10);
  expect(server.open, "queries still open at the stand-in: the client did not cancel them").toBe(0);
}

describe("a Prometheus query", () => {
  it.each([
    ["never answers", holding],
    ["sends its headers, then trickles the body", trickling],
  ])("to a server that %s fails within the deadline as a timeout, and is cancelled", async (_what, start) => {
    const server = await start();
    const { ms, answer } = await timedQuery(server.url);
    expect(answer).toEqual({
      kind: "timeout",
      message: `Prometheus at ${server.url} did not answer within ${DEADLINE_MS} ms: check its load, or raise the timeout`,
    });
    expect(ms, `the query took ${Math.round(ms)} ms`).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    expect(ms, `the query took ${Math.round(ms)} ms`).toBeLessThan(DEADLINE_MS + SLACK_MS);
    expect(server.received).toBe(1);
    await expectCancelled(server);
  });

  it("gets a deadline of its own: one reader's later queries are not cut short by an earlier one's", async () => {
    const server = await holding();
    const reader = createPrometheusReader({ url: server.url, timeoutMs: DEADLINE_MS });
    await reader.query("vector(1)");
    await sleep(DEADLINE_MS);
    const started = performance.now();
    expect(await reader.query("vector(2)")).toMatchObject({ kind: "timeout" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    // A fractional timeout is rounded up to whole ms for the signal (AbortSignal.timeout refuses fractions).
    expect(await createPrometheusReader({ url: server.url, timeoutMs: 50.5 }).query("vector(3)")).toMatchObject({
      kind: "timeout",
      message: expect.stringContaining("within 50.5 ms"),
    });
    await expectCancelled(server);
  });
});

describe("a canary analysis against a Prometheus that never answers", () => {
  const target: CheckTarget = { namespace: "production", deployment: "myapp-v2", version: "v2.0", service: "myapp" };

  it("ends within the deadline with every check an error naming Prometheus and the deadline; the step holds", async () => {
    const server = await holding();
    const settings = testSettings();
    const reader = createPrometheusReader({ url: server.url, timeoutMs: DEADLINE_MS });
    const started = performance.now();
    const checks = await analyse(reader, target, settings);
    const ms = performance.now() - started;
    // The queries run in parallel: the analysis takes one deadline, not one per query.
    expect(ms, `the analysis took ${Math.round(ms)} ms`).toBeLessThan(DEADLINE_MS + SLACK_MS);
    expect(checks.length).toBeGreaterThan(0);
    expect(server.received).toBe(checks.length);
    for (const check of checks) {
      expect(check).toMatchObject({
        outcome: "error",
        detail: `timeout error: Prometheus at ${server.url} did not answer within ${DEADLINE_MS} ms: check its load, or raise the timeout`,
      });
    }
    await expectCancelled(server);

    // What an unreachable Prometheus gets (decide.ts): inconclusive, the step held, never a pass.
    const decision = decideCanary({
      deployment: { namespace: "production", name: "myapp-v2", version: "v2.0", ready: true },
      settings,
      currentWeights: { stable: 90, canary: 10 },
      stableVersion: "v1.0",
      status: statusOf(),
      checks,
      now: atSecond(60),
    });
    expect(decision.status).toMatchObject({ phase: "Progressing", stepIndex: 0, inconclusive: 1, failures: 0 });
    expect(decision.weights).toBeUndefined();
    expect(decision.events.map((event) => event.reason)).toEqual(["CanaryHold"]);
  });
});
