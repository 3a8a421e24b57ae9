// In-process fake of the Kubernetes API server over HTTP, for driving the real @kubernetes/client-node 1.4 in tests.
/*
 * What it is
 * ----------
 * `startFakeApiServer()` listens on http://127.0.0.1:<random port> and answers the REST paths client-node's typed APIs
 * (AppsV1Api, CoreV1Api, DiscoveryV1Api, EventsV1Api, BatchV1Api) and CustomObjectsApi call, keeping objects in
 * memory. Code under test gets a KubeConfig from `kubeConfig()` and runs unchanged; against a real cluster it would
 * behave the same for everything listed below.
 *
 * Served: core v1 namespaces, services, endpoints, pods, configmaps, events; apps/v1 deployments, replicasets;
 * discovery.k8s.io/v1 endpointslices; events.k8s.io/v1 events (the same objects as core v1 events, with the
 * events.k8s.io field names: regarding, note, reportingController, deprecated*); batch/v1 cronjobs;
 * gateway.networking.k8s.io v1 and v1beta1 httproutes and gateways;
 * networking.istio.io v1, v1beta1 and v1alpha3 virtualservices, destinationrules, gateways (one object, served under
 * every version like a CRD with several served versions; a version can be switched off with `unservedVersions` /
 * `setServed` to test a fallback: its paths then answer the API server's generic 404 "the server could not find the
 * requested resource", details {} — an object that is missing answers `virtualservices.networking.istio.io "x" not
 * found` with details.name set). Discovery (/api, /apis, /api/v1, /apis/G, /apis/G/V) and /version are served too
 * (KubernetesObjectApi needs them).
 *
 * Verbs, as kube-apiserver does them:
 * - GET (404 NotFound Status), LIST namespaced and cluster-wide with labelSelector (=, ==, !=, in, notin, exists, !,
 *   gt, lt), fieldSelector (metadata.name, metadata.namespace and the per-resource fields kube-apiserver supports,
 *   e.g. pods status.phase, events involvedObject.* / regarding.*; anything else is a 400), limit/continue. List
 *   items of built-in kinds carry no apiVersion/kind (as on a real server); custom resources' items do.
 * - POST (201; 409 AlreadyExists; generateName; sets uid, creationTimestamp, resourceVersion, generation 1 where the
 *   resource tracks it; resets status for resources with a status subresource; a body with
 *   metadata.resourceVersion is refused with 500 "resourceVersion should not be set on objects to be created").
 * - PUT (409 Conflict on a stale metadata.resourceVersion; without one it is unconditional for built-ins but 422 for
 *   custom resources; 404 unless the resource allows create-on-update: events, endpoints).
 * - PATCH: `application/json-patch+json` (fast-json-patch; any failing operation, a failed `test` included, is 422
 *   with reason "Invalid", message "the server rejected our request due to an error in our request" and the
 *   json-patch error in details.causes[0].message, e.g. "testing value /metadata/annotations/x failed: test failed",
 *   exactly what kube-apiserver's NewGenericServerResponse(422) gives; a body that is not an array is 400),
 *   `application/merge-patch+json` (RFC 7386), `application/strategic-merge-patch+json` treated as a merge patch
 *   (lists are replaced, not merged by key as real SMP does; `$patch`-style directives are refused with 400; custom
 *   resources refuse SMP with 415 as a real server does). A patched metadata.resourceVersion that differs from the
 *   stored one is a 409 Conflict. Other content types: 415.
 * - DELETE (Success Status, or the object for pods/services/namespaces; DeleteOptions preconditions; deleting a
 *   namespace removes everything in it at once), deletecollection. `dryRun=All` works on every write.
 * - Status subresource (`.../status`, GET/PUT/PATCH) for deployments, replicasets, pods, services, namespaces,
 *   cronjobs and the Istio kinds: it writes only `status`; writes to the main resource keep the stored status.
 * - resourceVersion is one global counter bumped by every write that changes something; a write that changes nothing
 *   (e.g. the same merge patch twice) answers 200 without a new resourceVersion, like etcd. generation: deployments
 *   bump on spec OR annotation changes, replicasets/cronjobs on spec, custom resources on anything outside
 *   metadata and status; services, events, namespaces have none.
 * - Defaulting like the real server for what greenlight reads back (deployment replicas 1, strategy 25%/25%,
 *   revisionHistoryLimit 10, progressDeadlineSeconds 600; pod template restartPolicy, dnsPolicy,
 *   imagePullPolicy, probe timings; service type/clusterIP/ports; namespace label kubernetes.io/metadata.name).
 * - Validation on create, replace and patch: kubernetes-models schemas (a wrong JSON type is 400 "cannot be handled as
 *   a Deployment", as the real decoder does; a missing required field or bad enum is 422 Invalid with causes), plus
 *   the server's own rules: names (RFC 1123 subdomain, label, or RFC 1035 for services), label keys/values,
 *   annotation keys and size, deployment/replicaset selector non-empty + matching the template labels + immutable,
 *   container names and images, service ports and immutable clusterIP, events (events.k8s.io/v1 create needs
 *   eventTime as a MicroTime with six fractional digits, type Normal|Warning, reportingController,
 *   reportingInstance, action, reason), VirtualService route weights must be integers with a destination host.
 * - Bearer token auth (401 otherwise), latency (`latencyMs` delays every request before it is handled), injected
 *   failures (`failNext`), and a record of every call (`calls`).
 *
 * What it does NOT do (do not rely on these):
 * - No controllers: nothing creates ReplicaSets or Pods, updates Deployment status, fills Endpoints or
 *   EndpointSlices, runs the garbage collector, or finalizes namespaces. Tests set status through the `/status` subresource or `put()`.
 * - No watch (405), no server-side apply (415), no services/proxy (`attachProxy` in fake-proxy.ts adds it through
 *   `addRoute`), pods/log, exec, scale subresource, no managedFields, no admission webhooks, no RBAC (inject 403
 *   with failNext), no protobuf/CBOR, no aggregated discovery, no fieldValidation=Strict, no pruning of unknown
 *   fields (the real server drops them).
 * - Strategic merge patch is a plain merge patch (see above). Istio's own validating webhook (e.g. weights summing
 *   to 100) is not modelled; only the CRD-schema checks above are.
 * - Error messages follow kube-apiserver's wording for NotFound, AlreadyExists, Conflict, Invalid, the failed JSON
 *   Patch test and the generic 404; other 400/422 messages are close but not word for word.
 * - Namespaces need not exist to create objects in them unless `requireNamespace: true` (then: 404 NotFound
 *   `namespaces "x" not found`, as the real NamespaceLifecycle admission does).
 *
 * client-node 1.4 behaviour, verified in fake-apiserver.test.ts:
 * - Object-parameter API: `apps.patchNamespacedDeployment({ name, namespace, body: ops })` — `body` is the patch
 *   itself (an array of operations for JSON Patch, an object for a merge patch). Typed patch methods send
 *   `Content-Type: application/json-patch+json` by default; CustomObjectsApi patches too.
 * - Merge patch: pass `setHeaderOptions("Content-Type", PatchStrategy.MergePatch)` as the second argument; the wire
 *   then carries exactly `application/merge-patch+json`. With a lower-case `content-type` key node-fetch sends two
 *   Content-Type headers, json-patch first; the API server (Go's Header.Get) and this fake read the first one, so
 *   the merge-patch body is applied as a JSON Patch and fails: the option is silently ignored.
 * - Creates and replaces send `application/json`. Every request carries `Connection: close` (no keep-alive).
 * - A non-2xx answer rejects with `ApiException` (exported by client-node): `.code` is the HTTP status, `.body` is the
 *   response text (a string: `JSON.parse(e.body)` gives the Status), `.headers` the response headers, and
 *   `.message` starts with `HTTP-Code: 404`. Except 401: the generated code special-cases it and `.body` is
 *   undefined (message `HTTP-Code: 401\nMessage: Unauthorized`).
 * - A connection failure rejects with node-fetch's `FetchError` (exported by client-node): `.code` / `.errno`
 *   "ECONNREFUSED", `.type` "system"; a dropped connection gives "ECONNRESET". client-node sets no timeout: a hung
 *   server hangs the call, unless a middleware sets a signal (`ctx.setSignal(AbortSignal.timeout(ms))`), which
 *   rejects with node-fetch's `AbortError` (`.name` "AbortError", `.type` "aborted").
 * - EventsV1Event.eventTime: a plain `Date` is sent as `2024-01-01T00:00:00.000Z` (three digits), which a real
 *   server refuses with 400; use `new V1MicroTime(date)` (six digits) or a string. The fake refuses it as well.
 * - Results are class instances with Date fields (creationTimestamp) for typed APIs; CustomObjectsApi returns plain
 *   JSON objects.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import jsonPatch, { type JsonPatchError, type Operation } from "fast-json-patch";
import {
  asObject,
  asString,
  child,
  clone,
  deepEqual,
  isObject,
  type JsonObject,
  mergePatch,
  pruneNulls,
} from "./fake-json.ts";
import {
  findByKind,
  findByResource,
  groupVersion,
  RESOURCES,
  type ResourceDef,
  splitApiVersion,
} from "./fake-resources.ts";
import {
  type FieldRequirement,
  matchesFieldRequirements,
  matchesLabelRequirements,
  parseFieldSelector,
  parseLabelSelector,
} from "./fake-selectors.ts";
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  type FieldError,
  failure,
  injectedFailure,
  internalError,
  invalid,
  invalidValue,
  methodNotAllowed,
  notFound,
  patchNotApplicable,
  pathNotFound,
  unsupportedMediaType,
} from "./fake-status.ts";
import { metadataErrors, modelErrors } from "./fake-validation.ts";

export type { JsonObject } from "./fake-json.ts";
export type { KubeStatus } from "./fake-status.ts";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

/** One HTTP request the fake received, recorded when it arrived; `status` is filled in when it is answered. */
export interface RecordedCall {
  method: string;
  /** The URL path without the query, e.g. `/apis/apps/v1/namespaces/default/deployments/web`. */
  path: string;
  query: Record<string, string>;
  /** The Content-Type the server acts on (the first one), as sent; undefined when there was none. */
  contentType: string | undefined;
  /** Every Content-Type header line, in order (client-node can send two). */
  contentTypes: string[];
  /** HTTP status answered; 0 when the connection was dropped or left hanging by an injected failure. */
  status: number;
  /** The Kubernetes verb, or "discovery" / "other" for non-resource paths. */
  verb: Verb | "discovery" | "other";
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** The request body, JSON-parsed when it parses. */
  body?: unknown;
  /** True when the answer came from `failNext`. */
  injected?: boolean;
}

