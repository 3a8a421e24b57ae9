// Measures the container image for docs/BENCHMARKS.md: its size (the layers gzip-compressed, as a registry stores
// and a node pulls them, and uncompressed, as they take disk once pulled), the base's share and greenlight's own,
// and how long `greenlight webhook serve` takes from the container's start until GET /healthz answers over HTTPS.
// Prints a Markdown section on stdout; progress on stderr.
//
//   npx tsx scripts/image/measure.ts [--local-base | --base IMAGE] [--runs N]
//
// buildah only (it runs working containers); the image is built (or taken from the layer cache) in the store of
// scripts/image/cache.ts, the one the image test uses.
import { type ChildProcess, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createGunzip } from "node:zlib";
import { buildImage, DEFAULT_BASE, packageVersion, ROOT } from "./build.ts";
import { type Builder, builderWorks, type Log, logToStderr, runBuilder } from "./builder.ts";
import { cacheStorage } from "./cache.ts";
import {
  createContainer,
  freePort,
  removeContainer,
  removeLeftoverContainers,
  runInContainer,
  startInContainer,
  stopProcess,
  waitForHealthz,
} from "./container.ts";
import { ensureLocalBase } from "./local-base.ts";

interface OciDescriptor {
  digest: string;
  size: number;
}

export interface LayerSizes {
  /** Bytes of every layer, base first, as pushed. */
  layers: number[];
  total: number;
}

/** The bytes a gzip blob holds once decompressed: the layer's tar as it lands on a node's disk. */
async function gunzippedSize(file: string): Promise<number> {
  let size = 0;
  await pipeline(createReadStream(file), createGunzip(), async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) size += chunk.length;
  });
  return size;
}

/**
 * Pushes the image, gzip-compressed, into an OCI layout directory and reads back each layer's size there and
 * decompressed. (buildah push --disable-compression reuses the compressed blobs it has already made.)
 */
async function pushedLayerSizes(
  builder: Builder,
  image: string,
  dir: string,
): Promise<{ compressed: LayerSizes; uncompressed: LayerSizes }> {
  await rm(dir, { recursive: true, force: true });
  await runBuilder(builder, ["push", "--quiet", "--compression-format", "gzip", image, `oci:${dir}:measured`]);
  const blob = (digest: string) => path.join(dir, "blobs", ...digest.split(":"));
  const index = JSON.parse(await readFile(path.join(dir, "index.json"), "utf8")) as { manifests: OciDescriptor[] };
  const entry = index.manifests[0];
  if (!entry) throw new Error(`the OCI layout pushed to ${dir} has no manifest`);
  const manifest = JSON.parse(await readFile(blob(entry.digest), "utf8")) as { layers: OciDescriptor[] };
  const sizes = (layers: number[]): LayerSizes => ({ layers, total: layers.reduce((sum, size) => sum + size, 0) });
  const plain: number[] = [];
  for (const layer of manifest.layers) plain.push(await gunzippedSize(blob(layer.digest)));
  return { compressed: sizes(manifest.layers.map((layer) => layer.size)), uncompressed: sizes(plain) };
}

async function layerCount(builder: Builder, image: string): Promise<number> {
  const inspected = JSON.parse(await runBuilder(builder, ["inspect", "--type", "image", image])) as {
    OCIv1?: { rootfs?: { diff_ids?: string[] } };
  };
  return inspected.OCIv1?.rootfs?.diff_ids?.length ?? 0;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

export interface Timing {
  median: number;
  fastest: number;
  slowest: number;
}

const timing = (values: readonly number[]): Timing => ({
  median: median(values),
  fastest: Math.min(...values),
  slowest: Math.max(...values),
});

/** From spawning `start()` to the first 200 from /healthz, `runs` times after one unmeasured run. */
async function startToHealthy(
  runs: number,
  ca: string,
  start: (port: number) => ChildProcess,
  log: Log,
  label: string,
): Promise<Timing> {
  const times: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const port = await freePort();
    const started = performance.now();
    const server = start(port);
    try {
      const healthy = await waitForHealthz(port, ca, server, { everyMs: 5 });
      if (run > 0) times.push(healthy - started);
    } finally {
      await stopProcess(server);
    }
  }
  const result = timing(times);
  log(`${label}: median ${result.median.toFixed(0)} ms over ${runs} runs`);
  return result;
}

