// `greenlight inject` and `greenlight validate` on multi-document YAML, from a file and from standard input.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { injectYaml } from "../../scripts/cli/inject.ts";
import { runCli } from "./run.ts";

const deployment = (name: string, annotations: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: production
  annotations:
${annotations}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
        - name: ${name}
          image: registry.example.com:5000/${name}:v2.0
          ports:
            - containerPort: 8080
`;

const service = `apiVersion: v1
kind: Service
metadata:
  name: myapp # the main Service
spec:
  selector:
    app: myapp
  ports:
    - port: 80
      targetPort: 8080
`;

const MULTI = [
  `# opted in\n${deployment("myapp", '    greenlight.dev/inject: "true" # opt in')}`,
  service,
  deployment("other", "    team: payments"),
].join("---\n");

const toObjects = (text: string) => parseAllDocuments(text).map((d) => (Array.isArray(d) ? d : d.toJS()));

describe("injectYaml", () => {
  it("injects the opted-in Deployment and passes the others through unchanged, in order", () => {
    const out = injectYaml("deploy.yaml", MULTI, false);
    const [first, second, third] = toObjects(out.text);
    expect(first.metadata.labels).toEqual({ app: "myapp", version: "v2.0" });
    expect(first.spec.template.metadata.labels).toEqual({ app: "myapp", version: "v2.0" });
    expect(first.spec.selector).toEqual({ matchLabels: { app: "myapp" } });
    expect(first.spec.template.spec.containers[0].readinessProbe.httpGet).toEqual({ path: "/ready", port: 8080 });
    expect(second).toEqual(toObjects(service)[0]);
    expect(third).toEqual(toObjects(deployment("other", "    team: payments"))[0]);
    expect(out.injected).toBe(1);
    // The user's comments survive.
    expect(out.text).toContain("# opted in");
    expect(out.text).toContain("# opt in");
    expect(out.text).toContain("# the main Service");
    expect(out.text.match(/^---$/gm)).toHaveLength(2);
  });

  it("injects every Deployment with --all unless it is annotated false", () => {
    const optOut = deployment("quiet", '    greenlight.dev/inject: "false"');
    const out = injectYaml("x.yaml", `${MULTI}---\n${optOut}`, true);
    const objects = toObjects(out.text);
    expect(objects[2].metadata.labels.version).toBe("v2.0");
    expect(objects[3].metadata.labels).toBeUndefined();
    expect(out.injected).toBe(2);
  });

  it("is idempotent: injecting its own output changes nothing", () => {
    const once = injectYaml("x.yaml", MULTI, true).text;
    const twice = injectYaml("x.yaml", once, true);
    expect(twice.text).toBe(once);
    expect(twice.injected).toBe(0);
  });

  it("injects Deployments inside a kind: List", () => {
    const list = { apiVersion: "v1", kind: "List", items: toObjects(MULTI) };
    list.items[0].metadata.annotations["greenlight.dev/inject"] = "true";
    const out = injectYaml("list.yaml", JSON.stringify(list), false);
    const [result] = toObjects(out.text);
    expect(result.items[0].spec.template.metadata.labels.version).toBe("v2.0");
    expect(result.items[1]).toEqual(list.items[1]);
  });

  it("names the document and field when a Deployment is malformed, and writes nothing", () => {
    const broken = MULTI.replace("      containers:\n", "      containers: oops\n      x:\n");
    expect(() => injectYaml("bad.yaml", broken, false)).toThrow(
      /bad\.yaml: document 1 \(Deployment production\/myapp\): spec\.template\.spec\.containers is not a list/,
    );
  });
});

