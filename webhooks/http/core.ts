// The webhook HTTP core: routes AdmissionReviews to the mutate and validate decisions, and answers health and metrics.
/*
 * An HttpCore like the flags' (functions/http/message.ts): the HTTPS server and the local stack run it through the
 * Node adapter, the Lambda through the Lambda adapter, and express.ts mounts it in an express app.
 */
import { type BodyBytes, readBody } from "../../functions/http/body.ts";
import {
  andThen,
  type HttpCore,
  type HttpResponse,
  internalError,
  JSON_CONTENT_TYPE,
  jsonResponse,
  pathOf,
  settle,
} from "../../functions/http/message.ts";
import { type NodeListener, nodeListener } from "../../functions/http/node.ts";
import {
  type AdmissionReview,
  type AdmissionReviewResponse,
  parseAdmissionReview,
  reviewResponseJson,
} from "../admission/review.ts";
import { WEBHOOK_PATHS } from "../config/configurations.ts";
import { mutateReview, type OnError } from "../mutate/mutate.ts";
import { validateReview } from "../validate/validate.ts";
import { createWebhookMetrics, type WebhookMetrics } from "./metrics.ts";

export interface WebhookAppOptions {
  onError?: OnError;
  metrics?: WebhookMetrics;
  /** Largest accepted body; the API server sends objects up to ~1.5 MB plus the old object on UPDATE. */
  bodyLimitBytes?: number;
}

export const DEFAULT_BODY_LIMIT_BYTES = 3 * 1024 * 1024;

type Decide = (review: AdmissionReview) => AdmissionReviewResponse;

/** Every admission path and the decision behind it; the core and `webhook replay` share it. */
export function admissionRoutes(onError: OnError = "allow"): Record<string, Decide> {
  return {
    [WEBHOOK_PATHS.mutateAnnotated]: (review) => mutateReview(review, { scope: "annotation", onError }),
    [WEBHOOK_PATHS.mutateNamespace]: (review) => mutateReview(review, { scope: "namespace", onError }),
    [WEBHOOK_PATHS.validate]: validateReview,
  };
}

const json = (status: number, body: string): HttpResponse => ({
  status,
  headers: { "content-type": JSON_CONTENT_TYPE },
  body,
});

const error = (status: number, message: string): HttpResponse => jsonResponse(status, { error: message });

/** Admission bodies are JSON text; a stray invalid byte becomes U+FFFD and JSON.parse judges the rest. */
const UTF8 = new TextDecoder("utf-8");

/** The webhook as an HttpCore: POST the admission paths, GET /healthz and /metrics, 404 otherwise. */
export function createWebhookCore(options: WebhookAppOptions = {}): HttpCore {
  const metrics = options.metrics ?? createWebhookMetrics();
  const limit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;

  const admit = (path: string, decide: Decide): HttpCore => {
    const meter = metrics.path(path);
    const answerTo = (read: BodyBytes): HttpResponse => {
      if (!read.ok) return error(read.status, read.message);
      let body: unknown;
      try {
        body = JSON.parse(UTF8.decode(read.bytes));
      } catch (cause) {
        return error(400, `body is not valid JSON: ${(cause as Error).message}`);
      }
      const parsed = parseAdmissionReview(body);
      if (!parsed.ok) return error(400, `not an AdmissionReview: ${parsed.message}`);
      const answer = decide(parsed.review);
      if (answer.response.patch) meter.patches++;
      if (!answer.response.allowed) meter.rejections++;
      return json(200, reviewResponseJson(answer));
    };
    /** The answer to a body read (or refused) at `start`, counted. */
    const decideOn = (read: BodyBytes, start: number): HttpResponse => {
      const response = answerTo(read);
      meter.answered(response.status, (performance.now() - start) / 1000);
      return response;
    };
    // No async function: a body already in memory (the Node and Lambda adapters') is answered without a promise.
    return function handleAdmission(request) {
      const start = performance.now();
      return andThen(readBody(request, limit), (read) => decideOn(read, start));
    };
  };

  const admissions = new Map(
    Object.entries(admissionRoutes(options.onError)).map(([path, decide]) => [path, admit(path, decide)]),
  );

  return function serveWebhook(request) {
    const method = request.method.toUpperCase();
    const path = pathOf(request.url);
    const handle = admissions.get(path);
    return settle(() => {
      if (handle && method === "POST") return handle(request);
      const read = method === "GET" || method === "HEAD";
      if (path === "/healthz" && read) return json(200, '{"status":"ok"}');
      if (path === "/metrics" && read) {
        return metrics.registry
          .metrics()
          .then(
            (body): HttpResponse => ({ status: 200, headers: { "content-type": metrics.registry.contentType }, body }),
          );
      }
      return error(404, `no route for ${method} ${path}; try POST /mutate, POST /validate, GET /healthz`);
    }, internalError);
  };
}

/** The webhook core as a Node request listener: what the HTTPS server, `webhook serve` and the local stack run. */
export function createWebhookListener(options: WebhookAppOptions = {}): NodeListener {
  return nodeListener(createWebhookCore(options), {
    bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
  });
}
