// Certificate generation and `greenlight certs`: what the API server will check, and what lands on disk.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import forge from "node-forge";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { parseAllDocuments } from "yaml";
import { registerCertsCommand } from "../../scripts/cli/certs.ts";
import { CliError } from "../../scripts/cli/errors.ts";
import {
  caBundleOf,
  generateCa,
  generateServingCert,
  generateWebhookCertificates,
  type WebhookCertificates,
} from "../../webhooks/certs/certs.ts";

const DAY = 86_400_000;
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

describe("generateWebhookCertificates", () => {
  let certs: WebhookCertificates;
  let ca: X509Certificate;
  let serving: X509Certificate;

  beforeAll(() => {
    certs = generateWebhookCertificates({
      service: "greenlight-webhook",
      namespace: "greenlight-system",
      extraDnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1", "::1"],
    });
    ca = new X509Certificate(certs.ca.certPem);
    serving = new X509Certificate(certs.serving.certPem);
  });

  it("signs the serving certificate with the CA", () => {
    expect(serving.verify(ca.publicKey)).toBe(true);
    expect(serving.checkIssued(ca)).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    const other = generateCa();
    expect(serving.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
  });

  it("makes the CA a CA and the serving certificate a TLS server certificate", () => {
    expect(ca.ca).toBe(true);
    expect(serving.ca).toBe(false);
    expect(serving.keyUsage).toEqual([SERVER_AUTH]);
    expect(serving.subject).toBe("CN=greenlight-webhook.greenlight-system.svc");
    const forgeCa = forge.pki.certificateFromPem(certs.ca.certPem);
    expect(forgeCa.getExtension("basicConstraints")).toMatchObject({ cA: true, critical: true });
    expect(forgeCa.getExtension("keyUsage")).toMatchObject({ keyCertSign: true });
    expect((forgeCa.publicKey as forge.pki.rsa.PublicKey).n.bitLength()).toBe(2048);
  });

  it("covers every name a client in the cluster may use, plus the extra names and IPs", () => {
    for (const host of [
      "greenlight-webhook",
      "greenlight-webhook.greenlight-system",
      "greenlight-webhook.greenlight-system.svc",
      "greenlight-webhook.greenlight-system.svc.cluster.local",
      "localhost",
    ]) {
      expect(serving.checkHost(host), host).toBe(host);
    }
    expect(serving.checkHost("other.greenlight-system.svc")).toBeUndefined();
    expect(serving.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(serving.checkIP("::1")).toBe("::1");
    expect(serving.subjectAltName).toContain("DNS:greenlight-webhook.greenlight-system.svc");
    expect(certs.serving.dnsNames).toHaveLength(5);
    expect(certs.serving.ipAddresses).toEqual(["127.0.0.1", "::1"]);
  });

  it("pairs each certificate with its key", () => {
    expect(ca.checkPrivateKey(createPrivateKey(certs.ca.keyPem))).toBe(true);
    expect(serving.checkPrivateKey(createPrivateKey(certs.serving.keyPem))).toBe(true);
    expect(serving.checkPrivateKey(createPrivateKey(certs.ca.keyPem))).toBe(false);
  });

  it("lasts 10 years for the CA and 1 year for the serving certificate", () => {
    const days = (cert: X509Certificate) => (Date.parse(cert.validTo) - Date.now()) / DAY;
    expect(days(ca)).toBeGreaterThan(3649);
    expect(days(ca)).toBeLessThanOrEqual(3650);
    expect(days(serving)).toBeGreaterThan(364);
    expect(days(serving)).toBeLessThanOrEqual(365);
    expect(Date.parse(serving.validFrom)).toBeLessThan(Date.now());
  });

  it("gives every certificate its own serial and encodes the caBundle as base64 PEM", () => {
    expect(serving.serialNumber.toLowerCase()).toBe(certs.serving.serialNumber);
    const again = generateServingCert(certs.ca, { service: "greenlight-webhook", namespace: "greenlight-system" });
    expect(again.serialNumber).not.toBe(certs.serving.serialNumber);
    expect(Buffer.from(certs.caBundle, "base64").toString("utf8")).toBe(certs.ca.certPem);
    expect(caBundleOf(certs.ca.certPem)).toBe(certs.caBundle);
    expect(certs.ca.certPem).not.toContain("\r");
  });

  it("refuses names that cannot be SANs, naming them", () => {
    expect(() => generateServingCert(certs.ca, { service: "Web_Hook", namespace: "ns" })).toThrow(/service "Web_Hook"/);
    expect(() =>
      generateServingCert(certs.ca, { service: "wh", namespace: "ns", extraDnsNames: ["bad name"] }),
    ).toThrow(/"bad name"/);
  });
});

describe("greenlight certs", () => {
  let dir: string;
  let stdout: string;

  // A fresh program per run, as main.ts builds one per invocation; exitOverride turns exits into throws.
  async function run(...args: string[]): Promise<void> {
    const program = new Command("greenlight").exitOverride().configureOutput({
      writeOut: (s) => {
        stdout += s;
      },
      writeErr: () => {},
    });
    registerCertsCommand(program);
    await program.parseAsync(["certs", ...args], { from: "user" });
  }

  async function modeOf(path: string): Promise<number> {
    return (await stat(path)).mode & 0o777;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "greenlight-certs-"));
    stdout = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    // No kubeconfig unless a test writes one: the namespace then falls back to greenlight-system.
    vi.stubEnv("KUBECONFIG", join(dir, "no-such-kubeconfig"));
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the CA, the serving pair and the configurations, keys readable by the owner only", async () => {
    const out = join(dir, "out", "nested");
    await run("--out", out, "--dns", "localhost,127.0.0.1");

    expect(await modeOf(join(out, "ca.key"))).toBe(0o600);
    expect(await modeOf(join(out, "tls.key"))).toBe(0o600);
    expect(await modeOf(join(out, "ca.crt"))).toBe(0o644);
    expect(await modeOf(join(out, "tls.crt"))).toBe(0o644);

    const caPem = await readFile(join(out, "ca.crt"), "utf8");
    const serving = new X509Certificate(await readFile(join(out, "tls.crt"), "utf8"));
    expect(serving.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    expect(serving.checkHost("greenlight-webhook.greenlight-system.svc")).toBeDefined();
    expect(serving.checkHost("localhost")).toBe("localhost");
    expect(serving.checkIP("127.0.0.1")).toBe("127.0.0.1");

    const docs = parseAllDocuments(await readFile(join(out, "webhook-configurations.yaml"), "utf8"));
    expect(Array.isArray(docs)).toBe(true);
    const objects = (docs as Array<{ toJS(): unknown; errors: unknown[] }>).map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as {
        kind: string;
        webhooks: Array<{
          clientConfig: { caBundle?: string; service?: { namespace: string } };
          failurePolicy: string;
        }>;
      };
    });
    expect(objects.map((o) => o.kind)).toEqual(["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]);
    for (const webhook of objects.flatMap((o) => o.webhooks)) {
      expect(Buffer.from(webhook.clientConfig.caBundle ?? "", "base64").toString("utf8")).toBe(caPem);
      expect(webhook.clientConfig.service?.namespace).toBe("greenlight-system");
      expect(webhook.failurePolicy).toBe("Ignore");
    }
    expect(stdout).toContain("Wrote 5 files");
    expect(stdout).toContain("greenlight-system (default)");
    expect(stdout).toContain("create secret tls greenlight-webhook-tls");
    expect(stdout).toContain("kubectl apply --server-side --field-manager=greenlight-certs -f");
  });

  it("refuses to overwrite existing keys unless --force", async () => {
    await run("--out", dir);
    const before = await readFile(join(dir, "tls.key"), "utf8");

    const refusal = run("--out", dir);
    await expect(refusal).rejects.toBeInstanceOf(CliError);
    await expect(refusal).rejects.toThrow(/ca\.key already exists; pass --force/);
    expect(await readFile(join(dir, "tls.key"), "utf8")).toBe(before);

    await rm(join(dir, "ca.key"));
    await expect(run("--out", dir)).rejects.toThrow(/tls\.key already exists/);

    // --force replaces the keys and restores the mode even when the old file was looser.
    await chmod(join(dir, "tls.key"), 0o644);
    await run("--out", dir, "--force");
    expect(await readFile(join(dir, "tls.key"), "utf8")).not.toBe(before);
    expect(await modeOf(join(dir, "tls.key"))).toBe(0o600);
  });

  it("prints a JSON summary with -o json", async () => {
    await run("--out", dir, "-n", "delivery", "--service", "wh", "--failure-policy", "Fail", "-o", "json");
    const summary = JSON.parse(stdout) as {
      namespace: string;
      namespaceSource: string;
      dnsNames: string[];
      failurePolicy: { mutating: string; validating: string };
      files: Array<{ name: string; mode: string; path: string }>;
    };
    expect(summary.namespace).toBe("delivery");
    expect(summary.namespaceSource).toBe("flag");
    expect(summary.dnsNames).toContain("wh.delivery.svc");
    expect(summary.failurePolicy).toEqual({ mutating: "Fail", validating: "Fail" });
    expect(summary.files.map((f) => [f.name, f.mode])).toEqual([
      ["ca.crt", "0644"],
      ["ca.key", "0600"],
      ["tls.crt", "0644"],
      ["tls.key", "0600"],
      ["webhook-configurations.yaml", "0644"],
    ]);
    expect(summary.files[0]?.path).toBe(join(dir, "ca.crt"));
  });

  it("takes the namespace from the kubeconfig context when -n is absent", async () => {
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]",
        "users: [{name: u, user: {token: t}}]",
        "contexts: [{name: team, context: {cluster: c, user: u, namespace: team-a}}]",
        "current-context: team",
      ].join("\n"),
    );
    vi.stubEnv("KUBECONFIG", kubeconfig);
    await run("--out", join(dir, "out"), "-o", "json");
    expect(JSON.parse(stdout)).toMatchObject({ namespace: "team-a", namespaceSource: "kubeconfig" });
  });

  it("points the configurations at --url and adds its host to the certificate", async () => {
    await run("--out", dir, "--url", "https://dev.example.test:8443/", "-o", "json");
    const yamlText = await readFile(join(dir, "webhook-configurations.yaml"), "utf8");
    expect(yamlText).toContain("url: https://dev.example.test:8443/mutate/namespace");
    expect(yamlText).toContain("url: https://dev.example.test:8443/validate");
    expect(yamlText).not.toContain("service:");
    const serving = new X509Certificate(await readFile(join(dir, "tls.crt"), "utf8"));
    expect(serving.checkHost("dev.example.test")).toBe("dev.example.test");
  });

  it("explains what to fix for bad input", async () => {
    await expect(run("--out", dir, "--url", "http://x.example")).rejects.toThrow(/must start with https:\/\//);
    await expect(run("--out", dir, "--dns", "not a host")).rejects.toThrow(/--dns: "not a host" is neither/);
    await expect(run("--out", dir, "-n", "Bad_NS")).rejects.toThrow(/--namespace "Bad_NS" is not a DNS label/);
    await writeFile(join(dir, "file"), "");
    await expect(run("--out", join(dir, "file"))).rejects.toThrow(/is a file, not a directory/);
    await expect(run("--out", dir, "--failure-policy", "Never")).rejects.toBeInstanceOf(CommanderError);
    await expect(run("--out", dir, "--timeout", "60")).rejects.toBeInstanceOf(CommanderError);
  });

  it("shows examples in --help", async () => {
    await expect(run("--help")).rejects.toMatchObject({ code: "commander.helpDisplayed" });
    expect(stdout).toContain("Examples:");
    expect(stdout).toContain("greenlight certs --out .greenlight/certs");
    expect(stdout).toContain("--failure-policy <policy>");
  });
});
