// `npm run image`: builds the greenlight container image (Containerfile at the repository root) with buildah,
// podman or docker, whichever is here, tagged greenlight:<package.json version>. Progress goes to stderr; the tag
// that was built is the one line on stdout, so `buildah push "$(npm run -s image)" ...` works.
import { spawnSync } from "node:child_process";
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  BUILDER_KINDS,
  type Builder,
  type BuilderKind,
  buildahIsolation,
  builderWorks,
  findBuilder,
  globalArgs,
  isBuilderKind,
  type Log,
  logToStderr,
  run,
} from "./builder.ts";
import { ensureLocalBase } from "./local-base.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CONTAINERFILE = path.join(ROOT, "Containerfile");
/** The Containerfile's own default, repeated here only for --help. */
export const DEFAULT_BASE = "docker.io/library/node:24-bookworm-slim";

export async function packageVersion(): Promise<string> {
  const { version } = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { version: string };
  return version;
}

/** The checked-out commit, or "unknown" outside a git checkout (a source tarball). */
export function gitRevision(): string {
  const result = spawnSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : "unknown";
}

export interface BuildOptions {
  builder: Builder;
  /** e.g. greenlight:0.1.0 */
  tag: string;
  /** The BASE build argument; unset, the Containerfile's default. */
  base?: string;
  /** Defaults: package.json's version and `git rev-parse HEAD`. */
  version?: string;
  revision?: string;
  /**
   * A CA bundle the build's `npm ci` must trust (a TLS-inspecting proxy's), passed as the build secret `extra-ca`;
   * it never lands in a layer. Defaults to NODE_EXTRA_CA_CERTS when that names a file, as it does where npm on
   * this machine needs it too.
   */
  extraCaFile?: string;
  /** Build only this stage of the Containerfile (its first is `build`). */
  target?: string;
  log: Log;
  /** Where the builder's own output goes; unset, it is kept and shown only when the build fails. */
  echo?: (chunk: string) => void;
}

async function defaultExtraCa(): Promise<string | undefined> {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  return (await access(file).then(
    () => true,
    () => false,
  ))
    ? file
    : undefined;
}

/** The builder's command line for the build, without the storage options in front (see globalArgs). */
export function buildArgs(options: BuildOptions & { version: string; revision: string }): string[] {
  const args = [
    "--file",
    CONTAINERFILE,
    "--tag",
    options.tag,
    "--build-arg",
    `VERSION=${options.version}`,
    "--build-arg",
    `REVISION=${options.revision}`,
    // Also given as labels of the commit: buildah's layer cache keeps a LABEL step whose build arguments changed
    // (only the revision, when nothing copied into the image did), which would label the image with an older commit.
    "--label",
    `org.opencontainers.image.version=${options.version}`,
    "--label",
    `org.opencontainers.image.revision=${options.revision}`,
  ];
  if (options.base) args.push("--build-arg", `BASE=${options.base}`);
  if (options.target) args.push("--target", options.target);
  if (options.extraCaFile) args.push("--secret", `id=extra-ca,src=${options.extraCaFile}`);
  switch (options.builder.kind) {
    case "buildah":
      // --layers keeps each step as a cached layer (buildah's default is one layer per stage, rebuilt every time).
      return ["bud", "--layers", "--isolation", buildahIsolation(), ...args, ROOT];
    case "podman":
      return ["build", "--layers", ...args, ROOT];
    case "docker":
      return ["build", ...args, ROOT];
  }
}

