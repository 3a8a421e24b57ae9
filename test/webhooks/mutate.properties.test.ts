// Properties of the mutating webhook over generated Deployments: idempotent, never touches the selector or existing
// probes, writes only valid label values, keeps valid Deployments valid, and always answers a well-formed review.
import type { Server } from "node:http";
import fc from "fast-check";
import jsonPatch from "fast-json-patch";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reviewOf } from "../../scripts/fakes/admission-review.ts";
import type { AdmissionReview, AdmissionReviewResponse } from "../../webhooks/admission/review.ts";
import { createWebhookApp } from "../../webhooks/http/express.ts";
import { injectDeployment } from "../../webhooks/mutate/inject.ts";
import { mutateReview, planInjection } from "../../webhooks/mutate/mutate.ts";
import {
  applyOps,
  at,
  isJsonObject,
  isValidDeployment,
  type Json,
  type JsonObject,
  LABEL_VALUE,
  patchOf,
  validateDeployment,
} from "./support.ts";

const RUNS = 500;
const P = "greenlight.dev/";
type Scope = "annotation" | "namespace";

// ---- arbitraries -----------------------------------------------------------------------------------------------

const dnsLabel = fc.stringMatching(/^[a-z]([-a-z0-9]{0,13}[a-z0-9])?$/);
const dnsSubdomain = fc
  .array(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/), { minLength: 2, maxLength: 12 })
  .map((parts) => parts.join("."))
  .filter((name) => name.length <= 253);
const objectName = fc.oneof({ arbitrary: dnsLabel, weight: 3 }, { arbitrary: dnsSubdomain, weight: 1 });

const labelValue = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
const labelValueOrEmpty = fc.oneof({ arbitrary: labelValue, weight: 9 }, { arbitrary: fc.constant(""), weight: 1 });
const invalidLabelValue = fc.constantFrom("has space", "-dash", "dot.", "x".repeat(64), "", "ünï", "a/b");

const labelKey = fc.oneof(
  fc.constantFrom("app", "version", "app.kubernetes.io/name", "app.kubernetes.io/version", "team", "tier"),
  fc
    .tuple(
      fc.option(fc.constantFrom("example.com", "acme.io", "k8s.acme.dev"), { nil: undefined }),
      fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?$/),
    )
    .map(([prefix, name]) => (prefix ? `${prefix}/${name}` : name)),
);
const labelMap = (minKeys: number) => fc.dictionary(labelKey, labelValueOrEmpty, { minKeys, maxKeys: 5 });

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });
const dockerTag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/);
const weirdTag = fc.string({
  unit: fc.constantFrom("a", "Z", "9", "_", ".", "-", "+", "~", "!", "é", "*", "%", "#"),
  minLength: 1,
  maxLength: 90,
});
const tag = fc.oneof(
  dockerTag,
  weirdTag,
  fc.constantFrom("v1", "1.0.0", "latest", "___", "..--", "x".repeat(128), `-${"a".repeat(62)}-b`, "2024.11.3-rc.1"),
);
const digest = fc.oneof(
  hex(64).map((h) => `sha256:${h}`),
  hex(128).map((h) => `sha512:${h}`),
  fc.constantFrom("sha256:NOTHEX", "sha256:ABCDEF0123456789ABCDEF"),
);
const image = fc
  .tuple(
    fc.option(fc.constantFrom("docker.io", "ghcr.io", "localhost:5000", "registry.example.com:8443", "10.1.2.3:5000"), {
      nil: undefined,
    }),
    fc.array(fc.stringMatching(/^[a-z0-9]+([._-][a-z0-9]+)*$/), { minLength: 1, maxLength: 3 }),
    fc.oneof(
      fc.constant(""),
      tag.map((t) => `:${t}`),
      digest.map((d) => `@${d}`),
      fc.tuple(tag, digest).map(([t, d]) => `:${t}@${d}`),
    ),
  )
  .map(([registry, path, ref]) => `${registry ? `${registry}/` : ""}${path.join("/")}${ref}`);

