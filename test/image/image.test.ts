// The container image (Containerfile), built with buildah as `npm run image` builds it, then run as its non-root
// user: `greenlight --version`, the webhook server answering a real AdmissionReview over HTTPS with certificates
// `greenlight certs` wrote inside the image, and a dry-run stepper pass against the fake API server. Then the same
// with the root file system read-only, and a look at what the runs wrote (nothing, outside /tmp).
//
// No registry is reachable here, so the base is made locally (scripts/image/local-base.ts: debootstrap and this
// machine's Node) and kept with the layer cache in ~/.cache/greenlight-image (scripts/image/cache.ts). The first run
// makes the base (debootstrap, 40 to 100 s) and the npm layer; later runs reuse both, and take seconds plus the CLI
// build when sources changed.
// buildah and debootstrap are installed with apt-get when missing; the file is skipped only when that cannot be.
import { spawnSync } from "node:child_process";
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reviewOf } from "../../scripts/fakes/admission-review.ts";
import { NAMESPACE, seedCanary } from "../../scripts/fakes/canary-objects.ts";
import { type FakeApiServer, startFakeApiServer } from "../../scripts/fakes/kube/fake-apiserver.ts";
import { buildImage, gitRevision, packageVersion, ROOT } from "../../scripts/image/build.ts";
import { type Builder, installDebianPackages, runBuilder } from "../../scripts/image/builder.ts";
import { cacheStorage, pruneKeepingBuildStage } from "../../scripts/image/cache.ts";
import {
  createContainer,
  freePort,
  httpsRequest,
  type ImageConfig,
  imageConfig,
  removeContainer,
  removeLeftoverContainers,
  runInContainer,
  startInContainer,
  stopProcess,
  waitForHealthz,
} from "../../scripts/image/container.ts";
import { ensureLocalBase } from "../../scripts/image/local-base.ts";
import type { AdmissionReviewResponse } from "../../webhooks/admission/review.ts";
import { applyOps, patchOf, validateDeployment } from "../webhooks/support.ts";
import { readOnlyRootUnavailable, runReadOnly, startReadOnly } from "./read-only.ts";

const log = (line: string) => process.stderr.write(`[image] ${line}\n`);

/** Why no image can be built here (buildah missing and not installable), else undefined. */
async function builderUnavailable(): Promise<string | undefined> {
  const missing = await installDebianPackages({ buildah: "buildah", debootstrap: "debootstrap" }, log);
  if (!missing.includes("buildah")) return undefined;
  return process.getuid?.() === 0
    ? "buildah is not installed and apt-get could not install it"
    : "buildah is not installed, and installing it with apt-get needs root";
}

const skipped = await builderUnavailable();
const readOnlySkipped = skipped ?? readOnlyRootUnavailable();

const DEPLOYMENT = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "myapp", namespace: NAMESPACE, annotations: { "greenlight.dev/inject": "true" } },
  spec: {
    selector: { matchLabels: { app: "myapp" } },
    template: {
      metadata: { labels: { app: "myapp" } },
      spec: { containers: [{ name: "myapp", image: "myapp:v2.0", ports: [{ containerPort: 8080 }] }] },
    },
  },
};

/**
 * Preloaded with --require: reports on stderr every serialization of a V8 code cache and every file write or rename
 * through node:fs (the ES module bindings of node:fs are synced, as scripts/greenlight.mjs imports them).
 */
const WRITE_PROBE = `
const fs = require("node:fs");
const vm = require("node:vm");
const { syncBuiltinESMExports } = require("node:module");
const report = (what) => process.stderr.write("probe: " + what + "\\n");
for (const name of ["writeFileSync", "renameSync", "writeFile", "rename"]) {
  const original = fs[name];
  fs[name] = function (...args) {
    report(name + " " + String(args[0]));
    return original.apply(this, args);
  };
}
syncBuiltinESMExports();
const createCachedData = vm.Script.prototype.createCachedData;
vm.Script.prototype.createCachedData = function () {
  report("createCachedData");
  return createCachedData.call(this);
};
`;

