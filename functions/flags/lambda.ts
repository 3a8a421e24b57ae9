// AWS Lambda entry of the feature flags: the Web-standard flag handler behind API Gateway, Upstash store.
import { fetchLambdaHandler } from "../lambda/fetch.ts";
import { upstashFlagHandler } from "./http/from-env.ts";

// Built once per container, outside the handler: warm invocations reuse the rule cache (one store call per TTL).
export const handler = fetchLambdaHandler(upstashFlagHandler(process.env));
