// Table tests of validateAnnotations: errors name the annotation and what is accepted, typos get a suggestion,
// combinations are checked, and on UPDATE an unchanged invalid value is only warned about.
import { describe, expect, it } from "vitest";
import { KEYS } from "../../functions/contract/annotations.ts";
import { parseCustomCheck, renderQuery } from "../../functions/contract/custom-checks.ts";
import { validateAnnotations } from "../../functions/contract/validate.ts";

/** Annotations from unprefixed keys: `{ steps: "5,10" }` -> `{ "greenlight.dev/steps": "5,10" }`. */
const gl = (entries: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(entries).map(([key, value]) => [`greenlight.dev/${key}`, value]));

const CANARY = { strategy: "canary" };

describe("valid annotation sets", () => {
  it.each([
    ["nothing at all", {}],
    ["opt-in only", { inject: "true" }],
    ["inject labels and probes", { inject: "true", app: "shop", version: "v1", "probe-port": "http" }],
    [
      "a full canary",
      {
        ...CANARY,
        "virtual-service": "checkout",
        steps: "5,10,20,50,100",
        interval: "1m30s",
        threshold: "2",
        "max-error-rate": "1%",
        "max-latency-p95": "500ms",
        "max-latency-p99": "1s",
        "min-requests": "10",
        "header-route": "x-canary-test=true",
        "max-inconclusive": "3",
      },
    ],
    ["a canary by step-weight", { ...CANARY, "step-weight": "10", "max-weight": "50" }],
    ["a canary on Istio, said so", { ...CANARY, router: "istio", "virtual-service": "checkout" }],
    [
      "a canary on the Gateway API",
      { ...CANARY, router: "gateway-api", route: "checkout", "canary-service": "checkout-canary" },
    ],
    ["blue-green with its Service", { strategy: "blue-green", service: "myapp", "smoke-path": "/health" }],
    ["rolling with auto-rollback", { strategy: "rolling", "auto-rollback": "true" }],
    ["manual control", { paused: "true", promote: "false", abort: "false" }],
    ["greenlight's own status keys", { injected: "app=a,version=b", status: "anything at all" }],
  ])("%s", (_what, annotations) => {
    expect(validateAnnotations(gl(annotations))).toEqual({ errors: [], warnings: [] });
  });

  it("ignores annotations outside greenlight.dev/", () => {
    const report = validateAnnotations({
      "kubectl.kubernetes.io/last-applied-configuration": "{}",
      "greenlight.io/strategy": "nonsense",
      "sub.greenlight.dev/steps": "5,3",
    });
    expect(report).toEqual({ errors: [], warnings: [] });
  });

  it("accepts undefined annotations", () => {
    expect(validateAnnotations(undefined)).toEqual({ errors: [], warnings: [] });
  });
});

describe("invalid values: one error per annotation, naming it and what is accepted", () => {
  it.each([
    ["inject", "yes", '"true" or "false"'],
    ["app", "My App", "a label value"],
    ["version", "-v1", "a label value"],
    ["probe-port", "HTTP", "a port number from 1 to 65535 or a port name"],
    ["probe-port", "70000", "a port number from 1 to 65535 or a port name"],
    ["liveness-path", "health", "an absolute HTTP path"],
    ["readiness-path", "/a b", "an absolute HTTP path"],
    ["strategy", "bluegreen", '"canary", "blue-green", "rolling"'],
    ["virtual-service", "Checkout", "a Kubernetes object name"],
    ["router", "nginx", '"istio", "gateway-api"'],
    ["router", "Istio", '"istio", "gateway-api"'],
    ["route", "Checkout", "a Kubernetes object name"],
    ["canary-service", "checkout.canary", "a Service name"],
    ["steps", "5,3", "strictly increasing"],
    ["steps", "0,10", "integers from 1 to 100"],
    ["steps", "10,200", "integers from 1 to 100"],
    ["step-weight", "0", "an integer from 1 to 100"],
    ["max-weight", "150", "an integer from 1 to 100"],
    ["interval", "0s", '"1m30s"'],
    ["interval", "5", '"1m30s"'],
    ["interval", "5d", '"1m30s"'],
    ["threshold", "0", "an integer from 1 to 100"],
    ["max-error-rate", "101%", 'a percentage like "1%"'],
    ["max-error-rate", "1.5", "a fraction below 1"],
    ["max-latency-p95", "fast", '"500ms"'],
    ["max-latency-p99", "0ms", '"500ms"'],
    ["min-requests", "-1", "an integer from 0 to 1000000000"],
    ["header-route", "X-Canary=true", "x-canary-test=true"],
    ["service", "1web", "a Service name"],
    ["smoke-path", "health", "an absolute HTTP path"],
    ["auto-promote", "on", '"true" or "false"'],
    ["auto-rollback", "1", '"true" or "false"'],
    ["paused", "TRUE", '"true" or "false"'],
    ["promote", "now", '"true" or "false"'],
    ["abort", "yes", '"true" or "false"'],
  ])("%s: %j", (key, raw, accepted) => {
    const report = validateAnnotations(gl({ [key]: raw }));
    expect(report.errors).toHaveLength(1);
    const [error] = report.errors;
    expect(error).toMatch(new RegExp(`^greenlight\\.dev/${key}: `));
    expect(error).toContain(JSON.stringify(raw));
    expect(error).toContain("accepted: ");
    expect(error).toContain(accepted);
  });

  it("reports every invalid annotation, not only the first", () => {
    const report = validateAnnotations(gl({ ...CANARY, steps: "5,3", interval: "0s", "max-error-rate": "2" }));
    expect(report.errors.map((e) => e.split(":")[0])).toEqual([
      "greenlight.dev/steps",
      "greenlight.dev/interval",
      "greenlight.dev/max-error-rate",
    ]);
  });

  it("has a test row for every key that can be invalid", () => {
    const free = ["injected", "status"];
    for (const key of Object.keys(KEYS)) {
      if (free.includes(key)) continue;
      const report = validateAnnotations(gl({ [key]: "\u0000not valid\u0000" }));
      expect(report.errors.some((e) => e.startsWith(`greenlight.dev/${key}: `))).toBe(true);
    }
  });
});

