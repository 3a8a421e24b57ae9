// AWS Lambda entry of the dashboard: its files behind API Gateway at /dashboard/, on the flag function's origin.
/*
 * The function's package holds the app's files and the vendor files beside the bundle (package.patterns, see
 * docs/OPERATIONS.md, "Dashboard"), read from the task root once per instance, when the module loads. The API is
 * addressed relatively ("../" from /dashboard/), so a stage in front of the path (/prod/dashboard/) is kept.
 */
import { lambdaHandler } from "../http/lambda.ts";
import { createDashboardCore } from "./core.ts";
import { defaultRoot, loadDashboardFiles } from "./files.ts";

/** Where the dashboard is mounted on the HTTP API (the flag function's admin API and OFREP are at /admin and /ofrep). */
export const LAMBDA_BASE_PATH = "/dashboard/";

const core = createDashboardCore({
  files: loadDashboardFiles(process.env.LAMBDA_TASK_ROOT ?? defaultRoot()),
  basePath: LAMBDA_BASE_PATH,
  apiBase: "../",
});

export const handler = lambdaHandler(core);
