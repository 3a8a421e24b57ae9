// `npm run size` (not part of `npm test`, see sizing.vitest.config.ts): the requests and limits in the manifests come from measured peaks: a real `greenlight step` pass over 500
// Deployments, and `greenlight webhook serve` answering AdmissionReviews, each run from the TypeScript sources
// (the larger of the two ways the CLI runs) with a cold compile cache, as a fresh container starts.
import type { Deployment } from "kubernetes-types/apps/v1.js";
import type { CronJob } from "kubernetes-types/batch/v1.js";
import type { ResourceRequirements } from "kubernetes-types/core/v1.js";
import { describe, expect, it } from "vitest";
import { renderAll } from "./kustomize.ts";
import { measureStepPass, measureWebhookServe } from "./memory.ts";

const rendered = renderAll();

function mebibytes(quantity: string | number | undefined): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(String(quantity));
  if (!match) throw new Error(`memory "${quantity}" is not written in Mi or Gi`);
  return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
}

function resourcesOf(kustomization: string, kind: "Deployment" | "CronJob"): ResourceRequirements {
  const object = rendered.get(kustomization)?.find((o) => o.kind === kind);
  const template =
    kind === "CronJob"
      ? (object as unknown as CronJob | undefined)?.spec?.jobTemplate.spec?.template
      : (object as unknown as Deployment | undefined)?.spec?.template;
  const resources = template?.spec?.containers[0]?.resources;
  if (!resources) throw new Error(`manifests/${kustomization}: no ${kind} resources`);
  return resources;
}

/** The peak a container's memory limit would see: the whole process tree where /proc tells, else the process. */
const peakOf = (measured: { maxRssMiB: number; sampledTreeRssMiB?: number }) =>
  Math.max(measured.maxRssMiB, measured.sampledTreeRssMiB ?? 0);

describe("memory requests and limits", () => {
  it("cover a stepper pass over 500 Deployments, with half again as much under the limit", {
    timeout: 180_000,
  }, async () => {
    const measured = await measureStepPass(500, { fromSource: true });
    expect(measured.exitCode).toBe(0);
    expect({ canaries: measured.canaries, blueGreen: measured.blueGreen, rolling: measured.rolling }).toEqual({
      canaries: 400,
      blueGreen: 50,
      rolling: 50,
    });
    expect(measured.prometheusQueries).toBeGreaterThan(0);
    const peak = peakOf(measured);
    for (const kustomization of ["stepper", "overlays/cluster-wide"]) {
      const { requests = {}, limits = {} } = resourcesOf(kustomization, "CronJob");
      expect(peak, `${kustomization}: the request covers the measured peak`).toBeLessThanOrEqual(
        mebibytes(requests.memory),
      );
      expect(peak * 1.5, `${kustomization}: the limit leaves headroom`).toBeLessThanOrEqual(mebibytes(limits.memory));
    }
  });

  it("cover the webhook server answering 2000 AdmissionReviews, 32 at a time", { timeout: 120_000 }, async () => {
    const measured = await measureWebhookServe(2000, { fromSource: true });
    expect(measured.statuses).toEqual({ 200: 2000 });
    const peak = peakOf(measured);
    const { requests = {}, limits = {} } = resourcesOf("base", "Deployment");
    expect(peak).toBeLessThanOrEqual(mebibytes(requests.memory));
    expect(peak * 2).toBeLessThanOrEqual(mebibytes(limits.memory));
  });
});
