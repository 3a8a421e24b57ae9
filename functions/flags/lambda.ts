// AWS Lambda entry of the feature flags: the flag core behind API Gateway, Upstash store.
import { lambdaHandler } from "../http/lambda.ts";
import { upstashFlagCore } from "./env.ts";

// Built once per container, outside the handler: warm invocations reuse the rule cache (one store call per TTL).
export const handler = lambdaHandler(upstashFlagCore(process.env));
