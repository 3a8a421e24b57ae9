// AWS Lambda entry of the feature flags: the Web-standard flag handler behind API Gateway, Upstash store.
import { fetchLambdaHandler } from "../lambda/fetch.ts";
import { upstashFlagCore } from "./env.ts";
import { webHandler } from "./http/handler.ts";

// Built once per container, outside the handler: warm invocations reuse the rule cache (one store call per TTL).
export const handler = fetchLambdaHandler(webHandler(upstashFlagCore(process.env)));