const portName = fc.oneof(
  fc.constantFrom("http", "metrics", "grpc", "admin"),
  fc.stringMatching(/^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$/).filter((name) => !name.includes("--")),
);
const port = fc.record(
  { containerPort: fc.integer({ min: 1, max: 65535 }), name: portName, protocol: fc.constant("TCP") },
  { requiredKeys: ["containerPort", "protocol"] },
);
const ports = fc.uniqueArray(port, { minLength: 0, maxLength: 3, selector: (p) => p.name ?? `#${p.containerPort}` });

const probe = fc.oneof(
  fc.record({
    httpGet: fc.record({
      path: fc.constantFrom("/", "/healthz", "/q/health/live"),
      port: fc.oneof(fc.integer({ min: 1, max: 65535 }), portName),
    }),
    periodSeconds: fc.integer({ min: 1, max: 60 }),
  }),
  fc.record({ tcpSocket: fc.record({ port: fc.integer({ min: 1, max: 65535 }) }), failureThreshold: fc.constant(5) }),
  fc.record({ exec: fc.record({ command: fc.constant(["/bin/true"]) }) }),
);

const container = fc.record(
  { name: dnsLabel, image, ports, livenessProbe: probe, readinessProbe: probe },
  { requiredKeys: ["name", "image"] },
);
const containers = fc.uniqueArray(container, { minLength: 1, maxLength: 4, selector: (c) => c.name });

const PORT_ANNOTATIONS = ["8080", "1", "65535", "0", "65536", "HTTP", "a--b", "way-too-long-port-name", "-http"];
const PATH_ANNOTATIONS = ["/livez", "/health/live", "/", "livez", "/with space", ""];
/** Present about a quarter of the time, so most Deployments carry a few greenlight annotations, not all of them. */
const sometimes = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
const greenlightAnnotations = fc.record({
  inject: fc.oneof(
    { arbitrary: fc.constant("true"), weight: 8 },
    { arbitrary: fc.constantFrom("false", "yes", "True", ""), weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  ),
  app: sometimes(fc.oneof(labelValue, invalidLabelValue)),
  version: sometimes(fc.oneof(labelValue, invalidLabelValue)),
  "probe-port": sometimes(
    fc.oneof(portName, fc.constantFrom(...PORT_ANNOTATIONS), fc.integer({ min: 1, max: 65535 }).map(String)),
  ),
  "liveness-path": sometimes(fc.constantFrom(...PATH_ANNOTATIONS)),
  "readiness-path": sometimes(fc.constantFrom(...PATH_ANNOTATIONS)),
  strategy: sometimes(fc.constantFrom("canary", "blue-green", "rolling", "linear")),
  steps: sometimes(fc.constantFrom("5,10,20,50,100", "10,5")),
  interval: sometimes(fc.constantFrom("5m", "0s", "5")),
  injected: sometimes(
    fc.oneof(
      fc.constant("none"),
      fc.tuple(labelValue, labelValue).map(([app, version]) => `app=${app},version=${version}`),
      fc.string({ maxLength: 20 }),
    ),
  ),
  stategy: sometimes(fc.constant("canary")),
});

/** Random labels (never empty), often with app and version among them: the labels greenlight cares about. */
const labels = () =>
  fc
    .tuple(
      labelMap(0),
      fc.record({ app: sometimes(labelValueOrEmpty), version: sometimes(labelValueOrEmpty) }),
      fc.record({ "app.kubernetes.io/name": sometimes(labelValue), team: labelValue }),
    )
    .map(([random, ours, other]) => {
      const merged: Record<string, string> = { ...random };
      for (const [key, value] of Object.entries({ ...ours, ...other })) if (value !== undefined) merged[key] = value;
      return merged;
    });

interface Generated {
  review: AdmissionReview;
  scope: Scope;
}

const deployment = fc
  .record({
    name: objectName,
    namespace: dnsLabel,
    labels: fc.option(labels(), { nil: undefined }),
    templateLabels: labels(),
    greenlight: greenlightAnnotations,
    otherAnnotations: fc.dictionary(labelKey, fc.string({ maxLength: 30 }), { maxKeys: 2 }),
    containers,
    replicas: fc.integer({ min: 0, max: 10 }),
  })
  .chain((d) => {
    const keys = Object.keys(d.templateLabels);
    return fc.record({
      d: fc.constant(d),
      selectorKeys: fc.subarray(keys, { minLength: 1 }),
      expression: fc.option(fc.constantFrom(...keys), { nil: undefined }),
    });
  })
  .map(({ d, selectorKeys, expression }): JsonObject => {
    const annotations: Record<string, string> = { ...d.otherAnnotations };
    for (const [key, value] of Object.entries(d.greenlight)) if (value !== undefined) annotations[`${P}${key}`] = value;
    const matchLabels = Object.fromEntries(selectorKeys.map((key) => [key, d.templateLabels[key] ?? ""]));
    const selector: JsonObject = { matchLabels };
    if (expression !== undefined) selector.matchExpressions = [{ key: expression, operator: "Exists" }];
    const metadata: JsonObject = { name: d.name, namespace: d.namespace, annotations };
    if (d.labels) metadata.labels = d.labels;
    // A JSON round trip, so the object holds nothing the API server could not have sent.
    return JSON.parse(
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata,
        spec: {
          replicas: d.replicas,
          selector,
          template: { metadata: { labels: d.templateLabels }, spec: { containers: d.containers } },
        },
      }),
    ) as JsonObject;
  });

