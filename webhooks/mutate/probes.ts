// Adds httpGet liveness and readiness probes to containers that lack them; existing probes are never changed.
import { type Annotations, type PortRef, readOrWarn } from "../../functions/contract/annotations.ts";
import { sharedValue } from "../admission/patch-json.ts";
import { type DraftMap, openElement, openList, setValue } from "./draft.ts";
import { isObject, type JsonObject, readList, ShapeError } from "./shape.ts";

export const PROBE_DEFAULTS = {
  livenessPath: "/health",
  readinessPath: "/ready",
  liveness: { initialDelaySeconds: 60, periodSeconds: 30, failureThreshold: 3 },
  readiness: { initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 },
} as const;

export interface ProbeSettings {
  port?: PortRef;
  livenessPath: string;
  readinessPath: string;
  warnings: string[];
}

export function readProbeSettings(annotations: Annotations): ProbeSettings {
  const warnings: string[] = [];
  const port = readOrWarn(annotations, "probe-port", warnings);
  const settings: ProbeSettings = {
    livenessPath: readOrWarn(annotations, "liveness-path", warnings) ?? PROBE_DEFAULTS.livenessPath,
    readinessPath: readOrWarn(annotations, "readiness-path", warnings) ?? PROBE_DEFAULTS.readinessPath,
    warnings,
  };
  if (port !== undefined) settings.port = port;
  return settings;
}

/** The port a container's probes use, or a reason why it has none. */
function probePort(
  container: JsonObject,
  field: string,
  wanted: PortRef | undefined,
): { port: PortRef } | { missing: string } {
  const ports = readList(container, "ports", `${field}.ports`);
  if (typeof wanted === "number") return { port: wanted };
  if (typeof wanted === "string") {
    const named = ports.some((port) => isObject(port) && port.name === wanted);
    return named ? { port: wanted } : { missing: `has no port named "${wanted}"` };
  }
  const first = ports[0];
  if (first === undefined) return { missing: "has no containerPort" };
  if (!isObject(first) || typeof first.containerPort !== "number") {
    throw new ShapeError(`${field}.ports[0].containerPort`, "a number");
  }
  return { port: first.containerPort };
}

type ProbeKind = "liveness" | "readiness";

/** Probes made so far, by kind, port and path (nested maps: a key made of the three would be a new string to hash). */
const probes: Record<ProbeKind, Map<PortRef, Map<string, object>>> = { liveness: new Map(), readiness: new Map() };
/** A bounded few: a cluster's Deployments share a handful of probes; past this many, the memory starts over. */
const MAX_PROBES = 256;
let probeCount = 0;

/**
 * The probe of `kind` on `path` and `port`: one frozen object for each, made once and shared by every patch that
 * adds it, so its JSON text is made once too (sharedValue). Frozen: nothing downstream may change it.
 */
function probe(kind: ProbeKind, path: string, port: PortRef): object {
  let byPath = probes[kind].get(port);
  let made = byPath?.get(path);
  if (made !== undefined) return made;
  if (probeCount >= MAX_PROBES) {
    probes.liveness.clear();
    probes.readiness.clear();
    probeCount = 0;
    byPath = undefined;
  }
  if (byPath === undefined) {
    byPath = new Map();
    probes[kind].set(port, byPath);
  }
  made = sharedValue({ httpGet: { path, port }, ...PROBE_DEFAULTS[kind] });
  byPath.set(path, made);
  probeCount++;
  return made;
}

/** Adds probes to the containers of a pod spec (its draft); returns the warnings for containers it had to skip. */
export function injectProbes(podSpec: DraftMap, settings: ProbeSettings): string[] {
  const warnings: string[] = [];
  const field = "spec.template.spec.containers";
  const containers = openList(podSpec, "containers", readList(podSpec.before, "containers", field));
  containers.before.forEach((container, index) => {
    const at = `${field}[${index}]`;
    if (!isObject(container)) throw new ShapeError(at, "an object");
    const missingLiveness = container.livenessProbe === undefined || container.livenessProbe === null;
    const missingReadiness = container.readinessProbe === undefined || container.readinessProbe === null;
    if (!missingLiveness && !missingReadiness) return;
    const found = probePort(container, at, settings.port);
    if ("missing" in found) {
      const name = typeof container.name === "string" ? container.name : `#${index}`;
      warnings.push(`container ${name} ${found.missing}: probes not added (set greenlight.dev/probe-port)`);
      return;
    }
    const port = found.port;
    const edits = openElement(containers, index, container);
    if (missingLiveness) setValue(edits, "livenessProbe", probe("liveness", settings.livenessPath, port));
    if (missingReadiness) setValue(edits, "readinessProbe", probe("readiness", settings.readinessPath, port));
  });
  return warnings;
}
