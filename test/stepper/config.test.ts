// Where the stepper finds its cluster: the Lambda uses GREENLIGHT_KUBECONFIG alone, never a local kubeconfig.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadKubeConfig } from "../../functions/stepper/config.ts";

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: local, cluster: { server: "https://127.0.0.1:6443" } }]
users: [{ name: me, user: { token: t } }]
contexts: [{ name: here, context: { cluster: local, user: me } }]
current-context: here
`;

let dir = "";
let file = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "greenlight-kubeconfig-"));
  file = join(dir, "config");
  await writeFile(file, KUBECONFIG);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadKubeConfig", () => {
  it("reads GREENLIGHT_KUBECONFIG as YAML or base64", () => {
    for (const inline of [KUBECONFIG, Buffer.from(KUBECONFIG).toString("base64")]) {
      expect(loadKubeConfig({ GREENLIGHT_KUBECONFIG: inline }).getCurrentCluster()?.server).toBe(
        "https://127.0.0.1:6443",
      );
    }
  });

  /** client-node's fallback reads the process's own KUBECONFIG. */
  function withKubeconfigFile(test: () => void): void {
    const previous = process.env.KUBECONFIG;
    process.env.KUBECONFIG = file;
    try {
      test();
    } finally {
      if (previous === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = previous;
    }
  }

  it("falls back to KUBECONFIG for the CLI", () => {
    withKubeconfigFile(() => {
      expect(loadKubeConfig({}).getCurrentCluster()?.name).toBe("local");
    });
  });

  it("refuses the fallback where only GREENLIGHT_KUBECONFIG may count (the Lambda), naming the variable", () => {
    withKubeconfigFile(() => {
      expect(() => loadKubeConfig({ GREENLIGHT_KUBECONFIG: "" }, { inlineOnly: true })).toThrow(
        /^GREENLIGHT_KUBECONFIG is empty: .* never falls back to KUBECONFIG/,
      );
    });
  });
});

describe("settings that stop a pass rather than guess", () => {
  it("refuses a namespace name Kubernetes would refuse, naming the variable and what is accepted", async () => {
    const { namespacesFromEnv } = await import("../../functions/stepper/config.ts");
    expect(namespacesFromEnv({ GREENLIGHT_NAMESPACES: " shop, payments ,," })).toEqual(["shop", "payments"]);
    expect(namespacesFromEnv({})).toEqual([]);
    expect(() => namespacesFromEnv({ GREENLIGHT_NAMESPACES: "shop,Payments" })).toThrow(
      /^GREENLIGHT_NAMESPACES="shop,Payments" is invalid; "Payments" is not a namespace name; accepted: comma-separated lower-case DNS labels/,
    );
  });

  it("never quotes the kubeconfig it could not read: the lines after the parser's first may hold a token", () => {
    const broken = 'apiVersion: v1\nusers: [{ name: me, user: { token: "sekret-token-value" } }]\nclusters: [: bad';
    let message = "";
    try {
      loadKubeConfig({ GREENLIGHT_KUBECONFIG: broken });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^GREENLIGHT_KUBECONFIG is not a kubeconfig \(YAML or base64 of it\): /);
    expect(message).not.toContain("sekret-token-value");
    expect(message).not.toContain("\n");
  });

  it("never quotes a Prometheus URL that carries a password", async () => {
    const { checkPrometheusUrl } = await import("../../functions/canary/prometheus.ts");
    const message = (raw: string) => {
      try {
        checkPrometheusUrl(raw, "PROMETHEUS_URL");
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(message("ftp://greenlight:hunter2hunter2@prom.example.com")).not.toContain("hunter2");
    expect(message("https://greenlight:hunter2hunter2@prom.example.com/?x=1")).not.toContain("hunter2");
    expect(message("http://greenlight:hunter2hunter2@[bad")).toBe(
      "PROMETHEUS_URL is not a URL: use e.g. http://prometheus.monitoring:9090",
    );
  });
});
