// Renders the kustomizations under manifests/ into plain objects, for the tests that check them as data.
//
// The tests must run where kubectl is not installed (CI installs only what package.json names), so this renders the
// subset of kustomize that manifests/ uses, and refuses anything else by name:
// - `resources`: YAML files (every document) and directories holding a kustomization.yaml, in order;
// - `patches`, from `path` or inline `patch`, with an optional `target` (group, version, kind, name, namespace,
//   labelSelector of `key=value` terms): a YAML list is a JSON 6902 patch; a map is a strategic merge patch, where
//   `$patch: delete` at the top deletes every target, maps merge, `null` removes a key, lists of maps that all carry
//   `name` merge by name (an item with `$patch: delete` removes its namesake) and other lists are replaced.
// render.test.ts compares the result with `kubectl kustomize` wherever kubectl is installed.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import jsonPatch, { type Operation } from "fast-json-patch";
import { parse, parseAllDocuments } from "yaml";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const MANIFESTS = join(ROOT, "manifests");

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
}

interface PatchEntry {
  path?: string;
  patch?: string;
  target?: Target;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  patches?: PatchEntry[];
}

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "patches"]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isMap = (value: unknown): value is Record<string, Json> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `kind/namespace/name`, the identity kustomize keeps unique. */
export const idOf = (obj: KubeObject): string => `${obj.kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;

function groupVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function readObjects(file: string): KubeObject[] {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  return docs.flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return [];
    if (
      !isMap(value) ||
      typeof value.kind !== "string" ||
      typeof value.apiVersion !== "string" ||
      !isMap(value.metadata)
    )
      throw new Error(`${file}: a document without apiVersion, kind and metadata`);
    return [value as unknown as KubeObject];
  });
}

function matches(obj: KubeObject, target: Target): boolean {
  const { group, version } = groupVersion(obj.apiVersion);
  const anchored = (pattern: string, value: string | undefined) => new RegExp(`^(?:${pattern})$`).test(value ?? "");
  if (target.group !== undefined && target.group !== group) return false;
  if (target.version !== undefined && target.version !== version) return false;
  if (target.kind !== undefined && !anchored(target.kind, obj.kind)) return false;
  if (target.name !== undefined && !anchored(target.name, obj.metadata.name)) return false;
  if (target.namespace !== undefined && !anchored(target.namespace, obj.metadata.namespace)) return false;
  if (target.labelSelector !== undefined) {
    for (const term of target.labelSelector.split(",")) {
      const [key, value] = term.split("=").map((part) => part.trim());
      if (key === undefined || value === undefined || term.includes("!"))
        throw new Error(`labelSelector term "${term}" is not key=value (extend test/manifests/kustomize.ts)`);
      if (obj.metadata.labels?.[key] !== value) return false;
    }
  }
  return true;
}

/** A strategic merge patch, as far as manifests/ needs one (see the header). */
function strategicMerge(base: Json, patch: Json): Json {
  if (isMap(base) && isMap(patch)) {
    const merged: Record<string, Json> = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (key === "$patch") throw new Error(`$patch: ${String(value)} inside an object is not supported`);
      if (value === null) delete merged[key];
      else merged[key] = key in base ? strategicMerge(base[key] as Json, value) : withoutDirectives(value);
    }
    return merged;
  }
  if (Array.isArray(base) && Array.isArray(patch)) {
    const named = (list: Json[]) => list.every((item) => isMap(item) && typeof item.name === "string");
    if (!named(base) || !named(patch)) return withoutDirectives(patch);
    const merged = [...base] as Array<Record<string, Json>>;
    for (const item of patch as Array<Record<string, Json>>) {
      const at = merged.findIndex((existing) => existing.name === item.name);
      if (item.$patch === "delete") {
        if (at >= 0) merged.splice(at, 1);
        continue;
      }
      if (at >= 0) merged[at] = strategicMerge(merged[at] as Json, item) as Record<string, Json>;
      else merged.push(withoutDirectives(item) as Record<string, Json>);
    }
    return merged;
  }
  return withoutDirectives(patch);
}

function withoutDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(withoutDirectives);
  if (!isMap(value)) return value;
  if ("$patch" in value) throw new Error(`$patch in a new value is not supported: ${JSON.stringify(value)}`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutDirectives(v)]));
}

function applyPatch(objects: KubeObject[], entry: PatchEntry, dir: string): KubeObject[] {
  const text = entry.path ? readFileSync(join(dir, entry.path), "utf8") : entry.patch;
  if (text === undefined) throw new Error(`${dir}: a patch with neither path nor patch`);
  const where = entry.path ? join(dir, entry.path) : `${dir}: inline patch`;
  const body = parse(text) as Json;
  let target = entry.target;
  if (!target) {
    if (!isMap(body) || !isMap(body.metadata) || typeof body.kind !== "string" || typeof body.apiVersion !== "string")
      throw new Error(`${where}: a patch without target must name its object`);
    const { group, version } = groupVersion(body.apiVersion);
    target = {
      group,
      version,
      kind: body.kind,
      name: String(body.metadata.name),
      ...(typeof body.metadata.namespace === "string" ? { namespace: body.metadata.namespace } : {}),
    };
  }
  const selected = objects.filter((obj) => matches(obj, target));
  // kustomize skips a target that selects nothing; here that is a mistake in the manifests.
  if (selected.length === 0) throw new Error(`${where}: the patch selects nothing (${JSON.stringify(target)})`);
  if (isMap(body) && body.$patch === "delete") return objects.filter((obj) => !selected.includes(obj));
  if (isMap(body) && "$patch" in body) throw new Error(`${where}: $patch: ${String(body.$patch)} is not supported`);
  return objects.map((obj) => {
    if (!selected.includes(obj)) return obj;
    if (Array.isArray(body)) {
      const ops = body as unknown as Operation[];
      return jsonPatch.applyPatch(structuredClone(obj), ops, true, false).newDocument;
    }
    const patched = strategicMerge(obj as unknown as Json, body) as unknown as KubeObject;
    // The patch names its object; merging those fields back changes nothing but must not rename it.
    return {
      ...patched,
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { ...patched.metadata, name: obj.metadata.name },
    };
  });
}

/** The objects `kubectl kustomize DIR` prints, in kustomize's input order. */
export function renderKustomization(dir: string): KubeObject[] {
  const file = join(dir, "kustomization.yaml");
  const kustomization = parse(readFileSync(file, "utf8")) as Kustomization;
  for (const key of Object.keys(kustomization)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: "${key}" is not rendered by test/manifests/kustomize.ts`);
  }
  let objects: KubeObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readObjects(path)));
  }
  for (const entry of kustomization.patches ?? []) objects = applyPatch(objects, entry, dir);
  const seen = new Set<string>();
  for (const obj of objects) {
    if (seen.has(idOf(obj))) throw new Error(`${file}: ${idOf(obj)} appears twice`);
    seen.add(idOf(obj));
  }
  return objects;
}

