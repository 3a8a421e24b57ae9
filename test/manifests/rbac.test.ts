// The stepper's RBAC, as rendered from manifests/: every call of a real pass (canary on Istio and on the Gateway API,
// blue/green switch with smoke check and verification, rolling undo) is allowed, in both shapes of the install
// (per-namespace RoleBindings, the default; a ClusterRoleBinding, overlays/cluster-wide), and every rule is used.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createKubeClients, type KubeClients } from "../../functions/kube/clients.ts";
import { namespaceReader } from "../../functions/notify/namespaces.ts";
import { namespacesFromEnv } from "../../functions/stepper/config.ts";
import { runStep } from "../../functions/stepper/run.ts";
import {
  gatewayCanaryDeployment,
  healthyReader,
  httpRoute,
  NAMESPACE,
  seedCanary,
} from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, type RecordedCall, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { attachProxy, type FakeProxy } from "../../scripts/fakes/kube/fake-proxy.ts";
import { seedBlueGreen, syncEndpoints } from "../bluegreen/objects.ts";
import { seedRollout } from "../rolling/objects.ts";
import { type KubeObject, renderAll } from "./kustomize.ts";

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface Binding extends KubeObject {
  roleRef: { apiGroup: string; kind: "Role" | "ClusterRole"; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}
interface Call {
  verb: string;
  group: string;
  resource: string;
  namespace: string | undefined;
}

const STEPPER = { namespace: "greenlight-system", name: "greenlight-stepper" };
const WEBHOOK = { namespace: "greenlight-system", name: "greenlight-webhook" };

const rendered = renderAll();
const objectsOf = (name: string): KubeObject[] => {
  const objects = rendered.get(name);
  if (!objects) throw new Error(`no kustomization manifests/${name}`);
  return objects;
};

const isBinding = (obj: KubeObject): obj is Binding => obj.kind === "RoleBinding" || obj.kind === "ClusterRoleBinding";
const bindsAccount = (binding: Binding, account: { namespace: string; name: string }) =>
  (binding.subjects ?? []).some(
    (s) => s.kind === "ServiceAccount" && s.name === account.name && s.namespace === account.namespace,
  );

/** RBAC's answer for `account`, from the Roles, ClusterRoles and bindings among `objects`. */
function authorizer(objects: KubeObject[], account: { namespace: string; name: string }): (call: Call) => boolean {
  const rulesOf = (kind: string, name: string, namespace?: string): Rule[] => {
    const role = objects.find(
      (o) =>
        o.kind === kind && o.metadata.name === name && (kind === "ClusterRole" || o.metadata.namespace === namespace),
    );
    if (!role) throw new Error(`${kind} ${namespace ?? ""}/${name} is bound but not installed`);
    return (role as KubeObject & { rules?: Rule[] }).rules ?? [];
  };
  const grants: Array<{ namespace: string | undefined; rules: Rule[] }> = objects
    .filter(isBinding)
    .filter((b) => bindsAccount(b, account))
    .map((b) => ({
      // A ClusterRoleBinding grants everywhere; a RoleBinding only in its namespace, even of a ClusterRole.
      namespace: b.kind === "RoleBinding" ? b.metadata.namespace : undefined,
      rules: rulesOf(b.roleRef.kind, b.roleRef.name, b.metadata.namespace),
    }));
  const allows = (rule: Rule, call: Call) =>
    (rule.apiGroups ?? []).some((g) => g === call.group || g === "*") &&
    (rule.resources ?? []).some((r) => r === call.resource || r === "*") &&
    rule.verbs.some((v) => v === call.verb || v === "*");
  return (call) =>
    grants.some(
      (grant) =>
        (grant.namespace === undefined || grant.namespace === call.namespace) &&
        grant.rules.some((rule) => allows(rule, call)),
    );
}

function cronJobEnv(objects: KubeObject[]): Record<string, string> {
  const cronJob = objects.find((o) => o.kind === "CronJob") as
    | (KubeObject & {
        spec: {
          jobTemplate: {
            spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
          };
        };
      })
    | undefined;
  if (!cronJob) throw new Error("no CronJob");
  const env = cronJob.spec.jobTemplate.spec.template.spec.containers[0]?.env ?? [];
  return Object.fromEntries(env.map(({ name, value }) => [name, value ?? ""]));
}

/**
 * The stepper base set up for `namespace` the way its comments say: the example RoleBinding copied into that
 * namespace (replacing the example) and GREENLIGHT_NAMESPACES naming it.
 */
function stepperFor(namespace: string): { objects: KubeObject[]; env: Record<string, string> } {
  const objects = objectsOf("stepper");
  const example = objects.find((o) => o.kind === "RoleBinding");
  if (!example) throw new Error("the stepper base has no RoleBinding");
  const copy = { ...structuredClone(example), metadata: { ...example.metadata, namespace } };
  return {
    objects: [...objects.filter((o) => o.kind !== "RoleBinding"), copy],
    env: { ...cronJobEnv(objects), GREENLIGHT_NAMESPACES: namespace },
  };
}

let api: FakeApiServer;
let proxy: FakeProxy;
let clients: KubeClients;

beforeAll(async () => {
  api = await startFakeApiServer();
  proxy = attachProxy(api);
  clients = createKubeClients(api.kubeConfig(), "rbac");
});
afterAll(() => api.close());

beforeEach(() => {
  api.reset();
  seedCanary(api);
  api.put(
    gatewayCanaryDeployment({
      name: "shop-v2",
      annotations: {
        "greenlight.dev/app": "shop",
        "greenlight.dev/route": "shop",
        "greenlight.dev/canary-service": "myapp-canary",
      },
    }),
  );
  api.put({ ...httpRoute(), metadata: { name: "shop", namespace: NAMESPACE } });
  seedBlueGreen(api, { green: { annotations: { "greenlight.dev/auto-promote": "true" } } });
  proxy.route(NAMESPACE, "myapp-green", () => ({ status: 200, body: "ok" }));
  proxy.route(NAMESPACE, "myapp-blue", () => ({ status: 200, body: "ok" }));
  seedRollout(api, { condition: "deadline", counts: { updated: 1, ready: 3, available: 3, total: 4 } });
});

/** One pass over `namespaces` (empty: all), as the CronJob runs it; the resource calls it made. */
async function pass(namespaces: string[]): Promise<Call[]> {
  // The cluster's EndpointSlice controller, which the fake does not run, so blue/green can verify its switch.
  const timer = setInterval(() => syncEndpoints(api), 20);
  try {
    const report = await runStep({ clients, reader: healthyReader, namespaces });
    expect(report.error).toBeUndefined();
    // Every strategy did its writing part, so the calls below include every kind of write.
    expect(report.canaries.map((c) => c.outcome)).toEqual(["written", "written"]);
    expect(report.blueGreen.map((b) => b.outcome)).toContain("switched");
    expect(report.rolling.map((r) => r.outcome)).toEqual(["rolled-back"]);
  } finally {
    clearInterval(timer);
  }
  return api.calls
    .filter((call): call is RecordedCall & { resource: string } => call.resource !== undefined)
    .map((call) => ({
      verb: call.verb,
      group: call.group ?? "",
      resource: call.subresource ? `${call.resource}/${call.subresource}` : call.resource,
      namespace: call.namespace,
    }));
}

const show = (call: Call) => `${call.verb} ${call.group}/${call.resource} in ${call.namespace ?? "(all namespaces)"}`;

describe("the stepper's RBAC in manifests/stepper (per namespace, the default)", () => {
  it("binds the ClusterRole in exactly the namespaces GREENLIGHT_NAMESPACES names, and nowhere cluster-wide", () => {
    const objects = objectsOf("stepper");
    const bindings = objects.filter(isBinding);
    expect(bindings.map((b) => b.kind)).not.toContain("ClusterRoleBinding");
    expect(bindings.every((b) => bindsAccount(b, STEPPER) && b.roleRef.name === "greenlight-stepper")).toBe(true);
    const bound = bindings.map((b) => b.metadata.namespace ?? "").sort();
    const listed = namespacesFromEnv(cronJobEnv(objects)).sort();
    expect(listed.length).toBeGreaterThan(0);
    expect(bound).toEqual(listed);
    expect(listed).toEqual(["default"]);
  });

  it("allows every call of a pass over the listed namespaces, all of them inside those namespaces", async () => {
    const { objects, env } = stepperFor(NAMESPACE);
    const namespaces = namespacesFromEnv(env);
    const calls = await pass(namespaces);
    const can = authorizer(objects, STEPPER);
    expect(calls.filter((call) => call.namespace !== NAMESPACE).map(show)).toEqual([]);
    expect(calls.filter((call) => !can(call)).map(show)).toEqual([]);
    // As shipped (bound in `default` only) the same calls in another namespace are refused.
    const shipped = authorizer(objectsOf("stepper"), STEPPER);
    expect(calls.filter((call) => shipped(call))).toEqual([]);
  });

  it("refuses the cluster-wide list a pass makes when GREENLIGHT_NAMESPACES is missing, failing the pass loudly", async () => {
    const calls = await pass([]);
    const can = authorizer(objectsOf("stepper"), STEPPER);
    const clusterWide = calls.filter((call) => call.namespace === undefined);
    expect(clusterWide.map(show)).toEqual(["list apps/deployments in (all namespaces)"]);
    expect(clusterWide.some(can)).toBe(false);
  });
});

describe("the stepper's RBAC in manifests/overlays/cluster-wide", () => {
  it("binds the same ClusterRole everywhere and steps every namespace", () => {
    const objects = objectsOf("overlays/cluster-wide");
    const bindings = objects.filter(isBinding);
    expect(bindings.map((b) => [b.kind, b.roleRef.name])).toEqual([["ClusterRoleBinding", "greenlight-stepper"]]);
    expect(bindsAccount(bindings[0] as Binding, STEPPER)).toBe(true);
    expect(cronJobEnv(objects)).not.toHaveProperty("GREENLIGHT_NAMESPACES");
    const rules = (o: KubeObject[]) => o.find((x) => x.kind === "ClusterRole");
    expect(rules(objects)).toEqual(rules(objectsOf("stepper")));
  });

  it("allows every call of a pass over all namespaces", async () => {
    const calls = await pass(namespacesFromEnv(cronJobEnv(objectsOf("overlays/cluster-wide"))));
    const can = authorizer(objectsOf("overlays/cluster-wide"), STEPPER);
    expect(calls.some((call) => call.namespace === undefined)).toBe(true);
    expect(calls.filter((call) => !can(call)).map(show)).toEqual([]);
  });
});

describe("the stepper's Namespace read in manifests/overlays/notify-namespaces", () => {
  it("allows the read the notify annotations need, beside either shape, and nothing else", async () => {
    api.calls.length = 0;
    await namespaceReader(clients)(NAMESPACE);
    const calls = api.calls
      .filter((call): call is RecordedCall & { resource: string } => call.resource === "namespaces")
      .map((call) => ({ verb: call.verb, group: call.group ?? "", resource: call.resource, namespace: undefined }));
    expect(calls.map(show)).toEqual(["get /namespaces in (all namespaces)"]);
    const reader = objectsOf("overlays/notify-namespaces");
    for (const shape of ["stepper", "overlays/cluster-wide"]) {
      expect(calls.every(authorizer(objectsOf(shape), STEPPER)), `${shape} alone`).toBe(false);
      expect(calls.every(authorizer([...objectsOf(shape), ...reader], STEPPER)), `${shape} with it`).toBe(true);
    }
    const role = reader.find((o) => o.kind === "ClusterRole") as KubeObject & { rules: Rule[] };
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["namespaces"], verbs: ["get"] }]);
  });
});

