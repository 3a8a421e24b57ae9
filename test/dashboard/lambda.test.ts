// The dashboard's Lambda entry behind API Gateway events: the page at /dashboard/, its files, the API addressed
// relatively so that a stage in front of the path is kept.
import { describe, expect, it } from "vitest";
import { handler } from "../../functions/dashboard/lambda.ts";
import type { ApiGatewayResult } from "../../functions/http/api-gateway.ts";
import { httpApiEvent, lambdaContext } from "../../scripts/fakes/lambda-events.ts";

const get = async (path: string, stage?: string): Promise<ApiGatewayResult> =>
  (await handler(httpApiEvent("GET", path, undefined, stage ? { stage } : {}), lambdaContext())) as ApiGatewayResult;

describe("the dashboard on Lambda", () => {
  it("serves the page at /dashboard/, calling the API relative to it", async () => {
    const page = await get("/dashboard/", "prod");
    expect(page.statusCode).toBe(200);
    expect(page.headers?.["Content-Security-Policy"]).toContain("script-src 'self'");
    expect(page.body).toContain('data-api="../"');
    expect(page.body).not.toContain("data-rollouts");
  });

  it("serves the app's modules and the vendor files from the task root", async () => {
    const main = await get("/dashboard/app/main.js");
    expect(main.statusCode).toBe(200);
    expect(main.headers?.["Content-Type"]).toBe("text/javascript; charset=utf-8");
    expect(main.body).toContain('from "../vendor/preact-htm.js"');
    expect((await get("/dashboard/vendor/uplot.js")).statusCode).toBe(200);
    expect(await get("/dashboard")).toMatchObject({ statusCode: 308, headers: { Location: "dashboard/" } });
  });
});
