// The renderer the manifest tests use (kustomize.ts) gives what kustomize itself gives, wherever kubectl is installed.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { idOf, kubectlKustomize, kustomizations, MANIFESTS, renderKustomization } from "./kustomize.ts";

const kubectl = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe("test/manifests/kustomize.ts", () => {
  it.skipIf(!kubectl)("renders every kustomization exactly as `kubectl kustomize` does", () => {
    for (const name of kustomizations()) {
      const dir = join(MANIFESTS, name);
      const byId = (objects: ReturnType<typeof renderKustomization>) =>
        Object.fromEntries(objects.map((object) => [idOf(object), object]));
      expect(byId(renderKustomization(dir)), name).toEqual(byId(kubectlKustomize(dir) ?? []));
    }
  });

  it("refuses kustomize features it does not render instead of ignoring them", async () => {
    const { mkdtemp, rm, writeFile } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "greenlight-kustomize-"));
    try {
      await writeFile(join(dir, "kustomization.yaml"), "resources: []\nnamePrefix: x-\n");
      expect(() => renderKustomization(dir)).toThrow(/"namePrefix" is not rendered/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
