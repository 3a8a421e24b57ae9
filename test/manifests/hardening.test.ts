// What a cluster admin expects of the manifests, checked on every kustomization as rendered: every workload locked
// down and sized, every webhook narrowed and bounded, the CronJob bounded in time and history.
// (The RBAC is checked against real passes in rbac.test.ts; the sizes against measured peaks in memory.test.ts.)
import type { Deployment } from "kubernetes-types/apps/v1.js";
import type { CronJob } from "kubernetes-types/batch/v1.js";
import type { Container, Namespace, PodSpec, PodTemplateSpec, Service } from "kubernetes-types/core/v1.js";
import type { LabelSelector } from "kubernetes-types/meta/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../functions/contract/values.ts";
import { FINISH_MS } from "../../functions/stepper/run.ts";
import type {
  MutatingWebhookConfiguration,
  ValidatingWebhookConfiguration,
} from "../../webhooks/config/configurations.ts";
import { type KubeObject, renderAll } from "./kustomize.ts";

/** The image the manifests run; the Containerfile builds it. */
const IMAGE = "ghcr.io/greenlight-dev/greenlight:0.1.0";
const USER = 65532;
/** Namespaces no webhook may ever select: the cluster's own, the certificate issuer's, greenlight's. */
const NEVER_SELECTED = ["kube-system", "cert-manager", "greenlight-system"];
/** The failurePolicy of each webhook and why: manifests/README.md, "failurePolicy". */
const FAILURE_POLICY: Record<string, "Ignore" | "Fail"> = {
  "namespace.inject.greenlight.dev": "Ignore",
  "inject.greenlight.dev": "Ignore",
  "validate.greenlight.dev": "Ignore",
};
const MAX_TIMEOUT_SECONDS = 5;

const rendered = renderAll();
const all = [...rendered].flatMap(([name, objects]) => objects.map((object) => ({ name, object })));

interface Workload {
  where: string;
  kind: string;
  template: PodTemplateSpec;
  objects: KubeObject[];
}

function templateOf(object: KubeObject): PodTemplateSpec | undefined {
  if (object.kind === "CronJob") return (object as unknown as CronJob).spec?.jobTemplate.spec?.template;
  if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(object.kind)) {
    return (object as unknown as { spec?: { template?: PodTemplateSpec } }).spec?.template;
  }
  if (object.kind === "Pod") return { metadata: object.metadata, spec: object.spec as PodSpec };
  return undefined;
}

const workloads: Workload[] = [...rendered].flatMap(([name, objects]) =>
  objects.flatMap((object) => {
    const template = templateOf(object);
    return template
      ? [{ where: `${name}: ${object.kind} ${object.metadata.name}`, kind: object.kind, template, objects }]
      : [];
  }),
);

const podOf = (workload: Workload): PodSpec => {
  const spec = workload.template.spec;
  if (!spec) throw new Error(`${workload.where}: no pod spec`);
  return spec;
};

/** A Kubernetes quantity as a number (cores, bytes). */
function quantity(text: string | number | undefined): number {
  if (typeof text === "number") return text;
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text ?? "");
  if (!match) throw new Error(`"${text}" is not a quantity`);
  const units: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(match[1]) * (match[2] ? (units[match[2]] ?? 1) : 1);
}

function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return (
    byLabels &&
    (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      const value = labels[key];
      const listed = value !== undefined && values.includes(value);
      const outcome: Record<string, boolean> = {
        In: listed,
        NotIn: !listed,
        Exists: value !== undefined,
        DoesNotExist: value === undefined,
      };
      return outcome[operator] ?? false;
    })
  );
}

