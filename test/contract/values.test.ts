// Table tests of the annotation value parsers, the image -> version derivation and the syntax helpers.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KEYS, readAnnotation } from "../../functions/contract/annotations.ts";
import { closest, editDistance } from "../../functions/contract/closest.ts";
import { parseImageReference, versionFromImage } from "../../functions/contract/image.ts";
import { isDns1123Label, isLabelValue, isPortName, sanitizeLabelValue } from "../../functions/contract/syntax.ts";
import {
  type Parsed,
  parseBoolean,
  parseByteSize,
  parseChoice,
  parseDuration,
  parseHeaderRoute,
  parseHttpPath,
  parseInteger,
  parseLabelValue,
  parseLatency,
  parseObjectName,
  parsePort,
  parseRate,
  parseServiceName,
  parseSteps,
} from "../../functions/contract/values.ts";

/** Asserts a refusal that says what is accepted, and returns the problem text for further checks. */
function refused<T>(parsed: Parsed<T>): string {
  expect(parsed.ok).toBe(false);
  const problem = parsed.ok ? "" : parsed.problem;
  expect(problem).toMatch(/accepted: /);
  return problem;
}

const accepts = <T>(parsed: Parsed<T>, value: T) => expect(parsed).toEqual({ ok: true, value });

describe("parseBoolean", () => {
  it.each([
    ["true", true],
    ["false", false],
  ])("%s -> %s", (raw, value) => accepts(parseBoolean(raw), value));
  it.each(["True", "FALSE", "yes", "1", "", " true"])("refuses %j", (raw) => {
    expect(refused(parseBoolean(raw))).toBe('accepted: "true" or "false"');
  });
});

describe("parseByteSize", () => {
  it.each([
    ["65536", 65536],
    ["64KiB", 65536],
    ["64kib", 65536],
    ["512KB", 512_000],
    ["3MiB", 3 * 1024 * 1024],
    ["2 MB", 2_000_000],
    ["1024b", 1024],
  ])("%s -> %i bytes", (raw, bytes) => accepts(parseByteSize(raw, 1024, 10 * 1024 * 1024), bytes));
  it.each(["", "1023", "11MiB", "64 K", "1.5MiB", "-1", "64KiBs", "lots", "0x100"])("refuses %j", (raw) => {
    expect(refused(parseByteSize(raw, 1024, 10 * 1024 * 1024))).toContain("from 1024 to 10485760 bytes");
  });
});

describe("parseDuration", () => {
  it.each([
    ["30s", 30],
    ["5m", 300],
    ["1h", 3600],
    ["1m30s", 90],
    ["2h15m", 8100],
    ["1h0m1s", 3601],
    ["90m", 5400],
    ["0h5m", 300],
  ])("%s -> %i seconds", (raw, seconds) => accepts(parseDuration(raw), seconds));
  it.each(["0s", "0m", "0h0m0s", "5", "5d", "", "1.5m", "-5m", "5 m", "30S", "1s1m", "m", "5ms"])(
    "refuses %j",
    (raw) => {
      expect(refused(parseDuration(raw))).toContain('"1m30s"');
    },
  );
});

describe("parseInteger", () => {
  it.each([
    ["1", 1],
    ["100", 100],
    ["007", 7],
  ])("%s within 1..100 -> %i", (raw, value) => accepts(parseInteger(raw, 1, 100), value));
  it.each(["0", "101", "-1", "1.5", "1e2", "", " 5", "ten"])("refuses %j outside or not an integer", (raw) => {
    expect(refused(parseInteger(raw, 1, 100))).toBe("accepted: an integer from 1 to 100");
  });
});

describe("parseSteps", () => {
  it.each([
    ["5,10,20,50,100", [5, 10, 20, 50, 100]],
    ["50", [50]],
    ["1,100", [1, 100]],
    [" 5, 10 ,20", [5, 10, 20]],
  ])("%j -> %j", (raw, steps) => accepts(parseSteps(raw), steps));
  it.each([
    ["5,3", "3 does not increase on 5"],
    ["5,5", "5 does not increase on 5"],
    ["0,10", '"0" is not a weight'],
    ["10,101", '"101" is not a weight'],
    ["", '"" is not a weight'],
    ["5,,10", '"" is not a weight'],
    ["5,10,", '"" is not a weight'],
    ["5;10", '"5;10" is not a weight'],
    ["5%,10%", '"5%" is not a weight'],
    ["1.5,2", '"1.5" is not a weight'],
  ])("refuses %j: %s", (raw, reason) => {
    const problem = refused(parseSteps(raw));
    expect(problem).toContain(reason);
    expect(problem).toContain("strictly increasing");
  });
});