/** Every directory under manifests/ with a kustomization.yaml, relative to manifests/ (`base`, `overlays/...`). */
export function kustomizations(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (existsSync(join(dir, "kustomization.yaml"))) found.push(relative(MANIFESTS, dir));
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
  };
  walk(MANIFESTS);
  return found.sort();
}

/** Each kustomization rendered, keyed by its path relative to manifests/. */
export function renderAll(): Map<string, KubeObject[]> {
  return new Map(kustomizations().map((name) => [name, renderKustomization(join(MANIFESTS, name))]));
}

/** The objects of manifests/examples/, which no kustomization lists (users apply them one by one). */
export function exampleObjects(): Array<{ file: string; object: KubeObject }> {
  const dir = join(MANIFESTS, "examples");
  return readdirSync(dir)
    .filter((name) => name.endsWith(".yaml"))
    .sort()
    .flatMap((name) => readObjects(join(dir, name)).map((object) => ({ file: `examples/${name}`, object })));
}

/** `kubectl kustomize DIR` parsed, or undefined when kubectl is not installed. */
export function kubectlKustomize(dir: string): KubeObject[] | undefined {
  let out: string;
  try {
    out = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return parseAllDocuments(out)
    .map((doc) => doc.toJS() as unknown)
    .filter((value): value is KubeObject => isMap(value));
}
