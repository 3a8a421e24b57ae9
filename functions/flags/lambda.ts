// AWS Lambda entry of the feature flags: the flags express app behind API Gateway via serverless-http, Upstash store.
import serverless from "serverless-http";
import type { ApiGatewayEvent, ApiGatewayResult, LambdaContext } from "../../webhooks/lambda.ts";
import { expressFromHandler } from "./http/express.ts";
import { upstashFlagHandler } from "./http/from-env.ts";

/**
 * Drops a leading `/<stage>` from the path of an HTTP API (v2) event, as webhooks/lambda.ts's normalizeEvent does.
 * Not imported from there: that module builds the webhook app when loaded, which would land in this bundle.
 * REST API (v1) events keep their `path`, which never carries the stage.
 */
export function stripStageV2(event: ApiGatewayEvent): ApiGatewayEvent {
  const stage = event.requestContext?.stage;
  const path = event.rawPath;
  if (event.version !== "2.0" || typeof path !== "string" || !stage || stage === "$default") return event;
  const prefix = `/${stage}`;
  if (path === prefix) return { ...event, rawPath: "/" };
  return path.startsWith(`${prefix}/`) ? { ...event, rawPath: path.slice(prefix.length) } : event;
}

// Built once per container, outside the handler: warm invocations reuse the rule cache (one store call per TTL).
const app = expressFromHandler(upstashFlagHandler(process.env));
const wrapped = serverless(app, { binary: false });

export const handler = async (event: ApiGatewayEvent, context: LambdaContext): Promise<ApiGatewayResult> =>
  (await wrapped(stripStageV2(event), context)) as ApiGatewayResult;
