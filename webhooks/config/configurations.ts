// Builds greenlight's Mutating- and ValidatingWebhookConfiguration as plain objects: one source for the CLI and manifests.

export type FailurePolicy = "Fail" | "Ignore";

/** Where the manifests install the webhook: its namespace and the Service in front of its Pods. */
export const DEFAULT_NAMESPACE = "greenlight-system";
export const DEFAULT_SERVICE = "greenlight-webhook";
/** The namespace label that opts every Deployment of a namespace in to mutation. */
export const INJECT_LABEL = "greenlight.dev/inject";
export const INJECT_LABEL_ENABLED = "enabled";
/** The label every namespace carries (Kubernetes >= 1.21), used to exclude namespaces by name. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/**
 * Namespaces no greenlight webhook ever sees, besides greenlight's own (always excluded):
 * - `kube-system` holds what the cluster needs to heal itself (DNS, CNI, metrics): it must never wait on greenlight;
 * - `cert-manager` issues the webhook's serving certificate (manifests/overlays/cert-manager): if an expired
 *   certificate takes greenlight down, cert-manager's own Deployments must still roll to renew it.
 */
export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ["kube-system", "cert-manager"];

/**
 * The HTTP paths the webhook server answers. The path tells the server which opt-in applies, because an
 * AdmissionReview carries the namespace name but not its labels.
 */
export const WEBHOOK_PATHS = {
  /** Namespace labelled `greenlight.dev/inject=enabled`: mutate unless the Deployment says `inject: "false"`. */
  mutateNamespace: "/mutate/namespace",
  /** Any other namespace: mutate only Deployments annotated `greenlight.dev/inject: "true"`. */
  mutateAnnotated: "/mutate",
  validate: "/validate",
} as const;

export const WEBHOOK_NAMES = {
  mutateNamespace: "namespace.inject.greenlight.dev",
  mutateAnnotated: "inject.greenlight.dev",
  validate: "validate.greenlight.dev",
} as const;

/**
 * Fail-open by default, each webhook for its own reason (manifests/README.md, "failurePolicy"):
 * - `inject.greenlight.dev` (/mutate) and `validate.greenlight.dev` (/validate) must see every Deployment outside the
 *   excluded namespaces, because the opt-in is an annotation and the API server can only select on labels. `Fail`
 *   would make a greenlight outage block every Deployment create and update in the cluster, rollbacks of apps that
 *   never opted in included; with `Ignore`, Deployments written meanwhile miss their injected labels and probes and
 *   their annotation checks until they are applied again (the stepper reads annotations itself and reports bad ones).
 * - `namespace.inject.greenlight.dev` (/mutate/namespace) sees only namespaces labelled for injection, so `Fail` would
 *   block those alone; it stays `Ignore` so that all three behave alike during an outage, and a cluster that wants
 *   strictness passes `failurePolicy: "Fail"` (`greenlight certs --failure-policy Fail`).
 */
export const DEFAULT_FAILURE_POLICY: { mutating: FailurePolicy; validating: FailurePolicy } = {
  mutating: "Ignore",
  validating: "Ignore",
};
export const DEFAULT_TIMEOUT_SECONDS = 5;
export const DEFAULT_SERVICE_PORT = 443;

export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface RuleWithOperations {
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  operations: Array<"CREATE" | "UPDATE" | "DELETE" | "CONNECT" | "*">;
  scope: "Namespaced" | "Cluster" | "*";
}

export interface ServiceReference {
  name: string;
  namespace: string;
  path: string;
  port: number;
}

export interface WebhookClientConfig {
  url?: string;
  service?: ServiceReference;
  caBundle?: string;
}

interface WebhookCommon {
  name: string;
  clientConfig: WebhookClientConfig;
  rules: RuleWithOperations[];
  namespaceSelector: LabelSelector;
  failurePolicy: FailurePolicy;
  matchPolicy: "Exact" | "Equivalent";
  sideEffects: "None" | "NoneOnDryRun";
  timeoutSeconds: number;
  admissionReviewVersions: string[];
}