describe("greenlight inject (binary)", () => {
  let file: string;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), "greenlight-cli-"));
    file = join(dir, "deploy.yaml");
    await writeFile(file, MULTI);
  });

  it("reads a file and writes YAML to stdout", async () => {
    const result = await runCli(["inject", "-f", file]);
    expect(result.code).toBe(0);
    expect(toObjects(result.stdout)).toHaveLength(3);
    expect(toObjects(result.stdout)[0].metadata.annotations["greenlight.dev/injected"]).toBe("app=myapp,version=v2.0");
  });

  it("reads standard input with -f - and writes JSON with -o json", async () => {
    const result = await runCli(["inject", "-f", "-", "-o", "json"], MULTI);
    expect(result.code).toBe(0);
    const objects = JSON.parse(result.stdout);
    expect(objects.map((o: { kind: string }) => o.kind)).toEqual(["Deployment", "Service", "Deployment"]);
    expect(objects[0].spec.template.spec.containers[0].livenessProbe.initialDelaySeconds).toBe(60);
  });

  it("prints warnings on stderr, keeping stdout pipeable", async () => {
    const noPorts = deployment("np", '    greenlight.dev/inject: "true"').replace(/ {10}ports:\n.*\n/, "");
    const result = await runCli(["inject", "-f", "-"], noPorts);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /warning: <stdin>: document 1 \(Deployment production\/np\): container np has no containerPort/,
    );
    expect(toObjects(result.stdout)[0].kind).toBe("Deployment");
  });

  it("fails with a one-line reason on a missing file, bad YAML and a bad -o", async () => {
    const missing = await runCli(["inject", "-f", "/nonexistent/deploy.yaml"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe("greenlight: cannot read /nonexistent/deploy.yaml: no such file");
    const bad = await runCli(["inject", "-f", "-"], "a: [\n");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^greenlight: <stdin>: document 1/);
    expect(bad.stdout).toBe("");
    const format = await runCli(["inject", "-f", file, "-o", "xml"]);
    expect(format.code).toBe(1);
    expect(format.stderr).toContain("use -o yaml or -o json");
  });

  it("documents itself in --help with examples", async () => {
    const help = await runCli(["inject", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Examples:");
    expect(help.stdout).toContain("--all");
  });
});

describe("greenlight validate (binary)", () => {
  it("exits 0 on valid annotations and 1 naming each invalid one", async () => {
    const ok = await runCli(["validate", "-f", "-"], MULTI);
    expect(ok.code).toBe(0);
    const badDoc = deployment(
      "myapp",
      '    greenlight.dev/strategy: canary\n    greenlight.dev/steps: "5,50,20"\n    greenlight.dev/intervall: 5m',
    );
    const bad = await runCli(["validate", "-f", "-"], badDoc);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('error: greenlight.dev/steps: "5,50,20" is invalid: 20 does not increase on 50');
    expect(bad.stdout).toContain("did you mean greenlight.dev/interval?");
    expect(bad.stderr.trim()).toBe("greenlight: 1 Deployment(s) have invalid greenlight annotations");
    const json = await runCli(["validate", "-f", "-", "-o", "json"], badDoc);
    expect(json.code).toBe(1);
    const [entry] = JSON.parse(json.stdout);
    expect(entry).toMatchObject({ document: 1, kind: "Deployment", name: "myapp", namespace: "production" });
    expect(entry.errors).toHaveLength(1);
  });
});

describe("empty input and other kinds (a pipe whose first command failed, an annotation in the wrong place)", () => {
  const EMPTY_INPUTS = ["", "\n", "# nothing rendered\n", "---\n", "# a comment\n---\n---\n# another\n"];

  it("fails inject and validate on input without an object, in one line naming --allow-empty", async () => {
    for (const command of ["inject", "validate"]) {
      for (const input of EMPTY_INPUTS) {
        const result = await runCli([command, "-f", "-"], input);
        expect(result.code, `${command} ${JSON.stringify(input)}`).toBe(1);
        expect(result.stdout).toBe("");
        expect(result.stderr).toBe(
          "greenlight: <stdin>: no Kubernetes objects read (the input is empty or only comments and ---; did the " +
            "command before the pipe fail?): pass --allow-empty to accept empty input\n",
        );
      }
    }
    const dir = await mkdtemp(join(tmpdir(), "greenlight-empty-"));
    const file = join(dir, "rendered.yaml");
    await writeFile(file, "# helm template wrote nothing\n");
    const fromFile = await runCli(["validate", "-f", file]);
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toBe(
      `greenlight: ${file}: no Kubernetes objects read (the input is empty or only comments and ---): ` +
        "pass --allow-empty to accept empty input\n",
    );
  });

  it("accepts empty input with --allow-empty", async () => {
    const validate = await runCli(["validate", "-f", "-", "--allow-empty"], "---\n");
    expect(validate).toEqual({ code: 0, stdout: "0 Deployment(s) checked, 0 invalid\n", stderr: "" });
    const json = await runCli(["validate", "-f", "-", "--allow-empty", "-o", "json"], "");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
    const inject = await runCli(["inject", "-f", "-", "--allow-empty"], "");
    expect(inject).toEqual({ code: 0, stdout: "", stderr: "" });
    for (const command of ["inject", "validate"]) {
      const help = await runCli([command, "--help"]);
      expect(help.stdout).toContain("--allow-empty");
    }
  });

  const annotatedService = `apiVersion: v1
kind: Service
metadata:
  name: myapp
  namespace: production
  annotations:
    greenlight.dev/inject: "true"
    greenlight.dev/strategy: canary
spec:
  selector:
    app: myapp
`;

  it("warns on stderr about greenlight annotations on another kind, and passes it through", async () => {
    const warning =
      "warning: <stdin>: document 2 (Service production/myapp): greenlight.dev/inject, greenlight.dev/strategy: " +
      "greenlight annotations act on Deployments (apps/v1) only";
    const input = `${deployment("web", "    team: payments")}---\n${annotatedService}`;
    const inject = await runCli(["inject", "-f", "-"], input);
    expect(inject.code).toBe(0);
    expect(inject.stderr).toBe(`${warning}; this Service is passed through unchanged\n`);
    expect(toObjects(inject.stdout)[1]).toEqual(toObjects(annotatedService)[0]);
    const validate = await runCli(["validate", "-f", "-"], input);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toBe("1 Deployment(s) checked, 0 invalid\n");
    expect(validate.stderr).toBe(`${warning}; this Service is not checked\n`);
    const json = await runCli(["validate", "-f", "-", "-o", "json"], input);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toHaveLength(1);
    expect(json.stderr).toBe(`${warning}; this Service is not checked\n`);
  });

  it("says how a Namespace opts in, names List items, and keeps quiet about greenlight's own status", () => {
    const namespace =
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations:\n    greenlight.dev/inject: enabled\n";
    const list = `${JSON.stringify({ apiVersion: "v1", kind: "List", items: toObjects(annotatedService) })}\n`;
    const recorded = annotatedService.replace(
      /annotations:\n(.*\n)*?spec:/,
      'annotations:\n    greenlight.dev/status: \'{"strategy":"blue-green"}\'\nspec:',
    );
    const out = injectYaml("x.yaml", [namespace, list, recorded].join("---\n"), false);
    expect(out.warnings).toEqual([
      "x.yaml: document 1 (Namespace shop): greenlight.dev/inject: greenlight annotations act on Deployments " +
        "(apps/v1) only; this Namespace is passed through unchanged (a namespace opts in with a label: kubectl " +
        "label namespace shop greenlight.dev/inject=enabled)",
      "x.yaml: document 2 (List) item 0 (Service production/myapp): greenlight.dev/inject, greenlight.dev/strategy: " +
        "greenlight annotations act on Deployments (apps/v1) only; this Service is passed through unchanged",
    ]);
    expect(out.objects).toBe(3);
  });
});

describe("greenlight validate on kubectl's kind: List", () => {
  it("checks the Deployments among the items, naming the item", async () => {
    const bad = deployment("myapp", '    greenlight.dev/strategy: canary\n    greenlight.dev/steps: "5,50,20"');
    const list = `${JSON.stringify({ apiVersion: "v1", kind: "List", items: [...toObjects(service), ...toObjects(bad)] })}\n`;
    const result = await runCli(["validate", "-f", "-"], list);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      '<stdin>: document 1 (Deployment production/myapp) item 1: error: greenlight.dev/steps: "5,50,20" is invalid',
    );
    expect(result.stdout).toMatch(/^1 Deployment\(s\) checked, 1 invalid$/m);
  });
});