describe("parseRate", () => {
  it.each([
    ["1%", 0.01],
    ["0.5%", 0.005],
    ["100%", 1],
    ["0%", 0],
    ["0.01", 0.01],
    ["0.999", 0.999],
    ["0", 0],
  ])("%s -> %f", (raw, value) => {
    const parsed = parseRate(raw);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.value).toBeCloseTo(value, 12);
  });
  // A bare "1" is ambiguous (1% or 100%?), so fractions must be below 1.
  it.each(["1", "1.0", "101%", "1.01", "2", "-1%", "1 %", "%", ".5", "one", "", "1%%", "5e-1"])("refuses %j", (raw) => {
    expect(refused(parseRate(raw))).toContain('"1%"');
  });
});

describe("parseLatency", () => {
  it.each([
    ["500ms", 500],
    ["1.5s", 1500],
    ["250", 250],
    ["1s", 1000],
    ["0.5ms", 0.5],
  ])("%s -> %f ms", (raw, value) => accepts(parseLatency(raw), value));
  it.each(["0ms", "0", "0s", "-5ms", "1m", "5 ms", "ms", "", "1.5.2s", "500MS"])("refuses %j", (raw) => {
    expect(refused(parseLatency(raw))).toContain('"500ms"');
  });
});

describe("parseHeaderRoute", () => {
  it.each([
    ["x-canary-test=true", { header: "x-canary-test", value: "true" }],
    ["x-user=a=b", { header: "x-user", value: "a=b" }],
    ["cookie=canary", { header: "cookie", value: "canary" }],
    ["x1=%41", { header: "x1", value: "%41" }],
  ])("%s", (raw, route) => accepts(parseHeaderRoute(raw), route));
  it.each(["X-Canary=true", "=true", "x-canary", "x-canary=", "x canary=true", "x-canary=a b", "-x=1", "x_c=1", ""])(
    "refuses %j",
    (raw) => {
      expect(refused(parseHeaderRoute(raw))).toContain("x-canary-test=true");
    },
  );
});

describe("parsePort", () => {
  it.each([
    ["8080", 8080],
    ["1", 1],
    ["65535", 65535],
    ["http", "http"],
    ["http-metrics", "http-metrics"],
    ["9http", "9http"],
    ["a".repeat(15), "a".repeat(15)],
  ])("%s -> %j", (raw, port) => accepts(parsePort(raw), port));
  it.each(["0", "65536", "99999", "HTTP", "a--b", "-http", "http-", "a".repeat(16), "", "80.5", "http_2"])(
    "refuses %j",
    (raw) => {
      expect(refused(parsePort(raw))).toContain("a port number from 1 to 65535 or a port name");
    },
  );
});

describe("parseHttpPath", () => {
  it.each(["/health", "/", "/q/health/ready", "/ready?full=1", `/${"a".repeat(1023)}`])("accepts %j", (raw) => {
    accepts(parseHttpPath(raw), raw);
  });
  it.each(["health", "", "/with space", "/tab\there", "http://x/health", `/${"a".repeat(1024)}`, "/ünï"])(
    "refuses %j",
    (raw) => {
      expect(refused(parseHttpPath(raw))).toContain('"/health"');
    },
  );
});

describe("parseLabelValue", () => {
  it.each(["v1", "1.0.0", "a", "A_b.c-D", "x".repeat(63), "sha-9b2f8a4c1d3e"])("accepts %j", (raw) => {
    accepts(parseLabelValue(raw), raw);
  });
  it.each(["", "x".repeat(64), "-v1", "v1-", "_v", "v.", "has space", "a/b", "ünï", "v1:2"])("refuses %j", (raw) => {
    expect(refused(parseLabelValue(raw))).toContain("1-63 characters");
  });
});