/** Which calls an injected failure applies to: fields that must all match, or a predicate. */
export type CallMatch =
  | ((call: RecordedCall) => boolean)
  | {
      method?: string;
      verb?: RecordedCall["verb"];
      path?: string | RegExp;
      group?: string;
      version?: string;
      resource?: string;
      subresource?: string;
      namespace?: string;
      name?: string;
    };

/**
 * An HTTP status (answered with a Status body like the API server's own for that code, or `body`), "timeout"
 * (never answered: the connection hangs until the client gives up, `hangMs` passes and the socket is dropped, or the
 * server is reset/closed), or "reset" (the connection is dropped without an answer).
 */
export type InjectedFailure = number | "timeout" | "reset";

export interface FailOptions {
  /** How many matching calls fail (default 1). */
  times?: number;
  /** Handle the request (and store its write) before failing it, like a response lost on the way back. */
  afterApply?: boolean;
  /** For "timeout": drop the connection after this many milliseconds instead of hanging until close/reset. */
  hangMs?: number;
}

export interface FakeApiServerOptions {
  /** Milliseconds added to every request before it is handled (default 0). */
  latencyMs?: number;
  /** Group/versions to leave unserved, e.g. `["networking.istio.io/v1"]`. */
  unservedVersions?: string[];
  /** Refuse creates in namespaces that do not exist, like the real server (default false). */
  requireNamespace?: boolean;
  /** Clock for creationTimestamp (default: the real time). */
  now?: () => Date;
}

/**
 * A path the fake does not serve itself, answered by a test helper (the service proxy of fake-proxy.ts). The call is
 * recorded, delayed, authenticated and subject to `failNext` like any other.
 */
