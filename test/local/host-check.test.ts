// DNS rebinding: the local stack's page and admin API answer only requests whose Host names this server; real HTTP
// requests with a forged Host header to a running stack, and the rules on their own.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterFromEnv } from "../../scripts/local/cluster.ts";
import { acceptedHosts, flagsPathNeedsHostCheck, hostProblem, routedPath } from "../../scripts/local/host-check.ts";
import { createLogger } from "../../scripts/local/log.ts";
import { resolveSettings } from "../../scripts/local/settings.ts";
import { type LocalStack, startLocalStack } from "../../scripts/local/stack.ts";
import { freePort } from "../../scripts/services/children.ts";
import { kubeconfigYaml } from "./kubeconfig.ts";

interface Answer {
  status: number;
  body: string;
}

/** A GET (or `method`) to 127.0.0.1:port with the Host header given, which fetch would not let us forge. */
function send(
  port: number,
  path: string,
  host: string,
  headers: Record<string, string> = {},
  method = "GET",
  body?: string,
) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method, agent: false, setHost: false, headers: { host, ...headers } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("the local stack's Host check", () => {
  let cwd: string;
  let stack: LocalStack;
  let auth: Record<string, string>;

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), "greenlight-host-check-"));
    const kubeconfig = join(cwd, "kubeconfig");
    await writeFile(kubeconfig, kubeconfigYaml(`http://127.0.0.1:${await freePort()}`));
    const env = { KUBECONFIG: kubeconfig };
    stack = await startLocalStack({
      ...resolveSettings({ port: "0", webhookPort: "0", flagsPort: "0" }, env, cwd),
      cwd,
      env,
      logger: createLogger({ level: "silent" }),
      connect: clusterFromEnv(env, 1_000),
      retryMs: 60_000,
    });
    auth = { authorization: `Bearer ${stack.admin.token}` };
  });

  afterAll(async () => {
    await stack?.close();
    await rm(cwd, { recursive: true, force: true });
  });

  it("serves the page to localhost, 127.0.0.1 and [::1] on its port", async () => {
    const port = stack.ports.page;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      const answer = await send(port, "/api/state", host);
      expect(answer.status, host).toBe(200);
    }
  });

  it("refuses the page to a forged Host with 421, naming the header and what is accepted", async () => {
    const port = stack.ports.page;
    for (const path of ["/", "/api/state", "/demo.svg"]) {
      const answer = await send(port, path, `evil.example:${port}`);
      expect(answer.status, path).toBe(421);
      expect(JSON.parse(answer.body)).toEqual({
        error:
          `Host header "evil.example:${port}" does not name this server; accepted: localhost:${port}, ` +
          `127.0.0.1:${port}, [::1]:${port} (other names are refused against DNS rebinding; pass --public-host to ` +
          "add the one you use)",
      });
    }
    // The right name on another port is another server.
    expect((await send(port, "/", `localhost:${port + 1}`)).status).toBe(421);
    expect((await send(port, "/", "localhost")).status).toBe(421);
  });

  it("refuses the admin API to a forged Host, however the path is spelled, even with the right token", async () => {
    const port = stack.ports.flags;
    expect((await send(port, "/admin/flags", `127.0.0.1:${port}`, auth)).status).toBe(200);
    for (const path of ["/admin/flags", "/./admin/flags", "/%2e/admin/flags", "/admin/audit", "/nowhere"]) {
      const answer = await send(port, path, `rebound.example:${port}`, auth);
      expect(answer.status, path).toBe(421);
      expect(JSON.parse(answer.body).error).toContain(`Host header "rebound.example:${port}"`);
    }
    const write = await send(port, "/admin/flags/banner", `rebound.example:${port}`, auth, "DELETE");
    expect(write.status).toBe(421);
  });

  it("leaves OFREP and health open to any Host: pods and containers reach this machine by other names", async () => {
    const port = stack.ports.flags;
    const health = await send(port, "/healthz", `host.docker.internal:${port}`);
    expect(health.status).toBe(200);
    const evaluation = await send(
      port,
      "/ofrep/v1/evaluate/flags/payment_feature",
      `host.docker.internal:${port}`,
      { "content-type": "application/json" },
      "POST",
      JSON.stringify({ context: { targetingKey: "user-1" } }),
    );
    expect(evaluation.status).toBe(200);
    expect(JSON.parse(evaluation.body)).toMatchObject({ key: "payment_feature" });
  });
});

describe("the Host rules", () => {
  it("accepts each name on the port, IPv6 in brackets, and bare names on port 80 only", () => {
    const names = ["localhost", "127.0.0.1", "::1", "dev.example.test"];
    expect(acceptedHosts(names, 8080)).toEqual([
      "localhost:8080",
      "127.0.0.1:8080",
      "[::1]:8080",
      "dev.example.test:8080",
    ]);
    expect(acceptedHosts(["localhost", "::1"], 80)).toEqual(["localhost:80", "[::1]:80", "localhost", "[::1]"]);
    expect(hostProblem("Dev.Example.Test:8080", names, 8080)).toBeUndefined();
    expect(hostProblem(undefined, names, 8080)).toMatch(/^no Host header does not name this server; accepted: /);
    expect(hostProblem("localhost.:8080", names, 8080)).toMatch(/^Host header "localhost\.:8080" does not name/);
  });

  it("checks the path the flags handler routes, exempting OFREP and health only", () => {
    expect(routedPath("/./admin/flags?x=1")).toBe("/admin/flags");
    expect(routedPath("/%2e%2e/admin/flags")).toBe("/admin/flags");
    for (const path of ["/admin/flags", "/", "/metrics", undefined]) expect(flagsPathNeedsHostCheck(path)).toBe(true);
    for (const path of ["/ofrep/v1/evaluate/flags", "/healthz", "/flags/healthz"]) {
      expect(flagsPathNeedsHostCheck(path)).toBe(false);
    }
  });
});
