// The Kubernetes clients every part of greenlight that talks to a cluster shares (client-node 1.4's typed APIs).
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  EventsV1Api,
  type KubeConfig,
} from "@kubernetes/client-node";

export const REPORTING_CONTROLLER = "greenlight.dev/stepper";

export interface KubeClients {
  apps: AppsV1Api;
  /** Services, Pods and the service proxy (blue/green and the rolling guard). */
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** EndpointSlices (blue/green's verification after a switch). */
  discovery: DiscoveryV1Api;
  events: EventsV1Api;
  /** Identifies this run in Events (`reportingInstance`). */
  instance: string;
}

export function createKubeClients(config: KubeConfig, instance = "greenlight-stepper"): KubeClients {
  return {
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    discovery: config.makeApiClient(DiscoveryV1Api),
    events: config.makeApiClient(EventsV1Api),
    instance,
  };
}
