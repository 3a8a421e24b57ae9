// Every object the manifests install (each kustomization rendered) and every example, checked against its schema:
// - kubernetes-models (Kubernetes 1.36 OpenAPI, compiled to ajv validators): types, required fields, enums and
//   formats of every built-in kind; @kubernetes-models/cert-manager, /istio and /gateway-api do the same for the
//   custom resources from those projects' CRDs.
// - kubernetes-types 1.30.0 through the TypeScript compiler: each built-in object, as an object literal of its
//   Kubernetes 1.30 type, so a field that 1.30 does not know (a typo, or one added later) is an error. The OpenAPI
//   validators above let unknown fields through, as the API server does without fieldValidation=Strict.
// A kind that neither covers fails the first test, so the coverage claimed in docs/OPERATIONS.md stays true.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { exampleObjects, type KubeObject, ROOT, renderAll } from "./kustomize.ts";

interface Model {
  validate(): void;
}
type ModelClass = new (data: object) => Model;

/** Where the model of an API group lives: kubernetes-models for built-in groups, a CRD package otherwise. */
const CRD_PACKAGES: Record<string, string> = {
  "cert-manager.io": "@kubernetes-models/cert-manager",
  "networking.istio.io": "@kubernetes-models/istio",
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
};

function split(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The module that exports the model class of `obj`'s kind, or undefined when no installed package has it. */
function modelModule(obj: KubeObject): string | undefined {
  const { group, version } = split(obj.apiVersion);
  const crd = CRD_PACKAGES[group];
  const base = crd ? `${crd}/${group}` : group === "" ? "kubernetes-models" : `kubernetes-models/${group}`;
  const spec = `${base}/${version}/${obj.kind}`;
  const [first, second, ...rest] = spec.split("/");
  const packageDir = first?.startsWith("@") ? `${first}/${second}` : first;
  const inPackage = first?.startsWith("@") ? rest : [second, ...rest];
  return existsSync(join(ROOT, "node_modules", packageDir ?? "", `${inPackage.join("/")}.js`)) ? spec : undefined;
}

async function modelOf(spec: string, kind: string): Promise<ModelClass> {
  const module = (await import(spec)) as Record<string, unknown>;
  const model = module[kind];
  if (typeof model !== "function") throw new Error(`${spec} exports no ${kind}`);
  return model as ModelClass;
}

/** The kubernetes-types 1.30 module and type of a built-in kind, or undefined for a kind it does not have. */
function strictType(obj: KubeObject): { module: string; type: string } | undefined {
  const { group, version } = split(obj.apiVersion);
  const dir = group === "" ? "core" : group.split(".")[0];
  const file = join(ROOT, "node_modules/kubernetes-types", `${dir}/${version}.d.ts`);
  if (!existsSync(file)) return undefined;
  // The same directory name can hold another group's kinds (networking.istio.io is not networking.k8s.io): the
  // interface must declare exactly this apiVersion and kind.
  const declares = new RegExp(
    `export interface ${obj.kind} \\{[^}]*?apiVersion\\?: "${obj.apiVersion.replace(/[.]/g, "\\.")}";[^}]*?kind\\?: "${obj.kind}";`,
  );
  return declares.test(readFileSync(file, "utf8"))
    ? { module: `kubernetes-types/${dir}/${version}`, type: obj.kind }
    : undefined;
}

/**
 * kubernetes-types 1.30.0 drops the fields RuleWithOperations embeds from Rule (its generator skips embedded
 * structs): Kubernetes 1.30's admissionregistration/v1 RuleWithOperations has apiGroups, apiVersions, operations,
 * resources and scope. Added back by declaration merging, after the objects so line numbers still name them.
 */
const TYPE_FIXES = [
  'declare module "kubernetes-types/admissionregistration/v1" {',
  "  interface RuleWithOperations { resources?: Array<string>; scope?: string }",
  "}",
];

interface Entry {
  where: string;
  object: KubeObject;
}

const rendered = renderAll();
const entries: Entry[] = [
  ...[...rendered].flatMap(([name, objects]) =>
    objects.map((object) => ({ where: `manifests/${name}: ${object.kind} ${object.metadata.name}`, object })),
  ),
  ...exampleObjects().map(({ file, object }) => ({
    where: `manifests/${file}: ${object.kind} ${object.metadata.name}`,
    object,
  })),
];

describe("the manifests against their schemas", () => {
  it("renders every kustomization, and every kind has a model to validate it", () => {
    expect([...rendered.keys()]).toEqual([
      "base",
      "overlays/cert-manager",
      "overlays/cluster-wide",
      "overlays/eks-access-entry",
      "overlays/notify-namespaces",
      "overlays/serverless",
      "stepper",
    ]);
    const uncovered = entries.filter(({ object }) => modelModule(object) === undefined).map(({ where }) => where);
    expect(uncovered).toEqual([]);
  });

  it("validates every object with kubernetes-models (built-in kinds) or its CRD package (custom resources)", async () => {
    const failures: string[] = [];
    for (const { where, object } of entries) {
      const spec = modelModule(object);
      if (!spec) continue;
      const Model = await modelOf(spec, object.kind);
      try {
        new Model(structuredClone(object)).validate();
      } catch (error) {
        failures.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("types every built-in object as Kubernetes 1.30 does, unknown fields included (kubernetes-types 1.30.0)", () => {
    const builtIn = entries.flatMap((entry) => {
      const type = strictType(entry.object);
      return type ? [{ ...entry, ...type }] : [];
    });
    const custom = entries.filter((entry) => !strictType(entry.object)).map(({ object }) => object.apiVersion);
    // Only the CRDs' kinds are left to their packages' (non-strict) validators.
    expect([...new Set(custom)].sort()).toEqual([
      "cert-manager.io/v1",
      "gateway.networking.k8s.io/v1",
      "networking.istio.io/v1",
    ]);
    const lines = builtIn.map(
      ({ module, type, object }, i) => `export const o${i}: import("${module}").${type} = ${JSON.stringify(object)};`,
    );
    const diagnostics = typecheck([...lines, ...TYPE_FIXES].join("\n"));
    const problems = diagnostics.map(({ line, message }) => `${builtIn[line]?.where ?? `line ${line}`}: ${message}`);
    expect(problems).toEqual([]);
    expect(builtIn.length).toBeGreaterThan(20);
  });

  it("would catch a misspelt field, a field newer than 1.30, and a wrong enum value", async () => {
    const deployment = rendered.get("base")?.find((o) => o.kind === "Deployment");
    const cronJob = rendered.get("stepper")?.find((o) => o.kind === "CronJob");
    if (!deployment || !cronJob) throw new Error("no Deployment in manifests/base or CronJob in manifests/stepper");
    const strictErrors = (obj: KubeObject) => {
      const type = strictType(obj);
      if (!type) throw new Error(`${obj.kind} has no kubernetes-types 1.30 type`);
      const source = `export const o0: import("${type.module}").${type.type} = ${JSON.stringify(obj)};`;
      return typecheck(source)
        .map((d) => d.message)
        .join("\n");
    };
    type PodTemplated = KubeObject & { spec: { template: { spec: Record<string, unknown> } } };

    const typo = structuredClone(deployment) as PodTemplated;
    typo.spec.template.spec.automountServiceAcountToken = false;
    expect(strictErrors(typo)).toMatch(/automountServiceAcountToken/);

    // Pod-level resources came with Kubernetes 1.32: the 1.36 OpenAPI validators accept them, 1.30's types do not.
    const newer = structuredClone(deployment) as PodTemplated;
    newer.spec.template.spec.resources = { limits: { cpu: "1" } };
    const Deployment = await modelOf("kubernetes-models/apps/v1/Deployment", "Deployment");
    expect(() => new Deployment(newer).validate()).not.toThrow();
    expect(strictErrors(newer)).toMatch(/'"?resources"?' does not exist in type 'PodSpec'/);

    const wrongEnum = structuredClone(cronJob) as KubeObject & { spec: Record<string, unknown> };
    wrongEnum.spec.concurrencyPolicy = "Never";
    const CronJob = await modelOf("kubernetes-models/batch/v1/CronJob", "CronJob");
    expect(() => new CronJob(wrongEnum).validate()).toThrow(/concurrencyPolicy/);
  });
});

/** Type-checks `source` as a module inside the repository (so node_modules resolves); one diagnostic per problem. */
function typecheck(source: string): Array<{ line: number; message: string }> {
  const file = join(ROOT, "test/manifests/__manifests_as_types__.ts");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError, create) =>
    name === file ? ts.createSourceFile(name, source, language, true) : getSourceFile(name, language, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ({
    line: d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1,
    message: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
  }));
}
