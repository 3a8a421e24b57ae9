// The webhook HTTP app: routes AdmissionReviews to the mutate and validate decisions and exposes health and metrics.
/*
 * A plain Node request listener, no framework: it is what the HTTPS server, the local stack and the Lambda (through
 * serverless-http) all run, and without express the Lambda bundle drops the ~800 KB express pulls in (iconv-lite,
 * mime-db). express.ts mounts this same listener in express, for callers that want `.listen()`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readCapped } from "../../functions/http/read-body.ts";
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

/** Every admission path and the decision behind it; the app, the Lambda handler and `webhook replay` share it. */
export function admissionRoutes(onError: OnError = "allow"): Record<string, Decide> {
  return {
    [WEBHOOK_PATHS.mutateAnnotated]: (review) => mutateReview(review, { scope: "annotation", onError }),
    [WEBHOOK_PATHS.mutateNamespace]: (review) => mutateReview(review, { scope: "namespace", onError }),
    [WEBHOOK_PATHS.validate]: validateReview,
  };
}

function send(res: ServerResponse, status: number, body: string, contentType: string): void {
  res.statusCode = status;
  res.setHeader("content-type", contentType);
  res.setHeader("content-length", Buffer.byteLength(body));
  res.end(body);
}

const JSON_TYPE = "application/json; charset=utf-8";

const sendJson = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, JSON.stringify(value), JSON_TYPE);

class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The whole body as text, at most `limit` bytes (413 past it, after the rest is drained so the client reads it). */
async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit && !Buffer.isBuffer((req as { body?: unknown }).body)) {
    req.resume();
    throw new BodyError(413, `body larger than the ${limit} byte limit`);
  }
  let bytes: Buffer;
  try {
    bytes = await readCapped(req, limit + 1);
  } catch (error) {
    throw new BodyError(400, `body could not be read: ${(error as Error).message}`);
  }
  if (bytes.length > limit) throw new BodyError(413, `body larger than the ${limit} byte limit`);
  return bytes.toString("utf8");
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = await readBody(req, limit);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BodyError(400, `body is not valid JSON: ${(error as Error).message}`);
  }
}

export type WebhookListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The webhook as a Node request listener: POST the admission paths, GET /healthz and /metrics, 404 otherwise. */
export function createWebhookListener(options: WebhookAppOptions = {}): WebhookListener {
  const metrics = options.metrics ?? createWebhookMetrics();
  const limit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;

  const admit = (path: string, decide: Decide) => {
    // Label children are bound once per route: looking them up by label set costs more than the decision itself.
    const latency = metrics.latency.labels(path);
    const answered = metrics.requests.labels(path, "200");
    const refused = metrics.requests.labels(path, "400");
    const patched = metrics.patches.labels(path);
    const rejected = metrics.rejections.labels(path);
    return async function handleAdmission(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const stop = latency.startTimer();
      let body: unknown;
      try {
        body = await readJson(req, limit);
      } catch (error) {
        refused.inc();
        stop();
        const status = error instanceof BodyError ? error.status : 400;
        sendJson(res, status, { error: (error as Error).message });
        return;
      }
      const parsed = parseAdmissionReview(body);
      if (!parsed.ok) {
        refused.inc();
        stop();
        sendJson(res, 400, { error: `not an AdmissionReview: ${parsed.message}` });
        return;
      }
      const answer = decide(parsed.review);
      if (answer.response.patch) patched.inc();
      if (!answer.response.allowed) rejected.inc();
      answered.inc();
      stop();
      send(res, 200, reviewResponseJson(answer), JSON_TYPE);
    };
  };

  const admissions = new Map(
    Object.entries(admissionRoutes(options.onError)).map(([path, decide]) => [path, admit(path, decide)]),
  );

  return function serveWebhook(req, res) {
    const method = req.method ?? "GET";
    // The path without the query string; `originalUrl` when mounted in express.
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
    const query = url.indexOf("?");
    const path = query < 0 ? url : url.slice(0, query);
    const handle = admissions.get(path);
    if (handle && method === "POST") {
      handle(req, res).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.end();
      });
      return;
    }
    if (path === "/healthz" && (method === "GET" || method === "HEAD")) {
      sendJson(res, 200, { status: "ok" });
      return;
    }
    if (path === "/metrics" && (method === "GET" || method === "HEAD")) {
      metrics.registry.metrics().then(
        (text) => send(res, 200, text, metrics.registry.contentType),
        () => sendJson(res, 500, { error: "internal error" }),
      );
      return;
    }
    req.resume();
    sendJson(res, 404, { error: `no route for ${method} ${path}; try POST /mutate, POST /validate, GET /healthz` });
  };
}