describe("unknown greenlight.dev/ keys: warnings naming the closest known key", () => {
  it.each([
    ["stategy", "strategy"],
    ["Strategy", "strategy"],
    ["step", "steps"],
    ["max-weigth", "max-weight"],
    ["virtualservice", "virtual-service"],
    ["probe_port", "probe-port"],
    ["max-latency-p90", "max-latency-p95"],
    ["abrot", "abort"],
    ["injcet", "inject"],
  ])("greenlight.dev/%s -> greenlight.dev/%s", (typo, key) => {
    const report = validateAnnotations(gl({ [typo]: "x" }));
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([
      `greenlight.dev/${typo} is not a greenlight annotation; did you mean greenlight.dev/${key}?`,
    ]);
  });

  it("warns without a suggestion when nothing is close", () => {
    expect(validateAnnotations(gl({ "owner-team": "payments" })).warnings).toEqual([
      "greenlight.dev/owner-team is not a greenlight annotation",
    ]);
  });

  it("does not reject an unknown key, whatever its value", () => {
    expect(validateAnnotations(gl({ stategy: "nonsense" })).errors).toEqual([]);
  });
});

describe("combinations", () => {
  it("rejects steps together with step-weight or max-weight", () => {
    const extras: Record<string, string>[] = [
      { "step-weight": "10" },
      { "max-weight": "50" },
      { "step-weight": "10", "max-weight": "50" },
    ];
    for (const extra of extras) {
      const report = validateAnnotations(gl({ ...CANARY, steps: "5,10", ...extra }));
      expect(report.errors).toEqual([
        "greenlight.dev/steps and greenlight.dev/step-weight/greenlight.dev/max-weight conflict: set one of them",
      ]);
    }
  });

  it("rejects max-weight below step-weight", () => {
    const report = validateAnnotations(gl({ ...CANARY, "step-weight": "20", "max-weight": "10" }));
    expect(report.errors).toEqual(["greenlight.dev/max-weight (10) is below greenlight.dev/step-weight (20)"]);
    expect(validateAnnotations(gl({ ...CANARY, "step-weight": "20", "max-weight": "20" })).errors).toEqual([]);
  });

  it("rejects blue-green without a service, naming both annotations", () => {
    const report = validateAnnotations(gl({ strategy: "blue-green" }));
    expect(report.errors).toEqual([
      "greenlight.dev/service is required with greenlight.dev/strategy: blue-green (the Service to switch)",
    ]);
  });

  it('rejects promote and abort both "true"', () => {
    expect(validateAnnotations(gl({ promote: "true", abort: "true" })).errors).toEqual([
      'greenlight.dev/promote and greenlight.dev/abort are both "true": set one',
    ]);
    expect(validateAnnotations(gl({ promote: "true", abort: "false" })).errors).toEqual([]);
  });

  it.each([
    ["canary keys without a strategy", {}, ["steps", "canary"]],
    ["canary keys under blue-green", { strategy: "blue-green", service: "web" }, ["interval", "canary"]],
    ["blue-green keys under canary", CANARY, ["smoke-path", "blue-green"]],
    ["rolling keys under canary", CANARY, ["auto-rollback", "rolling"]],
    ["canary keys under rolling", { strategy: "rolling" }, ["header-route", "canary"]],
  ])("warns about %s", (_what, base, [key, scope]) => {
    const value = {
      steps: "5,10",
      interval: "5m",
      "smoke-path": "/health",
      "auto-rollback": "true",
      "header-route": "x=1",
    }[key as string] as string;
    const report = validateAnnotations(gl({ ...base, [key as string]: value }));
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([
      `greenlight.dev/${key} has no effect without greenlight.dev/strategy: ${scope}; it is ignored`,
    ]);
  });

  it.each([
    ["Gateway API keys under the default router", {}, ["route", "canary-service"], "istio"],
    ["Gateway API keys under router istio", { router: "istio" }, ["canary-service"], "istio"],
    ["the VirtualService under router gateway-api", { router: "gateway-api" }, ["virtual-service"], "gateway-api"],
  ] as const)("warns about %s: the other router's keys are ignored", (_what, base, keys, router) => {
    const extra = Object.fromEntries(keys.map((key) => [key, "checkout"]));
    const report = validateAnnotations(gl({ ...CANARY, ...base, ...extra }));
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual(
      keys.map((key) => `greenlight.dev/${key} has no effect with greenlight.dev/router: ${router}; it is ignored`),
    );
  });

  it("does not warn about keys of any scope that applies everywhere", () => {
    const report = validateAnnotations(
      gl({ strategy: "rolling", inject: "true", app: "a", paused: "false", injected: "none" }),
    );
    expect(report).toEqual({ errors: [], warnings: [] });
  });
});