/** Builds the image and resolves with its tag and how long the build took. */
export async function buildImage(options: BuildOptions): Promise<{ tag: string; seconds: number }> {
  const version = options.version ?? (await packageVersion());
  const revision = options.revision ?? gitRevision();
  const extraCaFile = options.extraCaFile ?? (await defaultExtraCa());
  const args = buildArgs({ ...options, version, revision, ...(extraCaFile && { extraCaFile }) });
  options.log(
    `building ${options.tag} with ${options.builder.kind} from ${options.base ?? `${DEFAULT_BASE} (the Containerfile's default)`}, revision ${revision}`,
  );
  const started = Date.now();
  await run(options.builder.kind, [...globalArgs(options.builder), ...args], {
    ...(options.echo && { echo: options.echo }),
  });
  const seconds = (Date.now() - started) / 1000;
  options.log(`built ${options.tag} in ${seconds.toFixed(1)} s`);
  return { tag: options.tag, seconds };
}

const HELP = `usage: npm run image -- [--tag NAME:TAG] [--base IMAGE | --local-base] [--builder KIND]

Builds the greenlight image from the Containerfile at the repository root: production dependencies, the compiled
CLI, user 65532, ENTRYPOINT greenlight (CMD: the webhook server; run \`step\` for the stepper). Progress goes to
stderr; the tag built is printed on stdout.

  --tag NAME:TAG      image name (default: greenlight:<package.json version>)
  --base IMAGE        Node (20.19 or later) base image with npm (default: ${DEFAULT_BASE})
  --local-base        no registry to pull the base from: make one here from Debian's packages and this machine's
                      Node (root, buildah and debootstrap needed; about a minute, once per Node version)
  --builder KIND      ${BUILDER_KINDS.join(", ")} (default: the first of them that works here)
  -h, --help          this text

The revision label is \`git rev-parse HEAD\`. Behind a TLS-inspecting proxy, NODE_EXTRA_CA_CERTS (a CA bundle
file) is handed to the build's npm ci as a build secret. buildah runs with --isolation chroot unless
BUILDAH_ISOLATION says otherwise, and with its configured storage unless STORAGE_DRIVER says otherwise (e.g. vfs
where overlay cannot mount). Push and deploy: docs/OPERATIONS.md, "The container image".`;

/** Exit code 2 for a wrong command line, 1 for a failed build. */
export async function main(argv: string[], log: Log = logToStderr): Promise<number> {
  let values: { tag?: string; base?: string; "local-base"?: boolean; builder?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        tag: { type: "string" },
        base: { type: "string" },
        "local-base": { type: "boolean" },
        builder: { type: "string" },
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
  if (values.base && values["local-base"]) {
    process.stderr.write("--base and --local-base each name the base: pass one of them\n");
    return 2;
  }
  let kind: BuilderKind | undefined;
  if (values.builder !== undefined) {
    if (!isBuilderKind(values.builder)) {
      process.stderr.write(`--builder ${values.builder} is not one of ${BUILDER_KINDS.join(", ")}\n`);
      return 2;
    }
    if (!builderWorks(values.builder)) {
      process.stderr.write(
        `--builder ${values.builder}: it is not installed${values.builder === "docker" ? ", or its engine does not answer" : ""}\n`,
      );
      return 1;
    }
    kind = values.builder;
  } else {
    kind = findBuilder();
    if (kind === undefined) {
      process.stderr.write(
        "no image builder here: install buildah (Debian: apt-get install buildah), podman, or docker with a running engine\n",
      );
      return 1;
    }
  }
  const builder: Builder = { kind };
  try {
    const base = values["local-base"] ? await ensureLocalBase({ builder, log }) : values.base;
    const tag = values.tag ?? `greenlight:${await packageVersion()}`;
    await buildImage({
      builder,
      tag,
      ...(base && { base }),
      log,
      echo: (chunk) => process.stderr.write(chunk),
    });
    process.stdout.write(`${tag}\n`);
    return 0;
  } catch (error) {
    const message = (error as Error).message;
    const unpulled = !values.base && !values["local-base"] && /pull|registry/i.test(message);
    const hint = unpulled
      ? `\nthe default base ${DEFAULT_BASE} could not be pulled: pass --base with a Node image (20.19 or later) your registry has, or --local-base to make one here\n`
      : "";
    process.stderr.write(`image build failed: ${message}\n${hint}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
