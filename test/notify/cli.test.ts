// `greenlight step` with notifications from the environment, as the real binary against the fake API server: the
// receiver that answers gets the event, the one that is down is reported, and neither changes the exit code.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canaryDeployment, NAMESPACE, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { runCli } from "../cli/run.ts";
import { cloudEventsOf, downUrl, type Receiver, startReceiver } from "./receiver.ts";

let api: FakeApiServer;
let ce: Receiver;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  api = await startFakeApiServer();
  ce = await startReceiver();
  const dir = await mkdtemp(join(tmpdir(), "greenlight-notify-cli-"));
  const kubeconfig = join(dir, "config");
  await writeFile(kubeconfig, api.kubeConfig().exportConfig());
  env = {
    KUBECONFIG: kubeconfig,
    PROMETHEUS_URL: await downUrl(),
    GREENLIGHT_NOTIFY_SLACK_URL: await downUrl(),
    GREENLIGHT_NOTIFY_CLOUDEVENTS_URL: ce.url,
    GREENLIGHT_NOTIFY_ATTEMPTS: "2",
  };
});
afterAll(async () => {
  await ce.close();
  await api.close();
});

describe("greenlight step with notifications", () => {
  it("sends an abort's rollback once, reports the receiver that is down, and exits 0", async () => {
    seedCanary(api);
    const first = await runCli(["step", "--once", "-n", NAMESPACE], undefined, env);
    expect(first.code).toBe(0);
    expect(first.stderr).not.toMatch(/notifications:/);
    expect(ce.received).toHaveLength(0);

    const stored = api.get("apps/v1", "Deployment", NAMESPACE, "myapp-v2") as { metadata: Record<string, unknown> };
    const aborted = canaryDeployment({ annotations: { "greenlight.dev/abort": "true" } }) as {
      metadata: Record<string, unknown>;
    };
    api.put({ ...aborted, metadata: { ...aborted.metadata, resourceVersion: stored.metadata.resourceVersion } });
    const second = await runCli(["step", "--once", "-n", NAMESPACE], undefined, env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/myapp-v2\s+RolledBack/);
    expect(second.stderr).toMatch(/^notifications: 1 sent, 1 failed, 0 dropped$/m);
    expect(second.stderr).toMatch(/dev\.greenlight\.canary\.rolledback to slack http:\/\/127\.0\.0\.1:\d+: failed/);
    expect(second.stderr).not.toContain("/hook");
    expect(cloudEventsOf(ce)).toMatchObject([
      { type: "dev.greenlight.canary.rolledback", subject: `${NAMESPACE}/myapp-v2` },
    ]);

    const third = await runCli(["step", "--once", "-n", NAMESPACE, "-o", "json"], undefined, env);
    expect(JSON.parse(third.stdout).notifications).toMatchObject({ sent: 0, failed: 0, dropped: 0 });
    expect(ce.received).toHaveLength(1);
  });
});
