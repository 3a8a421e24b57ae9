// The demo's cluster objects: a stable and a canary Deployment, a DestinationRule and a VirtualService at 100/0.
/*
 * The same shapes as scripts/fakes/canary-objects.ts's seed, plus the stable Deployment the canary rolls out over. The fake
 * API server runs no controllers, so each Deployment carries an Available status from the start: the demo's
 * "pods" are the in-process sample apps, up before the rollout begins.
 */

import { annotationName } from "../../functions/contract/annotations.ts";
import { rolledOutStatus } from "../fakes/canary-objects.ts";
import type { FakeApiServer, JsonObject } from "../fakes/kube/fake-apiserver.ts";

export const APP = "myapp";
export const STABLE = { name: "myapp-v1", version: "v1.0", subset: "v1" } as const;
export const CANARY = { name: "myapp-v2", version: "v2.0", subset: "v2" } as const;

export interface CanaryTuning {
  steps: readonly number[];
  intervalSeconds: number;
  /** Failed analyses in a row that roll back. */
  threshold: number;
  minRequests: number;
}

/**
 * The canary annotations. The latency gates are the contract's defaults, written out so that the demo shows them:
 * far above a healthy app's tens of milliseconds (a busy laptop's hiccups must not fail it), well below the faulty
 * version's slow tail.
 */
/** The gates the demo's canaries are judged by, also drawn on its chart: 1% of 5xx, a p99 of 1 s. */
export const DEMO_LIMITS = { errorRate: 0.01, p99Ms: 1000 } as const;

export function canaryAnnotations(tuning: CanaryTuning): Record<string, string> {
  return {
    [annotationName("strategy")]: "canary",
    [annotationName("virtual-service")]: APP,
    [annotationName("steps")]: tuning.steps.join(","),
    [annotationName("interval")]: `${tuning.intervalSeconds}s`,
    [annotationName("threshold")]: String(tuning.threshold),
    [annotationName("max-error-rate")]: `${DEMO_LIMITS.errorRate * 100}%`,
    [annotationName("max-latency-p95")]: "500ms",
    [annotationName("max-latency-p99")]: `${DEMO_LIMITS.p99Ms}ms`,
    [annotationName("min-requests")]: String(tuning.minRequests),
  };
}

function deployment(
  namespace: string,
  which: { name: string; version: string },
  annotations: Record<string, string>,
): JsonObject {
  const labels = { app: APP, version: which.version };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: which.name, namespace, labels, annotations },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name: APP, image: `example.com/${APP}:${which.version}`, ports: [{ containerPort: 8080 }] }],
        },
      },
    },
    status: rolledOutStatus(1),
  };
}

export function demoObjects(namespace: string, tuning: CanaryTuning): JsonObject[] {
  return [
    deployment(namespace, STABLE, {}),
    deployment(namespace, CANARY, canaryAnnotations(tuning)),
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: APP, namespace },
      spec: {
        host: APP,
        subsets: [
          { name: STABLE.subset, labels: { version: STABLE.version } },
          { name: CANARY.subset, labels: { version: CANARY.version } },
        ],
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: APP, namespace },
      spec: {
        hosts: [`${APP}.example.com`],
        http: [
          {
            route: [
              { destination: { host: APP, subset: STABLE.subset }, weight: 100 },
              { destination: { host: APP, subset: CANARY.subset }, weight: 0 },
            ],
          },
        ],
      },
    },
  ];
}

export function seedDemo(api: FakeApiServer, namespace: string, tuning: CanaryTuning): void {
  for (const object of demoObjects(namespace, tuning)) api.put(object);
}
