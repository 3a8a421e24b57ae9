// The simulated cluster's contents for one scenario: the seed's canary pair (myapp-v1 stable, myapp-v2 canary), its
// Service, DestinationRule and VirtualService, and the user actions that change them on the timeline.
import type { V1Deployment, V1PodTemplateSpec } from "@kubernetes/client-node";
import { STATUS_ANNOTATION } from "../../functions/canary/status.ts";
import type { VirtualService } from "../../functions/canary/virtual-service.ts";
import { annotationName } from "../../functions/contract/annotations.ts";
import type { SimCluster } from "./cluster.ts";
import type { RevisionProfile, Scenario, UserAction } from "./scenario.ts";

export const NAMESPACE = "sim";
export const APP = "myapp";
export const STABLE = "myapp-v1";
export const CANARY = "myapp-v2";
export const HEADER = "x-canary";
/** The blue/green pair: Service `shop` switches between shop-blue and shop-green. */
export const SHOP = "shop";
/** The Deployment the rolling guard watches. */
export const ROLLING = "catalog";

const template = (version: string, image: string, app = APP): V1PodTemplateSpec => ({
  metadata: { labels: { app, version } },
  spec: { containers: [{ name: app, image, ports: [{ containerPort: 8080 }] }] },
});

function deployment(
  name: string,
  version: string,
  scenario: Scenario,
  annotations: Record<string, string> = {},
  app = APP,
) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NAMESPACE, labels: { app }, annotations },
    spec: {
      replicas: scenario.replicas,
      selector: { matchLabels: { app, version } },
      progressDeadlineSeconds: scenario.progressDeadlineSeconds,
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: scenario.maxSurge, maxUnavailable: scenario.maxUnavailable },
      },
      template: template(version, `registry.example/${app}:${version}`, app),
    },
  } satisfies V1Deployment;
}

const service = (name: string, selector: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: NAMESPACE },
  spec: { selector, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
});

export function virtualService(): VirtualService {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: APP, namespace: NAMESPACE, labels: { team: "shop" } },
    spec: {
      hosts: [APP],
      http: [
        {
          name: "primary",
          route: [
            { destination: { host: APP, subset: "stable" }, weight: 100 },
            { destination: { host: APP, subset: "canary" }, weight: 0 },
          ],
          timeout: "5s",
          retries: { attempts: 2, perTryTimeout: "2s" },
        },
      ],
    },
  };
}

export const prefixed = (annotations: Record<string, string>) =>
  Object.fromEntries(Object.entries(annotations).map(([key, value]) => [annotationName(key), value]));

/** Puts the scenario's objects into the cluster. */
export function populate(cluster: SimCluster, scenario: Scenario): void {
  cluster.put("Deployment", deployment(STABLE, "v1", scenario));
  cluster.put("Deployment", deployment(CANARY, "v2", scenario, prefixed(scenario.annotations)));
  cluster.put("Service", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: APP, namespace: NAMESPACE },
    spec: { selector: { app: APP }, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
  });
  cluster.put("DestinationRule", {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: APP, namespace: NAMESPACE },
    spec: {
      host: APP,
      subsets: [
        { name: "stable", labels: { version: "v1" } },
        { name: "canary", labels: { version: "v2" } },
      ],
    },
  });
  cluster.put("VirtualService", virtualService());
  if (scenario.blueGreen) {
    const blueGreen = { [annotationName("strategy")]: "blue-green", [annotationName("service")]: SHOP };
    cluster.put("Deployment", deployment(`${SHOP}-blue`, "blue", scenario, blueGreen, SHOP));
    cluster.put(
      "Deployment",
      deployment(`${SHOP}-green`, "green", scenario, { ...blueGreen, [annotationName("auto-promote")]: "true" }, SHOP),
    );
    cluster.put("Service", service(SHOP, { app: SHOP, version: "blue" }));
    cluster.put("Service", service(`${SHOP}-blue`, { app: SHOP, version: "blue" }));
    cluster.put("Service", service(`${SHOP}-green`, { app: SHOP, version: "green" }));
  }
  if (scenario.rolling) {
    const rolling = { [annotationName("strategy")]: "rolling", [annotationName("auto-rollback")]: "true" };
    cluster.put("Deployment", deployment(ROLLING, "v1", scenario, rolling, ROLLING));
  }
}

/** The blue/green colour the Service does not select: where a release goes. */
function idleColour(cluster: SimCluster): "blue" | "green" {
  const selected = cluster.peek<{ spec?: { selector?: Record<string, string> } }>("Service", NAMESPACE, SHOP);
  return selected?.spec?.selector?.version === "green" ? "blue" : "green";
}

/** What an action needs besides the cluster: a place to register the profile of a new pod template. */
export interface ActionHooks {
  /** A new template's profile, keyed by the template (the caller hashes it as the controller does). */
  registerTemplate(template: V1PodTemplateSpec, profile: RevisionProfile): void;
  bumps: number;
}

