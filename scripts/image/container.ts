// Runs commands in a working container of the image with `buildah run`, as its non-root user, on the host's
// network (so a server inside answers on 127.0.0.1 and a client inside reaches servers on 127.0.0.1): for
// scripts/image/measure.ts and the image test. buildah only: podman and docker run images, not working containers.
import { type ChildProcess, spawn } from "node:child_process";
import https from "node:https";
import { type Builder, buildahIsolation, globalArgs, runBuilder } from "./builder.ts";

/** The image's user (Containerfile `USER`), which manifests/ run as too. */
export const IMAGE_USER = "65532:65532";

export interface RunSpec {
  /** Default IMAGE_USER. */
  user?: string;
  /** host:container[:ro] bind mounts. */
  volumes?: readonly string[];
  env?: Readonly<Record<string, string>>;
}

export function buildahRunArgs(
  builder: Builder,
  container: string,
  argv: readonly string[],
  spec: RunSpec = {},
): string[] {
  return [
    ...globalArgs(builder),
    "run",
    "--isolation",
    buildahIsolation(),
    "--network",
    "host",
    "--user",
    spec.user ?? IMAGE_USER,
    ...(spec.volumes ?? []).flatMap((volume) => ["--volume", volume]),
    ...Object.entries(spec.env ?? {}).flatMap(([name, value]) => ["--env", `${name}=${value}`]),
    container,
    "--",
    ...argv,
  ];
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
}

/** Runs `argv` in the container to its end; never rejects on a non-zero exit (the caller judges the result). */
export function runInContainer(
  builder: Builder,
  container: string,
  argv: readonly string[],
  spec: RunSpec = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(builder.kind, buildahRunArgs(builder, container, argv, spec), {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Starts `argv` in the container and leaves it running: a server. Stop it with stopProcess. */
export function startInContainer(
  builder: Builder,
  container: string,
  argv: readonly string[],
  spec: RunSpec = {},
): ChildProcess {
  return spawn(builder.kind, buildahRunArgs(builder, container, argv, spec), { stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. `buildah run` ends the command inside
 * when it is signalled itself, so nothing is left behind.
 */
export function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
/** A free loopback port, found the one way the repository finds one (scripts/services/children.ts). */
export { freePort } from "../services/children.ts";

export interface HttpsAnswer {
  status: number;
  body: string;
}

/** One HTTPS request to 127.0.0.1 trusting only `ca`, on a new connection. */
export function httpsRequest(
  port: number,
  ca: string,
  options: { method?: string; path: string; body?: string; timeoutMs?: number },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: "127.0.0.1",
        port,
        path: options.path,
        method: options.method ?? "GET",
        ca,
        agent: false,
        timeout: options.timeoutMs ?? 5_000,
        headers: options.body === undefined ? {} : { "content-type": "application/json" },
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer from 127.0.0.1:${port} in time`)));
    request.on("error", reject);
    request.end(options.body);
  });
}

/**
 * Polls GET /healthz over HTTPS every `everyMs` until it answers 200, and resolves with the time of that answer
 * (performance.now()); rejects after `timeoutMs`, or at once when `child` exits first (with what it printed).
 */
export async function waitForHealthz(
  port: number,
  ca: string,
  child: ChildProcess | undefined,
  { timeoutMs = 30_000, everyMs = 10 } = {},
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let lastProblem = "no answer yet";
  while (performance.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before /healthz answered`);
    }
    try {
      const answer = await httpsRequest(port, ca, { path: "/healthz", timeoutMs: 2_000 });
      if (answer.status === 200) return performance.now();
      lastProblem = `status ${answer.status}: ${answer.body.slice(0, 200)}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`/healthz on 127.0.0.1:${port} did not answer 200 in ${timeoutMs} ms (last: ${lastProblem})`);
}

/** A new working container of `image`, named so a leftover one is recognisable; remove it with removeContainer. */
export async function createContainer(builder: Builder, image: string, name: string): Promise<string> {
  await runBuilder(builder, ["rm", name]).catch(() => undefined);
  return (await runBuilder(builder, ["from", "--pull=never", "--name", name, image])).trim();
}

export async function removeContainer(builder: Builder, container: string): Promise<void> {
  await runBuilder(builder, ["rm", container]).catch(() => undefined);
}

/** The parts of an image's OCI configuration the tests and docs rely on. */
export interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
}

export async function imageConfig(builder: Builder, image: string): Promise<ImageConfig> {
  const inspected = JSON.parse(await runBuilder(builder, ["inspect", "--type", "image", image])) as {
    OCIv1?: { config?: ImageConfig };
  };
  return inspected.OCIv1?.config ?? {};
}

/** Removes the working containers whose names start with `prefix`: those a killed run left behind. */
export async function removeLeftoverContainers(builder: Builder, prefix: string): Promise<void> {
  const names = await runBuilder(builder, ["containers", "--noheading", "--format", "{{.ContainerName}}"]);
  for (const name of names.split("\n").map((line) => line.trim())) {
    if (name.startsWith(prefix)) await removeContainer(builder, name);
  }
}
