// A buildah store of greenlight's own, kept between runs, for the image test and scripts/image/measure.ts: the
// locally made base (a minute of debootstrap) and the npm layer are made once and reused, without touching the
// machine's own image store.
import { mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type BuildOptions, buildImage } from "./build.ts";
import { type Builder, type Log, runBuilder, type StorageOptions } from "./builder.ts";

/** GREENLIGHT_IMAGE_CACHE, else $XDG_CACHE_HOME/greenlight-image, else ~/.cache/greenlight-image. */
export function imageCacheDir(): string {
  if (process.env.GREENLIGHT_IMAGE_CACHE) return process.env.GREENLIGHT_IMAGE_CACHE;
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(cacheHome, "greenlight-image");
}

function storageFor(driver: string): StorageOptions {
  return {
    root: path.join(imageCacheDir(), driver),
    // Lock files and mount state: a temporary directory, as buildah's own default (/run) is.
    runroot: path.join(os.tmpdir(), `greenlight-image-runroot-${process.getuid?.() ?? "user"}-${driver}`),
    driver,
  };
}

/** True when buildah can make and mount a container in that store (overlay cannot on every filesystem or kernel). */
async function storageWorks(storage: StorageOptions): Promise<boolean> {
  const builder: Builder = { kind: "buildah", storage };
  try {
    const container = (
      await runBuilder(builder, ["from", "--name", `greenlight-probe-${process.pid}`, "scratch"])
    ).trim();
    try {
      await runBuilder(builder, ["mount", container]);
    } finally {
      await runBuilder(builder, ["rm", container]).catch(() => undefined);
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The buildah store under imageCacheDir(): overlay where it works, since a layer there is the change alone, else
 * vfs, where each layer is a full copy of the file system (measured here: a build of about 4 minutes instead of
 * 30 s). STORAGE_DRIVER picks one without trying.
 */
export async function cacheStorage(log: Log): Promise<StorageOptions> {
  const wanted = process.env.STORAGE_DRIVER;
  const candidates = wanted ? [wanted] : ["overlay", "vfs"];
  for (const driver of candidates) {
    const storage = storageFor(driver);
    await mkdir(storage.root, { recursive: true });
    if (await storageWorks(storage)) return storage;
    log(`buildah cannot use ${driver} storage in ${storage.root}${wanted ? "" : ", trying the next driver"}`);
  }
  throw new Error(
    `buildah could make no container in ${imageCacheDir()} with ${candidates.join(" or ")} storage: ` +
      "is this process root, and is the directory on a local file system?",
  );
}

/** The tag that keeps the build stage's layers (the npm ci layer above all) from being pruned. */
export const BUILD_STAGE_TAG = "localhost/greenlight-build-stage:cache";

/**
 * Removes the images no tag leads to (earlier builds), after tagging the build stage of the build `options`
 * describes, whose layers (the npm ci layer above all) no tagged image descends from and which would go too. Every
 * step of that stage hits the cache, so the tagging takes a second or two.
 */
export async function pruneKeepingBuildStage(options: BuildOptions): Promise<void> {
  const { echo: _echo, ...quiet } = options;
  await buildImage({ ...quiet, tag: BUILD_STAGE_TAG, target: "build", log: () => undefined });
  const removed = (await runBuilder(options.builder, ["rmi", "--prune"])).trim().split("\n").filter(Boolean);
  if (removed.length > 0) options.log(`pruned ${removed.length} images of earlier builds`);
}
