// Every command that needs a cluster, run where there is none: one line saying what is missing and how to point at
// a cluster, before anything else is printed (no empty table, no client-library error about HTTP and TLS).
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run.ts";

const SLOW = { timeout: 60_000 };

const COMMANDS = [
  ["step", "--once"],
  ["step", "--once", "--dry-run", "-A"],
  ["canary", "status", "-A"],
  ["canary", "analyze", "myapp-v2", "-n", "production"],
  ["bluegreen", "switch", "myapp", "--to", "green", "-n", "production"],
  ["bluegreen", "rollback", "myapp", "-n", "production"],
  ["rollout", "watch", "myapp", "--timeout", "5s"],
  ["rollout", "status", "myapp"],
];

/** Nothing from the developer's machine may lend the commands a cluster. */
const NO_CLUSTER: NodeJS.ProcessEnv = {
  KUBECONFIG: "",
  GREENLIGHT_KUBECONFIG: "",
  GREENLIGHT_KUBECONFIG_SECRET: "",
  GREENLIGHT_KUBECONFIG_PARAMETER: "",
  GREENLIGHT_EKS_CLUSTER: "",
  GREENLIGHT_EKS_ENDPOINT: "",
  GREENLIGHT_EKS_CA: "",
  GREENLIGHT_NAMESPACES: "",
  KUBERNETES_SERVICE_HOST: "",
  PROMETHEUS_URL: "http://127.0.0.1:9",
};

let home = "";
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "greenlight-no-cluster-"));
});

/** The one line the command printed, after checking that it printed nothing else. */
function oneLine(result: { code: number | null; stdout: string; stderr: string }): string {
  expect(result.code).toBe(1);
  expect(result.stdout).toBe("");
  const lines = result.stderr.trim().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0] ?? "";
}

describe("cluster commands without a kubeconfig", () => {
  for (const args of COMMANDS) {
    it(
      `greenlight ${args.join(" ")} says that no kubeconfig was found and how to point at a cluster`,
      SLOW,
      async () => {
        const line = oneLine(await runCli(args, undefined, { ...NO_CLUSTER, HOME: home }));
        expect(line).toMatch(/^greenlight: no cluster: no kubeconfig found \(KUBECONFIG is unset, /);
        expect(line).toContain(`${join(home, ".kube", "config")} does not exist`);
        // How to point at a cluster: KUBECONFIG, the context, the kubeconfig itself, in a cluster.
        expect(line).toContain("set KUBECONFIG to the kubeconfig of a running cluster");
        expect(line).toContain("kubectl config use-context");
        expect(line).toContain("GREENLIGHT_KUBECONFIG");
        expect(line).toContain("service account");
        expect(line).not.toMatch(/skipTLSVerify|localhost:8080|HTTP protocol/);
      },
    );
  }
});

describe("cluster commands with a kubeconfig they cannot use", () => {
  it("names the file KUBECONFIG points at when it does not exist", SLOW, async () => {
    const missing = join(home, "nowhere", "config");
    for (const args of [COMMANDS[0], COMMANDS[4], COMMANDS[6]] as string[][]) {
      const line = oneLine(await runCli(args, undefined, { ...NO_CLUSTER, HOME: home, KUBECONFIG: missing }));
      expect(line).toBe(
        `greenlight: no cluster: the kubeconfig KUBECONFIG=${missing} cannot be read (no such file); ` +
          "set KUBECONFIG to the kubeconfig of a running cluster (kind, minikube and k3d write one), choose its " +
          "context with kubectl config use-context NAME, put the kubeconfig itself in GREENLIGHT_KUBECONFIG, or " +
          "run greenlight in a pod whose service account may reach the API server",
      );
    }
  });

  it("says when ~/.kube/config has no current context, and lists the ones it has", SLOW, async () => {
    const withHome = await mkdtemp(join(tmpdir(), "greenlight-no-context-"));
    await mkdir(join(withHome, ".kube"));
    await writeFile(
      join(withHome, ".kube", "config"),
      [
        "apiVersion: v1",
        "kind: Config",
        'clusters: [{ name: kind, cluster: { server: "https://127.0.0.1:6443" } }]',
        "users: [{ name: me, user: { token: t } }]",
        "contexts: [{ name: kind-dev, context: { cluster: kind, user: me } }]",
        "",
      ].join("\n"),
    );
    const line = oneLine(await runCli(["canary", "status", "-A"], undefined, { ...NO_CLUSTER, HOME: withHome }));
    expect(line).toBe(
      `greenlight: no cluster: the kubeconfig ${join(withHome, ".kube", "config")} has no current context ` +
        "(it has kind-dev): choose one with kubectl config use-context NAME",
    );
  });
});

describe("step with a cluster that does not answer", () => {
  it("prints no empty table: only why the pass failed, on stderr, exit 1", SLOW, async () => {
    // A kubeconfig whose API server is a closed port: the pass fails before it finds any Deployment.
    const kubeconfig = join(home, "unreachable.yaml");
    await writeFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: gone, cluster: {server: 'https://127.0.0.1:9', insecure-skip-tls-verify: true}}]",
        "users: [{name: gone, user: {token: not-a-secret}}]",
        "contexts: [{name: gone, context: {cluster: gone, user: gone}}]",
        "current-context: gone",
        "",
      ].join("\n"),
    );
    const result = await runCli(["step", "--once", "-n", "shop", "--call-timeout", "2s"], undefined, {
      ...NO_CLUSTER,
      HOME: home,
      KUBECONFIG: kubeconfig,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).not.toContain("NAMESPACE");
    expect(result.stderr.trim()).toMatch(/^greenlight: /);
  });
});