describe("object, Service and choice names", () => {
  it.each(["web", "web.shop", "a-b.c-d", "1abc"])("object name %j", (raw) => accepts(parseObjectName(raw), raw));
  it.each(["Web", "-web", "web-", "web_1", "", `${"a".repeat(254)}`])("refuses object name %j", (raw) => {
    refused(parseObjectName(raw));
  });
  it.each(["web", "web-svc", "a".repeat(63)])("Service name %j", (raw) => accepts(parseServiceName(raw), raw));
  it.each(["1web", "web.shop", "Web", "web-", "a".repeat(64), ""])("refuses Service name %j", (raw) => {
    expect(refused(parseServiceName(raw))).toContain("starting with a letter");
  });
  it("parseChoice lists the choices", () => {
    accepts(parseChoice("b", ["a", "b"] as const), "b");
    expect(refused(parseChoice("c", ["a", "b"] as const))).toBe('accepted: "a", "b"');
  });
  it("strategy accepts exactly canary, blue-green and rolling", () => {
    for (const strategy of ["canary", "blue-green", "rolling"]) accepts(KEYS.strategy.parse(strategy), strategy);
    expect(refused(KEYS.strategy.parse("bluegreen"))).toBe('accepted: "canary", "blue-green", "rolling"');
  });
});

describe("per-key parsers in KEYS", () => {
  it.each([
    ["step-weight", "10", 10],
    ["max-weight", "100", 100],
    ["threshold", "2", 2],
    ["max-inconclusive", "3", 3],
    ["min-requests", "0", 0],
    ["interval", "5m", 300],
    ["max-error-rate", "1%", 0.01],
    ["max-latency-p95", "500ms", 500],
    ["max-latency-p99", "1s", 1000],
    ["paused", "true", true],
    ["auto-promote", "false", false],
    ["probe-port", "http", "http"],
    ["virtual-service", "checkout.shop", "checkout.shop"],
  ] as const)("%s: %j", (key, raw, value) => {
    expect(readAnnotation({ [`greenlight.dev/${key}`]: raw }, key)).toEqual({ present: true, ok: true, value });
  });
  it.each([
    ["step-weight", "0"],
    ["step-weight", "101"],
    ["max-weight", "0"],
    ["threshold", "0"],
    ["min-requests", "-1"],
    ["interval", "0s"],
    ["smoke-path", "health"],
  ] as const)("%s refuses %j", (key, raw) => {
    const read = readAnnotation({ [`greenlight.dev/${key}`]: raw }, key);
    expect(read.present && !read.ok && read.problem).toMatch(/accepted: /);
  });
  it("reads an absent annotation as absent", () => {
    expect(readAnnotation({}, "steps")).toEqual({ present: false });
    expect(readAnnotation(undefined, "steps")).toEqual({ present: false });
  });
});

describe("parseImageReference", () => {
  it.each([
    ["nginx", { repository: "nginx" }],
    ["nginx:1.27", { repository: "nginx", tag: "1.27" }],
    ["localhost:5000/myapp", { repository: "localhost:5000/myapp" }],
    ["localhost:5000/myapp:v2", { repository: "localhost:5000/myapp", tag: "v2" }],
    ["ghcr.io/acme/api@sha256:abc", { repository: "ghcr.io/acme/api", digest: "sha256:abc" }],
    ["ghcr.io/acme/api:v1@sha256:abc", { repository: "ghcr.io/acme/api", tag: "v1", digest: "sha256:abc" }],
    ["registry:5000/a/b:c@sha256:abc", { repository: "registry:5000/a/b", tag: "c", digest: "sha256:abc" }],
    [" nginx:1 ", { repository: "nginx", tag: "1" }],
  ])("%j", (image, ref) => expect(parseImageReference(image)).toEqual(ref));
});