/** POSTs a review of DEPLOYMENT to /mutate and checks the patch the webhook answers with. */
async function expectMutation(port: number, ca: string): Promise<void> {
  const review = reviewOf(DEPLOYMENT);
  const answer = await httpsRequest(port, ca, { method: "POST", path: "/mutate", body: JSON.stringify(review) });
  expect(answer.status).toBe(200);
  const { response } = JSON.parse(answer.body) as AdmissionReviewResponse;
  expect(response).toMatchObject({ uid: review.request.uid, allowed: true, patchType: "JSONPatch" });
  const ops = patchOf(response);
  expect(ops).toContainEqual({ op: "add", path: "/spec/template/metadata/labels/version", value: "v2.0" });
  validateDeployment(applyOps(DEPLOYMENT, ops));
}

/** Every file and directory under `dir`, without following symbolic links. */
async function walk(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    found.push(file);
    if (entry.isDirectory()) found.push(...(await walk(file)));
  }
  return found;
}

describe(".containerignore and .dockerignore", () => {
  it("are the same file, and let in only what the build needs (no tests, docs, .greenlight, node_modules, dist, .git)", async () => {
    const containerignore = await readFile(path.join(ROOT, ".containerignore"), "utf8");
    expect(await readFile(path.join(ROOT, ".dockerignore"), "utf8")).toBe(containerignore);
    const patterns = containerignore.split("\n").filter((line) => line.trim() && !line.startsWith("#"));
    expect(patterns[0]).toBe("*");
    const allowed = patterns.filter((line) => line.startsWith("!")).map((line) => line.slice(1).replace(/\/$/, ""));
    expect(allowed.sort()).toEqual([
      "functions",
      "package-lock.json",
      "package.json",
      "scripts",
      "tsconfig.json",
      "webhooks",
    ]);
    for (const kept of ["**/.greenlight", "**/node_modules", "**/dist"]) expect(patterns).toContain(kept);
  });
});

