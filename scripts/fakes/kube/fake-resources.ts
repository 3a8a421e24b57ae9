// The resources the fake API server serves: paths, kinds, scope, defaulting, field selectors and version views.
import { asArray, asObject, asString, child, type JsonObject } from "./fake-json.ts";
import {
  type NameRule,
  type Validator,
  validateDeployment,
  validateDestinationRule,
  validateEndpointSlice,
  validateEvent,
  validateHTTPRoute,
  validatePod,
  validateReplicaSet,
  validateService,
  validateVirtualService,
} from "./fake-validation.ts";

/** When `metadata.generation` goes up on an update (it starts at 1 on create when the policy is not "none"). */
export type GenerationPolicy =
  | "none" // never set (services, events, namespaces, ...)
  | "spec" // replicasets, cronjobs: any change under spec
  | "spec-or-annotations" // deployments: spec or metadata.annotations (annotations are copied to ReplicaSets)
  | "not-metadata-or-status"; // custom resources: anything outside metadata and status

export interface DefaultsContext {
  old: JsonObject | undefined;
  allocateClusterIP(): string;
}

export interface ResourceDef {
  group: string;
  /** Served versions, preferred first. */
  versions: readonly string[];
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: readonly string[];
  statusSubresource: boolean;
  /** Custom resource (CRD) semantics: no strategic merge patch, resourceVersion required on PUT, typed list items. */
  custom: boolean;
  allowCreateOnUpdate: boolean;
  /** DELETE answers with the object (pods, services) rather than a Success Status. */
  returnDeletedObject: boolean;
  generation: GenerationPolicy;
  nameRule: NameRule;
  /** Objects of resources with the same storage key are the same objects (core and events.k8s.io Events). */
  storage: string;
  validators: readonly Validator[];
  /** Field-selector values beyond metadata.name and metadata.namespace. */
  fieldLabels(obj: JsonObject): Record<string, string | undefined>;
  /** Stored form -> this API's form (apiVersion and kind are set by the caller). */
  toExternal(stored: JsonObject): JsonObject;
  /** This API's form -> stored form. */
  toStorage(external: JsonObject): JsonObject;
  defaults(obj: JsonObject, ctx: DefaultsContext): void;
  /** Status given to a new object when the resource has a status subresource (undefined drops it). */
  initialStatus(obj: JsonObject): JsonObject | undefined;
}

const identity = (obj: JsonObject): JsonObject => obj;
const noLabels = (): Record<string, string | undefined> => ({});
const noDefaults = (): void => {};
const emptyStatus = (): JsonObject => ({});