describe("versionFromImage", () => {
  const hex64 = "9b2f8a4c1d3e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4";
  it.each([
    ["nginx:1.27.3", "1.27.3"],
    ["ghcr.io/acme/api:v2.0.0-rc.1", "v2.0.0-rc.1"],
    ["localhost:5000/myapp:v2", "v2"],
    ["acme/app:v1_2", "v1_2"],
    ["acme/app:V1", "V1"],
    [`acme/app@sha256:${hex64}`, "sha-9b2f8a4c1d3e"],
    [`acme/app@sha256:${hex64.toUpperCase()}`, "sha-9b2f8a4c1d3e"],
    [`localhost:5000/myapp@sha256:${hex64}`, "sha-9b2f8a4c1d3e"],
    [`acme/app:1.2@sha256:${hex64}`, "1.2"],
    ["acme/app:1.0+build.5", "1.0-build.5"],
    ["acme/app:__v1__", "v1"],
    ["acme/app:.-v1-.", "v1"],
  ])("%s -> %s", (image, version) => expect(versionFromImage(image)).toEqual({ version }));

  it("truncates a long tag to 63 characters", () => {
    const { version } = versionFromImage(`acme/app:${"a".repeat(128)}`);
    expect(version).toBe("a".repeat(63));
  });

  it("trims a truncated tag back to an alphanumeric end", () => {
    const tag = `${"a".repeat(61)}-._b`;
    const { version, note } = versionFromImage(`acme/app:${tag}`);
    expect(version).toBe("a".repeat(61));
    expect(note).toBeUndefined();
    expect(isLabelValue(version)).toBe(true);
  });

  it("trims a leading non-alphanumeric before the label", () => {
    expect(versionFromImage(`acme/app:_${"b".repeat(70)}`).version).toBe("b".repeat(62));
  });

  it.each([
    ["localhost:5000/myapp", 'image "localhost:5000/myapp" has no tag; version set to latest'],
    ["nginx", 'image "nginx" has no tag; version set to latest'],
    ["nginx:", 'image "nginx:" has no tag; version set to latest'],
    ["acme/app:___", 'image tag "___" has no label-safe characters; version set to latest'],
    ["acme/app@sha256:not-hex", 'image digest "sha256:not-hex" is not hex; version set to latest'],
    ["acme/app@sha256:abc123", 'image digest "sha256:abc123" is not hex; version set to latest'],
  ])("%s -> latest with a note", (image, note) => {
    expect(versionFromImage(image)).toEqual({ version: "latest", note });
  });
});

describe("syntax helpers", () => {
  it.each([
    ["v1.2.3", "v1.2.3"],
    ["1.0+build", "1.0-build"],
    ["--x--", "x"],
    ["***", ""],
    ["", ""],
    ["é-1", "1"],
    ["a".repeat(70), "a".repeat(63)],
  ])("sanitizeLabelValue(%j) -> %j", (text, label) => {
    expect(sanitizeLabelValue(text)).toBe(label);
    if (label !== "") expect(isLabelValue(label)).toBe(true);
  });
  it("sanitizeLabelValue gives a label value for any text, and the same text when it is one already", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: fc.constantFrom("a", "Z", "0", "-", "_", ".", "+", ":", "é", " "), maxLength: 80 }),
    );
    fc.assert(
      fc.property(text, (value) => {
        const label = sanitizeLabelValue(value);
        expect(isLabelValue(label)).toBe(true);
        if (isLabelValue(value)) expect(label).toBe(value);
        expect(sanitizeLabelValue(label)).toBe(label);
      }),
      { numRuns: 2000 },
    );
  });
  it("isLabelValue accepts the empty value (Kubernetes does)", () => expect(isLabelValue("")).toBe(true));
  it.each([
    ["http", true],
    ["h2c", true],
    ["8080", false],
    ["a--b", false],
    ["a".repeat(16), false],
  ])("isPortName(%j) -> %s", (name, valid) => expect(isPortName(name)).toBe(valid));
  it.each([
    ["web", true],
    ["a".repeat(63), true],
    ["a".repeat(64), false],
    ["web.shop", false],
  ])("isDns1123Label(%j) -> %s", (name, valid) => expect(isDns1123Label(name)).toBe(valid));
});

describe("closest", () => {
  it.each([
    ["stategy", "strategy"],
    ["Strategy", "strategy"],
    ["step", "steps"],
    ["max-latency-p90", "max-latency-p95"],
    ["virtualservice", "virtual-service"],
    ["probeport", "probe-port"],
    ["inejct", "inject"],
  ])("%s -> %s", (word, key) => expect(closest(word, Object.keys(KEYS))).toBe(key));
  it.each(["xyzzy", "completely-unrelated", "zz"])("%s -> nothing", (word) => {
    expect(closest(word, Object.keys(KEYS))).toBeUndefined();
  });
  it("editDistance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });
});