describe.skipIf(skipped !== undefined)(`the container image${skipped ? ` (skipped: ${skipped})` : ""}`, () => {
  let builder: Builder;
  let tag: string;
  let version: string;
  let config: ImageConfig;
  let container: string;
  let rootfs: string;
  let work: string;
  let certs: string;
  let ca: string;
  let kube: string;
  let api: FakeApiServer;
  let prometheus: string;
  /** Touched before the first command runs in the container: what is newer was written by the runs. */
  let marker: string;

  beforeAll(async () => {
    const started = performance.now();
    builder = { kind: "buildah", storage: await cacheStorage(log) };
    const base = await ensureLocalBase({ builder, log });
    version = await packageVersion();
    tag = `localhost/greenlight:${version}`;
    const options = { builder, tag, base, version, log };
    await buildImage(options);
    await pruneKeepingBuildStage(options);
    config = await imageConfig(builder, tag);
    await removeLeftoverContainers(builder, "greenlight-image-test-");
    container = await createContainer(builder, tag, `greenlight-image-test-${process.pid}`);
    rootfs = (await runBuilder(builder, ["mount", container])).trim();

    work = await mkdtemp(path.join(tmpdir(), "greenlight-image-test-"));
    marker = path.join(work, "marker");
    await writeFile(marker, "");
    // The directories are mounted into the container, whose user is 65532: certs writable, kube readable.
    certs = path.join(work, "certs");
    kube = path.join(work, "kube");
    await mkdir(certs);
    await mkdir(kube);
    await chmod(work, 0o755);
    await chmod(certs, 0o777);
    await chmod(kube, 0o755);
    const made = await runInContainer(
      builder,
      container,
      ["greenlight", "certs", "--out", "/certs", "-n", "greenlight-system", "--dns", "127.0.0.1"],
      { volumes: [`${certs}:/certs`] },
    );
    if (made.code !== 0) throw new Error(`greenlight certs failed in the image:\n${made.stderr}`);
    ca = await readFile(path.join(certs, "ca.crt"), "utf8");

    api = await startFakeApiServer();
    await writeFile(path.join(kube, "config"), api.kubeConfig().exportConfig(), { mode: 0o644 });
    // Prometheus "down": a port nothing listens on (the dry-run pass reports, it does not need metrics to run).
    prometheus = `http://127.0.0.1:${await freePort()}`;
    log(`image ready for the tests in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 20 * 60_000);

  afterAll(async () => {
    await api?.close();
    if (container) await removeContainer(builder, container);
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);

  it("runs greenlight as user 65532, serves the webhook by default, and is labelled with version and revision", () => {
    expect(config.User).toBe("65532:65532");
    expect(config.Entrypoint).toEqual(["greenlight"]);
    expect(config.Cmd?.slice(0, 2)).toEqual(["webhook", "serve"]);
    expect(config.Cmd).toEqual(expect.arrayContaining(["--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"]));
    expect(config.Env).toEqual(expect.arrayContaining(["GREENLIGHT_FROM_SOURCE=0", "NODE_ENV=production"]));
    expect(config.Labels).toMatchObject({
      "org.opencontainers.image.version": version,
      "org.opencontainers.image.revision": gitRevision(),
      "org.opencontainers.image.source": expect.stringMatching(/^https:\/\//),
    });
  });

  it("prints package.json's version, as its non-root user", async () => {
    const result = await runInContainer(builder, container, ["greenlight", "--version"]);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe(version);
    const id = await runInContainer(builder, container, ["id", "-u"]);
    expect(id.stdout.trim()).toBe("65532");
  });

  it("holds the compiled CLI and production dependencies only, owned by root and not writable by the user", async () => {
    const app = path.join(rootfs, "app");
    expect(await readlink(path.join(rootfs, "usr/local/bin/greenlight"))).toBe("/app/scripts/greenlight.mjs");
    const manifest = JSON.parse(await readFile(path.join(app, "dist/cli/manifest.json"), "utf8")) as { bundle: string };
    const bundle = path.join(app, "dist/cli", manifest.bundle);
    expect((await stat(bundle)).isFile()).toBe(true);
    expect((await stat(path.join(app, "node_modules/@kubernetes/client-node/package.json"))).isFile()).toBe(true);
    // No TypeScript to compile at run time and nothing to compile it with; no dev tools.
    for (const absent of [
      "functions",
      "webhooks",
      "scripts/cli",
      "test",
      "docs",
      "node_modules/tsx",
      "node_modules/esbuild",
      "node_modules/typescript",
      "node_modules/vitest",
    ]) {
      await expect(lstat(path.join(app, absent)), absent).rejects.toThrow(/ENOENT/);
    }
    const files = await walk(app);
    // Some packages ship TypeScript of their own (pino its tests); none of it is loaded.
    const typescript = files.filter((file) => /\.(?:c|m)?ts$/.test(file) && !file.includes("/node_modules/"));
    expect(typescript).toEqual([]);
    const writable: string[] = [];
    for (const file of files) {
      const stats = await lstat(file);
      if (stats.uid !== 0 || (!stats.isSymbolicLink() && (stats.mode & 0o022) !== 0)) writable.push(file);
    }
    expect(writable).toEqual([]);
  });

  it("accepts the V8 code cache written at build time, so no start tries to rewrite it", async () => {
    // scripts/greenlight.mjs rewrites the cache only when V8 rejects it; on a read-only root that write would fail
    // (harmlessly, but after serializing the cache at every start).
    const check = [
      'const fs = require("node:fs"), path = require("node:path"), vm = require("node:vm");',
      'const dir = "/app/dist/cli", file = path.join(dir, JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"))).bundle);',
      'const cachedData = fs.readFileSync(file + "." + process.arch + "-v8-" + process.versions.v8 + ".cache");',
      'const script = new vm.Script(fs.readFileSync(file, "latin1"), { filename: file, cachedData });',
      "console.log(script.cachedDataRejected);",
    ].join("\n");
    const result = await runInContainer(builder, container, ["node", "-e", check]);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("false");
  });

  it("answers an AdmissionReview over HTTPS with the certificates greenlight certs wrote", async () => {
    const port = await freePort();
    const server = startInContainer(
      builder,
      container,
      [
        ...["greenlight", "webhook", "serve", "--port", String(port), "--host", "127.0.0.1"],
        ...["--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"],
      ],
      { volumes: [`${certs}:/tls:ro`] },
    );
    try {
      await waitForHealthz(port, ca, server);
      await expectMutation(port, ca);
    } finally {
      await stopProcess(server);
    }
  });

  it("runs a dry-run stepper pass against the fake API server, with a mounted kubeconfig", async () => {
    api.reset();
    seedCanary(api);
    const result = await runInContainer(
      builder,
      container,
      ["greenlight", "step", "--once", "--dry-run", "-n", NAMESPACE],
      { volumes: [`${kube}:/kube:ro`], env: { KUBECONFIG: "/kube/config", PROMETHEUS_URL: prometheus } },
    );
    expect(result.stderr).not.toMatch(/^greenlight:/m);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/myapp-v2\s+Waiting\s+100\/0\s+dry-run/);
    expect(api.calls.some((call) => call.verb === "list")).toBe(true);
    expect(api.calls.filter((call) => call.verb === "patch" || call.verb === "create")).toEqual([]);
  });

  describe.skipIf(readOnlySkipped !== undefined)(
    `with the root file system read-only and /tmp an empty tmpfs${readOnlySkipped ? ` (skipped: ${readOnlySkipped})` : ""}`,
    () => {
      const env = () => [...(config.Env ?? []), "HOME=/nonexistent"];

      it("prints its version, serves an AdmissionReview and runs a stepper pass", async () => {
        const versionRun = await runReadOnly({ rootfs, env: env() }, ["greenlight", "--version"]);
        expect(versionRun.stderr).toBe("");
        expect(versionRun.stdout.trim()).toBe(version);
        // Other V8 flags make V8 reject the build's code cache. The bin then must neither serialize a new one nor
        // try to write it: a preloaded probe reports either on stderr.
        const probe = await mkdtemp(path.join(work, "probe-"));
        await chmod(probe, 0o755);
        await writeFile(path.join(probe, "probe.cjs"), WRITE_PROBE, { mode: 0o644 });
        const flagged = await runReadOnly(
          {
            rootfs,
            env: [...env(), "NODE_OPTIONS=--max-old-space-size=128 --require /tmp/probe/probe.cjs"],
            binds: { probe },
          },
          ["greenlight", "--version"],
        );
        expect(flagged.stderr).toBe("");
        expect(flagged.stdout.trim()).toBe(version);

        const port = await freePort();
        const server = startReadOnly({ rootfs, env: env(), binds: { tls: certs } }, [
          "greenlight",
          "webhook",
          "serve",
          "--port",
          String(port),
          "--host",
          "127.0.0.1",
          "--tls-cert",
          "/tmp/tls/tls.crt",
          "--tls-key",
          "/tmp/tls/tls.key",
        ]);
        let serverErr = "";
        server.stderr.setEncoding("utf8").on("data", (chunk: string) => {
          serverErr += chunk;
        });
        try {
          await waitForHealthz(port, ca, server);
          await expectMutation(port, ca);
        } finally {
          await stopProcess(server);
        }
        // SIGTERM reached node itself (the mount script exec'd into it): a clean shutdown, and no write refused.
        expect(server.exitCode).toBe(0);
        expect(serverErr).toContain("shutting down");
        expect(serverErr).not.toMatch(/EROFS|read-only file system/i);

        api.reset();
        seedCanary(api);
        const step = await runReadOnly(
          {
            rootfs,
            env: [...env(), "KUBECONFIG=/tmp/kube/config", `PROMETHEUS_URL=${prometheus}`],
            binds: { kube },
          },
          ["greenlight", "step", "--once", "--dry-run", "-n", NAMESPACE],
        );
        expect(step.stderr).not.toMatch(/^greenlight:|EROFS/m);
        expect(step.code).toBe(0);
        expect(step.stdout).toMatch(/myapp-v2\s+Waiting\s+100\/0\s+dry-run/);
      });
    },
  );

  it("was left as it was by every run above: nothing written outside /tmp, and nothing in it either", () => {
    // find(1) over the container's root file system for anything newer than the marker, the kernel's file systems
    // aside. buildah itself makes the mount points of the volumes (and so changes /), and /run, where it mounts
    // what `buildah run` needs; Kubernetes makes its own mount points too.
    const found = spawnSync(
      "find",
      [
        rootfs,
        "-xdev",
        ...["(", "-path", `${rootfs}/proc`, "-o", "-path", `${rootfs}/sys`, "-o", "-path", `${rootfs}/dev`, ")"],
        ...["-prune", "-o", "-newer", marker, "-print"],
      ],
      { encoding: "utf8" },
    );
    expect(found.status).toBe(0);
    const written = found.stdout
      .split("\n")
      .filter(Boolean)
      .map((file) => `/${path.relative(rootfs, file)}`)
      .filter((file) => !["/", "/run", "/certs", "/tls", "/kube"].includes(file));
    expect(written.filter((file) => file !== "/tmp" && !file.startsWith("/tmp/"))).toEqual([]);
    // The webhook server, the stepper and --version keep nothing on disk at all: /tmp is only the working directory.
    expect(written).toEqual([]);
  });
});