/** From now until `child` first writes to stdout; then waits for it to exit. */
function startToOutput(child: ChildProcess): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let first: number | undefined;
    child.stdout?.once("data", () => {
      first = performance.now() - started;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      first === undefined || code !== 0 ? reject(new Error(`buildah run -- echo exited with ${code}`)) : resolve(first),
    );
  });
}

export interface Measurements {
  /** The 1-minute load average before anything ran. */
  loadAtStart: number;
  image: string;
  base: string;
  baseLayers: number;
  compressed: LayerSizes;
  uncompressed: LayerSizes;
  runs: number;
  /** `buildah run CONTAINER -- echo`, until its output: what starting any container costs here. */
  emptyContainer: Timing;
  container: Timing;
  /** The same server on the host, from this checkout's compiled CLI: the part that is not the container. */
  host: Timing;
}

export async function measureImage(options: {
  base?: string;
  localBase: boolean;
  runs: number;
  log: Log;
}): Promise<Measurements> {
  const { log, runs } = options;
  const loadAtStart = os.loadavg()[0] ?? 0;
  const builder: Builder = { kind: "buildah", storage: await cacheStorage(log) };
  const base = options.localBase ? await ensureLocalBase({ builder, log }) : (options.base ?? DEFAULT_BASE);
  const version = await packageVersion();
  const image = `localhost/greenlight:${version}`;
  await buildImage({ builder, tag: image, base, version, log });

  const work = await mkdtemp(path.join(os.tmpdir(), "greenlight-image-measure-"));
  await removeLeftoverContainers(builder, "greenlight-image-measure-");
  const container = await createContainer(builder, image, `greenlight-image-measure-${process.pid}`);
  try {
    log("sizes: pushing the image to an OCI layout");
    const { compressed, uncompressed } = await pushedLayerSizes(builder, image, path.join(work, "oci"));
    const baseLayers = await layerCount(builder, base);

    const certs = path.join(work, "certs");
    await mkdir(certs);
    await chmod(work, 0o755);
    await chmod(certs, 0o777);
    const made = await runInContainer(
      builder,
      container,
      ["greenlight", "certs", "--out", "/certs", "-n", "greenlight-system", "--dns", "127.0.0.1"],
      { volumes: [`${certs}:/certs`] },
    );
    if (made.code !== 0) throw new Error(`greenlight certs failed in the image:\n${made.stderr}`);
    const ca = await readFile(path.join(certs, "ca.crt"), "utf8");

    const empty: number[] = [];
    for (let run = 0; run <= runs; run++) {
      const spent = await startToOutput(startInContainer(builder, container, ["echo", "started"]));
      if (run > 0) empty.push(spent);
    }
    const emptyContainer = timing(empty);
    log(`empty container to its first output: median ${emptyContainer.median.toFixed(0)} ms`);
    const serve = (tls: string, port: number) => [
      ...["webhook", "serve", "--port", String(port), "--host", "127.0.0.1"],
      ...["--tls-cert", `${tls}/tls.crt`, "--tls-key", `${tls}/tls.key`],
    ];
    const inContainer = await startToHealthy(
      runs,
      ca,
      (port) =>
        startInContainer(builder, container, ["greenlight", ...serve("/tls", port)], {
          volumes: [`${certs}:/tls:ro`],
        }),
      log,
      "container start to healthy",
    );
    const onHost = await startToHealthy(
      runs,
      ca,
      (port) =>
        spawn(process.execPath, [path.join(ROOT, "scripts/greenlight.mjs"), ...serve(certs, port)], {
          stdio: ["ignore", "ignore", "ignore"],
          env: { ...process.env, NODE_ENV: "production", GREENLIGHT_FROM_SOURCE: "0" },
        }),
      log,
      "host start to healthy",
    );
    return {
      loadAtStart,
      image,
      base,
      baseLayers,
      compressed,
      uncompressed,
      runs,
      emptyContainer,
      container: inContainer,
      host: onHost,
    };
  } finally {
    await removeContainer(builder, container);
    await rm(work, { recursive: true, force: true });
  }
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const ms = (value: number) => `${value.toFixed(0)} ms`;

export function renderSection(measured: Measurements, command: string): string {
  const cpus = os.cpus();
  const load = measured.loadAtStart;
  const machine =
    `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
    `Node ${process.version}, ${os.platform()} ${os.arch()}, buildah; load average ${load.toFixed(2)} at the start`;
  const share = (sizes: LayerSizes) => {
    const base = sizes.layers.slice(0, measured.baseLayers).reduce((sum, size) => sum + size, 0);
    return { base, own: sizes.total - base };
  };
  const gzip = share(measured.compressed);
  const plain = share(measured.uncompressed);
  const row = (name: string, t: Timing) => `| ${name} | ${ms(t.median)} | ${ms(t.fastest)} | ${ms(t.slowest)} |`;
  return [
    "## Container image: size and start to healthy",
    "",
    `Measured with \`${command}\` on ${new Date().toISOString().slice(0, 10)}.`,
    `Machine: ${machine}.`,
    "",
    ...(load >= cpus.length / 2
      ? ["**The machine was busy when this run started: treat the times with care.**", ""]
      : []),
    `Image \`${measured.image}\` on the base \`${measured.base}\`. Sizes are the layers as pushed to an OCI layout:`,
    "gzip-compressed (what a registry stores and a node pulls) and uncompressed (the disk they take once pulled).",
    "",
    "| | compressed (gzip) | uncompressed |",
    "| --- | ---: | ---: |",
    `| whole image | ${megabytes(measured.compressed.total)} | ${megabytes(measured.uncompressed.total)} |`,
    `| base (Debian, Node, npm) | ${megabytes(gzip.base)} | ${megabytes(plain.base)} |`,
    `| greenlight's layer (production node_modules, compiled CLI, code cache) | ${megabytes(gzip.own)} | ${megabytes(plain.own)} |`,
    "",
    `Start to healthy: from spawning the process until \`GET /healthz\` first answers 200 over HTTPS (polled every`,
    `5 ms), \`greenlight webhook serve\` with the certificates \`greenlight certs\` wrote, as user 65532; ${measured.runs}`,
    "measured runs after one unmeasured, one at a time. The container rows start it with `buildah run` (chroot",
    "isolation, host network) on a working container of the image; the empty container row is `buildah run -- echo`",
    "until its output, what starting any container costs here; the host row is the same server started from the",
    "checkout's compiled CLI, no container.",
    "",
    "| run | median | fastest | slowest |",
    "| --- | ---: | ---: | ---: |",
    row("`greenlight webhook serve` in the container", measured.container),
    row("empty container (`echo`)", measured.emptyContainer),
    row("`greenlight webhook serve` on the host", measured.host),
  ].join("\n");
}

