// The environment a CLI test runs greenlight in against the fake API server: its kubeconfig in a temp file, and a
// Prometheus nothing listens on ("down").
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { freePort } from "../../scripts/services/children.ts";

export async function fakeClusterEnv(api: FakeApiServer): Promise<NodeJS.ProcessEnv> {
  const dir = await mkdtemp(join(tmpdir(), "greenlight-kube-"));
  const kubeconfig = join(dir, "config");
  await writeFile(kubeconfig, api.kubeConfig().exportConfig());
  return { KUBECONFIG: kubeconfig, PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}` };
}
