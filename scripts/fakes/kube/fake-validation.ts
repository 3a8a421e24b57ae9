// Validation of objects written to the fake API server: kubernetes-models schemas plus the API server's own rules.
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { EndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import { Event as EventsV1Event } from "kubernetes-models/events.k8s.io/v1/Event";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Endpoints } from "kubernetes-models/v1/Endpoints";
import { Event as CoreEvent } from "kubernetes-models/v1/Event";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Pod } from "kubernetes-models/v1/Pod";
import { Service } from "kubernetes-models/v1/Service";
import { asArray, asObject, asString, asStringMap, deepEqual, isObject, type JsonObject } from "./fake-json.ts";
import {
  labelKeyProblem,
  labelSelectorRequirements,
  labelValueProblem,
  matchesLabelRequirements,
} from "./fake-selectors.ts";
import { badRequest, type FieldError, invalidValue, required } from "./fake-status.ts";

/** What a validator knows about the write. */
export interface ValidationContext {
  operation: "create" | "update";
  /** The API version the client used, e.g. `v1` or `events.k8s.io/v1`. */
  apiVersion: string;
  kind: string;
}

export type Validator = (obj: JsonObject, old: JsonObject | undefined, ctx: ValidationContext) => FieldError[];

// ---------------------------------------------------------------------------------------------------------------
// kubernetes-models

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

type ModelClass = new (data: never) => { validate(): void };

const MODELS: Record<string, ModelClass> = {
  "apps/v1/Deployment": Deployment,
  "apps/v1/ReplicaSet": ReplicaSet,
  "batch/v1/CronJob": CronJob,
  "discovery.k8s.io/v1/EndpointSlice": EndpointSlice,
  "events.k8s.io/v1/Event": EventsV1Event,
  "v1/ConfigMap": ConfigMap,
  "v1/Endpoints": Endpoints,
  "v1/Event": CoreEvent,
  "v1/Namespace": Namespace,
  "v1/Pod": Pod,
  "v1/Service": Service,
};

/** `/spec/template/spec/containers/0/name` -> `spec.template.spec.containers[0].name`. */
function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
  if (extra !== undefined) parts.push(extra);
  let out = "";
  for (const part of parts) out += /^\d+$/.test(part) ? `[${part}]` : out === "" ? part : `.${part}`;
  return out;
}

function valueAt(obj: unknown, instancePath: string): unknown {
  let current = obj;
  for (const part of instancePath.split("/").slice(1)) {
    const key = part.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(current)) current = current[Number(key)];
    else if (isObject(current)) current = current[key];
    else return undefined;
  }
  return current;
}

/**
 * Runs the kubernetes-models schema. A wrong JSON type is a decoding error on the real server (400 BadRequest,
 * "cannot be handled as a Deployment"); every other schema error becomes a field error (422 Invalid).
 */
export function modelErrors(obj: JsonObject, ctx: ValidationContext): FieldError[] {
  const Model = MODELS[`${ctx.apiVersion}/${ctx.kind}`];
  if (!Model) return [];
  try {
    new Model(obj as never).validate();
    return [];
  } catch (error) {
    const raw = (error as { errors?: unknown }).errors;
    if (!Array.isArray(raw)) throw error;
    const schemaErrors = raw as SchemaError[];
    const typeErrors = schemaErrors.filter((e) => e.keyword === "type");
    if (typeErrors.length > 0) {
      const version = ctx.apiVersion.split("/").pop();
      const problems = typeErrors.map((e) => `${fieldPath(e.instancePath)}: ${e.message ?? "has the wrong type"}`);
      throw badRequest(
        `${ctx.kind} in version "${version}" cannot be handled as a ${ctx.kind}: ${problems.join("; ")}`,
      );
    }
    return schemaErrors.map((e): FieldError => {
      if (e.keyword === "required") return required(fieldPath(e.instancePath, String(e.params.missingProperty)));
      const field = fieldPath(e.instancePath);
      const value = valueAt(obj, e.instancePath);
      if (e.keyword === "enum") {
        const allowed = asArray(e.params.allowedValues).map((v) => JSON.stringify(v));
        return { type: "FieldValueNotSupported", field, value, detail: `supported values: ${allowed.join(", ")}` };
      }
      return invalidValue(field, value, e.message ?? "invalid");
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// metadata

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type NameRule = "subdomain" | "label" | "dns1035";

/** Why a name breaks the rule, or undefined. */
export function nameProblem(name: string, rule: NameRule): string | undefined {
  if (rule === "label") {
    if (name.length > 63) return "must be no more than 63 characters";
    if (!DNS1123_LABEL.test(name)) {
      return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    }
    return undefined;
  }
  if (rule === "dns1035") {
    if (name.length > 63) return "must be no more than 63 characters";
    if (!DNS1035_LABEL.test(name)) {
      return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    }
    return undefined;
  }
  if (name.length > 253) return "must be no more than 253 characters";
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  }
  return undefined;
}

export function labelMapErrors(labels: unknown, field: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(asStringMap(labels))) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) errors.push(invalidValue(field, key, keyProblem));
    const valueProblem = labelValueProblem(value);
    if (valueProblem) errors.push(invalidValue(field, value, valueProblem));
  }
  return errors;
}