describe("the ClusterRole's rules", () => {
  it("are each used by a pass: no wildcard, no Secrets, no verb a pass does not call", async () => {
    const role = objectsOf("stepper").find((o) => o.kind === "ClusterRole") as KubeObject & { rules: Rule[] };
    const granted = new Set(
      role.rules.flatMap((rule) =>
        (rule.apiGroups ?? []).flatMap((group) =>
          (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => `${verb} ${group}/${resource}`)),
        ),
      ),
    );
    for (const entry of granted)
      expect(entry, "a wildcard or Secrets in the stepper's rules").not.toMatch(/\*|secrets/);
    const used = new Set((await pass([NAMESPACE])).map((call) => `${call.verb} ${call.group}/${call.resource}`));
    expect([...granted].filter((entry) => !used.has(entry)).sort()).toEqual([]);
  });
});

describe("the webhook's ServiceAccount", () => {
  it("is bound to nothing in any kustomization and mounts no token", () => {
    for (const [name, objects] of rendered) {
      const bound = objects.filter(isBinding).filter((b) => bindsAccount(b, WEBHOOK));
      expect(
        bound.map((b) => b.metadata.name),
        name,
      ).toEqual([]);
      const account = objects.find((o) => o.kind === "ServiceAccount" && o.metadata.name === WEBHOOK.name);
      if (account)
        expect((account as KubeObject & { automountServiceAccountToken?: boolean }).automountServiceAccountToken).toBe(
          false,
        );
    }
  });
});