export interface MutatingWebhook extends WebhookCommon {
  reinvocationPolicy: "Never" | "IfNeeded";
}

export type ValidatingWebhook = WebhookCommon;

export interface ConfigurationMetadata {
  name: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface MutatingWebhookConfiguration {
  apiVersion: "admissionregistration.k8s.io/v1";
  kind: "MutatingWebhookConfiguration";
  metadata: ConfigurationMetadata;
  webhooks: MutatingWebhook[];
}

export interface ValidatingWebhookConfiguration {
  apiVersion: "admissionregistration.k8s.io/v1";
  kind: "ValidatingWebhookConfiguration";
  metadata: ConfigurationMetadata;
  webhooks: ValidatingWebhook[];
}

export type WebhookTarget =
  | { service: { name: string; namespace: string; port?: number } }
  | { url: string /* base URL without trailing slash; paths are appended */ };

export interface WebhookConfigurationOptions {
  /** metadata.name of both configurations. */
  name?: string;
  target: WebhookTarget;
  /** Base64 of the PEM CA that signed the serving certificate; omit for a publicly trusted URL. */
  caBundle?: string;
  /** Applies to all three webhooks; see DEFAULT_FAILURE_POLICY for the default and why. */
  failurePolicy?: FailurePolicy;
  timeoutSeconds?: number;
  /** The namespace greenlight runs in: excluded so the webhook never gates its own recovery. */
  ownNamespace: string;
  /** Namespaces excluded besides `ownNamespace`; default DEFAULT_EXCLUDED_NAMESPACES. */
  excludedNamespaces?: readonly string[];
  /** `namespace/certificate` for cert-manager's CA injector, which then fills caBundle. */
  injectCaFrom?: string;
}

const DEPLOYMENT_RULES: RuleWithOperations[] = [
  {
    apiGroups: ["apps"],
    apiVersions: ["v1"],
    resources: ["deployments"],
    operations: ["CREATE", "UPDATE"],
    scope: "Namespaced",
  },
];

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Builds `[mutating, validating]`; throws an Error naming the field when an option is out of range. */
export function buildWebhookConfigurations(
  opts: WebhookConfigurationOptions,
): [MutatingWebhookConfiguration, ValidatingWebhookConfiguration] {
  const name = opts.name ?? "greenlight";
  checkOptions(opts, name);
  const timeoutSeconds = opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const metadata = (): ConfigurationMetadata => ({
    name,
    labels: { "app.kubernetes.io/name": "greenlight", "app.kubernetes.io/component": "webhook" },
    ...(opts.injectCaFrom ? { annotations: { "cert-manager.io/inject-ca-from": opts.injectCaFrom } } : {}),
  });
  // See DEFAULT_EXCLUDED_NAMESPACES; our own namespace hosts the webhook's own Pods.
  const exclusion: LabelSelectorRequirement = {
    key: NAMESPACE_NAME_LABEL,
    operator: "NotIn",
    values: [...new Set([...(opts.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES), opts.ownNamespace])],
  };
  const webhook = (name: string, path: string, failurePolicy: FailurePolicy, selector: LabelSelectorRequirement[]) => ({
    name,
    clientConfig: clientConfigFor(opts.target, path, opts.caBundle),
    rules: structuredClone(DEPLOYMENT_RULES),
    namespaceSelector: { matchExpressions: [...structuredClone(selector), structuredClone(exclusion)] },
    failurePolicy,
    matchPolicy: "Equivalent" as const,
    sideEffects: "None" as const,
    timeoutSeconds,
    admissionReviewVersions: ["v1"],
  });
  const mutatingPolicy = opts.failurePolicy ?? DEFAULT_FAILURE_POLICY.mutating;
  const validatingPolicy = opts.failurePolicy ?? DEFAULT_FAILURE_POLICY.validating;
  const optedInNamespace: LabelSelectorRequirement = {
    key: INJECT_LABEL,
    operator: "In",
    values: [INJECT_LABEL_ENABLED],
  };
  // NotIn also matches namespaces without the label, and never a namespace the In selector matches.
  const otherNamespace: LabelSelectorRequirement = {
    key: INJECT_LABEL,
    operator: "NotIn",
    values: [INJECT_LABEL_ENABLED],
  };

  const mutating: MutatingWebhookConfiguration = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: metadata(),
    webhooks: [
      {
        ...webhook(WEBHOOK_NAMES.mutateNamespace, WEBHOOK_PATHS.mutateNamespace, mutatingPolicy, [optedInNamespace]),
        // Set-if-absent mutations make a second pass harmless, and it lets us see what later webhooks changed.
        reinvocationPolicy: "IfNeeded",
      },
      {
        ...webhook(WEBHOOK_NAMES.mutateAnnotated, WEBHOOK_PATHS.mutateAnnotated, mutatingPolicy, [otherNamespace]),
        reinvocationPolicy: "IfNeeded",
      },
    ],
  };