const ANNOTATIONS_MAX_BYTES = 256 * 1024;

export function metadataErrors(obj: JsonObject, rule: NameRule): FieldError[] {
  const metadata = asObject(obj.metadata) ?? {};
  const errors: FieldError[] = [];
  const name = asString(metadata.name) ?? "";
  if (name === "") errors.push(required("metadata.name", "name or generateName is required"));
  else {
    const problem = nameProblem(name, rule);
    if (problem) errors.push(invalidValue("metadata.name", name, problem));
  }
  errors.push(...labelMapErrors(metadata.labels, "metadata.labels"));
  let annotationBytes = 0;
  for (const [key, value] of Object.entries(asStringMap(metadata.annotations))) {
    const problem = labelKeyProblem(key.toLowerCase());
    if (problem) errors.push(invalidValue("metadata.annotations", key, problem));
    annotationBytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (annotationBytes > ANNOTATIONS_MAX_BYTES) {
    errors.push({
      type: "FieldValueTooLong",
      field: "metadata.annotations",
      detail: `must have at most ${ANNOTATIONS_MAX_BYTES} bytes`,
    });
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------------------------
// workloads

function podSpecErrors(spec: JsonObject | undefined, field: string): FieldError[] {
  if (!spec) return [];
  const errors: FieldError[] = [];
  const containers = asArray(spec.containers);
  if (containers.length === 0) errors.push(required(`${field}.containers`));
  const seen = new Set<string>();
  containers.forEach((entry, i) => {
    const container = asObject(entry) ?? {};
    const name = asString(container.name);
    const at = `${field}.containers[${i}]`;
    if (name !== undefined) {
      const problem = nameProblem(name, "label");
      if (problem) errors.push(invalidValue(`${at}.name`, name, problem));
      if (seen.has(name)) errors.push({ type: "FieldValueDuplicate", field: `${at}.name`, value: name });
      seen.add(name);
    }
    if (!asString(container.image)) errors.push(required(`${at}.image`));
  });
  return errors;
}

function selectorAndTemplateErrors(obj: JsonObject, kind: string): FieldError[] {
  const spec = asObject(obj.spec);
  if (!spec) return [];
  const errors: FieldError[] = [];
  const selector = asObject(spec.selector);
  const requirements = labelSelectorRequirements(selector);
  if (selector && requirements?.length === 0) {
    errors.push(invalidValue("spec.selector", selector, `empty selector is invalid for ${kind.toLowerCase()}`));
  }
  errors.push(...labelMapErrors(selector?.matchLabels, "spec.selector.matchLabels"));
  const template = asObject(spec.template);
  const templateLabels = asStringMap(asObject(template?.metadata)?.labels);
  errors.push(...labelMapErrors(templateLabels, "spec.template.metadata.labels"));
  if (template && requirements && requirements.length > 0 && !matchesLabelRequirements(requirements, templateLabels)) {
    errors.push(
      invalidValue("spec.template.metadata.labels", templateLabels, "`selector` does not match template `labels`"),
    );
  }
  const replicas = spec.replicas;
  if (typeof replicas === "number" && replicas < 0) {
    errors.push(invalidValue("spec.replicas", replicas, "must be greater than or equal to 0"));
  }
  const podSpec = asObject(template?.spec);
  const restartPolicy = asString(podSpec?.restartPolicy);
  if (restartPolicy !== undefined && restartPolicy !== "Always") {
    errors.push({
      type: "FieldValueNotSupported",
      field: "spec.template.spec.restartPolicy",
      value: restartPolicy,
      detail: 'supported values: "Always"',
    });
  }
  errors.push(...podSpecErrors(podSpec, "spec.template.spec"));
  return errors;
}

function selectorImmutable(obj: JsonObject, old: JsonObject | undefined): FieldError[] {
  if (!old) return [];
  const selector = asObject(obj.spec)?.selector;
  if (deepEqual(selector, asObject(old.spec)?.selector)) return [];
  return [invalidValue("spec.selector", selector, "field is immutable")];
}

export const validateDeployment: Validator = (obj, old) => {
  const errors = [...selectorAndTemplateErrors(obj, "Deployment"), ...selectorImmutable(obj, old)];
  const spec = asObject(obj.spec) ?? {};
  const deadline = spec.progressDeadlineSeconds;
  const minReady = typeof spec.minReadySeconds === "number" ? spec.minReadySeconds : 0;
  if (typeof deadline === "number" && deadline <= minReady) {
    errors.push(invalidValue("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"));
  }
  return errors;
};

export const validateReplicaSet: Validator = (obj, old) => [
  ...selectorAndTemplateErrors(obj, "ReplicaSet"),
  ...selectorImmutable(obj, old),
];

export const validatePod: Validator = (obj) => podSpecErrors(asObject(obj.spec), "spec");

// ---------------------------------------------------------------------------------------------------------------
// services

const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

export const validateService: Validator = (obj, old) => {
  const spec = asObject(obj.spec) ?? {};
  const errors: FieldError[] = [];
  const type = asString(spec.type) ?? "ClusterIP";
  if (!SERVICE_TYPES.includes(type)) {
    errors.push({
      type: "FieldValueNotSupported",
      field: "spec.type",
      value: type,
      detail: `supported values: ${SERVICE_TYPES.map((t) => `"${t}"`).join(", ")}`,
    });
  }
  const ports = asArray(spec.ports);
  if (ports.length === 0 && type !== "ExternalName" && spec.clusterIP !== "None") errors.push(required("spec.ports"));
  const names = new Set<string>();
  ports.forEach((entry, i) => {
    const port = asObject(entry) ?? {};
    const name = asString(port.name) ?? "";
    if (ports.length > 1 && name === "") errors.push(required(`spec.ports[${i}].name`));
    if (name !== "" && names.has(name)) {
      errors.push({ type: "FieldValueDuplicate", field: `spec.ports[${i}].name`, value: name });
    }
    names.add(name);
    const number = port.port;
    if (typeof number === "number" && (number < 1 || number > 65535)) {
      errors.push(invalidValue(`spec.ports[${i}].port`, number, "must be between 1 and 65535, inclusive"));
    }
  });
  errors.push(...labelMapErrors(spec.selector, "spec.selector"));
  if (old) {
    const before = asObject(old.spec)?.clusterIP;
    if (before !== undefined && spec.clusterIP !== before) {
      errors.push(invalidValue("spec.clusterIP", spec.clusterIP ?? "", "field is immutable"));
    }
  }
  return errors;
};

// ---------------------------------------------------------------------------------------------------------------
// endpointslices

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** kube-apiserver's ValidateEndpointSlice, the parts a test can trip: an address per endpoint, IPv4 syntax, addressType. */
export const validateEndpointSlice: Validator = (obj, old) => {
  const errors: FieldError[] = [];
  const addressType = asString(obj.addressType);
  asArray(obj.endpoints).forEach((entry, i) => {
    const addresses = asArray(asObject(entry)?.addresses);
    const field = `endpoints[${i}].addresses`;
    if (addresses.length === 0) errors.push(required(field, "must contain at least 1 address"));
    addresses.forEach((address, j) => {
      if (addressType === "IPv4" && !(typeof address === "string" && IPV4.test(address))) {
        errors.push(invalidValue(`${field}[${j}]`, address, "must be a valid IPv4 address"));
      }
    });
  });
  if (old && asString(old.addressType) !== addressType) {
    errors.push(invalidValue("addressType", addressType ?? "", "field is immutable"));
  }
  return errors;
};

// ---------------------------------------------------------------------------------------------------------------
// events

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

/**
 * metav1.MicroTime only parses RFC 3339 with exactly six fractional digits. client-node serialises a plain Date as
 * `...00.000Z` (three digits), which the real server refuses with 400; `new V1MicroTime(...)` gives six digits.
 */
function microTimeErrors(obj: JsonObject, kind: string): void {
  const candidates: Array<[string, unknown]> = [
    ["eventTime", obj.eventTime],
    ["series.lastObservedTime", asObject(obj.series)?.lastObservedTime],
  ];
  for (const [field, value] of candidates) {
    if (value === undefined) continue;
    if (typeof value !== "string" || !MICRO_TIME.test(value)) {
      throw badRequest(
        `${kind} in version "v1" cannot be handled as a ${kind}: ${field}: unmarshalerDecoder: parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse as RFC 3339 with microseconds`,
      );
    }
  }
}

function lengthLimit(errors: FieldError[], field: string, value: string | undefined, limit: number): void {
  if (value !== undefined && value.length > limit) {
    errors.push(invalidValue(field, "", `can have at most ${limit} characters`));
  }
}

/** events.k8s.io/v1 create (strict) and core v1 create (legacy) rules of ValidateEventCreate. */
export const validateEvent: Validator = (obj, _old, ctx) => {
  microTimeErrors(obj, "Event");
  const errors: FieldError[] = [];
  const eventsApi = ctx.apiVersion === "events.k8s.io/v1";
  const namespace = asString(asObject(obj.metadata)?.namespace) ?? "";
  const regardingField = eventsApi ? "regarding" : "involvedObject";
  const controllerField = eventsApi ? "reportingController" : "reportingComponent";
  const regarding = asObject(obj[regardingField]) ?? {};
  const regardingNamespace = asString(regarding.namespace) ?? "";
  const hasTime = typeof obj.eventTime === "string";
  if (ctx.operation === "create" && !eventsApi && !hasTime) {
    const ok =
      regardingNamespace === "" ? namespace === "" || namespace === "default" : regardingNamespace === namespace;
    if (!ok)
      errors.push(invalidValue(`${regardingField}.namespace`, regardingNamespace, "does not match event.namespace"));
    return errors;
  }
  if (regardingNamespace === "" && namespace !== "default" && namespace !== "kube-system") {
    errors.push(invalidValue(`${regardingField}.namespace`, regardingNamespace, "does not match event.namespace"));
  }
  const controller = asString(obj[controllerField]) ?? "";
  if (controller === "") errors.push(required(controllerField));
  else {
    const problem = labelKeyProblem(controller);
    if (problem) errors.push(invalidValue(controllerField, controller, problem));
  }
  const instance = asString(obj.reportingInstance) ?? "";
  if (instance === "") errors.push(required("reportingInstance"));
  lengthLimit(errors, "reportingInstance", instance, 128);
  if (!eventsApi || ctx.operation !== "create") return errors;
  if (!hasTime) errors.push(required("eventTime"));
  const type = asString(obj.type) ?? "";
  if (type !== "Normal" && type !== "Warning") errors.push(invalidValue("type", "", `has invalid value: ${type}`));
  for (const field of ["deprecatedFirstTimestamp", "deprecatedLastTimestamp"]) {
    if (obj[field] !== undefined) errors.push(invalidValue(field, "", "needs to be unset"));
  }
  for (const field of ["action", "reason"]) {
    const value = asString(obj[field]) ?? "";
    if (value === "") errors.push(required(field));
    lengthLimit(errors, field, value, 128);
  }
  lengthLimit(errors, "note", asString(obj.note), 1024);
  return errors;
};

// ---------------------------------------------------------------------------------------------------------------
// Istio (the CRDs' structural schemas, for the fields greenlight writes)

export const validateVirtualService: Validator = (obj) => {
  const errors: FieldError[] = [];
  asArray(asObject(obj.spec)?.http).forEach((entry, i) => {
    asArray(asObject(entry)?.route).forEach((routeEntry, j) => {
      const route = asObject(routeEntry) ?? {};
      const at = `spec.http[${i}].route[${j}]`;
      const weight = route.weight;
      if (weight !== undefined && (typeof weight !== "number" || !Number.isInteger(weight))) {
        const type = typeof weight;
        errors.push(invalidValue(`${at}.weight`, type, `${at}.weight in body must be of type integer: "${type}"`));
      }
      const destination = asObject(route.destination);
      if (!destination) errors.push(required(`${at}.destination`));
      else if (!asString(destination.host)) errors.push(required(`${at}.destination.host`));
    });
  });
  return errors;
};

export const validateDestinationRule: Validator = (obj) =>
  asString(asObject(obj.spec)?.host) ? [] : [required("spec.host")];

/** The HTTPRoute CRD's schema checks that matter to greenlight: backendRefs need a name, weights are 0..1000000. */
export const validateHTTPRoute: Validator = (obj) => {
  const errors: FieldError[] = [];
  asArray(asObject(obj.spec)?.rules).forEach((rule, i) => {
    asArray(asObject(rule)?.backendRefs).forEach((entry, j) => {
      const ref = asObject(entry) ?? {};
      const at = `spec.rules[${i}].backendRefs[${j}]`;
      if (!asString(ref.name)) errors.push(required(`${at}.name`));
      const weight = ref.weight;
      if (weight === undefined) return;
      if (typeof weight !== "number" || !Number.isInteger(weight)) {
        const type = typeof weight;
        errors.push(invalidValue(`${at}.weight`, type, `${at}.weight in body must be of type integer: "${type}"`));
      } else if (weight < 0 || weight > 1_000_000) {
        errors.push(invalidValue(`${at}.weight`, weight, `${at}.weight in body should be between 0 and 1000000`));
      }
    });
  });
  return errors;
};
