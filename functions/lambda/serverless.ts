// A Node request listener (express app or plain) as a Lambda handler behind API Gateway, via serverless-http.
import type { RequestListener } from "node:http";
import serverless from "serverless-http";
import { type ApiGatewayEvent, type ApiGatewayResult, type LambdaContext, normalizeEvent } from "./api-gateway.ts";

/**
 * The Lambda handler for an express (or any Node request listener) app. `binary: false`, never `true`: the answers
 * are JSON, and the API server would not decode a base64 body; `false` also ignores a stray BINARY_CONTENT_TYPES
 * variable. Base64 request bodies (`isBase64Encoded: true`) are decoded by serverless-http regardless.
 */
export function lambdaHandler(
  app: RequestListener,
): (event: ApiGatewayEvent, context: LambdaContext) => Promise<ApiGatewayResult> {
  const wrapped = serverless(app, { binary: false });
  return async (event, context) => (await wrapped(normalizeEvent(event), context)) as ApiGatewayResult;
}
