// Requests of an app that serves a flag, counted as an OpenTelemetry-instrumented HTTP server counts them: the
// simulated counterpart of scripts/services/flag-exporter.ts, for the flag world (flag-world.ts).
//
// API: `new FlagTraffic(counters, random)`, then `tick({ dtSeconds, rps, key, sides })` once per tick. Each side (a
// variant and the share of requests it is served to) gets Poisson requests, binomial errors (status 500) and
// latencies drawn from its log-normal into OpenTelemetry's buckets for `http.server.request.duration` (a multinomial
// draw: real latencies scatter, so the rank comparison sees the sampling noise it would see in production). Emits
// `http_server_request_duration_seconds` `_bucket` (cumulative), `_sum` and `_count` with the flag labels into the
// counters the simulated Prometheus scrapes (metrics-store.ts). Requests are split per request, not per user: a
// flag's percentage hashes targeting keys, and with many users the request share follows it.
import {
  FLAG_METRIC,
  FLAG_ROUTE,
  logNormalCumulative,
  OTEL_HTTP_DURATION_BUCKETS_S,
} from "../services/flag-exporter.ts";
import type { Counters, Labels } from "./counters.ts";
import { binomial, poisson, type TrafficProfile } from "./mesh.ts";
import type { Random } from "./random.ts";

export interface FlagTrafficSide {
  /** `feature_flag_result_variant`. */
  variant: string;
  /** Share of the requests served this variant, in [0, 1]. */
  share: number;
  profile: TrafficProfile;
}

export interface FlagTick {
  dtSeconds: number;
  rps: number;
  /** `feature_flag_key`. */
  key: string;
  sides: readonly FlagTrafficSide[];
}

export interface SideCount {
  requests: number;
  errors: number;
}

const LE: readonly string[] = [...OTEL_HTTP_DURATION_BUCKETS_S.map(String), "+Inf"];

interface SeriesLabels {
  plain: Labels;
  buckets: readonly Labels[];
}

interface Shape {
  /** Per-bucket shares (not cumulative), the overflow last. */
  shares: number[];
  meanSeconds: number;
}

export class FlagTraffic {
  private readonly labels = new Map<string, SeriesLabels>();
  private readonly shapes = new Map<string, Shape>();

  constructor(
    private readonly counters: Counters,
    private readonly random: Random,
  ) {}

  /** One tick of traffic; what each variant served. */
  tick(input: FlagTick): Record<string, SideCount> {
    const served: Record<string, SideCount> = {};
    for (const side of input.sides) {
      const requests = poisson(this.random, input.rps * input.dtSeconds * Math.min(1, Math.max(0, side.share)));
      const errors = binomial(this.random, requests, side.profile.errorRate);
      served[side.variant] = { requests, errors };
      const shape = this.shape(side.profile);
      this.emit(input.key, side.variant, "200", requests - errors, shape);
      this.emit(input.key, side.variant, "500", errors, shape);
    }
    return served;
  }

  private shape(profile: TrafficProfile): Shape {
    const id = `${profile.latencyP50Ms}/${profile.latencyP99Ms}`;
    let shape = this.shapes.get(id);
    if (!shape) {
      const { cumulative, meanSeconds } = logNormalCumulative(profile.latencyP50Ms, profile.latencyP99Ms);
      const shares = [...cumulative, 1].map((value, index) => value - (index === 0 ? 0 : (cumulative[index - 1] ?? 0)));
      shape = { shares: shares.map((share) => Math.max(0, share)), meanSeconds };
      this.shapes.set(id, shape);
    }
    return shape;
  }

  /** Labels are frozen once per series, so the counters find them without building a key (counters.ts). */
  private seriesLabels(key: string, variant: string, code: string): SeriesLabels {
    const id = `${key}\u0000${variant}\u0000${code}`;
    let found = this.labels.get(id);
    if (!found) {
      const plain = Object.freeze({
        feature_flag_key: key,
        feature_flag_result_variant: variant,
        http_request_method: "GET",
        http_route: FLAG_ROUTE,
        http_response_status_code: code,
      });
      found = { plain, buckets: LE.map((le) => Object.freeze({ ...plain, le })) };
      this.labels.set(id, found);
    }
    return found;
  }

  /** One code's requests: a multinomial draw over the buckets (successive binomials), then the cumulative series. */
  private emit(key: string, variant: string, code: string, requests: number, shape: Shape): void {
    const labels = this.seriesLabels(key, variant, code);
    // The series exist from the first tick on (at 0 when nothing was served), as an instrumented server's do.
    let left = requests;
    let rest = 1;
    let cumulative = 0;
    shape.shares.forEach((share, index) => {
      const drawn = index === shape.shares.length - 1 ? left : binomial(this.random, left, rest > 0 ? share / rest : 0);
      left -= drawn;
      rest -= share;
      cumulative += drawn;
      this.counters.add(`${FLAG_METRIC}_bucket`, labels.buckets[index] as Labels, cumulative);
    });
    this.counters.add(`${FLAG_METRIC}_sum`, labels.plain, requests * shape.meanSeconds);
    this.counters.add(`${FLAG_METRIC}_count`, labels.plain, requests);
  }
}