export interface ExtraRoute {
  /** Whether this route answers the call; it may fill in the call's Kubernetes fields (verb, resource, ...). */
  claims(call: RecordedCall): boolean;
  /** The answer; a string body is sent as text/plain unless `headers` sets content-type. May throw an ApiError. */
  answer(call: RecordedCall): Promise<Answer>;
  /** Called by the server's `reset()`. */
  reset?(): void;
}

export interface FakeApiServer {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** The bearer token `kubeConfig()` carries; other tokens get 401. */
  token: string;
  /** A fresh KubeConfig for this server: cluster with skipTLSVerify, user with the token, namespace "default". */
  kubeConfig(): KubeConfig;
  /** Stores an object directly (create or replace, status kept, validated, no call recorded). Returns it. */
  put(obj: object): JsonObject;
  /** The object as the given API version shows it, or undefined. */
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): JsonObject | undefined;
  /** Objects of a kind, in one namespace or all, sorted by namespace and name, with apiVersion and kind set. */
  list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): JsonObject[];
  /** Deletes an object directly (no call recorded). Returns whether it existed. */
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean;
  /** Every call received since start or the last reset, in arrival order. */
  readonly calls: RecordedCall[];
  /** Serves more paths (kept across `reset()`, which calls the route's own `reset`). */
  addRoute(route: ExtraRoute): void;
  /** Fails the next call(s) matching `match`. */
  failNext(match: CallMatch, failure: InjectedFailure, body?: unknown, options?: FailOptions): void;
  setLatency(ms: number): void;
  setServed(groupVersion: string, served: boolean): void;
  /** The current global resourceVersion. */
  resourceVersion(): string;
  /** Forgets objects, calls and pending failures; restores the start options; the counter starts again. */
  reset(): void;
  close(): Promise<void>;
}

interface FailureRule {
  match: CallMatch;
  failure: InjectedFailure;
  body: unknown;
  remaining: number;
  afterApply: boolean;
  hangMs: number | undefined;
}

interface ResourceRoute {
  def: ResourceDef;
  version: string;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

export interface Answer {
  code: number;
  body: unknown;
  headers?: Record<string, string>;
}

const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/apply-patch+yaml",
  "application/strategic-merge-patch+json",
];
const CUSTOM_PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/apply-patch+yaml",
];
const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function matches(match: CallMatch, call: RecordedCall): boolean {
  if (typeof match === "function") return match(call);
  if (match.method !== undefined && match.method.toUpperCase() !== call.method) return false;
  if (
    match.path instanceof RegExp ? !match.path.test(call.path) : match.path !== undefined && match.path !== call.path
  ) {
    return false;
  }
  const keys = ["verb", "group", "version", "resource", "subresource", "namespace", "name"] as const;
  return keys.every((key) => match[key] === undefined || match[key] === call[key]);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function metadataOf(obj: JsonObject): JsonObject {
  return child(obj, "metadata");
}

function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function generationChanged(def: ResourceDef, before: JsonObject, after: JsonObject): boolean {
  switch (def.generation) {
    case "spec":
      return !deepEqual(before.spec, after.spec);
    case "spec-or-annotations":
      return (
        !deepEqual(before.spec, after.spec) ||
        !deepEqual(asObject(before.metadata)?.annotations, asObject(after.metadata)?.annotations)
      );
    case "not-metadata-or-status": {
      const strip = ({ metadata: _m, status: _s, ...rest }: JsonObject): JsonObject => rest;
      return !deepEqual(strip(before), strip(after));
    }
    default:
      return false;
  }
}

/** The kube-apiserver-style message for a JSON Patch operation that could not be applied. */
function jsonPatchMessage(error: JsonPatchError): string {
  const operation = asObject(error.operation) ?? {};
  const op = asString(operation.op) ?? "";
  const path = asString(operation.path) ?? "";
  switch (error.name) {
    case "TEST_OPERATION_FAILED":
      return `testing value ${path} failed: test failed`;
    case "OPERATION_OP_INVALID":
      return `Unexpected kind: ${op}`;
    case "OPERATION_PATH_UNRESOLVABLE":
    case "OPERATION_PATH_CANNOT_ADD":
      return op === "test"
        ? `test operation does not apply: is missing path: ${path}: missing value`
        : `${op} operation does not apply: doc is missing path: ${path}: missing value`;
    default:
      return `${op} operation does not apply: ${(error.message.split("\n")[0] ?? "").trim()}`;
  }
}

function findDirective(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findDirective(item);
      if (found) return found;
    }
    return undefined;
  }
  if (!isObject(value)) return undefined;
  for (const [key, entry] of Object.entries(value)) {
    if (key.startsWith("$")) return key;
    const found = findDirective(entry);
    if (found) return found;
  }
  return undefined;
}

