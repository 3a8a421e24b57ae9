// `greenlight certs`: writes a CA, the webhook's serving certificate and the webhook configurations that trust it.
import { constants } from "node:fs";
import { access, chmod, mkdir, stat, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  buildWebhookConfigurations,
  DEFAULT_FAILURE_POLICY,
  DEFAULT_NAMESPACE,
  DEFAULT_SERVICE,
  type FailurePolicy,
  type WebhookTarget,
} from "../../webhooks/config/configurations.ts";
import { renderYamlDocuments } from "../../webhooks/config/render.ts";
import { kubeconfigNamespace } from "./cluster.ts";
import { CliError } from "./errors.ts";

export const TLS_SECRET_NAME = "greenlight-webhook-tls";
export const CERTS_FIELD_MANAGER = "greenlight-certs";

export interface CertsOptions {
  service: string;
  /** Unset: the kubeconfig context's namespace, else greenlight-system. */
  namespace?: string;
  out: string;
  url?: string;
  failurePolicy?: FailurePolicy;
  timeoutSeconds?: number;
  /** Extra SANs: DNS names and IP addresses. */
  dns?: string[];
  name?: string;
  force?: boolean;
}

export interface WrittenFile {
  name: string;
  path: string;
  mode: string;
  description: string;
}

export interface CertsResult {
  dir: string;
  service: string;
  namespace: string;
  namespaceSource: "flag" | "kubeconfig" | "default";
  target: { service: string } | { url: string };
  dnsNames: string[];
  ipAddresses: string[];
  caNotAfter: string;
  servingNotAfter: string;
  failurePolicy: { mutating: FailurePolicy; validating: FailurePolicy };
  files: WrittenFile[];
}

const KEY_FILES = ["ca.key", "tls.key"] as const;

export function registerCertsCommand(program: Command): void {
  program
    .command("certs")
    .description(
      "Write a CA, the webhook serving certificate and the webhook configurations (caBundle set) to a directory.",
    )
    .requiredOption("--out <dir>", "directory to write into (created if missing)")
    .option("--service <name>", "Service in front of the webhook Pods", DEFAULT_SERVICE)
    .option(
      "-n, --namespace <namespace>",
      `namespace of that Service (default: kubeconfig context's, else ${DEFAULT_NAMESPACE})`,
    )
    .option("--url <url>", "point the configurations at this https base URL instead of the Service")
    .addOption(
      new Option(
        "--failure-policy <policy>",
        "failurePolicy of every webhook (default: Ignore, see manifests/README.md)",
      ).choices(["Fail", "Ignore"]),
    )
    .option("--timeout <seconds>", "timeoutSeconds of every webhook, 1-30 (default: 5)", parseTimeout)
    .addOption(
      new Option("--dns <names>", "extra SANs, comma-separated DNS names or IPs (repeatable)")
        .argParser(collectList)
        .default([], "none"),
    )
    .option("--name <name>", "metadata.name of both configurations", "greenlight")
    .option("--force", "replace existing ca.key/tls.key in --out", false)
    .addOption(new Option("-o, --output <format>", "summary format").choices(["text", "json"]).default("text"))
    .addHelpText(
      "after",
      `
Files written to --out:
  ca.crt, ca.key (0600)       self-signed CA, valid 10 years
  tls.crt, tls.key (0600)     serving certificate for <service>.<namespace>.svc, valid 1 year
  webhook-configurations.yaml Mutating- and ValidatingWebhookConfiguration with caBundle

Examples:
  # In-cluster webhook (manifests/base), then load the Secret and the configurations:
  $ greenlight certs --out .greenlight/certs -n greenlight-system
  $ kubectl apply -f manifests/base/namespace.yaml   # the namespace first: the Secret goes into it
  $ kubectl -n greenlight-system create secret tls ${TLS_SECRET_NAME} \\
      --cert .greenlight/certs/tls.crt --key .greenlight/certs/tls.key
  $ kubectl apply -k manifests/base
  $ kubectl apply --server-side --field-manager=${CERTS_FIELD_MANAGER} -f .greenlight/certs/webhook-configurations.yaml

  # A webhook served from your laptop, reached by a local cluster through a host name:
  $ greenlight certs --out .greenlight/dev --url https://host.docker.internal:8443 --dns localhost,127.0.0.1

  # Renew the serving certificate and CA in place, strict failure policy, JSON summary:
  $ greenlight certs --out .greenlight/certs --force --failure-policy Fail -o json

A publicly trusted URL (API Gateway) needs no certificates: use manifests/overlays/serverless instead,
because a caBundle restricts the API server to trusting this CA only.`,
    )
    .action(async (raw: RawCertsOptions) => {
      const result = await writeWebhookCerts({
        service: raw.service,
        namespace: raw.namespace,
        out: raw.out,
        url: raw.url,
        failurePolicy: raw.failurePolicy,
        timeoutSeconds: raw.timeout,
        dns: raw.dns,
        name: raw.name,
        force: raw.force,
      });
      process.stdout.write(raw.output === "json" ? `${JSON.stringify(result, null, 2)}\n` : formatSummary(result));
    });
}

