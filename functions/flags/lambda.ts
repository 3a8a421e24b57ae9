// AWS Lambda entry of the feature flags: the flags express app behind API Gateway via serverless-http, Upstash store.
import { lambdaHandler } from "../lambda/api-gateway.ts";
import { expressFromHandler } from "./http/express.ts";
import { upstashFlagHandler } from "./http/from-env.ts";

// Built once per container, outside the handler: warm invocations reuse the rule cache (one store call per TTL).
export const handler = lambdaHandler(expressFromHandler(upstashFlagHandler(process.env)));