// On UPDATE the old object is the same Deployment as stored, as for a `kubectl apply` that changes nothing else.
const reviewFor = (object: Json, operation: "CREATE" | "UPDATE", uid: string): AdmissionReview =>
  reviewOf(object, { operation, uid, oldObject: operation === "UPDATE" ? structuredClone(object) : undefined });

const generated: fc.Arbitrary<Generated> = fc
  .record({
    object: deployment,
    operation: fc.constantFrom("CREATE" as const, "UPDATE" as const),
    uid: fc.uuid(),
    scope: fc.constantFrom("annotation" as const, "namespace" as const),
  })
  .map(({ object, operation, uid, scope }) => ({ review: reviewFor(object, operation, uid), scope }));

// ---- independent oracles for what the contract says greenlight chooses ------------------------------------------

const annotationsOf = (object: unknown): Record<string, string> =>
  (at(object, "metadata", "annotations") as Record<string, string> | undefined) ?? {};

function optedIn(object: unknown, scope: Scope): boolean {
  const inject = annotationsOf(object)[`${P}inject`];
  return scope === "namespace" ? inject !== "false" : inject === "true";
}

const isLabelValue = (value: string | undefined): value is string =>
  value !== undefined && value !== "" && LABEL_VALUE.test(value);

/** Trims arbitrary text to label syntax: bad characters to "-", 63 characters, alphanumeric ends. */
const toLabel = (text: string): string =>
  text
    .replace(/[^-A-Za-z0-9_.]/g, "-")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");

function expectedApp(object: unknown): string {
  const annotated = annotationsOf(object)[`${P}app`];
  if (isLabelValue(annotated)) return annotated;
  const sources = [at(object, "metadata", "labels"), at(object, "spec", "template", "metadata", "labels")] as (
    | Record<string, string>
    | undefined
  )[];
  for (const key of ["app.kubernetes.io/name", "app"]) {
    for (const labels of sources) if (isLabelValue(labels?.[key])) return labels?.[key] as string;
  }
  return toLabel(at(object, "metadata", "name") as string);
}

function expectedVersion(object: unknown): string {
  const annotated = annotationsOf(object)[`${P}version`];
  if (isLabelValue(annotated)) return annotated;
  const first = at(object, "spec", "template", "spec", "containers", 0, "image") as string;
  const [name = "", digestPart] = first.split("@");
  const afterSlash = name.slice(name.lastIndexOf("/") + 1);
  const colon = afterSlash.indexOf(":");
  const tagPart = colon >= 0 ? afterSlash.slice(colon + 1) : "";
  if (tagPart !== "" && toLabel(tagPart)) return toLabel(tagPart);
  const hexDigits = digestPart?.split(":")[1]?.toLowerCase();
  if (hexDigits && /^[0-9a-f]{12,}$/.test(hexDigits)) return `sha-${hexDigits.slice(0, 12)}`;
  return "latest";
}

