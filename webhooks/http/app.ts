// The webhook HTTP app: routes AdmissionReviews to the mutate and validate decisions and exposes health and metrics.
import express, { type ErrorRequestHandler, type Express, type Request, type Response } from "express";
import { type AdmissionReview, type AdmissionReviewResponse, parseAdmissionReview } from "../admission/review.ts";
import { WEBHOOK_PATHS } from "../config/configurations.ts";
import { mutateReview, type OnError } from "../mutate/mutate.ts";
import { validateReview } from "../validate/validate.ts";
import { createWebhookMetrics, type WebhookMetrics } from "./metrics.ts";

export interface WebhookAppOptions {
  onError?: OnError;
  metrics?: WebhookMetrics;
  /** Largest accepted body; the API server sends objects up to ~1.5 MB plus the old object on UPDATE. */
  bodyLimit?: string;
}

type Decide = (review: AdmissionReview) => AdmissionReviewResponse;

/** Every admission path and the decision behind it; the app, the Lambda handler and `webhook replay` share it. */
export function admissionRoutes(onError: OnError = "allow"): Record<string, Decide> {
  return {
    [WEBHOOK_PATHS.mutateAnnotated]: (review) => mutateReview(review, { scope: "annotation", onError }),
    [WEBHOOK_PATHS.mutateNamespace]: (review) => mutateReview(review, { scope: "namespace", onError }),
    [WEBHOOK_PATHS.validate]: validateReview,
  };
}

export function createWebhookApp(options: WebhookAppOptions = {}): Express {
  const metrics = options.metrics ?? createWebhookMetrics();
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(express.json({ limit: options.bodyLimit ?? "3mb", type: () => true, strict: false }));

  const admit = (path: string, decide: Decide) => {
    // Label children are bound once per route: looking them up by label set costs more than the decision itself.
    const latency = metrics.latency.labels(path);
    const answered = metrics.requests.labels(path, "200");
    const refused = metrics.requests.labels(path, "400");
    const patched = metrics.patches.labels(path);
    const rejected = metrics.rejections.labels(path);
    return function handleAdmission(req: Request, res: Response) {
      const stop = latency.startTimer();
      const parsed = parseAdmissionReview(req.body);
      if (!parsed.ok) {
        refused.inc();
        stop();
        res.status(400).json({ error: `not an AdmissionReview: ${parsed.message}` });
        return;
      }
      const answer = decide(parsed.review);
      if (answer.response.patch) patched.inc();
      if (!answer.response.allowed) rejected.inc();
      answered.inc();
      stop();
      res.json(answer);
    };
  };

  for (const [path, decide] of Object.entries(admissionRoutes(options.onError))) app.post(path, admit(path, decide));
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use((req, res) => {
    res
      .status(404)
      .json({ error: `no route for ${req.method} ${req.path}; try POST /mutate, POST /validate, GET /healthz` });
  });
  app.use(bodyErrors);
  return app;
}

/** Body-parser failures (bad JSON, too large) are the client's fault: answer 4xx with the reason, never 500. */
const bodyErrors: ErrorRequestHandler = (error, _req, res, _next) => {
  const status = typeof error?.status === "number" && error.status >= 400 && error.status < 500 ? error.status : 500;
  const message =
    error?.type === "entity.too.large"
      ? `body larger than the ${error.limit} byte limit`
      : error?.type === "entity.parse.failed"
        ? `body is not valid JSON: ${error.message}`
        : status === 500
          ? "internal error"
          : String(error?.message ?? error);
  res.status(status).json({ error: message });
};