describe("custom checks greenlight.dev/check.<name>", () => {
  const check = (name: string, body: unknown) => ({
    ...gl(CANARY),
    [`greenlight.dev/check.${name}`]: typeof body === "string" ? body : JSON.stringify(body),
  });

  it.each([
    ["max", { query: 'sum(rate(http_requests_total{namespace="{{namespace}}",code=~"5.."}[{{interval}}]))', max: 0.5 }],
    ["min", { query: "avg(up{deployment='{{deployment}}', version='{{ version }}'})", min: 1 }],
    ["service", { query: 'histogram_quantile(0.9, rate(x{svc="{{service}}"}[5m]))', max: 250 }],
    ["no variables", { query: "vector(1)", max: 0 }],
    ["negative bound", { query: "deriv(x[5m])", min: -1.5 }],
  ])("accepts %s", (name, body) => {
    expect(validateAnnotations(check(name.replace(/ /g, "-"), body))).toEqual({ errors: [], warnings: [] });
  });

  it.each([
    ["not JSON", "{query: x}", "not JSON"],
    ["a JSON array", "[]", "not a JSON object"],
    ["JSON null", "null", "not a JSON object"],
    ["no query", { max: 1 }, '"query" is missing'],
    ["an empty query", { query: "  ", max: 1 }, '"query" is missing'],
    ["neither max nor min", { query: "x" }, 'set exactly one of "max" and "min"'],
    ["both max and min", { query: "x", max: 1, min: 0 }, 'set exactly one of "max" and "min"'],
    ["a string bound", { query: "x", max: "1" }, '"max" must be a finite number'],
    ["a null bound", { query: "x", min: null }, '"min" must be a finite number'],
    ["an unknown field", { query: "x", max: 1, window: "5m" }, 'unknown field "window"'],
    ["an unknown template variable", { query: "x{pod='{{pod}}'}", max: 1 }, "unknown template variable {{pod}}"],
    ["a misspelt template variable", { query: "x{ns='{{namepsace}}'}", max: 1 }, "unknown template variable"],
    ["unbalanced brackets", { query: "sum(rate(x[5m])", max: 1 }, "unbalanced brackets or quotes"],
    ["an unclosed quote", { query: 'x{a="b}', max: 1 }, "unbalanced brackets or quotes"],
  ])("rejects %s", (_what, body, reason) => {
    const report = validateAnnotations(check("errors", body));
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatch(/^greenlight\.dev\/check\.errors: /);
    expect(report.errors[0]).toContain(reason);
  });

  it("says which template variables are known when it rejects a check", () => {
    const [error] = validateAnnotations(check("errors", { query: "{{pod}}", max: 1 })).errors;
    for (const variable of ["namespace", "deployment", "version", "service", "interval"]) {
      expect(error).toContain(`{{${variable}}}`);
    }
    expect(error).toContain('"max"');
  });

  it.each(["Errors", "-errors", "errors-", "err_rate", "", "a".repeat(43)])("rejects the check name %j", (name) => {
    const report = validateAnnotations(check(name, { query: "x", max: 1 }));
    expect(report.errors).toEqual([
      `greenlight.dev/check.${name}: check name "${name}" is invalid: accepted: lower-case alphanumerics and '-'`,
    ]);
  });

  it("warns that checks do nothing without strategy canary", () => {
    const annotations = { "greenlight.dev/check.errors": JSON.stringify({ query: "x", max: 1 }) };
    expect(validateAnnotations(annotations)).toEqual({
      errors: [],
      warnings: ["greenlight.dev/check.* checks have no effect without greenlight.dev/strategy: canary"],
    });
  });

  it("parses and renders a check", () => {
    const parsed = parseCustomCheck(
      "errors",
      JSON.stringify({ query: 'x{ns="{{ namespace }}"}[{{interval}}]', max: 2 }),
    );
    expect(parsed).toEqual({
      ok: true,
      value: { name: "errors", query: 'x{ns="{{ namespace }}"}[{{interval}}]', max: 2 },
    });
    if (!parsed.ok) return;
    const rendered = renderQuery(parsed.value.query, {
      namespace: "shop",
      deployment: "checkout",
      version: "v2",
      service: "checkout",
      interval: "5m",
    });
    expect(rendered).toBe('x{ns="shop"}[5m]');
  });
});

