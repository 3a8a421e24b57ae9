// What the benchmark harness and its child processes (serve.ts, pace.ts) say to each other, one JSON object a line.
import { constants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";

/** The limit createWebhookApp() uses by default; the echo parses with the same one. */
export const BODY_LIMIT = "3mb";

/** What the floor server (serve.ts `floor`) answers to every request, whatever it was sent. */
export const FLOOR_ANSWER = '{"ok":true}';

export const SERVER_KINDS = [
  "greenlight",
  "flags",
  "flags-express",
  "echo",
  "floor",
  "floor-busy",
  "floor-same",
] as const;
/**
 * `floor-same`: the floor answering, instead of its 11 bytes, the bytes of a file given after the kind (the answer
 * greenlight gave to the same body): the floor with the same answer to send, so the transport of a larger answer
 * (the kernel's copy and the load generator's parse) is charged to both sides alike.
 */
/**
 * `floor-busy`: the floor plus this much pure computation (a busy wait) per request. A calibration, not a target: it
 * shows what a fixed amount of work per request costs the floor ratio on this machine.
 */
export const FLOOR_BUSY_MICROSECONDS = 25;
export type ServerKind = (typeof SERVER_KINDS)[number];

/** Garbage-collection pauses of one process over one measured run. */
export interface GcPauses {
  count: number;
  totalMs: number;
  longestMs: number;
  /** Full mark-sweep-compact collections; the rest are scavenges, incremental marking steps and weak callbacks. */
  major: number;
}

/** What a server child measured between a `mark` and a `report` command. */
export interface ServerReport {
  gc: GcPauses;
  /** Share of the wall time the event loop was busy, 0 to 1. */
  eventLoopUtilization: number;
  rssMiB: number;
  /** CPU time the server process used over the run, user and system, all its threads (GC helpers included). */
  cpuMs: number;
}

/** Lines serve.ts prints on stdout. It reads `mark` and `report` lines on stdin and stops on SIGTERM or EOF. */
export type ServerMessage =
  | { event: "listening"; port: number; pid: number; execArgv: string[] }
  | { event: "marked" }
  | { event: "report"; report: ServerReport };

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** The one line pace.ts prints on stdout when its run is over. Times in milliseconds. */
export interface PacedResult {
  rate: number;
  connections: number;
  /** The measured window, without the warm-up. */
  seconds: number;
  /** Requests the schedule put in the measured window. */
  scheduled: number;
  /** Of those, answered 2xx; only these are in `latency`. */
  ok: number;
  non2xx: number;
  errors: number;
  /** Still unanswered when the drain period after the window ran out. */
  timeouts: number;
  /** The first few distinct error messages, to say what went wrong. */
  errorSamples: string[];
  /** 2xx answers per second of the measured window. */
  achievedRate: number;
  /** From each request's scheduled send time to the end of its answer: a stall counts against the server. */
  latency: Percentiles;
  /** From scheduled to actual send time: the generator's own lateness, already included in `latency`. */
  sendLag: Percentiles;
  /** The 2xx latencies measured from the actual send instead, as a closed-loop tool would: for diagnosis only. */
  fromSend: Percentiles;
  /** The generator's own pauses: they delay sends and the reading of answers, and so land in `latency` too. */
  generatorGc: GcPauses;
}

/** Counts this process's GC pauses from `reset()` to `read()`. */
export function gcRecorder(): { reset(): void; read(): GcPauses; stop(): void } {
  let pauses: GcPauses = { count: 0, totalMs: 0, longestMs: 0, major: 0 };
  const add = (entries: PerformanceEntry[]) => {
    for (const entry of entries) {
      // A gc entry carries { kind, flags } in `detail`; @types/node declares it only on marks and measures.
      const detail: unknown = (entry as PerformanceEntry & { detail?: unknown }).detail;
      const kind =
        typeof detail === "object" && detail !== null && "kind" in detail && typeof detail.kind === "number"
          ? detail.kind
          : undefined;
      pauses.count++;
      pauses.totalMs += entry.duration;
      pauses.longestMs = Math.max(pauses.longestMs, entry.duration);
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) pauses.major++;
    }
  };
  const observer = new PerformanceObserver((list) => add(list.getEntries()));
  observer.observe({ entryTypes: ["gc"] });
  return {
    reset() {
      observer.takeRecords();
      pauses = { count: 0, totalMs: 0, longestMs: 0, major: 0 };
    },
    read() {
      // Entries are delivered to the callback asynchronously; take the ones still buffered.
      add(observer.takeRecords());
      return { ...pauses };
    },
    stop() {
      observer.disconnect();
    },
  };
}

/** Nearest-rank percentiles of `values` (sorted in place). */
export function percentiles(values: Float64Array): Percentiles {
  values.sort();
  const at = (p: number) => (values.length === 0 ? 0 : (values[Math.max(0, Math.ceil(p * values.length) - 1)] ?? 0));
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: at(1) };
}

/** Parses one stdout line of a child, or returns undefined for anything that is not a JSON object. */
export function parseLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