  const validating: ValidatingWebhookConfiguration = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: metadata(),
    webhooks: [webhook(WEBHOOK_NAMES.validate, WEBHOOK_PATHS.validate, validatingPolicy, [])],
  };
  return [mutating, validating];
}

function clientConfigFor(target: WebhookTarget, path: string, caBundle: string | undefined): WebhookClientConfig {
  const ca = caBundle ? { caBundle } : {};
  if ("url" in target) {
    return { url: `${stripTrailingSlashes(target.url)}${path}`, ...ca };
  }
  const { name, namespace, port = DEFAULT_SERVICE_PORT } = target.service;
  return { service: { name, namespace, path, port }, ...ca };
}

function stripTrailingSlashes(url: string): string {
  return url.replace(/\/+$/, "");
}

function checkOptions(opts: WebhookConfigurationOptions, name: string): void {
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
    throw new Error(`name "${name}" is not a DNS subdomain (lower-case letters, digits, '-' and '.')`);
  }
  if (!DNS_LABEL.test(opts.ownNamespace) || opts.ownNamespace.length > 63) {
    throw new Error(`ownNamespace "${opts.ownNamespace}" is not a namespace name (DNS label)`);
  }
  for (const namespace of opts.excludedNamespaces ?? []) {
    if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
      throw new Error(`excludedNamespaces: "${namespace}" is not a namespace name (DNS label)`);
    }
  }
  const timeout = opts.timeoutSeconds;
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 1 || timeout > 30)) {
    throw new Error(`timeoutSeconds ${timeout} is out of range: the API server accepts whole seconds from 1 to 30`);
  }
  if (opts.failurePolicy !== undefined && opts.failurePolicy !== "Fail" && opts.failurePolicy !== "Ignore") {
    throw new Error(`failurePolicy "${String(opts.failurePolicy)}" is not one of Fail, Ignore`);
  }
  if (opts.caBundle !== undefined && opts.caBundle !== "" && !BASE64.test(opts.caBundle)) {
    throw new Error("caBundle must be the base64 encoding of a PEM CA certificate");
  }
  if ("url" in opts.target) {
    checkUrl(opts.target.url);
    return;
  }
  const { name: service, namespace, port } = opts.target.service;
  if (!DNS_LABEL.test(service) || service.length > 63) {
    throw new Error(`service name "${service}" is not a DNS label`);
  }
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
    throw new Error(`service namespace "${namespace}" is not a namespace name (DNS label)`);
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new Error(`service port ${port} is out of range 1-65535`);
  }
}

function checkUrl(raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`url "${raw}" is not an absolute URL such as https://abc123.execute-api.eu-west-1.amazonaws.com`);
  }
  // The API server rejects anything else in clientConfig.url.
  if (url.protocol !== "https:") throw new Error(`url "${raw}" must use https://`);
  if (url.username || url.password) throw new Error(`url "${raw}" must not carry user:password`);
  if (url.search || url.hash) throw new Error(`url "${raw}" must not have a query or fragment`);
}