describe("UPDATE: an unchanged invalid value is only warned about", () => {
  it("warns instead of rejecting when the invalid value did not change", () => {
    const before = gl({ ...CANARY, steps: "5,3" });
    const report = validateAnnotations(before, before);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toMatch(/^unchanged, so not rejected: greenlight\.dev\/steps: "5,3" is invalid: /);
  });

  it("rejects an invalid value that changed, even from another invalid value", () => {
    const report = validateAnnotations(gl({ ...CANARY, steps: "5,4" }), gl({ ...CANARY, steps: "5,3" }));
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatch(/^greenlight\.dev\/steps: "5,4"/);
  });

  it("rejects an invalid value that is new on this UPDATE", () => {
    expect(validateAnnotations(gl({ interval: "0s" }), {}).errors).toHaveLength(1);
    expect(validateAnnotations(gl({ interval: "0s" }), gl({ interval: "5m" })).errors).toHaveLength(1);
  });

  it("warns about an unchanged bad check and an unchanged bad check name", () => {
    const before = { ...gl(CANARY), "greenlight.dev/check.errors": "{", "greenlight.dev/check.Bad": "{}" };
    const report = validateAnnotations(before, before);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toHaveLength(2);
    for (const warning of report.warnings) expect(warning).toMatch(/^unchanged, so not rejected: /);
  });

  it("warns about a combination that was already there, when neither annotation changed", () => {
    const before = gl({ ...CANARY, steps: "5,10", "step-weight": "10" });
    const report = validateAnnotations({ ...before, "greenlight.dev/paused": "true" }, before);
    expect(report.errors).toEqual([]);
    expect(report.warnings.some((w) => w.includes("conflict") && w.startsWith("unchanged, so not rejected: "))).toBe(
      true,
    );
  });

  it("without previous annotations (CREATE) every problem is an error", () => {
    const report = validateAnnotations(gl({ ...CANARY, steps: "5,3" }), undefined);
    expect(report.errors).toHaveLength(1);
    expect(report.warnings).toEqual([]);
  });
});

// A combination is only grandfathered when every annotation it involves is unchanged: a problem created on this
// UPDATE by changing either side is rejected.
describe("UPDATE: a combination made invalid by this UPDATE is rejected", () => {
  it.each([
    [
      "step-weight added next to unchanged steps",
      { ...CANARY, steps: "5,10" },
      { ...CANARY, steps: "5,10", "step-weight": "10" },
      "conflict",
    ],
    ["promote set while abort was already true", { abort: "true" }, { abort: "true", promote: "true" }, "are both"],
    [
      "service removed from an unchanged blue-green strategy",
      { strategy: "blue-green", service: "myapp" },
      { strategy: "blue-green" },
      "is required",
    ],
    [
      "step-weight raised above an unchanged max-weight",
      { ...CANARY, "step-weight": "10", "max-weight": "50" },
      { ...CANARY, "step-weight": "60", "max-weight": "50" },
      "is below",
    ],
  ])("%s", (_what, before, after, reason) => {
    const report = validateAnnotations(gl(after), gl(before));
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toContain(reason);
  });

  it("rejects abort set while promote was already true (the symmetric case, which works)", () => {
    const report = validateAnnotations(gl({ promote: "true", abort: "true" }), gl({ promote: "true" }));
    expect(report.errors).toEqual(['greenlight.dev/promote and greenlight.dev/abort are both "true": set one']);
  });
});