interface RawCertsOptions {
  out: string;
  service: string;
  namespace?: string;
  url?: string;
  failurePolicy?: FailurePolicy;
  timeout?: number;
  dns: string[];
  name: string;
  force: boolean;
  output: "text" | "json";
}

/** Generates everything and writes it; throws CliError for anything the user can fix. */
export async function writeWebhookCerts(opts: CertsOptions): Promise<CertsResult> {
  // node-forge is loaded on use, so every other command starts without it.
  const { dnsLabelProblem, generateWebhookCertificates, subjectAltNameProblem } = await import(
    "../../webhooks/certs/certs.ts"
  );
  const dir = resolve(opts.out);
  const { namespace, source } = opts.namespace
    ? { namespace: opts.namespace, source: "flag" as const }
    : await namespaceFromKubeconfig();
  const serviceProblem = dnsLabelProblem(opts.service, "--service");
  if (serviceProblem) throw new CliError(`${serviceProblem}; pass a Service name such as ${DEFAULT_SERVICE}`);
  const namespaceProblem = dnsLabelProblem(namespace, "--namespace");
  if (namespaceProblem)
    throw new CliError(`${namespaceProblem}; pass an existing namespace such as ${DEFAULT_NAMESPACE}`);

  const extras = [...(opts.dns ?? [])];
  let target: WebhookTarget = { service: { name: opts.service, namespace } };
  if (opts.url) {
    const url = parseWebhookUrl(opts.url);
    target = { url: url.href.replace(/\/+$/, "") };
    // The API server checks the URL's host against the certificate, so it must be a SAN.
    extras.push(url.hostname.replace(/^\[(.*)\]$/, "$1"));
  }
  for (const name of extras) {
    const problem = subjectAltNameProblem(name);
    if (problem) throw new CliError(`--dns: ${problem}; pass names like localhost,127.0.0.1`);
  }

  await prepareDirectory(dir, opts.force ?? false);

  const certs = generateWebhookCertificates({
    service: opts.service,
    namespace,
    extraDnsNames: extras.filter((n) => isIP(n) === 0),
    ipAddresses: extras.filter((n) => isIP(n) !== 0),
  });
  let configurations: ReturnType<typeof buildWebhookConfigurations>;
  try {
    configurations = buildWebhookConfigurations({
      name: opts.name,
      target,
      caBundle: certs.caBundle,
      failurePolicy: opts.failurePolicy,
      timeoutSeconds: opts.timeoutSeconds,
      ownNamespace: namespace,
    });
  } catch (error) {
    throw new CliError(`${error instanceof Error ? error.message : String(error)}; fix the flag and run again`);
  }

  const yaml = renderYamlDocuments(
    configurations,
    `Written by \`greenlight certs\` for ${"url" in target ? target.url : `${opts.service}.${namespace}.svc`}.\nApply after the Secret ${TLS_SECRET_NAME} exists:\n  kubectl apply --server-side --field-manager=${CERTS_FIELD_MANAGER} -f webhook-configurations.yaml`,
  );
  const exclusive = !(opts.force ?? false);
  const files: WrittenFile[] = [
    await put(dir, "ca.crt", certs.ca.certPem, 0o644, `CA certificate, valid until ${day(certs.ca.notAfter)}`, false),
    await put(dir, "ca.key", certs.ca.keyPem, 0o600, "CA private key: needed only to sign again", exclusive),
    await put(
      dir,
      "tls.crt",
      certs.serving.certPem,
      0o644,
      `serving certificate for ${opts.service}.${namespace}.svc, valid until ${day(certs.serving.notAfter)}`,
      false,
    ),
    await put(dir, "tls.key", certs.serving.keyPem, 0o600, "serving private key", exclusive),
    await put(dir, "webhook-configurations.yaml", yaml, 0o644, "Mutating- and ValidatingWebhookConfiguration", false),
  ];

  return {
    dir,
    service: opts.service,
    namespace,
    namespaceSource: source,
    target: "url" in target ? { url: target.url } : { service: `${opts.service}.${namespace}.svc:443` },
    dnsNames: certs.serving.dnsNames,
    ipAddresses: certs.serving.ipAddresses,
    caNotAfter: certs.ca.notAfter.toISOString(),
    servingNotAfter: certs.serving.notAfter.toISOString(),
    failurePolicy: {
      mutating: opts.failurePolicy ?? DEFAULT_FAILURE_POLICY.mutating,
      validating: opts.failurePolicy ?? DEFAULT_FAILURE_POLICY.validating,
    },
    files,
  };
}