/** Applies one user action; returns a line saying what was done. */
export function applyAction(cluster: SimCluster, action: UserAction, scenario: Scenario, hooks: ActionHooks): string {
  const canary = cluster.get<V1Deployment>("Deployment", NAMESPACE, CANARY);
  const vs = cluster.get<VirtualService>("VirtualService", NAMESPACE, APP);
  switch (action.kind) {
    case "image-bump": {
      if (!canary?.spec) return "image bump skipped: no canary Deployment";
      hooks.bumps += 1;
      // A new build of the same version (a rebuilt tag, a config change): a new pod template, the same version label.
      const next = template("v2", `registry.example/${APP}:v2-build${hooks.bumps}`);
      canary.spec.template = next;
      hooks.registerTemplate(next, action.profile);
      cluster.put("Deployment", canary);
      return `new pod template of the canary (build ${hooks.bumps})`;
    }
    case "scale": {
      if (!canary?.spec) return "scale skipped: no canary Deployment";
      canary.spec.replicas = action.replicas;
      cluster.put("Deployment", canary);
      return `canary scaled to ${action.replicas}`;
    }
    case "weights": {
      const route = vs?.spec?.http?.find((entry) => entry.match === undefined);
      if (!vs || !route?.route) return "weight edit skipped: no VirtualService";
      for (const entry of route.route) {
        entry.weight = entry.destination.subset === "canary" ? action.canary : 100 - action.canary;
      }
      cluster.put("VirtualService", vs);
      return `weights edited by hand to canary ${action.canary}%`;
    }
    case "annotate": {
      if (!canary?.metadata) return "annotation skipped: no canary Deployment";
      const annotations = { ...canary.metadata.annotations };
      const key = annotationName(action.name);
      if (action.value === null) delete annotations[key];
      else annotations[key] = action.value;
      canary.metadata.annotations = annotations;
      cluster.put("Deployment", canary);
      return action.value === null ? `${key} removed` : `${key}: "${action.value}"`;
    }
    case "corrupt-status": {
      if (!vs?.metadata) return "corruption skipped: no VirtualService";
      vs.metadata.annotations = { ...vs.metadata.annotations, [STATUS_ANNOTATION]: '{"version":1,"phase":"Progr' };
      cluster.put("VirtualService", vs);
      return "status annotation corrupted";
    }
    case "delete-canary":
      cluster.remove("Deployment", NAMESPACE, CANARY);
      return "canary Deployment deleted";
    case "delete-virtual-service":
      cluster.remove("VirtualService", NAMESPACE, APP);
      return "VirtualService deleted";
    case "blue-green-release": {
      const colour = idleColour(cluster);
      const target = cluster.get<V1Deployment>("Deployment", NAMESPACE, `${SHOP}-${colour}`);
      const other = cluster.get<V1Deployment>(
        "Deployment",
        NAMESPACE,
        `${SHOP}-${colour === "blue" ? "green" : "blue"}`,
      );
      if (!target?.spec || !other?.metadata) return "blue/green release skipped: no pair";
      hooks.bumps += 1;
      const next = template(colour, `registry.example/${SHOP}:build${hooks.bumps}`, SHOP);
      target.spec.template = next;
      hooks.registerTemplate(next, action.profile);
      // The release moves auto-promote to the idle colour, as docs/OPERATIONS.md tells people to.
      target.metadata = {
        ...target.metadata,
        annotations: { ...target.metadata?.annotations, [annotationName("auto-promote")]: "true" },
      };
      const otherAnnotations = { ...other.metadata.annotations };
      delete otherAnnotations[annotationName("auto-promote")];
      other.metadata.annotations = otherAnnotations;
      cluster.put("Deployment", target);
      cluster.put("Deployment", other);
      return `blue/green release of build ${hooks.bumps} to ${colour}`;
    }
    case "rolling-release": {
      const target = cluster.get<V1Deployment>("Deployment", NAMESPACE, ROLLING);
      if (!target?.spec) return "rolling release skipped: no rolling Deployment";
      hooks.bumps += 1;
      const next = template("v1", `registry.example/${ROLLING}:build${hooks.bumps}`, ROLLING);
      target.spec.template = next;
      hooks.registerTemplate(next, action.profile);
      cluster.put("Deployment", target);
      return `rolling release of build ${hooks.bumps}`;
    }
    case "restore":
      if (!cluster.peek("VirtualService", NAMESPACE, APP)) cluster.put("VirtualService", virtualService());
      if (!cluster.peek("Deployment", NAMESPACE, CANARY)) {
        cluster.put("Deployment", deployment(CANARY, "v2", scenario, prefixed(scenario.annotations)));
      }
      return "deleted objects restored";
  }
}
