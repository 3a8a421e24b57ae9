// The webhook configurations: which namespaces reach which path, and how the webhook is addressed.
import fc from "fast-check";
import { MutatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration";
import { ValidatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration";
import { describe, expect, it } from "vitest";
import {
  buildWebhookConfigurations,
  type LabelSelector,
  type WebhookConfigurationOptions,
} from "../../webhooks/config/configurations.ts";

const service = { service: { name: "greenlight-webhook", namespace: "greenlight-system" } };
const base: WebhookConfigurationOptions = { target: service, ownNamespace: "greenlight-system" };

// The API server's semantics for matchExpressions: In needs the key with a listed value; NotIn also matches when absent.
function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return (
    byLabels &&
    (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      const value = labels[key];
      const present = value !== undefined;
      const listed = present && values.includes(value);
      const outcome = { In: listed, NotIn: !listed, Exists: present, DoesNotExist: !present };
      return outcome[operator];
    })
  );
}

function namespaceLabels(name: string, inject?: string): Record<string, string> {
  return { "kubernetes.io/metadata.name": name, ...(inject === undefined ? {} : { "greenlight.dev/inject": inject }) };
}

describe("buildWebhookConfigurations", () => {
  it("builds two mutating webhooks and one validating webhook on Deployment CREATE and UPDATE", () => {
    const [mutating, validating] = buildWebhookConfigurations(base);
    expect(mutating.kind).toBe("MutatingWebhookConfiguration");
    expect(validating.kind).toBe("ValidatingWebhookConfiguration");
    expect(mutating.metadata.name).toBe("greenlight");
    expect(mutating.webhooks.map((w) => [w.name, w.clientConfig.service?.path])).toEqual([
      ["namespace.inject.greenlight.dev", "/mutate/namespace"],
      ["inject.greenlight.dev", "/mutate"],
    ]);
    expect(validating.webhooks.map((w) => [w.name, w.clientConfig.service?.path])).toEqual([
      ["validate.greenlight.dev", "/validate"],
    ]);
    for (const webhook of [...mutating.webhooks, ...validating.webhooks]) {
      expect(webhook.rules).toEqual([
        {
          apiGroups: ["apps"],
          apiVersions: ["v1"],
          resources: ["deployments"],
          operations: ["CREATE", "UPDATE"],
          scope: "Namespaced",
        },
      ]);
      expect(webhook).toMatchObject({
        sideEffects: "None",
        admissionReviewVersions: ["v1"],
        timeoutSeconds: 5,
        matchPolicy: "Equivalent",
      });
    }
    for (const webhook of mutating.webhooks) expect(webhook.reinvocationPolicy).toBe("IfNeeded");
  });

  it("fails open by default (each webhook's reason: DEFAULT_FAILURE_POLICY) and applies an explicit failurePolicy and timeout to every webhook", () => {
    const [mutating, validating] = buildWebhookConfigurations(base);
    expect([...mutating.webhooks, ...validating.webhooks].map((w) => w.failurePolicy)).toEqual([
      "Ignore",
      "Ignore",
      "Ignore",
    ]);
    const [strictM, strictV] = buildWebhookConfigurations({ ...base, failurePolicy: "Fail", timeoutSeconds: 10 });
    for (const webhook of [...strictM.webhooks, ...strictV.webhooks]) {
      expect(webhook.failurePolicy).toBe("Fail");
      expect(webhook.timeoutSeconds).toBe(10);
    }
  });

  it("excludes kube-system, cert-manager and its own namespace from every webhook", () => {
    const [mutating, validating] = buildWebhookConfigurations({ ...base, ownNamespace: "delivery" });
    for (const webhook of [...mutating.webhooks, ...validating.webhooks]) {
      expect(webhook.namespaceSelector.matchExpressions).toContainEqual({
        key: "kubernetes.io/metadata.name",
        operator: "NotIn",
        values: ["kube-system", "cert-manager", "delivery"],
      });
    }
    const [, again] = buildWebhookConfigurations({ ...base, ownNamespace: "kube-system" });
    expect(again.webhooks[0]?.namespaceSelector.matchExpressions?.[0]?.values).toEqual(["kube-system", "cert-manager"]);
  });

  it("takes another list of excluded namespaces, always adding its own, and checks their names", () => {
    const [, validating] = buildWebhookConfigurations({
      ...base,
      excludedNamespaces: ["kube-system", "certs", "istio-system"],
    });
    expect(validating.webhooks[0]?.namespaceSelector.matchExpressions?.at(-1)?.values).toEqual([
      "kube-system",
      "certs",
      "istio-system",
      "greenlight-system",
    ]);
    expect(() => buildWebhookConfigurations({ ...base, excludedNamespaces: ["Kube_System"] })).toThrow(
      /excludedNamespaces: "Kube_System"/,
    );
  });

  it("sends a labelled namespace to /mutate/namespace, any other to /mutate, and excluded ones nowhere", () => {
    const [mutating, validating] = buildWebhookConfigurations(base);
    const paths = (labels: Record<string, string>) =>
      mutating.webhooks.filter((w) => selects(w.namespaceSelector, labels)).map((w) => w.clientConfig.service?.path);
    const validated = (labels: Record<string, string>) =>
      validating.webhooks.some((w) => selects(w.namespaceSelector, labels));

    expect(paths(namespaceLabels("production", "enabled"))).toEqual(["/mutate/namespace"]);
    expect(paths(namespaceLabels("production"))).toEqual(["/mutate"]);
    expect(paths(namespaceLabels("production", "disabled"))).toEqual(["/mutate"]);
    expect(paths(namespaceLabels("kube-system", "enabled"))).toEqual([]);
    expect(paths(namespaceLabels("greenlight-system", "enabled"))).toEqual([]);
    expect(paths(namespaceLabels("cert-manager", "enabled"))).toEqual([]);
    expect(validated(namespaceLabels("cert-manager"))).toBe(false);
    expect(validated(namespaceLabels("production"))).toBe(true);
    expect(validated(namespaceLabels("kube-system"))).toBe(false);
    expect(validated(namespaceLabels("greenlight-system"))).toBe(false);
  });

  it("never lets two mutating webhooks select the same namespace", () => {
    const [mutating] = buildWebhookConfigurations(base);
    const name = fc.oneof(
      fc.constantFrom("kube-system", "greenlight-system", "cert-manager", "default"),
      fc.stringMatching(/^[a-z]{1,8}$/),
    );
    const inject = fc.option(fc.constantFrom("enabled", "disabled", "true", ""), { nil: undefined });
    fc.assert(
      fc.property(name, inject, (ns, value) => {
        const labels = namespaceLabels(ns, value);
        const matched = mutating.webhooks.filter((w) => selects(w.namespaceSelector, labels)).length;
        const excluded = ["kube-system", "greenlight-system", "cert-manager"].includes(ns);
        expect(matched).toBe(excluded ? 0 : 1);
      }),
    );
  });

  it("addresses the Service on port 443 unless told otherwise, and carries the caBundle when given", () => {
    const [mutating] = buildWebhookConfigurations(base);
    expect(mutating.webhooks[0]?.clientConfig).toEqual({
      service: { name: "greenlight-webhook", namespace: "greenlight-system", path: "/mutate/namespace", port: 443 },
    });
    const [withCa, withCaV] = buildWebhookConfigurations({
      ...base,
      target: { service: { name: "wh", namespace: "ops", port: 8443 } },
      caBundle: "TFMwdExTMUNSVWRKVGc=",
    });
    expect(withCa.webhooks[1]?.clientConfig).toEqual({
      service: { name: "wh", namespace: "ops", path: "/mutate", port: 8443 },
      caBundle: "TFMwdExTMUNSVWRKVGc=",
    });
    expect(withCaV.webhooks[0]?.clientConfig.caBundle).toBe("TFMwdExTMUNSVWRKVGc=");
  });

  it("appends the paths to a base URL, without a service, and keeps a caBundle only when given", () => {
    const [mutating, validating] = buildWebhookConfigurations({
      ...base,
      target: { url: "https://abc123.execute-api.eu-west-1.amazonaws.com/" },
    });
    expect([...mutating.webhooks, ...validating.webhooks].map((w) => w.clientConfig)).toEqual([
      { url: "https://abc123.execute-api.eu-west-1.amazonaws.com/mutate/namespace" },
      { url: "https://abc123.execute-api.eu-west-1.amazonaws.com/mutate" },
      { url: "https://abc123.execute-api.eu-west-1.amazonaws.com/validate" },
    ]);
    const [withCa] = buildWebhookConfigurations({
      ...base,
      target: { url: "https://dev.local:8443" },
      caBundle: "QUJD",
    });
    expect(withCa.webhooks[0]?.clientConfig).toEqual({
      url: "https://dev.local:8443/mutate/namespace",
      caBundle: "QUJD",
    });
  });

  it("adds cert-manager's inject-ca-from annotation only when asked", () => {
    const [plain] = buildWebhookConfigurations(base);
    expect(plain.metadata.annotations).toBeUndefined();
    const [, injected] = buildWebhookConfigurations({
      ...base,
      injectCaFrom: "greenlight-system/greenlight-webhook-tls",
    });
    expect(injected.metadata.annotations).toEqual({
      "cert-manager.io/inject-ca-from": "greenlight-system/greenlight-webhook-tls",
    });
  });

  it("returns objects that do not share state between calls", () => {
    const [a] = buildWebhookConfigurations(base);
    a.webhooks[0]?.rules[0]?.operations.push("DELETE");
    const [b] = buildWebhookConfigurations(base);
    expect(b.webhooks[0]?.rules[0]?.operations).toEqual(["CREATE", "UPDATE"]);
  });

  it("rejects options the API server would reject, naming the field", () => {
    expect(() => buildWebhookConfigurations({ ...base, timeoutSeconds: 31 })).toThrow(/timeoutSeconds 31/);
    expect(() => buildWebhookConfigurations({ ...base, target: { url: "http://example.com" } })).toThrow(/https/);
    expect(() => buildWebhookConfigurations({ ...base, target: { url: "https://x.example/?a=1" } })).toThrow(/query/);
    expect(() => buildWebhookConfigurations({ ...base, target: { url: "not a url" } })).toThrow(/absolute URL/);
    expect(() => buildWebhookConfigurations({ ...base, ownNamespace: "Bad_NS" })).toThrow(/ownNamespace/);
    expect(() => buildWebhookConfigurations({ ...base, name: "UPPER" })).toThrow(/name "UPPER"/);
    expect(() => buildWebhookConfigurations({ ...base, caBundle: "-----BEGIN" })).toThrow(/caBundle/);
    expect(() =>
      buildWebhookConfigurations({ ...base, target: { service: { name: "wh", namespace: "ops", port: 0 } } }),
    ).toThrow(/port 0/);
  });

  it("produces objects that match the admissionregistration.k8s.io/v1 schema", () => {
    for (const opts of [base, { ...base, target: { url: "https://example.com/prod" }, caBundle: "QUJD" }]) {
      const [mutating, validating] = buildWebhookConfigurations(opts);
      expect(() => new MutatingWebhookConfiguration(mutating).validate()).not.toThrow();
      expect(() => new ValidatingWebhookConfiguration(validating).validate()).not.toThrow();
    }
  });
});
