// The flag demo's sample app: each request evaluates one flag with greenlight's evaluator (through the rule cache,
// as the flag server does), is answered as that variant behaves, and is counted in OpenTelemetry's HTTP server
// histogram with the feature-flag labels a guarded rollout reads (functions/flags/rollout/queries.ts).
/*
 * The metric is prom-client's `http_server_request_duration_seconds` with the labels and buckets of
 * scripts/services/flag-exporter.ts: `feature_flag_key`, `feature_flag_result_variant`, `http_request_method`,
 * `http_route`, `http_response_status_code`, OpenTelemetry's recommended bounds. The targeting key is the load
 * generator's request number (`?n=`), so the flag's percentage splits the requests as it would split users. The
 * rule cache asks the store every `ttlMs`, so a share the stepper writes is served within that time.
 */
import { performance } from "node:perf_hooks";
import { Histogram, Registry } from "prom-client";
import { createRuleCache } from "../../functions/flags/cache.ts";
import { evaluateKey } from "../../functions/flags/evaluate.ts";
import { type FlagStore, isFailure } from "../../functions/flags/types.ts";
import { FLAG_METRIC, FLAG_ROUTE, OTEL_HTTP_DURATION_BUCKETS_S } from "../services/flag-exporter.ts";
import { planResponse, startDelayedServer } from "./app.ts";
import type { VariantBehaviour } from "./flag-profiles.ts";

export interface FlagAppOptions {
  store: FlagStore;
  /** The flag evaluated for every request. */
  key: string;
  /** How a request is answered, by the variant it was served; variants not listed behave as `fallback`. */
  variants: Record<string, VariantBehaviour>;
  fallback: VariantBehaviour;
  /** The rule cache's TTL; default 250 ms (the flag server's is 5 s). */
  ttlMs?: number;
  random?: () => number;
}

export interface FlagApp {
  url: string;
  metricsUrl: string;
  /** Requests answered so far, by variant (`error` when the flag could not be evaluated). */
  served(): Record<string, number>;
  close(): Promise<void>;
}

/** The variant label of a request whose flag could not be evaluated (no rules, or an evaluation failure). */
export const UNEVALUATED = "error";

export async function startFlagApp(options: FlagAppOptions): Promise<FlagApp> {
  const random = options.random ?? Math.random;
  const cache = createRuleCache(options.store, { ttlMs: options.ttlMs ?? 250 });
  const registry = new Registry();
  const duration = new Histogram({
    name: FLAG_METRIC,
    help: "Duration of HTTP server requests.",
    labelNames: [
      "feature_flag_key",
      "feature_flag_result_variant",
      "http_request_method",
      "http_route",
      "http_response_status_code",
    ],
    buckets: [...OTEL_HTTP_DURATION_BUCKETS_S],
    registers: [registry],
  });
  const served: Record<string, number> = {};

  const variantOf = async (targetingKey: string): Promise<string> => {
    const snapshot = await cache.current();
    if (!snapshot) return UNEVALUATED;
    const result = evaluateKey(snapshot.set, options.key, { targetingKey });
    return isFailure(result) ? UNEVALUATED : result.variant;
  };

  const server = await startDelayedServer((request, response, later) => {
    request.resume();
    const url = new URL(request.url ?? "/", "http://app");
    if (url.pathname === "/metrics") {
      registry.metrics().then(
        (body) => {
          response.writeHead(200, { "content-type": registry.contentType });
          response.end(body);
        },
        (error: unknown) => {
          response.writeHead(500, { "content-type": "text/plain" });
          response.end(String(error));
        },
      );
      return;
    }
    const started = performance.now();
    void variantOf(`user-${url.searchParams.get("n") ?? "0"}`).then((variant) => {
      const plan = planResponse({ version: variant, ...(options.variants[variant] ?? options.fallback) }, random);
      later(plan.delayMs, () => {
        response.writeHead(plan.status, { "content-type": "application/json" });
        response.end(JSON.stringify({ flag: options.key, variant, ok: plan.status === 200 }));
        served[variant] = (served[variant] ?? 0) + 1;
        duration.observe(
          {
            feature_flag_key: options.key,
            feature_flag_result_variant: variant,
            http_request_method: request.method ?? "GET",
            http_route: FLAG_ROUTE,
            http_response_status_code: String(plan.status),
          },
          (performance.now() - started) / 1000,
        );
      });
    });
  });
  return {
    url: server.url,
    metricsUrl: `${server.url}/metrics`,
    served: () => ({ ...served }),
    close: server.close,
  };
}