describe("every workload in every kustomization", () => {
  it("has workloads to check: the webhook Deployment and the stepper CronJob", () => {
    expect([...new Set(workloads.map((w) => w.where.replace(/^[^:]+: /, "")))].sort()).toEqual([
      "CronJob greenlight-stepper",
      "Deployment greenlight-webhook",
    ]);
  });

  it("runs as 65532, non-root, no privilege escalation, read-only root, no capabilities, RuntimeDefault seccomp", () => {
    for (const workload of workloads) {
      const pod = podOf(workload);
      expect(pod.hostNetwork ?? false, workload.where).toBe(false);
      expect(pod.hostPID ?? false, workload.where).toBe(false);
      expect(pod.hostIPC ?? false, workload.where).toBe(false);
      expect(
        (pod.volumes ?? []).filter((v) => v.hostPath).map((v) => v.name),
        workload.where,
      ).toEqual([]);
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        const where = `${workload.where}, container ${container.name}`;
        const own = container.securityContext ?? {};
        const podLevel = pod.securityContext ?? {};
        // A container's own securityContext wins over the Pod's, field by field.
        expect(own.runAsNonRoot ?? podLevel.runAsNonRoot, where).toBe(true);
        expect(own.runAsUser ?? podLevel.runAsUser, where).toBe(USER);
        expect(own.runAsGroup ?? podLevel.runAsGroup, where).toBe(USER);
        expect((own.seccompProfile ?? podLevel.seccompProfile)?.type, where).toBe("RuntimeDefault");
        expect(own.allowPrivilegeEscalation, where).toBe(false);
        expect(own.readOnlyRootFilesystem, where).toBe(true);
        expect(own.privileged ?? false, where).toBe(false);
        expect(own.capabilities?.drop, where).toEqual(["ALL"]);
        expect(own.capabilities?.add ?? [], where).toEqual([]);
      }
    }
  });

  it("gives every container a size-limited emptyDir at /tmp, the only place it writes", () => {
    for (const workload of workloads) {
      const pod = podOf(workload);
      for (const container of pod.containers) {
        const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === "/tmp");
        const volume = (pod.volumes ?? []).find((v) => v.name === mount?.name);
        expect(volume?.emptyDir?.sizeLimit, `${workload.where}: /tmp`).toBeDefined();
        for (const other of container.volumeMounts ?? []) {
          if (other.mountPath === "/tmp") continue;
          expect(other.readOnly, `${workload.where}: ${other.mountPath} must be read-only`).toBe(true);
        }
      }
    }
  });

  it("requests and limits CPU and memory, limits at least the requests", () => {
    for (const workload of workloads) {
      for (const container of podOf(workload).containers) {
        const where = `${workload.where}, container ${container.name}`;
        const { requests = {}, limits = {} } = container.resources ?? {};
        for (const resource of ["cpu", "memory"]) {
          expect(requests[resource], `${where}: requests.${resource}`).toBeDefined();
          expect(limits[resource], `${where}: limits.${resource}`).toBeDefined();
          expect(quantity(limits[resource]), where).toBeGreaterThanOrEqual(quantity(requests[resource]));
        }
      }
    }
  });

  it("runs greenlight's image, unchanged", () => {
    for (const workload of workloads) {
      for (const container of podOf(workload).containers) {
        expect(container.image, workload.where).toBe(IMAGE);
        expect(container.imagePullPolicy, workload.where).toBe("IfNotPresent");
      }
    }
  });

  it("mounts a ServiceAccount token only in Pods whose account RBAC grants something", () => {
    for (const workload of workloads) {
      const pod = podOf(workload);
      const account = workload.objects.find(
        (o) => o.kind === "ServiceAccount" && o.metadata.name === pod.serviceAccountName,
      ) as (KubeObject & { automountServiceAccountToken?: boolean }) | undefined;
      expect(account, `${workload.where}: its ServiceAccount ${pod.serviceAccountName}`).toBeDefined();
      // No account mounts its token by default; a Pod that calls the API server asks for it.
      expect(account?.automountServiceAccountToken, workload.where).toBe(false);
      const bound = workload.objects.some(
        (o) =>
          (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") &&
          ((o as KubeObject & { subjects?: Array<{ kind: string; name: string }> }).subjects ?? []).some(
            (s) => s.kind === "ServiceAccount" && s.name === pod.serviceAccountName,
          ),
      );
      expect(pod.automountServiceAccountToken, workload.where).toBe(bound);
      expect(pod.enableServiceLinks, workload.where).toBe(false);
    }
  });
});

describe("the webhook Deployment", () => {
  const deployments = workloads.filter((w) => w.kind === "Deployment");

  it("probes GET /healthz over HTTPS on the port the server listens on, and mounts its TLS pair read-only", () => {
    expect(deployments.length).toBeGreaterThan(0);
    for (const workload of deployments) {
      const pod = podOf(workload);
      const container = pod.containers[0] as Container;
      const command = container.command ?? [];
      const argument = (flag: string) => command[command.indexOf(flag) + 1];
      expect(command.slice(0, 3)).toEqual(["greenlight", "webhook", "serve"]);
      const listening = Number(argument("--port"));
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect(probe?.httpGet?.path, workload.where).toBe("/healthz");
        expect(probe?.httpGet?.scheme, workload.where).toBe("HTTPS");
        const port = (container.ports ?? []).find((p) => p.name === probe?.httpGet?.port);
        expect(port?.containerPort, `${workload.where}: the probe's port`).toBe(listening);
        expect(probe?.timeoutSeconds ?? 1, workload.where).toBeLessThanOrEqual(MAX_TIMEOUT_SECONDS);
      }
      for (const file of [argument("--tls-cert"), argument("--tls-key")]) {
        const mount = (container.volumeMounts ?? []).find((m) => file?.startsWith(`${m.mountPath}/`));
        const volume = (pod.volumes ?? []).find((v) => v.name === mount?.name);
        expect(volume?.secret?.secretName, `${workload.where}: ${file}`).toBe("greenlight-webhook-tls");
        expect(mount?.readOnly, workload.where).toBe(true);
      }
    }
  });

  it("keeps answering through drains and rollouts: 2 replicas, a PodDisruptionBudget, no unavailable replica", () => {
    for (const workload of deployments) {
      const deployment = workload.objects.find((o) => o.kind === "Deployment") as unknown as Deployment;
      expect(deployment.spec?.replicas ?? 1, workload.where).toBeGreaterThanOrEqual(2);
      expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable, workload.where).toBe(0);
      const labels = workload.template.metadata?.labels ?? {};
      const budgets = workload.objects
        .filter((o) => o.kind === "PodDisruptionBudget")
        .map((o) => o as unknown as PodDisruptionBudget)
        .filter((pdb) => selects(pdb.spec?.selector, labels));
      expect(
        budgets.map((pdb) => pdb.spec?.minAvailable),
        workload.where,
      ).toEqual([1]);
    }
  });

  it("runs in a namespace that enforces the restricted Pod Security Standard", () => {
    for (const [name, objects] of rendered) {
      const namespace = objects.find((o) => o.kind === "Namespace") as unknown as Namespace | undefined;
      if (!namespace) continue;
      expect(namespace.metadata?.labels?.["pod-security.kubernetes.io/enforce"], name).toBe("restricted");
    }
  });
});