export function formatSummary(result: CertsResult): string {
  const width = Math.max(...result.files.map((f) => f.name.length));
  const lines = result.files.map((f) => `  ${f.name.padEnd(width)}  ${f.mode}  ${f.description}`);
  // Its own field manager owns caBundle, so re-applying manifests/base (which has none) leaves it in place.
  const applyCommand = `  kubectl apply --server-side --field-manager=${CERTS_FIELD_MANAGER} -f ${join(result.dir, "webhook-configurations.yaml")}`;
  const from = { flag: "", kubeconfig: " (from the kubeconfig context)", default: " (default)" }[
    result.namespaceSource
  ];
  const next =
    "url" in result.target
      ? [applyCommand]
      : [
          `  kubectl -n ${result.namespace} create secret tls ${TLS_SECRET_NAME} --cert ${join(result.dir, "tls.crt")} --key ${join(result.dir, "tls.key")}`,
          applyCommand,
        ];
  return [
    `Wrote ${result.files.length} files to ${result.dir} for namespace ${result.namespace}${from}:`,
    ...lines,
    "Next:",
    ...next,
    "",
  ].join("\n");
}

/** The current kubeconfig context's namespace; never throws, since a laptop without a cluster may still want certs. */
export async function namespaceFromKubeconfig(): Promise<{ namespace: string; source: "kubeconfig" | "default" }> {
  const namespace = await kubeconfigNamespace();
  return namespace ? { namespace, source: "kubeconfig" } : { namespace: DEFAULT_NAMESPACE, source: "default" };
}

function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(
      `--url "${raw}" is not an absolute URL; pass e.g. https://abc123.execute-api.eu-west-1.amazonaws.com`,
    );
  }
  if (url.protocol !== "https:") {
    throw new CliError(`--url "${raw}" must start with https:// (the API server calls webhooks over TLS only)`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new CliError(`--url "${raw}" must be a plain base URL without query, fragment or credentials`);
  }
  return url;
}

async function prepareDirectory(dir: string, force: boolean): Promise<void> {
  const existing = await stat(dir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new CliError(`--out ${dir} is a file, not a directory; pass a directory path`);
  }
  if (!existing) {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    return;
  }
  if (force) return;
  for (const name of KEY_FILES) {
    const path = join(dir, name);
    if (await exists(path)) {
      throw new CliError(
        `${path} already exists; pass --force to replace the CA and serving keys, or choose another --out`,
      );
    }
  }
}

async function put(
  dir: string,
  name: string,
  content: string,
  mode: number,
  description: string,
  exclusive: boolean,
): Promise<WrittenFile> {
  const path = join(dir, name);
  try {
    // "wx" closes the gap between the existence check and the write for key files.
    await writeFile(path, content, { mode, flag: exclusive ? "wx" : "w" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new CliError(`${path} already exists; pass --force to replace it, or choose another --out`);
    }
    throw error;
  }
  // The mode given to writeFile applies only when the file is created, not when --force replaces it.
  await chmod(path, mode);
  return { name, path, mode: `0${mode.toString(8)}`, description };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function parseTimeout(value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 30) {
    throw new InvalidArgumentError("pass whole seconds from 1 to 30.");
  }
  return seconds;
}

function collectList(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}