function base(
  def: Pick<ResourceDef, "group" | "versions" | "resource" | "singular" | "kind"> & Partial<ResourceDef>,
): ResourceDef {
  return {
    namespaced: true,
    shortNames: [],
    statusSubresource: false,
    custom: false,
    allowCreateOnUpdate: false,
    returnDeletedObject: false,
    generation: "none",
    nameRule: "subdomain",
    storage: `${def.group || "core"}/${def.resource}`,
    validators: [],
    fieldLabels: noLabels,
    toExternal: identity,
    toStorage: identity,
    defaults: noDefaults,
    initialStatus: emptyStatus,
    ...def,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// defaulting (the subset of SetDefaults_* that shows up in objects greenlight reads back)

function imagePullPolicy(image: string | undefined): string {
  if (!image || image.includes("@")) return "IfNotPresent";
  const lastPart = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastPart.lastIndexOf(":");
  const tag = colon >= 0 ? lastPart.slice(colon + 1) : "";
  return tag === "" || tag === "latest" ? "Always" : "IfNotPresent";
}

function defaultProbe(value: unknown): void {
  const probe = asObject(value);
  if (!probe) return;
  probe.timeoutSeconds ??= 1;
  probe.periodSeconds ??= 10;
  probe.successThreshold ??= 1;
  probe.failureThreshold ??= 3;
  const httpGet = asObject(probe.httpGet);
  if (httpGet) httpGet.scheme ??= "HTTP";
}

function defaultContainer(value: unknown): void {
  const container = asObject(value);
  if (!container) return;
  container.terminationMessagePath ??= "/dev/termination-log";
  container.terminationMessagePolicy ??= "File";
  container.imagePullPolicy ??= imagePullPolicy(asString(container.image));
  container.resources ??= {};
  for (const port of asArray(container.ports)) {
    const p = asObject(port);
    if (p) p.protocol ??= "TCP";
  }
  defaultProbe(container.livenessProbe);
  defaultProbe(container.readinessProbe);
  defaultProbe(container.startupProbe);
}

export function defaultPodSpec(value: unknown): void {
  const spec = asObject(value);
  if (!spec) return;
  spec.restartPolicy ??= "Always";
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  for (const container of [...asArray(spec.initContainers), ...asArray(spec.containers)]) defaultContainer(container);
}

function defaultDeployment(obj: JsonObject): void {
  const spec = asObject(obj.spec);
  if (!spec) return;
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  const strategy = child(spec, "strategy");
  strategy.type ??= "RollingUpdate";
  if (strategy.type === "RollingUpdate") {
    const rollingUpdate = child(strategy, "rollingUpdate");
    rollingUpdate.maxUnavailable ??= "25%";
    rollingUpdate.maxSurge ??= "25%";
  }
  defaultPodSpec(asObject(spec.template)?.spec);
}

function defaultReplicaSet(obj: JsonObject): void {
  const spec = asObject(obj.spec);
  if (!spec) return;
  spec.replicas ??= 1;
  defaultPodSpec(asObject(spec.template)?.spec);
}

function defaultService(obj: JsonObject, ctx: DefaultsContext): void {
  const spec = asObject(obj.spec);
  if (!spec) return;
  spec.type ??= "ClusterIP";
  spec.sessionAffinity ??= "None";
  for (const port of asArray(spec.ports)) {
    const p = asObject(port);
    if (!p) continue;
    p.protocol ??= "TCP";
    p.targetPort ??= p.port;
  }
  if (spec.type === "ExternalName") return;
  const oldSpec = asObject(ctx.old?.spec);
  if (spec.clusterIP === undefined && oldSpec?.clusterIP !== undefined) {
    spec.clusterIP = oldSpec.clusterIP;
    spec.clusterIPs = oldSpec.clusterIPs;
  }
  if (spec.clusterIP === undefined || spec.clusterIP === "") spec.clusterIP = ctx.allocateClusterIP();
  spec.clusterIPs ??= [spec.clusterIP];
  spec.ipFamilies ??= ["IPv4"];
  spec.ipFamilyPolicy ??= "SingleStack";
  spec.internalTrafficPolicy ??= "Cluster";
}

function defaultNamespace(obj: JsonObject): void {
  const metadata = child(obj, "metadata");
  const name = asString(metadata.name);
  if (name) child(metadata, "labels")["kubernetes.io/metadata.name"] = name;
  child(obj, "spec").finalizers ??= ["kubernetes"];
}

function defaultCronJob(obj: JsonObject): void {
  const spec = asObject(obj.spec);
  if (!spec) return;
  spec.concurrencyPolicy ??= "Allow";
  spec.suspend ??= false;
  spec.successfulJobsHistoryLimit ??= 3;
  spec.failedJobsHistoryLimit ??= 1;
}

// ---------------------------------------------------------------------------------------------------------------
// events: one storage, two APIs (core v1 and events.k8s.io/v1 rename fields)

const EVENT_RENAMES: ReadonlyArray<readonly [external: string, core: string]> = [
  ["regarding", "involvedObject"],
  ["note", "message"],
  ["deprecatedSource", "source"],
  ["deprecatedFirstTimestamp", "firstTimestamp"],
  ["deprecatedLastTimestamp", "lastTimestamp"],
  ["deprecatedCount", "count"],
  ["reportingController", "reportingComponent"],
];

function rename(obj: JsonObject, pairs: ReadonlyArray<readonly [string, string]>): JsonObject {
  const out: JsonObject = {};
  const map = new Map(pairs);
  for (const [key, value] of Object.entries(obj)) out[map.get(key) ?? key] = value;
  return out;
}

function coreEventLabels(obj: JsonObject): Record<string, string | undefined> {
  const involved = asObject(obj.involvedObject) ?? {};
  const labels: Record<string, string | undefined> = {
    reason: asString(obj.reason),
    reportingComponent: asString(obj.reportingComponent),
    source: asString(asObject(obj.source)?.component),
    type: asString(obj.type),
  };
  for (const key of ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"]) {
    labels[`involvedObject.${key}`] = asString(involved[key]);
  }
  return labels;
}

function eventsV1Labels(obj: JsonObject): Record<string, string | undefined> {
  const regarding = asObject(obj.regarding) ?? {};
  const labels: Record<string, string | undefined> = {
    reason: asString(obj.reason),
    reportingController: asString(obj.reportingController),
    type: asString(obj.type),
  };
  for (const key of ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"]) {
    labels[`regarding.${key}`] = asString(regarding[key]);
  }
  return labels;
}

// ---------------------------------------------------------------------------------------------------------------
// the table

function istio(resource: string, singular: string, kind: string, shortNames: string[], validators: Validator[]) {
  return base({
    group: "networking.istio.io",
    versions: ["v1", "v1beta1", "v1alpha3"],
    resource,
    singular,
    kind,
    shortNames,
    statusSubresource: true,
    custom: true,
    generation: "not-metadata-or-status",
    validators,
    initialStatus: () => undefined,
  });
}

function gatewayApi(resource: string, singular: string, kind: string, validators: Validator[]) {
  return base({
    group: "gateway.networking.k8s.io",
    versions: ["v1", "v1beta1"],
    resource,
    singular,
    kind,
    shortNames: [],
    statusSubresource: true,
    custom: true,
    generation: "not-metadata-or-status",
    validators,
    initialStatus: () => undefined,
  });
}

export const RESOURCES: readonly ResourceDef[] = [
  base({
    group: "",
    versions: ["v1"],
    resource: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    shortNames: ["ns"],
    statusSubresource: true,
    returnDeletedObject: true,
    nameRule: "label",
    defaults: defaultNamespace,
    initialStatus: () => ({ phase: "Active" }),
    fieldLabels: (obj) => ({ "status.phase": asString(asObject(obj.status)?.phase) }),
  }),
  base({
    group: "",
    versions: ["v1"],
    resource: "services",
    singular: "service",
    kind: "Service",
    shortNames: ["svc"],
    statusSubresource: true,
    returnDeletedObject: true,
    nameRule: "dns1035",
    validators: [validateService],
    defaults: defaultService,
    initialStatus: () => ({ loadBalancer: {} }),
    fieldLabels: (obj) => ({
      "spec.clusterIP": asString(asObject(obj.spec)?.clusterIP),
      "spec.type": asString(asObject(obj.spec)?.type),
    }),
  }),
  base({
    group: "",
    versions: ["v1"],
    resource: "endpoints",
    singular: "endpoints",
    kind: "Endpoints",
    shortNames: ["ep"],
    allowCreateOnUpdate: true,
  }),
  // What the EndpointSlice controller writes (no controller here: tests write them, like Endpoints).
  base({
    group: "discovery.k8s.io",
    versions: ["v1"],
    resource: "endpointslices",
    singular: "endpointslice",
    kind: "EndpointSlice",
    validators: [validateEndpointSlice],
    fieldLabels: (obj) => ({ addressType: asString(obj.addressType) }),
  }),
  base({
    group: "",
    versions: ["v1"],
    resource: "pods",
    singular: "pod",
    kind: "Pod",
    shortNames: ["po"],
    statusSubresource: true,
    returnDeletedObject: true,
    validators: [validatePod],
    defaults: (obj) => defaultPodSpec(obj.spec),
    initialStatus: () => ({ phase: "Pending", qosClass: "BestEffort" }),
    fieldLabels: (obj) => {
      const spec = asObject(obj.spec) ?? {};
      const status = asObject(obj.status) ?? {};
      return {
        "spec.nodeName": asString(spec.nodeName),
        "spec.restartPolicy": asString(spec.restartPolicy),
        "spec.schedulerName": asString(spec.schedulerName),
        "spec.serviceAccountName": asString(spec.serviceAccountName),
        "status.phase": asString(status.phase),
        "status.podIP": asString(status.podIP),
        "status.nominatedNodeName": asString(status.nominatedNodeName),
      };
    },
  }),
  base({
    group: "",
    versions: ["v1"],
    resource: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    shortNames: ["cm"],
  }),
  base({
    group: "",
    versions: ["v1"],
    resource: "events",
    singular: "event",
    kind: "Event",
    shortNames: ["ev"],
    allowCreateOnUpdate: true,
    storage: "core/events",
    validators: [validateEvent],
    fieldLabels: coreEventLabels,
  }),
  base({
    group: "events.k8s.io",
    versions: ["v1"],
    resource: "events",
    singular: "event",
    kind: "Event",
    shortNames: ["ev"],
    allowCreateOnUpdate: true,
    storage: "core/events",
    validators: [validateEvent],
    toExternal: (stored) =>
      rename(
        stored,
        EVENT_RENAMES.map(([external, core]) => [core, external] as const),
      ),
    toStorage: (external) => rename(external, EVENT_RENAMES),
    fieldLabels: eventsV1Labels,
  }),
  base({
    group: "apps",
    versions: ["v1"],
    resource: "deployments",
    singular: "deployment",
    kind: "Deployment",
    shortNames: ["deploy"],
    statusSubresource: true,
    generation: "spec-or-annotations",
    validators: [validateDeployment],
    defaults: defaultDeployment,
  }),
  base({
    group: "apps",
    versions: ["v1"],
    resource: "replicasets",
    singular: "replicaset",
    kind: "ReplicaSet",
    shortNames: ["rs"],
    statusSubresource: true,
    generation: "spec",
    validators: [validateReplicaSet],
    defaults: defaultReplicaSet,
    initialStatus: () => ({ replicas: 0 }),
    fieldLabels: (obj) => {
      const replicas = asObject(obj.status)?.replicas;
      return { "status.replicas": typeof replicas === "number" ? String(replicas) : undefined };
    },
  }),
  base({
    group: "batch",
    versions: ["v1"],
    resource: "cronjobs",
    singular: "cronjob",
    kind: "CronJob",
    shortNames: ["cj"],
    statusSubresource: true,
    generation: "spec",
    defaults: defaultCronJob,
  }),
  istio("virtualservices", "virtualservice", "VirtualService", ["vs"], [validateVirtualService]),
  istio("destinationrules", "destinationrule", "DestinationRule", ["dr"], [validateDestinationRule]),
  istio("gateways", "gateway", "Gateway", ["gw"], []),
  // Gateway API (CRDs): v1 since Gateway API 1.0, v1beta1 still served.
  gatewayApi("httproutes", "httproute", "HTTPRoute", [validateHTTPRoute]),
  gatewayApi("gateways", "gateway", "Gateway", []),
];

export function groupVersion(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

/** Splits `apps/v1` into group and version (`v1` is the core group). */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function findByResource(group: string, resource: string): ResourceDef | undefined {
  return RESOURCES.find((def) => def.group === group && def.resource === resource);
}

export function findByKind(group: string, version: string, kind: string): ResourceDef | undefined {
  return RESOURCES.find((def) => def.group === group && def.kind === kind && def.versions.includes(version));
}