describe("every webhook in every kustomization", () => {
  const configurations = all.filter(
    ({ object }) => object.kind === "MutatingWebhookConfiguration" || object.kind === "ValidatingWebhookConfiguration",
  );
  const webhooks = configurations.flatMap(({ name, object }) =>
    (object as unknown as MutatingWebhookConfiguration | ValidatingWebhookConfiguration).webhooks.map((webhook) => ({
      where: `${name}: ${object.kind} ${webhook.name}`,
      mutating: object.kind === "MutatingWebhookConfiguration",
      webhook: webhook as MutatingWebhookConfiguration["webhooks"][number] & { objectSelector?: LabelSelector },
      objects: rendered.get(name) ?? [],
    })),
  );

  it("exists in each kustomization that installs webhooks: three of them", () => {
    const names = (kustomization: string) =>
      webhooks
        .filter((w) => w.where.startsWith(`${kustomization}:`))
        .map((w) => w.webhook.name)
        .sort();
    for (const kustomization of ["base", "overlays/cert-manager", "overlays/serverless"]) {
      expect(names(kustomization)).toEqual(Object.keys(FAILURE_POLICY).sort());
    }
  });

  it("states its failurePolicy, answers within 5 s, has no side effects and speaks admission/v1", () => {
    for (const { where, webhook, mutating } of webhooks) {
      expect(webhook.failurePolicy, where).toBe(FAILURE_POLICY[webhook.name]);
      expect(webhook.timeoutSeconds, where).toBeGreaterThanOrEqual(1);
      expect(webhook.timeoutSeconds, where).toBeLessThanOrEqual(MAX_TIMEOUT_SECONDS);
      expect(webhook.sideEffects, where).toBe("None");
      expect(webhook.admissionReviewVersions, where).toEqual(["v1"]);
      expect(webhook.matchPolicy, where).toBe("Equivalent");
      if (mutating) expect(webhook.reinvocationPolicy, where).toBe("IfNeeded");
    }
  });

  it("is sent apps/v1 Deployment CREATE and UPDATE only: no scale, no status, no DELETE, nothing else", () => {
    for (const { where, webhook } of webhooks) {
      expect(webhook.rules, where).toEqual([
        {
          apiGroups: ["apps"],
          apiVersions: ["v1"],
          resources: ["deployments"],
          operations: ["CREATE", "UPDATE"],
          scope: "Namespaced",
        },
      ]);
      // The opt-in is an annotation, which the API server cannot select on: no objectSelector can narrow this
      // without changing the contract (manifests/README.md, "What reaches the webhooks").
      expect(webhook.objectSelector, where).toBeUndefined();
    }
  });

  it("never selects kube-system, cert-manager or greenlight-system, whatever their labels", () => {
    for (const { where, webhook } of webhooks) {
      expect(webhook.namespaceSelector.matchExpressions, where).toContainEqual({
        key: "kubernetes.io/metadata.name",
        operator: "NotIn",
        values: expect.arrayContaining(NEVER_SELECTED),
      });
      for (const namespace of NEVER_SELECTED) {
        for (const inject of [undefined, "enabled", "disabled"]) {
          const labels = {
            "kubernetes.io/metadata.name": namespace,
            ...(inject ? { "greenlight.dev/inject": inject } : {}),
          };
          expect(selects(webhook.namespaceSelector, labels), `${where} selects ${namespace}`).toBe(false);
        }
      }
      // Any other namespace reaches the webhook its opt-in calls for: a labelled one /mutate/namespace, others /mutate.
      const optedIn = webhook.name === "namespace.inject.greenlight.dev";
      const production = {
        "kubernetes.io/metadata.name": "production",
        ...(optedIn ? { "greenlight.dev/inject": "enabled" } : {}),
      };
      expect(selects(webhook.namespaceSelector, production), `${where} selects production`).toBe(true);
    }
  });

  it("calls a Service the same kustomization installs, or an https URL, and ships no caBundle", () => {
    for (const { where, webhook, objects } of webhooks) {
      const { service, url, caBundle } = webhook.clientConfig;
      expect(caBundle, where).toBeUndefined();
      if (url !== undefined) {
        expect(url, where).toMatch(/^https:\/\//);
        continue;
      }
      const target = objects.find(
        (o) => o.kind === "Service" && o.metadata.name === service?.name && o.metadata.namespace === service?.namespace,
      ) as unknown as Service | undefined;
      expect(target, `${where}: Service ${service?.namespace}/${service?.name}`).toBeDefined();
      const port = (target?.spec?.ports ?? []).find((p) => p.port === service?.port);
      expect(port?.targetPort, where).toBe("https");
      const deployment = objects.find((o) => o.kind === "Deployment") as unknown as Deployment | undefined;
      const podLabels = deployment?.spec?.template.metadata?.labels ?? {};
      expect(
        selects({ matchLabels: target?.spec?.selector }, podLabels),
        `${where}: the Service selects the Pods`,
      ).toBe(true);
    }
  });

  it("gets its caBundle from the Certificate cert-manager issues for the Service's name (overlays/cert-manager)", () => {
    const objects = rendered.get("overlays/cert-manager") ?? [];
    for (const { object } of configurations.filter(({ name }) => name === "overlays/cert-manager")) {
      const from = object.metadata.annotations?.["cert-manager.io/inject-ca-from"] ?? "";
      const [namespace, name] = from.split("/");
      const certificate = objects.find(
        (o) => o.kind === "Certificate" && o.metadata.namespace === namespace && o.metadata.name === name,
      ) as (KubeObject & { spec: { secretName: string; dnsNames: string[] } }) | undefined;
      expect(certificate?.spec.secretName).toBe("greenlight-webhook-tls");
      expect(certificate?.spec.dnsNames).toContain("greenlight-webhook.greenlight-system.svc");
    }
  });
});

describe("the stepper CronJob", () => {
  const cronJobs = all
    .filter(({ object }) => object.kind === "CronJob")
    .map(({ name, object }) => ({
      where: `${name}: CronJob ${object.metadata.name}`,
      cronJob: object as unknown as CronJob,
    }));

  it("never overlaps, skips a run it cannot start in time, and keeps a short history of Jobs", () => {
    expect(cronJobs.map((c) => c.where)).toEqual([
      "overlays/cluster-wide: CronJob greenlight-stepper",
      "stepper: CronJob greenlight-stepper",
    ]);
    for (const { where, cronJob } of cronJobs) {
      const spec = cronJob.spec;
      expect(spec?.concurrencyPolicy, where).toBe("Forbid");
      expect(spec?.startingDeadlineSeconds, where).toBeGreaterThan(0);
      expect(spec?.startingDeadlineSeconds, where).toBeLessThanOrEqual(60);
      expect(spec?.successfulJobsHistoryLimit, where).toBe(1);
      expect(spec?.failedJobsHistoryLimit, where).toBe(3);
      const job = spec?.jobTemplate.spec;
      expect(job?.backoffLimit, where).toBe(0);
      // Failed Jobs stay (with their Pods' logs) until failedJobsHistoryLimit drops them, not minutes later.
      expect(job?.ttlSecondsAfterFinished, where).toBeUndefined();
      expect(job?.template.spec?.restartPolicy, where).toBe("Never");
    }
  });

  it("ends a pass by itself well inside activeDeadlineSeconds: --deadline, plus the finish margin, plus start-up", () => {
    for (const { where, cronJob } of cronJobs) {
      const job = cronJob.spec?.jobTemplate.spec;
      const command = job?.template.spec?.containers[0]?.command ?? [];
      expect(command.slice(0, 3), where).toEqual(["greenlight", "step", "--once"]);
      const deadline = parseDuration(command[command.indexOf("--deadline") + 1] ?? "");
      if (!deadline.ok) throw new Error(`${where}: --deadline: ${deadline.problem}`);
      const endsBy = deadline.value + FINISH_MS / 1000;
      // Image pull and process start count against activeDeadlineSeconds too: at least 30 s for them.
      expect(job?.activeDeadlineSeconds, where).toBeGreaterThanOrEqual(endsBy + 30);
      expect(job?.activeDeadlineSeconds, where).toBeLessThanOrEqual(120);
    }
  });
});
