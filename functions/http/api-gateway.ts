// API Gateway proxy events on Lambda: their types and the stage-stripping rule, shared by every HTTP function.
/* Imports nothing; lambda.ts turns these events into the HttpRequest every core reads. */

/**
 * The parts of an API Gateway proxy event this module reads or rewrites. Declared here rather than pulling in
 * @types/aws-lambda for a handful of fields.
 */
export interface ApiGatewayEvent {
  version?: string;
  /** REST API (v1 payload): the resource path, without the stage. */
  path?: string;
  /** HTTP API (v2 payload): the path as requested, with the stage when the stage is not `$default`. */
  rawPath?: string;
  httpMethod?: string;
  headers?: Record<string, string | undefined>;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: {
    stage?: string;
    /** v1: the path as requested, stage included; HTTP API v1 payloads repeat it in `path`. */
    path?: string;
    http?: { method: string; path?: string; sourceIp?: string; [key: string]: unknown };
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface ApiGatewayResult {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
  [key: string]: unknown;
}

/** The Lambda context; the functions read nothing from it, so only its name is typed. */
export interface LambdaContext {
  awsRequestId?: string;
  [key: string]: unknown;
}

/** Drops a leading `/<stage>` segment; an exact segment match, so `/prod/mutate` loses it and `/production` keeps it. */
export function stripStage(path: string, stage: string | undefined): string {
  if (!stage || stage === "$default") return path;
  const prefix = `/${stage}`;
  if (path === prefix) return "/";
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
}

/**
 * Makes the path the cores see independent of how API Gateway was set up.
 *
 * Why not serverless-http's `basePath`: it is one fixed string, while the stage comes with each event, and it
 * strips the first match anywhere in the path (`indexOf`), not only a leading segment.
 * - HTTP API, v2 payload: `rawPath` carries `/<stage>` unless the stage is `$default` (serverless.yml deploys
 *   `$default`, but a named stage or a hand-built API must not 404), so it is stripped when present.
 * - REST API, v1 payload: `path` never has the stage (only `requestContext.path` has), so it is left alone.
 *   An HTTP API with a v1 payload puts the stage in both; that case is recognised by `path` equal to
 *   `requestContext.path`, which a REST API only does when the stage is absent from both.
 */
export function normalizeEvent(event: ApiGatewayEvent): ApiGatewayEvent {
  const stage = event.requestContext?.stage;
  if (event.version === "2.0") {
    return typeof event.rawPath === "string" ? { ...event, rawPath: stripStage(event.rawPath, stage) } : event;
  }
  if (typeof event.path === "string" && event.path === event.requestContext?.path) {
    return { ...event, path: stripStage(event.path, stage) };
  }
  return event;
}
