// Prometheus metrics of the webhook server, on a registry of its own so several apps can live in one process.
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export interface WebhookMetrics {
  registry: Registry;
  requests: Counter<"path" | "code">;
  latency: Histogram<"path">;
  patches: Counter<"path">;
  rejections: Counter<"path">;
}

export function createWebhookMetrics(options: { defaultMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: "greenlight_webhook_requests_total",
      help: "Admission requests answered, by path and HTTP status code",
      labelNames: ["path", "code"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "greenlight_webhook_request_duration_seconds",
      help: "Time to answer an admission request",
      labelNames: ["path"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
    patches: new Counter({
      name: "greenlight_webhook_patches_total",
      help: "Admission responses that carried a JSON Patch",
      labelNames: ["path"],
      registers: [registry],
    }),
    rejections: new Counter({
      name: "greenlight_webhook_rejections_total",
      help: "Admission requests denied",
      labelNames: ["path"],
      registers: [registry],
    }),
  };
}