function expectedProbePort(object: unknown, c: JsonObject): number | string | undefined {
  const raw = annotationsOf(object)[`${P}probe-port`];
  const declared = (c.ports as { containerPort: number; name?: string }[] | undefined) ?? [];
  if (raw !== undefined && /^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 65535) return Number(raw);
  if (raw !== undefined && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(raw) && raw.length <= 15 && /[a-z]/.test(raw)) {
    if (!raw.includes("--")) return declared.some((p) => p.name === raw) ? raw : undefined;
  }
  return declared[0]?.containerPort;
}

const validPath = (raw: string | undefined, fallback: string): string =>
  raw?.startsWith("/") && !/\s/.test(raw) ? raw : fallback;

// ---- helpers -----------------------------------------------------------------------------------------------------

const containersOf = (object: unknown): JsonObject[] =>
  (at(object, "spec", "template", "spec", "containers") as JsonObject[] | undefined) ?? [];

function mutate(g: Generated) {
  const response = mutateReview(g.review, { scope: g.scope }).response;
  const ops = patchOf(response);
  const patched = applyOps(g.review.request.object, ops);
  return { response, ops, patched };
}

// ---- properties on the decision ---------------------------------------------------------------------------------

describe("mutateReview properties", () => {
  it("builds the patch fast-json-patch's compare() of the injected copy would, operation for operation", () => {
    fc.assert(
      fc.property(generated, (g) => {
        const { object, oldObject } = g.review.request;
        let injection: ReturnType<typeof injectDeployment>;
        try {
          injection = injectDeployment(object, g.scope, oldObject);
        } catch {
          return;
        }
        const expected = injection.injected ? jsonPatch.compare(object as object, injection.object) : [];
        expect(JSON.stringify(planInjection(object, g.scope, oldObject).patch)).toBe(JSON.stringify(expected));
      }),
      { numRuns: RUNS },
    );
  });

  it("lists compare()'s operations too where maps and lists are absent or null (the draft creates them)", () => {
    // Each place the mutation opens (a map or a list) made absent or null, or left; probes null as well.
    const places = [
      ["metadata", "labels"],
      ["metadata", "annotations"],
      ["spec", "template", "metadata"],
      ["spec", "template", "metadata", "labels"],
      ["spec", "template", "spec"],
      ["spec", "template", "spec", "containers"],
      ["spec", "template"],
      ["spec"],
    ] as const;
    const sparse = fc.record({
      g: generated,
      holes: fc.array(fc.tuple(fc.constantFrom(...places), fc.constantFrom("absent", "null")), { maxLength: 3 }),
      nullProbes: fc.boolean(),
    });
    fc.assert(
      fc.property(sparse, ({ g, holes, nullProbes }) => {
        const object = structuredClone(g.review.request.object) as JsonObject;
        for (const [place, hole] of holes) {
          const parent = at(object, ...place.slice(0, -1)) as JsonObject | undefined;
          const key = place[place.length - 1] as string;
          if (!isJsonObject(parent)) continue;
          if (hole === "null") parent[key] = null;
          else delete parent[key];
        }
        if (nullProbes) {
          for (const container of containersOf(object)) if (isJsonObject(container)) container.livenessProbe = null;
        }
        let injection: ReturnType<typeof injectDeployment>;
        try {
          injection = injectDeployment(object, g.scope);
        } catch {
          return;
        }
        const expected = injection.injected ? jsonPatch.compare(object, injection.object) : [];
        const patch = planInjection(object, g.scope).patch;
        expect(JSON.stringify(patch)).toBe(JSON.stringify(expected));
        expect(applyOps(object, patch)).toEqual(injection.object);
      }),
      { numRuns: RUNS },
    );
  });

  it("never changes the review it was given (the patch is a diff of copies)", () => {
    fc.assert(
      fc.property(generated, (g) => {
        const before = JSON.stringify(g.review);
        mutateReview(g.review, { scope: g.scope });
        expect(JSON.stringify(g.review)).toBe(before);
      }),
      { numRuns: RUNS },
    );
  });

  it("is idempotent: the patched object reviewed again yields no patch and the same warnings", () => {
    fc.assert(
      fc.property(generated, (g) => {
        const first = mutate(g);
        const again = structuredClone(g);
        again.review.request.object = first.patched;
        const second = mutateReview(again.review, { scope: g.scope }).response;
        expect(second.patch).toBeUndefined();
        expect(second.warnings).toEqual(first.response.warnings);
      }),
      { numRuns: RUNS },
    );
  });

  it("never touches the selector, existing probes or anything in a container but missing probes", () => {
    fc.assert(
      fc.property(generated, (g) => {
        const input = g.review.request.object;
        const { patched, ops } = mutate(g);
        expect(at(patched, "spec", "selector")).toEqual(at(input, "spec", "selector"));
        expect(ops.some((op) => op.path.startsWith("/spec/selector"))).toBe(false);
        const before = containersOf(input);
        const after = containersOf(patched);
        expect(after).toHaveLength(before.length);
        before.forEach((original, index) => {
          const now = after[index] ?? {};
          for (const field of ["livenessProbe", "readinessProbe"]) {
            if (original[field] !== undefined) expect(now[field]).toEqual(original[field]);
          }
          const { livenessProbe: _l, readinessProbe: _r, ...rest } = now;
          const { livenessProbe: _ol, readinessProbe: _or, ...originalRest } = original;
          expect(rest).toEqual(originalRest);
        });
        for (const op of ops) expect(op.op === "add" || op.op === "replace").toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it("writes only the app and version labels, with valid label values, and never removes a label", () => {
    fc.assert(
      fc.property(generated, (g) => {
        const input = g.review.request.object;
        const { patched } = mutate(g);
        for (const path of [
          ["metadata", "labels"],
          ["spec", "template", "metadata", "labels"],
        ]) {
          const was = (at(input, ...path) as Record<string, string> | undefined) ?? {};
          const now = (at(patched, ...path) as Record<string, string> | undefined) ?? {};
          for (const key of Object.keys(was)) expect(now).toHaveProperty([key]);
          for (const [key, value] of Object.entries(now)) {
            if (was[key] === value) continue;
            expect(["app", "version"]).toContain(key);
            expect(value).toMatch(LABEL_VALUE);
            expect(value).not.toBe("");
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("chooses app and version as the contract says, and records the labels it owns in the marker", () => {
    fc.assert(
      fc.property(generated, (g) => {
        const input = g.review.request.object;
        const { patched, ops, response } = mutate(g);
        if (!optedIn(input, g.scope)) {
          expect(ops).toEqual([]);
          return;
        }
        const want = { app: expectedApp(input), version: expectedVersion(input) };
        const selector = (at(input, "spec", "selector", "matchLabels") as Record<string, string> | undefined) ?? {};
        const expressions = (at(input, "spec", "selector", "matchExpressions") as { key: string }[] | undefined) ?? [];
        for (const key of ["app", "version"] as const) {
          for (const path of [
            ["metadata", "labels"],
            ["spec", "template", "metadata", "labels"],
          ]) {
            const was = at(input, ...path, key) as string | undefined;
            const now = at(patched, ...path, key) as string | undefined;
            if (now !== was) expect(now).toBe(want[key]);
            const pinned =
              path[0] === "spec" &&
              ((selector[key] !== undefined && selector[key] !== want[key]) ||
                (selector[key] === undefined && expressions.some((e) => e.key === key)));
            if (was === undefined && !pinned) expect(now).toBe(want[key]);
            if (now !== want[key]) expect(response.warnings?.length ?? 0).toBeGreaterThan(0);
          }
        }
        const marker = at(patched, "metadata", "annotations", `${P}injected`) as string;
        expect(marker).toMatch(/^(none|app=[^,=]+(,version=[^,=]+)?|version=[^,=]+)$/);
        for (const pair of marker === "none" ? [] : marker.split(",")) {
          const [key = "", value] = pair.split("=");
          // The marker names a label greenlight holds in at least one of the two places.
          const held = [
            at(patched, "metadata", "labels", key),
            at(patched, "spec", "template", "metadata", "labels", key),
          ];
          expect(held).toContain(value);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("adds httpGet probes with the contract's port, paths and timings, or warns about the container", () => {
    fc.assert(
      fc.property(generated, (g) => {
        const input = g.review.request.object;
        const { patched, response } = mutate(g);
        if (!optedIn(input, g.scope)) return;
        const annotations = annotationsOf(input);
        const paths = {
          livenessProbe: validPath(annotations[`${P}liveness-path`], "/health"),
          readinessProbe: validPath(annotations[`${P}readiness-path`], "/ready"),
        };
        const timings = {
          livenessProbe: { initialDelaySeconds: 60, periodSeconds: 30, failureThreshold: 3 },
          readinessProbe: { initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 },
        };
        const after = containersOf(patched);
        containersOf(input).forEach((original, index) => {
          if (original.livenessProbe !== undefined && original.readinessProbe !== undefined) return;
          const wanted = expectedProbePort(input, original);
          const now = after[index] ?? {};
          if (wanted === undefined) {
            expect(now.livenessProbe).toEqual(original.livenessProbe);
            expect(now.readinessProbe).toEqual(original.readinessProbe);
            expect(response.warnings?.some((w) => w.startsWith(`container ${original.name as string} `))).toBe(true);
            return;
          }
          for (const field of ["livenessProbe", "readinessProbe"] as const) {
            if (original[field] !== undefined) continue;
            expect(now[field]).toEqual({ httpGet: { path: paths[field], port: wanted }, ...timings[field] });
          }
        });
      }),
      { numRuns: RUNS },
    );
  });

  it("keeps a Deployment valid for the OpenAPI schema when it was valid before", () => {
    let valid = 0;
    fc.assert(
      fc.property(generated, (g) => {
        const input = g.review.request.object;
        if (!isValidDeployment(input)) return;
        valid++;
        validateDeployment(mutate(g).patched);
      }),
      { numRuns: RUNS },
    );
    expect(valid).toBeGreaterThan(RUNS * 0.9);
  });

  it("moves the version label it owns along when an UPDATE bumps the image tag", () => {
    const simpleTag = fc.stringMatching(/^[a-z0-9]{1,10}$/);
    fc.assert(
      fc.property(generated, simpleTag, simpleTag, (g, from, to) => {
        fc.pre(from !== to);
        const object = structuredClone(g.review.request.object) as JsonObject;
        const annotations = annotationsOf(object);
        annotations[`${P}inject`] = "true";
        delete annotations[`${P}version`];
        delete annotations[`${P}injected`];
        for (const labels of [at(object, "metadata", "labels"), at(object, "spec", "template", "metadata", "labels")]) {
          if (isJsonObject(labels)) delete labels.version;
        }
        const selector = at(object, "spec", "selector") as JsonObject;
        if (isJsonObject(selector.matchLabels)) delete selector.matchLabels.version;
        if (Array.isArray(selector.matchExpressions)) {
          selector.matchExpressions = selector.matchExpressions.filter((e) => at(e, "key") !== "version");
        }
        const first = containersOf(object)[0] as JsonObject;
        first.image = `ghcr.io/acme/app:${from}`;
        const created = mutate({ review: reviewFor(object, "CREATE", g.review.request.uid), scope: "annotation" });
        expect(at(created.patched, "spec", "template", "metadata", "labels", "version")).toBe(from);

        const bumped = structuredClone(created.patched) as JsonObject;
        (containersOf(bumped)[0] as JsonObject).image = `ghcr.io/acme/app:${to}`;
        const update = reviewFor(bumped, "UPDATE", g.review.request.uid);
        update.request.oldObject = created.patched;
        const next = mutate({ review: update, scope: "annotation" });
        expect(at(next.patched, "metadata", "labels", "version")).toBe(to);
        expect(at(next.patched, "spec", "template", "metadata", "labels", "version")).toBe(to);
        expect(annotationsOf(next.patched)[`${P}injected`]).toContain(`version=${to}`);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- properties through the HTTP app --------------------------------------------------------------------------------

/** Replaces one value somewhere in the object by arbitrary JSON, to reach every shape error. */
function corrupt(object: JsonObject, choice: number, junk: Json): JsonObject {
  const copy = structuredClone(object);
  const slots: [JsonObject | Json[], string | number][] = [];
  const walk = (node: Json) => {
    if (Array.isArray(node)) {
      node.forEach((child, index) => {
        slots.push([node, index]);
        walk(child);
      });
    } else if (isJsonObject(node)) {
      for (const [key, child] of Object.entries(node)) {
        slots.push([node, key]);
        walk(child);
      }
    }
  };
  walk(copy);
  const slot = slots[choice % slots.length];
  if (slot) {
    const [parent, key] = slot;
    if (Array.isArray(parent)) parent[key as number] = junk;
    else parent[key as string] = junk;
  }
  return copy;
}

const anyRequest = fc.oneof(
  generated.map((g) => g.review),
  fc
    .tuple(generated, fc.nat(), fc.jsonValue({ maxDepth: 2 }))
    .map(([g, choice, junk]) =>
      reviewFor(corrupt(g.review.request.object as JsonObject, choice, junk as Json), "CREATE", g.review.request.uid),
    ),
  fc
    .record(
      {
        uid: fc.uuid(),
        kind: fc.record({
          group: fc.constantFrom("", "apps", "batch", "autoscaling"),
          version: fc.constantFrom("v1", "v1beta1"),
          kind: fc.constantFrom("Deployment", "Pod", "Scale", "Job"),
        }),
        operation: fc.constantFrom("CREATE" as const, "UPDATE" as const, "DELETE" as const, "CONNECT" as const),
        subResource: fc.option(fc.constantFrom("scale", "status"), { nil: undefined }),
        object: fc.jsonValue({ maxDepth: 3 }),
        oldObject: fc.jsonValue({ maxDepth: 2 }),
        dryRun: fc.boolean(),
      },
      { requiredKeys: ["uid", "kind", "operation"] },
    )
    .map((req): AdmissionReview => ({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: req })),
);

describe("webhook app properties", () => {
  const allow = createWebhookApp();
  const deny = createWebhookApp({ onError: "deny" });
  let servers: Server[] = [];
  beforeAll(() => {
    servers = [allow.listen(0), deny.listen(0)];
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it("answers every well-formed review with 200, the uid, and warnings of at most 120 characters", async () => {
    await fc.assert(
      fc.asyncProperty(
        anyRequest,
        fc.constantFrom("/mutate", "/mutate/namespace", "/validate"),
        fc.boolean(),
        async (review, path, strict) => {
          const server = servers[strict ? 1 : 0] as Server;
          const res = await request(server).post(path).send(review);
          expect(res.status).toBe(200);
          const body = res.body as AdmissionReviewResponse;
          expect(body.apiVersion).toBe("admission.k8s.io/v1");
          expect(body.kind).toBe("AdmissionReview");
          expect(body.response.uid).toBe(review.request.uid);
          for (const warning of body.response.warnings ?? []) expect(warning.length).toBeLessThanOrEqual(120);
          if (!strict && path !== "/validate") expect(body.response.allowed).toBe(true);
          if (!body.response.allowed) {
            expect(body.response.status?.code).toBe(422);
            expect(body.response.patch).toBeUndefined();
          }
          if (body.response.patch !== undefined) {
            applyOps(review.request.object, patchOf(body.response));
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