const HELP = `usage: npx tsx scripts/image/measure.ts [--local-base | --base IMAGE] [--runs N]

Builds the image (reusing the layer cache of the image test, ~/.cache/greenlight-image) and prints a Markdown section
for docs/BENCHMARKS.md: the image's size, compressed and not, and the webhook server's start to healthy in the
container. Needs buildah and root.

  --local-base   make the base here from Debian's packages and this machine's Node (no registry needed)
  --base IMAGE   base image (default: ${DEFAULT_BASE})
  --runs N       measured starts (default 10)
  -h, --help     this text`;

export async function main(argv: string[]): Promise<number> {
  let values: { "local-base"?: boolean; base?: string; runs?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "local-base": { type: "boolean" },
        base: { type: "string" },
        runs: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const runs = Number(values.runs ?? "10");
  if (!Number.isInteger(runs) || runs < 1) {
    process.stderr.write(`--runs ${values.runs} is not a positive whole number\n`);
    return 2;
  }
  if (!builderWorks("buildah")) {
    process.stderr.write("the measurements need buildah (Debian: apt-get install buildah)\n");
    return 1;
  }
  try {
    const measured = await measureImage({
      localBase: Boolean(values["local-base"]),
      ...(values.base && { base: values.base }),
      runs,
      log: logToStderr,
    });
    process.stdout.write(`${renderSection(measured, ["npx tsx scripts/image/measure.ts", ...argv].join(" "))}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`measuring the image failed: ${(error as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
