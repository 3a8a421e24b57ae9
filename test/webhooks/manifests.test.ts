// The kustomize manifests file by file: every file parses, built-in kinds match their schema, generated files match
// the builder. test/manifests/ checks each kustomization as rendered (hardening, RBAC, schemas, sizes).
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import jsonPatch, { type Operation } from "fast-json-patch";
import { MutatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration";
import { ValidatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration";
import { Deployment, type IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { type IService, Service } from "kubernetes-models/v1/Service";
import { type IServiceAccount, ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import {
  baseConfigurations,
  findDrift,
  renderManifests,
  serverlessConfigurations,
} from "../../scripts/render-manifests.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const MANIFESTS = join(ROOT, "manifests");

type KubeObject = { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } };

// kubernetes-models checks types and required fields of the kinds it knows; CRDs and kustomize files pass through.
const validators: Record<string, (obj: KubeObject) => void> = {
  Deployment: (o) => new Deployment(o as IDeployment).validate(),
  Service: (o) => new Service(o as IService).validate(),
  ServiceAccount: (o) => new ServiceAccount(o as IServiceAccount).validate(),
  Namespace: (o) => new Namespace(o as ConstructorParameters<typeof Namespace>[0]).validate(),
  PodDisruptionBudget: (o) =>
    new PodDisruptionBudget(o as ConstructorParameters<typeof PodDisruptionBudget>[0]).validate(),
  MutatingWebhookConfiguration: (o) =>
    new MutatingWebhookConfiguration(o as ConstructorParameters<typeof MutatingWebhookConfiguration>[0]).validate(),
  CronJob: (o) => new CronJob(o as ConstructorParameters<typeof CronJob>[0]).validate(),
  ClusterRole: (o) => new ClusterRole(o as ConstructorParameters<typeof ClusterRole>[0]).validate(),
  ClusterRoleBinding: (o) =>
    new ClusterRoleBinding(o as ConstructorParameters<typeof ClusterRoleBinding>[0]).validate(),
  RoleBinding: (o) => new RoleBinding(o as ConstructorParameters<typeof RoleBinding>[0]).validate(),
  ValidatingWebhookConfiguration: (o) =>
    new ValidatingWebhookConfiguration(o as ConstructorParameters<typeof ValidatingWebhookConfiguration>[0]).validate(),
};

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function documents(path: string): Promise<unknown[]> {
  const docs = parseAllDocuments(await readFile(path, "utf8"));
  if (!Array.isArray(docs)) throw new Error(`${path}: empty YAML stream`);
  return docs.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join("; ")}`);
    return doc.toJS() as unknown;
  });
}

async function one<T>(relative: string): Promise<T> {
  return parse(await readFile(join(MANIFESTS, relative), "utf8")) as T;
}

describe("manifests/", () => {
  let files: string[];
  beforeAll(async () => {
    files = await yamlFiles(MANIFESTS);
  });

  it("parses every YAML file and validates every built-in object against its schema", async () => {
    expect(files.length).toBeGreaterThan(10);
    const seen = new Set<string>();
    for (const file of files) {
      for (const doc of await documents(file)) {
        if (Array.isArray(doc)) continue; // JSON patch files of an overlay
        const obj = doc as KubeObject;
        expect(obj.kind, file).toBeTypeOf("string");
        const validate = obj.kind ? validators[obj.kind] : undefined;
        if (!validate) continue;
        expect(() => validate(obj), `${file}: ${obj.kind}/${obj.metadata?.name}`).not.toThrow();
        seen.add(obj.kind ?? "");
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(validators).sort());
  });

  it("lists only existing files in each kustomization", async () => {
    for (const file of files.filter((f) => f.endsWith("kustomization.yaml"))) {
      const k = parse(await readFile(file, "utf8")) as { resources?: string[]; patches?: Array<{ path?: string }> };
      const refs = [...(k.resources ?? []), ...(k.patches ?? []).flatMap((p) => (p.path ? [p.path] : []))];
      for (const ref of refs) expect(existsSync(join(dirname(file), ref)), `${file} -> ${ref}`).toBe(true);
    }
  });

  it("has the generated webhook configurations exactly as scripts/render-manifests.ts writes them", async () => {
    expect(await findDrift(ROOT)).toEqual([]);
    expect([...renderManifests().keys()].every((p) => files.includes(join(ROOT, p)))).toBe(true);
  });

  it("turns the base configurations into the URL-addressed ones with the serverless overlay's patches", async () => {
    const [mutating, validating] = baseConfigurations();
    const patch = async (name: string) =>
      (await one<Operation[]>(`overlays/serverless/${name}-webhook-configuration.patch.yaml`)) ?? [];
    const patchedM = jsonPatch.applyPatch(structuredClone(mutating), await patch("mutating"), true, false).newDocument;
    const patchedV = jsonPatch.applyPatch(
      structuredClone(validating),
      await patch("validating"),
      true,
      false,
    ).newDocument;
    expect([patchedM, patchedV]).toEqual(serverlessConfigurations());
  });

  it("runs the webhook as the configurations and the certificate expect", async () => {
    const deployment = await one<IDeployment>("base/deployment.yaml");
    const service = await one<IService>("base/service.yaml");
    const account = await one<IServiceAccount>("base/serviceaccount.yaml");
    const pod = deployment.spec?.template.spec;
    const container = pod?.containers[0];

    expect(deployment.spec?.replicas).toBe(2);
    expect(container?.image).toBe("ghcr.io/greenlight-dev/greenlight:0.1.0");
    expect(container?.command).toEqual([
      "greenlight",
      "webhook",
      "serve",
      "--port",
      "8443",
      "--tls-cert",
      "/tls/tls.crt",
      "--tls-key",
      "/tls/tls.key",
    ]);
    for (const probe of [container?.readinessProbe, container?.livenessProbe]) {
      expect(probe?.httpGet).toMatchObject({ path: "/healthz", port: "https", scheme: "HTTPS" });
    }
    expect(container?.ports).toContainEqual(expect.objectContaining({ name: "https", containerPort: 8443 }));
    expect(container?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod?.securityContext?.runAsNonRoot).toBe(true);
    expect(container?.resources?.requests).toBeDefined();
    expect(pod?.volumes).toContainEqual(
      expect.objectContaining({
        name: "tls",
        secret: expect.objectContaining({ secretName: "greenlight-webhook-tls" }),
      }),
    );
    expect(account.automountServiceAccountToken).toBe(false);
    expect(pod?.serviceAccountName).toBe(account.metadata?.name);

    // The Service the configurations call must select these Pods and forward 443 to the container port.
    const [mutating] = baseConfigurations();
    const target = mutating.webhooks[0]?.clientConfig.service;
    expect(service.metadata).toMatchObject({ name: target?.name, namespace: target?.namespace });
    expect(service.spec?.ports).toContainEqual(expect.objectContaining({ port: target?.port, targetPort: "https" }));
    const podLabels = deployment.spec?.template.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(service.spec?.selector ?? {})) expect(podLabels[k]).toBe(v);
  });

  it("keeps the example Deployment as the seed's myapp, opted in and without what greenlight injects", async () => {
    const myapp = await one<IDeployment>("examples/myapp-deployment.yaml");
    expect(myapp.metadata).toMatchObject({
      name: "myapp",
      namespace: "production",
      annotations: { "greenlight.dev/inject": "true", "greenlight.dev/probe-port": "8080" },
    });
    expect(myapp.spec).toMatchObject({
      replicas: 10,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } },
      selector: { matchLabels: { app: "myapp" } },
    });
    const container = myapp.spec?.template.spec?.containers[0];
    expect(container).toMatchObject({
      image: "myapp:v2.0",
      ports: [{ containerPort: 8080 }],
      resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } },
    });
    expect(container?.livenessProbe).toBeUndefined();
    expect(container?.readinessProbe).toBeUndefined();
    expect(myapp.spec?.template.metadata?.labels).not.toHaveProperty("version");
  });
});