export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const token = randomBytes(16).toString("hex");
  const now = options.now ?? (() => new Date());
  const requireNamespace = options.requireNamespace ?? false;
  const calls: RecordedCall[] = [];
  const storage = new Map<string, Map<string, JsonObject>>();
  const unserved = new Set<string>();
  const rules: FailureRule[] = [];
  const extraRoutes: ExtraRoute[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const hanging = new Set<ServerResponse>();
  let latencyMs = 0;
  let counter = 0;
  let clusterIPs = 0;

  const restoreOptions = (): void => {
    latencyMs = options.latencyMs ?? 0;
    unserved.clear();
    for (const gv of options.unservedVersions ?? []) unserved.add(gv);
  };
  restoreOptions();

  const nextResourceVersion = (): string => String(++counter);
  const allocateClusterIP = (): string => {
    clusterIPs += 1;
    return `10.96.${Math.floor(clusterIPs / 250)}.${(clusterIPs % 250) + 1}`;
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  // ---------------------------------------------------------------------------------------------------------------
  // storage

  const bucket = (def: ResourceDef): Map<string, JsonObject> => {
    let found = storage.get(def.storage);
    if (!found) {
      found = new Map();
      storage.set(def.storage, found);
    }
    return found;
  };

  /** The object in the form (field names) of `def`'s API, without apiVersion/kind. */
  const load = (def: ResourceDef, namespace: string, name: string): JsonObject | undefined => {
    const stored = bucket(def).get(objectKey(namespace, name));
    return stored ? def.toExternal(clone(stored)) : undefined;
  };

  const save = (def: ResourceDef, obj: JsonObject): void => {
    const metadata = metadataOf(obj);
    bucket(def).set(
      objectKey(asString(metadata.namespace) ?? "", asString(metadata.name) ?? ""),
      def.toStorage(clone(obj)),
    );
  };

  const present = (def: ResourceDef, version: string, obj: JsonObject): JsonObject => {
    const { apiVersion: _a, kind: _k, ...rest } = obj;
    return { apiVersion: groupVersion(def.group, version), kind: def.kind, ...rest };
  };

  const served = (group: string, version: string): boolean =>
    !unserved.has(groupVersion(group, version)) &&
    RESOURCES.some((def) => def.group === group && def.versions.includes(version));

  const namespaceExists = (namespace: string): boolean => {
    const def = findByResource("", "namespaces");
    return def !== undefined && bucket(def).has(objectKey("", namespace));
  };

  const validate = (
    def: ResourceDef,
    version: string,
    obj: JsonObject,
    old: JsonObject | undefined,
    operation: "create" | "update",
  ): void => {
    const apiVersion = groupVersion(def.group, version);
    const ctx = { operation, apiVersion, kind: def.kind };
    const errors: FieldError[] = [
      ...modelErrors({ apiVersion, kind: def.kind, ...obj }, ctx),
      ...metadataErrors(obj, def.nameRule),
      ...def.validators.flatMap((validator) => validator(obj, old, ctx)),
    ];
    if (errors.length > 0) throw invalid(def.kind, def.group, asString(metadataOf(obj).name) ?? "", errors);
  };

  const checkTypeMeta = (def: ResourceDef, version: string, body: JsonObject): void => {
    const expected = groupVersion(def.group, version);
    if (def.custom) {
      if (!asString(body.kind)) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
      if (!asString(body.apiVersion)) throw badRequest(`Object 'apiVersion' is missing in '${JSON.stringify(body)}'`);
    }
    if (body.apiVersion !== undefined && body.apiVersion !== expected) {
      throw badRequest(
        `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${expected})`,
      );
    }
    if (body.kind !== undefined && body.kind !== def.kind) {
      throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${def.kind})`);
    }
  };

  const checkNamespace = (route: ResourceRoute, metadata: JsonObject): void => {
    if (!route.def.namespaced) {
      delete metadata.namespace;
      return;
    }
    const given = asString(metadata.namespace);
    if (given && given !== route.namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    metadata.namespace = route.namespace;
  };

  const dryRunOf = (query: URLSearchParams): boolean => {
    const values = query.getAll("dryRun");
    for (const value of values) if (value !== "All") throw badRequest(`dryRun: Unsupported value: "${value}"`);
    return values.length > 0;
  };

  // ---------------------------------------------------------------------------------------------------------------
  // verbs

  const create = (route: ResourceRoute, body: unknown, dryRun: boolean): Answer => {
    const { def, version } = route;
    if (!isObject(body)) throw badRequest("couldn't get version/kind; json parse error: the body is not an object");
    checkTypeMeta(def, version, body);
    const { apiVersion: _a, kind: _k, ...rest } = pruneNulls(body) as JsonObject;
    const obj: JsonObject = rest;
    const metadata = metadataOf(obj);
    checkNamespace(route, metadata);
    const namespace = asString(metadata.namespace) ?? "";
    if (metadata.resourceVersion !== undefined && metadata.resourceVersion !== "") {
      throw internalError("resourceVersion should not be set on objects to be created");
    }
    const generateName = asString(metadata.generateName);
    if (!asString(metadata.name) && generateName) {
      let suffix = "";
      for (let i = 0; i < 5; i++) suffix += NAME_ALPHABET[Math.floor(Math.random() * NAME_ALPHABET.length)];
      metadata.name = `${generateName}${suffix}`;
    }
    if (requireNamespace && def.namespaced && !namespaceExists(namespace)) {
      throw notFound({ group: "", resource: "namespaces" }, namespace);
    }
    for (const key of ["uid", "selfLink", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"]) {
      delete metadata[key];
    }
    metadata.uid = randomUUID();
    metadata.creationTimestamp = timestamp(now());
    if (def.generation === "none") delete metadata.generation;
    else metadata.generation = 1;
    if (def.statusSubresource) {
      const status = def.initialStatus(obj);
      if (status === undefined) delete obj.status;
      else obj.status = status;
    }
    def.defaults(obj, { old: undefined, allocateClusterIP });
    validate(def, version, obj, undefined, "create");
    const name = asString(metadata.name) ?? "";
    if (load(def, namespace, name)) throw alreadyExists(def, name);
    if (!dryRun) {
      metadata.resourceVersion = nextResourceVersion();
      save(def, obj);
    }
    return { code: 201, body: present(def, version, obj) };
  };

  /** Shared end of PUT and PATCH: `next` is the client's new object, preconditions already checked. */
  const commitUpdate = (route: ResourceRoute, old: JsonObject, proposed: JsonObject, dryRun: boolean): Answer => {
    const { def, version } = route;
    let next: JsonObject;
    if (route.subresource === "status") {
      next = clone(old);
      if (proposed.status === undefined) delete next.status;
      else next.status = proposed.status;
    } else {
      next = proposed;
      if (def.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = clone(old.status);
      }
    }
    const metadata = metadataOf(next);
    const oldMetadata = metadataOf(old);
    for (const key of ["uid", "creationTimestamp", "generation", "deletionTimestamp", "resourceVersion"]) {
      if (oldMetadata[key] === undefined) delete metadata[key];
      else metadata[key] = oldMetadata[key];
    }
    delete metadata.selfLink;
    delete metadata.managedFields;
    def.defaults(next, { old, allocateClusterIP });
    validate(def, version, next, old, "update");
    if (def.generation !== "none" && generationChanged(def, old, next)) {
      metadata.generation = (typeof oldMetadata.generation === "number" ? oldMetadata.generation : 0) + 1;
    }
    if (deepEqual(old, next)) return { code: 200, body: present(def, version, old) };
    if (!dryRun) {
      metadata.resourceVersion = nextResourceVersion();
      save(def, next);
    }
    return { code: 200, body: present(def, version, next) };
  };

  const checkResourceVersion = (route: ResourceRoute, old: JsonObject, given: unknown): void => {
    if (given === undefined || given === "") return;
    if (given !== metadataOf(old).resourceVersion) throw conflict(route.def, route.name ?? "");
  };

  const update = (route: ResourceRoute, body: unknown, dryRun: boolean): Answer => {
    const { def, version } = route;
    const name = route.name ?? "";
    if (!isObject(body)) throw badRequest("couldn't get version/kind; json parse error: the body is not an object");
    checkTypeMeta(def, version, body);
    const { apiVersion: _a, kind: _k, ...rest } = pruneNulls(body) as JsonObject;
    const obj: JsonObject = rest;
    const metadata = metadataOf(obj);
    const given = asString(metadata.name);
    if (given && given !== name) {
      throw badRequest(`the name of the object (${given}) does not match the name on the URL (${name})`);
    }
    metadata.name = name;
    checkNamespace(route, metadata);
    const old = load(def, route.namespace ?? "", name);
    if (!old) {
      if (def.allowCreateOnUpdate && route.subresource === undefined) {
        delete metadata.resourceVersion;
        const created = create(route, { ...obj }, dryRun);
        return { ...created, code: 201 };
      }
      throw notFound(def, name);
    }
    const resourceVersion = metadata.resourceVersion;
    if ((resourceVersion === undefined || resourceVersion === "") && def.custom) {
      throw invalid(def.kind, def.group, name, [
        invalidValue("metadata.resourceVersion", "0x0", "must be specified for an update"),
      ]);
    }
    checkResourceVersion(route, old, resourceVersion);
    return commitUpdate(route, old, obj, dryRun);
  };

  const patch = (route: ResourceRoute, text: string, contentType: string | undefined, dryRun: boolean): Answer => {
    const { def, version } = route;
    const name = route.name ?? "";
    const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const accepted = def.custom ? CUSTOM_PATCH_TYPES : PATCH_TYPES;
    if (!accepted.includes(mediaType)) throw unsupportedMediaType(accepted);
    if (mediaType === "application/apply-patch+yaml") {
      throw new ApiError(
        failure(415, "UnsupportedMediaType", "server-side apply is not implemented by the fake API server"),
      );
    }
    const parsed = parseJson(text);
    if (!parsed.ok) throw badRequest(`error decoding patch: ${parsed.error}`);
    const old = load(def, route.namespace ?? "", name);
    if (!old) throw notFound(def, name);
    const document = present(def, version, old);
    let patched: unknown;
    if (mediaType === "application/json-patch+json") {
      if (!Array.isArray(parsed.value) || !parsed.value.every(isObject)) {
        throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
      }
      try {
        patched = jsonPatch.applyPatch(clone(document), parsed.value as unknown as Operation[], true, true).newDocument;
      } catch (error) {
        if (error instanceof jsonPatch.JsonPatchError) throw patchNotApplicable(jsonPatchMessage(error));
        throw error;
      }
    } else {
      if (!isObject(parsed.value)) throw badRequest("error decoding patch: a merge patch must be a JSON object");
      if (mediaType === "application/strategic-merge-patch+json") {
        const directive = findDirective(parsed.value);
        if (directive) {
          throw badRequest(
            `the fake API server applies strategic merge patches as JSON merge patches and does not implement ${directive}`,
          );
        }
      }
      patched = mergePatch(document, parsed.value);
    }
    if (!isObject(patched)) throw badRequest("the patched object is not a JSON object");
    checkTypeMeta(def, version, patched);
    const { apiVersion: _a, kind: _k, ...rest } = pruneNulls(patched) as JsonObject;
    const obj: JsonObject = rest;
    const metadata = metadataOf(obj);
    if (metadata.name !== name) {
      throw badRequest(
        `the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (def.namespaced && metadata.namespace !== route.namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    checkResourceVersion(route, old, metadata.resourceVersion);
    return commitUpdate(route, old, obj, dryRun);
  };

  const removeObject = (def: ResourceDef, namespace: string, name: string): void => {
    bucket(def).delete(objectKey(namespace, name));
    if (def.group === "" && def.resource === "namespaces") {
      for (const other of RESOURCES) {
        if (!other.namespaced) continue;
        for (const key of [...bucket(other).keys()]) if (key.startsWith(`${name}/`)) bucket(other).delete(key);
      }
    }
  };

  const deleteOne = (route: ResourceRoute, body: unknown, dryRun: boolean): Answer => {
    const { def, version } = route;
    const name = route.name ?? "";
    const old = load(def, route.namespace ?? "", name);
    if (!old) throw notFound(def, name);
    const metadata = metadataOf(old);
    const preconditions = asObject(asObject(body)?.preconditions);
    for (const key of ["resourceVersion", "uid"] as const) {
      const expected = asString(preconditions?.[key]);
      if (expected !== undefined && expected !== metadata[key]) {
        const label = key === "uid" ? "UID" : "ResourceVersion";
        const message = `Operation cannot be fulfilled on ${def.group ? `${def.resource}.${def.group}` : def.resource} "${name}": Precondition failed: ${label} in precondition: ${expected}, ${label} in object meta: ${String(metadata[key])}`;
        throw new ApiError(
          failure(409, "Conflict", message, { name, group: def.group || undefined, kind: def.resource }),
        );
      }
    }
    if (!dryRun) {
      removeObject(def, route.namespace ?? "", name);
      nextResourceVersion();
    }
    if (def.returnDeletedObject) return { code: 200, body: present(def, version, old) };
    const details: JsonObject = { name };
    if (def.group) details.group = def.group;
    details.kind = def.resource;
    details.uid = metadata.uid;
    return { code: 200, body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details } };
  };

  const selectObjects = (def: ResourceDef, namespace: string | undefined, query: URLSearchParams): JsonObject[] => {
    const labels = parseLabelSelector(query.get("labelSelector") ?? "");
    const fields: FieldRequirement[] = parseFieldSelector(query.get("fieldSelector") ?? "");
    const known = new Set(["metadata.name", "metadata.namespace", ...Object.keys(def.fieldLabels({}))]);
    for (const requirement of fields) {
      if (known.has(requirement.field)) continue;
      throw badRequest(
        def.custom
          ? `"${requirement.field}" is not a known field selector: only "metadata.name", "metadata.namespace"`
          : `field label not supported: ${requirement.field}`,
      );
    }
    const entries = [...bucket(def).entries()]
      .filter(([key]) => namespace === undefined || key.startsWith(`${namespace}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const out: JsonObject[] = [];
    for (const [, stored] of entries) {
      // Read-only: callers serialise these or clone them before handing them out.
      const obj = def.toExternal(stored);
      const metadata = asObject(obj.metadata) ?? {};
      const labelMap: Record<string, string> = {};
      for (const [key, value] of Object.entries(asObject(metadata.labels) ?? {})) {
        if (typeof value === "string") labelMap[key] = value;
      }
      if (!matchesLabelRequirements(labels, labelMap)) continue;
      const fieldValues = {
        "metadata.name": asString(metadata.name),
        "metadata.namespace": asString(metadata.namespace),
        ...def.fieldLabels(obj),
      };
      if (!matchesFieldRequirements(fields, fieldValues)) continue;
      out.push(obj);
    }
    return out;
  };

  const list = (route: ResourceRoute, query: URLSearchParams): Answer => {
    const { def, version } = route;
    let items = selectObjects(def, route.namespace, query);
    const listMeta: JsonObject = { resourceVersion: String(counter) };
    const token = query.get("continue");
    if (token) {
      let after: string | undefined;
      try {
        after = asString(asObject(JSON.parse(Buffer.from(token, "base64url").toString("utf8")))?.after);
      } catch {
        after = undefined;
      }
      if (after === undefined) throw badRequest("continue key is not valid: incorrect encoded start resourceVersion");
      items = items.filter((item) => {
        const metadata = metadataOf(item);
        return objectKey(asString(metadata.namespace) ?? "", asString(metadata.name) ?? "") > after;
      });
    }
    const limit = Number(query.get("limit") ?? "0");
    if (Number.isInteger(limit) && limit > 0 && items.length > limit) {
      const last = metadataOf(items[limit - 1] ?? {});
      const after = objectKey(asString(last.namespace) ?? "", asString(last.name) ?? "");
      listMeta.continue = Buffer.from(JSON.stringify({ after })).toString("base64url");
      listMeta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    return {
      code: 200,
      body: {
        kind: `${def.kind}List`,
        apiVersion: groupVersion(def.group, version),
        metadata: listMeta,
        items: items.map((item) => (def.custom ? present(def, version, item) : item)),
      },
    };
  };

  const deleteCollection = (route: ResourceRoute, query: URLSearchParams, dryRun: boolean): Answer => {
    const { def, version } = route;
    const items = selectObjects(def, route.namespace, query);
    if (!dryRun) {
      for (const item of items) {
        const metadata = metadataOf(item);
        removeObject(def, asString(metadata.namespace) ?? "", asString(metadata.name) ?? "");
        nextResourceVersion();
      }
    }
    return {
      code: 200,
      body: {
        kind: `${def.kind}List`,
        apiVersion: groupVersion(def.group, version),
        metadata: { resourceVersion: String(counter) },
        items: items.map((item) => present(def, version, item)),
      },
    };
  };

  // ---------------------------------------------------------------------------------------------------------------
  // discovery

  const servedVersions = (group: string): string[] => {
    const versions: string[] = [];
    for (const def of RESOURCES) {
      if (def.group !== group) continue;
      for (const version of def.versions) {
        if (!versions.includes(version) && served(group, version)) versions.push(version);
      }
    }
    return versions;
  };

  const apiGroup = (group: string): JsonObject => {
    const versions = servedVersions(group).map((version) => ({ groupVersion: `${group}/${version}`, version }));
    return { name: group, versions, preferredVersion: versions[0] };
  };

  const resourceList = (group: string, version: string): JsonObject => {
    const resources: JsonObject[] = [];
    for (const def of RESOURCES) {
      if (def.group !== group || !def.versions.includes(version)) continue;
      const entry: JsonObject = {
        name: def.resource,
        singularName: def.singular,
        namespaced: def.namespaced,
        kind: def.kind,
        verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update"],
      };
      if (def.shortNames.length > 0) entry.shortNames = [...def.shortNames];
      resources.push(entry);
      if (def.statusSubresource) {
        resources.push({
          name: `${def.resource}/status`,
          singularName: "",
          namespaced: def.namespaced,
          kind: def.kind,
          verbs: ["get", "patch", "update"],
        });
      }
    }
    return { kind: "APIResourceList", apiVersion: "v1", groupVersion: groupVersion(group, version), resources };
  };

  // ---------------------------------------------------------------------------------------------------------------
  // routing

  type Route = { type: "answer"; answer: Answer } | { type: "resource"; route: ResourceRoute };

  const route = (pathname: string): Route => {
    const segments = pathname
      .split("/")
      .filter((segment) => segment !== "")
      .map((segment) => decodeURIComponent(segment));
    const answer = (body: unknown): Route => ({ type: "answer", answer: { code: 200, body } });
    const [first, second, third] = segments;
    if (first === "version" && segments.length === 1) {
      return answer({ major: "1", minor: "31", gitVersion: "v1.31.0-greenlight-fake", platform: "linux/amd64" });
    }
    let group: string;
    let version: string | undefined;
    let rest: string[];
    if (first === "api") {
      if (segments.length === 1) {
        return answer({
          kind: "APIVersions",
          versions: ["v1"],
          serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: address }],
        });
      }
      group = "";
      version = second;
      rest = segments.slice(2);
    } else if (first === "apis") {
      if (segments.length === 1) {
        const groups = [...new Set(RESOURCES.map((def) => def.group))].filter(
          (g) => g !== "" && servedVersions(g).length > 0,
        );
        return answer({ kind: "APIGroupList", apiVersion: "v1", groups: groups.map(apiGroup) });
      }
      group = second ?? "";
      if (segments.length === 2) {
        if (servedVersions(group).length === 0) throw pathNotFound();
        return answer({ kind: "APIGroup", apiVersion: "v1", ...apiGroup(group) });
      }
      version = third;
      rest = segments.slice(3);
    } else {
      throw pathNotFound();
    }
    if (version === undefined || !served(group, version)) throw pathNotFound();
    if (rest.length === 0) return answer(resourceList(group, version));
    const lookup = (resource: string | undefined): ResourceDef | undefined => {
      const def = resource === undefined ? undefined : findByResource(group, resource);
      return def?.versions.includes(version) ? def : undefined;
    };
    let resourceRoute: ResourceRoute | undefined;
    const nested = rest[0] === "namespaces" && rest.length >= 3 ? lookup(rest[2]) : undefined;
    if (nested?.namespaced && rest.length <= 5) {
      resourceRoute = { def: nested, version, namespace: rest[1], name: rest[3], subresource: rest[4] };
    } else {
      const def = lookup(rest[0]);
      if (def?.namespaced && rest.length === 1) {
        resourceRoute = { def, version, namespace: undefined, name: undefined, subresource: undefined };
      } else if (def && !def.namespaced && rest.length <= 3) {
        resourceRoute = { def, version, namespace: undefined, name: rest[1], subresource: rest[2] };
      }
    }
    if (!resourceRoute) throw pathNotFound();
    if (resourceRoute.subresource !== undefined) {
      if (resourceRoute.subresource !== "status" || !resourceRoute.def.statusSubresource) throw pathNotFound();
    }
    return { type: "resource", route: resourceRoute };
  };

  const verbOf = (method: string, r: ResourceRoute, query: URLSearchParams): Verb | undefined => {
    const named = r.name !== undefined;
    switch (method) {
      case "GET":
        if (named) return "get";
        return query.get("watch") === "true" || query.get("watch") === "1" ? "watch" : "list";
      case "POST":
        return named ? undefined : "create";
      case "PUT":
        return named ? "update" : undefined;
      case "PATCH":
        return named ? "patch" : undefined;
      case "DELETE":
        return named ? "delete" : r.subresource === undefined ? "deletecollection" : undefined;
      default:
        return undefined;
    }
  };

  const execute = (
    verb: Verb,
    r: ResourceRoute,
    query: URLSearchParams,
    text: string,
    contentType: string | undefined,
  ): Answer => {
    if (r.subresource !== undefined && !["get", "update", "patch"].includes(verb)) throw methodNotAllowed();
    const dryRun = dryRunOf(query);
    const bodyOf = (): unknown => {
      if (text.trim() === "") return undefined;
      const parsed = parseJson(text);
      if (!parsed.ok) throw badRequest(`couldn't get version/kind; json parse error: ${parsed.error}`);
      return parsed.value;
    };
    const checkJsonBody = (): void => {
      const mediaType = (contentType ?? "application/json").split(";")[0]?.trim().toLowerCase();
      if (mediaType !== "application/json") throw unsupportedMediaType(["application/json"]);
    };
    switch (verb) {
      case "get": {
        const obj = load(r.def, r.namespace ?? "", r.name ?? "");
        if (!obj) throw notFound(r.def, r.name ?? "");
        return { code: 200, body: present(r.def, r.version, obj) };
      }
      case "list":
        return list(r, query);
      case "watch":
        throw new ApiError(failure(405, "MethodNotAllowed", "watch is not supported by the fake API server"));
      case "create":
        checkJsonBody();
        if (r.namespace === undefined && r.def.namespaced) throw methodNotAllowed();
        return create(r, bodyOf(), dryRun);
      case "update":
        checkJsonBody();
        return update(r, bodyOf(), dryRun);
      case "patch":
        return patch(r, text, contentType, dryRun);
      case "delete":
        return deleteOne(r, bodyOf(), dryRun);
      case "deletecollection":
        if (r.namespace === undefined && r.def.namespaced) throw methodNotAllowed();
        return deleteCollection(r, query, dryRun);
      default:
        throw methodNotAllowed();
    }
  };

  // ---------------------------------------------------------------------------------------------------------------
  // HTTP

  const send = (res: ServerResponse, call: RecordedCall, answer: Answer): void => {
    const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
    const type = typeof answer.body === "string" ? "text/plain; charset=utf-8" : "application/json";
    call.status = answer.code;
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(answer.code, { "content-type": type, "content-length": Buffer.byteLength(text), ...answer.headers });
    res.end(text);
  };

  const errorAnswer = (error: unknown): Answer => {
    if (error instanceof ApiError) return { code: error.code, body: error.status, headers: error.headers };
    const message = error instanceof Error ? error.message : String(error);
    return { code: 500, body: failure(500, "InternalError", `Internal error occurred: ${message}`) };
  };

  const takeRule = (call: RecordedCall): FailureRule | undefined => {
    const index = rules.findIndex((rule) => matches(rule.match, call));
    if (index < 0) return undefined;
    const rule = rules[index];
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) rules.splice(index, 1);
    return rule;
  };

  const fail = (res: ServerResponse, call: RecordedCall, rule: FailureRule, ctx: ResourceRoute | undefined): void => {
    call.injected = true;
    if (rule.failure === "reset") {
      res.socket?.destroy();
      return;
    }
    if (rule.failure === "timeout") {
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      if (rule.hangMs !== undefined) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          res.socket?.destroy();
        }, rule.hangMs);
        timers.add(timer);
      }
      return;
    }
    if (rule.body !== undefined) {
      send(res, call, { code: rule.failure, body: rule.body });
      return;
    }
    const error = injectedFailure(rule.failure, {
      gr: ctx?.def,
      name: ctx?.name,
      namespace: ctx?.namespace,
      verb: call.verb,
    });
    send(res, call, { code: error.code, body: error.status, headers: error.headers });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = await readBody(req);
    const url = new URL(req.url ?? "/", "http://fake");
    const contentTypes: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]?.toLowerCase() === "content-type") contentTypes.push(req.rawHeaders[i + 1] ?? "");
    }
    const call: RecordedCall = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: contentTypes[0],
      contentTypes,
      status: 0,
      verb: "other",
    };
    if (text !== "") {
      const parsed = parseJson(text);
      call.body = parsed.ok ? parsed.value : text;
    }
    calls.push(call);
    if (latencyMs > 0) await sleep(latencyMs);
    const extra = extraRoutes.find((candidate) => candidate.claims(call));
    let routed: Route | undefined;
    let routeError: unknown;
    try {
      if (!extra) routed = route(url.pathname);
    } catch (error) {
      routeError = error;
    }
    const resourceRoute = routed?.type === "resource" ? routed.route : undefined;
    if (resourceRoute) {
      const { def, version, namespace, name, subresource } = resourceRoute;
      Object.assign(call, { group: def.group, version, resource: def.resource });
      if (namespace !== undefined) call.namespace = namespace;
      if (name !== undefined) call.name = name;
      if (subresource !== undefined) call.subresource = subresource;
      call.verb = verbOf(call.method, resourceRoute, url.searchParams) ?? "other";
    } else if (!extra) {
      call.verb = url.pathname.startsWith("/api") ? "discovery" : "other";
    }
    const rule = takeRule(call);
    if (rule && !rule.afterApply) return fail(res, call, rule, resourceRoute);
    let answer: Answer;
    try {
      if (req.headers.authorization !== `Bearer ${token}`) {
        throw new ApiError(failure(401, "Unauthorized", "Unauthorized"));
      }
      if (extra) {
        answer = await extra.answer(call);
      } else if (!routed) {
        throw routeError;
      } else if (routed.type === "answer") {
        if (call.method !== "GET") throw methodNotAllowed();
        answer = routed.answer;
      } else {
        const verb = verbOf(call.method, routed.route, url.searchParams);
        if (!verb) throw methodNotAllowed();
        answer = execute(verb, routed.route, url.searchParams, text, req.headers["content-type"]);
      }
    } catch (error) {
      answer = errorAnswer(error);
    }
    if (rule) return fail(res, call, rule, resourceRoute);
    send(res, call, answer);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(error));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const address = `127.0.0.1:${port}`;
  const url = `http://${address}`;

  // ---------------------------------------------------------------------------------------------------------------
  // direct access for tests

  const defFor = (apiVersion: string, kind: string): { def: ResourceDef; version: string } => {
    const { group, version } = splitApiVersion(apiVersion);
    const def = findByKind(group, version, kind);
    if (!def) throw new Error(`the fake API server does not serve ${kind} in ${apiVersion}`);
    return { def, version };
  };

  const namespaceFor = (def: ResourceDef, namespace: string | undefined): string =>
    def.namespaced ? namespace || "default" : "";

  const put = (input: object): JsonObject => {
    const source = clone(input) as JsonObject;
    const apiVersion = asString(source.apiVersion);
    const kind = asString(source.kind);
    if (!apiVersion || !kind) throw new Error("put: the object needs apiVersion and kind");
    const { def, version } = defFor(apiVersion, kind);
    const { apiVersion: _a, kind: _k, ...rest } = pruneNulls(source) as JsonObject;
    const obj: JsonObject = rest;
    const metadata = metadataOf(obj);
    const name = asString(metadata.name);
    if (!name) throw new Error("put: the object needs metadata.name");
    const namespace = namespaceFor(def, asString(metadata.namespace));
    if (def.namespaced) metadata.namespace = namespace;
    else delete metadata.namespace;
    const old = load(def, namespace, name);
    metadata.uid = asString(asObject(old?.metadata)?.uid) ?? asString(metadata.uid) ?? randomUUID();
    metadata.creationTimestamp =
      asString(asObject(old?.metadata)?.creationTimestamp) ?? asString(metadata.creationTimestamp) ?? timestamp(now());
    delete metadata.resourceVersion;
    def.defaults(obj, { old, allocateClusterIP });
    if (def.generation === "none") delete metadata.generation;
    else if (old) {
      const before = asObject(old.metadata)?.generation;
      const base = typeof before === "number" ? before : 1;
      metadata.generation = generationChanged(def, old, obj) ? base + 1 : base;
    } else if (typeof metadata.generation !== "number") metadata.generation = 1;
    try {
      validate(def, version, obj, undefined, "create");
    } catch (error) {
      if (error instanceof ApiError) throw new Error(`put: ${error.status.message ?? error.message}`);
      throw error;
    }
    metadata.resourceVersion = nextResourceVersion();
    save(def, obj);
    return present(def, version, obj);
  };

  const get = (apiVersion: string, kind: string, namespace: string | undefined, name: string) => {
    const { def, version } = defFor(apiVersion, kind);
    const obj = load(def, namespaceFor(def, namespace), name);
    return obj ? present(def, version, obj) : undefined;
  };

  const listObjects = (apiVersion: string, kind: string, namespace?: string, labelSelector?: string): JsonObject[] => {
    const { def, version } = defFor(apiVersion, kind);
    const query = new URLSearchParams(labelSelector ? { labelSelector } : {});
    return selectObjects(def, def.namespaced ? namespace : undefined, query).map((obj) =>
      clone(present(def, version, obj)),
    );
  };

  const remove = (apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean => {
    const { def } = defFor(apiVersion, kind);
    const ns = namespaceFor(def, namespace);
    if (!load(def, ns, name)) return false;
    removeObject(def, ns, name);
    nextResourceVersion();
    return true;
  };

  const dropPending = (): void => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    for (const res of hanging) res.socket?.destroy();
    hanging.clear();
  };

  return {
    url,
    token,
    calls,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
        users: [{ name: "fake-user", token }],
        contexts: [{ name: "fake", cluster: "fake", user: "fake-user", namespace: "default" }],
        currentContext: "fake",
      });
      return kc;
    },
    put,
    get,
    list: listObjects,
    remove,
    failNext(match, injected, body, failOptions = {}) {
      rules.push({
        match,
        failure: injected,
        body,
        remaining: failOptions.times ?? 1,
        afterApply: failOptions.afterApply ?? false,
        hangMs: failOptions.hangMs,
      });
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setServed(gv, isServed) {
      if (isServed) unserved.delete(gv);
      else unserved.add(gv);
    },
    resourceVersion: () => String(counter),
    reset() {
      storage.clear();
      calls.length = 0;
      rules.length = 0;
      counter = 0;
      clusterIPs = 0;
      dropPending();
      restoreOptions();
      for (const extraRoute of extraRoutes) extraRoute.reset?.();
    },
    addRoute(extraRoute) {
      extraRoutes.push(extraRoute);
    },
    async close() {
      dropPending();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
